"""Hot-path cost and cold-herd token requests, printed side by side from one run.

1. µs per auth call with a warm token, against a requests auth (an `AuthBase` object, as
   every requests auth is) that sets a constant header; a bare function doing the same
   is shown too, since calling a function is cheaper than calling an object.
   Every loop also removes the header and the response hook again (so each call does
   the work it does on a new request); that reset is timed alone and subtracted. The
   provider runs with its host check and its 401-retry hook, as in production.
   One more row gives the request a new URL string (equal text) on every call, as a new
   request has, so that nothing the string keeps from the call before (its hash) helps.
2. Token requests made when N threads ask a cold provider for a token at once, against
   a local OAuth2 server taking 50 ms per token; beside it, a naive cache without a lock
   (the shape most hand-rolled caches take) for contrast.

Run: ``make bench`` (or ``.venv/bin/python benchmarks/hot_path.py``).
"""

from __future__ import annotations

import threading
import time
import timeit
from collections.abc import Callable

import requests
import requests.auth

from tokenprovider import OAuthTokenProvider
from tokenprovider.caches import MemoryTokenCache
from tokenprovider.testing.oauth_server import LocalOAuthServer

#: Long enough not to draw the short-secret warning.
BENCH_SECRET = "bench-client-secret"

ROUNDS = 100_000
REPEATS = 15
LATENCY = 0.05


def _best_per_call(*statements: Callable[[], object]) -> list[float]:
    """The fastest of REPEATS rounds for each statement, rounds interleaved so that
    drift in machine speed hits every statement alike."""
    best = [float("inf")] * len(statements)
    for _ in range(REPEATS):
        for index, statement in enumerate(statements):
            best[index] = min(best[index], timeit.timeit(statement, number=ROUNDS))
    return [seconds / ROUNDS for seconds in best]


def hot_path(server: LocalOAuthServer) -> None:
    provider = OAuthTokenProvider(server.url, "client", BENCH_SECRET, token_url=server.token_url)
    provider.token  # noqa: B018 - warm the cache
    request = requests.Request("GET", server.url + "/items?page=2").prepare()
    store = request.headers._store  # type: ignore[attr-defined]
    hooks = request.hooks["response"]

    constant = ConstantHeader()

    def constant_function(r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = "Bearer constant-token"
        return r

    def reset() -> None:
        store.pop("authorization", None)
        hooks.clear()

    def with_constant() -> None:
        store.pop("authorization", None)
        hooks.clear()
        constant(request)

    def with_constant_function() -> None:
        store.pop("authorization", None)
        hooks.clear()
        constant_function(request)

    def with_provider() -> None:
        store.pop("authorization", None)
        hooks.clear()
        provider(request)

    # The same call on a request of its own whose URL is a new string each time.
    renewed = requests.Request("GET", server.url + "/items?page=2").prepare()
    renewed_store = renewed.headers._store  # type: ignore[attr-defined]
    renewed_hooks = renewed.hooks["response"]
    url = str(renewed.url)
    head, tail = url[:-1], url[-1:]

    def reset_url() -> None:
        renewed_store.pop("authorization", None)
        renewed_hooks.clear()
        renewed.url = head + tail

    def with_provider_new_url() -> None:
        renewed_store.pop("authorization", None)
        renewed_hooks.clear()
        renewed.url = head + tail
        provider(renewed)

    timings = _best_per_call(
        reset,
        with_constant,
        with_constant_function,
        with_provider,
        reset_url,
        with_provider_new_url,
    )
    base, const, function, ours = timings[0], *(t - timings[0] for t in timings[1:4])
    fresh = timings[5] - timings[4]
    print("hot path (warm token, one auth call on a prepared request)")
    print(f"  constant-header auth     {const * 1e6:6.3f} µs   (1.00x)")
    print(f"  OAuthTokenProvider       {ours * 1e6:6.3f} µs   ({ours / const:.2f}x)")
    print(f"    a new URL string each  {fresh * 1e6:6.3f} µs   ({fresh / const:.2f}x)")
    print(f"  constant-header function {function * 1e6:6.3f} µs   ({function / const:.2f}x)")
    print(f"  (loop and header reset   {base * 1e6:6.3f} µs, subtracted from each)")


class ConstantHeader(requests.auth.AuthBase):
    """The baseline: a requests auth that sets a constant header and nothing else."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = "Bearer constant-token"
        return r


class _NaiveCache:
    """A lock-free cache as often hand-rolled: check the expiry, fetch when stale."""

    def __init__(self, provider: OAuthTokenProvider) -> None:
        self.fetch = provider._request_token
        self.cached: str | None = None
        self.valid_until = -1.0

    @property
    def token(self) -> str:
        if self.cached is None or self.valid_until < time.time() + 10:
            self.cached, self.valid_until = self.fetch()
        return self.cached


def herd(server: LocalOAuthServer, threads: int, naive: bool) -> int:
    server.reset_counters()
    # Its own cache: a cold provider, not one handed the token of an earlier run.
    provider = OAuthTokenProvider(
        server.url, "client", BENCH_SECRET, token_url=server.token_url, cache=MemoryTokenCache()
    )
    source: OAuthTokenProvider | _NaiveCache = _NaiveCache(provider) if naive else provider
    barrier = threading.Barrier(threads)

    def caller() -> None:
        barrier.wait()
        source.token  # noqa: B018

    workers = [threading.Thread(target=caller) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return server.token_requests


def main() -> None:
    with LocalOAuthServer(clients={"client": BENCH_SECRET}) as server:
        hot_path(server)
        server.latency = LATENCY
        print(f"\ncold herd (token endpoint takes {LATENCY * 1000:.0f} ms): token requests made")
        print(f"  {'threads':>7}  {'tokenprovider':>13}  {'naive cache':>11}")
        for threads in (32, 256):
            ours = herd(server, threads, naive=False)
            naive = herd(server, threads, naive=True)
            print(f"  {threads:>7}  {ours:>13}  {naive:>11}")


if __name__ == "__main__":
    main()
