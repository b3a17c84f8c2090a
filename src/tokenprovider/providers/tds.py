"""`TDSTokenProvider`: Launchpad tokens from the AWS Token Dispenser Service (TDS).

The dispenser is a Lambda whose ARN is published in SSM Parameter Store under
``/service/token-dispenser/<deployment>``. boto3 is imported when the provider is built
(without it: `MissingExtraError`); the region follows `tokenprovider._aws.resolve_region`.

Its answers are untrusted: read bounded in size (``max_response_bytes``) and in time (every
AWS call runs on a worker thread that the caller waits for until the request's deadline,
``invoke_timeout``), parsed with `tokenprovider._untrusted`, and quoted in messages only
after every token value they hold has been redacted.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from tokenprovider import _aws as aws
from tokenprovider import _untrusted as untrusted
from tokenprovider._masking import warn_about_literal_secret
from tokenprovider.core.cached import CachedTokenProvider
from tokenprovider.core.clock import Clock
from tokenprovider.errors import (
    ConfigurationError,
    DiscoveryError,
    MalformedTokenResponseError,
    TDSError,
    TokenProviderError,
    TokenRequestError,
)
from tokenprovider.providers.dispenser_answers import (
    MAX_UNWRAP,
    TOKEN_FIELDS,
    Scrub,
    cookie_name_flaw,
    json_type,
    load_answer,
    scrubbed,
    token_values,
)
from tokenprovider.providers.dispenser_calls import (
    DeadlineReachedError,
    Worker,
    content_length,
    keep_deadlines,
    read_payload,
    within_deadline,
)
from tokenprovider.retry import RETRY_STATUSES
from tokenprovider.secret_refs import SecretReference, reveal

if TYPE_CHECKING:
    import requests

    from tokenprovider.caches.base import TokenCache
    from tokenprovider.core.host import Host

#: The dispenser's rule for client ids.
CLIENT_ID_PATTERN = re.compile(r"[a-zA-Z0-9]{3,32}")
#: A Lambda function's ARN, optionally with a version or alias.
LAMBDA_ARN_PATTERN = re.compile(
    r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,140}(:[A-Za-z0-9_$-]{1,128})?"
)
#: The largest ``minimum_alive_secs`` the dispenser accepts (token lifetime 3600 - 300).
MAX_MINIMUM_ALIVE_SECS = 3300
#: Where deployments publish the dispenser's ARN.
SSM_PATH = "/service/token-dispenser"
#: Seconds kept between this provider's refresh point and the dispenser's margin, so a
#: refresh always gets a new token even if the two clocks disagree by this much.
MARGIN_GUARD = 30.0
DEFAULT_COOKIE = "SMSESSION"
#: The cache entry attribute that carries the name of the token's cookie.
COOKIE_ATTRIBUTE = "cookie_name"

_T = TypeVar("_T")


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

    ``invoke_timeout`` is the deadline of one token request, botocore's retries and the
    reading of the answer included; the answer may hold at most ``max_response_bytes``.
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
        max_response_bytes: int = untrusted.MAX_RESPONSE_BYTES,
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
        self.__event_minimum = min(
            MAX_MINIMUM_ALIVE_SECS, max(minimum_alive_secs, math.ceil(local_margin + MARGIN_GUARD))
        )
        self.__session: Any = (
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
        self.__timeout = float(invoke_timeout)
        self.__max_attempts = max_attempts
        self.__clients: dict[str, Any] = {}
        self.__arn: str | None = None
        self.__last: tuple[str, dict[str, Any]] | None = None
        self.__cookie_name = DEFAULT_COOKIE
        self.__lock = threading.Lock()
        self.__edl_secret: str | None = None
        self.__stuck: threading.Thread | None = None  # an AWS call left behind at its deadline

    # -- attaching -------------------------------------------------------------------

    def _format_authorization(self, token: str) -> str:
        return "Bearer " + token if self.auth_style == "bearer" else token

    def requests_auth_handler(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        """Attach the token (as a header, or as the dispenser's cookie) to ``r``."""
        if self.auth_style != "cookie":
            return super().requests_auth_handler(r)
        if r.url is None or not self.host.matches(r.url):
            return r
        token, _, name = self.__cookie()
        existing = r.headers.get("Cookie")
        if existing and any(part.strip().startswith(name + "=") for part in existing.split(";")):
            return r  # the caller's own cookie wins
        r.headers["Cookie"] = f"{existing}; {name}={token}" if existing else f"{name}={token}"
        return r

    def auth_header(self) -> tuple[str, str]:
        """``("Cookie", "SMSESSION=...")`` (the dispenser's cookie name) with
        ``auth_style="cookie"``, else the ``Authorization`` header."""
        if self.auth_style != "cookie":
            return super().auth_header()
        token, _, name = self.__cookie()
        return ("Cookie", f"{name}={token}")

    def __cookie(self) -> tuple[str, float | None, str]:
        """The token, its expiry and the name of the cookie it came with (for a token
        from an entry written before entries carried it: the last name the dispenser
        gave this provider)."""
        token, expires_at, attributes = self._token_details()
        return token, expires_at, attributes.get(COOKIE_ATTRIBUTE) or self.__cookie_name

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
        token, expires_at, name = self.__cookie()
        last = self.__last
        if last is not None and last[0] == token:
            return dict(last[1])
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
            "dispenser": self.__function_arn(),
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
        return {COOKIE_ATTRIBUTE: self.__cookie_name}

    def _attributes_flaw(self, attributes: Mapping[str, str]) -> str | None:
        """A cached cookie name is checked as the dispenser's is."""
        name = attributes.get(COOKIE_ATTRIBUTE)
        if name is None:
            return None
        flaw = cookie_name_flaw(name) if name else "it is empty"
        return None if flaw is None else f"{COOKIE_ATTRIBUTE} is not a valid cookie name: {flaw}"

    def _token_source(self) -> str:
        """The dispenser, by ARN, for messages."""
        return f"the token dispenser {self.__arn or self.lambda_arn or '(ARN not yet known)'}"

    # -- fetching --------------------------------------------------------------------

    def _request_token(self) -> tuple[str, float]:
        deadline = time.monotonic() + self.__timeout
        event = self.__event()
        arn, payload, failed = self.__invoke(event, deadline)
        if failed:
            raise self.__function_error(arn, payload)
        document, scrub = self.__document(arn, payload)
        token, expires_at = self.__read(arn, document, scrub)
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
                client = aws.client(
                    service,
                    boto3_session=self.__session,
                    region=self.region,
                    connect_timeout=min(aws.CONNECT_TIMEOUT, self.__timeout),
                    read_timeout=self.__timeout,
                    max_attempts=self.__max_attempts,
                )
                client.meta.events.register("before-send", within_deadline)
                keep_deadlines(client)
                self.__clients[service] = client
            return self.__clients[service]

    def __bounded(self, doing: str, call: Callable[[], _T], deadline: float) -> _T:
        """``call()`` on a worker thread, waited for until ``deadline`` (monotonic)."""
        stuck = self.__stuck
        if stuck is not None and stuck.is_alive():
            raise TokenRequestError(
                f"{doing}: not started, because an earlier AWS call of this provider passed "
                f"its deadline (invoke_timeout={self.__timeout:g}s) and has not ended yet"
            )
        worker = Worker(call, deadline)
        finished, result, error = worker.run()
        if not finished:
            self.__stuck = worker.thread
            raise self.__too_slow(doing, "it is left to end and its answer is discarded")
        if error is not None:
            if isinstance(error, (TokenProviderError, _FunctionGoneError)):
                raise error.with_traceback(None)  # the worker's frames held the payload
            raise error
        return result  # type: ignore[return-value]  # finished without an error

    def __invoke(self, event: dict[str, Any], deadline: float) -> tuple[str, bytes, bool]:
        """The ARN invoked, its payload and whether Lambda flagged a FunctionError."""
        body = json.dumps(event).encode()
        arn = self.__function_arn(deadline)
        try:
            return (arn, *self.__call(arn, body, deadline))
        except _FunctionGoneError:
            pass
        if self.lambda_arn is not None:
            raise TDSError(
                f"the token dispenser {arn} does not exist (in {self.region}); check lambda_arn",
                error_type="ResourceNotFoundException",
            )
        self.__arn = None  # the published ARN moved: look it up again, once
        arn = self.__function_arn(deadline)
        try:
            return (arn, *self.__call(arn, body, deadline))
        except _FunctionGoneError:
            pass
        raise TDSError(
            f"the token dispenser {arn} does not exist (in {self.region}), even after "
            "looking its ARN up again; check the SSM parameter",
            error_type="ResourceNotFoundException",
        )

    def __call(self, arn: str, body: bytes, deadline: float) -> tuple[bytes, bool]:
        client = self.__client("lambda")
        return self.__bounded(
            f"invoking the token dispenser {arn}",
            lambda: self.__invoke_once(client, arn, body),
            deadline,
        )

    def __invoke_once(self, client: Any, arn: str, body: bytes) -> tuple[bytes, bool]:
        """One Invoke call and its payload (on a worker thread: reads no state it sets)."""
        doing = f"invoking the token dispenser {arn}"
        try:
            response = client.invoke(
                FunctionName=arn, InvocationType="RequestResponse", Payload=body
            )
        except Exception as exc:
            gone = aws.error_code(exc) == "ResourceNotFoundException"
            error = None if gone else self.__aws_error(doing, exc)
        else:
            return self.__payload(arn, response), bool(response.get("FunctionError"))
        # Raised here, not in the except clause, so that botocore's exception (whose
        # text may carry the payload) is not kept as __context__.
        if error is None:
            raise _FunctionGoneError
        raise error

    def __payload(self, arn: str, response: dict[str, Any]) -> bytes:
        """The payload, read in pieces until the cap or the deadline."""
        stream = response["Payload"]
        cap = self.max_response_bytes
        headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        declared = content_length(headers)
        payload, problem = (
            (b"", "too large") if (declared or 0) > cap else read_payload(stream, cap)
        )
        if problem is None and declared is not None and len(payload) < declared:
            problem = f"cut short after {len(payload)} of {declared} bytes"
        if problem is None:
            return payload
        with contextlib.suppress(Exception):
            stream.close()  # never hand a half-read connection back to the pool
        if problem == "too large":
            raise MalformedTokenResponseError(
                f"the token dispenser {arn} answered with more than max_response_bytes "
                f"({cap} bytes)"
            )
        if problem == "deadline":
            raise self.__too_slow(
                f"invoking the token dispenser {arn}", "its answer came too slowly"
            )
        raise TokenRequestError(
            f"invoking the token dispenser {arn} failed: its answer was {problem}"
        )

    def __function_error(self, arn: str, payload: bytes) -> TDSError:
        try:
            detail = untrusted.load_json(payload)
        except ValueError:
            detail = None
        scrub = self.__scrubber(token_values(detail))
        kind = detail.get("errorType") if isinstance(detail, dict) else None
        message = detail.get("errorMessage") if isinstance(detail, dict) else None
        error_type = scrub(kind, 100) if isinstance(kind, str) and kind else "error"
        shown = "no message" if message is None or message == "" else scrub(message)
        return TDSError(
            f"the token dispenser {arn} failed for client_id {self.client_id!r}: "
            f"{error_type}: {shown}",
            error_type=error_type,
        )

    def __document(self, arn: str, payload: bytes) -> tuple[dict[str, Any], Scrub]:
        """The token document in ``payload``, unwrapped, and how to quote its text."""
        value = load_answer(arn, payload)
        scrub = self.__scrubber(token_values(value))
        for _ in range(MAX_UNWRAP):
            if isinstance(value, str):  # older dispensers: a JSON string holding JSON
                value = load_answer(arn, value)
            elif not isinstance(value, dict):
                raise MalformedTokenResponseError(
                    f"the token dispenser {arn} answered with a JSON {json_type(value)}, "
                    "not an object"
                )
            elif "statusCode" in value and not any(field in value for field in TOKEN_FIELDS):
                value = self.__envelope(arn, value, scrub)
            else:
                return value, scrub
        raise MalformedTokenResponseError(
            f"the token dispenser {arn} answered with a token wrapped more than {MAX_UNWRAP} times"
        )

    def __envelope(self, arn: str, envelope: dict[str, Any], scrub: Scrub) -> Any:
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
                f"the token dispenser {arn} {verb} client_id {self.client_id!r} with status "
                f"{status}: {scrub(body)}{later}",
                status_code=status,
            )
        if not isinstance(body, (str, dict)):
            raise MalformedTokenResponseError(
                f"the token dispenser {arn} answered with status {status} and a body that is "
                f"a JSON {json_type(body)}, not a token"
            )
        return body

    def __read(self, arn: str, document: dict[str, Any], scrub: Scrub) -> tuple[str, float]:
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
        if isinstance(cookie, str) and cookie:
            flaw = cookie_name_flaw(cookie)
            if flaw is not None:
                raise TDSError(
                    f"the token dispenser {arn} named a cookie that is not a valid cookie name "
                    f"(an RFC 6265 token: visible ASCII without separators): {flaw}; "
                    "the token is refused",
                    error_type="InvalidCookieName",
                )
            self.__cookie_name = cookie
        return token, expires_at

    def __function_arn(self, deadline: float | None = None) -> str:
        if self.__arn is None:
            if self.lambda_arn:
                self.__arn = self.lambda_arn
            else:
                ssm = self.__client("ssm")
                self.__arn = self.__bounded(
                    "looking up the token dispenser's ARN in SSM",
                    lambda: self.__discover(ssm),
                    time.monotonic() + self.__timeout if deadline is None else deadline,
                )
        return self.__arn

    def __discover(self, ssm: Any) -> str:
        """The dispenser's ARN from SSM (on a worker thread: reads no state it sets)."""
        key = self.token_dispenser_arn_ssm_key
        if key:
            return _arn(self.__parameter(ssm, key), key)
        found = self.__listing(ssm)
        if not found:
            raise DiscoveryError(
                f"no token dispenser is published under {SSM_PATH} in {self.region}; "
                "set token_dispenser_arn_ssm_key or lambda_arn"
            )
        if len(found) > 1:
            names = ", ".join(untrusted.quote(name, 200) for name in sorted(found))
            raise DiscoveryError(
                f"{len(found)} token dispensers are published under {SSM_PATH} in "
                f"{self.region}: {names}; set token_dispenser_arn_ssm_key to the one to use"
            )
        name, value = next(iter(found.items()))
        return _arn(value, name)

    def __parameter(self, ssm: Any, key: str) -> object:
        try:
            value: object = ssm.get_parameter(Name=key)["Parameter"]["Value"]
        except Exception as exc:
            error: TokenProviderError = (
                DiscoveryError(
                    f"SSM parameter {key} (token_dispenser_arn_ssm_key) does not exist "
                    f"in {self.region}"
                )
                if aws.error_code(exc) == "ParameterNotFound"
                else self.__aws_error(f"reading SSM parameter {key}", exc)
            )
        else:
            return value
        raise error

    def __listing(self, ssm: Any) -> dict[str, str]:
        found: dict[str, str] = {}
        try:
            for page in ssm.get_paginator("get_parameters_by_path").paginate(
                Path=SSM_PATH, Recursive=True
            ):
                for parameter in page.get("Parameters", []):
                    found[parameter["Name"]] = parameter["Value"]
        except Exception as exc:
            error = self.__aws_error(f"listing SSM parameters under {SSM_PATH}", exc)
        else:
            return found
        raise error

    def __too_slow(self, doing: str, why: str) -> TokenRequestError:
        return TokenRequestError(
            f"{doing} did not finish within invoke_timeout ({self.__timeout:g}s, retries "
            f"included): {why}"
        )

    def __aws_error(self, doing: str, exc: Exception) -> TokenRequestError | ConfigurationError:
        """Our error for botocore's ``exc`` (which is re-raised if it is not botocore's).

        Call it in the except clause and raise what it returns after the clause, so that
        ``exc`` does not stay reachable as ``__context__``.
        """
        if isinstance(exc, DeadlineReachedError):
            return self.__too_slow(doing, "no time was left for another attempt")
        detail = aws.describe_error(exc, quoted=False)
        if detail is None:
            raise exc
        code = aws.error_code(exc) or type(exc).__name__
        if code in ("NoCredentialsError", "NoRegionError", "PartialCredentialsError"):
            return ConfigurationError(f"{doing}: {detail}")
        if code == "ResponseStreamingError":  # its text quotes what was read of the payload
            detail = "the connection broke while the answer was read (ResponseStreamingError)"
        return TokenRequestError(f"{doing} failed: {self.__scrubber(frozenset())(detail)}")

    def __scrubber(self, found: frozenset[str] | None) -> Scrub:
        """Quotes server text with this provider's secrets and ``found`` redacted
        (``found`` None: too many to redact, so no text is shown)."""
        last = self.__last
        secrets = None if found is None else [last[0] if last else None, self.__edl_secret, *found]
        return lambda text, limit=untrusted.QUOTE_LIMIT: scrubbed(text, secrets, limit)


def _arn(value: object, parameter: str) -> str:
    """The Lambda ARN an SSM parameter holds; anything else is refused unquoted (it goes
    into every later message, so it must be an ARN and nothing more)."""
    arn = value.strip() if isinstance(value, str) else ""
    if not LAMBDA_ARN_PATTERN.fullmatch(arn):
        raise DiscoveryError(
            f"SSM parameter {untrusted.quote(parameter, 200)} does not hold a Lambda ARN "
            "(arn:aws:lambda:REGION:ACCOUNT:function:NAME)"
        )
    return arn


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
