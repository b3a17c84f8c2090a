"""The device authorization grant, client side (RFC 8628), for machines without a browser.

`device_login` asks the server's device authorization endpoint for a device code, tells
the person where to go and which code to type (flushed at once, so it shows even when the
output is piped), then polls the token endpoint until the person approves or denies the
login, or the code expires. The answer is checked as hostile input (`DeviceAuthorization`),
and the device code, a bearer secret until it is spent, never shows in a log, repr or error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

from tokenprovider import _untrusted as untrusted
from tokenprovider._masking import masked_url, redact, secret_forms
from tokenprovider.errors import (
    LoginError,
    MalformedTokenResponseError,
    OAuthError,
    TokenEndpointError,
    TokenRequestError,
)
from tokenprovider.providers._oauth_metadata import is_loopback
from tokenprovider.retry import RETRY_STATUSES

if TYPE_CHECKING:
    from tokenprovider.providers._token_endpoint import TokenAnswer, TokenEndpoint

logger = logging.getLogger("tokenprovider")

#: The grant type of a device-code token request (RFC 8628 §3.4).
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
#: Seconds between polls when the server does not say (RFC 8628 §3.2).
DEFAULT_INTERVAL = 5.0
#: A shorter interval from the server is raised to this: polling slower is always allowed.
MIN_INTERVAL = 1.0
#: A longer interval is refused: the person would wait minutes after approving.
MAX_INTERVAL = 60.0
#: A longer validity is cut to this: no login waits longer for the person.
MAX_EXPIRES_IN = 1800.0
#: What each ``slow_down`` answer adds to the interval (RFC 8628 §3.5).
SLOW_DOWN_STEP = 5.0
#: The longest device code, user code and verification URI accepted.
MAX_DEVICE_CODE = 2048
MAX_USER_CODE = 64
MAX_URI = 2048

EXPIRED = "the code expired before the login was approved; log in again"
DENIED = "the login was denied; log in again to retry"
LOST = (
    "the token endpoint no longer knows the device code: the answer to an earlier poll "
    "was lost on the way (the server was unreachable), so the login cannot complete; "
    "log in again"
)


@dataclass(frozen=True)
class DeviceAuthorization:
    """What the device authorization endpoint answered (RFC 8628 §3.2), checked:
    ``expires_in`` cut to `MAX_EXPIRES_IN`, ``interval`` at least `MIN_INTERVAL`."""

    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: float
    interval: float = DEFAULT_INTERVAL


def device_login(
    endpoint: TokenEndpoint,
    device_authorization_endpoint: str,
    scopes: tuple[str, ...],
    secret: str | None,
    *,
    out: TextIO,
    wall_time: Callable[[], float],
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    audience: str | None = None,
) -> TokenAnswer:
    """Log a person in with the device authorization grant: the tokens the server issues
    once they approve.

    Asks ``device_authorization_endpoint`` for a code (with ``scopes`` and ``audience``, the client
    authenticated by ``endpoint`` with ``secret``; None for a public client), writes to
    ``out`` where to enter it and flushes, then polls the token endpoint every interval
    (``sleep``), slower after each ``slow_down``. A poll that gets no answer is tried
    again at the next interval. `LoginError` if the person denies the login or the code
    expires (by the server's word or by ``monotonic``); the token endpoint's other
    errors as they are.
    """
    started = monotonic()
    fields = {"scope": " ".join(scopes)} if scopes else {}
    if audience:
        fields["audience"] = audience
    what = "device authorization endpoint"
    body = endpoint.post(device_authorization_endpoint, fields, secret, what=what)
    where = f"{what} {untrusted.quote(device_authorization_endpoint)}"
    authorization = _checked(body, where, secret)
    out.write(_instructions(authorization))
    out.flush()
    logger.debug(
        "device login: polling every %gs for up to %gs",
        authorization.interval,
        authorization.expires_in,
    )
    return _poll(
        endpoint,
        authorization,
        secret,
        started + authorization.expires_in,
        wall_time=wall_time,
        monotonic=monotonic,
        sleep=sleep,
    )


def _poll(
    endpoint: TokenEndpoint,
    authorization: DeviceAuthorization,
    secret: str | None,
    expires_at: float,
    *,
    wall_time: Callable[[], float],
    monotonic: Callable[[], float],
    sleep: Callable[[float], None],
) -> TokenAnswer:
    """Poll until the token endpoint issues the tokens or ends the login."""
    fields = {"grant_type": DEVICE_GRANT, "device_code": authorization.device_code}
    interval = authorization.interval
    lost = False  # the last poll got no answer: it may have spent the device code
    while True:
        sleep(max(0.0, min(interval, expires_at - monotonic())))
        if monotonic() >= expires_at:
            raise LoginError(EXPIRED)
        try:
            # Not repeatable: once approved, the device code is spent by the first poll
            # that reaches the server.
            return endpoint.grant(fields, secret, wall_time, repeatable=False)
        except TokenRequestError as exc:
            step = _next_step(exc, lost)
            failure = str(exc)
        lost = step == "no answer"
        if step == "slow_down":
            interval = min(interval + SLOW_DOWN_STEP, MAX_INTERVAL)
            logger.debug("device login: slow_down, now polling every %gs", interval)
        elif step != "pending":
            logger.info(
                "device login: polling the token endpoint failed (%s); trying again in %gs",
                failure,
                interval,
            )


def _next_step(error: TokenRequestError, lost: bool) -> str:
    """What to do after a poll failed with ``error`` (``lost``: the poll before got no
    answer): "pending" or "slow_down" (the person has not answered yet), "unavailable"
    (the server answered a transient error) or "no answer", each to poll again; or raise."""
    if isinstance(error, OAuthError):
        if error.error == "authorization_pending":
            return "pending"
        if error.error == "slow_down":
            return "slow_down"
        if error.error == "expired_token":
            raise LoginError(EXPIRED) from error
        if error.error == "access_denied":
            raise LoginError(DENIED) from error
        if error.error == "invalid_grant" and lost:
            raise LoginError(LOST) from error
    if isinstance(error, TokenEndpointError):
        if error.status in RETRY_STATUSES:
            return "unavailable"
        raise error
    if isinstance(error, MalformedTokenResponseError):
        raise error
    return "no answer"


def _checked(body: Mapping[str, Any], where: str, secret: str | None) -> DeviceAuthorization:
    """``body``, the answer of the endpoint ``where``, as a `DeviceAuthorization`;
    `MalformedTokenResponseError` naming the field that is missing or unusable, never
    showing the device code or the client's ``secret``."""
    device_code = body.get("device_code")
    if (
        not isinstance(device_code, str)
        or not device_code.strip()
        or len(device_code) > MAX_DEVICE_CODE
        or not device_code.isascii()
        or not device_code.isprintable()
    ):
        raise MalformedTokenResponseError(
            f"{where} answered without a usable device_code (a printable ASCII string of "
            f"at most {MAX_DEVICE_CODE} characters); check device_authorization_endpoint"
        )
    forms = secret_forms([device_code, secret])

    def shown(value: object) -> str:
        return untrusted.quote(redact(value if isinstance(value, str) else repr(value), forms))

    def refused(name: str, value: object, problem: str) -> MalformedTokenResponseError:
        if value is None:
            fields = shown(", ".join(sorted(body))) or "none"
            return MalformedTokenResponseError(
                f"{where} answered without a {name} (fields: {fields}); check the server"
            )
        return MalformedTokenResponseError(
            f"{where} sent a {name} that {problem}; check the server"
        )

    user_code = body.get("user_code")
    if (
        not isinstance(user_code, str)
        or not user_code.strip()
        or len(user_code) > MAX_USER_CODE
        or not user_code.isprintable()
    ):
        raise refused(
            "user_code",
            user_code,
            f"is not a printable string of at most {MAX_USER_CODE} characters",
        )
    if redact(user_code, forms) != user_code:
        raise refused("user_code", user_code, "holds the device code or the client secret")
    # "verification_url": the name some servers (Google's) use.
    google = "verification_uri" not in body and "verification_url" in body
    name = "verification_url" if google else "verification_uri"
    uri = body.get(name)
    problem = _uri_problem(uri, forms)
    if problem:
        raise refused(name, uri, f"{problem} (got {shown(masked_url(str(uri)))})")
    complete = body.get("verification_uri_complete")
    problem = None if complete is None else _uri_problem(complete, forms)
    if problem:
        raise refused(
            "verification_uri_complete",
            complete,
            f"{problem} (got {shown(masked_url(str(complete)))})",
        )
    expires_in = _seconds(body.get("expires_in"))
    if expires_in is None:
        raise refused(
            "expires_in",
            body.get("expires_in"),
            f"is not a positive number of seconds: {shown(body.get('expires_in'))}",
        )
    interval = DEFAULT_INTERVAL if body.get("interval") is None else _seconds(body["interval"])
    if interval is None or interval > MAX_INTERVAL:
        raise refused(
            "interval",
            body["interval"],
            f"is not a number of seconds above 0 and at most {MAX_INTERVAL:g}: "
            f"{shown(body['interval'])}",
        )
    assert isinstance(uri, str)  # _uri_problem refuses anything else
    return DeviceAuthorization(
        device_code,
        user_code,
        uri,
        complete if isinstance(complete, str) else None,
        min(expires_in, MAX_EXPIRES_IN),
        max(interval, MIN_INTERVAL),
    )


def _uri_problem(value: object, forms: list[str]) -> str | None:
    """Why ``value`` may not be shown to the person as a page to open, or None: it must be
    an https URL (plain http only to loopback), printable ASCII without spaces or user
    info, and must not hold the device code or the client secret (``forms``)."""
    if not isinstance(value, str) or not value:
        return "is not a URL"
    if len(value) > MAX_URI:
        return f"is longer than {MAX_URI} characters"
    if not value.isascii() or not value.isprintable() or " " in value:
        return "holds spaces, control or non-ASCII characters"
    if "@" in value:  # https://login.example.com@elsewhere.example/ goes elsewhere
        return "holds a user name (an '@')"
    if redact(value, forms) != value:
        return "holds the device code or the client secret"
    try:
        parts = urlsplit(value)
        port_ok = parts.port != 0
    except ValueError:
        return "is not a valid URL"
    if not parts.hostname or not port_ok or parts.scheme not in ("http", "https"):
        return "is not an http(s) URL"
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        return "uses plain http to a host that is not loopback (only https may be used)"
    return None


def _seconds(value: object) -> float | None:
    """``value`` (a JSON number, or a numeric string as some servers send) as a positive
    finite number of seconds, or None."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    seconds = untrusted.finite_seconds(value)
    return seconds if seconds is not None and seconds > 0 else None


def _instructions(authorization: DeviceAuthorization) -> str:
    """What the person must do, in plain words."""

    def shown(text: str) -> str:
        return untrusted.quote(text, MAX_URI)

    text = (
        "To log in, open this page in a browser (on any computer or phone):\n\n"
        f"    {shown(authorization.verification_uri)}\n\n"
        f"and enter the code:  {shown(authorization.user_code)}\n\n"
    )
    if authorization.verification_uri_complete:
        text += (
            "Or open this page, which has the code filled in:\n\n"
            f"    {shown(authorization.verification_uri_complete)}\n\n"
        )
    return text + (
        f"The code is valid for {_duration(authorization.expires_in)}. "
        "Waiting for the login to be approved...\n"
    )


def _duration(seconds: float) -> str:
    """``seconds`` in words: "45 seconds", "1 minute", "10 minutes"."""
    if seconds < 60:
        whole = max(1, round(seconds))
        return f"{whole} second{'s' if whole != 1 else ''}"
    minutes = round(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
