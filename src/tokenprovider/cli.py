"""The ``tokenprovider`` command line.

Exit codes: 0 success, 1 authentication failed, 2 usage error, 3 configuration error.
An expected failure prints one message (no traceback unless ``--debug``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tokenprovider import __version__
from tokenprovider.errors import ConfigurationError, TokenProviderError

EXIT_OK = 0
EXIT_AUTH_FAILED = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tokenprovider",
        description="Fetch, cache and attach bearer tokens.",
        epilog="exit codes: 0 ok, 1 authentication failed, 2 usage, 3 configuration error",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks and debug logging on errors"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.add_parser(
        "demo",
        help="show the library at work against local servers on 127.0.0.1",
        description="Start a local OAuth2 server and a foreign host on 127.0.0.1, drive "
        "traffic through an OAuthTokenProvider and report what happened. "
        "Uses no network beyond loopback.",
    )
    return parser


def _demo(_: argparse.Namespace) -> int:
    from tokenprovider.demo import run_demo  # noqa: PLC0415 - loads requests and servers

    return run_demo(sys.stdout)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = _parser().parse_args(argv)
    if args.debug:
        import logging  # noqa: PLC0415

        logging.basicConfig(level=logging.DEBUG)
    handlers = {"demo": _demo}
    try:
        return handlers[args.command](args)
    except TokenProviderError as exc:
        if args.debug:
            raise
        print(f"tokenprovider: error: {exc}", file=sys.stderr)
        return EXIT_CONFIG if isinstance(exc, ConfigurationError) else EXIT_AUTH_FAILED
    except KeyboardInterrupt:
        return 130
