"""A person's refresh token survives what could part it from the server's answer: an
interrupt or SIGTERM while a refresh is under way, an answer that is unusable apart
from its new refresh token, a store that refuses the write. And endpoints that would
receive the login's tokens must be the token endpoint's server.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from login_support import CALLBACK, PASSWORD, Instructions, approve_in_thread, logged_in, person
from tokenprovider import (
    CachedTokenProvider,
    ConfigurationError,
    LoginRequiredError,
    MalformedTokenResponseError,
    OAuthTokenProvider,
)
from tokenprovider.caches.logins import StoredLogin
from tokenprovider.testing import FakeClock, LocalOAuthServer

#: A process that refreshes in its main thread, then is interrupted; its last exit
#: handler (registered after tokenprovider's, so it runs first) says it is exiting.
INTERRUPTED = textwrap.dedent(
    """
    import atexit, sys
    import tokenprovider.core._workers
    from tokenprovider import OAuthTokenProvider
    atexit.register(lambda: print("exiting", flush=True))
    url, token_url, store = sys.argv[1], sys.argv[2], sys.argv[3]
    provider = OAuthTokenProvider(
        url, "cli", token_url=token_url, grant_type="authorization_code",
        scopes=["openid", "read"], login_store="file", login_store_dir=store,
    )
    provider.token  # the stored access token has expired: a refresh
    """
)

#: The CLI, its exit announced the same way.
CLI = textwrap.dedent(
    """
    import atexit, sys
    import tokenprovider.core._workers
    from tokenprovider.cli import main
    atexit.register(lambda: print("exiting", flush=True))
    sys.exit(main(sys.argv[1:]))
    """
)


@pytest.fixture
def server() -> Iterator[LocalOAuthServer]:
    with LocalOAuthServer(public_clients={"cli": [CALLBACK]}, users={"alice": PASSWORD}) as srv:
        yield srv


def stored(provider: OAuthTokenProvider) -> StoredLogin:
    grant = provider._person
    assert grant is not None
    login = grant.store().load(grant.key())
    assert login is not None
    return login


def expire_stored_access_token(provider: OAuthTokenProvider) -> StoredLogin:
    grant = provider._person
    assert grant is not None
    with grant.store().hold(grant.key()) as held:
        assert held.current is not None
        held.save(dataclasses.replace(held.current, expires_at=held.current.saved_at - 1))
    return stored(provider)


def still_works(server: LocalOAuthServer, store: Path) -> None:
    """A later run refreshes with what is stored, and no token family was revoked."""
    later = person(server, store)
    _ = later.token
    later.invalidate_cache()
    assert requests.get(server.resource_url, auth=later, timeout=10).status_code == 200
    assert server.refresh_reuse_detected == 0
    assert server.families_revoked == 0


def interrupt_mid_refresh(
    server: LocalOAuthServer, program: list[str], signum: int
) -> subprocess.CompletedProcess[str]:
    """Run ``program``; once its refresh reached the (holding) server, send ``signum``;
    once it is exiting, let the server answer."""
    requests_before = server.token_requests
    server.hold_token_requests()
    child = subprocess.Popen(program, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.wait_for_token_requests(requests_before + 1)
        child.send_signal(signum)
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "exiting"  # interrupted, and exiting
        server.release_token_requests()
        out, err = child.communicate(timeout=30)
    finally:
        server.release_token_requests()
        child.kill()
    return subprocess.CompletedProcess(program, child.returncode, out, err)


def test_ctrl_c_during_a_refresh_keeps_the_rotated_refresh_token(
    server: LocalOAuthServer, tmp_path: Path
) -> None:
    store = tmp_path / "logins"
    before = expire_stored_access_token(logged_in(server, store))
    done = interrupt_mid_refresh(
        server,
        [sys.executable, "-c", INTERRUPTED, server.url, server.token_url, str(store)],
        signal.SIGINT,
    )
    assert "KeyboardInterrupt" in done.stderr
    after = stored(person(server, store))
    assert after.refresh_token not in (None, before.refresh_token)  # the answer was kept
    still_works(server, store)


def test_sigterm_to_the_cli_during_a_refresh_keeps_the_rotated_refresh_token(
    server: LocalOAuthServer, tmp_path: Path
) -> None:
    store = tmp_path / "logins"
    before = expire_stored_access_token(logged_in(server, store))
    config = tmp_path / "config.toml"
    config.write_text(
        "[credentials]\n"
        f'domain = "{server.url.removeprefix("http://")}"\n'
        'scheme = "http"\n'
        "[credentials.oauth]\n"
        'client_id = "cli"\n'
        f'token_url = "{server.token_url}"\n'
        'grant_type = "authorization_code"\n'
        'scopes = ["openid", "read"]\n'
        'login_store = "file"\n'
        f'login_store_dir = "{store}"\n'
    )
    done = interrupt_mid_refresh(
        server,
        [sys.executable, "-c", CLI, "--config", str(config), "token"],
        signal.SIGTERM,
    )
    assert done.returncode == 128 + signal.SIGTERM, done.stderr
    after = stored(person(server, store))
    assert after.refresh_token not in (None, before.refresh_token)
    still_works(server, store)


def test_an_unusable_answer_still_leaves_its_new_refresh_token_stored(
    server: LocalOAuthServer, tmp_path: Path
) -> None:
    store = tmp_path / "logins"
    provider = logged_in(server, store)
    expire_stored_access_token(provider)
    rotated = "rotated-canary-RT-5c1d"
    server.respond_next(200, json.dumps({"refresh_token": rotated}).encode())  # no access_token
    with pytest.raises(MalformedTokenResponseError) as info:
        _ = provider.token
    assert rotated not in str(info.value)
    kept = stored(provider)
    assert kept.refresh_token == rotated
    assert kept.access_token is None


def test_a_store_that_refuses_the_renewed_login_loses_nothing_in_this_process(
    server: LocalOAuthServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = tmp_path / "logins"
    provider = logged_in(server, store)
    expire_stored_access_token(provider)
    huge = "A" * (70 * 1024)  # more than a stored login may hold
    rotated = "rotated-canary-RT-9e2f"
    body = {"access_token": huge, "refresh_token": rotated, "expires_in": 3600}
    server.respond_next(200, json.dumps(body).encode())
    assert provider.token == huge  # the token is good: it is used
    grant = provider._person
    assert grant is not None
    assert grant.store().load(grant.key()) is None  # the spent login is out of the store
    assert "could not store the renewed login" in caplog.text
    assert rotated not in caplog.text
    status = provider.login_status()
    assert status is not None
    assert status.refreshable  # this process still holds the rotated refresh token
    provider.invalidate_cache()
    with pytest.raises(LoginRequiredError):  # the server never issued it: refused
        _ = provider.token
    record = server.last_token_request
    assert record is not None
    assert record.form["refresh_token"] == [rotated]  # but it was the one spent
    requests_made = server.token_requests
    with pytest.raises(LoginRequiredError):  # refused once: not sent again
        _ = provider.token
    assert server.token_requests == requests_made
    assert provider.login_status() is None


def test_a_revocation_url_on_another_server_gets_no_token(
    server: LocalOAuthServer, tmp_path: Path
) -> None:
    store = tmp_path / "logins"
    logged_in(server, store)
    with LocalOAuthServer() as elsewhere:
        provider = person(server, store, revocation_url=elsewhere.url + "/oauth2/revoke")
        with pytest.raises(ConfigurationError, match="not on the token endpoint's origin"):
            provider.logout()
        assert elsewhere.token_requests == 0
    assert provider.login_status() is not None  # nothing was forgotten either


def test_endpoints_of_metadata_naming_another_token_endpoint_are_not_used(
    server: LocalOAuthServer, tmp_path: Path
) -> None:
    store = tmp_path / "logins"
    logged_in(server, store)
    with LocalOAuthServer(public_clients={"cli": [CALLBACK]}) as api:
        # The API host's own metadata names its own token and revocation endpoints.
        provider = OAuthTokenProvider(
            api.url,
            "cli",
            token_url=server.token_url,
            grant_type="authorization_code",
            scopes=["openid", "read"],
            login_store="file",
            login_store_dir=store,
            authorization_url=server.url + "/oauth2/authorize",
        )
        log_in_to = Instructions()
        approving = approve_in_thread(log_in_to)
        provider.login(open_browser=False, out=log_in_to)
        approving.join(10)
        result = provider.logout()
        assert result.revoked is None  # not sent to the API host's revocation endpoint
        assert "names another token endpoint" in result.message


class _Refused(CachedTokenProvider):
    """A source whose first token lives 100 s; then the person must log in again."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__("api.example.com", clock=clock)
        self.calls = 0

    def _request_token(self) -> tuple[str, float]:
        self.calls += 1
        if self.calls == 1:
            return "first-token", self._wall_time() + 100
        raise LoginRequiredError("log in again")


def test_login_required_while_a_token_is_still_good_is_not_asked_at_every_call() -> None:
    clock = FakeClock()
    provider = _Refused(clock)
    assert provider.token == "first-token"
    clock.advance(95)  # the last seconds: callers wait for a refresh, which fails
    for _ in range(50):
        assert provider.token == "first-token"  # served until it really expires
    assert provider.calls == 2  # one refusal, then the failure cooldown
    clock.advance(10)  # expired: nothing to serve, so every call asks again at once
    for expected in (3, 4):
        with pytest.raises(LoginRequiredError):
            _ = provider.token
        assert provider.calls == expected
