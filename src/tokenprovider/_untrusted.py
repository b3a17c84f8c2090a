"""Reading what comes from outside: bounded JSON, numbers that fit, server text fit to quote.

Everything a token endpoint, a dispenser, a cache file or a config file says is hostile
until checked. These helpers turn each kind of bad input into a plain `ValueError` (or a
None) that callers turn into their own error, so no `RecursionError`, `OverflowError`
or megabyte-long message escapes.
"""

from __future__ import annotations

import base64
import datetime
import json
import math
from typing import Any

from tokenprovider.errors import TokenProviderError

#: The most a token response, discovery document or dispenser answer may hold, in bytes
#: (after decompression): real ones are a few kilobytes.
MAX_RESPONSE_BYTES = 1 << 20
#: Server text quoted in a message or log line is cut to this many characters.
QUOTE_LIMIT = 300


class UntrustedJSONError(ValueError):
    """Bytes that are not JSON we accept: invalid, nested too deep, or a bare
    ``NaN``/``Infinity``. The message never quotes the input."""


def a_type(value: object) -> str:
    """``value``'s Python type for a message: "None", "an int", "a dict"."""
    if value is None:
        return "None"
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _refuse_constant(name: str) -> float:
    raise UntrustedJSONError(f"{name} is not a JSON number")


def load_json(data: bytes | str) -> Any:
    """``data`` parsed as JSON; `UntrustedJSONError` for anything else.

    Nesting deep enough to exhaust the parser's recursion, integers too long to
    convert and ``NaN``/``Infinity`` are all refused, never raised as their own errors.
    """
    try:
        return json.loads(data, parse_constant=_refuse_constant)
    except UntrustedJSONError as exc:
        raise UntrustedJSONError(str(exc)) from None
    except RecursionError:
        raise UntrustedJSONError("nested too deeply") from None
    except (ValueError, UnicodeDecodeError, TypeError) as exc:
        reason = "not valid UTF-8" if isinstance(exc, UnicodeDecodeError) else "not valid JSON"
        raise UntrustedJSONError(reason) from None


def jwt_payload(segment: str) -> Any:
    """What a JWT's payload ``segment`` (base64url, padding optional) holds, as bounded
    JSON; unverified. `ValueError` (``binascii.Error``, `UntrustedJSONError`) if it is
    not base64url-encoded JSON."""
    return load_json(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def utc_text(epoch: float) -> str:
    """``epoch`` (a time from outside, such as a JWT's ``exp``) as a UTC date and time,
    or as Unix time if no `datetime` can show it."""
    try:
        return datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M:%S UTC"
        )
    except (ValueError, OverflowError, OSError):  # before year 1 or after 9999, or beyond C time_t
        return f"Unix time {epoch:.0f}"


def finite_seconds(value: object) -> float | None:
    """``value`` as a finite float if it is a JSON number (not a bool) that fits; else None.

    An integer with hundreds of digits, which ``float()`` would raise `OverflowError`
    for, is None like any other value that is not a usable number.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def quote(text: object, limit: int = QUOTE_LIMIT) -> str:
    """``text`` fit for a message or a log line: at most ``limit`` characters of it,
    with control and other non-printing characters (CR, LF, ESC, bidi marks) escaped
    as ``\\xNN`` / ``\\uNNNN``, so a server can neither flood nor forge log lines."""
    text = text if isinstance(text, str) else str(text)
    cut = text[:limit]
    escaped = "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in cut
    )
    if len(text) > limit:
        escaped += f"... ({len(text) - limit} more characters)"
    return escaped


def describe(error: BaseException) -> str:
    """An exception's text for a message or log line: ours as it is (our messages are
    already safe), anyone else's quoted, since it may carry server text."""
    return str(error) if isinstance(error, TokenProviderError) else quote(error)
