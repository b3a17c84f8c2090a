"""The seed's design (foundry-dev-tools' documented `OAuthTokenProvider`), rebuilt from its
documentation in `adapters._seed_design`; a session takes ``requests_auth_handler`` as its
auth, as the documented client does. Its expiry check is the documented one: a token is
fetched again when it has less than 10 seconds left, whatever its lifetime."""

from __future__ import annotations

from collections.abc import Callable

import requests

from adapters._seed_design import SeedOAuthTokenProvider
from adapters.base import Endpoint, RequestsAdapter


class Seed(RequestsAdapter):
    name = "seed design"
    distribution = ""
    imports = "from _seed_design import SeedOAuthTokenProvider"
    build = "SeedOAuthTokenProvider(API_URL, CLIENT_ID, SECRET, TOKEN_URL)"
    rank = 2

    def version(self) -> str:
        return "rebuilt from foundry-dev-tools' documentation"

    def make(self, endpoint: Endpoint) -> SeedOAuthTokenProvider:
        return SeedOAuthTokenProvider(
            endpoint.api_url, endpoint.client_id, endpoint.client_secret, endpoint.token_url
        )

    def attach(
        self, auth: SeedOAuthTokenProvider
    ) -> Callable[[requests.PreparedRequest], requests.PreparedRequest]:
        return auth.requests_auth_handler


ADAPTERS = (Seed(),)
