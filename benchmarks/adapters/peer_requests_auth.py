"""requests-auth: `OAuth2ClientCredentials` as a requests auth, as its README shows
(``auth=OAuth2ClientCredentials(token_url, client_id=..., client_secret=...)``); it fetches
the token on first use. Its tokens live in one process-wide cache (``OAuth2.token_cache``),
cleared for each new object so that it starts cold. ``early_expiry`` (default 30 s) is cut
to a quarter of the token's lifetime for short tokens."""

from __future__ import annotations

from requests_auth import OAuth2, OAuth2ClientCredentials

from adapters.base import Endpoint, RequestsAdapter


class RequestsAuth(RequestsAdapter):
    name = distribution = "requests-auth"
    imports = "from requests_auth import OAuth2ClientCredentials"
    build = "OAuth2ClientCredentials(TOKEN_URL, client_id=CLIENT_ID, client_secret=SECRET)"

    def make(self, endpoint: Endpoint) -> OAuth2ClientCredentials:
        OAuth2.token_cache.clear()
        return OAuth2ClientCredentials(
            endpoint.token_url,
            client_id=endpoint.client_id,
            client_secret=endpoint.client_secret,
            early_expiry=endpoint.margin(30.0),
        )

    def attach(self, auth: OAuth2ClientCredentials) -> OAuth2ClientCredentials:
        return auth


ADAPTERS = (RequestsAuth(),)
