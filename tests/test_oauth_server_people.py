"""The local OAuth server's people grants, over real sockets: code + PKCE, device, refresh."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import urllib.parse
from collections.abc import Iterator

import pytest
import requests

from tokenprovider.testing import FakeClock, LocalOAuthServer

DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
PASSWORD = "canary-password-0b9e"
VERIFIER = "canary-verifier-" + "v" * 40  # 56 characters of the unreserved set
CALLBACK = "http://127.0.0.1/callback"


def challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server(clock: FakeClock) -> Iterator[LocalOAuthServer]:
    with LocalOAuthServer(
        public_clients={"cli": [CALLBACK, "https://app.example/cb"], "other": [CALLBACK]},
        users={"alice": PASSWORD},
        clock=clock.monotonic,
    ) as srv:
        yield srv


def params(**overrides: str | None) -> dict[str, str]:
    base: dict[str, str | None] = {
        "response_type": "code",
        "client_id": "cli",
        "redirect_uri": "http://127.0.0.1:53117/callback",
        "state": "st-1",
        "scope": "read write",
        "code_challenge": challenge(VERIFIER),
        "code_challenge_method": "S256",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def authorize_url(server: LocalOAuthServer) -> str:
    return server.url + "/oauth2/authorize"


def submit(
    server: LocalOAuthServer, query: dict[str, str], decision: str = "approve", **login: str
) -> requests.Response:
    form = {**query, "username": "alice", "password": PASSWORD, "decision": decision, **login}
    return requests.post(authorize_url(server), data=form, allow_redirects=False, timeout=5)


def answer(resp: requests.Response) -> tuple[str, dict[str, str]]:
    """(where the 302 goes without its query, the query's parameters)."""
    assert resp.status_code == 302, resp.text
    location = urllib.parse.urlsplit(resp.headers["Location"])
    target = urllib.parse.urlunsplit(location._replace(query=""))
    return target, dict(urllib.parse.parse_qsl(location.query))


def get_code(server: LocalOAuthServer, query: dict[str, str] | None = None) -> str:
    _, got = answer(submit(server, query or params()))
    return got["code"]


def token(server: LocalOAuthServer, **form: str) -> requests.Response:
    return requests.post(server.token_url, data={"client_id": "cli", **form}, timeout=5)


def exchange(server: LocalOAuthServer, code: str, **form: str) -> requests.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": "http://127.0.0.1:53117/callback",
        "code_verifier": VERIFIER,
        **form,
    }
    return token(server, **data)


def refresh(server: LocalOAuthServer, refresh_token: str) -> requests.Response:
    return token(server, grant_type="refresh_token", refresh_token=refresh_token)


def resource(server: LocalOAuthServer, access: str) -> int:
    headers = {"Authorization": f"Bearer {access}"}
    return requests.get(server.resource_url, headers=headers, timeout=5).status_code


def error_of(resp: requests.Response) -> str:
    assert resp.status_code == 400, resp.text
    return str(resp.json()["error"])


# -- authorization code with PKCE -------------------------------------------------------------


def test_pkce_dance_by_hand(server: LocalOAuthServer) -> None:
    page = requests.get(authorize_url(server), params=params(), timeout=5)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "<form method='post'" in page.text
    assert "name='password'" in page.text
    target, got = answer(submit(server, params()))
    assert target == "http://127.0.0.1:53117/callback"
    assert got["state"] == "st-1"
    assert set(got) == {"code", "state"}
    resp = exchange(server, got["code"])
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    body = resp.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "read write"
    assert body["refresh_token"]
    assert body["expires_in"] == 3600
    assert resource(server, body["access_token"]) == 200
    assert (server.authorization_codes_issued, server.refresh_tokens_issued) == (1, 1)


def test_code_is_single_use_and_reuse_revokes_its_tokens(server: LocalOAuthServer) -> None:
    code = get_code(server)
    tokens = exchange(server, code).json()
    assert error_of(exchange(server, code)) == "invalid_grant"
    assert server.authorization_codes_reused == 1
    assert server.families_revoked == 1  # RFC 6749 §4.1.2
    assert resource(server, tokens["access_token"]) == 401
    assert error_of(refresh(server, tokens["refresh_token"])) == "invalid_grant"


def test_code_is_short_lived(server: LocalOAuthServer, clock: FakeClock) -> None:
    code = get_code(server)
    clock.advance(61)
    assert error_of(exchange(server, code)) == "invalid_grant"


@pytest.mark.parametrize(
    "form",
    [
        {"code_verifier": "w" * 43},
        {"code_verifier": "short"},
        {"code_verifier": ""},
        {"redirect_uri": "http://127.0.0.1:9/callback"},
        {"client_id": "other"},
    ],
)
def test_code_is_bound_to_verifier_redirect_and_client(
    server: LocalOAuthServer, form: dict[str, str]
) -> None:
    code = get_code(server)
    assert error_of(exchange(server, code, **form)) == "invalid_grant"
    assert error_of(exchange(server, code)) == "invalid_grant"  # spent by the failed try


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge": "not-a-digest"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": 'bad"scope'}, "invalid_scope"),
    ],
)
def test_invalid_authorization_requests_redirect_with_error(
    server: LocalOAuthServer, overrides: dict[str, str | None], error: str
) -> None:
    resp = requests.get(
        authorize_url(server), params=params(**overrides), allow_redirects=False, timeout=5
    )
    target, got = answer(resp)
    assert target == "http://127.0.0.1:53117/callback"
    assert got["error"] == error
    assert got["state"] == "st-1"
    assert "code" not in got
    assert answer(submit(server, params(**overrides)))[1]["error"] == error  # the form too


def test_missing_state_is_refused(server: LocalOAuthServer) -> None:
    _, got = answer(submit(server, params(state=None)))
    assert got == {"error": "invalid_request", "error_description": "state is required"}


@pytest.mark.parametrize(
    "overrides",
    [
        {"client_id": "nobody"},
        {"client_id": None},
        {"redirect_uri": "http://127.0.0.1:5000/elsewhere"},
        {"redirect_uri": "http://localhost:5000/callback"},
        {"redirect_uri": "https://app.example:8443/cb"},
        {"redirect_uri": "https://evil.example/cb"},
        {"redirect_uri": None},
    ],
)
def test_bad_client_or_redirect_uri_never_redirects(
    server: LocalOAuthServer, overrides: dict[str, str | None]
) -> None:
    for resp in (
        requests.get(
            authorize_url(server), params=params(**overrides), allow_redirects=False, timeout=5
        ),
        submit(server, params(**overrides)),
    ):
        assert resp.status_code == 400
        assert "Location" not in resp.headers
    assert server.authorization_codes_issued == 0


@pytest.mark.parametrize(
    "uri", ["http://127.0.0.1:1/callback", "http://127.0.0.1/callback", "https://app.example/cb"]
)
def test_registered_redirects_and_loopback_on_any_port(server: LocalOAuthServer, uri: str) -> None:
    target, got = answer(submit(server, params(redirect_uri=uri)))
    assert target == uri
    assert "code" in got
    assert exchange(server, got["code"], redirect_uri=uri).status_code == 200


def test_ipv6_loopback_redirect_any_port() -> None:
    with LocalOAuthServer(public_clients={"cli": ["http://[::1]/cb"]}, users={"a": "b"}) as srv:
        query = params(redirect_uri="http://[::1]:4444/cb")
        target, got = answer(submit(srv, query, username="a", password="b"))
        assert target == "http://[::1]:4444/cb"
        assert "code" in got


def test_denied_consent_redirects_access_denied(server: LocalOAuthServer) -> None:
    _, got = answer(submit(server, params(), decision="deny"))
    assert got == {"error": "access_denied", "state": "st-1"}
    assert server.authorization_codes_issued == 0


def test_wrong_password_shows_the_form_again(server: LocalOAuthServer) -> None:
    resp = submit(server, params(), password="nope")
    assert resp.status_code == 401
    assert "Location" not in resp.headers
    assert "Wrong username or password" in resp.text
    assert server.authorization_codes_issued == 0


def test_form_escapes_what_it_echoes(server: LocalOAuthServer) -> None:
    evil = "<script>alert('x')</script>"
    page = requests.get(authorize_url(server), params=params(state=evil, scope="a<b"), timeout=5)
    assert page.status_code == 200
    assert "<script>" not in page.text
    assert "a<b" not in page.text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page.text
    _, got = answer(submit(server, params(state=evil)))
    assert got["state"] == evil


def test_public_client_cannot_use_client_credentials(server: LocalOAuthServer) -> None:
    assert token(server, grant_type="client_credentials").status_code == 401


# -- refresh tokens: rotation and reuse detection ---------------------------------------------


def login_tokens(server: LocalOAuthServer) -> dict[str, str]:
    resp = exchange(server, get_code(server))
    assert resp.status_code == 200
    return dict(resp.json())


def test_refresh_rotates(server: LocalOAuthServer) -> None:
    first = login_tokens(server)
    resp = refresh(server, first["refresh_token"])
    assert resp.status_code == 200
    second = resp.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["scope"] == "read write"
    third = refresh(server, second["refresh_token"])
    assert third.status_code == 200
    assert server.refresh_tokens_issued == 3
    assert server.families_revoked == 0


def test_reused_refresh_token_revokes_the_family(server: LocalOAuthServer) -> None:
    first = login_tokens(server)
    bystander = login_tokens(server)  # another login: another family, untouched
    second = refresh(server, first["refresh_token"]).json()
    assert resource(server, second["access_token"]) == 200
    assert error_of(refresh(server, first["refresh_token"])) == "invalid_grant"
    assert (server.refresh_reuse_detected, server.families_revoked) == (1, 1)
    assert error_of(refresh(server, second["refresh_token"])) == "invalid_grant"
    assert resource(server, first["access_token"]) == 401
    assert resource(server, second["access_token"]) == 401
    assert resource(server, bystander["access_token"]) == 200
    assert refresh(server, bystander["refresh_token"]).status_code == 200
    assert server.families_revoked == 1


def test_refresh_token_is_bound_to_its_client(server: LocalOAuthServer) -> None:
    first = login_tokens(server)
    resp = requests.post(
        server.token_url,
        data={
            "client_id": "other",
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
        },
        timeout=5,
    )
    assert error_of(resp) == "invalid_grant"
    assert refresh(server, first["refresh_token"]).status_code == 200
    assert server.families_revoked == 0


def test_reset_counters_zeroes_the_people_counters(server: LocalOAuthServer) -> None:
    code = get_code(server)
    tokens = exchange(server, code).json()
    exchange(server, code)  # code reuse: revokes that family
    tokens = login_tokens(server)
    refresh(server, tokens["refresh_token"])
    refresh(server, tokens["refresh_token"])  # refresh token reuse
    started = device_start(server)
    poll(server, started["device_code"])
    poll(server, started["device_code"])  # slow_down
    assert server.device_slow_downs == 1
    assert server.families_revoked == 2
    assert server.authorization_codes_reused == 1
    server.reset_counters()
    counters = (
        server.authorization_codes_issued,
        server.authorization_codes_reused,
        server.refresh_tokens_issued,
        server.refresh_reuse_detected,
        server.families_revoked,
        server.device_slow_downs,
    )
    assert counters == (0, 0, 0, 0, 0, 0)


def test_unknown_refresh_token(server: LocalOAuthServer) -> None:
    assert error_of(refresh(server, "nope")) == "invalid_grant"
    assert server.families_revoked == 0


# -- revocation (RFC 7009) --------------------------------------------------------------------


def revoke(server: LocalOAuthServer, **form: str) -> requests.Response:
    return requests.post(server.url + "/oauth2/revoke", data=form, timeout=5)


def test_revoking_a_refresh_token_revokes_its_family(server: LocalOAuthServer) -> None:
    tokens = login_tokens(server)
    resp = revoke(server, client_id="cli", token=tokens["refresh_token"])
    assert resp.status_code == 200
    assert resp.content == b""
    assert server.families_revoked == 1
    assert error_of(refresh(server, tokens["refresh_token"])) == "invalid_grant"
    assert resource(server, tokens["access_token"]) == 401


def test_revoking_an_access_token_leaves_the_refresh_token(server: LocalOAuthServer) -> None:
    tokens = login_tokens(server)
    hint = {"token_type_hint": "access_token"}
    assert revoke(server, client_id="cli", token=tokens["access_token"], **hint).status_code == 200
    assert resource(server, tokens["access_token"]) == 401
    assert refresh(server, tokens["refresh_token"]).status_code == 200
    assert server.families_revoked == 0


def test_revocation_checks_client_and_request(server: LocalOAuthServer) -> None:
    tokens = login_tokens(server)
    assert revoke(server, token=tokens["refresh_token"]).status_code == 401
    assert revoke(server, client_id="nobody", token=tokens["refresh_token"]).status_code == 401
    assert revoke(server, client_id="cli").status_code == 400
    assert revoke(server, client_id="cli", token="unknown").status_code == 200
    assert revoke(server, client_id="other", token=tokens["refresh_token"]).status_code == 200
    assert server.families_revoked == 0  # another client's token is not revoked
    assert refresh(server, tokens["refresh_token"]).status_code == 200
    assert requests.get(server.url + "/oauth2/revoke", timeout=5).status_code == 405


# -- device authorization grant (RFC 8628) ----------------------------------------------------


def device_start(server: LocalOAuthServer, client_id: str = "cli") -> dict[str, object]:
    url = server.url + "/oauth2/device_authorization"
    resp = requests.post(url, data={"client_id": client_id, "scope": "read"}, timeout=5)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def poll(server: LocalOAuthServer, device_code: object) -> requests.Response:
    return token(server, grant_type=DEVICE, device_code=str(device_code))


def verify(
    server: LocalOAuthServer, user_code: object, decision: str = "approve", **login: str
) -> requests.Response:
    form = {
        "user_code": str(user_code),
        "username": "alice",
        "password": PASSWORD,
        "decision": decision,
        **login,
    }
    return requests.post(server.url + "/device", data=form, timeout=5)


def test_device_flow_by_hand(server: LocalOAuthServer, clock: FakeClock) -> None:
    started = device_start(server)
    assert started["verification_uri"] == server.url + "/device"
    assert (
        started["verification_uri_complete"]
        == f"{server.url}/device?user_code={started['user_code']}"
    )
    assert (started["expires_in"], started["interval"]) == (600, 5)
    assert re.fullmatch(r"[B-Z]{4}-[B-Z]{4}", str(started["user_code"]))
    assert error_of(poll(server, started["device_code"])) == "authorization_pending"
    clock.advance(5)
    assert error_of(poll(server, started["device_code"])) == "authorization_pending"
    page = requests.get(str(started["verification_uri_complete"]), timeout=5)
    assert page.status_code == 200
    assert f"value='{started['user_code']}'" in page.text
    code = str(started["user_code"]).lower().replace("-", " ")  # typed loosely
    done = verify(server, code)
    assert done.status_code == 200
    assert "Device approved" in done.text
    clock.advance(5)
    resp = poll(server, started["device_code"])
    assert resp.status_code == 200
    body = resp.json()
    assert body["scope"] == "read"
    assert body["refresh_token"]
    assert resource(server, body["access_token"]) == 200
    assert refresh(server, body["refresh_token"]).status_code == 200
    assert error_of(poll(server, started["device_code"])) == "invalid_grant"  # spent
    assert server.device_slow_downs == 0


def test_device_polling_too_fast_slows_down(server: LocalOAuthServer, clock: FakeClock) -> None:
    started = device_start(server)
    assert error_of(poll(server, started["device_code"])) == "authorization_pending"
    clock.advance(4)
    resp = poll(server, started["device_code"])
    assert error_of(resp) == "slow_down"
    assert "10 seconds" in resp.json()["error_description"]
    clock.advance(9)  # the interval is now 10
    assert error_of(poll(server, started["device_code"])) == "slow_down"
    clock.advance(15)
    assert error_of(poll(server, started["device_code"])) == "authorization_pending"
    assert server.device_slow_downs == 2


def test_device_denied(server: LocalOAuthServer) -> None:
    started = device_start(server)
    assert verify(server, started["user_code"], decision="deny").status_code == 200
    assert error_of(poll(server, started["device_code"])) == "access_denied"
    assert error_of(poll(server, started["device_code"])) == "invalid_grant"


def test_device_code_expires(server: LocalOAuthServer, clock: FakeClock) -> None:
    started = device_start(server)
    clock.advance(600)
    assert verify(server, started["user_code"]).status_code == 400
    assert error_of(poll(server, started["device_code"])) == "expired_token"


def test_device_verification_refusals(server: LocalOAuthServer) -> None:
    started = device_start(server)
    assert verify(server, "BCDF-GHJK").status_code == 400
    wrong = verify(server, started["user_code"], password="nope")
    assert wrong.status_code == 401
    assert "Wrong username or password" in wrong.text
    evil = requests.get(server.url + "/device", params={"user_code": "<b>x"}, timeout=5)
    assert "<b>x" not in evil.text
    assert "&lt;b&gt;x" in evil.text
    assert error_of(poll(server, started["device_code"])) == "authorization_pending"


def test_device_code_is_bound_to_its_client(server: LocalOAuthServer) -> None:
    started = device_start(server)
    verify(server, started["user_code"])
    resp = requests.post(
        server.token_url,
        data={
            "client_id": "other",
            "grant_type": DEVICE,
            "device_code": str(started["device_code"]),
        },
        timeout=5,
    )
    assert error_of(resp) == "invalid_grant"
    assert poll(server, started["device_code"]).status_code == 200


def test_device_authorization_needs_a_public_client(server: LocalOAuthServer) -> None:
    url = server.url + "/oauth2/device_authorization"
    assert requests.post(url, data={"client_id": "nobody"}, timeout=5).status_code == 401
    assert requests.post(url, data={}, timeout=5).status_code == 401
    bad = requests.post(url, data={"client_id": "cli", "scope": 'a"b'}, timeout=5)
    assert error_of(bad) == "invalid_scope"
    assert requests.get(url, timeout=5).status_code == 405


# -- metadata, client credentials, canary -----------------------------------------------------


def test_metadata_lists_the_people_endpoints(server: LocalOAuthServer) -> None:
    meta = requests.get(server.url + "/.well-known/oauth-authorization-server", timeout=5).json()
    assert meta["authorization_endpoint"] == server.url + "/oauth2/authorize"
    assert meta["device_authorization_endpoint"] == server.url + "/oauth2/device_authorization"
    assert meta["revocation_endpoint"] == server.url + "/oauth2/revoke"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert set(meta["grant_types_supported"]) == {
        "client_credentials",
        "authorization_code",
        "refresh_token",
        DEVICE,
    }
    assert "none" in meta["token_endpoint_auth_methods_supported"]


def test_client_credentials_still_work_beside_public_clients(server: LocalOAuthServer) -> None:
    data = {
        "grant_type": "client_credentials",
        "client_id": "client",
        "client_secret": "client-secret",
    }
    resp = requests.post(server.token_url, data=data, timeout=5)
    assert resp.status_code == 200
    assert "refresh_token" not in resp.json()
    confidential = {**data, "grant_type": "refresh_token", "refresh_token": "x"}
    assert error_of(requests.post(server.token_url, data=confidential, timeout=5)) == (
        "unsupported_grant_type"
    )


def test_no_secret_in_logs_or_error_answers(
    server: LocalOAuthServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    code = get_code(server)
    answers: list[requests.Response] = [
        exchange(server, code, code_verifier="x" * 43),  # wrong verifier spends the code
        exchange(server, code),
    ]
    tokens = login_tokens(server)
    rotated = refresh(server, tokens["refresh_token"]).json()
    answers += [
        refresh(server, tokens["refresh_token"]),  # reuse
        refresh(server, rotated["refresh_token"]),
        revoke(server, client_id="cli", token=rotated["refresh_token"]),
        submit(server, params(code_challenge_method="plain")),
        submit(server, params(), password=PASSWORD + "x"),
    ]
    started = device_start(server)
    answers += [poll(server, started["device_code"]), poll(server, started["device_code"])]
    clock.advance(601)
    answers.append(poll(server, started["device_code"]))
    secrets_seen = [
        code,
        VERIFIER,
        PASSWORD,
        tokens["refresh_token"],
        rotated["refresh_token"],
        str(started["device_code"]),
    ]
    shown = [r.text + str(r.headers) for r in answers] + [caplog.text]
    shown += [record.getMessage() for record in caplog.records]
    for secret in secrets_seen:
        assert all(secret not in text for text in shown), secret
