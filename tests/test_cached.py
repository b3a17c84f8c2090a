"""CachedTokenProvider: single flight, refresh windows, skew, clocks and failures."""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from tokenprovider import CachedTokenProvider, TokenProviderError, TokenRequestError
from tokenprovider.caches.memory import MemoryTokenCache
from tokenprovider.errors import ConfigurationError, MalformedTokenResponseError
from tokenprovider.testing.clock import FakeClock
from tokenprovider.testing.refresh import wait_for_refresh


class CountingProvider(CachedTokenProvider):
    """Issues token-1, token-2, ... living ``lifetime`` seconds on the injected clock."""

    def __init__(self, clock: FakeClock, lifetime: float = 3600.0, **kwargs: float) -> None:
        super().__init__("api.example.com", clock=clock, **kwargs)
        self.fake_clock = clock
        self.lifetime = lifetime
        self.calls = 0
        self.fail_with: Exception | None = None
        self.before_return: Callable[[], None] | None = None
        self._lock = threading.Lock()

    def _request_token(self) -> tuple[str, float]:
        with self._lock:
            self.calls += 1
            number = self.calls
        if self.before_return is not None:
            self.before_return()
        if self.fail_with is not None:
            raise self.fail_with
        return f"token-{number}", self.fake_clock.time() + self.lifetime


def hold_fetches(provider: CountingProvider) -> tuple[threading.Event, threading.Event]:
    """Make each fetch signal ``entered`` and then wait for ``release``."""
    entered = threading.Event()
    release = threading.Event()

    def hold() -> None:
        entered.set()
        assert release.wait(10)

    provider.before_return = hold
    return entered, release


def test_seed_example_subclass_works_unchanged() -> None:
    class ExampleCachedTokenProvider(CachedTokenProvider):
        def _request_token(self):  # type: ignore[no-untyped-def]
            # expire in 100 seconds
            return "token", time.time() + 100

    provider = ExampleCachedTokenProvider("api.example.com")
    assert provider.token == "token"
    assert provider.token == "token"
    assert provider.expires_at is not None


def test_token_is_cached(fake_clock: FakeClock) -> None:
    provider = CountingProvider(fake_clock)
    assert [provider.token for _ in range(100)] == ["token-1"] * 100
    assert provider.calls == 1


@pytest.mark.parametrize("expired", [False, True], ids=["cold", "expired"])
def test_64_threads_make_one_request(fake_clock: FakeClock, expired: bool) -> None:
    provider = CountingProvider(fake_clock)
    if expired:
        assert provider.token == "token-1"
        fake_clock.advance(3600)
    entered, release = hold_fetches(provider)
    barrier = threading.Barrier(65)
    results: list[str] = []

    def caller() -> None:
        barrier.wait()
        results.append(provider.token)

    threads = [threading.Thread(target=caller) for _ in range(64)]
    for thread in threads:
        thread.start()
    barrier.wait()
    assert entered.wait(10)
    release.set()
    for thread in threads:
        thread.join(10)
    expected = "token-2" if expired else "token-1"
    assert results == [expected] * 64
    assert provider.calls == (2 if expired else 1)


def test_advisory_refresh_runs_in_a_worker_and_no_caller_waits(fake_clock: FakeClock) -> None:
    provider = CountingProvider(fake_clock, lifetime=3600)
    assert provider.token == "token-1"
    fake_clock.advance(3600 - 200)  # inside the 300 s advisory window, outside the 10 s skew
    entered, release = hold_fetches(provider)
    fetched_by: list[str] = []
    hold = provider.before_return
    assert hold is not None

    def record_and_hold() -> None:
        fetched_by.append(threading.current_thread().name)
        hold()

    provider.before_return = record_and_hold
    starter_result: list[str] = []
    starter = threading.Thread(target=lambda: starter_result.append(provider.token))
    starter.start()
    assert entered.wait(10)
    starter.join(10)
    # The caller that started the refresh did not wait for it, nor do the others.
    assert not starter.is_alive()
    assert starter_result == ["token-1"]
    assert [provider.token for _ in range(10)] == ["token-1"] * 10
    release.set()
    wait_for_refresh(provider)
    assert provider.token == "token-2"
    assert provider.calls == 2
    assert fetched_by == ["tokenprovider-fetch"]


def test_mandatory_window_callers_wait_for_fresh_token(fake_clock: FakeClock) -> None:
    provider = CountingProvider(fake_clock, lifetime=3600)
    assert provider.token == "token-1"
    fake_clock.advance(3600 - 5)  # inside the 10 s clock skew: token-1 must not be served
    entered, release = hold_fetches(provider)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(provider.token)) for _ in range(8)]
    for thread in threads:
        thread.start()
    assert entered.wait(10)
    release.set()
    for thread in threads:
        thread.join(10)
    assert results == ["token-2"] * 8
    assert provider.calls == 2


@pytest.mark.parametrize("skew", [10.0, 60.0])
def test_clock_skew_is_honoured(fake_clock: FakeClock, skew: float) -> None:
    provider = CountingProvider(fake_clock, lifetime=3600, clock_skew=skew, refresh_ahead=0)
    assert provider.clock_skew == skew
    assert provider.token == "token-1"
    fake_clock.advance(3600 - skew - 1)
    assert provider.token == "token-1"
    fake_clock.advance(2)
    assert provider.token == "token-2"


def test_clock_skew_can_be_set_on_a_subclass(fake_clock: FakeClock) -> None:
    class Patient(CountingProvider):
        clock_skew = 120.0
        refresh_ahead = 0.0

    provider = Patient(fake_clock)
    assert provider.token == "token-1"
    fake_clock.advance(3600 - 121)
    assert provider.token == "token-1"
    fake_clock.advance(2)
    assert provider.token == "token-2"


class _Registering(CountingProvider):
    """A parent with its own ``__init_subclass__``, as a plugin base might have."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)


class _Meta(type(CachedTokenProvider)):  # type: ignore[misc]
    """A metaclass of one's own, between the class statement and ours."""

    def __new__(mcs, *args: Any, **kwargs: Any) -> Any:
        return super().__new__(mcs, *args, **kwargs)


def _seedling(between: str) -> type[CachedTokenProvider]:
    """A subclass setting the seed design's ``_clock_skew``, with ``between`` it and ours."""
    if between == "a metaclass":

        class Seedling(CountingProvider, metaclass=_Meta):
            _clock_skew = 30
    elif between == "a parent's __init_subclass__":

        class Seedling(_Registering):  # type: ignore[no-redef]
            _clock_skew = 30
    else:

        class Seedling(CountingProvider):  # type: ignore[no-redef]
            _clock_skew = 30

    return Seedling


STATEMENTS = {
    "nothing": "class Seedling(CountingProvider):",
    "a parent's __init_subclass__": "class Seedling(_Registering):",
    "a metaclass": "class Seedling(CountingProvider, metaclass=_Meta):",
}


@pytest.mark.parametrize("between", sorted(STATEMENTS))
def test_the_seed_designs_underscored_clock_skew_is_warned_about_where_it_is_set(
    between: str,
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        seedling = _seedling(between)
    source = Path(__file__).read_text().splitlines()
    (line,) = (
        n for n, text in enumerate(source, 1) if text.strip().startswith(STATEMENTS[between])
    )
    assert [(w.filename, w.lineno) for w in caught] == [(__file__, line)]  # not ours
    assert "Seedling._clock_skew is not read; set clock_skew" in str(caught[0].message)
    assert seedling.clock_skew == CachedTokenProvider.clock_skew


def test_five_second_token_is_not_fetched_on_every_call(fake_clock: FakeClock) -> None:
    provider = CountingProvider(fake_clock, lifetime=5)
    for _ in range(20):
        assert provider.token == "token-1"
        fake_clock.advance(0.1)  # 2 s in all: before the scaled advisory margin of 2.5 s
    assert provider.calls == 1
    fake_clock.advance(0.6)
    assert provider.token == "token-1"  # the refresh ahead runs in a worker
    wait_for_refresh(provider)
    assert provider.token == "token-2"


def test_wall_clock_jump_neither_expires_nor_extends(fake_clock: FakeClock) -> None:
    provider = CountingProvider(fake_clock, lifetime=3600)
    assert provider.token == "token-1"
    fake_clock.jump_wall(+7200)  # wall clock leaps past the expiry
    assert provider.token == "token-1"
    fake_clock.jump_wall(-7200 - 86400)  # and then far back
    fake_clock.advance(3600)  # but real time passes: the token is due
    assert provider.token == "token-2"


def test_failed_advisory_refresh_keeps_token_and_backs_off(
    fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    provider = CountingProvider(fake_clock, lifetime=3600, failure_cooldown=2)
    assert provider.token == "token-1"
    fake_clock.advance(3600 - 200)
    provider.fail_with = ConnectionError("endpoint down")
    with caplog.at_level(logging.WARNING, logger="tokenprovider"):
        assert provider.token == "token-1"
        wait_for_refresh(provider)
    assert provider.calls == 2
    assert "keeping the current token" in caplog.text
    assert [provider.token for _ in range(5)] == ["token-1"] * 5
    wait_for_refresh(provider)
    assert provider.calls == 2  # backing off: no new attempt yet
    fake_clock.advance(2)
    assert provider.token == "token-1"
    wait_for_refresh(provider)
    assert provider.calls == 3  # one more attempt, which failed too
    fake_clock.advance(2)
    assert provider.token == "token-1"
    wait_for_refresh(provider)
    assert provider.calls == 3  # the back-off doubled to 4 s
    provider.fail_with = None
    fake_clock.advance(2)
    assert provider.token == "token-1"
    wait_for_refresh(provider)
    assert provider.token == "token-4"


def test_failed_mandatory_refresh_raises_then_recovers_after_cooldown(
    fake_clock: FakeClock,
) -> None:
    provider = CountingProvider(fake_clock, failure_cooldown=2)
    provider.fail_with = ConnectionError("endpoint down")
    with pytest.raises(TokenRequestError, match="CountingProvider could not get a token") as info:
        _ = provider.token
    assert isinstance(info.value.__cause__, ConnectionError)
    with pytest.raises(TokenRequestError, match=r"not retrying for another 2\.0s") as again:
        _ = provider.token
    assert isinstance(again.value.__cause__, ConnectionError)
    assert provider.calls == 1
    provider.fail_with = None
    fake_clock.advance(2)
    assert provider.token == "token-2"


def test_our_own_errors_are_raised_unwrapped(fake_clock: FakeClock) -> None:
    provider = CountingProvider(fake_clock)
    provider.fail_with = MalformedTokenResponseError("bad answer from the source")
    with pytest.raises(MalformedTokenResponseError, match="bad answer"):
        _ = provider.token


def test_invalidate_cache_forces_a_fetch(fake_clock: FakeClock) -> None:
    provider = CountingProvider(fake_clock)
    assert provider.token == "token-1"
    provider.invalidate_cache()
    assert provider.expires_at is None
    assert provider.token == "token-2"


@pytest.mark.parametrize(
    ("result", "match"),
    [
        (("", 2e9), "non-empty str token"),
        ((None, 2e9), "non-empty str token"),
        (("token", "tomorrow"), "expiry as epoch seconds"),
        (("token", float("nan")), "expiry as epoch seconds"),
    ],
)
def test_bad_request_token_results_are_clear_errors(
    result: tuple[object, object], match: str
) -> None:
    class Broken(CachedTokenProvider):
        def _request_token(self) -> tuple[str, float]:
            return result  # type: ignore[return-value]

    with pytest.raises(MalformedTokenResponseError, match=match):
        _ = Broken("api.example.com").token


def test_lifetime_instead_of_expiry_is_refused_with_a_hint(
    fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    class Confused(CachedTokenProvider):
        def _request_token(self) -> tuple[str, float]:
            return "token", 3600

    provider = Confused("api.example.com", clock=fake_clock)
    with (
        caplog.at_level(logging.WARNING, logger="tokenprovider"),
        pytest.raises(MalformedTokenResponseError, match=r"return time\.time\(\) \+ lifetime"),
    ):
        _ = provider.token
    assert "return time.time() + lifetime" in caplog.text


def test_recursive_token_use_is_an_error_not_a_deadlock() -> None:
    class Recursive(CachedTokenProvider):
        def _request_token(self) -> tuple[str, float]:
            return self.token, time.time() + 100

    with pytest.raises(TokenProviderError, match="asked for its own token"):
        _ = Recursive("api.example.com").token


@pytest.mark.parametrize("setting", ["clock_skew", "refresh_ahead", "failure_cooldown"])
@pytest.mark.parametrize("value", [-1, float("inf"), "10", True])
def test_invalid_durations_are_rejected(setting: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=setting):
        CountingProvider(FakeClock(), **{setting: value})  # type: ignore[arg-type]


def test_abstract_request_token_says_what_to_implement() -> None:
    with pytest.raises(TokenRequestError, match="must implement _request_token"):
        _ = CachedTokenProvider("api.example.com").token


@pytest.mark.parametrize("fails", [False, True], ids=["already-due-token", "failing-source"])
def test_waiters_share_the_outcome_of_the_fetch_they_waited_for(
    fake_clock: FakeClock, fails: bool
) -> None:
    # A token whose fetch took most of its 1 s life is due again at once, and a zero
    # cooldown allows an immediate retry: still, callers queued behind a fetch take its
    # outcome.

    class SlowAnswer(CountingProvider):
        def _request_token(self) -> tuple[str, float]:
            expires_at = fake_clock.time() + 1.0
            token, _ = super()._request_token()
            fake_clock.advance(0.9)  # the answer arrives with 0.1 s of its life left
            return token, expires_at

    provider = SlowAnswer(fake_clock, failure_cooldown=0)
    if fails:
        provider.fail_with = ConnectionError("endpoint down")
    entered, release = hold_fetches(provider)
    outcomes: list[str] = []

    def caller(ready: threading.Event | None = None) -> None:
        if ready is not None:
            ready.set()
        try:
            outcomes.append(provider.token)
        except TokenRequestError:
            outcomes.append("error")

    first = threading.Thread(target=caller)
    first.start()
    assert entered.wait(10)
    ready = [threading.Event() for _ in range(16)]
    waiters = [threading.Thread(target=caller, args=(event,)) for event in ready]
    for waiter in waiters:
        waiter.start()
    for event in ready:
        assert event.wait(10)
    release.set()
    for thread in [first, *waiters]:
        thread.join(10)
    assert outcomes == ["error" if fails else "token-1"] * 17
    assert provider.calls == 1


def test_advisory_back_off_starts_over_with_each_new_token(fake_clock: FakeClock) -> None:
    provider = CountingProvider(fake_clock, lifetime=3600, failure_cooldown=2)
    assert provider.token == "token-1"
    fake_clock.advance(3600 - 200)
    provider.fail_with = ConnectionError("down")
    for _ in range(4):  # four failed advisory attempts: the back-off grows to 16 s
        _ = provider.token
        wait_for_refresh(provider)
        fake_clock.advance(20)
    provider.fail_with = None
    fake_clock.advance(200)  # expired: a mandatory fetch succeeds
    fresh = provider.token
    fake_clock.advance(3600 - 200)  # the new token's advisory window
    provider.fail_with = ConnectionError("down again")
    calls = provider.calls
    assert provider.token == fresh  # first advisory attempt for this token fails
    wait_for_refresh(provider)
    fake_clock.advance(2)  # the back-off starts again at failure_cooldown, not at 32 s
    assert provider.token == fresh
    wait_for_refresh(provider)
    assert provider.calls == calls + 2


@pytest.mark.parametrize(
    "token",
    ["s3cr3t\n", " s3cr3t", "s3c\r\nr3t", "s3c\x00r3t", "s3cr3t-ü"],
    ids=["newline", "space", "crlf", "nul", "non-ascii"],
)
def test_tokens_a_header_cannot_carry_are_rejected_unquoted(token: str) -> None:
    class Sloppy(CachedTokenProvider):
        def _request_token(self) -> tuple[str, float]:
            return token, time.time() + 60

    with pytest.raises(MalformedTokenResponseError, match="characters an HTTP header") as info:
        _ = Sloppy("api.example.com").token
    assert "s3c" not in str(info.value)


@pytest.mark.parametrize("result", [("t", 2e9, "extra"), {"token": "t"}, "ab", None])
def test_request_token_must_return_a_pair(result: object) -> None:
    class Odd(CachedTokenProvider):
        def _request_token(self) -> tuple[str, float]:
            return result  # type: ignore[return-value]

    with pytest.raises(MalformedTokenResponseError, match=r"\(token, expires_at\) pair"):
        _ = Odd("api.example.com").token


def test_401_refresh_is_not_repeated_within_the_reauth_interval(fake_clock: FakeClock) -> None:
    provider = CountingProvider(fake_clock)
    first = provider._authorization()
    provider._invalidate_if_current(first)  # a 401: replaced
    second = provider._authorization()
    assert second != first
    provider._invalidate_if_current(second)  # another 401 at once: not a freshness problem
    assert provider._authorization() == second
    fake_clock.advance(provider.reauth_interval)
    provider._invalidate_if_current(second)  # later on, a 401 refreshes again
    assert provider._authorization() not in (first, second)
    assert provider.calls == 3


class _InterruptingClock(FakeClock):
    """Runs ``interrupt`` once, inside the next monotonic() read, as if another thread
    ran between a caller reading the snapshot and reaching the slow path."""

    interrupt: Callable[[], object] | None = None

    def monotonic(self) -> float:
        interrupt, self.interrupt = self.interrupt, None
        if interrupt is not None:
            interrupt()
        return super().monotonic()


def test_a_caller_that_finds_the_token_refreshed_meanwhile_does_not_refresh_again() -> None:
    clock = _InterruptingClock()
    provider = CountingProvider(clock, lifetime=100.0, refresh_ahead=50.0)
    assert provider.token == "token-1"
    clock.advance(60)  # in the advisory window
    clock.interrupt = lambda: provider.token  # another caller refreshes first
    assert provider.token == "token-2"
    assert provider.calls == 2


# -- attributes that go with a token ------------------------------------------------------------


class NumberedAttributes(CountingProvider):
    """Names each token's fetch in its attributes."""

    def _token_attributes(self) -> Mapping[str, str]:
        return {"fetch": str(self.calls)}


def test_attributes_stay_with_their_token_across_refreshes(fake_clock: FakeClock) -> None:
    provider = NumberedAttributes(fake_clock, lifetime=100)

    first = provider._token_details()
    fake_clock.advance(100)
    second = provider._token_details()

    assert (first[0], first[2]) == ("token-1", {"fetch": "1"})
    assert (second[0], second[2]) == ("token-2", {"fetch": "2"})
    assert CountingProvider(fake_clock)._token_details()[2] == {}  # none by default


@pytest.mark.parametrize(
    "attributes",
    [{"Bad Name": "x"}, {"name": 1}, ["name"], {f"a{n}": "x" for n in range(9)}, {"a": "x" * 257}],
    ids=["bad-name", "not-a-string", "not-a-mapping", "too-many", "too-long"],
)
def test_attributes_a_cache_cannot_hold_are_refused_with_the_token(
    fake_clock: FakeClock, attributes: Any
) -> None:
    class Odd(CountingProvider):
        def _token_attributes(self) -> Any:
            return attributes

    with pytest.raises(MalformedTokenResponseError, match=r"_token_attributes\(\) returned"):
        _ = Odd(fake_clock).token


def test_a_token_refused_while_its_refresh_fails_is_not_served(fake_clock: FakeClock) -> None:
    """A 401 during the mandatory-window fetch refuses the token: when the fetch then
    fails, the caller gets the error, not the refused token."""
    provider = CountingProvider(fake_clock, lifetime=100)
    refused = provider.token
    fake_clock.advance(95)  # mandatory window: 5 s left
    entered, release = hold_fetches(provider)
    provider.fail_with = RuntimeError("token endpoint down")
    served: list[str] = []
    errors: list[Exception] = []

    def call() -> None:
        try:
            served.append(provider.token)
        except TokenRequestError as exc:
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    assert entered.wait(5)
    provider._invalidate_if_current(provider._format_authorization(refused))
    release.set()
    caller.join(5)

    assert served == []
    assert len(errors) == 1


def test_a_refused_token_gives_way_to_another_processs_token_when_the_refresh_fails(
    fake_clock: FakeClock,
) -> None:
    """The shared cache's unexpired token is served after a failed fetch even when this
    provider's own token was refused (a 401) while the fetch ran."""

    class SharedCounting(CountingProvider):
        def _cache_identity(self) -> Mapping[str, Any]:
            return {"kind": "counting", "host": "api.example.com"}

    cache = MemoryTokenCache()
    mine = SharedCounting(fake_clock, lifetime=100, cache=cache)
    other = SharedCounting(fake_clock, lifetime=40, cache=cache)
    other.calls = 100
    refused = mine.token
    fake_clock.advance(70)
    fetched_elsewhere = other.token  # a newer token, 40 s from now
    fake_clock.advance(25)  # mine is in its mandatory window (5 s left); 15 s left there
    entered, release = hold_fetches(mine)
    mine.fail_with = RuntimeError("token endpoint down")
    served: list[str] = []
    caller = threading.Thread(target=lambda: served.append(mine.token))
    caller.start()
    assert entered.wait(5)
    mine._invalidate_if_current(mine._format_authorization(refused))
    release.set()
    caller.join(5)

    assert served == [fetched_elsewhere]
    assert fetched_elsewhere != refused
