"""Authlib: `OAuth2Session` (requests) and `AsyncOAuth2Client` (httpx), configured as its
client docs show for client credentials: ``token_endpoint=`` and
``grant_type="client_credentials"``, with which an expired token is fetched again
automatically, and one explicit ``fetch_token()`` before the first request (a client
without a token raises `MissingTokenError`). ``leeway`` (default 60 s) is cut to a quarter
of the token's lifetime for short tokens.

Per request the session runs its ``token_auth`` (which checks the expiry, fetching again if
needed, and sets the header); the async client first awaits ``ensure_active_token`` (under
an `asyncio.Lock`) and then runs ``token_auth``'s flow: the hot path times exactly those.
The session has no lock: callers that find the token expired at once each fetch one.
Its httpx client warns on import that it would rather have ``httpx2``; it gets httpx, as
the project's bench group installs it, and that warning is silenced."""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable

import httpx
from authlib.deprecate import AuthlibDeprecationWarning
from authlib.integrations.requests_client import OAuth2Session

with warnings.catch_warnings():  # "The httpx module is deprecated; please use httpx2"
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client

from adapters.base import TIMEOUT, AsyncAdapter, Endpoint, RequestsAdapter, pooled

BUILD = '{}(CLIENT_ID, SECRET, token_endpoint=TOKEN_URL, grant_type="client_credentials")'


class AuthlibSession(RequestsAdapter):
    name = distribution = "authlib"
    imports = "from authlib.integrations.requests_client import OAuth2Session"
    build = BUILD.format("OAuth2Session")
    explicit_fetch = True

    def make(self, endpoint: Endpoint) -> OAuth2Session:
        session = OAuth2Session(
            endpoint.client_id,
            endpoint.client_secret,
            token_endpoint=endpoint.token_url,
            grant_type="client_credentials",
            leeway=endpoint.margin(60.0),
        )
        return pooled(session)

    def start(self, auth: OAuth2Session) -> None:
        auth.fetch_token()

    def attach(self, auth: OAuth2Session) -> Callable[..., object]:
        return auth.token_auth

    def session(self, auth: OAuth2Session) -> OAuth2Session:
        return auth


class AuthlibAsync(AsyncAdapter):
    name = distribution = "authlib"
    imports = "from authlib.integrations.httpx_client import AsyncOAuth2Client"
    build = BUILD.format("AsyncOAuth2Client")
    explicit_fetch = True

    def make(self, endpoint: Endpoint) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            endpoint.client_id,
            endpoint.client_secret,
            token_endpoint=endpoint.token_url,
            grant_type="client_credentials",
            leeway=endpoint.margin(60.0),
            timeout=TIMEOUT,
        )

    async def start(self, auth: AsyncOAuth2Client) -> None:
        await auth.fetch_token()

    def flow(self, auth: AsyncOAuth2Client) -> httpx.Auth:
        return auth.token_auth

    def before(self, auth: AsyncOAuth2Client) -> Callable[[], Awaitable[object]]:
        return lambda: auth.ensure_active_token(auth.token)

    def client(self, auth: AsyncOAuth2Client) -> AsyncOAuth2Client:
        return auth


ADAPTERS = (AuthlibSession(), AuthlibAsync())
