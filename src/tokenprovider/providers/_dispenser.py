"""The Token Dispenser Lambda as one client calls it.

`Dispenser` finds the Lambda (``lambda_arn``, the SSM parameter
``token_dispenser_arn_ssm_key``, or the only parameter under `SSM_PATH`), invokes it with
the client's request, and reads its answer bounded in size (``max_response_bytes``) and
in time: every AWS call runs on a worker thread (`tokenprovider.providers._dispenser_calls`)
that the caller waits for until the request's deadline (``invoke_timeout``). Answers are
read by `tokenprovider.providers._dispenser_answers`; text from AWS is quoted only after
every token value and secret it may hold has been redacted.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from tokenprovider import _aws as aws
from tokenprovider import _untrusted as untrusted
from tokenprovider._masking import masked_repr
from tokenprovider.errors import (
    ConfigurationError,
    DiscoveryError,
    MalformedTokenResponseError,
    TDSError,
    TokenProviderError,
    TokenRequestError,
)
from tokenprovider.providers._dispenser_answers import (
    Dispensed,
    function_error,
    read_answer,
    scrubber,
)
from tokenprovider.providers._dispenser_calls import (
    DeadlineReachedError,
    Worker,
    content_length,
    keep_deadlines,
    read_payload,
    within_deadline,
)
from tokenprovider.secret_refs import SecretReference, reveal

#: A Lambda function's ARN, optionally with a version or alias.
LAMBDA_ARN_PATTERN = re.compile(
    r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,140}(:[A-Za-z0-9_$-]{1,128})?"
)
#: Where deployments publish the dispenser's ARN.
SSM_PATH = "/service/token-dispenser"

_T = TypeVar("_T")


class _FunctionGoneError(Exception):
    """Lambda says the function does not exist (a stale ARN)."""


class Dispenser:
    """The dispenser of one client, with the client's (checked) settings.

    The ARN is kept once known, and looked up again once if Lambda says the function is
    gone. Each `fetch` asks for a token with ``minimum_alive_secs`` left (an Earthdata
    Login token for ``action="edl"``, with ``edl_user``, ``edl_pass`` and ``cmr_env``);
    ``timeout`` is its deadline, botocore's ``max_attempts`` and the reading of the answer
    included.
    """

    #: Not shown by `repr()` at all (`tokenprovider._masking`): the boto3 session and
    #: clients, the last token, the revealed EDL password and the state of the calls.
    _hidden_attributes: ClassVar[frozenset[str]] = frozenset(
        {
            "_arn",
            "_clients",
            "_edl_secret",
            "_event_minimum",
            "_last",
            "_lock",
            "_max_attempts",
            "_session",
            "_stuck",
            "_timeout",
        }
    )

    def __init__(
        self,
        session: Any,
        *,
        region: str,
        client_id: str,
        minimum_alive_secs: int,
        lambda_arn: str | None,
        token_dispenser_arn_ssm_key: str | None,
        action: str,
        edl_user: str | None,
        edl_pass: str | SecretReference | None,
        cmr_env: str | None,
        timeout: float,
        max_attempts: int,
        max_response_bytes: int,
    ) -> None:
        self._session = session
        self.region = region
        self.client_id = client_id
        self._event_minimum = minimum_alive_secs
        self.lambda_arn = lambda_arn
        self.token_dispenser_arn_ssm_key = token_dispenser_arn_ssm_key
        self.action = action
        self.edl_user = edl_user
        self._edl_pass = edl_pass
        self.cmr_env = cmr_env
        self._timeout = timeout
        self._max_attempts = max_attempts
        self.max_response_bytes = max_response_bytes
        self._clients: dict[str, Any] = {}
        self._arn: str | None = None
        self._last: Dispensed | None = None
        self._lock = threading.Lock()
        self._edl_secret: str | None = None
        self._stuck: threading.Thread | None = None  # an AWS call left behind at its deadline

    def __repr__(self) -> str:
        return masked_repr(self)

    @property
    def arn(self) -> str | None:
        """The dispenser's ARN once known (given, or looked up)."""
        return self._arn

    def adopt_arn(self, arn: str) -> None:
        """Use ``arn``, found by another client, as if this one had looked it up."""
        if self._arn is None:
            self._arn = arn

    @property
    def last(self) -> Dispensed | None:
        """What the last successful `fetch` got."""
        return self._last

    def function_arn(self, deadline: float | None = None) -> str:
        """The dispenser's ARN, looked up now if need be (by ``deadline``, monotonic)."""
        if self._arn is None:
            if self.lambda_arn:
                self._arn = self.lambda_arn
            else:
                ssm = self.__client("ssm")
                self._arn = self.__bounded(
                    "looking up the token dispenser's ARN in SSM",
                    lambda: self.__discover(ssm),
                    time.monotonic() + self._timeout if deadline is None else deadline,
                )
        return self._arn

    def fetch(self) -> Dispensed:
        """A new token from the dispenser."""
        deadline = time.monotonic() + self._timeout
        event = self.__event()
        arn, payload, failed = self.__invoke(event, deadline)
        if failed:
            raise function_error(arn, self.client_id, payload, self.__known())
        self._last = read_answer(arn, self.client_id, payload, self.__known())
        return self._last

    def __event(self) -> dict[str, Any]:
        event: dict[str, Any] = {
            "client_id": self.client_id,
            "minimum_alive_secs": self._event_minimum,
        }
        if self.action == "edl":
            assert self._edl_pass is not None
            self._edl_secret = reveal(self._edl_pass)
            event.update(
                action="edl",
                edl_user=self.edl_user,
                edl_pass=self._edl_secret,
                cmr_env=self.cmr_env,
            )
        return event

    def __client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                client = aws.client(
                    service,
                    boto3_session=self._session,
                    region=self.region,
                    connect_timeout=min(aws.CONNECT_TIMEOUT, self._timeout),
                    read_timeout=self._timeout,
                    max_attempts=self._max_attempts,
                )
                client.meta.events.register("before-send", within_deadline)
                keep_deadlines(client)
                self._clients[service] = client
            return self._clients[service]

    def __bounded(self, doing: str, call: Callable[[], _T], deadline: float) -> _T:
        """``call()`` on a worker thread, waited for until ``deadline`` (monotonic)."""
        stuck = self._stuck
        if stuck is not None and stuck.is_alive():
            raise TokenRequestError(
                f"{doing}: not started, because an earlier AWS call of this provider passed "
                f"its deadline (invoke_timeout={self._timeout:g}s) and has not ended yet"
            )
        worker = Worker(call, deadline)
        finished, result, error = worker.run()
        if not finished:
            self._stuck = worker.thread
            raise self.__too_slow(doing, "it is left to end and its answer is discarded")
        if error is not None:
            if isinstance(error, (TokenProviderError, _FunctionGoneError)):
                raise error.with_traceback(None)  # the worker's frames held the payload
            raise error
        return result  # type: ignore[return-value]  # finished without an error

    def __invoke(self, event: dict[str, Any], deadline: float) -> tuple[str, bytes, bool]:
        """The ARN invoked, its payload and whether Lambda flagged a FunctionError."""
        body = json.dumps(event).encode()
        arn = self.function_arn(deadline)
        try:
            return (arn, *self.__call(arn, body, deadline))
        except _FunctionGoneError:
            pass
        if self.lambda_arn is not None:
            raise TDSError(
                f"the token dispenser {arn} does not exist (in {self.region}); check lambda_arn",
                error_type="ResourceNotFoundException",
            )
        self._arn = None  # the published ARN moved: look it up again, once
        arn = self.function_arn(deadline)
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
            f"{doing} did not finish within invoke_timeout ({self._timeout:g}s, retries "
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
        return TokenRequestError(f"{doing} failed: {scrubber(self.__known(), frozenset())(detail)}")

    def __known(self) -> list[str | None]:
        """The secrets to redact from any text quoted: the last token and the EDL password."""
        last = self._last
        return [last.token if last else None, self._edl_secret]


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
