"""`OAuthTokenProvider`: the OAuth 2.0 client-credentials grant (RFC 6749 §4.4).

The provider checks its settings and keeps the token (`CachedTokenProvider`); its
`TokenEndpoint` (``providers/_token_endpoint.py``) talks to the token endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar, Literal
from urllib.parse import urlsplit

from tokenprovider import _untrusted as untrusted
from tokenprovider._masking import warn_about_literal_secret
from tokenprovider._untrusted import MAX_RESPONSE_BYTES
from tokenprovider.core.cached import CachedTokenProvider
from tokenprovider.core.host import Host
from tokenprovider.core.refresh_settings import RefreshSettings, Unpack
from tokenprovider.errors import ConfigurationError
from tokenprovider.providers._oauth_metadata import (
    MAX_REDIRECTS,
    WELL_KNOWN_PATHS,
    endpoint_problem,
    is_loopback,
)
from tokenprovider.providers._token_endpoint import RESERVED_PARAMS, TokenEndpoint
from tokenprovider.retry import RetryPolicy
from tokenprovider.secret_refs import SecretReference, reveal

__all__ = ["DEFAULT_EXPIRES_IN", "MAX_REDIRECTS", "WELL_KNOWN_PATHS", "OAuthTokenProvider"]

#: Lifetime assumed when a token response has no ``expires_in`` (RFC 6749 leaves it optional).
DEFAULT_EXPIRES_IN = 3600.0


class OAuthTokenProvider(CachedTokenProvider):
    """Gets tokens from an OAuth 2.0 token endpoint with the client-credentials grant.

    The client authenticates with HTTP Basic (``client_auth="basic"``, id and secret
    form-urlencoded first, RFC 6749 §2.3.1) or in the request body (``"post"``); a client
    without a secret sends only its id in the body. ``scopes`` are sent only when there
    are any. Without ``token_url`` the endpoint is discovered from the host's
    ``/.well-known/oauth-authorization-server``, then ``/.well-known/openid-configuration``.
    Transient failures are retried by ``retry`` (a `RetryPolicy`), whose ``deadline``
    ends the whole fetch, however slowly the server answers. A response without
    ``expires_in`` is taken to live ``default_expires_in`` seconds. Responses (token and
    discovery) may hold at most ``max_response_bytes``, after decompression. Plain http
    is used only with a loopback host configured with scheme ``"http"``.
    """

    #: Not shown by `repr()` at all (`tokenprovider._masking`): the token endpoint's client,
    #: which holds the revealed secret.
    _hidden_attributes: ClassVar[frozenset[str]] = frozenset({"_endpoint"})

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
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        **settings: Unpack[RefreshSettings],
    ) -> None:
        super().__init__(host, **settings)
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
            problem = endpoint_problem(token_url, self.host, allow_query=False)
            if problem:
                raise ConfigurationError(f"token_url {problem}")
        elif self.host.scheme == "http" and not is_loopback(urlsplit(self.host.url).hostname):
            raise ConfigurationError(
                f"{self.host} uses plain http, so its token endpoint cannot be discovered: "
                "only a loopback host (127.0.0.1, ::1, localhost) may use http. "
                "Set token_url to the server's https token endpoint"
            )
        if (
            isinstance(max_response_bytes, bool)
            or not isinstance(max_response_bytes, int)
            or max_response_bytes <= 0
        ):
            raise ConfigurationError(
                f"max_response_bytes must be a positive whole number, got {max_response_bytes!r}"
            )
        reserved = sorted(RESERVED_PARAMS.intersection(extra_params or {}))
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
        warn_about_literal_secret(client_secret, "client_secret", type(self).__name__)
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
        self.max_response_bytes = max_response_bytes
        self._endpoint = TokenEndpoint(
            self.host,
            client_id,
            token_url=token_url,
            grant_type=grant_type,
            scopes=self.scopes,
            audience=audience,
            client_auth=client_auth,
            extra_params=self._extra_params,
            default_expires_in=self.default_expires_in,
            retry=self.retry,
            max_response_bytes=max_response_bytes,
        )

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

    def _token_source(self) -> str:
        """The token endpoint, as configured or discovered."""
        url = self._endpoint.url
        return f"token endpoint {untrusted.quote(url)}" if url else f"token endpoint of {self.host}"

    def _cache_secret(self) -> str | None:
        """The client secret (revealed here if it is a reference)."""
        return None if self._client_secret is None else reveal(self._client_secret)

    def _request_token(self) -> tuple[str, float]:
        # A secret reference is resolved on the first fetch (then cached for the process).
        secret = self._client_secret
        return self._endpoint.fetch(None if secret is None else reveal(secret), self._wall_time)


def _scope_list(scopes: Sequence[str] | str | None) -> tuple[str, ...]:
    if scopes is None:
        return ()
    if isinstance(scopes, str):
        return tuple(scopes.split())
    if not all(isinstance(scope, str) and scope and " " not in scope for scope in scopes):
        raise ConfigurationError(f"scopes must be a list of strings without spaces, got {scopes!r}")
    return tuple(scopes)
