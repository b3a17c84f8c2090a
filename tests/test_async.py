"""`await provider.async_token()`: one fetch for every caller, thread or task, on any
number of event loops; a fetch never holds a loop; cancelling a caller cancels nothing
else. Counts are asserted (token requests made), never durations, except the loop-lag
detector's bound, which is the behaviour under test."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from conftest import CANARY_SECRET, assert_no_leak, reachable_text
from tokenprovider import (
    CachedTokenProvider,
    JWTTokenProvider,
    OAuthTokenProvider,
    TokenProviderError,
    TokenRequestError,
)
from tokenprovider.caches.memory import MemoryTokenCache
from tokenprovider.core import _workers
from tokenprovider.testing.clock import FakeClock
from tokenprovider.testing.oauth_server import LocalOAuthServer
from tokenprovider.testing.refresh import wait_for_refresh

BOUND = 10.0  # seconds any wait in these tests may take before it counts as a hang


class GatedSource(CachedTokenProvider):
    """Issues token-1, token-2, ...; each fetch waits until ``release`` is set."""

    def __init__(self, clock: FakeClock, lifetime: float = 3600.0, **kwargs: float) -> None:
        super().__init__("api.example.com", clock=clock, cache=MemoryTokenCache(), **kwargs)
        self.fake_clock = clock
        self.lifetime = lifetime
        self.calls = 0
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self.fail_with: Exception | None = None
        self.threads: list[str] = []
        self._count_lock = threading.Lock()

    def _request_token(self) -> tuple[str, float]:
        with self._count_lock:
            self.calls += 1
            number = self.calls
            self.threads.append(threading.current_thread().name)
        self.entered.set()
        assert self.release.wait(BOUND)
        if self.fail_with is not None:
            raise self.fail_with
        return f"token-{number}", self.fake_clock.time() + self.lifetime


class Arrivals:
    """Counts callers as they arrive; ``all_in`` is set when ``expected`` have."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.all_in = threading.Event()
        self._lock = threading.Lock()

    def arrive(self) -> None:
        with self._lock:
            self.count += 1
            if self.count == self.expected:
                self.all_in.set()


def gate_on(provider: GatedSource, arrivals: Arrivals) -> None:
    """Make the provider's fetch wait until every caller has arrived."""
    provider.release = arrivals.all_in


@pytest.mark.parametrize("expired", [False, True], ids=["cold", "expired"])
def test_200_tasks_make_one_token_request(fake_clock: FakeClock, expired: bool) -> None:
    provider = GatedSource(fake_clock)
    if expired:
        assert provider.token == "token-1"
        fake_clock.advance(3600)
    arrivals = Arrivals(200)
    gate_on(provider, arrivals)

    async def caller() -> str:
        arrivals.arrive()
        return await provider.async_token()

    async def main() -> list[str]:
        return await asyncio.gather(*(caller() for _ in range(200)))

    results = asyncio.run(main())
    expected = "token-2" if expired else "token-1"
    assert results == [expected] * 200
    assert provider.calls == (2 if expired else 1)
    assert provider.threads[-1] == "tokenprovider-fetch"  # not the loop's thread


@pytest.mark.parametrize("first", ["thread", "task"])
def test_50_threads_and_50_tasks_share_one_fetch(fake_clock: FakeClock, first: str) -> None:
    provider = GatedSource(fake_clock)
    arrivals = Arrivals(100)
    gate_on(provider, arrivals)
    thread_results: list[str] = []
    task_results: list[str] = []

    def thread_caller() -> None:
        arrivals.arrive()
        thread_results.append(provider.token)

    async def task_caller() -> str:
        arrivals.arrive()
        return await provider.async_token()

    async def tasks(count: int) -> None:
        task_results.extend(await asyncio.gather(*(task_caller() for _ in range(count))))

    def run_tasks(count: int) -> threading.Thread:
        thread = threading.Thread(target=asyncio.run, args=(tasks(count),))
        thread.start()
        return thread

    # One caller of the first kind starts the fetch; then everyone else comes.
    if first == "thread":
        starters = [threading.Thread(target=thread_caller)]
        starters[0].start()
        assert provider.entered.wait(BOUND)
        others = [threading.Thread(target=thread_caller) for _ in range(49)]
        for thread in others:
            thread.start()
        others.append(run_tasks(50))
    else:
        starters = [run_tasks(1)]
        assert provider.entered.wait(BOUND)
        others = [threading.Thread(target=thread_caller) for _ in range(50)]
        for thread in others:
            thread.start()
        others.append(run_tasks(49))
    for thread in starters + others:
        thread.join(BOUND)
        assert not thread.is_alive()
    assert provider.calls == 1
    assert thread_results == ["token-1"] * 50
    assert task_results == ["token-1"] * 50


def test_several_event_loops_in_several_threads_share_one_provider(
    fake_clock: FakeClock,
) -> None:
    provider = GatedSource(fake_clock)
    arrivals = Arrivals(4 * 25)
    gate_on(provider, arrivals)
    results: list[str] = []

    async def loop_main() -> None:
        async def caller() -> str:
            arrivals.arrive()
            return await provider.async_token()

        results.extend(await asyncio.gather(*(caller() for _ in range(25))))

    threads = [threading.Thread(target=asyncio.run, args=(loop_main(),)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(BOUND)
        assert not thread.is_alive()  # no loop-bound primitive shared: no deadlock
    assert results == ["token-1"] * 100
    assert provider.calls == 1
    # The provider serves a loop it has never seen, after the others have closed.
    assert asyncio.run(provider.async_token()) == "token-1"


async def _max_loop_lag(until: threading.Event | asyncio.Future[object]) -> float:
    """The longest the loop went without running this ticker, until ``until`` is done."""
    loop = asyncio.get_running_loop()
    worst = 0.0
    tick = 0.001
    while not (until.is_set() if isinstance(until, threading.Event) else until.done()):
        started = loop.time()
        await asyncio.sleep(tick)  # measures the loop; synchronises nothing
        worst = max(worst, loop.time() - started - tick)
    return worst


def test_a_slow_fetch_never_holds_the_event_loop() -> None:
    with LocalOAuthServer(clients={"client": CANARY_SECRET}, latency=0.5) as server:
        provider = OAuthTokenProvider(
            server.url, "client", CANARY_SECRET, token_url=server.token_url
        )

        async def main() -> tuple[str, float, float]:
            started = time.monotonic()
            fetch = asyncio.ensure_future(provider.async_token())
            lag = await _max_loop_lag(fetch)
            return await fetch, lag, time.monotonic() - started

        token, lag, took = asyncio.run(main())
    assert token
    assert took >= 0.5  # the detector ran for the whole fetch
    assert lag < 0.05, f"the loop was held for {lag * 1000:.1f} ms"
    assert server.token_requests == 1


def test_cancelling_one_waiter_does_not_cancel_the_fetch_for_the_others(
    fake_clock: FakeClock,
) -> None:
    provider = GatedSource(fake_clock)
    provider.release = threading.Event()

    async def main() -> str:
        doomed = asyncio.ensure_future(provider.async_token())
        survivor = asyncio.ensure_future(provider.async_token())
        await asyncio.to_thread(provider.entered.wait, BOUND)
        doomed.cancel()
        with pytest.raises(asyncio.CancelledError):
            await doomed
        provider.release.set()
        return await survivor

    assert asyncio.run(main()) == "token-1"
    assert provider.calls == 1


@pytest.mark.parametrize("how", ["cancel", "timeout"])
def test_losing_the_only_waiter_leaves_the_provider_usable(fake_clock: FakeClock, how: str) -> None:
    provider = GatedSource(fake_clock)
    provider.release = threading.Event()

    async def main() -> str:
        if how == "cancel":
            only = asyncio.ensure_future(provider.async_token())
            await asyncio.to_thread(provider.entered.wait, BOUND)
            only.cancel()
            with pytest.raises(asyncio.CancelledError):
                await only
        else:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(provider.async_token(), timeout=0.01)
            assert provider.entered.wait(BOUND)
        # The fetch goes on; a new caller joins it rather than starting another.
        again = asyncio.ensure_future(provider.async_token())
        await asyncio.sleep(0)  # a turn of the loop: it runs up to its wait for the fetch
        assert not again.done()  # waiting for the held fetch: the provider is not stuck
        provider.release.set()
        return await asyncio.wait_for(again, BOUND)

    assert asyncio.run(main()) == "token-1"
    assert provider.calls == 1
    assert asyncio.run(provider.async_token()) == "token-1"


def test_in_the_advisory_window_a_task_gets_the_current_token_at_once(
    fake_clock: FakeClock,
) -> None:
    provider = GatedSource(fake_clock)
    assert asyncio.run(provider.async_token()) == "token-1"
    fake_clock.advance(3600 - 200)  # the advisory window
    provider.release = threading.Event()
    assert asyncio.run(provider.async_token()) == "token-1"  # did not wait for the refresh
    assert provider.entered.wait(BOUND)
    provider.release.set()
    wait_for_refresh(provider)
    assert asyncio.run(provider.async_token()) == "token-2"
    assert provider.calls == 2


def test_a_failed_fetch_raises_in_every_task_and_cools_down(fake_clock: FakeClock) -> None:
    provider = GatedSource(fake_clock, failure_cooldown=5)
    provider.fail_with = ConnectionError(f"unreachable {CANARY_SECRET}")
    arrivals = Arrivals(10)
    gate_on(provider, arrivals)

    async def caller() -> BaseException | str:
        arrivals.arrive()
        try:
            return await provider.async_token()
        except TokenRequestError as exc:
            return exc

    async def main() -> list[BaseException | str]:
        return await asyncio.gather(*(caller() for _ in range(10)))

    outcomes = asyncio.run(main())
    assert all(isinstance(outcome, TokenRequestError) for outcome in outcomes)
    assert provider.calls == 1
    with pytest.raises(TokenRequestError, match="not retrying for another"):
        asyncio.run(provider.async_token())
    assert provider.calls == 1


def test_a_warm_token_costs_tasks_no_worker(
    fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = GatedSource(fake_clock)
    assert provider.token == "token-1"
    started: list[object] = []
    monkeypatch.setattr(_workers, "start", started.append)
    results = asyncio.run(_gather_tokens(provider, 50))
    assert results == ["token-1"] * 50
    assert started == []  # served from the snapshot, on the loop
    assert provider.calls == 1


async def _gather_tokens(provider: CachedTokenProvider, count: int) -> list[str]:
    return list(await asyncio.gather(*(provider.async_token() for _ in range(count))))


def test_async_errors_do_not_leak_the_secret(fake_clock: FakeClock) -> None:
    with LocalOAuthServer(clients={"client": "another-secret-entirely"}) as server:
        provider = OAuthTokenProvider(
            server.url, "client", CANARY_SECRET, token_url=server.token_url
        )
        with pytest.raises(TokenRequestError) as info:
            asyncio.run(provider.async_token())
    assert_no_leak(reachable_text(info.value), CANARY_SECRET)


class CoroutineSource(CachedTokenProvider):
    """A source written as a coroutine; it waits (without blocking) for ``release``."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__("api.example.com", clock=clock, cache=MemoryTokenCache())
        self.fake_clock = clock
        self.calls = 0
        self.loops: list[asyncio.AbstractEventLoop] = []
        self.entered = threading.Event()
        self.release = threading.Event()

    async def _async_request_token(self) -> tuple[str, float]:
        self.calls += 1
        self.loops.append(asyncio.get_running_loop())
        self.entered.set()
        await asyncio.to_thread(self.release.wait, BOUND)
        return f"token-{self.calls}", self.fake_clock.time() + 3600


def test_a_coroutine_source_keeps_one_fetch_for_threads_and_tasks(fake_clock: FakeClock) -> None:
    provider = CoroutineSource(fake_clock)
    arrivals = Arrivals(20)
    provider.release = arrivals.all_in
    thread_results: list[str] = []

    def thread_caller() -> None:
        arrivals.arrive()
        thread_results.append(provider.token)

    async def task_caller() -> str:
        arrivals.arrive()
        return await provider.async_token()

    async def main() -> tuple[list[str], asyncio.AbstractEventLoop]:
        threads = [threading.Thread(target=thread_caller) for _ in range(10)]
        for thread in threads:
            thread.start()
        results = await asyncio.gather(*(task_caller() for _ in range(10)))
        for thread in threads:
            await asyncio.to_thread(thread.join, BOUND)
        return list(results), asyncio.get_running_loop()

    task_results, callers_loop = asyncio.run(main())
    assert provider.calls == 1
    assert task_results == ["token-1"] * 10
    assert thread_results == ["token-1"] * 10
    assert provider.loops[0] is not callers_loop  # it ran on a loop of its own


def test_reading_a_coroutine_sources_token_on_a_running_loop_says_what_to_do(
    fake_clock: FakeClock,
) -> None:
    provider = CoroutineSource(fake_clock)
    provider.release.set()

    async def main() -> str:
        return provider.token

    with pytest.raises(TokenProviderError, match=r"await provider\.async_token\(\)"):
        asyncio.run(main())
    assert asyncio.run(provider.async_token()) == "token-1"


def test_a_coroutine_source_that_awaits_its_own_token_is_told_so(fake_clock: FakeClock) -> None:
    class Recursive(CoroutineSource):
        async def _async_request_token(self) -> tuple[str, float]:
            await self.async_token()  # would wait for the very fetch it is part of
            return "never", self.fake_clock.time() + 3600

    provider = Recursive(fake_clock)
    with pytest.raises(TokenProviderError, match="asked for its own token"):
        asyncio.run(asyncio.wait_for(provider.async_token(), BOUND))  # not a hang


def test_a_failed_refresh_does_not_make_tasks_wait_while_the_token_is_valid(
    fake_clock: FakeClock,
) -> None:
    provider = GatedSource(fake_clock, failure_cooldown=2)
    assert provider.token == "token-1"
    fake_clock.advance(3600 - 5)  # the mandatory window: 5 s left
    provider.fail_with = ConnectionError("endpoint down")
    assert provider.token == "token-1"  # the fetch failed; the valid token is served
    assert provider.calls == 2
    fake_clock.advance(2)  # the cooldown is over: the next caller starts a retry
    provider.release = threading.Event()  # the retry hangs upstream

    async def main() -> list[str]:
        return list(await asyncio.gather(*(provider.async_token() for _ in range(10))))

    assert asyncio.run(main()) == ["token-1"] * 10  # nobody waited for the held retry
    assert provider.entered.wait(BOUND)
    provider.fail_with = None
    provider.release.set()
    wait_for_refresh(provider)
    assert provider.calls == 3
    assert asyncio.run(provider.async_token()) == "token-3"


def test_within_the_cooldown_a_task_gets_the_error_without_a_worker(
    fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = GatedSource(fake_clock, failure_cooldown=5)
    provider.fail_with = ConnectionError("endpoint down")
    with pytest.raises(TokenRequestError):
        asyncio.run(provider.async_token())
    started: list[object] = []
    monkeypatch.setattr(_workers, "start", started.append)
    with pytest.raises(TokenRequestError, match="not retrying for another"):
        asyncio.run(provider.async_token())
    assert started == []
    assert provider.calls == 1


def test_a_coroutine_sources_warm_token_may_be_read_on_a_loop_into_its_refresh_window(
    fake_clock: FakeClock,
) -> None:
    provider = CoroutineSource(fake_clock)
    provider.release.set()
    assert asyncio.run(provider.async_token()) == "token-1"
    fake_clock.advance(3600 - 200)  # the advisory window: a worker refreshes

    async def main() -> str:
        return provider.token  # no fetch on this loop, so nothing to refuse

    assert asyncio.run(main()) == "token-1"
    wait_for_refresh(provider)
    assert provider.calls == 2


def test_a_static_jwt_is_served_to_tasks_without_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_thread(*args: object, **kwargs: object) -> None:
        raise AssertionError("a warm static token went through a thread")

    provider = JWTTokenProvider("api.example.com", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln")
    monkeypatch.setattr(asyncio, "to_thread", no_thread)
    assert asyncio.run(provider.async_token()) == provider.token
    header = asyncio.run(provider._async_header_item())
    assert header == ("Authorization", "Bearer " + provider.token)


def test_a_source_raising_cancelled_error_is_a_failed_fetch_not_a_cancellation(
    fake_clock: FakeClock,
) -> None:
    provider = GatedSource(fake_clock, failure_cooldown=5)
    provider.fail_with = asyncio.CancelledError()  # a BaseException, not an Exception

    async def main() -> list[BaseException | str]:
        return list(
            await asyncio.gather(
                *(provider.async_token() for _ in range(10)), return_exceptions=True
            )
        )

    outcomes = asyncio.run(main())
    assert all(isinstance(outcome, TokenRequestError) for outcome in outcomes), outcomes
    for _ in range(5):
        with pytest.raises(TokenRequestError):
            _ = provider.token  # the cooldown holds: no new call to the source
    assert provider.calls == 1


def test_a_refresh_ahead_raising_cancelled_error_backs_off(fake_clock: FakeClock) -> None:
    provider = GatedSource(fake_clock, failure_cooldown=5)
    assert provider.token == "token-1"
    fake_clock.advance(3600 - 200)
    provider.fail_with = asyncio.CancelledError()
    for _ in range(20):
        assert provider.token == "token-1"
        wait_for_refresh(provider)
    assert provider.calls == 2  # one failed refresh, then the back-off
