"""The token dispenser's answers: decoding them, finding the token values they hold so that
server text is quoted only with every one of them redacted, and reading the token, its
expiry and its cookie's name out of them (or the error they report)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from tokenprovider import _untrusted as untrusted
from tokenprovider._masking import redact, secret_forms
from tokenprovider.errors import MalformedTokenResponseError, TDSError
from tokenprovider.retry import RETRY_STATUSES

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


@dataclasses.dataclass(frozen=True)
class Dispensed:
    """What one answer of the dispenser gave: the token, its expiry (epoch seconds), the
    name of its cookie if the answer named a valid one, and the whole token document."""

    token: str = dataclasses.field(repr=False)
    expires_at: float
    cookie_name: str | None
    document: dict[str, Any] = dataclasses.field(repr=False)


def scrubber(known: Iterable[str | None], found: frozenset[str] | None) -> Scrub:
    """Quotes server text with the ``known`` secrets and ``found`` redacted (``found``
    None: too many to redact, so no text is shown)."""
    secrets = None if found is None else [*known, *found]
    return lambda text, limit=untrusted.QUOTE_LIMIT: scrubbed(text, secrets, limit)


def read_answer(arn: str, client_id: str, payload: bytes, known: Iterable[str | None]) -> Dispensed:
    """The token in the payload of a successful Invoke of the dispenser ``arn``, read as
    untrusted; ``known`` are the secrets to redact from any text quoted (besides the
    answer's own token values)."""
    document, scrub = _document(arn, client_id, payload, known)
    token = next((document[key] for key in TOKEN_FIELDS if key in document), None)
    fields = scrub(", ".join(sorted(map(str, document))) or "none")
    if not isinstance(token, str) or not token:
        raise MalformedTokenResponseError(
            f"the token dispenser {arn} answered without an sm_token (fields: {fields})"
        )
    expires_at = untrusted.finite_seconds(document.get("expires_at"))
    if expires_at is None:
        raise MalformedTokenResponseError(
            f"the token dispenser {arn} answered without an expires_at in epoch seconds "
            f"that a float can hold (fields: {fields})"
        )
    cookie = document.get("cookiename")
    if not isinstance(cookie, str) or not cookie:
        return Dispensed(token, expires_at, None, document)
    flaw = cookie_name_flaw(cookie)
    if flaw is not None:
        raise TDSError(
            f"the token dispenser {arn} named a cookie that is not a valid cookie name "
            f"(an RFC 6265 token: visible ASCII without separators): {flaw}; "
            "the token is refused",
            error_type="InvalidCookieName",
        )
    return Dispensed(token, expires_at, cookie, document)


def function_error(
    arn: str, client_id: str, payload: bytes, known: Iterable[str | None]
) -> TDSError:
    """The error for the payload of an Invoke that Lambda flagged with a FunctionError."""
    try:
        detail = untrusted.load_json(payload)
    except ValueError:
        detail = None
    scrub = scrubber(known, token_values(detail))
    kind = detail.get("errorType") if isinstance(detail, dict) else None
    message = detail.get("errorMessage") if isinstance(detail, dict) else None
    error_type = scrub(kind, 100) if isinstance(kind, str) and kind else "error"
    shown = "no message" if message is None or message == "" else scrub(message)
    return TDSError(
        f"the token dispenser {arn} failed for client_id {client_id!r}: {error_type}: {shown}",
        error_type=error_type,
    )


def _document(
    arn: str, client_id: str, payload: bytes, known: Iterable[str | None]
) -> tuple[dict[str, Any], Scrub]:
    """The token document in ``payload``, unwrapped, and how to quote its text."""
    value = load_answer(arn, payload)
    scrub = scrubber(known, token_values(value))
    for _ in range(MAX_UNWRAP):
        if isinstance(value, str):  # older dispensers: a JSON string holding JSON
            value = load_answer(arn, value)
        elif not isinstance(value, dict):
            raise MalformedTokenResponseError(
                f"the token dispenser {arn} answered with a JSON {json_type(value)}, not an object"
            )
        elif "statusCode" in value and not any(field in value for field in TOKEN_FIELDS):
            value = _envelope(arn, client_id, value, scrub)
        else:
            return value, scrub
    raise MalformedTokenResponseError(
        f"the token dispenser {arn} answered with a token wrapped more than {MAX_UNWRAP} times"
    )


def _envelope(arn: str, client_id: str, envelope: dict[str, Any], scrub: Scrub) -> Any:
    """The body of a ``{"statusCode", "body"}`` envelope; raises for an error status."""
    status = envelope.get("statusCode")
    body = envelope.get("body")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedTokenResponseError(
            f"the token dispenser {arn} answered with an envelope whose statusCode is not "
            f"a whole number from 100 to 599 (a JSON {json_type(status)})"
        )
    if status >= 300:
        # Worded by the status class: throttled or unavailable (try later), or refused.
        if status == 429:
            verb, later = "throttled", "; try again later"
        elif status in RETRY_STATUSES:
            verb, later = "was unavailable to", "; try again later"
        else:
            verb, later = "refused", ""
        raise TDSError(
            f"the token dispenser {arn} {verb} client_id {client_id!r} with status "
            f"{status}: {scrub(body)}{later}",
            status_code=status,
        )
    if not isinstance(body, (str, dict)):
        raise MalformedTokenResponseError(
            f"the token dispenser {arn} answered with status {status} and a body that is "
            f"a JSON {json_type(body)}, not a token"
        )
    return body


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
