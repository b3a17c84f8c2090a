"""`read_assertion`: the one way a provider reads a source, bounded in time, its value checked.

The read runs in a daemon thread waited on for ``timeout`` seconds; a source still
reading then is left to finish on its own and its result is dropped. An exception that is
not one of ours becomes an `AssertionSourceError` naming its type only (a plugin's message
may hold the token), with nothing chained. The value must be a header- and form-safe
token of at most `MAX_TOKEN_BYTES`; a JWT whose ``exp`` has passed is refused, since
every server would refuse it with a vaguer message. The JWT is decoded, never verified:
we are not its audience.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

from tokenprovider import _untrusted as untrusted
from tokenprovider.errors import AssertionSourceError, ConfigurationError, TokenProviderError
from tokenprovider.sources.base import AssertionSource, describe

#: The longest token a source may hand out (after surrounding whitespace is stripped).
MAX_TOKEN_BYTES = 64 * 1024
_JWT = re.compile(r"[A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]*")
_UNSAFE = re.compile(r"[^\x21-\x7e]")


def read_assertion(
    source: AssertionSource,
    audience: str | None,
    *,
    timeout: float,
    wall_time: Callable[[], float] = time.time,
) -> str:
    """``source.read(audience)`` within ``timeout`` seconds, stripped and checked (see the
    module); `AssertionSourceError` naming the source otherwise, never the token."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ConfigurationError(f"an assertion source timeout must be positive, got {timeout!r}")
    name = describe(source)
    value = _bounded_read(source, audience, timeout, name)
    return checked_token(value, name, getattr(source, "expired_hint", ""), wall_time())


def _bounded_read(
    source: AssertionSource, audience: str | None, timeout: float, name: str
) -> object:
    done = threading.Event()
    outcome: list[object] = []
    failure: list[BaseException] = []

    def work() -> None:
        try:
            outcome.append(source.read(audience))
        except BaseException as exc:  # handed to the waiting thread
            failure.append(exc)
        finally:
            done.set()

    threading.Thread(target=work, name="tokenprovider-assertion-source", daemon=True).start()
    if not done.wait(timeout):
        raise AssertionSourceError(
            f"{name} gave no token within {timeout:g} s, the bound on reading an assertion "
            "source; it may hang: check it"
        )
    if failure:
        error = failure.pop()
        if isinstance(error, TokenProviderError):
            raise error
        kind = type(error).__name__
        del error  # no reference to it (or its traceback's locals) from our error
        raise AssertionSourceError(
            f"{name} failed with {kind} (its message is not shown: it may hold the token)"
        ) from None
    return outcome[0]


def checked_token(value: object, name: str, expired_hint: str, now: float) -> str:
    """``value`` stripped, if it is a usable token (see the module) at wall time ``now``."""
    if not isinstance(value, str):
        raise AssertionSourceError(f"{name} gave {untrusted.a_type(value)}, not a str token")
    token = value.strip()
    if not token:
        raise AssertionSourceError(f"{name} gave an empty token")
    if len(token) > MAX_TOKEN_BYTES:
        raise AssertionSourceError(
            f"{name} gave a token of {len(token)} characters, more than the "
            f"{MAX_TOKEN_BYTES} allowed"
        )
    unsafe = _UNSAFE.search(token)
    if unsafe:
        raise AssertionSourceError(
            f"{name} gave a token with a space, control or non-ASCII character (at "
            f"position {unsafe.start()}); a token is printable ASCII without spaces"
        )
    expires = jwt_expiry(token)
    if expires is not None and expires <= now:
        hint = f"; {expired_hint}" if expired_hint else ""
        when = untrusted.utc_text(expires)
        raise AssertionSourceError(
            f"the token from {name} expired {now - expires:.0f} s ago (at {when}){hint}"
        )
    return token


def jwt_expiry(token: str) -> float | None:
    """The numeric ``exp`` claim of a JWT-shaped ``token`` (unverified), or None: not a
    JWT, no ``exp``, or not a number."""
    shape = _JWT.fullmatch(token)
    if shape is None:
        return None
    segment = shape[1]
    try:
        claims = untrusted.jwt_payload(segment)
    except ValueError:  # binascii.Error is one
        return None
    return untrusted.finite_seconds(claims.get("exp")) if isinstance(claims, dict) else None
