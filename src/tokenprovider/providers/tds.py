"""`TDSTokenProvider`: Launchpad tokens from the AWS Token Dispenser Service (TDS).

The dispenser is a Lambda whose ARN is published in SSM Parameter Store under
``/service/token-dispenser/<deployment>``. boto3 is imported when the provider is built.
"""

from __future__ import annotations

import json
import math
import re
import threading
from typing import TYPE_CHECKING, Any, Literal

from tokenprovider import aws
from tokenprovider.cached import CachedTokenProvider
from tokenprovider.clock import Clock
from tokenprovider.errors import (
    ConfigurationError,
    DiscoveryError,
    MalformedTokenResponseError,
    TDSError,
    TokenRequestError,
)
from tokenprovider.masking import redact
from tokenprovider.secret_refs import SecretReference, reveal

if TYPE_CHECKING:
    import requests

    from tokenprovider.caches.base import TokenCache
    from tokenprovider.host import Host

#: The dispenser's rule for client ids.
CLIENT_ID_PATTERN = re.compile(r"[a-zA-Z0-9]{3,32}")
#: The largest ``minimum_alive_secs`` the dispenser accepts (token lifetime 3600 - 300).
MAX_MINIMUM_ALIVE_SECS = 3300
#: Where deployments publish the dispenser's ARN.
SSM_PATH = "/service/token-dispenser"
#: Seconds kept between this provider's refresh point and the dispenser's margin, so a
#: refresh always gets a new token even if the two clocks disagree by this much.
MARGIN_GUARD = 30.0
DEFAULT_COOKIE = "SMSESSION"


class _FunctionGoneError(Exception):
    """Lambda says the function does not exist (a stale ARN)."""


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
    """

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
        max_attempts: int = aws.MAX_ATTEMPTS,
        boto3_session: object | None = None,
        clock_skew: float | None = None,
        refresh_ahead: float | None = None,
        failure_cooldown: float | None = None,
        clock: Clock | None = None,
        cache: TokenCache | None = None,
    ) -> None:
        super().__init__(
            host,
            clock_skew=clock_skew,
            refresh_ahead=refresh_ahead,
            failure_cooldown=failure_cooldown,
            clock=clock,
            cache=cache,
        )
        _check_client_id(client_id)
        check_minimum_alive_secs(minimum_alive_secs)
        _check_choice("auth_style", auth_style, ("raw", "bearer", "cookie"))
        _check_choice("action", action, ("launchpad", "edl"))
        if action == "edl" and (not edl_user or edl_pass is None or not cmr_env):
            raise ConfigurationError("action 'edl' needs edl_user, edl_pass and cmr_env")
        if not isinstance(invoke_timeout, (int, float)) or not 0 < invoke_timeout < math.inf:
            raise ConfigurationError(
                f"invoke_timeout must be positive seconds, got {invoke_timeout!r}"
            )
        aws.check_max_attempts(max_attempts)
        self.client_id = client_id
        self.minimum_alive_secs = minimum_alive_secs
        self.token_dispenser_arn_ssm_key = token_dispenser_arn_ssm_key
        self.lambda_arn = lambda_arn
        self.auth_style = auth_style
        self.action = action
        self.edl_user = edl_user
        self._edl_pass = edl_pass
        self.cmr_env = cmr_env
        # Refresh while the dispenser's margin still lies ahead, so that it mints a new
        # token rather than handing back the one about to expire (which would spin).
        self.refresh_ahead = min(self.refresh_ahead, max(minimum_alive_secs - MARGIN_GUARD, 0.0))
        local_margin = max(self.refresh_ahead, self.clock_skew)
        self.__event_minimum = min(
            MAX_MINIMUM_ALIVE_SECS, max(minimum_alive_secs, math.ceil(local_margin + MARGIN_GUARD))
        )
        session = boto3_session if boto3_session is not None else _session(profile_name, region)
        self.region = region or getattr(session, "region_name", None)
        if not self.region:
            raise ConfigurationError(
                "TDSTokenProvider needs an AWS region: set region (in [credentials.tds] or "
                "the constructor), AWS_REGION, or a region in your AWS profile"
            )
        self.__session: Any = session
        self.__timeout = float(invoke_timeout)
        self.__max_attempts = max_attempts
        self.__clients: dict[str, Any] = {}
        self.__arn: str | None = None
        self.__last: tuple[str, dict[str, Any]] | None = None
        self.__cookie_name = DEFAULT_COOKIE
        self.__lock = threading.Lock()
        self.__edl_secret: str | None = None

    # -- attaching -------------------------------------------------------------------

    def _format_authorization(self, token: str) -> str:
        return "Bearer " + token if self.auth_style == "bearer" else token

    def requests_auth_handler(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        """Attach the token (as a header, or as the dispenser's cookie) to ``r``."""
        if self.auth_style != "cookie":
            return super().requests_auth_handler(r)
        if r.url is None or not self.host.matches(r.url):
            return r
        token = self.token
        name = self.__cookie_name
        existing = r.headers.get("Cookie")
        if existing and any(part.strip().startswith(name + "=") for part in existing.split(";")):
            return r  # the caller's own cookie wins
        r.headers["Cookie"] = f"{existing}; {name}={token}" if existing else f"{name}={token}"
        return r

    @property
    def function_arn(self) -> str | None:
        """The dispenser's ARN once known (given, or looked up on the first fetch)."""
        return self.__arn

    def _adopt_function_arn(self, arn: str) -> None:
        """Use ``arn``, found by another provider, as if this one had looked it up."""
        if self.__arn is None:
            self.__arn = arn

    def token_document(self) -> dict[str, Any]:
        """The dispenser's whole answer for the current token (``sm_token``, ``expires_at``...)."""
        token, expires_at = self._token_and_expiry()
        last = self.__last
        if last is not None and last[0] == token:
            return dict(last[1])
        # Another provider (process, host) fetched this token: the cache keeps only the
        # token and its expiry, so the rest of the answer is rebuilt from them.
        return {
            "sm_token": token,
            "expires_at": None if expires_at is None else int(expires_at),
            "cookiename": self.__cookie_name,
        }

    def _cache_identity(self) -> dict[str, object]:
        """The client id, the dispenser's ARN (looked up here if need be), the host
        and, for EDL, the user and environment."""
        return {
            "kind": "tds",
            "host": self.host.url,
            "client_id": self.client_id,
            "dispenser": self.__function_arn(),
            "action": self.action,
            "edl_user": self.edl_user,
            "cmr_env": self.cmr_env,
        }

    def _cache_secret(self) -> str | None:
        """The EDL password, for EDL tokens."""
        return None if self._edl_pass is None else reveal(self._edl_pass)

    # -- fetching --------------------------------------------------------------------

    def _request_token(self) -> tuple[str, float]:
        event = self.__event()
        payload = self.__invoke(event)
        document = self.__decode(payload)
        token, expires_at = self.__read(document)
        self.__last = (token, document)
        return token, expires_at

    def __event(self) -> dict[str, Any]:
        event: dict[str, Any] = {
            "client_id": self.client_id,
            "minimum_alive_secs": self.__event_minimum,
        }
        if self.action == "edl":
            assert self._edl_pass is not None
            self.__edl_secret = reveal(self._edl_pass)
            event.update(
                action="edl",
                edl_user=self.edl_user,
                edl_pass=self.__edl_secret,
                cmr_env=self.cmr_env,
            )
        return event

    def __client(self, service: str) -> Any:
        with self.__lock:
            if service not in self.__clients:
                self.__clients[service] = aws.client(
                    service,
                    boto3_session=self.__session,
                    region=self.region,
                    read_timeout=self.__timeout,
                    max_attempts=self.__max_attempts,
                )
            return self.__clients[service]

    def __invoke(self, event: dict[str, Any]) -> bytes:
        arn = self.__function_arn()
        try:
            return self.__call(arn, event)
        except _FunctionGoneError:
            if self.lambda_arn is not None:
                raise TDSError(
                    f"the token dispenser {arn} does not exist (in {self.region}); "
                    "check lambda_arn",
                    error_type="ResourceNotFoundException",
                ) from None
        self.__arn = None  # the published ARN moved: look it up again, once
        arn = self.__function_arn()
        try:
            return self.__call(arn, event)
        except _FunctionGoneError:
            raise TDSError(
                f"the token dispenser {arn} does not exist (in {self.region}), even after "
                "looking its ARN up again; check the SSM parameter",
                error_type="ResourceNotFoundException",
            ) from None

    def __call(self, arn: str, event: dict[str, Any]) -> bytes:
        try:
            response = self.__client("lambda").invoke(
                FunctionName=arn,
                InvocationType="RequestResponse",
                Payload=json.dumps(event).encode(),
            )
            payload: bytes = response["Payload"].read()
        except Exception as exc:
            code = _error_code(exc)
            if code == "ResourceNotFoundException":
                raise _FunctionGoneError from None
            raise self.__aws_error(f"invoking the token dispenser {arn}", exc) from None
        if response.get("FunctionError"):
            raise self.__function_error(arn, payload)
        return payload

    def __function_error(self, arn: str, payload: bytes) -> TDSError:
        try:
            detail = json.loads(payload)
        except ValueError:
            detail = None
        if isinstance(detail, dict):
            kind = str(detail.get("errorType") or "error")
            message = str(detail.get("errorMessage") or "no message")
        else:
            kind, message = "error", "no message"
        return TDSError(
            f"the token dispenser {arn} failed for client_id {self.client_id!r}: "
            f"{kind}: {self.__redact(message)}",
            error_type=kind,
        )

    def __decode(self, payload: bytes) -> dict[str, Any]:
        try:
            document: Any = json.loads(payload)
            if isinstance(document, str):  # older dispensers: a JSON string holding JSON
                document = json.loads(document)
        except ValueError:
            raise MalformedTokenResponseError(
                "the token dispenser answered with something that is not JSON"
            ) from None
        if not isinstance(document, dict):
            raise MalformedTokenResponseError(
                f"the token dispenser answered with a JSON {type(document).__name__}, not an object"
            )
        if "statusCode" in document and "sm_token" not in document:
            return self.__envelope(document)
        return document

    def __envelope(self, document: dict[str, Any]) -> dict[str, Any]:
        status = document.get("statusCode")
        body = document.get("body")
        if isinstance(status, int) and status < 300 and isinstance(body, str):
            return self.__decode(body.encode())
        if isinstance(status, int) and status < 300 and isinstance(body, dict):
            return body
        text = body if isinstance(body, str) else json.dumps(body)
        raise TDSError(
            f"the token dispenser refused client_id {self.client_id!r} with status "
            f"{status}: {self.__redact(text)}",
            status_code=status if isinstance(status, int) else None,
        )

    def __read(self, document: dict[str, Any]) -> tuple[str, float]:
        token = next(
            (document[key] for key in ("sm_token", "access_token", "token") if key in document),
            None,
        )
        fields = ", ".join(sorted(map(str, document))) or "none"
        if not isinstance(token, str) or not token:
            raise MalformedTokenResponseError(
                f"the token dispenser's answer has no sm_token (fields: {fields})"
            )
        expires_at = document.get("expires_at")
        if isinstance(expires_at, bool) or not isinstance(expires_at, (int, float)):
            raise MalformedTokenResponseError(
                f"the token dispenser's answer has no numeric expires_at (fields: {fields})"
            )
        cookie = document.get("cookiename")
        if isinstance(cookie, str) and cookie:
            self.__cookie_name = cookie
        return token, float(expires_at)

    def __function_arn(self) -> str:
        if self.__arn is None:
            self.__arn = self.lambda_arn or self.__discover()
        return self.__arn

    def __discover(self) -> str:
        ssm = self.__client("ssm")
        key = self.token_dispenser_arn_ssm_key
        if key:
            try:
                value = ssm.get_parameter(Name=key)["Parameter"]["Value"]
            except Exception as exc:
                if _error_code(exc) == "ParameterNotFound":
                    raise DiscoveryError(
                        f"SSM parameter {key} (token_dispenser_arn_ssm_key) does not exist "
                        f"in {self.region}"
                    ) from None
                raise self.__aws_error(f"reading SSM parameter {key}", exc) from None
            return _arn(value, key)
        found: dict[str, str] = {}
        try:
            for page in ssm.get_paginator("get_parameters_by_path").paginate(
                Path=SSM_PATH, Recursive=True
            ):
                for parameter in page.get("Parameters", []):
                    found[parameter["Name"]] = parameter["Value"]
        except Exception as exc:
            raise self.__aws_error(f"listing SSM parameters under {SSM_PATH}", exc) from None
        if not found:
            raise DiscoveryError(
                f"no token dispenser is published under {SSM_PATH} in {self.region}; "
                "set token_dispenser_arn_ssm_key or lambda_arn"
            )
        if len(found) > 1:
            raise DiscoveryError(
                f"{len(found)} token dispensers are published under {SSM_PATH} in "
                f"{self.region}: {', '.join(sorted(found))}; set token_dispenser_arn_ssm_key "
                "to the one to use"
            )
        name, value = next(iter(found.items()))
        return _arn(value, name)

    def __aws_error(self, doing: str, exc: Exception) -> TokenRequestError | ConfigurationError:
        detail = aws.describe_error(exc)
        if detail is None:
            raise exc
        code = _error_code(exc) or type(exc).__name__
        if code in ("NoCredentialsError", "NoRegionError", "PartialCredentialsError"):
            return ConfigurationError(f"{doing}: {detail}")
        return TokenRequestError(f"{doing} failed: {self.__redact(detail)}")

    def __redact(self, text: str) -> str:
        secrets = [self.__last[0] if self.__last else None, self.__edl_secret]
        return redact(text, secrets)


def _session(profile_name: str | None, region: str | None) -> Any:
    try:
        return aws.session(profile_name, region)
    except ImportError:
        raise ConfigurationError(
            "TDSTokenProvider needs boto3, which is not installed: pip install 'tokenprovider[aws]'"
        ) from None
    except Exception as exc:
        detail = aws.describe_error(exc)
        if detail is None:
            raise
        raise ConfigurationError(f"AWS profile {profile_name!r}: {detail}") from None


def _error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return type(exc).__name__ if type(exc).__module__.startswith("botocore") else None


def _arn(value: object, parameter: str) -> str:
    if not isinstance(value, str) or not value.startswith("arn:"):
        raise DiscoveryError(f"SSM parameter {parameter} does not hold a Lambda ARN")
    return value.strip()


def _check_client_id(client_id: object) -> None:
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
