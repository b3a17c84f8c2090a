"""Events: what a provider's engine did, handed to listeners; never a token or a secret,
and nothing at all on the hot path."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

import pytest
import requests

from conftest import CANARY_SECRET, assert_no_leak, run_python
from tokenprovider import CachedTokenProvider, OAuthTokenProvider, TokenRequestError
from tokenprovider.caches.base import CacheEntry, CacheKey, Hold
from tokenprovider.caches.memory import MemoryTokenCache
from tokenprovider.core import events
from tokenprovider.core.events import TokenEvent
from tokenprovider.testing.clock import FakeClock
from tokenprovider.testing.oauth_server import LocalOAuthServer
from tokenprovider.testing.refresh import wait_for_refresh


class Source(CachedTokenProvider):
    """token-1, token-2, ...; shares through ``cache`` under one identity."""

    def __init__(self, clock: FakeClock, cache: MemoryTokenCache | None = None) -> None:
        super().__init__("api.example.com", clock=clock, cache=cache or MemoryTokenCache())
        self.fake_clock = clock
        self.calls = 0
        self.fail_with: Exception | None = None
        self.hold: threading.Event | None = None
        self.entered = threading.Event()

    def _cache_identity(self) -> dict[str, str]:
        return {"kind": "events-test"}

    def _request_token(self) -> tuple[str, float]:
        self.calls += 1
        self.entered.set()
        if self.hold is not None:
            assert self.hold.wait(10)
        if self.fail_with is not None:
            raise self.fail_with
        return f"token-{self.calls}", self.fake_clock.time() + 3600


def kinds(seen: list[TokenEvent]) -> list[str]:
    return [event.kind for event in seen]


def test_a_fetch_emits_started_and_succeeded_with_its_duration(fake_clock: FakeClock) -> None:
    provider = Source(fake_clock)
    seen: list[TokenEvent] = []
    provider.add_listener(seen.append)
    assert provider.token == "token-1"
    assert kinds(seen) == ["fetch_started", "fetch_succeeded"]
    assert seen[1].duration is not None
    assert seen[1].duration >= 0  # on the real clock: the fake one did not move
    assert seen[1].provider == "Source"
    assert seen[1].host == "https://api.example.com"


def test_a_failed_fetch_names_the_error_class_and_nothing_of_its_text(
    fake_clock: FakeClock,
) -> None:
    provider = Source(fake_clock)
    provider.fail_with = ConnectionError(f"refused, secret {CANARY_SECRET}")
    seen: list[TokenEvent] = []
    provider.add_listener(seen.append)
    with pytest.raises(TokenRequestError):
        _ = provider.token
    with pytest.raises(TokenRequestError):
        _ = provider.token  # in the cooldown: no new fetch, no new event
    assert kinds(seen) == ["fetch_started", "fetch_failed"]
    assert seen[1].reason == "ConnectionError"
    assert_no_leak(repr(seen), CANARY_SECRET)


def test_a_token_found_in_a_shared_cache_is_a_cache_hit(fake_clock: FakeClock) -> None:
    cache = MemoryTokenCache()
    first, second = Source(fake_clock, cache), Source(fake_clock, cache)
    seen: list[TokenEvent] = []
    second.add_listener(seen.append)
    assert first.token == "token-1"
    assert second.token == "token-1"
    assert second.calls == 0
    assert kinds(seen) == ["cache_hit"]
    assert seen[0].cache == "MemoryTokenCache"


class SignallingCache(MemoryTokenCache):
    """Sets ``second_in`` when a second caller asks for a key's hold."""

    def __init__(self) -> None:
        super().__init__()
        self.holds = 0
        self.second_in = threading.Event()

    @contextlib.contextmanager
    def _hold(self, key: CacheKey, seen: CacheEntry | None) -> Iterator[Hold]:
        self.holds += 1
        if self.holds == 2:
            self.second_in.set()
        with super()._hold(key, seen) as hold:
            yield hold


def test_waiting_for_another_providers_fetch_is_a_lease_wait(fake_clock: FakeClock) -> None:
    cache = SignallingCache()
    fetcher, waiter = Source(fake_clock, cache), Source(fake_clock, cache)
    fetcher.hold = cache.second_in  # the fetch ends once the waiter queues for the key
    seen: list[TokenEvent] = []
    waiter.add_listener(seen.append)
    results: list[str] = []
    first = threading.Thread(target=lambda: results.append(fetcher.token))
    first.start()
    assert fetcher.entered.wait(10)
    second = threading.Thread(target=lambda: results.append(waiter.token))
    second.start()
    first.join(10)
    second.join(10)
    assert results == ["token-1", "token-1"]
    assert waiter.calls == 0
    assert kinds(seen) == ["lease_waited"]
    assert seen[0].cache == "SignallingCache"
    assert seen[0].duration is not None
    assert seen[0].duration >= 0


def test_a_failed_refresh_ahead_emits_the_back_off(fake_clock: FakeClock) -> None:
    provider = Source(fake_clock)
    assert provider.token == "token-1"
    seen: list[TokenEvent] = []
    provider.add_listener(seen.append)
    fake_clock.advance(3600 - 200)
    provider.fail_with = TimeoutError("slow")
    assert provider.token == "token-1"
    wait_for_refresh(provider)
    assert kinds(seen) == ["fetch_started", "fetch_failed", "advisory_backoff"]
    assert seen[2].delay == 2.0
    assert seen[2].reason == "TimeoutError"


def test_a_401_that_drops_the_token_is_an_invalidation() -> None:
    with LocalOAuthServer(clients={"client": CANARY_SECRET}, latency=0.05) as server:
        provider = OAuthTokenProvider(
            server.url, "client", CANARY_SECRET, token_url=server.token_url
        )
        seen: list[TokenEvent] = []
        provider.add_listener(seen.append)
        assert requests.get(server.resource_url, auth=provider, timeout=10).status_code == 200
        server.revoke_all()
        assert requests.get(server.resource_url, auth=provider, timeout=10).status_code == 200
        assert server.token_requests == 2
    assert kinds(seen) == [
        "fetch_started",
        "fetch_succeeded",
        "invalidated",
        "fetch_started",
        "fetch_succeeded",
    ]
    assert all(e.duration >= 0.05 for e in seen if e.kind == "fetch_succeeded")  # type: ignore[operator]
    assert_no_leak(repr(seen), CANARY_SECRET, provider.token)


def test_the_hot_path_emits_nothing(fake_clock: FakeClock) -> None:
    provider = Source(fake_clock)
    seen: list[TokenEvent] = []
    assert provider.token == "token-1"
    provider.add_listener(seen.append)
    for _ in range(1000):
        assert provider.token == "token-1"
    assert seen == []


def test_with_no_listener_no_event_is_even_built(
    fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> TokenEvent:
        raise AssertionError("an event was built with no listener registered")

    monkeypatch.setattr(events, "TokenEvent", refuse)
    provider = Source(fake_clock)
    assert provider.token == "token-1"
    fake_clock.advance(3600)
    assert provider.token == "token-2"


def test_global_listeners_hear_every_provider_until_removed(fake_clock: FakeClock) -> None:
    seen: list[TokenEvent] = []
    remove = events.add_listener(seen.append)
    try:
        assert Source(fake_clock).token == "token-1"
        assert Source(fake_clock).token == "token-1"
    finally:
        remove()
    assert kinds(seen) == ["fetch_started", "fetch_succeeded"] * 2
    assert Source(fake_clock).token == "token-1"
    assert len(seen) == 4  # removed: heard no more


def test_a_listener_that_raises_is_logged_and_does_not_break_the_token(
    fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: TokenEvent) -> None:
        raise ValueError(f"metrics backend down {CANARY_SECRET}")

    provider = Source(fake_clock)
    provider.add_listener(broken)
    with caplog.at_level(logging.WARNING, logger="tokenprovider"):
        assert provider.token == "token-1"
    assert "an event listener (test_a_listener_that_raises" in caplog.text
    assert "ValueError" in caplog.text
    assert_no_leak(caplog.text, CANARY_SECRET)


def test_a_listener_must_be_callable(fake_clock: FakeClock) -> None:
    with pytest.raises(TypeError, match="a listener must be callable, got str"):
        Source(fake_clock).add_listener("print")  # type: ignore[arg-type]


def test_the_type_hints_of_the_listener_functions_resolve_before_any_event_exists() -> None:
    program = (
        "import sys, typing\n"
        "from tokenprovider import CachedTokenProvider\n"
        "from tokenprovider.core import events\n"
        "assert 'tokenprovider.core._token_event' not in sys.modules\n"
        "taking = (events.add_listener, events.remove_listener, CachedTokenProvider.add_listener)\n"
        "for f in taking:\n"
        "    assert typing.get_type_hints(f)['listener'] is events.Listener, f\n"
        "print('resolved')\n"
    )
    done = run_python("-c", program, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "resolved"), done.stderr
