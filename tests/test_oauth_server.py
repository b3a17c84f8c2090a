"""Tests of the local OAuth2 server and the recording HTTP server, over real sockets."""

from __future__ import annotations

import base64
import http.client
import threading
import urllib.parse
import warnings
from collections.abc import Iterator

import pytest
import requests

from tokenprovider import OAuthTokenProvider
from tokenprovider.testing.http_recorder import RecordingHTTPServer
from tokenprovider.testing.oauth_server import LocalOAuthServer, WellKnown

GRANT = {"grant_type": "client_credentials"}
OAUTH = "/.well-known/oauth-authorization-server"
OPENID = "/.well-known/openid-configuration"


@pytest.fixture
def server() -> Iterator[LocalOAuthServer]:
    with LocalOAuthServer(clients={"reporting": "s3cret", "we:ird id": "p@ss wörd+"}) as srv:
        yield srv


@pytest.fixture
def recorder() -> Iterator[RecordingHTTPServer]:
    with RecordingHTTPServer() as srv:
        yield srv


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{urllib.parse.quote_plus(client_id)}:{urllib.parse.quote_plus(secret)}"
    return {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}


def fetch(server: LocalOAuthServer, **form: str) -> requests.Response:
    data = {**GRANT, "client_id": "reporting", "client_secret": "s3cret", **form}
    return requests.post(server.token_url, data=data, timeout=5)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_urls(server: LocalOAuthServer) -> None:
    assert server.url == f"http://{server.domain}"
    assert server.domain.startswith("127.0.0.1:")
    assert server.token_url == server.url + "/oauth2/token"
    assert server.resource_url == server.url + "/resource"


def test_basic_auth_issues_token_with_form_urlencoded_credentials(
    server: LocalOAuthServer,
) -> None:
    resp = requests.post(
        server.token_url, data=GRANT, headers=basic("we:ird id", "p@ss wörd+"), timeout=5
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert "scope" not in body
    assert resp.headers["Cache-Control"] == "no-store"
    record = server.last_token_request
    assert record is not None
    assert (record.client_auth, record.client_id) == ("basic", "we:ird id")
    assert record.headers["authorization"].startswith("Basic ")


def test_post_auth_issues_token_with_scope(server: LocalOAuthServer) -> None:
    resp = fetch(server, scope="read write")
    assert resp.status_code == 200
    assert resp.json()["scope"] == "read write"
    record = server.last_token_request
    assert record is not None
    assert (record.client_auth, record.client_id) == ("post", "reporting")
    assert record.form["scope"] == ["read write"]


@pytest.mark.parametrize(("lifetime", "expected"), [(0.5, 0.5), (90.9, 90)])
def test_expires_in_format(server: LocalOAuthServer, lifetime: float, expected: float) -> None:
    server.token_lifetime = lifetime
    assert fetch(server).json()["expires_in"] == expected


def test_expires_in_can_be_omitted(server: LocalOAuthServer) -> None:
    server.include_expires_in = False
    assert "expires_in" not in fetch(server).json()


@pytest.mark.parametrize("secret", ["wrong", ""])
def test_wrong_secret_is_invalid_client(server: LocalOAuthServer, secret: str) -> None:
    resp = fetch(server, client_secret=secret)
    assert resp.status_code == 401
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.headers["WWW-Authenticate"] == 'Basic realm="local"'
    assert resp.json()["error"] == "invalid_client"
    assert "error_description" in resp.json()
    assert server.tokens_issued == 0


def test_unknown_client_and_no_credentials_are_invalid_client(server: LocalOAuthServer) -> None:
    assert fetch(server, client_id="nobody").status_code == 401
    resp = requests.post(server.token_url, data=GRANT, timeout=5)
    assert resp.status_code == 401
    assert server.last_token_request is not None
    assert server.last_token_request.client_auth == "none"


@pytest.mark.parametrize(
    ("grant", "error"),
    [("password", "unsupported_grant_type"), ("", "invalid_request")],
)
def test_bad_grant_type(server: LocalOAuthServer, grant: str, error: str) -> None:
    resp = fetch(server, grant_type=grant)
    assert resp.status_code == 400
    assert resp.json()["error"] == error


def test_both_auth_methods_is_invalid_request(server: LocalOAuthServer) -> None:
    data = {**GRANT, "client_id": "reporting", "client_secret": "s3cret"}
    resp = requests.post(
        server.token_url, data=data, headers=basic("reporting", "s3cret"), timeout=5
    )
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_request"


def test_resource_accepts_issued_token(server: LocalOAuthServer) -> None:
    token = fetch(server, scope="a b").json()["access_token"]
    resp = requests.get(server.resource_url + "/x/y", headers=bearer(token), timeout=5)
    assert resp.status_code == 200
    assert resp.json() == {"client_id": "reporting", "scope": ["a", "b"], "path": "/resource/x/y"}
    assert (server.resource_requests, server.resource_unauthorized) == (1, 0)


@pytest.mark.parametrize("headers", [bearer("unknown"), {}, {"Authorization": "Basic abc"}])
def test_resource_rejects_unknown_token(server: LocalOAuthServer, headers: dict[str, str]) -> None:
    resp = requests.get(server.resource_url, headers=headers, timeout=5)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert resp.json() == {"error": "invalid_token"}
    assert server.resource_unauthorized == 1


@pytest.mark.parametrize("invalidate", ["revoke_all", "expire_all"])
def test_resource_rejects_revoked_or_expired_token(
    server: LocalOAuthServer, invalidate: str
) -> None:
    old = fetch(server).json()["access_token"]
    getattr(server, invalidate)()
    new = fetch(server).json()["access_token"]
    assert requests.get(server.resource_url, headers=bearer(old), timeout=5).status_code == 401
    assert requests.get(server.resource_url, headers=bearer(new), timeout=5).status_code == 200
    assert server.resource_unauthorized == 1


@pytest.mark.parametrize(("retry_after", "header"), [(7.0, "7"), (1.5, "1.5")])
def test_fail_next_with_retry_after(
    server: LocalOAuthServer, retry_after: float, header: str
) -> None:
    server.fail_next(2, 429, retry_after=retry_after)
    for _ in range(2):
        resp = fetch(server)
        assert resp.status_code == 429
        assert resp.headers["Retry-After"] == header
        assert resp.json() == {"error": "temporarily_unavailable"}
    assert fetch(server).status_code == 200
    assert (server.token_requests, server.tokens_issued) == (3, 1)


def test_respond_next_sends_raw_body(server: LocalOAuthServer) -> None:
    server.respond_next(200, b"{not json", count=1)
    resp = fetch(server)
    assert (resp.status_code, resp.content) == (200, b"{not json")
    assert resp.headers["Content-Type"] == "application/json"
    assert "access_token" in fetch(server).json()


def test_drop_next_is_a_connection_error(server: LocalOAuthServer) -> None:
    server.drop_next()
    with pytest.raises(requests.ConnectionError):
        fetch(server)
    assert server.token_requests == 1
    assert fetch(server).status_code == 200


@pytest.mark.parametrize(
    ("mode", "served"),
    [("oauth", {OAUTH}), ("openid", {OPENID}), ("both", {OAUTH, OPENID}), ("none", set())],
)
def test_well_known_variants(mode: WellKnown, served: set[str]) -> None:
    with LocalOAuthServer(well_known=mode) as srv:
        for path in (OAUTH, OPENID):
            resp = requests.get(srv.url + path, timeout=5)
            assert resp.status_code == (200 if path in served else 404)
            if path in served:
                assert resp.json()["issuer"] == srv.url
                assert resp.json()["token_endpoint"] == srv.token_url
                assert resp.json()["grant_types_supported"] == ["client_credentials"]


def test_invalid_well_known_is_rejected() -> None:
    with pytest.raises(ValueError, match="well_known"):
        LocalOAuthServer(well_known="bogus")  # type: ignore[arg-type]


def test_redirect_and_not_found(server: LocalOAuthServer) -> None:
    target = "http://example.invalid/landing?x=1"
    url = server.url + "/redirect?" + urllib.parse.urlencode({"to": target})
    resp = requests.get(url, allow_redirects=False, timeout=5)
    assert (resp.status_code, resp.headers["Location"]) == (302, target)
    missing = requests.get(server.url + "/nope", timeout=5)
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"


def test_counters_records_and_wait(server: LocalOAuthServer) -> None:
    assert not server.wait_for_token_requests(1, timeout=0.01)
    fetch(server)
    fetch(server, client_secret="bad")
    assert server.wait_for_token_requests(2, timeout=0)
    assert (server.token_requests, server.tokens_issued) == (2, 1)
    assert [r.client_id for r in server.token_request_records] == ["reporting", "reporting"]
    server.reset_counters()
    assert (server.token_requests, server.tokens_issued, server.resource_requests) == (0, 0, 0)
    assert server.last_token_request is None
    assert server.token_request_records == []


def test_hold_and_release_gate(server: LocalOAuthServer) -> None:
    server.hold_token_requests()
    results: list[int] = []
    worker = threading.Thread(target=lambda: results.append(fetch(server).status_code))
    worker.start()
    assert server.wait_for_token_requests(1)
    assert results == []
    assert server.tokens_issued == 0
    server.release_token_requests()
    worker.join(timeout=5)
    assert results == [200]


def test_stop_releases_gate_and_is_idempotent() -> None:
    srv = LocalOAuthServer().start()
    srv.hold_token_requests()
    errors: list[BaseException] = []

    def call() -> None:
        try:
            requests.post(srv.token_url, data=GRANT, timeout=5)
        except requests.RequestException as exc:
            errors.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    assert srv.wait_for_token_requests(1)
    srv.stop()
    srv.stop()
    worker.join(timeout=5)
    assert not worker.is_alive()
    with pytest.raises(requests.ConnectionError):
        requests.get(srv.url + "/nope", timeout=5)


def test_chunked_post_to_resource_keeps_connection_alive(server: LocalOAuthServer) -> None:
    token = fetch(server).json()["access_token"]
    conn = http.client.HTTPConnection(server.domain, timeout=5)
    try:
        for _ in range(2):
            chunks = iter([b"hello ", b"chunked ", b"world"])
            conn.request(
                "POST", "/resource/upload", body=chunks, headers=bearer(token), encode_chunked=True
            )
            resp = conn.getresponse()
            assert resp.status == 200
            assert b'"/resource/upload"' in resp.read()
        conn.request("PUT", "/resource", body=b"x" * 1000, headers=bearer(token))
        assert conn.getresponse().status == 200
    finally:
        conn.close()
    assert server.resource_requests == 3


def test_recording_server_records_requests(recorder: RecordingHTTPServer) -> None:
    resp = requests.post(
        recorder.url + "/a/b?q=1", data=b"payload", headers={"X-Custom": "v"}, timeout=5
    )
    assert resp.json() == {"ok": True}
    requests.get(recorder.url + "/c", timeout=5)
    first, second = recorder.requests
    assert (first.method, first.path, first.body) == ("POST", "/a/b?q=1", b"payload")
    assert first.headers["x-custom"] == "v"
    assert first.headers["host"] == recorder.domain
    assert (second.method, second.path) == ("GET", "/c")
    recorder.clear()
    assert recorder.requests == []


def test_recording_server_redirects(recorder: RecordingHTTPServer) -> None:
    recorder.redirect_to = "http://other.invalid"
    resp = requests.get(recorder.url + "/p?x=1", allow_redirects=False, timeout=5)
    assert (resp.status_code, resp.headers["Location"]) == (302, "http://other.invalid/p?x=1")
    assert [r.path for r in recorder.requests] == ["/p?x=1"]


def test_the_oauth_server_fixtures_client_takes_a_token_without_a_warning(
    oauth_server: LocalOAuthServer,
) -> None:
    # A short default secret made every provider built with it warn (and fail under -W error).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        provider = OAuthTokenProvider(
            oauth_server.url, "client", "client-secret", token_url=oauth_server.token_url
        )
        assert provider.token
    assert oauth_server.clients == {"client": "client-secret"}
    assert oauth_server.token_requests == 1
