"""``tokenprovider demo``: the library at work against local servers on 127.0.0.1.

No network beyond loopback and no cloud account: a local OAuth2 server issues tokens,
guards a protected resource and injects failures on demand, and a second local server
plays a foreign host that must never see a token.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO
from urllib.parse import quote

import requests

from tokenprovider.caches.file import FileTokenCache
from tokenprovider.errors import TokenProviderError
from tokenprovider.providers.oauth import OAuthTokenProvider
from tokenprovider.retry import RetryPolicy
from tokenprovider.testing.http_recorder import RecordingHTTPServer
from tokenprovider.testing.oauth_server import LocalOAuthServer

CLIENT_ID = "demo-client"
CLIENT_SECRET = "demo-secret-not-for-production"
LATENCY = 0.05  # seconds the demo token endpoint takes to answer


@dataclass
class _Report:
    out: TextIO
    failures: list[str] = field(default_factory=list)

    def finish(self) -> int:
        """Print the verdict; 0 if every scene behaved as expected, else 1."""
        self.out.write("\n")
        if self.failures:
            self.out.write(f"demo FAILED: {', '.join(self.failures)}\n")
            return 1
        self.out.write("demo finished: every scene behaved as expected\n")
        return 0

    def line(self, ok: bool, title: str, detail: str) -> None:
        mark = "ok  " if ok else "FAIL"
        self.out.write(f"  [{mark}] {title:<34} {detail}\n")
        if not ok:
            self.failures.append(title)


def run_demo(out: TextIO) -> int:
    """Run every scene, print a short report, and return 0 if all went as expected."""
    report = _Report(out)
    with (
        LocalOAuthServer(clients={CLIENT_ID: CLIENT_SECRET}, latency=LATENCY) as server,
        RecordingHTTPServer() as foreign,
    ):
        out.write(
            f"tokenprovider demo: OAuth2 server at {server.url} "
            f"({LATENCY * 1000:.0f} ms per token), foreign host at {foreign.url}\n\n"
        )
        provider = OAuthTokenProvider(
            server.url, CLIENT_ID, CLIENT_SECRET, token_url=server.token_url, scopes=["read"]
        )
        out.write(f"  provider: {provider!r}\n\n")
        with provider.session() as session:
            _cold_herd(server, session, report)
            _cache_reuse(server, session, provider, report)
            _revoked_token(server, session, report)
            _recovery(server, session, provider, report)
            _foreign_host(server, foreign, session, report)
        _processes_share(server, report)
        _refresh_ahead(server, report)
    _outage(report)
    return report.finish()


def _timed(call: Callable[[], requests.Response]) -> tuple[int, float]:
    start = time.perf_counter()
    response = call()
    return response.status_code, time.perf_counter() - start


def _cold_herd(server: LocalOAuthServer, session: requests.Session, report: _Report) -> None:
    callers = 32
    barrier = threading.Barrier(callers)
    results: list[tuple[int, float]] = []

    def caller() -> None:
        barrier.wait()
        results.append(_timed(lambda: session.get(server.resource_url)))

    threads = [threading.Thread(target=caller) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted({status for status, _ in results})
    slowest = max(seconds for _, seconds in results)
    report.line(
        server.token_requests == 1 and statuses == [200],
        f"{callers} simultaneous cold callers",
        f"{server.token_requests} token request; HTTP {statuses}; slowest waited "
        f"{slowest * 1000:.0f} ms",
    )


def _cache_reuse(
    server: LocalOAuthServer,
    session: requests.Session,
    provider: OAuthTokenProvider,
    report: _Report,
) -> None:
    before = server.token_requests
    calls = 200
    statuses = {session.get(server.resource_url).status_code for _ in range(calls)}
    per_call = _auth_call_cost(provider, server.resource_url)
    report.line(
        server.token_requests == before and statuses == {200},
        "cached token reused",
        f"{calls} more requests, {server.token_requests - before} token requests; "
        f"attaching it costs {per_call * 1e6:.2f} µs",
    )


def _auth_call_cost(provider: OAuthTokenProvider, url: str, rounds: int = 20_000) -> float:
    """Seconds per auth call with a warm token, net of resetting the request each time."""
    request = requests.Request("GET", url).prepare()
    store = request.headers._store  # type: ignore[attr-defined]
    hooks = request.hooks["response"]

    def loop(auth: bool) -> float:
        start = time.perf_counter()
        for _ in range(rounds):
            store.pop("authorization", None)
            hooks.clear()
            if auth:
                provider(request)
        return time.perf_counter() - start

    return max(0.0, min(loop(True) for _ in range(3)) - min(loop(False) for _ in range(3))) / rounds


def _revoked_token(server: LocalOAuthServer, session: requests.Session, report: _Report) -> None:
    before = server.token_requests
    server.revoke_all()
    response = session.get(server.resource_url)
    report.line(
        response.status_code == 200 and server.token_requests == before + 1,
        "token revoked by the server",
        f"401 → {server.token_requests - before} refresh → retried once → HTTP "
        f"{response.status_code}",
    )


def _recovery(
    server: LocalOAuthServer,
    session: requests.Session,
    provider: OAuthTokenProvider,
    report: _Report,
) -> None:
    before = server.token_requests
    server.fail_next(2, 503)
    provider.invalidate_cache()
    status, seconds = _timed(lambda: session.get(server.resource_url))
    attempts = server.token_requests - before
    report.line(
        status == 200 and attempts == 3,
        "two injected 503s",
        f"retried with jittered backoff: {attempts} attempts, HTTP {status} after "
        f"{seconds * 1000:.0f} ms",
    )


def _foreign_host(
    server: LocalOAuthServer,
    foreign: RecordingHTTPServer,
    session: requests.Session,
    report: _Report,
) -> None:
    session.get(foreign.url + "/direct")
    session.get(f"{server.url}/redirect?to={quote(foreign.url + '/after-redirect', safe='')}")
    seen = [request for request in foreign.requests if "authorization" in request.headers]
    paths = [request.path for request in foreign.requests]
    report.line(
        not seen and paths == ["/direct", "/after-redirect"],
        "token withheld from a foreign host",
        f"{len(paths)} requests reached it (direct, via redirect), "
        f"{len(seen)} carried an Authorization header",
    )


def _processes_share(server: LocalOAuthServer, report: _Report) -> None:
    processes = 4
    before = server.token_requests
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as directory:
        start = context.Barrier(processes)
        results = context.Queue()
        workers = [
            context.Process(
                target=_cold_process,
                args=(server.url, server.token_url, directory, start, results),
            )
            for _ in range(processes)
        ]
        for worker in workers:
            worker.start()
        fingerprints = {results.get(timeout=60) for _ in workers}
        for worker in workers:
            worker.join(timeout=60)
    fetched = server.token_requests - before
    report.line(
        fetched == 1 and len(fingerprints) == 1,
        f"{processes} cold processes, one file cache",
        f"{fetched} token request; {len(fingerprints)} distinct token among them "
        "(a lock file makes one fetch while the others wait)",
    )


def _cold_process(
    url: str, token_url: str, directory: str, start: Any, results: Any
) -> None:  # pragma: no cover - runs in a child process
    provider = OAuthTokenProvider(
        url,
        CLIENT_ID,
        CLIENT_SECRET,
        token_url=token_url,
        scopes=["fleet"],
        cache=FileTokenCache(directory),
    )
    start.wait()
    results.put(hashlib.sha256(provider.token.encode()).hexdigest())


def _refresh_ahead(server: LocalOAuthServer, report: _Report) -> None:
    lifetime, duration, workers = 2.0, 3.0, 8
    server.token_lifetime = lifetime
    before_requests, before_401 = server.token_requests, server.resource_unauthorized
    provider = OAuthTokenProvider(
        server.url,
        CLIENT_ID,
        CLIENT_SECRET,
        token_url=server.token_url,
        retry=RetryPolicy(max_attempts=1),
    )
    waits: list[float] = []
    statuses: set[int] = set()
    lock = threading.Lock()
    stop_at = time.monotonic() + duration

    def worker() -> None:
        with provider.session() as session:
            while time.monotonic() < stop_at:
                status, seconds = _timed(lambda: session.get(server.resource_url))
                with lock:
                    waits.append(seconds)
                    statuses.add(status)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    fetched = server.token_requests - before_requests
    unauthorized = server.resource_unauthorized - before_401
    median = statistics.median(waits) * 1000
    report.line(
        unauthorized == 0 and statuses == {200} and 2 <= fetched <= 4,
        f"{lifetime:.0f}-second tokens for {duration:.0f} s",
        f"{len(waits)} requests from {workers} threads, {fetched} token requests "
        f"(refreshed ahead), {unauthorized} HTTP 401s; median call {median:.1f} ms",
    )


class _CountingHandler(logging.Handler):
    """Counts the warnings the library logs during a scene (and keeps them off stderr)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def _outage(report: _Report) -> None:
    """The token endpoint fails through the last half of a 4-second token's life."""
    lifetime, duration = 4.0, 3.5
    with LocalOAuthServer(clients={CLIENT_ID: CLIENT_SECRET}, token_lifetime=lifetime) as server:
        provider = OAuthTokenProvider(
            server.url,
            CLIENT_ID,
            CLIENT_SECRET,
            token_url=server.token_url,
            retry=RetryPolicy(max_attempts=1),
            failure_cooldown=0.25,
        )
        logger = logging.getLogger("tokenprovider")
        warnings = _CountingHandler()
        others, logger.handlers = logger.handlers, [warnings]  # counted, not printed
        try:
            with provider.session() as session:
                session.get(server.resource_url)
                server.fail_next(10_000, 503)
                statuses: list[int] = []
                stop_at = time.monotonic() + duration
                while time.monotonic() < stop_at:
                    try:
                        statuses.append(session.get(server.resource_url).status_code)
                    except TokenProviderError:
                        statuses.append(0)  # no token for this call
        finally:
            logger.handlers = others
        refreshes = server.token_requests - 1
        ok = statuses.count(200)
    report.line(
        ok == len(statuses) and refreshes >= 2,
        "token endpoint down (HTTP 503)",
        f"{ok} of {len(statuses)} requests in {duration:g} s of a {lifetime:g} s token got "
        f"HTTP 200; {refreshes} refreshes failed (the library logged {warnings.count} "
        "warnings; none printed here)",
    )
