"""httpx-auth: `OAuth2ClientCredentials` on an `httpx.AsyncClient`, as its README shows
(``auth=OAuth2ClientCredentials(token_url, client_id=..., client_secret=...)``); it fetches
the token on first use. Its flow is synchronous (``auth_flow``, which `httpx.AsyncClient`
drives as it is): the token request is made with a blocking `httpx.Client` on the event
loop. Its tokens live in one process-wide cache (``OAuth2.token_cache``), cleared for each
new object so that it starts cold. ``early_expiry`` (default 30 s) is cut to a quarter of
the token's lifetime for short tokens."""

from __future__ import annotations

from httpx_auth import OAuth2, OAuth2ClientCredentials

from adapters.base import AsyncAdapter, Endpoint


class HttpxAuth(AsyncAdapter):
    name = distribution = "httpx-auth"
    imports = "from httpx_auth import OAuth2ClientCredentials"
    build = "OAuth2ClientCredentials(TOKEN_URL, client_id=CLIENT_ID, client_secret=SECRET)"

    def make(self, endpoint: Endpoint) -> OAuth2ClientCredentials:
        OAuth2.token_cache.clear()
        return OAuth2ClientCredentials(
            endpoint.token_url,
            client_id=endpoint.client_id,
            client_secret=endpoint.client_secret,
            early_expiry=endpoint.margin(30.0),
        )

    def flow(self, auth: OAuth2ClientCredentials) -> OAuth2ClientCredentials:
        return auth


ADAPTERS = (HttpxAuth(),)
