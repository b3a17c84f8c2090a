"""Async callers: a cold herd of tasks, a mixed herd of tasks and threads, and the warm path.

A local OAuth2 server takes 50 ms per token request. Each herd starts on a cold
`OAuthTokenProvider` (a cache of its own, so nothing is left from a previous run):

- ``200 tasks``: 200 coroutines on one loop await ``provider.async_token()`` at once.
- ``100 + 100``: 100 threads read ``provider.token`` while 100 tasks await.
- ``4 loops``: 4 threads, each running its own event loop with 50 tasks.

For each: token requests the server received (the target is 1), the slowest caller's
wait, and the longest the event loop went without running a 1 ms ticker while the herd
was served (the fetch runs in a worker thread; the target is under 5 ms, and the tests
require under 50 ms).

Then the warm path: µs per ``await provider.async_token()`` with a valid token, against
awaiting a coroutine that returns a constant string, as a ratio.

Run: ``.venv/bin/python benchmarks/async_herd.py``
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable

from tokenprovider import OAuthTokenProvider
from tokenprovider.caches import MemoryTokenCache
from tokenprovider.testing import LocalOAuthServer

LATENCY = 0.05
#: Long enough not to draw the short-secret warning.
SECRET = "bench-client-secret"
WARM_CALLS = 200_000
ROUNDS = 5


def fresh_provider(server: LocalOAuthServer) -> OAuthTokenProvider:
    return OAuthTokenProvider(
        server.url, "client", SECRET, token_url=server.token_url, cache=MemoryTokenCache()
    )


async def ticker(stop: asyncio.Event) -> float:
    """The longest the loop left a 1 ms ticker waiting beyond its due time, in ms."""
    loop = asyncio.get_running_loop()
    worst = 0.0
    while not stop.is_set():
        due = loop.time() + 0.001
        await asyncio.sleep(0.001)
        worst = max(worst, loop.time() - due)
    return worst * 1000


async def timed_tasks(provider: OAuthTokenProvider, count: int) -> tuple[float, float]:
    """Run ``count`` tasks at once; the slowest wait and the loop's worst lag, in ms."""
    stop = asyncio.Event()
    lag = asyncio.ensure_future(ticker(stop))

    async def one() -> float:
        started = time.perf_counter()
        await provider.async_token()
        return time.perf_counter() - started

    waits = await asyncio.gather(*(one() for _ in range(count)))
    stop.set()
    return max(waits) * 1000, await lag


def herd_tasks(server: LocalOAuthServer) -> tuple[int, float, float]:
    server.reset_counters()
    slowest, lag = asyncio.run(timed_tasks(fresh_provider(server), 200))
    return server.token_requests, slowest, lag


def herd_mixed(server: LocalOAuthServer) -> tuple[int, float, float]:
    server.reset_counters()
    provider = fresh_provider(server)
    start = threading.Barrier(101)
    thread_waits: list[float] = []

    def thread_caller() -> None:
        start.wait()
        started = time.perf_counter()
        _ = provider.token
        thread_waits.append(time.perf_counter() - started)

    async def tasks() -> tuple[float, float]:
        await asyncio.to_thread(start.wait)
        return await timed_tasks(provider, 100)

    threads = [threading.Thread(target=thread_caller) for _ in range(100)]
    for thread in threads:
        thread.start()
    slowest, lag = asyncio.run(tasks())
    for thread in threads:
        thread.join()
    return server.token_requests, max(slowest, max(thread_waits) * 1000), lag


def herd_loops(server: LocalOAuthServer) -> tuple[int, float, float]:
    server.reset_counters()
    provider = fresh_provider(server)
    start = threading.Barrier(4)
    results: list[tuple[float, float]] = []

    def loop_thread() -> None:
        async def main() -> tuple[float, float]:
            await asyncio.to_thread(start.wait)
            return await timed_tasks(provider, 50)

        results.append(asyncio.run(main()))

    threads = [threading.Thread(target=loop_thread) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return (
        server.token_requests,
        max(slowest for slowest, _ in results),
        max(lag for _, lag in results),
    )


async def per_call_us(call: Callable[[], Awaitable[str]]) -> float:
    """The best of ``ROUNDS`` rounds of µs per awaited call."""
    rounds = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(WARM_CALLS):
            await call()
        rounds.append((time.perf_counter() - started) / WARM_CALLS * 1e6)
    return min(rounds)


def warm_path(server: LocalOAuthServer) -> tuple[float, float]:
    provider = fresh_provider(server)
    _ = provider.token

    async def constant() -> str:
        return "constant-token"

    async def both() -> tuple[float, float]:
        ours = await per_call_us(provider.async_token)
        baseline = await per_call_us(constant)
        return ours, baseline

    return asyncio.run(both())


def main() -> None:
    with LocalOAuthServer(clients={"client": SECRET}, latency=LATENCY) as server:
        print(
            f"cold herds on a token endpoint taking {LATENCY * 1000:.0f} ms "
            "(requests: token requests made; target 1)"
        )
        print(f"{'herd':<12} {'requests':>8} {'slowest ms':>10} {'loop lag ms':>11}")
        for name, herd in (
            ("200 tasks", herd_tasks),
            ("100 + 100", herd_mixed),
            ("4 loops", herd_loops),
        ):
            requests, slowest, lag = herd(server)
            print(f"{name:<12} {requests:>8} {slowest:>10.1f} {lag:>11.2f}")
        ours, baseline = warm_path(server)
        print(
            f"\nwarm path: await provider.async_token() {ours:.3f} µs, awaiting a constant "
            f"{baseline:.3f} µs: {ours / baseline:.2f}x (statistics: best of {ROUNDS})"
        )


if __name__ == "__main__":
    main()
