"""A person's login through OAuthTokenProvider, over real sockets to the local server.

The person is scripted over HTTP here (tests/login_support.py); tests/test_login_browser.py
drives a real Chromium. The store is a file store in a temporary directory.
"""

from __future__ import annotations

import concurrent.futures
import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import requests

from conftest import all_log_text, assert_no_leak, reachable_text
from login_support import CALLBACK, PASSWORD, Instructions, approve_in_thread
from tokenprovider import (
    ConfigurationError,
    FileTokenCache,
    LoginRequiredError,
    OAuthTokenProvider,
    RetryPolicy,
)
from tokenprovider.caches.logins import FileLoginStore, StoredLogin
from tokenprovider.testing import LocalOAuthServer


@pytest.fixture
def server() -> Iterator[LocalOAuthServer]:
    with LocalOAuthServer(
        public_clients={"cli": [CALLBACK]},
        users={"alice": PASSWORD},
        device_interval=0.05,
    ) as srv:
        yield srv


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "logins"


def person(server: LocalOAuthServer, store_dir: Path, **settings: object) -> OAuthTokenProvider:
    arguments: dict[str, object] = {
        "token_url": server.token_url,
        "grant_type": "authorization_code",
        "scopes": ["openid", "read"],
        "login_store": "file",
        "login_store_dir": store_dir,
        "retry": RetryPolicy(max_attempts=1),
        **settings,
    }
    return OAuthTokenProvider(server.url, "cli", **arguments)  # type: ignore[arg-type]


def log_in(provider: OAuthTokenProvider, **how: str) -> None:
    out = Instructions()
    approving = approve_in_thread(out, **how)
    provider.login(open_browser=False, out=out)
    approving.join(10)


def stored(provider: OAuthTokenProvider) -> StoredLogin | None:
    person = provider._person
    assert person is not None
    return person.store().load(person.key())


def resource(server: LocalOAuthServer, provider: OAuthTokenProvider) -> int:
    return requests.get(server.resource_url, auth=provider, timeout=10).status_code


def test_without_a_login_a_token_call_asks_for_one(
    server: LocalOAuthServer, store_dir: Path
) -> None:
    provider = person(server, store_dir)
    with pytest.raises(LoginRequiredError) as info:
        _ = provider.token
    assert "tokenprovider login" in str(info.value)
    assert info.value.command == "tokenprovider login"
    assert server.token_requests == 0


def test_browser_login_serves_tokens_and_refreshes_with_rotation(
    server: LocalOAuthServer, store_dir: Path
) -> None:
    provider = person(server, store_dir)
    status = provider.login_status()
    assert status is None
    out = Instructions()
    approving = approve_in_thread(out)
    status = provider.login(open_browser=False, out=out)
    approving.join(10)
    assert status.account == "alice"
    assert status.scopes == ("openid", "read")
    assert status.refreshable
    assert str(store_dir) in status.where
    assert server.authorization_codes_issued == 1
    assert server.token_requests == 1  # the code, exchanged once

    assert resource(server, provider) == 200
    assert server.token_requests == 1  # the stored access token, not a new one
    first = stored(provider)
    assert first is not None
    assert first.refresh_token

    provider.invalidate_cache()  # as a 401 would: this token is spent
    assert resource(server, provider) == 200
    second = stored(provider)
    assert second is not None
    assert second.refresh_token not in (None, first.refresh_token)  # rotated, kept at once
    assert second.access_token != first.access_token
    assert server.refresh_tokens_issued == 2
    assert server.refresh_reuse_detected == 0


def test_another_process_login_is_picked_up_without_a_request(
    server: LocalOAuthServer, store_dir: Path
) -> None:
    first = person(server, store_dir)
    log_in(first)
    requests_after_login = server.token_requests
    second = person(server, store_dir)  # a fresh process, as far as the store is concerned
    assert resource(server, second) == 200
    assert server.token_requests == requests_after_login


def test_a_login_after_login_required_works_at_once(
    server: LocalOAuthServer, store_dir: Path
) -> None:
    provider = person(server, store_dir)
    with pytest.raises(LoginRequiredError):
        _ = provider.token
    log_in(person(server, store_dir))  # e.g. `tokenprovider login` meanwhile
    assert resource(server, provider) == 200  # no cooldown after LoginRequiredError


def test_refused_refresh_token_is_forgotten_and_login_is_required(
    server: LocalOAuthServer, store_dir: Path, debug_logs: pytest.LogCaptureFixture
) -> None:
    provider = person(server, store_dir)
    log_in(provider)
    _ = provider.token  # the stored access token: the next one needs the refresh token
    before = stored(provider)
    assert before is not None
    assert before.refresh_token
    # Spent elsewhere (say, a copy of the store on another machine): the server rotated it.
    spent = requests.post(
        server.token_url,
        data={
            "grant_type": "refresh_token",
            "refresh_token": before.refresh_token,
            "client_id": "cli",
        },
        timeout=10,
    )
    assert spent.status_code == 200
    provider.invalidate_cache()
    with pytest.raises(LoginRequiredError) as info:
        _ = provider.token
    assert "invalid_grant" in str(info.value)
    after = stored(provider)
    assert after is None or after.refresh_token != before.refresh_token
    text = reachable_text(info.value) + all_log_text(debug_logs) + repr(provider)
    assert_no_leak(text, before.refresh_token, spent.json()["refresh_token"])


def test_a_refresh_token_rotated_meanwhile_is_kept(
    server: LocalOAuthServer, store_dir: Path
) -> None:
    provider = person(server, store_dir)
    log_in(provider)
    login = stored(provider)
    assert login is not None
    person_grant = provider._person
    assert person_grant is not None
    with person_grant.store().hold(person_grant.key()) as held:
        held.forget_refresh_token("not-the-stored-one")  # what a refused, older token does
    kept = stored(provider)
    assert kept is not None
    assert kept.refresh_token == login.refresh_token


def test_logout_revokes_and_forgets(server: LocalOAuthServer, store_dir: Path) -> None:
    provider = person(server, store_dir)
    log_in(provider)
    login = stored(provider)
    assert login is not None
    assert login.refresh_token
    result = provider.logout()
    assert result.forgotten
    assert result.revoked is True
    assert stored(provider) is None
    again = requests.post(
        server.token_url,
        data={
            "grant_type": "refresh_token",
            "refresh_token": login.refresh_token,
            "client_id": "cli",
        },
        timeout=10,
    )
    assert again.status_code == 400  # revoked at the server, not only forgotten here
    headers = {"Authorization": f"Bearer {login.access_token}"}
    assert requests.get(server.resource_url, headers=headers, timeout=10).status_code == 401
    with pytest.raises(LoginRequiredError):
        _ = provider.token
    assert provider.logout().forgotten is False


def test_login_and_tokens_never_show(
    server: LocalOAuthServer, store_dir: Path, debug_logs: pytest.LogCaptureFixture
) -> None:
    provider = person(server, store_dir)
    out = Instructions()
    approving = approve_in_thread(out)
    status = provider.login(open_browser=False, out=out)
    approving.join(10)
    _ = provider.token
    login = stored(provider)
    assert login is not None
    assert login.refresh_token
    assert login.access_token
    text = (
        repr(provider)
        + repr(status)
        + repr(login)
        + repr(provider._person)
        + all_log_text(debug_logs)
        + out.getvalue()
    )
    assert_no_leak(text, login.refresh_token, login.access_token, PASSWORD)


def test_the_store_is_private(server: LocalOAuthServer, store_dir: Path) -> None:
    provider = person(server, store_dir)
    log_in(provider)
    assert stat.S_IMODE(store_dir.stat().st_mode) == 0o700
    files = [path for path in store_dir.iterdir() if path.suffix == ".json"]
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600


def test_many_threads_share_one_stored_token(server: LocalOAuthServer, store_dir: Path) -> None:
    log_in(person(server, store_dir))
    requests_after_login = server.token_requests
    provider = person(server, store_dir)
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        tokens = set(pool.map(lambda _: provider.token, range(64)))
    assert len(tokens) == 1
    assert server.token_requests == requests_after_login


def test_httpx_adapter_sends_a_persons_token(server: LocalOAuthServer, store_dir: Path) -> None:
    provider = person(server, store_dir)
    log_in(provider)
    with httpx.Client(auth=provider.httpx_auth()) as client:
        assert client.get(server.resource_url).status_code == 200


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"grant_type": "client_credentials", "redirect_port": 8400}, "redirect_port"),
        ({"grant_type": "client_credentials", "login_store": "file"}, "login_store"),
        ({"redirect_port": 80}, "redirect_port"),
        ({"redirect_port": "8400-9999"}, "redirect_port"),
        ({"redirect_port": "84x0"}, "redirect_port"),
        ({"login_store": "vault"}, "login_store"),
        ({"audience": "api"}, "audience"),
        ({"grant_type": "password"}, "grant_type"),
        ({"authorization_url": "http://login.example.com/authorize"}, "authorization_url"),
        ({"cache": "file"}, "cache"),
    ],
)
def test_settings_that_cannot_work_are_refused(
    server: LocalOAuthServer, store_dir: Path, settings: dict[str, object], named: str
) -> None:
    if settings.get("cache") == "file":
        settings = {"cache": FileTokenCache(store_dir / "cache")}
    with pytest.raises(ConfigurationError) as info:
        person(server, store_dir, **settings)
    assert named in str(info.value) or type(settings.get("cache")).__name__ in str(info.value)


def test_redirect_port_range_is_accepted(server: LocalOAuthServer, store_dir: Path) -> None:
    provider = person(server, store_dir, redirect_port="8400-8402")
    assert provider._person is not None
    assert provider._person.redirect_ports == (8400, 8401, 8402)


def test_login_methods_are_for_people_only(server: LocalOAuthServer) -> None:
    service = OAuthTokenProvider(server.url, "client", "secret", token_url=server.token_url)
    assert service.login_command is None
    with pytest.raises(ConfigurationError, match="grant_type"):
        service.login()


def test_store_errors_do_not_leak_and_are_ours(
    server: LocalOAuthServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(target)
    provider = person(server, link)
    with pytest.raises(ConfigurationError) as info:
        _ = provider.token
    assert "link" in str(info.value)


def test_stored_login_from_another_store_key_is_not_used(
    server: LocalOAuthServer, store_dir: Path
) -> None:
    log_in(person(server, store_dir))
    other_scopes = person(server, store_dir, scopes=["openid", "write"])
    with pytest.raises(LoginRequiredError):
        _ = other_scopes.token
    store = FileLoginStore(store_dir)
    assert len([p for p in store.location.iterdir() if p.suffix == ".json"]) == 1


def test_configured_endpoints_need_no_metadata(store_dir: Path) -> None:
    with LocalOAuthServer(
        public_clients={"cli": [CALLBACK]}, users={"alice": PASSWORD}, well_known="none"
    ) as bare:
        provider = person(
            bare,
            store_dir,
            authorization_url=bare.url + "/oauth2/authorize",
            revocation_url=bare.url + "/oauth2/revoke",
        )
        log_in(provider)
        assert resource(bare, provider) == 200
        assert provider.logout().revoked is True


def test_an_endpoint_neither_configured_nor_published_is_named(store_dir: Path) -> None:
    with LocalOAuthServer(
        public_clients={"cli": [CALLBACK]}, users={"alice": PASSWORD}, well_known="none"
    ) as bare:
        provider = person(bare, store_dir, grant_type="device_code")
        with pytest.raises(ConfigurationError) as info:
            provider.login(out=Instructions())
        assert "set device_authorization_url" in str(info.value)
        assert bare.token_requests == 0
