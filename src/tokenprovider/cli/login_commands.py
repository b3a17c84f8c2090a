"""``tokenprovider login``, ``logout`` and ``status``: a person's login for a profile.

What the person must do (open a URL, enter a code) goes to stderr as soon as it is known,
so it shows when stdout is piped; what happened (who logged in, where the tokens went)
goes to stdout. No token is ever printed.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

from tokenprovider.cli.output import EXIT_AUTH_FAILED, EXIT_OK, out
from tokenprovider.errors import ConfigurationError
from tokenprovider.providers._person import PERSON_GRANTS

if TYPE_CHECKING:
    from tokenprovider.config.resolve import Resolved
    from tokenprovider.providers._person import LoginStatus


def _person(args: argparse.Namespace) -> Resolved:
    """The profile's provider, which must log a person in."""
    from tokenprovider.config.resolve import resolve  # noqa: PLC0415

    found = resolve(args.profile, config_file=args.config)
    if getattr(found.provider, "grant_type", None) not in PERSON_GRANTS:
        raise ConfigurationError(
            f"profile {found.profile or 'default'!r} uses {type(found.provider).__name__}"
            + _grant_of(found.provider)
            + ", which needs no login: tokenprovider login is for grant_type "
            "'authorization_code' or 'device_code' in [credentials.oauth]"
        )
    return found


def _grant_of(provider: Any) -> str:
    grant = getattr(provider, "grant_type", None)
    return f" with grant_type {grant!r}" if isinstance(grant, str) else ""


def login(args: argparse.Namespace) -> int:
    """Log in (a browser, or ``--device``), then say who and where the tokens went."""
    found = _person(args)
    status: LoginStatus = found.provider.login(  # type: ignore[attr-defined]
        device=True if args.device else None,
        open_browser=not args.no_browser,
        out=sys.stderr,
    )
    who = f" as {status.account}" if status.account else ""
    out(f"Logged in{who} to {status.host} (client {status.client_id!r}).")
    out(f"Tokens are kept in {status.where}.")
    return EXIT_OK


def logout(args: argparse.Namespace) -> int:
    """Forget the profile's login, revoking its tokens where the server can."""
    result = _person(args).provider.logout()  # type: ignore[attr-defined]
    out(result.message[:1].upper() + result.message[1:] + ".")
    return EXIT_OK if result.revoked is not False else EXIT_AUTH_FAILED


def status(args: argparse.Namespace) -> int:
    """Who is logged in where, the scopes and the expiry; never a token."""
    found = _person(args)
    provider: Any = found.provider
    current: LoginStatus | None = provider.login_status()
    if current is None:
        out(f"Not logged in (no login is kept in {provider.login_location()}).")
        out(f"Log in with: {provider.login_command}")
        return EXIT_AUTH_FAILED
    lines = [
        ("profile", found.profile or "default"),
        ("logged in as", current.account or "(the server did not say)"),
        ("host", current.host),
        ("client", current.client_id),
        ("token endpoint", current.token_endpoint),
        ("scopes", " ".join(current.scopes) or "(none)"),
        ("access token", _expiry(current.expires_at, current.refreshable)),
        ("refresh token", "kept" if current.refreshable else "none: log in again when it expires"),
        ("tokens kept in", current.where),
    ]
    width = max(len(name) for name, _ in lines)
    for name, value in lines:
        out(f"{name + ':':<{width + 1}} {value}")
    return EXIT_OK


def _expiry(expires_at: float | None, refreshable: bool) -> str:
    from datetime import datetime, timezone  # noqa: PLC0415

    if expires_at is None:
        return "none kept"
    try:
        when = datetime.fromtimestamp(expires_at, tz=timezone.utc).isoformat(timespec="seconds")
    except (ValueError, OverflowError, OSError):
        return f"expires at {expires_at:.0f} (epoch seconds)"
    left = expires_at - time.time()
    if left <= 0:
        after = "renewed on next use" if refreshable else "log in again"
        return f"expired at {when} ({after})"
    return f"valid until {when} ({_duration(left)} left)"


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return f"{int(seconds)}s"
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"
