"""The rules in `tokenprovider.transports._rules`, as both adapters apply them.

- The TDS cookie carrier through `requests`, `httpx.Client` and `httpx.AsyncClient`: the
  cookie on the provider's host only, the caller's own cookie kept, and a 401 refreshing
  the token and retrying once with the new cookie (a streaming body: not retried).
- The adapters' shortcuts agree with the rules they stand for: httpx's host check (cached
  per URL origin) with `Host.matches`, and requests' hot path with its general handler.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from urllib.parse import quote

import anyio
import httpx
import pytest
import requests

from conftest import REGION
from tokenprovider import CachedTokenProvider, Host, OAuthTokenProvider, TDSTokenProvider
from tokenprovider.caches import MemoryTokenCache
from tokenprovider.testing import FakeClock
from tokenprovider.testing.http_recorder import RecordingHTTPServer
from tokenprovider.testing.lambda_server import LambdaContext
from tokenprovider.testing.oauth_server import LocalOAuthServer
from tokenprovider.testing.tds_dispenser import LocalTokenDispenser, fake_session
from tokenprovider.transports import requests as requests_adapter
from tokenprovider.transports.httpx import ProviderAuth

# -- the cookie carrier, through every client ---------------------------------------------------


class CookieSite(LocalOAuthServer):
    """A resource (any path) protected by the dispenser's cookie: 401 unless ``SMSESSION``
    holds a token not in ``revoked``; ``/bounce`` redirects to ``/protected``. Records the
    ``Cookie`` and ``Authorization`` headers of every request."""

    def __init__(self) -> None:
        super().__init__()
        self.revoked: set[str] = set()
        self.seen: list[tuple[str, str | None, str | None]] = []
        self._seen_lock = threading.Lock()

    def handle(self, request, body) -> None:  # type: ignore[no-untyped-def]
        cookies = request.headers.get("Cookie")
        with self._seen_lock:
            self.seen.append((request.path, cookies, request.headers.get("Authorization")))
        pairs = (part.strip().partition("=") for part in (cookies or "").split(";"))
        token = {name: value for name, _, value in pairs}.get("SMSESSION")
        if request.path == "/bounce":
            request.respond(302, b"", "text/plain", {"Location": "/protected"})
        elif request.path.startswith("/redirect"):
            super().handle(request, body)
        elif token is None or token in self.revoked:
            request.respond_json(401, {"error": "no session"})
        else:
            request.respond_json(200, {"ok": True})

    def cookies(self) -> list[str | None]:
        with self._seen_lock:
            return [cookie for _, cookie, _ in self.seen]


@pytest.fixture
def site() -> Iterator[CookieSite]:
    with CookieSite() as server:
        yield server


@pytest.fixture
def minted(tds: LocalTokenDispenser) -> tuple[str, list[str]]:
    """A dispenser function minting a new token on every call: (its ARN, the tokens)."""
    issued: list[str] = []

    def minting(event: Any, context: LambdaContext) -> Any:
        issued.append(f"sm-token-{len(issued)}")
        return {"sm_token": issued[-1], "cookiename": "SMSESSION", "expires_at": 4_000_000_000}

    return tds.lambda_server.add_function("minting", minting), issued


def cookie_provider(url: str, arn: str) -> TDSTokenProvider:
    return TDSTokenProvider(
        url,
        "cookieclient",
        lambda_arn=arn,
        auth_style="cookie",
        boto3_session=fake_session(REGION),
        cache=MemoryTokenCache(),
    )


def _chunks() -> Iterator[bytes]:
    yield b"part one, "
    yield b"part two"


async def _async_chunks() -> AsyncIterator[bytes]:
    yield b"part one, "
    yield b"part two"


Send = Callable[..., int]


@pytest.fixture(params=["requests", "httpx", "httpx-async"])
def send(request: pytest.FixtureRequest) -> Send:
    """``send(provider, url, cookies={...}, headers={...}, streaming=False)``: a request
    (POST when streaming) through the client named by the parameter; its status code."""
    client = request.param

    def send(
        provider: TDSTokenProvider,
        url: str,
        cookies: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        streaming: bool = False,
    ) -> int:
        if client == "requests":
            with provider.session() as session:
                session.cookies.update(cookies or {})
                body = _chunks() if streaming else None
                method = "POST" if streaming else "GET"
                return session.request(method, url, headers=headers, data=body).status_code
        settings: dict[str, Any] = {"follow_redirects": True, "timeout": 10, "cookies": cookies}
        if client == "httpx":
            with httpx.Client(auth=provider.httpx_auth(), **settings) as sync:
                if streaming:
                    return sync.post(url, headers=headers, content=_chunks()).status_code
                return sync.get(url, headers=headers).status_code

        async def go() -> int:
            async with httpx.AsyncClient(auth=provider.httpx_auth(), **settings) as session:
                if streaming:
                    body = _async_chunks()
                    return (await session.post(url, headers=headers, content=body)).status_code
                return (await session.get(url, headers=headers)).status_code

        return anyio.run(go)

    return send


def test_the_cookie_goes_to_its_host_and_never_as_authorization(
    site: CookieSite, minted: tuple[str, list[str]], send: Send
) -> None:
    arn, issued = minted
    provider = cookie_provider(site.url, arn)
    assert send(provider, site.url + "/protected", cookies={"theme": "dark"}) == 200
    assert site.seen == [("/protected", f"theme=dark; SMSESSION={issued[0]}", None)]


def test_the_callers_own_cookie_wins(
    site: CookieSite, minted: tuple[str, list[str]], send: Send
) -> None:
    arn, issued = minted
    provider = cookie_provider(site.url, arn)
    site.revoked.add("mine")
    assert send(provider, site.url + "/protected", headers={"Cookie": "SMSESSION=mine"}) == 401
    assert site.cookies() == ["SMSESSION=mine"]  # and not retried: it was not ours
    assert len(issued) == 1  # the cookie's name comes with the token: fetched, not replaced


def test_a_401_refreshes_and_retries_once_with_the_new_cookie(
    site: CookieSite, minted: tuple[str, list[str]], send: Send
) -> None:
    arn, issued = minted
    provider = cookie_provider(site.url, arn)
    provider.token  # noqa: B018
    site.revoked.add(issued[0])
    assert send(provider, site.url + "/protected", cookies={"a": "1"}) == 200
    assert site.cookies() == [f"a=1; SMSESSION={issued[0]}", f"a=1; SMSESSION={issued[1]}"]
    assert len(issued) == 2


def test_a_401_to_a_new_token_too_is_returned(
    site: CookieSite, minted: tuple[str, list[str]], send: Send
) -> None:
    arn, issued = minted
    provider = cookie_provider(site.url, arn)
    provider.token  # noqa: B018
    site.revoked.update({issued[0], "sm-token-1"})
    assert send(provider, site.url + "/protected") == 401
    assert site.cookies() == [f"SMSESSION={issued[0]}", f"SMSESSION={issued[1]}"]  # once


def test_a_streaming_body_is_not_retried(
    site: CookieSite, minted: tuple[str, list[str]], send: Send
) -> None:
    arn, issued = minted
    provider = cookie_provider(site.url, arn)
    provider.token  # noqa: B018
    site.revoked.add(issued[0])
    assert send(provider, site.url + "/protected", streaming=True) == 401
    assert len(site.seen) == 1
    assert len(issued) == 2  # the refused token was replaced all the same


def test_the_cookie_never_goes_to_another_host_nor_after_a_redirect(
    site: CookieSite,
    foreign_server: RecordingHTTPServer,
    minted: tuple[str, list[str]],
    send: Send,
) -> None:
    arn, issued = minted
    provider = cookie_provider(site.url, arn)
    send(provider, foreign_server.url + "/direct")
    target = quote(foreign_server.url + "/landing", safe="")
    send(provider, f"{site.url}/redirect?to={target}")
    assert site.cookies() == [f"SMSESSION={issued[0]}"]  # the redirect itself had it ...
    assert [r.path for r in foreign_server.requests] == ["/direct", "/landing"]
    for seen in foreign_server.requests:  # ... and no request to the other host
        assert "cookie" not in seen.headers


def test_a_401_after_a_redirect_dropped_the_cookie_refreshes_nothing(
    site: CookieSite, minted: tuple[str, list[str]], send: Send
) -> None:
    arn, issued = minted
    provider = cookie_provider(site.url, arn)
    # Both clients drop a Cookie header on a redirect, so /protected sees no token ...
    assert send(provider, site.url + "/bounce") == 401
    assert site.cookies() == [f"SMSESSION={issued[0]}", None]
    assert len(issued) == 1  # ... and its 401 is not the token's


# -- the adapters' shortcuts agree with the rules --------------------------------------------------

URLS = [
    "https://api.example.com/items",
    "https://API.Example.com/items",
    "https://api.example.com:443/items",
    "https://api.example.com:8443/items",
    "http://api.example.com/items",
    "https://api.example.com.evil.net/",
    "https://evil.net/?u=https://api.example.com/",
    "https://api.example.com@evil.net/",
    "https://user:pw@api.example.com/items",
    "https://sub.api.example.com/",
    "https://bücher.example/",
    "https://xn--bcher-kva.example/",
    "http://127.0.0.1:8080/x",
    "http://127.0.0.1:8081/x",
    "http://localhost:8080/x",
    "http://[::1]:8080/x",
    "http://[::1]/x",
]
HOSTS = [
    Host("api.example.com"),
    Host("https://api.example.com:443"),
    Host("bücher.example"),
    Host("127.0.0.1:8080", "http"),
    Host("[::1]:8080", "http"),
]


@pytest.mark.parametrize("host", HOSTS, ids=str)
def test_httpx_host_check_agrees_with_host_matches(host: Host) -> None:
    provider = OAuthTokenProvider(host, "client", "client-secret", token_url="https://t.example/")
    auth = provider.httpx_auth()
    assert isinstance(auth, ProviderAuth)
    for _ in range(2):  # the first answer for an origin, then the remembered one
        for url in URLS:
            request = httpx.Request("GET", url)
            expected = host.matches(str(request.url))
            assert auth._client.on_host(host, request) is expected, url


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer mine"}, {"authorization": "x"}, {"Cookie": "a=1"}],
    ids=["none", "own", "own-lower-case", "cookie"],
)
@pytest.mark.parametrize("url", URLS)
def test_requests_hot_path_agrees_with_the_general_handler(
    url: str, headers: dict[str, str]
) -> None:
    provider = OAuthTokenProvider(
        "api.example.com", "client", "client-secret", token_url="https://t.example/"
    )
    provider._header_item = lambda: ("Authorization", "Bearer fixed")  # type: ignore[method-assign]
    results = []
    for handle in (
        requests_adapter.header_handler,
        requests_adapter.cached_header_handler,
        requests_adapter.handler,
    ):
        prepared = requests.Request("GET", url, headers=headers).prepare()
        handle(provider, prepared)
        results.append((dict(prepared.headers), len(prepared.hooks["response"])))
    assert results[0] == results[1] == results[2]


def test_the_engine_s_providers_take_the_snapshot_fast_path() -> None:
    assert OAuthTokenProvider.__call__ is requests_adapter.cached_header_handler
    assert CachedTokenProvider.requests_auth_handler is requests_adapter.cached_header_handler


def test_a_provider_with_its_own_header_item_is_asked_for_it() -> None:
    class Stamped(CachedTokenProvider):
        def _request_token(self) -> tuple[str, float]:
            return "engine-token", time.time() + 600

        def _header_item(self) -> tuple[str, str]:
            return ("Authorization", "Stamped " + super()._header_item()[1])

    provider = Stamped("api.example.com")
    assert Stamped.__call__ is requests_adapter.header_handler
    for _ in range(2):  # cold, then with a fresh token in the snapshot
        prepared = requests.Request("GET", "https://api.example.com/x").prepare()
        provider(prepared)
        assert prepared.headers["Authorization"] == "Stamped Bearer engine-token"


def test_the_snapshot_fast_path_serves_the_engine_s_token_and_refreshes_when_due() -> None:
    clock = FakeClock()
    tokens = iter(["first", "second"])

    class Counting(CachedTokenProvider):
        def _request_token(self) -> tuple[str, float]:
            return next(tokens), clock.time() + 100

    provider = Counting("api.example.com", clock=clock, cache=MemoryTokenCache())
    sent = []
    for advance in (0, 1, 200):  # cold; fresh; expired
        clock.advance(advance)
        prepared = requests.Request("GET", "https://api.example.com/x").prepare()
        provider(prepared)
        sent.append(prepared.headers["Authorization"])
    assert sent == ["Bearer first", "Bearer first", "Bearer second"]


HEADER_SETS: list[dict[str, str | bytes]] = [
    {},
    {"Accept": "*/*"},
    {"authorization": "Bearer mine"},
    {"AUTHORIZATION": "Basic eA=="},
    {"Cookie": "a=1", "X-Other": "é".encode()},  # a header that is not ASCII
]


@pytest.mark.parametrize("headers", HEADER_SETS)
@pytest.mark.parametrize("encoding", [None, "utf-8", "latin-1"])
def test_httpx_header_shortcuts_agree_with_httpx_headers(
    headers: dict[str, str | bytes], encoding: str | None
) -> None:
    """The adapter reads and adds headers in httpx's `Headers._list` directly; this
    guards that against a change in httpx."""
    provider = OAuthTokenProvider(
        "api.example.com", "client", "client-secret", token_url="https://t.example/"
    )
    client = provider.httpx_auth()._client  # type: ignore[attr-defined]
    ours, theirs = (httpx.Request("GET", "https://api.example.com/", headers=headers) for _ in "ab")
    for request in (ours, theirs):
        if encoding is not None:
            request.headers.encoding = encoding
    for name in ("Authorization", "Cookie", "Accept"):
        assert client.header(ours, name) == theirs.headers.get(name)
    if client.header(ours, "Authorization") is None:
        client.add_header(ours, "Authorization", "Bearer fresh")
        theirs.headers["Authorization"] = "Bearer fresh"
    assert ours.headers.raw == theirs.headers.raw
    assert ours.headers.multi_items() == theirs.headers.multi_items()


@pytest.mark.parametrize(
    ("style", "path"), [("raw", "header"), ("bearer", "header"), ("cookie", "general")]
)
def test_a_tds_provider_takes_the_fast_path_unless_its_token_is_a_cookie(
    monkeypatch: pytest.MonkeyPatch, style: str, path: str
) -> None:
    taken: list[str] = []
    fast, general = requests_adapter.header_handler, requests_adapter.handler

    def spy(name: str, handler: Callable[..., Any]) -> Callable[..., Any]:
        def called(provider: Any, r: Any) -> Any:
            taken.append(name)
            return handler(provider, r)

        return called

    monkeypatch.setattr(requests_adapter, "header_handler", spy("header", fast))
    monkeypatch.setattr(requests_adapter, "handler", spy("general", general))
    provider = TDSTokenProvider(
        "https://cmr.example.com",
        "client",
        lambda_arn="arn:aws:lambda:us-west-2:123456789012:function:dispenser",
        boto3_session=fake_session(REGION),
        auth_style=style,  # type: ignore[arg-type]
    )
    request = requests.Request("GET", "https://other.example.com/").prepare()
    provider(request)  # another host: no token is needed to decide
    assert taken == [path]
