"""`provider.httpx_auth()` with `httpx.Client` and `httpx.AsyncClient`, against real local
servers: the host rule (redirects included), the caller's own header, the 401 retry, streaming
bodies, many callers at once, and no secret in logs or errors. (The TDS cookie carrier, with
both clients: tests/test_transport_rules.py.)

Most tests run twice, through a sync and an async client (the ``send`` fixture); the async
client runs on an event loop of its own (`anyio.run`). Tests of many concurrent tasks use
anyio's pytest plugin.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import traceback
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import anyio
import httpx
import pytest
import requests

from conftest import CANARY_SECRET, all_log_text, assert_no_leak, reachable_text
from tokenprovider import JWTTokenProvider, OAuthError, OAuthTokenProvider
from tokenprovider.caches import MemoryTokenCache
from tokenprovider.testing.http_recorder import RecordingHTTPServer, _BackgroundServer, _Handler
from tokenprovider.testing.oauth_server import LocalOAuthServer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Seen:
    """One request the API server received."""

    path: str
    authorization: str | None
    cookie: str | None
    body: bytes


class ApiServer(LocalOAuthServer):
    """The local OAuth server (token endpoint, protected ``/resource``, ``/redirect?to=``)
    that also records every request and serves ``/hop`` (protected, redirects to
    ``/resource``), ``/forbidden`` (always 401) and ``/cookie`` (401 setting a cookie the
    first time, then as ``/resource``)."""

    def __init__(self) -> None:
        super().__init__(clients={"client": CANARY_SECRET})
        self.seen: list[Seen] = []
        self._seen_lock = threading.Lock()

    def handle(self, request, body) -> None:  # type: ignore[no-untyped-def]
        path = request.path.partition("?")[0]
        if path != "/oauth2/token":
            record = Seen(
                path, request.headers.get("Authorization"), request.headers.get("Cookie"), body
            )
            with self._seen_lock:
                self.seen.append(record)
        if path == "/hop":
            if self.accepts(request.headers.get("Authorization")):
                request.respond(302, b"", "text/plain", {"Location": "/resource"})
            else:
                request.respond_json(401, {"error": "invalid_token"})
        elif path == "/forbidden":
            request.respond_json(401, {"error": "insufficient_scope"})
        elif path == "/cookie" and len(self.seen_at("/cookie")) == 1:
            request.respond(401, b"{}", "application/json", {"Set-Cookie": "nonce=abc; Path=/"})
        elif path == "/cookie":
            request.respond_json(
                200 if self.accepts(request.headers.get("Authorization")) else 401, {}
            )
        else:
            super().handle(request, body)

    def seen_at(self, path: str) -> list[Seen]:
        with self._seen_lock:
            return [s for s in self.seen if s.path == path]


@pytest.fixture
def api() -> Iterator[ApiServer]:
    with ApiServer() as server:
        yield server


def oauth(server: LocalOAuthServer, **kwargs: Any) -> OAuthTokenProvider:
    secret = CANARY_SECRET if isinstance(server, ApiServer) else "secret"
    return OAuthTokenProvider(server.url, "client", secret, token_url=server.token_url, **kwargs)


Send = Callable[..., httpx.Response]


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def send(mode: str) -> Send:
    """``send(auth, method, url, client={...}, **request_kwargs)``: one request through an
    `httpx.Client` or (on an event loop of its own) an `httpx.AsyncClient`, following
    redirects; the response, read."""

    def sync(auth: httpx.Auth, method: str, url: str, client: Any = None, **kwargs: Any):  # type: ignore[no-untyped-def]
        settings = {"follow_redirects": True, "timeout": 10, **(client or {})}
        with httpx.Client(auth=auth, **settings) as session:
            return session.request(method, url, **kwargs)

    def in_a_loop(auth: httpx.Auth, method: str, url: str, client: Any = None, **kwargs: Any):  # type: ignore[no-untyped-def]
        settings = {"follow_redirects": True, "timeout": 10, **(client or {})}

        async def go() -> httpx.Response:
            async with httpx.AsyncClient(auth=auth, **settings) as session:
                return await session.request(method, url, **kwargs)

        return anyio.run(go)

    return sync if mode == "sync" else in_a_loop  # type: ignore[return-value]


def stream(mode: str) -> Iterator[bytes] | AsyncIterator[bytes]:
    """A streaming body, for the client of ``mode``."""
    return _chunks() if mode == "sync" else _async_chunks()


def bearer(provider: OAuthTokenProvider) -> str:
    return f"Bearer {provider.token}"


# -- the host rule ----------------------------------------------------------------------------


def test_token_is_attached_for_its_host(api: ApiServer, send: Send) -> None:
    provider = oauth(api)
    response = send(provider.httpx_auth(), "GET", api.resource_url)
    assert response.status_code == 200
    assert [s.authorization for s in api.seen] == [bearer(provider)]
    assert api.token_requests == 1


def test_token_is_withheld_from_another_port(
    api: ApiServer, foreign_server: RecordingHTTPServer, send: Send
) -> None:
    provider = oauth(api)
    assert send(provider.httpx_auth(), "GET", foreign_server.url + "/direct").status_code == 200
    [seen] = foreign_server.requests
    assert "authorization" not in seen.headers
    assert api.token_requests == 0  # no token was even fetched


def test_redirect_to_another_port_does_not_carry_the_token(
    api: ApiServer, foreign_server: RecordingHTTPServer, send: Send
) -> None:
    provider = oauth(api)
    target = quote(foreign_server.url + "/landing", safe="")
    response = send(provider.httpx_auth(), "GET", f"{api.url}/redirect?to={target}")
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [302]
    assert [s.authorization for s in api.seen_at("/redirect")] == [bearer(provider)]
    [seen] = foreign_server.requests
    assert seen.path == "/landing"
    assert "authorization" not in seen.headers


def test_redirect_to_another_host_name_does_not_carry_the_token(api: ApiServer, send: Send) -> None:
    """127.0.0.1 and localhost are one server here, but two hosts to the rule."""
    provider = oauth(api)
    port = api.url.rpartition(":")[2]
    target = quote(f"http://localhost:{port}/resource", safe="")
    response = send(provider.httpx_auth(), "GET", f"{api.url}/redirect?to={target}")
    assert response.status_code == 401  # localhost got no token, and its 401 is not ours
    assert [s.authorization for s in api.seen] == [bearer(provider), None]
    assert api.token_requests == 1  # and it refreshed nothing
    assert str(response.request.url).startswith("http://localhost:")


def test_a_redirect_on_the_host_keeps_the_token(api: ApiServer, send: Send) -> None:
    provider = oauth(api)
    response = send(provider.httpx_auth(), "GET", api.url + "/hop")
    assert response.status_code == 200
    assert [s.authorization for s in api.seen] == [bearer(provider)] * 2
    assert api.token_requests == 1


@pytest.mark.parametrize("where", ["request", "client"])
def test_the_callers_own_authorization_is_kept(api: ApiServer, send: Send, where: str) -> None:
    provider = oauth(api)
    headers = {"authorization": "Bearer mine"}
    if where == "request":
        response = send(provider.httpx_auth(), "GET", api.resource_url, headers=headers)
    else:
        response = send(provider.httpx_auth(), "GET", api.resource_url, client={"headers": headers})
    assert response.status_code == 401
    assert [s.authorization for s in api.seen] == ["Bearer mine"]  # not retried: not ours
    assert api.token_requests == 0


# -- 401 -------------------------------------------------------------------------------------


def test_401_refreshes_and_retries_once(api: ApiServer, send: Send) -> None:
    provider = oauth(api)
    old = bearer(provider)
    api.revoke_all()
    response = send(provider.httpx_auth(), "GET", api.resource_url)
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    assert bearer(provider) != old
    assert [s.authorization for s in api.seen] == [old, bearer(provider)]
    assert api.token_requests == 2
    assert api.resource_unauthorized == 1


def test_second_401_is_returned_not_retried_again(api: ApiServer, send: Send) -> None:
    provider = oauth(api)
    provider.token  # noqa: B018
    api.revoke_all()
    # Every new token is already dead at the resource, though the client is not told.
    api.token_lifetime = 0
    api.include_expires_in = False
    response = send(provider.httpx_auth(), "GET", api.resource_url)
    assert response.status_code == 401
    assert [r.status_code for r in response.history] == [401]
    assert api.resource_requests == 2  # the 401 and one retry
    assert api.token_requests == 2


def _chunks() -> Iterator[bytes]:
    yield b"part one, "
    yield b"part two"


async def _async_chunks() -> AsyncIterator[bytes]:
    yield b"part one, "
    yield b"part two"


def test_streaming_body_is_not_retried(api: ApiServer, send: Send, mode: str) -> None:
    provider = oauth(api)
    old = bearer(provider)
    api.revoke_all()
    response = send(provider.httpx_auth(), "POST", api.resource_url, content=stream(mode))
    assert response.status_code == 401
    assert response.history == []
    assert [(s.authorization, s.body) for s in api.seen] == [(old, b"part one, part two")]
    assert api.token_requests == 2  # the dead token was still replaced


@pytest.mark.parametrize(
    "body",
    [
        {"content": b"bytes body"},
        {"content": "text body"},
        {"json": {"a": 1}},
        {"data": {"a": "1"}},
    ],
    ids=["bytes", "text", "json", "form"],
)
def test_a_body_in_memory_is_sent_again(api: ApiServer, send: Send, body: dict[str, Any]) -> None:
    provider = oauth(api)
    old = bearer(provider)
    api.revoke_all()
    response = send(provider.httpx_auth(), "POST", api.resource_url, **body)
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    first, second = api.seen
    assert (first.authorization, second.authorization) == (old, bearer(provider))
    assert first.body == second.body != b""


def test_401_from_another_host_does_not_refresh(api: ApiServer, send: Send) -> None:
    provider = oauth(api)
    provider.token  # noqa: B018
    with LocalOAuthServer() as other:
        response = send(provider.httpx_auth(), "GET", other.resource_url)
    assert response.status_code == 401
    assert "Authorization" not in response.request.headers
    assert api.token_requests == 1


def _jwt(payload: dict[str, object]) -> str:
    def segment(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{segment({'alg': 'none'})}.{segment(payload)}.sig"


def test_static_token_is_not_retried_on_401(api: ApiServer, send: Send) -> None:
    provider = JWTTokenProvider(api.url, _jwt({"sub": "someone"}))
    response = send(provider.httpx_auth(), "GET", api.resource_url)
    assert response.status_code == 401
    assert response.history == []
    assert api.resource_requests == 1


def test_401_that_a_fresh_token_does_not_cure_is_not_a_token_storm(api: ApiServer) -> None:
    auth = oauth(api).httpx_auth()
    with httpx.Client(auth=auth, timeout=10) as client:
        statuses = [client.get(api.url + "/forbidden").status_code for _ in range(20)]
    assert statuses == [401] * 20
    assert api.token_requests == 2  # the first token and one 401-driven refresh


def test_redirect_after_the_401_retry_carries_the_fresh_token(api: ApiServer, send: Send) -> None:
    provider = oauth(api)
    old = bearer(provider)
    api.revoke_all()
    response = send(provider.httpx_auth(), "GET", api.url + "/hop")
    assert response.status_code == 200
    fresh = bearer(provider)
    assert [(s.path, s.authorization) for s in api.seen] == [
        ("/hop", old),
        ("/hop", fresh),
        ("/resource", fresh),
    ]
    assert api.token_requests == 2


def test_retry_sends_cookies_the_401_set(api: ApiServer, send: Send) -> None:
    provider = oauth(api)
    response = send(
        provider.httpx_auth(), "GET", api.url + "/cookie", client={"cookies": {"sid": "1"}}
    )
    assert response.status_code == 200
    assert [s.cookie for s in api.seen] == ["sid=1", "sid=1; nonce=abc"]


def test_failed_refresh_after_401_raises_and_frees_the_connection(api: ApiServer) -> None:
    provider = oauth(api, failure_cooldown=0)
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    with httpx.Client(auth=provider.httpx_auth(), limits=limits, timeout=10) as client:
        assert client.get(api.resource_url).status_code == 200
        api.revoke_all()
        api.respond_next(400, b'{"error": "invalid_client"}')
        with pytest.raises(OAuthError):
            client.get(api.resource_url)
        # With the only connection still held by the 401, this would time out.
        assert client.get(api.resource_url).status_code == 200


# -- many callers ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_100_tasks_hitting_401_cause_one_refresh(api: ApiServer) -> None:
    provider = oauth(api)
    async with httpx.AsyncClient(auth=provider.httpx_auth(), timeout=30) as client:
        assert (await client.get(api.resource_url)).status_code == 200
        api.revoke_all()
        statuses: list[int] = []

        async def caller() -> None:
            statuses.append((await client.get(api.resource_url)).status_code)

        async with anyio.create_task_group() as tasks:
            for _ in range(100):
                tasks.start_soon(caller)
    assert statuses == [200] * 100
    assert api.token_requests == 2  # the first token and exactly one refresh


@pytest.mark.anyio
async def test_100_tasks_on_a_cold_provider_make_one_token_request(api: ApiServer) -> None:
    provider = oauth(api, cache=MemoryTokenCache())
    client = httpx.AsyncClient(auth=provider.httpx_auth(), timeout=30)
    async with client, anyio.create_task_group() as tasks:
        for _ in range(100):
            tasks.start_soon(client.get, api.resource_url)
    assert api.token_requests == 1
    assert api.resource_requests == 100
    assert {s.authorization for s in api.seen} == {bearer(provider)}


def test_threads_on_one_client_hitting_401_cause_one_refresh(api: ApiServer) -> None:
    provider = oauth(api)
    callers = 20
    with httpx.Client(auth=provider.httpx_auth(), timeout=30) as client:
        assert client.get(api.resource_url).status_code == 200
        api.revoke_all()
        barrier = threading.Barrier(callers)
        statuses: list[int] = []

        def caller() -> None:
            barrier.wait()
            statuses.append(client.get(api.resource_url).status_code)

        threads = [threading.Thread(target=caller) for _ in range(callers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert statuses == [200] * callers
    assert api.token_requests == 2


# -- no secret shows -------------------------------------------------------------------------


def test_no_token_or_secret_in_logs_or_errors(
    api: ApiServer, send: Send, debug_logs: pytest.LogCaptureFixture
) -> None:
    provider = oauth(api, failure_cooldown=0)
    provider.reauth_interval = 0  # each 401 may refresh: the test sends three
    tokens = [provider.token]
    api.revoke_all()
    assert send(provider.httpx_auth(), "GET", api.resource_url).status_code == 200  # a retry
    tokens.append(provider.token)
    send(provider.httpx_auth(), "GET", api.url + "/forbidden")  # a refresh that cures nothing
    tokens.append(provider.token)
    api.revoke_all()
    echo = json.dumps({"error": "invalid_client", "error_description": f"no {CANARY_SECRET}"})
    api.respond_next(400, echo.encode())
    with pytest.raises(OAuthError) as info:
        send(provider.httpx_auth(), "GET", api.resource_url)
    texts = [
        all_log_text(debug_logs),
        reachable_text(info.value),
        "".join(traceback.format_exception(info.value)),
        repr(provider.httpx_auth()),
    ]
    assert "401 from" in texts[0]  # the retry was logged ...
    for text in texts:
        assert_no_leak(text, CANARY_SECRET, *tokens)  # ... without a secret


def test_the_provider_itself_as_an_httpx_auth_says_to_use_httpx_auth(api: ApiServer) -> None:
    provider = oauth(api)
    client = httpx.Client(auth=provider, timeout=10)  # type: ignore[arg-type]
    expected = r"given a httpx.Request; with httpx, use auth=provider\.httpx_auth\(\)"
    with client, pytest.raises(TypeError, match=expected):
        client.get(api.resource_url)
    assert api.seen == []  # nothing was sent ...
    assert api.token_requests == 0  # ... and no token fetched


class EndlessUnauthorized(_BackgroundServer):
    """The API: the first request gets a 401 whose body never ends (a megabyte announced,
    one byte sent, then nothing until the test is over); later ones get a 200."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0
        self.over = threading.Event()

    def handle(self, request: _Handler, body: bytes) -> None:
        self.seen += 1
        if self.seen == 1:
            request.send_response(401)
            request.send_header("Content-Length", str(1 << 20))
            request.end_headers()
            request.wfile.write(b"x")
            request.wfile.flush()
            self.over.wait(30)  # drip-fed: nothing more while the test runs
            request.close_connection = True
            return
        request.send_response(200)
        request.send_header("Content-Length", "2")
        request.end_headers()
        request.wfile.write(b"ok")


@pytest.mark.parametrize("client", ["requests", "httpx", "httpx-async"])
def test_a_401_whose_body_never_ends_is_retried_without_reading_it(client: str) -> None:
    with (
        LocalOAuthServer(clients={"client": CANARY_SECRET}) as tokens,
        EndlessUnauthorized() as api,
    ):
        provider = OAuthTokenProvider(
            api.url,
            "client",
            CANARY_SECRET,
            token_url=tokens.token_url,
            cache=MemoryTokenCache(),
        )
        try:
            # A read timeout of 5 s: reading the 401's body would fail the call.
            if client == "requests":
                response_status = requests.get(api.url + "/x", auth=provider, timeout=5).status_code
            elif client == "httpx":
                with httpx.Client(auth=provider.httpx_auth(), timeout=5) as sync_client:
                    response_status = sync_client.get(api.url + "/x").status_code
            else:

                async def call() -> int:
                    async with httpx.AsyncClient(auth=provider.httpx_auth(), timeout=5) as c:
                        return (await c.get(api.url + "/x")).status_code

                response_status = asyncio.run(call())
        finally:
            api.over.set()
        assert response_status == 200
        assert api.seen == 2
        assert tokens.token_requests == 2  # the 401 made one refresh, then one retry
