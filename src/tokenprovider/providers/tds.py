"""`TDSTokenProvider`: Launchpad tokens from the AWS Token Dispenser Service (TDS).

The dispenser is a Lambda whose ARN is published in SSM Parameter Store under
``/service/token-dispenser/<deployment>``. boto3 is imported when the provider is built
(without it: `MissingExtraError`); the region follows `tokenprovider._aws.resolve_region`.

Its answers are untrusted: read bounded in size (``max_response_bytes``) and in time (every
AWS call runs on a worker thread that the caller waits for until the request's deadline,
``invoke_timeout``), parsed with `tokenprovider._untrusted`, and quoted in messages only
after every token value they hold has been redacted. The provider checks its settings and
keeps the token; its `Dispenser` (``providers/_dispenser.py``) calls the Lambda.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from tokenprovider import _aws as aws
from tokenprovider import _untrusted as untrusted
from tokenprovider._masking import warn_about_literal_secret
from tokenprovider.core.cached import CachedTokenProvider
from tokenprovider.core.provider import Carrier, Credential
from tokenprovider.core.refresh_settings import RefreshSettings, Unpack
from tokenprovider.errors import ConfigurationError
from tokenprovider.providers._dispenser import LAMBDA_ARN_PATTERN, SSM_PATH, Dispenser
from tokenprovider.providers._dispenser_answers import cookie_name_flaw
from tokenprovider.secret_refs import SecretReference, reveal
from tokenprovider.transports import requests as requests_adapter

if TYPE_CHECKING:
    import requests

    from tokenprovider.core.host import Host

__all__ = [
    "CLIENT_ID_PATTERN",
    "COOKIE_ATTRIBUTE",
    "DEFAULT_COOKIE",
    "LAMBDA_ARN_PATTERN",
    "MARGIN_GUARD",
    "MAX_MINIMUM_ALIVE_SECS",
    "SSM_PATH",
    "TDSTokenProvider",
    "check_client_id",
    "check_minimum_alive_secs",
]

#: The dispenser's rule for client ids.
CLIENT_ID_PATTERN = re.compile(r"[a-zA-Z0-9]{3,32}")
#: The largest ``minimum_alive_secs`` the dispenser accepts (token lifetime 3600 - 300).
MAX_MINIMUM_ALIVE_SECS = 3300
#: Seconds kept between this provider's refresh point and the dispenser's margin, so a
#: refresh always gets a new token even if the two clocks disagree by this much.
MARGIN_GUARD = 30.0
DEFAULT_COOKIE = "SMSESSION"
#: The cache entry attribute that carries the name of the token's cookie.
COOKIE_ATTRIBUTE = "cookie_name"


class TDSTokenProvider(CachedTokenProvider):
    """Gets Launchpad (SiteMinder) tokens from the Token Dispenser Lambda.

    The Lambda is ``lambda_arn`` if given, else the ARN in the SSM parameter
    ``token_dispenser_arn_ssm_key``, else the only parameter under
    ``/service/token-dispenser``; the ARN is kept for the provider's life and looked up
    again once if Lambda says the function is gone. The token is sent raw in
    ``Authorization`` (``auth_style="raw"``, as CMR and Cumulus take it), as
    ``Authorization: Bearer`` (``"bearer"``), or as the cookie the dispenser names,
    normally ``SMSESSION`` (``"cookie"``). ``action="edl"`` asks for an Earthdata Login
    token with ``edl_user``, ``edl_pass`` and ``cmr_env`` instead.

    ``invoke_timeout`` is the deadline of one token request, botocore's retries and the
    reading of the answer included; the answer may hold at most ``max_response_bytes``.
    """

    #: Not shown by `repr()` at all (`tokenprovider._masking`): the dispenser's client,
    #: which holds the boto3 session, the last token and the revealed EDL password.
    _hidden_attributes: ClassVar[frozenset[str]] = frozenset({"_dispenser", "_cookie_name"})

    def __init__(
        self,
        host: Host | str,
        client_id: str,
        *,
        minimum_alive_secs: int = 300,
        token_dispenser_arn_ssm_key: str | None = None,
        lambda_arn: str | None = None,
        region: str | None = None,
        profile_name: str | None = None,
        auth_style: Literal["raw", "bearer", "cookie"] = "raw",
        action: Literal["launchpad", "edl"] = "launchpad",
        edl_user: str | None = None,
        edl_pass: str | SecretReference | None = None,
        cmr_env: str | None = None,
        invoke_timeout: float = 30.0,
        max_response_bytes: int = untrusted.MAX_RESPONSE_BYTES,
        max_attempts: int = aws.MAX_ATTEMPTS,
        boto3_session: object | None = None,
        **settings: Unpack[RefreshSettings],
    ) -> None:
        super().__init__(host, **settings)
        check_client_id(client_id)
        check_minimum_alive_secs(minimum_alive_secs)
        _check_choice("auth_style", auth_style, ("raw", "bearer", "cookie"))
        _check_choice("action", action, ("launchpad", "edl"))
        if action == "edl" and (not edl_user or edl_pass is None or not cmr_env):
            raise ConfigurationError("action 'edl' needs edl_user, edl_pass and cmr_env")
        if not isinstance(invoke_timeout, (int, float)) or not 0 < invoke_timeout < math.inf:
            raise ConfigurationError(
                f"invoke_timeout must be positive seconds, got {invoke_timeout!r}"
            )
        if (
            isinstance(max_response_bytes, bool)
            or not isinstance(max_response_bytes, int)
            or max_response_bytes < 1
        ):
            raise ConfigurationError(
                f"max_response_bytes must be a whole number of bytes >= 1, "
                f"got {max_response_bytes!r}"
            )
        aws.check_max_attempts(max_attempts)
        warn_about_literal_secret(edl_pass, "edl_pass", type(self).__name__)
        self.client_id = client_id
        self.minimum_alive_secs = minimum_alive_secs
        self.token_dispenser_arn_ssm_key = token_dispenser_arn_ssm_key
        self.lambda_arn = lambda_arn
        self.auth_style = auth_style
        self.action = action
        self.edl_user = edl_user
        self._edl_pass = edl_pass
        self.cmr_env = cmr_env
        self.max_response_bytes = max_response_bytes
        # Refresh while the dispenser's margin still lies ahead, so that it mints a new
        # token rather than handing back the one about to expire (which would spin).
        self.refresh_ahead = min(self.refresh_ahead, max(minimum_alive_secs - MARGIN_GUARD, 0.0))
        local_margin = max(self.refresh_ahead, self.clock_skew)
        event_minimum = min(
            MAX_MINIMUM_ALIVE_SECS, max(minimum_alive_secs, math.ceil(local_margin + MARGIN_GUARD))
        )
        session: Any = (
            boto3_session
            if boto3_session is not None
            else aws.session(profile_name, region, needed_by="TDSTokenProvider")
        )
        self.region = aws.require_region(
            region,
            boto3_session,
            profile_name=profile_name,
            needed_by="TDSTokenProvider",
            setting="region= (region = in [credentials.tds])",
        )
        self._cookie_name = DEFAULT_COOKIE  # until the dispenser names its cookie
        self._dispenser = Dispenser(
            session,
            region=self.region,
            client_id=client_id,
            minimum_alive_secs=event_minimum,
            lambda_arn=lambda_arn,
            token_dispenser_arn_ssm_key=token_dispenser_arn_ssm_key,
            action=action,
            edl_user=edl_user,
            edl_pass=edl_pass,
            cmr_env=cmr_env,
            timeout=float(invoke_timeout),
            max_attempts=max_attempts,
            max_response_bytes=max_response_bytes,
        )

    # -- attaching -------------------------------------------------------------------

    def _format_authorization(self, token: str) -> str:
        return "Bearer " + token if self.auth_style == "bearer" else token

    def requests_auth_handler(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        """Attach the token to ``r``: the cookie with ``auth_style="cookie"``, else the
        ``Authorization`` header by the same fast path as every other provider."""
        if self.auth_style == "cookie":
            return requests_adapter.handler(self, r)
        return requests_adapter.header_handler(self, r)

    __call__ = requests_auth_handler

    def _carrier(self) -> Carrier:
        """A cookie with ``auth_style="cookie"``, else the ``Authorization`` header."""
        return "cookie" if self.auth_style == "cookie" else "header"

    def _credential(self) -> Credential:
        """The dispenser's cookie (its name came with the token) or the header."""
        if self.auth_style != "cookie":
            return super()._credential()
        token, _, name = self.__cookie()
        # The cookie's value is the raw token, which is also what _format_authorization
        # gives for this style: what _invalidate_if_current compares after a 401.
        return Credential("cookie", name, token)

    async def _async_credential(self) -> Credential:
        if self.auth_style != "cookie":
            return await super()._async_credential()
        token, _, attributes = await self._async_token_details()
        return Credential("cookie", attributes.get(COOKIE_ATTRIBUTE) or self._cookie_name, token)

    def __cookie(self) -> tuple[str, float | None, str]:
        """The token, its expiry and the name of the cookie it came with (for a token
        from an entry written before entries carried it: the last name the dispenser
        gave this provider)."""
        token, expires_at, attributes = self._token_details()
        return token, expires_at, attributes.get(COOKIE_ATTRIBUTE) or self._cookie_name

    @property
    def function_arn(self) -> str | None:
        """The dispenser's ARN once known (given, or looked up on the first fetch)."""
        return self._dispenser.arn

    def _adopt_function_arn(self, arn: str) -> None:
        """Use ``arn``, found by another provider, as if this one had looked it up."""
        self._dispenser.adopt_arn(arn)

    def token_document(self) -> dict[str, Any]:
        """The dispenser's whole answer for the current token (``sm_token``, ``expires_at``...)."""
        token, expires_at, name = self.__cookie()
        last = self._dispenser.last
        if last is not None and last.token == token:
            return dict(last.document)
        # Another provider (process, host) fetched this token: the cache keeps only the
        # token, its expiry and its cookie's name, so the answer is rebuilt from them.
        return {
            "sm_token": token,
            "expires_at": None if expires_at is None else int(expires_at),
            "cookiename": name,
        }

    def _cache_identity(self) -> dict[str, object]:
        """The client id, the dispenser's ARN (looked up here if need be), the host
        and, for EDL, the user and environment."""
        return {
            "kind": "tds",
            "host": self.host.url,
            "client_id": self.client_id,
            "dispenser": self._dispenser.function_arn(),
            "action": self.action,
            "edl_user": self.edl_user,
            "cmr_env": self.cmr_env,
        }

    def _cache_secret(self) -> str | None:
        """The EDL password, for EDL tokens."""
        return None if self._edl_pass is None else reveal(self._edl_pass)

    def _token_attributes(self) -> Mapping[str, str]:
        """The name of the cookie the dispenser gave with the token (whatever
        ``auth_style``: providers of every style share tokens)."""
        return {COOKIE_ATTRIBUTE: self._cookie_name}

    def _attributes_flaw(self, attributes: Mapping[str, str]) -> str | None:
        """A cached cookie name is checked as the dispenser's is."""
        name = attributes.get(COOKIE_ATTRIBUTE)
        if name is None:
            return None
        flaw = cookie_name_flaw(name) if name else "it is empty"
        return None if flaw is None else f"{COOKIE_ATTRIBUTE} is not a valid cookie name: {flaw}"

    def _token_source(self) -> str:
        """The dispenser, by ARN, for messages."""
        arn = self._dispenser.arn or self.lambda_arn or "(ARN not yet known)"
        return f"the token dispenser {arn}"

    # -- fetching --------------------------------------------------------------------

    def _request_token(self) -> tuple[str, float]:
        dispensed = self._dispenser.fetch()
        if dispensed.cookie_name is not None:
            self._cookie_name = dispensed.cookie_name
        return dispensed.token, dispensed.expires_at


def check_client_id(client_id: object) -> None:
    """Raise `ConfigurationError` unless ``client_id`` follows the dispenser's rule."""
    if not isinstance(client_id, str) or not CLIENT_ID_PATTERN.fullmatch(client_id):
        raise ConfigurationError(
            f"client_id {client_id!r} is not valid for the token dispenser: it must be 3 to 32 "
            "letters and digits (^[a-zA-Z0-9]{3,32}$)"
        )


def check_minimum_alive_secs(value: object) -> None:
    """Raise `ConfigurationError` unless ``value`` is an int the dispenser accepts (0-3300)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 0 <= value <= MAX_MINIMUM_ALIVE_SECS
    ):
        raise ConfigurationError(
            f"minimum_alive_secs must be a whole number from 0 to {MAX_MINIMUM_ALIVE_SECS}, "
            f"got {value!r}"
        )


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigurationError(
            f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}"
        )
