"""CachedTokenProvider under faults: outages, already-expired answers, clock steps, back-off."""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from collections.abc import Iterator

import pytest

from test_cached import CountingProvider
from tokenprovider import OAuthTokenProvider, TokenRequestError
from tokenprovider.caches import MemoryTokenCache
from tokenprovider.caches.base import CacheEntry, CacheKey, Hold
from tokenprovider.core.cached import EXPIRED_TOKEN_COOLDOWN, MAX_ADVISORY_BACKOFF
from tokenprovider.errors import MalformedTokenResponseError, TokenEndpointError
from tokenprovider.retry import RetryPolicy
from tokenprovider.testing.clock import FakeClock
from tokenprovider.testing.oauth_server import LocalOAuthServer
from tokenprovider.testing.refresh import wait_for_refresh


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# -- a valid token outlives an outage ---------------------------------------------------


def test_a_failed_mandatory_refresh_serves_the_token_until_it_expires(
    fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    provider = CountingProvider(fake_clock, lifetime=3600, failure_cooldown=2)
    assert provider.token == "token-1"
    fake_clock.advance(3600 - 5)  # inside the mandatory window (clock_skew 10 s)
    provider.fail_with = TokenEndpointError("HTTP 503", status=503)
    with caplog.at_level(logging.WARNING, logger="tokenprovider"):
        assert provider.token == "token-1"
        assert provider.calls == 2  # it did try
        assert [provider.token for _ in range(20)] == ["token-1"] * 20
        assert provider.calls == 2  # and waits out the cooldown before trying again
        fake_clock.advance(2)
        assert provider.token == "token-1"
        assert provider.calls == 3
    stale = [m for m in _warnings(caplog) if "using the current token" in m]
    assert len(stale) == 1, stale  # one warning for the outage, not one per call
    assert "HTTP 503" in stale[0]
    fake_clock.advance(3)  # now it has expired: the error is the caller's
    with pytest.raises(TokenEndpointError, match="HTTP 503"):
        _ = provider.token
    provider.fail_with = None
    fake_clock.advance(2)
    assert provider.token == "token-5"


def test_a_503_storm_fails_no_call_while_a_valid_token_exists() -> None:
    with LocalOAuthServer(clients={"client": "client-secret"}, token_lifetime=40) as server:
        clock = FakeClock()
        policy = RetryPolicy(max_attempts=1, deadline=5, timeout=5)
        provider = OAuthTokenProvider(
            server.url,
            "client",
            "client-secret",
            token_url=server.token_url,
            retry=policy,
            clock=clock,
            cache=MemoryTokenCache(),
        )
        first = provider.token
        server.fail_next(1000, 503)
        clock.advance(40 - 9)  # 9 s left, inside the 10 s mandatory window
        served = []
        for _ in range(90):  # 9 s of calls, ten a second
            served.append(provider.token)
            clock.advance(0.1)
        assert served == [first] * 90
        assert 1 < server.token_requests < 10  # retried after each cooldown, not per call
        clock.advance(0.5)  # expired: now the outage is the caller's
        with pytest.raises(TokenRequestError, match="HTTP 503"):
            _ = provider.token


def test_an_invalidated_token_is_not_served_when_the_refresh_fails(fake_clock: FakeClock) -> None:
    provider = CountingProvider(fake_clock, lifetime=3600)
    assert provider.token == "token-1"
    provider.invalidate_cache()
    provider.fail_with = ConnectionError("down")
    with pytest.raises(TokenRequestError, match="ConnectionError: down"):
        _ = provider.token


# -- a token that is already expired is never cached, and not fetched per call ----------


class ExpiredSource(CountingProvider):
    """Answers with a token that expired ``ago`` seconds before the request."""

    ago = 0.0

    def _request_token(self) -> tuple[str, float]:
        token, _ = super()._request_token()
        return token, self.fake_clock.time() - self.ago

    def _cache_identity(self) -> dict[str, object]:
        return {"kind": "expired-source", "host": self.host.url}


@pytest.mark.parametrize("ago", [0.0, 60.0], ids=["expires-now", "expired-a-minute-ago"])
def test_an_already_expired_token_is_refused_and_refetching_is_rate_limited(
    fake_clock: FakeClock, caplog: pytest.LogCaptureFixture, ago: float
) -> None:
    cache = MemoryTokenCache()
    provider = ExpiredSource(fake_clock, cache=cache)  # type: ignore[arg-type]
    provider.ago = ago
    with caplog.at_level(logging.WARNING, logger="tokenprovider"):
        for _ in range(50):  # the first raises the refusal, the others its cooldown
            with pytest.raises(TokenRequestError, match="already expired"):
                _ = provider.token
            fake_clock.advance(0.5)
    assert provider.calls == 1  # 25 s of calls, one request
    warned = [m for m in _warnings(caplog) if "already expired" in m]
    assert len(warned) == 1
    assert "ExpiredSource._request_token()" in warned[0]
    # Never cached: another provider with the same identity does not get it.
    other = ExpiredSource(fake_clock, cache=cache)  # type: ignore[arg-type]
    other.fail_with = ConnectionError("second source down")
    with pytest.raises(TokenRequestError, match="second source down"):
        _ = other.token
    fake_clock.advance(EXPIRED_TOKEN_COOLDOWN)
    with pytest.raises(MalformedTokenResponseError, match="already expired"):
        _ = provider.token
    assert provider.calls == 2


def test_expires_in_zero_from_a_token_endpoint_is_one_request_not_fifty(
    fake_clock: FakeClock,
) -> None:
    with LocalOAuthServer(clients={"client": "client-secret"}, token_lifetime=0) as server:
        provider = OAuthTokenProvider(
            server.url, "client", "client-secret", token_url=server.token_url, clock=fake_clock
        )
        with pytest.raises(MalformedTokenResponseError, match="already expired") as info:
            _ = provider.token
        assert f"token endpoint {server.token_url} gave a token" in str(info.value)
        for _ in range(49):
            with pytest.raises(TokenRequestError, match="already expired"):
                _ = provider.token
        assert server.token_requests == 1


# -- the wall clock stepped during a fetch ----------------------------------------------


class SteppingSource(CountingProvider):
    """Computes a 60 s expiry as it starts, then the wall clock steps before it answers."""

    step = 0.0

    def _request_token(self) -> tuple[str, float]:
        expires_at = self.fake_clock.time() + 60
        token, _ = super()._request_token()
        self.fake_clock.jump_wall(self.step)
        return token, expires_at


def test_a_wall_clock_stepped_back_during_a_fetch_does_not_stretch_the_token(
    fake_clock: FakeClock,
) -> None:
    provider = SteppingSource(fake_clock)
    provider.step = -7200
    assert provider.token == "token-1"
    assert provider.expires_at is not None
    assert provider.expires_at <= fake_clock.time() + 60
    fake_clock.advance(60)
    assert provider.token == "token-2"  # trusted for 60 s, not 7,260 s


def test_a_wall_clock_stepped_forward_during_a_fetch_does_not_void_the_token(
    fake_clock: FakeClock,
) -> None:
    provider = SteppingSource(fake_clock)
    provider.step = +7200
    assert provider.token == "token-1"  # not "already expired"
    fake_clock.advance(29)  # a 60 s token is refreshed ahead from 30 s before expiry
    assert provider.token == "token-1"
    fake_clock.advance(1)
    assert provider.token == "token-1"  # refreshed ahead, in a worker
    wait_for_refresh(provider)
    assert provider.token == "token-2"


# -- the advisory back-off is capped ----------------------------------------------------


def test_advisory_back_off_grows_to_at_most_a_minute(fake_clock: FakeClock) -> None:
    provider = CountingProvider(
        fake_clock, lifetime=100_000, refresh_ahead=20_000, failure_cooldown=2
    )
    assert provider.token == "token-1"
    fake_clock.advance(100_000 - 19_000)  # deep in the advisory window
    provider.fail_with = ConnectionError("down")
    attempts_at = []
    for second in range(1200):
        calls = provider.calls
        assert provider.token == "token-1"
        wait_for_refresh(provider)  # an attempt runs in a worker
        if provider.calls != calls:
            attempts_at.append(second)
        fake_clock.advance(1)
    gaps = [b - a for a, b in itertools.pairwise(attempts_at)]
    assert gaps[:5] == [2, 4, 8, 16, 32]  # doubling from failure_cooldown
    assert max(gaps) == MAX_ADVISORY_BACKOFF  # and then capped
    assert gaps[-3:] == [60, 60, 60]


# -- text from a foreign exception is quoted --------------------------------------------


def test_a_foreign_exception_is_quoted_in_errors_and_logs(
    fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    provider = CountingProvider(fake_clock, lifetime=3600)
    provider.fail_with = RuntimeError("bad\r\nFORGED log line " + "x" * 5000)
    with pytest.raises(TokenRequestError) as info:
        _ = provider.token
    message = str(info.value)
    assert "\r" not in message
    assert "\n" not in message
    assert "\\r\\nFORGED" in message
    assert len(message) < 600


@pytest.mark.parametrize("lifetime", [0.05, 0.5, 0.999])
def test_a_token_living_under_a_second_is_refused_and_not_refetched_per_call(
    fake_clock: FakeClock, caplog: pytest.LogCaptureFixture, lifetime: float
) -> None:
    provider = CountingProvider(fake_clock, lifetime=lifetime)
    with caplog.at_level(logging.WARNING, logger="tokenprovider"):
        for _ in range(100):
            with pytest.raises(TokenRequestError, match="already expired"):
                _ = provider.token
            fake_clock.advance(0.02)  # 2 s of calls, fifty a second
    assert provider.calls == 1
    assert [m for m in _warnings(caplog) if f"it lived {lifetime:.2g}s" in m]


def test_a_one_second_token_is_used(fake_clock: FakeClock) -> None:
    provider = CountingProvider(fake_clock, lifetime=1.0)
    assert provider.token == "token-1"


class _StoreFailsCache(MemoryTokenCache):
    """A cache whose store fails with a foreign error carrying server-like text."""

    @contextlib.contextmanager
    def _hold(self, key: CacheKey, seen: CacheEntry | None) -> Iterator[Hold]:
        def store(entry: CacheEntry) -> None:
            raise RuntimeError("denied\r\nCRITICAL forged entry" + "x" * 100_000)

        yield Hold(None, store)


def test_a_store_failure_is_logged_quoted(
    fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    provider = ExpiredSource(fake_clock, cache=_StoreFailsCache())  # type: ignore[arg-type]
    provider.ago = -3600  # a good token, an hour to go
    with caplog.at_level(logging.WARNING, logger="tokenprovider"):
        assert provider.token == "token-1"
    (warning,) = [m for m in _warnings(caplog) if "could not store" in m]
    assert "\r" not in warning
    assert "\n" not in warning
    assert "denied\\r\\nCRITICAL forged entry" in warning
    assert len(warning) < 1000


def test_once_a_refresh_failed_callers_do_not_queue_behind_the_retry(
    fake_clock: FakeClock,
) -> None:
    provider = CountingProvider(fake_clock, lifetime=3600, failure_cooldown=2)
    assert provider.token == "token-1"
    fake_clock.advance(3600 - 8)  # the mandatory window
    provider.fail_with = ConnectionError("endpoint down")
    assert provider.token == "token-1"  # the failed refresh: the token is served
    fake_clock.advance(2)  # past the cooldown: the next caller retries, slowly
    entered, release, fetch_over = threading.Event(), threading.Event(), threading.Event()

    def slow_retry() -> None:
        entered.set()
        release.wait(5)
        fetch_over.set()

    provider.before_return = slow_retry
    retrying = threading.Thread(target=lambda: provider.token)
    retrying.start()
    try:
        assert entered.wait(10)
        # Meanwhile another caller gets the still-valid token without waiting for it.
        assert provider.token == "token-1"
        assert not fetch_over.is_set()
    finally:
        release.set()
        retrying.join(10)
    assert provider.calls == 3
