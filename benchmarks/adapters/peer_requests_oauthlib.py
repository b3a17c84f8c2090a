"""requests-oauthlib: the backend application flow of its docs, an `OAuth2Session` with a
`BackendApplicationClient` and an explicit ``fetch_token(token_url, client_id=...,
client_secret=...)`` before the first request. Its automatic refresh
(``auto_refresh_url``) needs a refresh token, which client credentials do not get, so it is
left off: once the token has expired, every request raises `TokenExpiredError` (a session
without a token sends requests without one). oauthlib dates the expiry
``round(time.time()) + expires_in``, up to half a second after the server does, so the
session may send a token the server has just expired (a 401). ``OAUTHLIB_INSECURE_TRANSPORT=1``, its
documented switch for plain http, lets it talk to the local server.

The hot path times `requests_oauthlib.OAuth2` on the session's client: the expiry check
and the header that the session adds to each of its requests."""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import metadata

from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2, OAuth2Session

from adapters.base import Endpoint, RequestsAdapter, pooled


@dataclass(frozen=True)
class Backend:
    session: OAuth2Session
    client: BackendApplicationClient
    endpoint: Endpoint


class RequestsOAuthlib(RequestsAdapter):
    name = distribution = "requests-oauthlib"
    imports = (
        "from oauthlib.oauth2 import BackendApplicationClient\n"
        "from requests_oauthlib import OAuth2Session"
    )
    build = "OAuth2Session(client=BackendApplicationClient(client_id=CLIENT_ID))"
    explicit_fetch = True

    def version(self) -> str:
        return f"{super().version()} (oauthlib {metadata.version('oauthlib')})"

    def make(self, endpoint: Endpoint) -> Backend:
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
        client = BackendApplicationClient(client_id=endpoint.client_id)
        return Backend(pooled(OAuth2Session(client=client)), client, endpoint)

    def start(self, auth: Backend) -> None:
        auth.session.fetch_token(
            token_url=auth.endpoint.token_url,
            client_id=auth.endpoint.client_id,
            client_secret=auth.endpoint.client_secret,
        )

    def attach(self, auth: Backend) -> OAuth2:
        return OAuth2(client=auth.client)

    def session(self, auth: Backend) -> OAuth2Session:
        return auth.session


ADAPTERS = (RequestsOAuthlib(),)
