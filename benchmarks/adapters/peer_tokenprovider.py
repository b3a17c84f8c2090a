"""tokenprovider: `OAuthTokenProvider` as a requests auth, and ``provider.httpx_auth()`` on
an `httpx.AsyncClient`. Defaults throughout (host check and 401 retry on, margins scaled to
the token's lifetime); each object gets a `MemoryTokenCache` of its own so it starts cold
(the timed ``build`` uses the process-wide default cache, as a program would)."""

from __future__ import annotations

import httpx

from adapters.base import AsyncAdapter, Endpoint, RequestsAdapter
from tokenprovider import OAuthTokenProvider
from tokenprovider.caches import MemoryTokenCache

IMPORTS = "from tokenprovider import OAuthTokenProvider"
BUILD = "provider = OAuthTokenProvider(API_URL, CLIENT_ID, SECRET, token_url=TOKEN_URL)"


def provider(endpoint: Endpoint) -> OAuthTokenProvider:
    return OAuthTokenProvider(
        endpoint.api_url,
        endpoint.client_id,
        endpoint.client_secret,
        token_url=endpoint.token_url,
        cache=MemoryTokenCache(),
    )


class RequestsOurs(RequestsAdapter):
    name = distribution = "tokenprovider"
    imports, build = IMPORTS, BUILD
    rank = 1

    def make(self, endpoint: Endpoint) -> OAuthTokenProvider:
        return provider(endpoint)

    def attach(self, auth: OAuthTokenProvider) -> OAuthTokenProvider:
        return auth


class AsyncOurs(AsyncAdapter):
    name = distribution = "tokenprovider"
    imports, build = IMPORTS, BUILD + "\nprovider.httpx_auth()"
    rank = 1

    def make(self, endpoint: Endpoint) -> httpx.Auth:
        return provider(endpoint).httpx_auth()

    def flow(self, auth: httpx.Auth) -> httpx.Auth:
        return auth


ADAPTERS = (RequestsOurs(), AsyncOurs())
