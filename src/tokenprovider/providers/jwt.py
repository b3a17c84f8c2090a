"""`JWTTokenProvider`: a static token whose expiry is read from the JWT itself."""

from __future__ import annotations

import binascii
import logging
import math
import re
from typing import ClassVar

from tokenprovider._untrusted import UntrustedJSONError, finite_seconds, jwt_payload, utc_text
from tokenprovider.core.clock import SYSTEM_CLOCK, Clock
from tokenprovider.core.host import Host
from tokenprovider.core.provider import TokenProvider
from tokenprovider.errors import MalformedTokenError, TokenExpiredError
from tokenprovider.secret_refs import SecretReference

logger = logging.getLogger("tokenprovider")

#: A warning is logged once when the token has less than this many seconds left.
EXPIRY_WARNING = 300.0
_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")


class JWTTokenProvider(TokenProvider):
    """Serves one static JWT.

    The payload's ``exp`` claim is read (the signature is not checked: that is the
    server's job) so that the provider logs a warning once when the token is about to
    expire and raises `TokenExpiredError` once it has, instead of sending a dead token.
    A JWT without ``exp`` never expires here. A `SecretReference` is read when the token
    is first needed; ``expires_at`` is None until then.
    """

    #: Not shown by `repr()` at all (`tokenprovider._masking`): the token, its header, the
    #: clock and when the expiry is next checked.
    _hidden_attributes: ClassVar[frozenset[str]] = frozenset(
        {"_check_from", "_header", "_time", "_token", "_warned"}
    )

    def __init__(
        self, host: Host | str, jwt: str | SecretReference, *, clock: Clock | None = None
    ) -> None:
        super().__init__(host)
        self._time = (clock or SYSTEM_CLOCK).time
        self._warned = False
        self.expires_at: float | None = None
        self._jwt: str | SecretReference = jwt
        self._token = ""
        self._header = ("Authorization", "")
        self._check_from = -math.inf  # every use takes the slow path until the JWT is read
        if isinstance(jwt, str):
            self.__accept(jwt)
        elif not isinstance(jwt, SecretReference):
            raise MalformedTokenError(f"jwt for {self.host} must be a string")

    def __accept(self, jwt: str) -> None:
        jwt = jwt.strip()
        self.expires_at = _read_exp(jwt, self.host)
        self._jwt = self._token = jwt
        self._header = ("Authorization", self._format_authorization(jwt))
        exp = math.inf if self.expires_at is None else self.expires_at
        self._check_from = exp - EXPIRY_WARNING

    @property
    def token(self) -> str:
        """The JWT; raises `TokenExpiredError` once its ``exp`` has passed."""
        if self._time() >= self._check_from:
            self.__check_expiry()
        return self._token

    def _header_item(self) -> tuple[str, str]:
        if self._time() < self._check_from:
            return self._header
        self.__check_expiry()
        return self._header

    async def async_token(self) -> str:
        """The JWT, for a coroutine: at once, unless a reference must be read or the
        expiry checked, which happen off the event loop."""
        if self._time() < self._check_from:
            return self._token
        return await super().async_token()

    async def _async_header_item(self) -> tuple[str, str]:
        if self._time() < self._check_from:
            return self._header
        return await super()._async_header_item()

    def __check_expiry(self) -> None:
        if isinstance(self._jwt, SecretReference):
            self.__accept(self._jwt.reveal())
            if self._time() < self._check_from:
                return
        assert self.expires_at is not None
        left = self.expires_at - self._time()
        when = utc_text(self.expires_at)
        if left <= 0:
            raise TokenExpiredError(
                f"the JWT for {self.host} expired at {when} ({_duration(-left)} ago); "
                "get a new token and update the jwt setting"
            )
        if not self._warned:
            self._warned = True
            logger.warning(
                "the JWT for %s expires at %s (in %s); replace it before then",
                self.host,
                when,
                _duration(left),
            )


def _read_exp(jwt: str, host: Host) -> float | None:
    """The ``exp`` claim of ``jwt`` (None if absent); errors never quote the token."""
    where = f"the jwt for {host}"
    if jwt[:7].lower() == "bearer ":
        raise MalformedTokenError(f"{where} starts with 'Bearer '; give the token alone")
    parts = jwt.split(".")
    if len(parts) != 3:
        raise MalformedTokenError(
            f"{where} is not a JWT: expected 3 dot-separated parts "
            f"(header.payload.signature), found {len(parts)}"
        )
    if not parts[0] or not parts[1] or not all(_SEGMENT.fullmatch(part) for part in parts):
        raise MalformedTokenError(
            f"{where} is not a JWT: its parts must be non-empty base64url text "
            "(check for stray quotes or spaces)"
        )
    try:
        claims = jwt_payload(parts[1])
    except (binascii.Error, ValueError) as exc:
        reason = f" ({exc})" if isinstance(exc, UntrustedJSONError) else ""
        raise MalformedTokenError(
            f"{where} is not a JWT: its payload is not base64url-encoded JSON{reason}"
        ) from None
    if not isinstance(claims, dict):
        raise MalformedTokenError(f"{where} is not a JWT: its payload is not a JSON object")
    exp = claims.get("exp")
    if exp is None:
        return None
    seconds = finite_seconds(exp)
    if seconds is None:
        raise MalformedTokenError(f"{where} has an exp claim that is not a number of seconds")
    return seconds


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
