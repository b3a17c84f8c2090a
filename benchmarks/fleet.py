"""Token requests and caller waits of a fleet: P processes x T threads sharing one client.

A local OAuth2 server issues short-lived tokens (4 s by default) and takes 50 ms per
token request. P worker processes (``spawn``) each build one `OAuthTokenProvider` for the
same client and run T threads that read ``provider.token`` in a loop (with a short sleep
between calls, as a client doing I/O would) for several token lifetimes, timing every
call. The same fleet runs once per cache, side by side:

- ``memory``: the default per-process `MemoryTokenCache` (nothing shared across
  processes), so every process fetches its own tokens: about P times the ideal.
- ``file``: a `FileTokenCache` in a temporary directory.
- ``file+key``: the same, with tokens encrypted (a key from an ``env:`` reference).
- ``dynamodb``: a `DynamoDBTokenCache` on a moto server (loopback, in this process;
  every DynamoDB call costs a few ms, more than the real service).

How to read the table:

- ``requests``: token requests the server received during the run, the cold start
  included. ``ideal``: what a single provider needs for the same run, one token per
  refresh cycle (the lifetime minus the advisory margin); a shared cache should come
  close to it, whatever P and T. ``ratio`` is requests / ideal.
- ``p50 µs`` and ``p99 µs``: the duration of every call but each thread's first.
- ``waits``: calls that took longer than the wait threshold (1 ms) *and* returned a
  different token than the thread's previous call: the caller took part in a refresh
  (it fetched, or waited for a fetch by another thread or process). ``wait p99`` and
  ``wait max`` are over those calls only. With refresh ahead, ideally only the caller
  that refreshes waits, once per cycle and process.
- ``valid waits``: waits made while the token the thread last got was still valid (had
  not expired): with the refresh ahead in a worker thread, there should be none.
  ``valid max ms``: the longest call of all made while the thread's token was valid
  (p100; target 1 ms): refresh waits and machine noise alike.
- ``other slow``: calls over the threshold that returned the same token: scheduling,
  GIL or GC pauses, not refreshes (machine noise, shown so it is not mistaken for one).
- ``cold ms``: the longest first call of any thread (the cold herd at start).

Run: ``.venv/bin/python benchmarks/fleet.py`` (``--help`` for the fleet's shape).
"""

from __future__ import annotations

import argparse
import array
import base64
import contextlib
import importlib
import math
import multiprocessing
import os
import queue
import secrets
import statistics
import tempfile
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass

from tokenprovider import OAuthTokenProvider, TokenProviderError
from tokenprovider.caches import DynamoDBTokenCache, FileTokenCache, TokenCache, create_table
from tokenprovider.testing.moto import MotoServer
from tokenprovider.testing.oauth_server import LocalOAuthServer

LATENCY = 0.05
#: Long enough not to draw the short-secret warning.
BENCH_SECRET = "bench-client-secret"
KEY_VARIABLE = "TOKENPROVIDER_FLEET_BENCH_KEY"
TABLE = "tokenprovider-fleet-bench"
REGION = "us-west-2"
#: Histogram buckets per natural-log unit of nanoseconds: about 1 % wide.
BUCKETS_PER_E = 100
#: How long the parent waits for the workers beyond the run itself.
SPARE_SECONDS = 120.0


@dataclass(frozen=True)
class Fleet:
    """The shape of one run, as given on the command line."""

    processes: int
    threads: int
    lifetime: int
    lifetimes: float
    pause: float  # seconds between a thread's calls
    refresh_ahead: float
    clock_skew: float
    wait_threshold: float  # seconds

    @property
    def duration(self) -> float:
        return self.lifetime * self.lifetimes

    def margins(self) -> tuple[float, float]:
        """The provider's mandatory and advisory margins for our tokens (as it caps them)."""
        mandatory = min(self.clock_skew, self.lifetime * 0.25)
        advisory = max(mandatory, min(self.refresh_ahead, self.lifetime * 0.5))
        return mandatory, advisory

    def ideal(self) -> int:
        """Token requests a lone provider makes in the run: one per refresh cycle."""
        cycle = self.lifetime - self.margins()[1]
        return math.ceil(self.duration / cycle - 1e-9)


# -- the worker processes -------------------------------------------------------------


def _cache(kind: str, where: str) -> TokenCache | None:
    if kind == "memory":
        return None  # the provider's default, shared only within the process
    if kind == "file":
        return FileTokenCache(where, lock_timeout=30.0)
    if kind == "file+key":
        return FileTokenCache(where, key=f"env:{KEY_VARIABLE}", lock_timeout=30.0)
    if kind == "dynamodb":
        return DynamoDBTokenCache(where, region=REGION)
    raise ValueError(f"unknown cache {kind!r}")


def _caller(provider, end_ns, fleet: Fleet, results: list) -> None:
    """One thread: call ``provider.token`` until ``end_ns``, timing each call, and noting
    whether the token this thread last got was still valid when the call began."""
    clock = time.perf_counter_ns
    wall = time.time
    threshold = int(fleet.wait_threshold * 1e9)
    latencies = array.array("q")
    slow: list[tuple[int, bool, bool]] = []  # (ns, returned a new token, token was valid)
    valid_max = 0  # the longest call made while a valid token existed
    errors = 0
    started = clock()
    try:
        previous = provider.token
    except TokenProviderError:
        previous, errors = "", 1
    cold = clock() - started
    valid_until = provider.expires_at or 0.0
    while True:
        if fleet.pause:
            time.sleep(fleet.pause)
        valid = wall() < valid_until
        started = clock()
        if started >= end_ns:
            break
        try:
            token = provider.token
        except TokenProviderError:
            errors += 1
            continue
        elapsed = clock() - started
        latencies.append(elapsed)
        if valid and elapsed > valid_max:
            valid_max = elapsed
        if elapsed > threshold:
            slow.append((elapsed, token != previous, valid))
        if token != previous:
            valid_until = provider.expires_at or 0.0
        previous = token
    results.append((latencies, slow, cold, errors, valid_max))


def worker(kind: str, where: str, urls: tuple[str, str], fleet: Fleet, barrier, out) -> None:
    """One process of the fleet: a provider, T threads, a summary on ``out``."""
    try:
        importlib.import_module("requests")  # the provider's first fetch would import it
        cache = _cache(kind, where)
        provider = OAuthTokenProvider(
            urls[0],
            "client",
            BENCH_SECRET,
            token_url=urls[1],
            cache=cache,
            refresh_ahead=fleet.refresh_ahead,
            clock_skew=fleet.clock_skew,
        )
        if cache is not None:
            # Set up the cache (directory and salt, or boto3 client, salt and connection)
            # before the clock starts, as in a process that has been running a while.
            cache.load(cache.key_for({"kind": "fleet-benchmark-warm-up"}, None))
        barrier.wait(SPARE_SECONDS)
        end_ns = time.perf_counter_ns() + int(fleet.duration * 1e9)
        results: list = []
        threads = [
            threading.Thread(target=_caller, args=(provider, end_ns, fleet, results))
            for _ in range(fleet.threads)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        histogram: Counter[int] = Counter()
        summary: dict = {
            "calls": 0,
            "slow": [],
            "cold": [],
            "errors": 0,
            "histogram": histogram,
            "valid_max": 0,
        }
        for latencies, slow, cold, errors, valid_max in results:
            for ns, count in Counter(latencies).items():  # few distinct values: bucket those
                histogram[round(math.log(max(ns, 1)) * BUCKETS_PER_E)] += count
            summary["calls"] += len(latencies)
            summary["slow"] += slow
            summary["cold"].append(cold)
            summary["errors"] += errors
            summary["valid_max"] = max(summary["valid_max"], valid_max)
        out.put(summary)
    except BaseException:
        out.put({"failure": traceback.format_exc()})
        raise


# -- the parent -----------------------------------------------------------------------


@dataclass
class Row:
    name: str
    requests: int
    calls: int
    p50_us: float
    p99_us: float
    waits: list[int]  # ns
    valid_waits: int  # waits for a new token while the caller's token was still valid
    valid_max_ms: float  # the longest call made while the caller's token was valid
    other_slow: int
    cold_ms: float
    errors: int


def _histogram_percentile(histogram: Counter[int], total: int, share: float) -> float:
    """The ``share`` percentile of the histogrammed calls, in µs."""
    rank = max(1, math.ceil(share * total))
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return math.exp(bucket / BUCKETS_PER_E) / 1000
    return math.nan


def _percentile(values: list[int], share: float) -> float:
    """Nearest-rank percentile of ``values``."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def run(name: str, kind: str, where: str, server: LocalOAuthServer, fleet: Fleet) -> Row:
    """Run the fleet on one cache; the server's counters are reset first."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(fleet.processes)
    out = context.Queue()
    server.reset_counters()
    processes = [
        context.Process(
            target=worker,
            args=(kind, where, (server.url, server.token_url), fleet, barrier, out),
            name=f"fleet-{kind}-{index}",
        )
        for index in range(fleet.processes)
    ]
    for process in processes:
        process.start()
    summaries = []
    give_up = time.monotonic() + fleet.duration + SPARE_SECONDS
    try:
        while len(summaries) < len(processes):
            try:
                summary = out.get(timeout=1.0)
            except queue.Empty:
                failed = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
                if failed or time.monotonic() > give_up:
                    raise SystemExit(
                        f"{name}: workers failed or hung (exit codes {failed})"
                    ) from None
                continue
            if "failure" in summary:
                raise SystemExit(f"{name}: a worker failed:\n{summary['failure']}")
            summaries.append(summary)
    finally:
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join()
    requests = server.token_requests
    histogram: Counter[int] = Counter()
    slow: list[tuple[int, bool, bool]] = []
    cold: list[int] = []
    for summary in summaries:
        histogram.update(summary["histogram"])
        slow += summary["slow"]
        cold += summary["cold"]
    calls = sum(summary["calls"] for summary in summaries)
    return Row(
        name=name,
        requests=requests,
        calls=calls,
        p50_us=_histogram_percentile(histogram, calls, 0.50),
        p99_us=_histogram_percentile(histogram, calls, 0.99),
        waits=[ns for ns, new_token, _ in slow if new_token],
        valid_waits=sum(1 for _, new_token, valid in slow if new_token and valid),
        valid_max_ms=max(summary["valid_max"] for summary in summaries) / 1e6,
        other_slow=sum(1 for _, new_token, _ in slow if not new_token),
        cold_ms=max(cold) / 1e6,
        errors=sum(summary["errors"] for summary in summaries),
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def print_table(rows: list[Row], fleet: Fleet) -> None:
    ideal = fleet.ideal()
    print(
        f"{'scenario':<10} {'lifetimes':>9} {'requests':>8} {'ideal':>5} {'ratio':>6} "
        f"{'p50 µs':>7} {'p99 µs':>7} {'waits':>5} {'wait p99 ms':>11} {'wait max ms':>11} "
        f"{'valid waits':>11} {'valid max ms':>12} {'other slow':>10} {'cold ms':>7} "
        f"{'calls':>8}"
    )
    for row in rows:
        waits = row.waits
        p99 = _percentile(waits, 0.99) / 1e6 if waits else None
        worst = max(waits) / 1e6 if waits else None
        print(
            f"{row.name:<10} {fleet.lifetimes:>9g} {row.requests:>8} {ideal:>5} "
            f"{row.requests / ideal:>5.2f}x {row.p50_us:>7.2f} {row.p99_us:>7.2f} "
            f"{len(waits):>5} {_ms(p99):>11} {_ms(worst):>11} {row.valid_waits:>11} "
            f"{row.valid_max_ms:>12.2f} {row.other_slow:>10} {row.cold_ms:>7.1f} {row.calls:>8}"
        )
    for row in rows:
        if row.errors:
            print(f"  {row.name}: {row.errors} calls raised a TokenProviderError")


def _moto_get_ms(table: str) -> float:
    """The median time of one consistent GetItem on the moto server, in ms."""
    cache = DynamoDBTokenCache(table, region=REGION)
    key = cache.key_for({"kind": "fleet-benchmark-probe"}, None)
    times = []
    for _ in range(21):
        started = time.perf_counter()
        cache.load(key)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _arguments() -> tuple[Fleet, bool]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=4, help="worker processes (4)")
    parser.add_argument("--threads", type=int, default=8, help="threads per process (8)")
    parser.add_argument("--lifetime", type=int, default=4, help="token lifetime, s (4)")
    parser.add_argument("--lifetimes", type=float, default=3, help="run length, lifetimes (3)")
    parser.add_argument("--pause-ms", type=float, default=1.0, help="sleep between calls (1)")
    parser.add_argument("--refresh-ahead", type=float, default=1.5, help="advisory margin, s")
    parser.add_argument("--clock-skew", type=float, default=0.5, help="mandatory margin, s")
    parser.add_argument("--wait-ms", type=float, default=1.0, help="wait threshold, ms (1)")
    parser.add_argument("--skip-dynamodb", action="store_true", help="no DynamoDB scenario")
    args = parser.parse_args()
    if args.processes < 1 or args.threads < 1 or args.lifetime < 1 or args.lifetimes <= 0:
        parser.error("--processes, --threads, --lifetime and --lifetimes must be positive")
    fleet = Fleet(
        processes=args.processes,
        threads=args.threads,
        lifetime=args.lifetime,
        lifetimes=args.lifetimes,
        pause=args.pause_ms / 1000,
        refresh_ahead=args.refresh_ahead,
        clock_skew=args.clock_skew,
        wait_threshold=args.wait_ms / 1000,
    )
    return fleet, args.skip_dynamodb


def main() -> None:
    fleet, skip_dynamodb = _arguments()
    mandatory, advisory = fleet.margins()
    # Children inherit the environment: the cache key, and moto's endpoint and credentials.
    os.environ[KEY_VARIABLE] = base64.b64encode(secrets.token_bytes(32)).decode()
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(
            LocalOAuthServer(
                clients={"client": BENCH_SECRET}, token_lifetime=fleet.lifetime, latency=LATENCY
            )
        )
        moto_note = ""
        if not skip_dynamodb:
            moto = stack.enter_context(MotoServer())
            os.environ.update(
                AWS_ENDPOINT_URL=moto.url,
                AWS_ACCESS_KEY_ID="testing",
                AWS_SECRET_ACCESS_KEY="testing",
                AWS_DEFAULT_REGION=REGION,
                AWS_EC2_METADATA_DISABLED="true",
            )
            create_table(TABLE, region=REGION)
            moto_note = f"; moto GetItem {_moto_get_ms(TABLE):.1f} ms (median)"
        print(
            f"fleet: {fleet.processes} processes x {fleet.threads} threads, "
            f"{fleet.pause * 1000:g} ms between a thread's calls, for {fleet.lifetimes:g} "
            f"lifetimes ({fleet.duration:g} s)"
        )
        print(
            f"tokens live {fleet.lifetime} s, the token endpoint takes {LATENCY * 1000:.0f} ms; "
            f"refresh ahead {advisory:g} s, mandatory {mandatory:g} s before expiry, so one "
            f"token per {fleet.lifetime - advisory:g} s cycle{moto_note}"
        )
        print(
            f"ideal = one request per cycle for the whole fleet; waits = calls over "
            f"{fleet.wait_threshold * 1000:g} ms that returned a new token "
            f"(wait p99/max over those only); other slow = calls over "
            f"{fleet.wait_threshold * 1000:g} ms with the same token\n"
        )
        rows = [run("memory", "memory", "", server, fleet)]
        for name in ("file", "file+key"):
            with tempfile.TemporaryDirectory(prefix="fleet-bench-") as directory:
                rows.append(run(name, name, directory, server, fleet))
        if not skip_dynamodb:
            rows.append(run("dynamodb", "dynamodb", TABLE, server, fleet))
    print_table(rows, fleet)
    print(
        f"\nmemory shares nothing across processes: about {fleet.processes}x the ideal "
        "is expected there; the shared caches should stay near 1x."
    )


if __name__ == "__main__":
    main()
