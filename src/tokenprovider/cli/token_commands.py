"""``tokenprovider providers``, ``token`` and ``header``."""

from __future__ import annotations

import argparse
import json

from tokenprovider.cli.output import EXIT_CONFIG, EXIT_OK, note, out


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
    from tokenprovider.config.resolve import resolve  # noqa: PLC0415

    resolved = resolve(args.profile, config_file=args.config)
    value = resolved.provider.token
    if not args.json:
        out(value)
        return EXIT_OK
    expires_at = getattr(resolved.provider, "expires_at", None)
    document = {
        "token": value,
        "provider": resolved.provider_name,
        "profile": resolved.profile,
        "host": resolved.provider.host.url,
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
    """Print ``Authorization: ...`` for curl."""
    from tokenprovider.config.resolve import resolve  # noqa: PLC0415

    provider = resolve(args.profile, config_file=args.config).provider
    out(f"Authorization: {provider._authorization()}")
    return EXIT_OK
