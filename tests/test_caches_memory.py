"""MemoryTokenCache: providers of one process share tokens by identity, over real sockets.

Every provider talks to the local OAuth server on 127.0.0.1; counts of token requests
at the server are the evidence. The process-wide default cache is emptied before each
test by conftest.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from conftest import CANARY_SECRET, all_log_text, assert_no_leak
from tokenprovider import CachedTokenProvider, OAuthTokenProvider
from tokenprovider.caches import MemoryTokenCache, default_cache
from tokenprovider.caches.file import FileTokenCache
from tokenprovider.errors import ConfigurationError
from tokenprovider.testing.oauth_server import LocalOAuthServer

OTHER_SECRET = "other-SECRET-0c41"


@pytest.fixture
def server(oauth_server: LocalOAuthServer) -> LocalOAuthServer:
    """The local server with two clients, ``client`` (the canary secret) and ``other``."""
    oauth_server.clients = {"client": CANARY_SECRET, "other": OTHER_SECRET}
    return oauth_server


def make(
    server: LocalOAuthServer,
    client_id: str = "client",
    secret: str = CANARY_SECRET,
    **kwargs: Any,
) -> OAuthTokenProvider:
    return OAuthTokenProvider(server.url, client_id, secret, token_url=server.token_url, **kwargs)


def resource_client(server: LocalOAuthServer, token: str) -> str:
    """The client id the server's resource sees behind ``token``."""
    response = requests.get(
        server.resource_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert response.status_code == 200
    client: str = response.json()["client_id"]
    return client


class IdentitylessProvider(CachedTokenProvider):
    """Fetches real tokens from the local server but defines no `_cache_identity`."""

    def __init__(self, server: LocalOAuthServer, **kwargs: Any) -> None:
        super().__init__(server.url, **kwargs)
        self.token_url = server.token_url

    def _request_token(self) -> tuple[str, float]:
        response = requests.post(
            self.token_url,
            data={"grant_type": "client_credentials"},
            auth=("client", CANARY_SECRET),
            timeout=10,
        )
        response.raise_for_status()
        body = response.json()
        return body["access_token"], time.time() + float(body["expires_in"])


# -- sharing by identity ------------------------------------------------------------------


def test_two_providers_with_one_identity_share_one_token(server: LocalOAuthServer) -> None:
    first, second = make(server), make(server)
    token = first.token
    assert second.token == token
    assert server.token_requests == 1
    assert first.cache is default_cache()
    assert second.cache is default_cache()


def test_sixteen_threads_on_two_cold_providers_make_one_request(
    server: LocalOAuthServer,
) -> None:
    providers = [make(server), make(server)]
    barrier = threading.Barrier(16)
    results: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(provider: OAuthTokenProvider) -> None:
        try:
            barrier.wait(10)
            token = provider.token
        except BaseException as exc:
            with lock:
                errors.append(exc)
            return
        with lock:
            results.append(token)

    server.hold_token_requests()
    threads = [threading.Thread(target=worker, args=(providers[index % 2],)) for index in range(16)]
    for thread in threads:
        thread.start()
    try:
        assert server.wait_for_token_requests(1)
    finally:
        server.release_token_requests()
    for thread in threads:
        thread.join(10)
    assert not errors
    assert len(results) == 16
    assert len(set(results)) == 1
    assert server.token_requests == 1


def test_scopes_in_another_order_share_a_token(server: LocalOAuthServer) -> None:
    first = make(server, scopes=["read", "write"])
    second = make(server, scopes="write read")
    assert first.token == second.token
    assert server.token_requests == 1


# -- never sharing across identities --------------------------------------------------------


@pytest.mark.parametrize("same_secret", [True, False], ids=["same-secret", "own-secrets"])
def test_two_client_ids_on_one_token_url_never_share(
    server: LocalOAuthServer, same_secret: bool
) -> None:
    other_secret = CANARY_SECRET if same_secret else OTHER_SECRET
    server.clients["other"] = other_secret
    mine = make(server, "client", CANARY_SECRET)
    theirs = make(server, "other", other_secret)
    mine_token, theirs_token = mine.token, theirs.token
    assert mine_token != theirs_token
    assert server.token_requests == 2
    assert [record.client_id for record in server.token_request_records] == ["client", "other"]
    # Each token really is its own client's.
    assert resource_client(server, mine_token) == "client"
    assert resource_client(server, theirs_token) == "other"
    # And stays so on later calls, in either order.
    assert theirs.token == theirs_token
    assert mine.token == mine_token
    assert server.token_requests == 2


@pytest.mark.parametrize(
    ("first_settings", "second_settings"),
    [
        ({"scopes": ["read"]}, {"scopes": ["read", "write"]}),
        ({"scopes": ["read"]}, {}),
        ({"audience": "https://api-a.example"}, {"audience": "https://api-b.example"}),
        ({"audience": "https://api-a.example"}, {}),
        ({"extra_params": {"resource": "a"}}, {"extra_params": {"resource": "b"}}),
    ],
    ids=["more-scopes", "no-scopes", "audience", "no-audience", "extra-params"],
)
def test_different_request_settings_never_share(
    server: LocalOAuthServer, first_settings: dict[str, Any], second_settings: dict[str, Any]
) -> None:
    first, second = make(server, **first_settings), make(server, **second_settings)
    assert first.token != second.token
    assert server.token_requests == 2
    assert first.token != second.token
    assert server.token_requests == 2


def test_a_rotated_secret_for_the_same_client_id_never_shares(server: LocalOAuthServer) -> None:
    old = make(server, "client", CANARY_SECRET)
    old_token = old.token
    server.clients = {"client": "rotated-SECRET-99"}
    new = make(server, "client", "rotated-SECRET-99")
    assert new.token != old_token
    assert server.token_requests == 2
    assert server.tokens_issued == 2  # the new secret authenticated


def test_a_private_memory_cache_does_not_share_with_the_default(
    server: LocalOAuthServer,
) -> None:
    private = MemoryTokenCache()
    on_default = make(server)
    on_private = make(server, cache=private)
    also_private = make(server, cache=private)
    assert on_private.cache is private
    default_token = on_default.token
    private_token = on_private.token
    assert private_token != default_token
    assert server.token_requests == 2
    assert also_private.token == private_token  # but the private cache is shared
    assert server.token_requests == 2


# -- rejected tokens are not re-adopted from the cache --------------------------------------


def test_invalidate_cache_fetches_anew_instead_of_readopting(server: LocalOAuthServer) -> None:
    first, second = make(server), make(server)
    old = first.token
    assert second.token == old
    first.invalidate_cache()
    new = first.token
    assert new != old
    assert server.token_requests == 2
    # The other provider keeps its token until it drops it, then adopts the new one.
    assert second.token == old
    second.invalidate_cache()
    assert second.token == new
    assert server.token_requests == 2


def test_a_401_fetches_once_and_the_peer_adopts_the_new_token(
    server: LocalOAuthServer,
) -> None:
    first, second = make(server), make(server)
    old = first.token
    assert second.token == old
    server.revoke_all()

    response = requests.get(server.resource_url, auth=first, timeout=10)
    assert response.status_code == 200
    assert server.token_requests == 2
    new = first.token
    assert new != old

    response = requests.get(server.resource_url, auth=second, timeout=10)
    assert response.status_code == 200
    assert second.token == new
    assert server.token_requests == 2  # the peer's 401 adopted the shared fresh token
    assert server.resource_unauthorized == 2


# -- providers without a cache identity -----------------------------------------------------


def test_a_provider_without_identity_keeps_its_token_private(server: LocalOAuthServer) -> None:
    first, second = IdentitylessProvider(server), IdentitylessProvider(server)
    first_token = first.token
    second_token = second.token
    assert first_token != second_token
    assert server.token_requests == 2
    assert first.token == first_token  # still cached by the provider itself
    assert second.token == second_token
    assert server.token_requests == 2


def test_a_provider_without_identity_refuses_a_shared_cache(
    server: LocalOAuthServer, tmp_path: Path
) -> None:
    provider = IdentitylessProvider(server, cache=FileTokenCache(tmp_path))
    with pytest.raises(ConfigurationError) as info:
        provider.token  # noqa: B018 - the identity is looked up on the first fetch
    message = str(info.value)
    assert "IdentitylessProvider" in message
    assert "_cache_identity" in message
    assert server.token_requests == 0  # refused before any credential went out


@pytest.mark.parametrize(
    "cache",
    ["memory", object(), MemoryTokenCache, {"tokens": {}}],
    ids=["string", "object", "class-not-instance", "dict"],
)
def test_a_cache_of_the_wrong_type_is_refused(server: LocalOAuthServer, cache: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        make(server, cache=cache)
    assert "TokenCache" in str(info.value)


# -- hygiene ------------------------------------------------------------------------------


def test_memory_cache_repr_and_logs_hold_no_token_or_secret(
    server: LocalOAuthServer, debug_logs: pytest.LogCaptureFixture
) -> None:
    private = MemoryTokenCache()
    provider = make(server, cache=private)
    token = provider.token
    make(server).token  # noqa: B018 - the default cache too
    for text in (repr(private), repr(default_cache()), repr(provider), all_log_text(debug_logs)):
        assert_no_leak(text, token, CANARY_SECRET)


def test_expired_entries_are_dropped_as_new_ones_come_in() -> None:
    from tokenprovider.caches.memory import SWEEP_AT  # noqa: PLC0415

    cache = MemoryTokenCache()
    now = time.time()

    def fill(count: int, prefix: str, expires_at: float) -> None:
        for index in range(count):
            key = cache.key_for({"kind": "sweep-test", "id": f"{prefix}{index}"}, None)
            cache.fetch(key, lambda e=expires_at: ("tok", e, now), lambda entry, waited: False)

    fill(SWEEP_AT - 1, "expired-", now - 1)  # short-lived identities, all gone stale
    fill(10, "live-", now + 3600)
    assert repr(cache) == "MemoryTokenCache(entries=10)"  # the expired ones were dropped
    fill(5, "more-", now + 3600)
    assert repr(cache) == "MemoryTokenCache(entries=15)"
