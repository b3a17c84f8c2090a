"""A valid token in a shared cache outlives a failed refresh, in a process that has just
read it (design principle 3, across processes).

Two providers on one cache stand for two processes: each has its own cache object (for
files, on the same directory), and they share only what the store holds. A `FakeClock`
moves time; the local OAuth server's `fail_next` makes the refresh fail; counts of token
requests are the evidence.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import CANARY_SECRET, DYNAMODB_TABLE, warnings_of
from tokenprovider import OAuthTokenProvider, TokenRequestError
from tokenprovider.caches.base import TokenCache
from tokenprovider.caches.file import FileTokenCache
from tokenprovider.retry import RetryPolicy
from tokenprovider.testing.clock import FakeClock
from tokenprovider.testing.oauth_server import LocalOAuthServer

LIFETIME = 40.0
#: At this age a 40 s token is in its mandatory window (10 s before expiry): 6 s are left.
DUE = 34.0

CacheFactory = Callable[[FakeClock], TokenCache]


@pytest.fixture
def server() -> Iterator[LocalOAuthServer]:
    with LocalOAuthServer(clients={"client": CANARY_SECRET}, token_lifetime=LIFETIME) as server:
        yield server


@pytest.fixture(params=["file", "dynamodb"])
def new_cache(request: pytest.FixtureRequest, tmp_path: Path) -> CacheFactory:
    """Makes one process's cache object; every one made in a test shares one store."""
    if request.param == "file":
        return lambda clock: FileTokenCache(tmp_path / "tokens")
    request.getfixturevalue("dynamodb")  # moto on loopback, with the table made
    from tokenprovider.caches.dynamodb import DynamoDBTokenCache  # noqa: PLC0415

    return lambda clock: DynamoDBTokenCache(DYNAMODB_TABLE, clock=clock)


def process(server: LocalOAuthServer, cache: TokenCache, clock: FakeClock) -> OAuthTokenProvider:
    """A provider as a new process builds it: cold, one attempt per token request."""
    return OAuthTokenProvider(
        server.url,
        "client",
        CANARY_SECRET,
        token_url=server.token_url,
        retry=RetryPolicy(max_attempts=1, deadline=5, timeout=5),
        failure_cooldown=2,
        clock=clock,
        cache=cache,
    )


def test_a_new_process_serves_the_cached_token_when_its_refresh_fails(
    server: LocalOAuthServer, new_cache: CacheFactory, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    first = process(server, new_cache(clock), clock)
    token = first.token
    clock.advance(DUE)
    server.fail_next(1000, 503)
    second = process(server, new_cache(clock), clock)

    with caplog.at_level(logging.WARNING, logger="tokenprovider"):
        served = [second.token for _ in range(20)]
        expiry = second.expires_at

    assert served == [token] * 20
    assert server.token_requests == 2  # the first fetch, and one failed refresh
    assert expiry == pytest.approx(clock.time() + LIFETIME - DUE)
    stale = [m for m in warnings_of(caplog) if "using the current token" in m]
    assert len(stale) == 1, warnings_of(caplog)
    assert "503" in stale[0]


def test_the_cached_token_is_served_until_it_expires_then_the_error_is_raised(
    server: LocalOAuthServer, new_cache: CacheFactory
) -> None:
    clock = FakeClock()
    token = process(server, new_cache(clock), clock).token
    clock.advance(DUE)
    server.fail_next(1000, 503)
    second = process(server, new_cache(clock), clock)

    assert second.token == token
    clock.advance(2)  # the cooldown is over: one more try, which fails too
    assert second.token == token
    assert server.token_requests == 3
    clock.advance(LIFETIME - DUE - 2)  # now it has expired

    with pytest.raises(TokenRequestError, match="503"):
        _ = second.token


def test_once_the_endpoint_answers_the_process_refreshes_and_shares_the_new_token(
    server: LocalOAuthServer, new_cache: CacheFactory
) -> None:
    clock = FakeClock()
    first = process(server, new_cache(clock), clock)
    old = first.token
    clock.advance(DUE)
    server.fail_next(1, 503)
    second = process(server, new_cache(clock), clock)
    assert second.token == old

    clock.advance(2)  # after the cooldown
    fresh = second.token
    third = process(server, new_cache(clock), clock)

    assert fresh != old
    assert server.accepts(f"Bearer {fresh}")
    assert third.token == fresh
    assert server.token_requests == 3  # first, the failure, the refresh; none for the third


def test_a_token_this_process_refused_is_not_served_from_the_cache_when_the_refresh_fails(
    server: LocalOAuthServer, new_cache: CacheFactory
) -> None:
    clock = FakeClock()
    token = process(server, new_cache(clock), clock).token
    second = process(server, new_cache(clock), clock)
    assert second.token == token
    second.invalidate_cache()  # say the API answered 401 to it
    clock.advance(DUE)
    server.fail_next(1000, 503)

    with pytest.raises(TokenRequestError, match="503"):
        _ = second.token
    assert server.token_requests == 2


def test_an_expired_cached_token_is_not_served_when_the_refresh_fails(
    server: LocalOAuthServer, new_cache: CacheFactory
) -> None:
    clock = FakeClock()
    process(server, new_cache(clock), clock).token  # noqa: B018 - writes the entry
    clock.advance(LIFETIME + 1)
    server.fail_next(1000, 503)
    second = process(server, new_cache(clock), clock)

    with pytest.raises(TokenRequestError, match="503"):
        _ = second.token
