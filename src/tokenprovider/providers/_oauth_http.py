"""The HTTP calls of one OAuth request: no redirects, bodies read bounded, failures as text.

`OAuthCalls` is opened for one fetch (a token request, a discovery, a device
authorization or a revocation): a `requests` session whose every call is retried by the
`RetryPolicy` and bounded by the fetch's deadline. A call returns an `Answer` (status,
headers, body read up to the size cap) or a `Failure` whose text is fit to show, never an
exception of `requests`, which would carry the request with its body and headers.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote_plus

from tokenprovider import _untrusted as untrusted
from tokenprovider._masking import masked_repr, without_userinfo
from tokenprovider._value import Value, init, replace

logger = logging.getLogger("tokenprovider")

if TYPE_CHECKING:
    import requests

    from tokenprovider._http_reading import Deadline
    from tokenprovider.retry import RetryPolicy


class Answer(Value):
    """What an HTTP call got: status, reason, headers and the (capped) body."""

    __match_args__ = ("status", "reason", "headers", "body")
    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes

    def __init__(self, status: int, reason: str, headers: Mapping[str, str], body: bytes) -> None:
        init(self, status=status, reason=reason, headers=headers, body=body)


class Failure(Value):
    """Why an HTTP call got no answer: ``kind`` is "deadline", "too large",
    "undecodable", "refused" (TLS verification, a URL that cannot be used: not worth
    another try) or "failed"; ``detail`` is fit to show (redacted, quoted)."""

    __match_args__ = ("kind", "detail")
    kind: str
    detail: str

    def __init__(self, kind: str, detail: str) -> None:
        init(self, kind=kind, detail=detail)


class OAuthCalls:
    """A session for the calls of one fetch, retried by ``retry`` within its deadline,
    each body capped at ``max_response_bytes``; ``text`` makes server text fit to show
    (redacted, cut short, escaped). A call that is not ``repeatable`` (it spends a
    single-use code or refresh token) is sent again only when it cannot have reached the
    server: after a failed connection or an error status, never after a failed read.
    `post_each` makes every attempt itself, each with a body built anew (a client
    assertion is sent once). Use as a context manager.
    """

    def __init__(
        self,
        retry: RetryPolicy,
        max_response_bytes: int,
        text: Callable[[str], str],
        *,
        repeatable: bool = True,
    ) -> None:
        from tokenprovider._http_reading import Deadline  # noqa: PLC0415

        self.retry = retry
        self.max_response_bytes = max_response_bytes
        self.__text = text
        self.deadline: Deadline = Deadline(retry.start(), retry.deadline, retry.monotonic)
        self.__session = self.__open(retry, repeatable=repeatable)
        self.__once: requests.Session | None = None  # one attempt a call, for post_each

    def __open(self, retry: RetryPolicy, *, repeatable: bool) -> requests.Session:
        """A session whose calls ``retry`` retries, within the fetch's deadline."""
        import requests  # noqa: PLC0415 - loaded on first fetch to keep imports light

        from tokenprovider._http_reading import DeadlineAdapter  # noqa: PLC0415
        from tokenprovider._urllib3_retry import policy_retry  # noqa: PLC0415

        session = requests.Session()
        adapter = DeadlineAdapter(
            self.deadline,
            max_retries=policy_retry(retry, self.deadline.at, repeatable=repeatable),
        )
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def __enter__(self) -> OAuthCalls:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__session.close()
        if self.__once is not None:
            self.__once.close()

    def get(self, url: str, **kwargs: Any) -> Answer | Failure:
        """One GET without redirects."""
        return self.__call(self.__session.get, url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Answer | Failure:
        """One POST without redirects."""
        return self.__call(self.__session.post, url, **kwargs)

    def post_each(
        self, url: str, body: Callable[[], Mapping[str, str]], **kwargs: Any
    ) -> Answer | Failure:
        """POST the form ``body()`` builds, built anew for each attempt (urllib3 makes
        one per call here): a failed connection or read, 408, 429 and 5xx are tried
        again as the policy says (``Retry-After`` honoured), within the deadline; for a
        request that may be repeated, since each attempt differs."""
        from tokenprovider._urllib3_retry import wait_before_retry  # noqa: PLC0415
        from tokenprovider.retry import RETRY_STATUSES  # noqa: PLC0415

        policy = self.retry
        if self.__once is None:
            self.__once = self.__open(replace(policy, max_attempts=1), repeatable=True)
        failures = 0
        while True:
            answer = self.__call(self.__once.post, url, data=body(), **kwargs)
            if isinstance(answer, Failure):
                if answer.kind != "failed":
                    return answer
                retry_after = None
            elif answer.status in RETRY_STATUSES:
                retry_after = answer.headers.get("Retry-After")
            else:
                return answer
            failures += 1
            if failures >= policy.max_attempts:
                return answer
            wait = wait_before_retry(policy, failures, retry_after)
            if policy.monotonic() + wait >= self.deadline.at:
                return answer
            why = answer.detail if isinstance(answer, Failure) else f"HTTP {answer.status}"
            logger.debug(
                "retrying %s in %.2fs after %s (attempt %d of %d)",
                untrusted.quote(url),
                wait,
                why,
                failures + 1,
                policy.max_attempts,
            )
            policy.sleep(wait)

    def __call(
        self, send: Callable[..., requests.Response], url: str, **kwargs: Any
    ) -> Answer | Failure:
        import requests  # noqa: PLC0415 - already loaded by __init__

        from tokenprovider._http_reading import (  # noqa: PLC0415
            ResponseTooLargeError,
            read_capped,
        )

        errors = requests.exceptions
        not_transient = (errors.SSLError, errors.InvalidURL, errors.InvalidSchema)
        deadline = self.deadline
        timeout = self.retry.call_timeout(deadline.at)
        try:
            with send(url, timeout=timeout, allow_redirects=False, stream=True, **kwargs) as r:
                body = read_capped(r, self.max_response_bytes)
                return Answer(r.status_code, r.reason or "", r.headers, body)
        except ResponseTooLargeError:
            return Failure("too large", f"larger than the {self.max_response_bytes}-byte cap")
        except requests.RequestException as exc:
            if deadline.passed:
                return Failure("deadline", f"the deadline of {deadline.seconds:g}s passed")
            kind = (
                "undecodable"
                if isinstance(exc, requests.exceptions.ContentDecodingError)
                else "refused"
                if isinstance(exc, not_transient)
                else "failed"
            )
            return Failure(
                kind, f"{type(exc).__name__}: {self.__text(without_userinfo(unreached(exc)))}"
            )


def unreached(error: requests.RequestException) -> str:
    """Why a call got no answer, in a few words: from the timeout, socket or TLS error in
    ``error``'s chain (through urllib3's wrappers, whose text names pool classes), or
    ``error``'s own text when the chain holds none of those. The caller still removes
    user info and secrets from it: that text may quote a proxy URL."""
    import socket  # noqa: PLC0415 - loaded with requests already
    import ssl  # noqa: PLC0415

    import requests  # noqa: PLC0415
    from urllib3.exceptions import (  # noqa: PLC0415
        ConnectTimeoutError,
        NewConnectionError,
        ReadTimeoutError,
    )

    chain = _chain(error)
    root = chain[-1]
    proxy = "the proxy failed: " if isinstance(error, requests.exceptions.ProxyError) else ""
    if isinstance(root, ssl.SSLCertVerificationError):
        why = root.verify_message or root.reason or root
        return f"{proxy}the TLS certificate was not trusted: {why}"
    if isinstance(root, ssl.SSLError):
        return f"{proxy}TLS failed: {root}"
    if proxy:
        return proxy + (_socket_words(root) or str(root))
    if isinstance(root, socket.gaierror):
        return f"the name did not resolve ({root.strerror})"
    # urllib3's NewConnectionError (a refused connection, say) is a ConnectTimeoutError.
    if any(isinstance(e, ConnectTimeoutError) for e in chain) and not any(
        isinstance(e, NewConnectionError) for e in chain
    ):
        return "connecting timed out"
    if any(isinstance(e, ReadTimeoutError) for e in chain):
        return "no answer within the read timeout"
    return _socket_words(root) or str(error)


def _chain(error: BaseException) -> list[BaseException]:
    """``error`` and the errors inside urllib3's and requests' wrappers, outermost first:
    each holds the next as ``reason`` or among its ``args``, or was raised from it."""
    chain = [error]
    while len(chain) < 16:
        inner = getattr(error, "reason", None)
        if not isinstance(inner, BaseException):
            inner = next((a for a in error.args if isinstance(a, BaseException)), None)
        if inner is None:
            inner = error.__cause__
        if inner is None or any(inner is seen for seen in chain):
            break
        chain.append(inner)
        error = inner
    return chain


def _socket_words(error: BaseException) -> str:
    """What a socket error says, as words (empty for anything else)."""
    import http.client  # noqa: PLC0415 - loaded with requests already

    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, http.client.RemoteDisconnected):  # a ConnectionResetError too
        return "the server closed the connection without an answer"
    if isinstance(error, ConnectionResetError):
        return "the server reset the connection"
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror[:1].lower() + error.strerror[1:]
    return ""


class FixedAuthorization:
    """A `requests` auth that sets a fixed ``Authorization`` value, or none.

    Passing it also stops `requests` from adding credentials from ``~/.netrc``.
    """

    #: Not shown by `repr()` at all (`tokenprovider._masking`): the client's credentials.
    _hidden_attributes: ClassVar[frozenset[str]] = frozenset({"_value"})

    def __init__(self, value: str | None) -> None:
        self._value = value

    def __repr__(self) -> str:
        return masked_repr(self)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._value is not None:
            r.headers["Authorization"] = self._value
        return r


def basic_value(client_id: str, secret: str) -> str:
    """The HTTP Basic credentials of a client: id and secret form-urlencoded first."""
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}"
    return base64.b64encode(pair.encode()).decode("ascii")


def json_object(data: bytes) -> tuple[dict[str, Any] | None, str]:
    """The body as a JSON object, or None and why it is not one (never quoting it)."""
    try:
        body = untrusted.load_json(data)
    except untrusted.UntrustedJSONError as exc:
        return None, str(exc)
    return (body, "") if isinstance(body, dict) else (None, "not an object")
