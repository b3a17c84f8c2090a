"""A person's login through OAuthTokenProvider, over real sockets to the local server.

The person is scripted over HTTP here (tests/login_support.py); tests/test_loopback_login.py,
tests/test_device_login.py and tests/test_login_cli.py drive a real Chromium. The store is
a file store in a temporary directory.
"""

from __future__ import annotations

import concurrent.futures
import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import keyring
import pytest
import requests

import login_store_workers
from conftest import all_log_text, assert_no_leak, reachable_text
from login_support import CALLBACK, PASSWORD, Instructions, approve_in_thread
from tokenprovider import (
    ConfigurationError,
    FileTokenCache,
    LoginRequiredError,
    OAuthTokenProvider,
    RetryPolicy,
    parse_credentials_config,
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


def refresh_by_hand(server: LocalOAuthServer, refresh_token: str | None) -> requests.Response:
    """A refresh-token grant sent outside the provider (as a copy elsewhere would)."""
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": "cli"}
    return requests.post(server.token_url, data=form, timeout=10)


def resource(server: LocalOAuthServer, provider: OAuthTokenProvider) -> int:
    return requests.get(server.resource_url, auth=provider, timeout=10).status_code


def test_without_a_login_a_token_call_asks_for_one(
    server: LocalOAuthServer, store_dir: Path
) -> None:
    provider = person(server, store_dir)
    with pytest.raises(LoginRequiredError) as info:
        _ = provider.token
    assert "Log in by calling provider.login()" in str(info.value)  # built in code
    assert info.value.command is None
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
    spent = refresh_by_hand(server, before.refresh_token)
    assert spent.status_code == 200
    provider.invalidate_cache()
    with pytest.raises(LoginRequiredError) as info:
        _ = provider.token
    assert "invalid_grant" in str(info.value)
    after = stored(provider)
    assert after is None or after.refresh_token != before.refresh_token
    text = reachable_text(info.value) + all_log_text(debug_logs) + repr(provider)
    assert_no_leak(text, before.refresh_token, spent.json()["refresh_token"])


def test_a_token_another_process_rotated_meanwhile_is_used_not_spent_again(
    server: LocalOAuthServer, store_dir: Path
) -> None:
    mine = person(server, store_dir)
    log_in(mine)
    _ = mine.token  # both processes hold the same access token
    other = person(server, store_dir)
    _ = other.token
    other.invalidate_cache()
    _ = other.token  # the other process refreshes: the refresh token rotates
    rotated = stored(other)
    assert rotated is not None
    refreshes = server.refresh_tokens_issued
    mine.invalidate_cache()
    assert resource(server, mine) == 200  # adopts the other's token: no request
    assert server.refresh_tokens_issued == refreshes
    assert stored(mine) == rotated
    assert server.refresh_reuse_detected == 0


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
    again = refresh_by_hand(server, login.refresh_token)
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
        ({"extra_params": {"prompt": "login"}}, "extra_params"),
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
    service = OAuthTokenProvider(server.url, "client", "client-secret", token_url=server.token_url)
    assert service.login_command is None
    with pytest.raises(ConfigurationError, match="grant_type"):
        service.login()


def test_an_unsafe_store_is_our_error_and_leaks_nothing(
    server: LocalOAuthServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store_dir = tmp_path / "logins"
    provider = person(server, store_dir)
    log_in(provider)
    login = stored(provider)
    assert login is not None
    assert login.refresh_token
    target = tmp_path / "elsewhere"
    store_dir.rename(target)
    store_dir.symlink_to(target)  # the store directory swapped for a link
    provider.invalidate_cache()
    with pytest.raises(ConfigurationError) as info:
        _ = provider.token
    assert "symbolic link" in str(info.value)
    text = reachable_text(info.value) + all_log_text(caplog)
    assert_no_leak(text, login.refresh_token, str(login.access_token))


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


def test_configuration_refuses_a_store_path_in_login_store(tmp_path: Path) -> None:
    config = {
        "credentials": {
            "domain": "api.example.com",
            "oauth": {
                "client_id": "cli",
                "grant_type": "authorization_code",
                "token_url": "https://login.example.com/oauth2/token",
                "login_store": f"file:{tmp_path}",  # a directory, not a secret reference
            },
        }
    }
    with pytest.raises(ConfigurationError) as info:
        parse_credentials_config(config)
    message = str(info.value)
    assert "login_store" in message
    assert "'auto'" in message  # the choices, not an attempt to read a file
    assert "secret reference" not in message


def test_a_literal_login_store_key_is_refused_when_built(tmp_path: Path) -> None:
    config = {
        "credentials": {
            "domain": "api.example.com",
            "oauth": {
                "client_id": "cli",
                "grant_type": "authorization_code",
                "token_url": "https://login.example.com/oauth2/token",
                "login_store": "file",
                "login_store_dir": str(tmp_path),
                "login_store_key": "bm90IGEga2V5IGluIGNvbmZpZ3VyYXRpb24=",
            },
        }
    }
    with pytest.raises(ConfigurationError) as info:
        parse_credentials_config(config)
    assert "login_store_key must be a secret reference" in str(info.value)
    assert "bm90IGEga2V5" not in str(info.value)


def test_logout_with_auto_also_ends_a_login_kept_in_the_files(
    server: LocalOAuthServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    files = person(server, tmp_path, login_store="file", login_store_dir=None)
    log_in(files)  # logged in where the keyring did not work (files, the default directory)
    kept = stored(files)
    assert kept is not None
    previous = keyring.get_keyring()
    keyring_dir = tmp_path / "keyring"
    keyring_dir.mkdir()
    monkeypatch.setenv(login_store_workers.KEYRING_DIR, str(keyring_dir))
    keyring.set_keyring(login_store_workers.DirectoryKeyring())
    try:
        auto = person(server, tmp_path, login_store="auto", login_store_dir=None)
        assert "keyring" in auto.login_location()  # here the keyring works
        result = auto.logout()
    finally:
        keyring.set_keyring(previous)
    assert result.forgotten
    assert result.revoked is True
    assert stored(files) is None
    again = refresh_by_hand(server, kept.refresh_token)
    assert again.status_code == 400  # revoked at the server
