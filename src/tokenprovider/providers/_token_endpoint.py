"""The OAuth 2.0 token endpoint as a client-credentials client calls it (RFC 6749 §4.4).

`TokenEndpoint` builds the token request (with the client authenticated by HTTP Basic or
in the body), sends it with the `RetryPolicy` and its deadline, reads the answer bounded
in size, and turns it into a token and its expiry or into one of our errors, with the
client secret redacted from any server text. Without a configured URL it discovers the
endpoint from the host's metadata documents. `endpoint_problem` holds the rules a token
endpoint URL must follow, for the provider's settings and for discovered URLs alike.
"""

from __future__ import annotations

import base64
import ipaddress
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import SplitResult, quote_plus, urljoin, urlsplit

from tokenprovider import _untrusted as untrusted
from tokenprovider._masking import (
    PUBLIC_PARAMETERS,
    masked_repr,
    masked_url,
    redact,
    secret_forms,
    without_userinfo,
)
from tokenprovider.core.cached import is_header_safe
from tokenprovider.errors import (
    DiscoveryError,
    MalformedTokenResponseError,
    OAuthError,
    TokenEndpointError,
    TokenRequestError,
)
from tokenprovider.retry import RETRY_STATUSES

if TYPE_CHECKING:
    import requests

    from tokenprovider._http_reading import Deadline
    from tokenprovider.core.host import Host
    from tokenprovider.retry import RetryPolicy

logger = logging.getLogger("tokenprovider")

#: Where the token endpoint is looked up when ``token_url`` is not given, in order.
WELL_KNOWN_PATHS = (
    "/.well-known/oauth-authorization-server",
    "/.well-known/openid-configuration",
)
#: Redirects followed while fetching a discovery document; the token request follows none.
MAX_REDIRECTS = 3
#: Form fields the token request sets itself: ``extra_params`` may not set them.
RESERVED_PARAMS = frozenset({"grant_type", "client_id", "client_secret", "scope", "audience"})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_ERROR_HINTS = {
    "invalid_client": "check client_id and client_secret, and client_auth ('basic' or 'post')",
    "invalid_scope": "check the scopes setting against what the server allows this client",
    "unauthorized_client": "this client may not use the client_credentials grant; "
    "ask the server's administrator",
    "unsupported_grant_type": "the server does not support the client_credentials grant",
    "invalid_request": "check token_url, audience and extra_params",
    "invalid_grant": "the server rejected the grant; check the client's settings",
}


class TokenEndpoint:
    """The token endpoint of one client, with the client's (checked) settings.

    The endpoint is ``token_url``, or the one discovered from ``host`` on the first fetch
    (then kept). Each `fetch` is one token request, retried by ``retry`` within its
    deadline; answers may hold at most ``max_response_bytes``, and one without
    ``expires_in`` lives ``default_expires_in`` seconds.
    """

    #: Not shown by `repr()` at all (`tokenprovider._masking`): the revealed client secret,
    #: and the discovered endpoint (an internal: ``token_url`` shows what was configured).
    _hidden_attributes: ClassVar[frozenset[str]] = frozenset({"_discovered_url", "_secret"})

    def __init__(
        self,
        host: Host,
        client_id: str,
        *,
        token_url: str | None,
        grant_type: str,
        scopes: tuple[str, ...],
        audience: str | None,
        client_auth: str,
        extra_params: Mapping[str, str] | None,
        default_expires_in: float,
        retry: RetryPolicy,
        max_response_bytes: int,
    ) -> None:
        self.host = host
        self.client_id = client_id
        self.token_url = token_url
        self.grant_type = grant_type
        self.scopes = scopes
        self.audience = audience
        self.client_auth = client_auth
        self._extra_params = extra_params
        self.default_expires_in = default_expires_in
        self.retry = retry
        self.max_response_bytes = max_response_bytes
        self._discovered_url: str | None = None
        self._secret: str | None = None

    @property
    def url(self) -> str | None:
        """The token endpoint, as configured or discovered (None until discovered)."""
        return self.token_url or self._discovered_url

    def __repr__(self) -> str:
        return masked_repr(self)

    def fetch(self, secret: str | None, wall_time: Callable[[], float]) -> tuple[str, float]:
        """A new token and its expiry in epoch seconds, counted from ``wall_time()`` as the
        request is sent; ``secret`` is the client secret (None: a public client)."""
        import requests  # noqa: PLC0415 - loaded on first fetch to keep imports light

        from tokenprovider._http_reading import Deadline, DeadlineAdapter  # noqa: PLC0415
        from tokenprovider._urllib3_retry import policy_retry  # noqa: PLC0415

        self._secret = secret
        policy = self.retry
        deadline = Deadline(policy.start(), policy.deadline, policy.monotonic)
        issued_at = wall_time()
        with requests.Session() as session:
            adapter = DeadlineAdapter(deadline, max_retries=policy_retry(policy, deadline.at))
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            url = self.token_url or self.__discover(session, deadline)
            shown = untrusted.quote(url)
            answer = self.__exchange(
                session.post,
                url,
                deadline,
                data=self.__form(),
                headers={"Accept": "application/json"},
                auth=_FixedAuthorization(self.__basic_credentials()),
            )
        if isinstance(answer, _Failure):
            # Raised here, outside any handler: nothing of requests' exception (which holds
            # the request, its body and headers) is chained to ours.
            raise self.__fetch_error(answer, shown) from None
        return self.__parse(answer, shown, issued_at)

    def __form(self) -> dict[str, str]:
        form = {"grant_type": self.grant_type}
        if self.scopes:
            form["scope"] = " ".join(self.scopes)
        if self.audience:
            form["audience"] = self.audience
        if self._extra_params:
            form.update(self._extra_params)
        if self.client_auth == "post" or self._secret is None:
            form["client_id"] = self.client_id
            if self._secret is not None:
                form["client_secret"] = self._secret
        return form

    def __basic_credentials(self) -> str | None:
        if self.client_auth != "basic" or self._secret is None:
            return None
        return "Basic " + _basic_value(self.client_id, self._secret)

    def __redact(self, text: str) -> str:
        """``text`` without the client secret, literal or in any form it is sent in, and
        without the values of ``extra_params`` other than the well-known public ones (a
        ``client_assertion`` or a password is as secret as the client secret)."""
        secret = self._secret
        sent = [secret, _basic_value(self.client_id, secret)] if secret else []
        sent += [v for k, v in (self._extra_params or {}).items() if k not in PUBLIC_PARAMETERS]
        if not sent:
            return text
        # Also as sent in the Authorization header; longest first, as secret_forms sorts.
        return redact(text, secret_forms(sent))

    def __text(self, text: str) -> str:
        """Server text fit for a message or log line: the secret redacted (from the whole
        text, so that no cut splits it), then cut short and escaped."""
        return untrusted.quote(self.__redact(text))

    def __exchange(
        self,
        send: Callable[..., requests.Response],
        url: str,
        deadline: Deadline,
        **kwargs: Any,
    ) -> _Answer | _Failure:
        """One HTTP call without redirects, its body read up to the size cap.

        A failure is returned as text rather than raised, so that no exception of
        `requests` (which holds the request, with its body and headers) reaches ours.
        """
        import requests  # noqa: PLC0415 - already loaded by _request_token

        from tokenprovider._http_reading import (  # noqa: PLC0415
            ResponseTooLargeError,
            read_capped,
        )

        timeout = self.retry.call_timeout(deadline.at)
        try:
            with send(url, timeout=timeout, allow_redirects=False, stream=True, **kwargs) as r:
                body = read_capped(r, self.max_response_bytes)
                return _Answer(r.status_code, r.reason or "", r.headers, body)
        except ResponseTooLargeError:
            return _Failure("too large", f"larger than the {self.max_response_bytes}-byte cap")
        except requests.RequestException as exc:
            if deadline.passed:
                return _Failure("deadline", f"the deadline of {deadline.seconds:g}s passed")
            kind = (
                "undecodable"
                if isinstance(exc, requests.exceptions.ContentDecodingError)
                else "failed"
            )
            return _Failure(kind, f"{type(exc).__name__}: {self.__text(str(exc))}")

    def __fetch_error(self, failure: _Failure, shown: str) -> TokenRequestError:
        policy = self.retry
        if failure.kind == "too large":
            return MalformedTokenResponseError(
                f"token endpoint {shown} answered with a body {failure.detail} "
                "(max_response_bytes); check token_url"
            )
        if failure.kind == "undecodable":
            return MalformedTokenResponseError(
                f"token endpoint {shown} answered with a body that could not be decompressed "
                f"({failure.detail}); check token_url"
            )
        if failure.kind == "deadline":
            return TokenRequestError(
                f"no answer from the token endpoint {shown} in time: {failure.detail} "
                f"(retry deadline; up to {policy.max_attempts} attempts)"
            )
        hint = ""
        if "WRONG_VERSION_NUMBER" in failure.detail or "wrong version number" in failure.detail:
            hint = (
                "; the server does not speak TLS there: check the port, or for a test "
                'server on loopback set scheme = "http"'
            )
        return TokenRequestError(
            f"could not reach the token endpoint {shown} (retried up to "
            f"{policy.max_attempts} attempts within {policy.deadline:g}s): {failure.detail}" + hint
        )

    def __discover(self, session: requests.Session, deadline: Deadline) -> str:
        if self._discovered_url is not None:
            return self._discovered_url
        tried = []
        for path in WELL_KNOWN_PATHS:
            url = self.host.url + path
            found = self.__document(session, url, deadline)
            if isinstance(found, str):
                tried.append(f"{url} ({found})")
                continue
            where, document = found
            endpoint = document.get("token_endpoint")
            if not isinstance(endpoint, str):
                tried.append(f"{url} (no token_endpoint)")
                continue
            # A query is allowed here (RFC 6749 §3.2): published metadata holds no secret.
            problem = endpoint_problem(endpoint, self.host, allow_query=True)
            if problem:
                raise DiscoveryError(f"token_endpoint from {_shown(where)} {problem}")
            logger.debug("discovered token endpoint %s from %s", endpoint, _shown(where))
            self._discovered_url = endpoint
            return endpoint
        raise DiscoveryError(
            f"could not discover the token endpoint of {self.host}: tried {'; '.join(tried)}. "
            "Set token_url to the server's token endpoint"
        )

    def __document(
        self, session: requests.Session, url: str, deadline: Deadline
    ) -> tuple[str, dict[str, Any]] | str:
        """The metadata document at ``url`` with the URL it came from, following at most
        `MAX_REDIRECTS` allowed redirects; otherwise why there is none."""
        where = url
        for _ in range(MAX_REDIRECTS + 1):
            answer = self.__exchange(
                session.get,
                where,
                deadline,
                headers={"Accept": "application/json"},
                auth=_FixedAuthorization(None),  # and none from ~/.netrc
            )
            if isinstance(answer, _Failure):
                if answer.kind == "deadline":
                    raise DiscoveryError(
                        f"could not discover the token endpoint of {self.host}: {answer.detail} "
                        f"while reading {_shown(where)} (retry deadline)"
                    )
                return answer.detail
            location = answer.headers.get("Location")
            if answer.status not in _REDIRECT_STATUSES or location is None:
                if answer.status != 200:
                    return f"HTTP {answer.status}"
                document, reason = _json_object(answer.body)
                return (where, document) if document is not None else f"not a JSON object: {reason}"
            target = _resolve(where, location)
            problem = _redirect_problem(where, target, self.host)
            if problem:
                raise DiscoveryError(
                    f"discovery document {_shown(where)} redirected to {_shown(target)}, "
                    f"which is refused: {problem}"
                )
            where = target
        return f"more than {MAX_REDIRECTS} redirects"

    def __parse(self, answer: _Answer, url: str, issued_at: float) -> tuple[str, float]:
        status = answer.status
        if 300 <= status < 400:
            # Never followed: the request carries the client's credentials.
            location = answer.headers.get("Location")
            raise TokenEndpointError(
                f"token endpoint {url} redirected (HTTP {status}) to "
                f"{self.__text(without_userinfo(location)) if location else 'nowhere'}; "
                "set token_url to the final URL (token requests do not follow redirects)",
                status=status,
            )
        if status >= 400:
            raise self.__error_for(answer, url)
        body, reason = _json_object(answer.body)
        if body is None:
            content_type = self.__text(answer.headers.get("Content-Type", "missing"))
            raise MalformedTokenResponseError(
                f"token endpoint {url} answered HTTP {status} with a body that is not a JSON "
                f"object ({reason}; Content-Type {content_type}); check token_url"
            )
        access_token = body.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise MalformedTokenResponseError(
                f"token endpoint {url} answered HTTP {status} without an access_token "
                f"(fields: {self.__text(', '.join(sorted(body))) or 'none'}); check token_url"
            )
        if not is_header_safe(access_token):
            # Never let it reach a header: http.client and requests quote bad header values
            # in their errors. Not quoted here either.
            raise MalformedTokenResponseError(
                f"token endpoint {url} answered HTTP {status}, but its access_token contains "
                "characters not allowed in an HTTP header (control characters, non-ASCII "
                "characters or surrounding spaces); check the token endpoint"
            )
        token_type = body.get("token_type")
        if isinstance(token_type, str) and token_type.lower() != "bearer":
            logger.warning(
                "token endpoint %s issued a %s token; sending it as a Bearer token",
                url,
                self.__text(repr(token_type)),
            )
        return access_token, issued_at + self.__expires_in(body.get("expires_in"), url)

    def __expires_in(self, value: Any, url: str) -> float:
        if value is None:
            return self.default_expires_in
        seconds: object = value
        if isinstance(value, str):  # a numeric string, as some servers send
            try:
                seconds = float(value)
            except ValueError:
                seconds = None
        seconds = untrusted.finite_seconds(seconds)
        if seconds is None or seconds < 0:
            raise MalformedTokenResponseError(
                f"token endpoint {url} sent expires_in={self.__text(repr(value))}; "
                "expected a number of seconds"
            )
        return seconds

    def __error_for(self, answer: _Answer, url: str) -> TokenEndpointError:
        status = answer.status
        body = _json_object(answer.body)[0] or {}
        error = body.get("error")
        transient = status in RETRY_STATUSES
        if status == 429:
            where = f"token endpoint {url} throttled client {self.client_id!r}"
        elif transient:
            where = f"token endpoint {url} was unavailable to client {self.client_id!r}"
        else:
            where = f"token endpoint {url} refused client {self.client_id!r}"
        # Retried until the attempts or the deadline ran out: say so, and what may help.
        retried = transient and self.retry.max_attempts > 1
        after = " after retries" if retried else ""
        advice = "try again later, or allow more: RetryPolicy(max_attempts=..., deadline=...)"
        if not isinstance(error, str):
            message = f"{where}: HTTP {status} {self.__text(answer.reason)}".rstrip() + after
            return TokenEndpointError(f"{message}; {advice}" if retried else message, status=status)
        error = self.__text(error)
        description = body.get("error_description")
        description = self.__text(description) if isinstance(description, str) else None
        uri = body.get("error_uri")
        uri = self.__text(uri) if isinstance(uri, str) else None
        message = f"{where}: {error}"
        if description:
            message += f" ({description})"
        message += f" [HTTP {status}]{after}"
        if hint := _ERROR_HINTS.get(error) or (advice if retried else None):
            message += f"; {hint}"
        return OAuthError(
            message, error=error, error_description=description, error_uri=uri, status=status
        )


class _FixedAuthorization:
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


def _basic_value(client_id: str, secret: str) -> str:
    """The HTTP Basic credentials of a client: id and secret form-urlencoded first."""
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}"
    return base64.b64encode(pair.encode()).decode("ascii")


def _json_object(data: bytes) -> tuple[dict[str, Any] | None, str]:
    """The body as a JSON object, or None and why it is not one (never quoting it)."""
    try:
        body = untrusted.load_json(data)
    except untrusted.UntrustedJSONError as exc:
        return None, str(exc)
    return (body, "") if isinstance(body, dict) else (None, "not an object")


@dataclass(frozen=True)
class _Answer:
    """What an HTTP call got: status, reason, headers and the (capped) body."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class _Failure:
    """Why an HTTP call got no answer: ``kind`` is "deadline", "too large",
    "undecodable" or "failed"; ``detail`` is fit to show (redacted, quoted)."""

    kind: str
    detail: str


def endpoint_problem(url: object, host: Host, *, allow_query: bool) -> str | None:
    """Why ``url`` may not be a token endpoint for ``host``, or None if it may.

    User info and a fragment are refused, and a query when ``allow_query`` is false (the
    RFC allows one, but a configured ``token_url`` would show it in `repr()` and errors).
    Plain http is allowed only to a loopback address, and only when ``host`` itself is
    configured with http. The answer quotes the URL as given, with its user info, query
    and fragment masked (`masked_url`).
    """
    if not isinstance(url, str):
        return f"must be an http(s) URL, got {url!r}"
    shown = repr(untrusted.quote(masked_url(url)))
    # Any "@", not only one in the parsed netloc: urlsplit ends the netloc at the first "/",
    # "?" or "#", so a password holding one of those moves the "@" into the path, the query
    # or the fragment (https://svc:pa/ss@login.example.com/token has the netloc "svc:pa").
    if "@" in url:
        return (
            "must not contain a user name or password; pass credentials as "
            f"client_id/client_secret (got {shown})"
        )
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed "[" of an IPv6 address
        return f"is not a valid URL: {shown}; expected one like 'https://login.example.com/token'"
    if "#" in url or (not allow_query and "?" in url):  # also a bare "?" or "#"
        return (
            f"must not contain a query string or fragment, got {shown}; "
            "the token request sends its parameters in the body (use extra_params for more)"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"must be an http(s) URL, got {shown}"
    if not _has_valid_port(parts):
        return f"has an invalid port: {shown}"
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        return f"must not contain spaces or control characters, got {shown}"
    return _plain_http_problem(parts, host, shown)


def _plain_http_problem(parts: SplitResult, host: Host, shown: str) -> str | None:
    """Why the http(s) URL split into ``parts`` (``shown``: quoted for the message) may not
    be used from ``host``."""
    if parts.scheme != "http":
        return None
    if host.scheme == "https":
        return (
            f"{shown} uses plain http while {host} uses https; "
            "client credentials must not be sent in clear"
        )
    if not is_loopback(parts.hostname):
        return (
            f"{shown} uses plain http to a host that is not loopback; "
            "only 127.0.0.1, ::1 and localhost may be reached over http: use https"
        )
    return None


def _redirect_problem(source: str, target: str, host: Host) -> str | None:
    """Why a discovery request to ``source`` may not follow a redirect to ``target``:
    only same-scheme redirects and upgrades to https, and plain http as for endpoints."""
    try:
        parts = urlsplit(target)
    except ValueError:
        return "it is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname or not _has_valid_port(parts):
        return "it is not a valid http(s) URL"
    if parts.scheme == "http" and urlsplit(source).scheme == "https":
        return "a redirect from https to plain http is a downgrade"
    return _plain_http_problem(parts, host, repr(_shown(target)))


def _has_valid_port(parts: SplitResult) -> bool:
    """Whether the port of ``parts``, if any, is a number from 1 to 65535."""
    try:
        return parts.port != 0
    except ValueError:
        return False


def _resolve(base: str, location: str) -> str:
    """``location`` (a Location header) resolved against ``base``; itself if that fails."""
    try:
        return urljoin(base, location)
    except ValueError:
        return location


def is_loopback(hostname: str | None) -> bool:
    """Whether ``hostname`` is localhost, an address in 127.0.0.0/8, or ::1."""
    if not hostname:
        return False
    name = hostname.rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _shown(url: str) -> str:
    """A URL from a server, fit for a message: without user info, cut short and escaped."""
    return untrusted.quote(without_userinfo(url))
