"""The ``tokenprovider`` command line (also ``python -m tokenprovider``).

Exit codes: 0 success, 1 authentication failed, 2 usage error, 3 configuration error.
An expected failure prints one message (``--debug`` adds the traceback before it, and
keeps the exit code). Warnings, the library's logged ones included, print as
``tokenprovider: warning: ...`` lines on stderr. Nothing ever prompts. The parser is in
`parser`; each group of commands has its module (`config_commands`, `token_commands`,
`cache_commands`, `demo`), imported only when its command runs, so ``config show``
starts fast. The library never imports this package.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence

from tokenprovider.cli.output import EXIT_AUTH_FAILED, EXIT_CONFIG, EXIT_OK, EXIT_USAGE
from tokenprovider.cli.parser import build_parser
from tokenprovider.errors import ConfigurationError, TokenProviderError

__all__ = ["EXIT_AUTH_FAILED", "EXIT_CONFIG", "EXIT_OK", "EXIT_USAGE", "main"]


def _handler(args: argparse.Namespace) -> Callable[[argparse.Namespace], int]:
    if args.command == "demo":
        return _demo
    import importlib  # noqa: PLC0415

    if args.command == "config":
        module, name = "config_commands", f"config_{args.config_command}"
    elif args.command == "cache":
        module, name = "cache_commands", "cache_" + args.cache_command.replace("-", "_")
    elif args.command in ("login", "logout", "status"):
        module, name = "login_commands", args.command
    else:
        module, name = "token_commands", args.command
    commands = importlib.import_module(f"tokenprovider.cli.{module}")
    handler: Callable[[argparse.Namespace], int] = getattr(commands, name)
    return handler


def _demo(args: argparse.Namespace) -> int:
    if args.tds:
        from tokenprovider.cli.demo_tds import run_tds_demo  # noqa: PLC0415 - loads boto3, moto

        return run_tds_demo(sys.stdout)
    from tokenprovider.cli.demo import run_demo  # noqa: PLC0415 - loads requests and servers

    return run_demo(sys.stdout)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    args.config = getattr(args, "config", None)
    args.debug = getattr(args, "debug", False)
    if args.debug:
        logging.basicConfig(level=logging.DEBUG)
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (docker stop, systemd, a cancelled CI job) ends the command as Ctrl-C
        # does: with exit handlers, which let a refresh token being spent reach the store.
        signal.signal(signal.SIGTERM, _terminated)
    try:
        with _library_warnings(shown_as_lines=not args.debug):
            code = _handler(args)(args)
        sys.stdout.flush()  # here, where a reader that went away is handled
        return code
    except TokenProviderError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"tokenprovider: error: {exc}", file=sys.stderr)
        return EXIT_CONFIG if isinstance(exc, ConfigurationError) else EXIT_AUTH_FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (tokenprovider status | head -1)
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def _library_warnings(*, shown_as_lines: bool) -> Iterator[None]:
    """Print the library's warnings as ``tokenprovider: warning: ...`` on stderr, each
    distinct line once: `UserWarning` messages when the command ends, and
    (``shown_as_lines``; with ``--debug`` logging shows everything) each WARNING record
    of our loggers as it is logged, without a traceback."""
    lines = _WarningLines()
    library = logging.getLogger("tokenprovider")
    if shown_as_lines:
        library.addHandler(lines)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            try:
                yield
            finally:
                for warning in caught:
                    if issubclass(warning.category, UserWarning):
                        lines.show("warning", str(warning.message))
    finally:
        library.removeHandler(lines)


class _WarningLines(logging.Handler):
    """Writes each WARNING record as one ``tokenprovider: warning: ...`` line on stderr
    (``error:`` from ERROR up), as the CLI prints warnings: without the traceback of an
    exception logged with it, whose text the library's own message already sums up.
    A line already printed by this run is not printed again."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._printed: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: logging's own report, not a crash
            self.handleError(record)
            return
        self.show("error" if record.levelno >= logging.ERROR else "warning", message)

    def show(self, kind: str, message: str) -> None:
        """Print ``tokenprovider: KIND: MESSAGE`` unless this run printed it already."""
        line = f"tokenprovider: {kind}: {message}"
        if line not in self._printed:
            self._printed.add(line)
            print(line, file=sys.stderr)
