"""The requests auth handler: host-only attachment, redirects and the 401 retry."""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import requests
from requests.adapters import HTTPAdapter

from tokenprovider import JWTTokenProvider, OAuthError, OAuthTokenProvider, TokenProvider
from tokenprovider.testing.http_recorder import RecordingHTTPServer
from tokenprovider.testing.oauth_server import LocalOAuthServer


@pytest.fixture
def provider(oauth_server: LocalOAuthServer) -> OAuthTokenProvider:
    return OAuthTokenProvider(
        oauth_server.url, "client", "client-secret", token_url=oauth_server.token_url
    )


def test_provider_is_a_requests_auth(
    oauth_server: LocalOAuthServer, provider: OAuthTokenProvider
) -> None:
    response = requests.get(oauth_server.resource_url, auth=provider, timeout=10)
    assert response.status_code == 200
    assert response.json()["client_id"] == "client"
    assert response.request.headers["Authorization"] == f"Bearer {provider.token}"


def test_session_has_the_provider_installed(
    oauth_server: LocalOAuthServer, provider: OAuthTokenProvider
) -> None:
    with provider.session() as session:
        assert session.auth is provider
        assert session.get(oauth_server.resource_url).status_code == 200


def test_existing_authorization_header_is_kept(
    oauth_server: LocalOAuthServer, provider: OAuthTokenProvider
) -> None:
    response = requests.get(
        oauth_server.resource_url,
        auth=provider,
        headers={"authorization": "Bearer mine"},
        timeout=10,
    )
    assert response.status_code == 401
    assert response.request.headers["Authorization"] == "Bearer mine"
    assert oauth_server.token_requests == 0
    assert oauth_server.resource_requests == 1  # not retried: the header was not ours


def test_token_is_withheld_from_other_hosts(
    oauth_server: LocalOAuthServer,
    foreign_server: RecordingHTTPServer,
    provider: OAuthTokenProvider,
) -> None:
    with provider.session() as session:
        session.get(foreign_server.url + "/direct")
        # same IP, other port: another origin
        assert foreign_server.domain != oauth_server.domain
    [seen] = foreign_server.requests
    assert "authorization" not in seen.headers
    assert oauth_server.token_requests == 0  # no token was even fetched


def test_token_is_withheld_after_a_redirect_to_another_host(
    oauth_server: LocalOAuthServer,
    foreign_server: RecordingHTTPServer,
    provider: OAuthTokenProvider,
) -> None:
    target = quote(foreign_server.url + "/landing", safe="")
    with provider.session() as session:
        response = session.get(f"{oauth_server.url}/redirect?to={target}")
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [302]
    assert response.history[0].request.headers["Authorization"].startswith("Bearer ")
    [seen] = foreign_server.requests
    assert seen.path == "/landing"
    assert "authorization" not in seen.headers


def test_401_refreshes_and_retries_once(
    oauth_server: LocalOAuthServer, provider: OAuthTokenProvider
) -> None:
    with provider.session() as session:
        first = session.get(oauth_server.resource_url)
        old = provider.token
        oauth_server.revoke_all()
        response = session.get(oauth_server.resource_url)
    assert first.status_code == 200
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    assert provider.token != old
    assert response.request.headers["Authorization"] == f"Bearer {provider.token}"
    assert oauth_server.token_requests == 2
    assert oauth_server.resource_unauthorized == 1


def test_second_401_is_returned_not_retried_again(
    oauth_server: LocalOAuthServer, provider: OAuthTokenProvider
) -> None:
    with provider.session() as session:
        session.get(oauth_server.resource_url)
        oauth_server.revoke_all()
        # Every new token is already dead at the resource, though the client is not told.
        oauth_server.token_lifetime = 0
        oauth_server.include_expires_in = False
        response = session.get(oauth_server.resource_url)
    assert response.status_code == 401
    assert oauth_server.resource_requests == 3  # first call, the 401, one retry
    assert oauth_server.token_requests == 2


def test_50_threads_hitting_401_cause_one_refresh(
    oauth_server: LocalOAuthServer, provider: OAuthTokenProvider
) -> None:
    callers = 50
    with provider.session() as session:
        assert session.get(oauth_server.resource_url).status_code == 200
        oauth_server.revoke_all()
        barrier = threading.Barrier(callers)
        statuses: list[int] = []

        def caller() -> None:
            barrier.wait()
            statuses.append(session.get(oauth_server.resource_url).status_code)

        threads = [threading.Thread(target=caller) for _ in range(callers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert statuses == [200] * callers
    assert oauth_server.token_requests == 2  # the first token and exactly one refresh


def test_late_401_for_a_replaced_token_does_not_refresh_again(
    oauth_server: LocalOAuthServer, provider: OAuthTokenProvider
) -> None:
    with provider.session() as session:
        stale = session.prepare_request(requests.Request("GET", oauth_server.resource_url))
        oauth_server.revoke_all()
        assert session.get(oauth_server.resource_url).status_code == 200  # refreshed
        response = session.send(stale)  # still carries the revoked token
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    assert oauth_server.token_requests == 2  # the 401 for the old token refreshed nothing


def _chunks() -> Iterator[bytes]:
    yield b"part one, "
    yield b"part two"


def test_streaming_body_is_not_retried(
    oauth_server: LocalOAuthServer, provider: OAuthTokenProvider
) -> None:
    with provider.session() as session:
        session.get(oauth_server.resource_url)
        oauth_server.revoke_all()
        response = session.post(oauth_server.resource_url, data=_chunks())
    assert response.status_code == 401
    assert response.history == []
    assert oauth_server.resource_requests == 2
    assert oauth_server.token_requests == 2  # the dead token was still replaced


@pytest.mark.parametrize(
    "body",
    [b"bytes body", "text body", io.BytesIO(b"seekable file body")],
    ids=["bytes", "str", "seekable-file"],
)
def test_replayable_body_is_retried(
    oauth_server: LocalOAuthServer, provider: OAuthTokenProvider, body: object
) -> None:
    with provider.session() as session:
        session.get(oauth_server.resource_url)
        oauth_server.revoke_all()
        response = session.post(oauth_server.resource_url, data=body)
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    assert response.request.body is not None


def test_401_from_another_host_does_not_refresh(
    oauth_server: LocalOAuthServer, provider: OAuthTokenProvider
) -> None:
    with LocalOAuthServer() as other, provider.session() as session:
        session.get(oauth_server.resource_url)
        response = session.get(other.resource_url)
    assert response.status_code == 401
    assert oauth_server.token_requests == 1
    assert "Authorization" not in response.request.headers


def _jwt(payload: dict[str, object]) -> str:
    def segment(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{segment({'alg': 'none'})}.{segment(payload)}.sig"


def test_static_token_is_not_retried_on_401(oauth_server: LocalOAuthServer) -> None:
    provider = JWTTokenProvider(oauth_server.url, _jwt({"sub": "someone"}))
    response = requests.get(oauth_server.resource_url, auth=provider, timeout=10)
    assert response.status_code == 401
    assert response.history == []
    assert oauth_server.resource_requests == 1


def test_custom_provider_subclass_gets_the_handler() -> None:
    class Fixed(TokenProvider):
        @property
        def token(self) -> str:
            return "fixed"

    provider = Fixed("api.example.com")
    prepared = requests.Request("GET", "https://api.example.com/items").prepare()
    assert provider(prepared) is prepared
    assert prepared.headers["Authorization"] == "Bearer fixed"
    other = requests.Request("GET", "https://elsewhere.example.com/").prepare()
    assert "Authorization" not in provider.requests_auth_handler(other).headers


class ProtectedExtras(LocalOAuthServer):
    """Adds /hop (protected, redirects to /resource), /forbidden (always 401) and
    /cookie (a 401 that sets a cookie, then 200), and records Cookie headers."""

    def __init__(self) -> None:
        super().__init__(clients={"client": "client-secret"})
        self.cookies_seen: list[str | None] = []

    def handle(self, request, body) -> None:  # type: ignore[no-untyped-def]
        path = request.path.partition("?")[0]
        if path == "/hop":
            if self.accepts(request.headers.get("Authorization")):
                request.respond(302, b"", "text/plain", {"Location": "/resource"})
            else:
                request.respond_json(401, {"error": "invalid_token"})
        elif path == "/forbidden":
            request.respond_json(401, {"error": "insufficient_scope"})
        elif path == "/cookie":
            self.cookies_seen.append(request.headers.get("Cookie"))
            if len(self.cookies_seen) == 1:
                request.respond(401, b"{}", "application/json", {"Set-Cookie": "nonce=abc; Path=/"})
            else:
                request.respond_json(200, {})
        else:
            super().handle(request, body)


@pytest.fixture
def extras() -> Iterator[ProtectedExtras]:
    with ProtectedExtras() as server:
        yield server


def _provider_for(server: LocalOAuthServer, **kwargs: float) -> OAuthTokenProvider:
    return OAuthTokenProvider(
        server.url, "client", "client-secret", token_url=server.token_url, **kwargs
    )


def test_401_that_a_fresh_token_does_not_cure_is_not_a_token_storm(
    extras: ProtectedExtras,
) -> None:
    with _provider_for(extras).session() as session:
        statuses = [session.get(extras.url + "/forbidden").status_code for _ in range(20)]
    assert statuses == [401] * 20
    assert extras.token_requests == 2  # the first token and one 401-driven refresh


def test_redirect_after_the_401_retry_carries_the_fresh_token(extras: ProtectedExtras) -> None:
    provider = _provider_for(extras)
    with provider.session() as session:
        session.get(extras.resource_url)
        extras.revoke_all()
        response = session.get(extras.url + "/hop")
    assert response.status_code == 200
    assert response.request.headers["Authorization"] == f"Bearer {provider.token}"
    assert extras.resource_unauthorized == 0  # /resource never saw the revoked token
    assert extras.token_requests == 2


def test_retry_sends_cookies_the_401_set(extras: ProtectedExtras) -> None:
    with _provider_for(extras).session() as session:
        session.cookies.set("sid", "1")
        response = session.get(extras.url + "/cookie")
    assert response.status_code == 200
    assert extras.cookies_seen == ["sid=1", "sid=1; nonce=abc"]


def test_failed_refresh_after_401_releases_the_connection(oauth_server: LocalOAuthServer) -> None:
    provider = _provider_for(oauth_server, failure_cooldown=0)
    with provider.session() as session:
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=1, pool_block=True)
        session.mount("http://", adapter)
        assert session.get(oauth_server.resource_url).status_code == 200
        oauth_server.revoke_all()
        oauth_server.respond_next(400, b'{"error": "invalid_client"}')
        with pytest.raises(OAuthError):
            session.get(oauth_server.resource_url)
        # With the only pooled connection leaked, this request would wait forever.
        assert session.get(oauth_server.resource_url, timeout=10).status_code == 200


def test_subclass_with_its_own_call_keeps_it() -> None:
    class Signing(OAuthTokenProvider):
        def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
            r.headers["X-Signature"] = "signed"
            return self.requests_auth_handler(r)

    provider = Signing("api.example.com", "client", "client-secret", token_url="https://t.example/")
    prepared = requests.Request("GET", "https://elsewhere.example.com/").prepare()
    assert provider(prepared).headers["X-Signature"] == "signed"
