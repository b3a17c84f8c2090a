"""What the commands print, and the exit codes they return."""

from __future__ import annotations

import sys

EXIT_OK = 0
EXIT_AUTH_FAILED = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3


def out(text: str = "") -> None:
    """Write ``text`` to stdout, ending it with one newline."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def note(text: str) -> None:
    """Write ``tokenprovider: text`` to stderr."""
    print(f"tokenprovider: {text}", file=sys.stderr)
