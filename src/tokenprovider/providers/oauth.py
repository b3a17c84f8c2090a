"""`OAuthTokenProvider`: the OAuth 2.0 client-credentials grant (RFC 6749 §4.4)."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

from tokenprovider.cached import CachedTokenProvider, is_header_safe
from tokenprovider.clock import Clock
from tokenprovider.errors import (
    ConfigurationError,
    DiscoveryError,
    MalformedTokenResponseError,
    OAuthError,
    TokenEndpointError,
    TokenRequestError,
)
from tokenprovider.host import Host
from tokenprovider.masking import redact
from tokenprovider.retry import RetryPolicy
from tokenprovider.secret_refs import SecretReference, reveal

if TYPE_CHECKING:
    import requests

    from tokenprovider.caches.base import TokenCache

logger = logging.getLogger("tokenprovider")

#: Lifetime assumed when a token response has no ``expires_in`` (RFC 6749 leaves it optional).
DEFAULT_EXPIRES_IN = 3600.0
#: Where the token endpoint is looked up when ``token_url`` is not given, in order.
WELL_KNOWN_PATHS = (
    "/.well-known/oauth-authorization-server",
    "/.well-known/openid-configuration",
)
_RESERVED_PARAMS = frozenset({"grant_type", "client_id", "client_secret", "scope", "audience"})
_ERROR_HINTS = {
    "invalid_client": "check client_id and client_secret, and client_auth ('basic' or 'post')",
    "invalid_scope": "check the scopes setting against what the server allows this client",
    "unauthorized_client": "this client may not use the client_credentials grant; "
    "ask the server's administrator",
    "unsupported_grant_type": "the server does not support the client_credentials grant",
    "invalid_request": "check token_url, audience and extra_params",
    "invalid_grant": "the server rejected the grant; check the client's settings",
}


class OAuthTokenProvider(CachedTokenProvider):
    """Gets tokens from an OAuth 2.0 token endpoint with the client-credentials grant.

    The client authenticates with HTTP Basic (``client_auth="basic"``, id and secret
    form-urlencoded first, RFC 6749 §2.3.1) or in the request body (``"post"``); a client
    without a secret sends only its id in the body. ``scopes`` are sent only when there
    are any. Without ``token_url`` the endpoint is discovered from the host's
    ``/.well-known/oauth-authorization-server``, then ``/.well-known/openid-configuration``.
    Transient failures are retried by ``retry`` (a `RetryPolicy`). A response without
    ``expires_in`` is taken to live ``default_expires_in`` seconds.
    """

    def __init__(
        self,
        host: Host | str,
        client_id: str,
        client_secret: str | SecretReference | None = None,
        *,
        token_url: str | None = None,
        grant_type: str = "client_credentials",
        scopes: Sequence[str] | str | None = None,
        audience: str | None = None,
        client_auth: Literal["basic", "post"] = "basic",
        extra_params: Mapping[str, str] | None = None,
        default_expires_in: float = DEFAULT_EXPIRES_IN,
        retry: RetryPolicy | None = None,
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
        if not isinstance(client_id, str) or not client_id:
            raise ConfigurationError("client_id must be a non-empty string")
        if client_secret is not None and not isinstance(client_secret, (str, SecretReference)):
            raise ConfigurationError("client_secret must be a string or a SecretReference")
        if grant_type != "client_credentials":
            raise ConfigurationError(
                f"grant_type {grant_type!r} is not supported; use 'client_credentials'"
            )
        if client_auth not in ("basic", "post"):
            raise ConfigurationError(f"client_auth must be 'basic' or 'post', got {client_auth!r}")
        if token_url is not None:
            _check_endpoint("token_url", token_url, self.host, allow_query=False)
        reserved = sorted(_RESERVED_PARAMS.intersection(extra_params or {}))
        if reserved:
            raise ConfigurationError(
                f"extra_params may not set {', '.join(reserved)}; use the setting of that name"
            )
        if (
            isinstance(default_expires_in, bool)
            or not isinstance(default_expires_in, (int, float))
            or default_expires_in <= 0
        ):
            raise ConfigurationError(
                "default_expires_in must be a positive number of seconds, "
                f"got {default_expires_in!r}"
            )
        self.client_id = client_id
        self._client_secret = client_secret
        self.token_url = token_url
        self.grant_type = grant_type
        self.scopes = _scope_list(scopes)
        self.audience = audience
        self.client_auth = client_auth
        self._extra_params = dict(extra_params) if extra_params else None
        self.default_expires_in = float(default_expires_in)
        self.retry = retry or RetryPolicy()
        self.__discovered_url: str | None = None
        self.__secret: str | None = None

    def _cache_identity(self) -> dict[str, object]:
        """Host, token URL, client id, grant, scopes, audience and extra parameters."""
        return {
            "kind": "oauth",
            "host": self.host.url,
            "token_url": self.token_url,
            "client_id": self.client_id,
            "grant_type": self.grant_type,
            "scopes": sorted(self.scopes),
            "audience": self.audience,
            "extra_params": sorted((self._extra_params or {}).items()),
        }

    def _cache_secret(self) -> str | None:
        """The client secret (revealed here if it is a reference)."""
        return None if self._client_secret is None else reveal(self._client_secret)

    def _request_token(self) -> tuple[str, float]:
        import requests  # noqa: PLC0415 - loaded on first fetch to keep imports light
        from requests.adapters import HTTPAdapter  # noqa: PLC0415

        # A secret reference is resolved on the first fetch (then cached for the process).
        secret = self._client_secret
        self.__secret = None if secret is None else reveal(secret)
        policy = self.retry
        deadline_at = policy.start()
        issued_at = self._wall_time()
        with requests.Session() as session:
            adapter = HTTPAdapter(max_retries=policy.urllib3_retry(deadline_at))
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            url = self.token_url or self.__discover(session, deadline_at)
            try:
                response = session.post(
                    url,
                    data=self.__form(),
                    headers={"Accept": "application/json"},
                    auth=_FixedAuthorization(self.__basic_credentials()),
                    timeout=policy.call_timeout(deadline_at),
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                detail = self.__redact(str(exc))
                error = TokenRequestError(
                    f"could not reach the token endpoint {url} (retried up to "
                    f"{policy.max_attempts} attempts within {policy.deadline:g}s): "
                    f"{type(exc).__name__}: {detail}"
                )
                if detail != str(exc):  # the cause holds the secret: do not chain it
                    raise error from None
                raise error from exc
            with response:
                return self.__parse(response, url, issued_at)

    def __form(self) -> dict[str, str]:
        form = {"grant_type": self.grant_type}
        if self.scopes:
            form["scope"] = " ".join(self.scopes)
        if self.audience:
            form["audience"] = self.audience
        if self._extra_params:
            form.update(self._extra_params)
        if self.client_auth == "post" or self.__secret is None:
            form["client_id"] = self.client_id
            if self.__secret is not None:
                form["client_secret"] = self.__secret
        return form

    def __basic_credentials(self) -> str | None:
        if self.client_auth != "basic" or self.__secret is None:
            return None
        return "Basic " + _basic_value(self.client_id, self.__secret)

    def __redact(self, text: str) -> str:
        """``text`` without the client secret, literal or in any form it is sent in."""
        secret = self.__secret
        if not secret:
            return text
        forms = {
            secret,
            quote_plus(secret),  # in a form body
            quote(secret),
            quote(secret, safe=""),
            _basic_value(self.client_id, secret),  # in the Authorization header
        }
        # Longest first, so that no shorter form breaks up a longer one before it is found.
        longest_first: list[str] = sorted(forms, key=len, reverse=True)
        return redact(text, longest_first)

    def __discover(self, session: requests.Session, deadline_at: float) -> str:
        import requests  # noqa: PLC0415 - already loaded by _request_token

        if self.__discovered_url is not None:
            return self.__discovered_url
        tried = []
        for path in WELL_KNOWN_PATHS:
            url = self.host.url + path
            try:
                response = session.get(
                    url,
                    headers={"Accept": "application/json"},
                    timeout=self.retry.call_timeout(deadline_at),
                )
            except requests.RequestException as exc:
                tried.append(f"{url} ({type(exc).__name__})")
                continue
            with response:
                if response.status_code != 200:
                    tried.append(f"{url} (HTTP {response.status_code})")
                    continue
                endpoint = (_json_object(response) or {}).get("token_endpoint")
            if not isinstance(endpoint, str):
                tried.append(f"{url} (no token_endpoint)")
                continue
            # A query is allowed here (RFC 6749 §3.2): published metadata holds no secret.
            _check_endpoint(f"token_endpoint from {url}", endpoint, self.host, allow_query=True)
            logger.debug("discovered token endpoint %s from %s", endpoint, url)
            self.__discovered_url = endpoint
            return endpoint
        raise DiscoveryError(
            f"could not discover the token endpoint of {self.host}: tried {'; '.join(tried)}. "
            "Set token_url to the server's token endpoint"
        )

    def __parse(self, response: requests.Response, url: str, issued_at: float) -> tuple[str, float]:
        status = response.status_code
        if 300 <= status < 400:
            raise TokenEndpointError(
                f"token endpoint {url} redirected (HTTP {status}) to "
                f"{self.__redact(response.headers.get('Location', 'nowhere'))}; "
                "set token_url to the final URL",
                status=status,
            )
        if status >= 400:
            raise self.__error_for(response, url)
        body = _json_object(response)
        if body is None:
            raise MalformedTokenResponseError(
                f"token endpoint {url} answered HTTP {status} with a body that is not a JSON "
                f"object (Content-Type {response.headers.get('Content-Type', 'missing')}); "
                "check token_url"
            )
        access_token = body.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise MalformedTokenResponseError(
                f"token endpoint {url} answered HTTP {status} without an access_token "
                f"(fields: {', '.join(sorted(body)) or 'none'}); check token_url"
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
                "token endpoint %s issued a %r token; sending it as a Bearer token", url, token_type
            )
        return access_token, issued_at + self.__expires_in(body.get("expires_in"), url)

    def __expires_in(self, value: Any, url: str) -> float:
        if value is None:
            return self.default_expires_in
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = -1.0
        if isinstance(value, bool) or not 0 <= seconds < float("inf"):
            raise MalformedTokenResponseError(
                f"token endpoint {url} sent expires_in={value!r}; expected a number of seconds"
            )
        return seconds

    def __error_for(self, response: requests.Response, url: str) -> TokenEndpointError:
        status = response.status_code
        body = _json_object(response) or {}
        error = body.get("error")
        where = f"token endpoint {url} refused client {self.client_id!r}"
        if not isinstance(error, str):
            retried = " after retries" if status in (408, 429) or status >= 500 else ""
            reason = self.__redact(response.reason or "")
            return TokenEndpointError(
                f"{where} with HTTP {status} {reason}{retried}".rstrip(),
                status=status,
            )
        error = self.__redact(error)
        description = body.get("error_description")
        description = self.__redact(description) if isinstance(description, str) else None
        uri = body.get("error_uri")
        uri = self.__redact(uri) if isinstance(uri, str) else None
        message = f"{where}: {error}"
        if description:
            message += f" ({description})"
        message += f" [HTTP {status}]"
        if hint := _ERROR_HINTS.get(error):
            message += f"; {hint}"
        return OAuthError(
            message, error=error, error_description=description, error_uri=uri, status=status
        )


class _FixedAuthorization:
    """A `requests` auth that sets a fixed ``Authorization`` value, or none.

    Passing it also stops `requests` from adding credentials from ``~/.netrc``.
    """

    def __init__(self, value: str | None) -> None:
        self.__value = value

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if self.__value is not None:
            r.headers["Authorization"] = self.__value
        return r


def _basic_value(client_id: str, secret: str) -> str:
    """The HTTP Basic credentials of a client: id and secret form-urlencoded first."""
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}"
    return base64.b64encode(pair.encode()).decode("ascii")


def _json_object(response: requests.Response) -> dict[str, Any] | None:
    """The response body as a JSON object, or None if it is not one."""
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _scope_list(scopes: Sequence[str] | str | None) -> tuple[str, ...]:
    if scopes is None:
        return ()
    if isinstance(scopes, str):
        return tuple(scopes.split())
    if not all(isinstance(scope, str) and scope and " " not in scope for scope in scopes):
        raise ConfigurationError(f"scopes must be a list of strings without spaces, got {scopes!r}")
    return tuple(scopes)


def _check_endpoint(name: str, url: str, host: Host, *, allow_query: bool) -> None:
    """Refuse a malformed endpoint URL, or cleartext HTTP when the API host uses HTTPS.

    User info and a fragment are refused, and a query when ``allow_query`` is false (the
    RFC allows one, but a configured ``token_url`` would show it in `repr()` and errors).
    A URL is quoted only once it is known to hold neither user info nor a refused query.
    """
    if not isinstance(url, str):
        raise ConfigurationError(f"{name} must be an http(s) URL, got {url!r}")
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed "[" of an IPv6 address
        raise ConfigurationError(
            f"{name} is not a valid URL; expected one like 'https://login.example.com/token'"
        ) from None
    if "@" in parts.netloc or (not parts.netloc and "@" in url):
        raise ConfigurationError(
            f"{name} must not contain a user name or password; "
            "pass credentials as client_id/client_secret"
        )
    if "#" in url or (not allow_query and "?" in url):  # also a bare "?" or "#"
        raise ConfigurationError(
            f"{name} must not contain a query string or fragment, got "
            f"{urlunsplit((parts.scheme, parts.netloc, parts.path, '', ''))!r}; "
            "the token request sends its parameters in the body (use extra_params for more)"
        )
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"{name} must be an http(s) URL, got {url!r}")
    if parts.scheme == "http" and host.scheme == "https":
        raise ConfigurationError(
            f"{name} {url!r} uses plain http while {host} uses https; "
            "client credentials must not be sent in clear"
        )
