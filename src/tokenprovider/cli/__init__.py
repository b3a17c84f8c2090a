"""The ``tokenprovider`` command line (also ``python -m tokenprovider``).

Exit codes: 0 success, 1 authentication failed, 2 usage error, 3 configuration error.
An expected failure prints one message (no traceback unless ``--debug``). Nothing ever
prompts. The parser is in `parser`; each group of commands has its module
(`config_commands`, `token_commands`, `cache_commands`, `demo`), imported only when its
command runs, so ``config show`` starts fast. The library never imports this package.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Sequence

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
        import logging  # noqa: PLC0415

        logging.basicConfig(level=logging.DEBUG)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            try:
                return _handler(args)(args)
            finally:
                for warning in caught:
                    if issubclass(warning.category, UserWarning):
                        print(f"tokenprovider: warning: {warning.message}", file=sys.stderr)
    except TokenProviderError as exc:
        if args.debug:
            raise
        print(f"tokenprovider: error: {exc}", file=sys.stderr)
        return EXIT_CONFIG if isinstance(exc, ConfigurationError) else EXIT_AUTH_FAILED
    except KeyboardInterrupt:
        return 130
