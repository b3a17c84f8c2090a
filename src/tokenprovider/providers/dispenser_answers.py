"""The token dispenser's answers: decoding them, and finding the token values they hold
so that server text is quoted only with every one of them redacted."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from tokenprovider import _untrusted as untrusted
from tokenprovider._masking import redact, secret_forms
from tokenprovider.errors import MalformedTokenResponseError

#: The fields a token document keeps its token in, in the order they are looked for.
TOKEN_FIELDS = ("sm_token", "access_token", "token")
#: A cookie name must be an RFC 6265 ``token``: visible ASCII except separators.
COOKIE_NAME_PATTERN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: How many times an answer may be unwrapped (a JSON string holding JSON, an envelope).
MAX_UNWRAP = 4
#: Strings of a token document other than its token fields count as token values (and
#: are redacted) from this length on: shorter ones (``SM``, ``25``) are taken for no
#: secret at all. Not `masking.SHORT_SECRET`, which says how a known secret is redacted.
_SHORTEST_OTHER_VALUE = 8
#: Beyond this many token values in one answer, none of its text is quoted.
_MAX_SECRETS = 256

#: Quotes server text with secrets redacted: ``scrub(text, limit=untrusted.QUOTE_LIMIT)``.
Scrub = Callable[..., str]


def load_answer(arn: str, data: bytes | str) -> Any:
    """``data`` read as untrusted JSON; `MalformedTokenResponseError` if it is not JSON."""
    try:
        return untrusted.load_json(data)
    except untrusted.UntrustedJSONError as exc:
        reason = str(exc)
    raise MalformedTokenResponseError(
        f"the token dispenser {arn} answered with something that is not JSON ({reason})"
    )


def token_values(answer: object) -> frozenset[str] | None:
    """Every string value of every token document in ``answer`` (a dict with a string
    ``sm_token``, ``access_token`` or ``token``, found at any depth and inside strings
    that hold JSON): the token fields whatever their length, the other strings from
    `_SHORTEST_OTHER_VALUE` characters. None if there are more than `_MAX_SECRETS`."""
    found: set[str] = set()
    stack: list[tuple[object, bool]] = [(answer, False)]
    while stack:
        value, inside = stack.pop()
        if isinstance(value, dict):
            holds = inside or any(isinstance(value.get(field), str) for field in TOKEN_FIELDS)
            if holds:
                found.update(
                    value[field]
                    for field in TOKEN_FIELDS
                    if isinstance(value.get(field), str) and value[field]
                )
            stack.extend((item, holds) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, inside) for item in value)
        elif isinstance(value, str):
            if inside and len(value) >= _SHORTEST_OTHER_VALUE:
                found.add(value)
            if value.lstrip()[:1] in ("{", "[", '"'):
                with contextlib.suppress(ValueError):
                    stack.append((untrusted.load_json(value), inside))
        if len(found) > _MAX_SECRETS:
            return None
    return frozenset(found)


def scrubbed(text: object, secrets: Iterable[str | None] | None, limit: int) -> str:
    """``text`` (a string, or JSON shown as text) with every form of each secret redacted,
    then quoted: cut to ``limit`` characters, control characters escaped."""
    if secrets is None:
        return "(not shown: the answer holds too many token values to redact)"
    if not isinstance(text, str):
        try:
            text = json.dumps(text, ensure_ascii=False)
        except (TypeError, ValueError, RecursionError):
            return f"(a JSON {json_type(text)}, not shown)"
    forms = secret_forms(secrets)
    longest = max(map(len, forms), default=0)
    window = 4 * limit + longest  # redact only what can be shown
    part = redact(text[:window], forms)
    if len(text) > window:
        # A secret cut by the window would leave its start at the end: drop that.
        part = part[: max(0, len(part) - longest)]
    if len(text) > window or len(part) > limit:
        return untrusted.quote(part[:limit], limit) + "... (cut short)"
    return untrusted.quote(part, limit)


def cookie_name_flaw(name: str) -> str | None:
    """Why ``name`` cannot be a cookie name (without quoting it), or None if it can."""
    if len(name) > 256:
        return f"it is {len(name)} characters long"
    for position, character in enumerate(name):
        if not COOKIE_NAME_PATTERN.fullmatch(character):
            return f"character {character!a} at position {position}"
    return None


def json_type(value: object) -> str:
    """The JSON name of ``value``'s type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object" if isinstance(value, dict) else "value"
