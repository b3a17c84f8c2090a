"""``tokenprovider providers``, ``token`` and ``header``.

``token`` and ``header`` keep the token in a `FileTokenCache` in the user cache directory
(unless the profile names its own ``cache``, or ``--no-cache``), so a shell loop fetches
one token, not one per call.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from tokenprovider.cli.output import EXIT_CONFIG, EXIT_OK, note, out

if TYPE_CHECKING:
    from tokenprovider.config.resolve import Resolved

#: The ``cache =`` setting the CLI gives a profile that sets none: a `FileTokenCache` in
#: the user cache directory (``~/.cache/tokenprovider/tokens`` on Linux), sealed when the
#: profile sets ``cache_key``.
CLI_CACHE = "file"


def resolved(args: argparse.Namespace) -> Resolved:
    """The provider of ``args.profile``, with the CLI's cache (none with ``--no-cache``)."""
    from tokenprovider.config.resolve import resolve  # noqa: PLC0415

    return resolve(
        args.profile,
        config_file=args.config,
        default_cache=CLI_CACHE,
        memory_only=getattr(args, "no_cache", False),
    )


def providers(args: argparse.Namespace) -> int:
    """Every registered provider with its settings, types and defaults."""
    from tokenprovider.config.reference import describe_providers  # noqa: PLC0415

    text, failures = describe_providers()
    out(text)
    for failure in failures:
        note(f"error: {failure}")
    return EXIT_CONFIG if failures else EXIT_OK


def token(args: argparse.Namespace) -> int:
    """Print the token (or, with --json, the token with its provider and expiry)."""
    found = resolved(args)
    value = found.provider.token
    if not args.json:
        out(value)
        return EXIT_OK
    expires_at = getattr(found.provider, "expires_at", None)
    document = {
        "token": value,
        "provider": found.provider_name,
        "profile": found.profile,
        "host": found.provider.host.url,
        "expires_at": expires_at,
        "expires_at_utc": _utc(expires_at),
    }
    out(json.dumps(document, indent=2))
    return EXIT_OK


def _utc(epoch: float | None) -> str | None:
    from datetime import datetime, timezone  # noqa: PLC0415

    if epoch is None:
        return None
    try:
        return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat(timespec="seconds")
    except (ValueError, OverflowError, OSError):
        return None


def header(args: argparse.Namespace) -> int:
    """Print the header line the provider attaches (``Authorization: ...``), for curl."""
    name, value = resolved(args).provider.auth_header()
    out(f"{name}: {value}")
    return EXIT_OK
