"""tokenprovider beside the libraries people use today, in one run against one token server.

Each library is set up as its docs recommend for client credentials with automatic
fetching (`benchmarks/adapters/`, one module each, whose docstrings name every choice),
against one `LocalOAuthServer` on 127.0.0.1: its token endpoint takes 50 ms per token, its
protected resource answers 401 to a token past its lifetime. The reference is an auth that
sets a constant header. One table for the requests auths, one for the httpx auths on an
`httpx.AsyncClient`.

1. **Hot path**: µs per auth call with a warm token (3600-second tokens) on a request
   that has no ``Authorization`` header yet: each call first removes the header and the
   response hooks the previous call left (requests), or gives the request a fresh copy of
   its headers (httpx), so every call looks the token up and sets it; that reset is timed
   alone and subtracted. requests: the library's auth called on a `PreparedRequest` from a
   `requests.Session`. httpx: what the client awaits first, if anything (Authlib's
   ``ensure_active_token``), then the auth's async flow driven as `httpx.AsyncClient`
   drives it (started, given a 200 response, ended). Rounds are interleaved (each round
   times every library once, in turn); a library's figure is its median round.
2. **Herd**: 32 threads released by a barrier (requests), or 200 tasks in one
   ``asyncio.gather`` (httpx), each sending one request to the protected resource through
   one shared session or client with a cold auth: the token requests the server got (and
   the 401s and exceptions, if any). Libraries whose docs have the program fetch the
   first token itself (``fetch_token()``: a client without one raises or sends no token)
   meet the herd with a token that has just expired: their automatic re-fetch (¹).
3. **Expiry**: 2-second tokens; after one warm-up request, 8 threads (or 8 tasks) send
   requests to the protected resource one after another for 5 s: the 401s the server
   sent, the token requests it got, the requests made and the exceptions they raised.
   Early-expiry margins are each library's default, cut to a quarter of the lifetime.
4. **503s**: a cold auth; the token endpoint answers the next two token requests 503.
   Whether the first request (after ``fetch_token()`` where the docs have one) gets its
   200, and the token requests made.
5. **Waits** (measured on their own, so that requests to the in-process server do not
   blur them): 2-second tokens; 8 threads (or tasks) each call the auth alone, as in 1,
   once a millisecond for 2.5 s while the token rolls over: the longest call, and how many
   took at least the 50 ms a token request takes (the calls that waited for one; on a
   busy machine a call can, rarely, be that slow waiting for the interpreter's lock).
   httpx: also the longest the event loop left a 1 ms ticker waiting.
6. **Import**: in a fresh ``python -c`` that has run ``import requests`` (``import
   httpx``), the ms the library's imports take, and those and building one auth; every
   library's program in turn, repeatedly, after a warm-up round; the median. (Measured
   after the base import, not as the difference of two whole runs, whose noise on a busy
   machine is larger than what is measured.)

Run: ``make bench`` (or ``.venv/bin/python benchmarks/peers.py``); ``--quick`` for a short
run (fewer rounds, scenarios of about 2 s), as tests/test_bench_peers.py does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import timeit
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import requests

import adapters
from adapters.base import TIMEOUT, Adapter, AsyncAdapter, Endpoint, RequestsAdapter
from async_herd import ticker  # the 1 ms ticker measuring how long the loop stalls
from tokenprovider.testing.oauth_server import LocalOAuthServer

CLIENT_ID = "client"
#: Long enough not to draw the short-secret warning.
SECRET = "bench-client-secret"
LATENCY = 0.05
LONG_LIFETIME = 3600.0
SHORT_LIFETIME = 2.0
#: Before their herd, libraries that fetch explicitly get a token this short-lived.
PRIMING_LIFETIME = 1.0
HERD_THREADS = 32
HERD_TASKS = 200
CALLERS = 8
#: Seconds between one caller's auth calls in the waits measurement.
PACE = 0.001
BASE_IMPORT = {"requests": "import requests", "async": "import httpx"}
ADAPTERS_DIR = Path(__file__).resolve().parent / "adapters"


@dataclass(frozen=True)
class Settings:
    rounds: int  #: hot-path rounds
    calls: int  #: requests auth calls per round
    flows: int  #: httpx auth flows per round
    expiry_for: float  #: seconds of the expiry scenario
    waits_for: float  #: seconds of the waits measurement
    imports: int  #: rounds of the import programs


FULL = Settings(rounds=15, calls=20_000, flows=4_000, expiry_for=5.0, waits_for=2.5, imports=11)
QUICK = Settings(rounds=3, calls=2_000, flows=400, expiry_for=2.2, waits_for=1.8, imports=1)

ROWS = {
    "requests": [
        ("hot", "hot path: µs per auth call, warm token (x constant header)"),
        ("herd", f"herd of {HERD_THREADS} threads: token requests"),
        ("401", "2-s tokens, 8 threads: 401s"),
        ("tokens", "2-s tokens, 8 threads: token requests"),
        ("calls", "2-s tokens, 8 threads: requests made (exceptions)"),
        ("503", "first request after two 503s: 200? (token requests)"),
        ("longest", "2-s tokens rolling over: longest auth call"),
        ("waits", "2-s tokens rolling over: auth calls ≥ 50 ms"),
        ("import", "import: ms over `import requests`"),
        ("build", "import and build one auth: ms over `import requests`"),
    ],
    "async": [
        ("hot", "hot path: µs per async auth flow, warm token (x constant header)"),
        ("herd", f"herd of {HERD_TASKS} tasks: token requests"),
        ("401", "2-s tokens, 8 tasks: 401s"),
        ("tokens", "2-s tokens, 8 tasks: token requests"),
        ("calls", "2-s tokens, 8 tasks: requests made (exceptions)"),
        ("503", "first request after two 503s: 200? (token requests)"),
        ("longest", "2-s tokens rolling over: longest auth flow"),
        ("waits", "2-s tokens rolling over: auth flows ≥ 50 ms"),
        ("stall", "2-s tokens rolling over: longest event-loop stall"),
        ("import", "import: ms over `import httpx`"),
        ("build", "import and build one auth: ms over `import httpx`"),
    ],
}
TITLES = {"requests": "requests", "async": "httpx.AsyncClient"}

Cells = dict[str, str]
#: An httpx auth's per-request steps: the flow, and what the client awaits before it.
Steps = tuple[httpx.Auth, Callable[[], Awaitable[object]] | None]


@dataclass
class Tally:
    """One caller's calls: how many, the slowest, those that took a token request's time,
    and the exceptions raised, by class."""

    made: int = 0
    longest: float = 0.0
    slow: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    def took(self, seconds: float) -> None:
        self.made += 1
        self.longest = max(self.longest, seconds)
        self.slow += seconds >= LATENCY

    def failed(self, error: BaseException) -> None:
        self.errors[type(error).__name__] += 1


def merged(tallies: Iterable[Tally]) -> Tally:
    total = Tally()
    for tally in tallies:
        total.made += tally.made
        total.longest = max(total.longest, tally.longest)
        total.slow += tally.slow
        total.errors.update(tally.errors)
    return total


def named(errors: Counter[str]) -> str:
    return ", ".join(f"{count} {name}" for name, count in errors.most_common())


# -- the cells ----------------------------------------------------------------------------


def hot_cells(
    found: Sequence[Adapter], seconds: Sequence[float], calls: int
) -> dict[Adapter, Cells]:
    """``seconds``: the reset alone, then each adapter's, for ``calls`` calls."""
    per_call = {a: (s - seconds[0]) / calls * 1e6 for a, s in zip(found, seconds[1:], strict=True)}
    base = next(us for adapter, us in per_call.items() if adapter.reference)
    return {a: {"hot": f"{us:.2f} µs ({us / base:.2f}x)"} for a, us in per_call.items()}


def herd_cell(server: LocalOAuthServer, tally: Tally, explicit: bool) -> str:
    extra = [f"{server.resource_unauthorized} 401s"] if server.resource_unauthorized else []
    if tally.errors:
        extra.append(named(tally.errors))
    cell = f"{server.token_requests}{' ¹' if explicit else ''}"
    return cell + (f" ({'; '.join(extra)})" if extra else "")


def expiry_cells(server: LocalOAuthServer, tally: Tally) -> Cells:
    return {
        "401": str(server.resource_unauthorized),
        "tokens": str(server.token_requests),
        "calls": f"{tally.made} ({named(tally.errors) or 0})",
    }


def waits_cells(tally: Tally) -> Cells:
    failed = f"; {named(tally.errors)}" if tally.errors else ""
    return {
        "longest": f"{tally.longest * 1000:.1f} ms",
        "waits": f"{tally.slow} of {tally.made}{failed}",
    }


def first_request(server: LocalOAuthServer, error: BaseException | None, status: int) -> str:
    if error is not None:
        answer = f"no: {type(error).__name__}"
    else:
        answer = "yes" if status == 200 else f"no: {status}"
    return f"{answer} ({server.token_requests})"


def drain(server: LocalOAuthServer, endpoint: Endpoint) -> None:
    """Take the 503s a library left queued, so that the next one finds a normal server."""
    for _ in range(2 - server.token_requests):
        requests.post(
            endpoint.token_url,
            data={"grant_type": "client_credentials"},
            auth=(endpoint.client_id, endpoint.client_secret),
            timeout=TIMEOUT,
        )


# -- requests ------------------------------------------------------------------------------


def prepared(endpoint: Endpoint) -> requests.PreparedRequest:
    """A request as a `requests.Session` prepares it (with its default headers)."""
    with requests.Session() as session:
        return session.prepare_request(requests.Request("GET", endpoint.resource_url))


def warm(
    adapter: RequestsAdapter, endpoint: Endpoint
) -> Callable[[requests.PreparedRequest], object]:
    """The per-request auth call of a new auth whose token has just been fetched."""
    auth = adapter.make(endpoint)
    adapter.start(auth)
    attach = adapter.attach(auth)
    attach(prepared(endpoint))
    return attach


def requests_hot(
    found: Sequence[RequestsAdapter], endpoint: Endpoint, settings: Settings
) -> dict[Adapter, Cells]:
    request = prepared(endpoint)
    hooks = request.hooks["response"]

    def timed(call: Callable[[requests.PreparedRequest], object] | None) -> Callable[[], None]:
        def run() -> None:
            request.headers._store.pop("authorization", None)  # type: ignore[attr-defined]
            hooks.clear()
            if call is not None:
                call(request)

        return run

    runs = [timed(None)] + [timed(warm(adapter, endpoint)) for adapter in found]
    seconds = interleaved(
        [lambda run=run: timeit.timeit(run, number=settings.calls) for run in runs], settings.rounds
    )
    return hot_cells(found, seconds, settings.calls)


def requests_herd(adapter: RequestsAdapter, server: LocalOAuthServer, endpoint: Endpoint) -> str:
    auth = adapter.make(endpoint)
    if adapter.explicit_fetch:
        with lifetime(server, PRIMING_LIFETIME):
            adapter.start(auth)
        time.sleep(PRIMING_LIFETIME + 0.3)  # until that token has expired
    server.reset_counters()
    tallies = [Tally() for _ in range(HERD_THREADS)]
    barrier = threading.Barrier(HERD_THREADS)
    with adapter.session(auth) as session:

        def caller(tally: Tally) -> None:
            barrier.wait()
            try:
                session.get(endpoint.resource_url, timeout=TIMEOUT)
            except Exception as error:  # what a library raises is what is counted
                tally.failed(error)

        run_threads(caller, tallies)
    return herd_cell(server, merged(tallies), adapter.explicit_fetch)


def requests_expiry(
    adapter: RequestsAdapter, server: LocalOAuthServer, endpoint: Endpoint, seconds: float
) -> Cells:
    auth = adapter.make(endpoint)
    adapter.start(auth)
    tallies = [Tally() for _ in range(CALLERS)]
    barrier = threading.Barrier(CALLERS)
    with adapter.session(auth) as session:
        session.get(endpoint.resource_url, timeout=TIMEOUT).raise_for_status()
        server.reset_counters()

        def caller(tally: Tally) -> None:
            barrier.wait()
            end = time.perf_counter() + seconds
            while (started := time.perf_counter()) < end:
                try:
                    session.get(endpoint.resource_url, timeout=TIMEOUT)
                except Exception as error:
                    tally.failed(error)
                tally.took(time.perf_counter() - started)

        run_threads(caller, tallies)
    return expiry_cells(server, merged(tallies))


def requests_503(adapter: RequestsAdapter, server: LocalOAuthServer, endpoint: Endpoint) -> str:
    auth = adapter.make(endpoint)
    server.reset_counters()
    server.fail_next(2, 503)
    error: BaseException | None = None
    status = 0
    with adapter.session(auth) as session:
        try:
            adapter.start(auth)
            status = session.get(endpoint.resource_url, timeout=TIMEOUT).status_code
        except Exception as failure:
            error = failure
    cell = first_request(server, error, status)
    drain(server, endpoint)
    return cell


def requests_waits(adapter: RequestsAdapter, endpoint: Endpoint, seconds: float) -> Cells:
    attach = warm(adapter, endpoint)
    template = prepared(endpoint)
    tallies = [Tally() for _ in range(CALLERS)]
    barrier = threading.Barrier(CALLERS)

    def caller(tally: Tally) -> None:
        barrier.wait()
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            request = template.copy()
            started = time.perf_counter()
            try:
                attach(request)
            except Exception as error:
                tally.failed(error)
            tally.took(time.perf_counter() - started)
            time.sleep(PACE)

    run_threads(caller, tallies)
    return waits_cells(merged(tallies))


def run_threads(target: Callable[[Tally], None], tallies: Sequence[Tally]) -> None:
    threads = [threading.Thread(target=target, args=(tally,)) for tally in tallies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def requests_scenarios(
    adapter: RequestsAdapter, server: LocalOAuthServer, settings: Settings
) -> Cells:
    long, short = endpoint(server, LONG_LIFETIME), endpoint(server, SHORT_LIFETIME)
    cells = {"herd": requests_herd(adapter, server, long)}
    with lifetime(server, SHORT_LIFETIME):
        cells.update(requests_expiry(adapter, server, short, settings.expiry_for))
        cells.update(requests_waits(adapter, short, settings.waits_for))
    cells["503"] = requests_503(adapter, server, long)
    return cells


# -- httpx.AsyncClient -------------------------------------------------------------------


async def async_warm(adapter: AsyncAdapter, endpoint: Endpoint) -> Steps:
    """The per-request steps of a new auth whose token has just been fetched."""
    auth = adapter.make(endpoint)
    if not adapter.reference:
        async with adapter.client(auth) as client:
            await adapter.start(auth)
            (await client.get(endpoint.resource_url)).raise_for_status()
    return adapter.flow(auth), adapter.before(auth)


async def one_flow(steps: Steps, request: httpx.Request, response: httpx.Response) -> None:
    """One request's auth, as `httpx.AsyncClient` runs it: out goes the request, back a 200."""
    auth, before = steps
    if before is not None:
        await before()
    flow = auth.async_auth_flow(request)
    await flow.__anext__()
    try:  # noqa: SIM105 - as httpx drives it (contextlib.suppress costs more)
        await flow.asend(response)
    except StopAsyncIteration:
        pass


async def async_hot(
    found: Sequence[AsyncAdapter], endpoint: Endpoint, settings: Settings
) -> dict[Adapter, Cells]:
    request = httpx.Request("GET", endpoint.resource_url)
    original = request.headers.copy()
    response = httpx.Response(200, request=request)
    all_steps: list[Steps | None] = [None]
    all_steps += [await async_warm(adapter, endpoint) for adapter in found]

    async def flows(steps: Steps | None) -> float:
        started = time.perf_counter()
        for _ in range(settings.flows):
            request.headers = original.copy()
            if steps is not None:
                await one_flow(steps, request, response)
        return time.perf_counter() - started

    by_round: list[list[float]] = [[] for _ in all_steps]
    for _ in range(settings.rounds):
        for times, steps in zip(by_round, all_steps, strict=True):
            times.append(await flows(steps))
    seconds = [statistics.median(times) for times in by_round]
    return hot_cells(found, seconds, settings.flows)


async def async_herd(adapter: AsyncAdapter, server: LocalOAuthServer, endpoint: Endpoint) -> str:
    auth = adapter.make(endpoint)
    tally = Tally()
    async with adapter.client(auth) as client:
        if adapter.explicit_fetch:
            with lifetime(server, PRIMING_LIFETIME):
                await adapter.start(auth)
            await asyncio.sleep(PRIMING_LIFETIME + 0.3)  # until that token has expired
        server.reset_counters()

        async def one() -> None:
            try:
                await client.get(endpoint.resource_url)
            except Exception as error:
                tally.failed(error)

        await asyncio.gather(*(one() for _ in range(HERD_TASKS)))
    return herd_cell(server, tally, adapter.explicit_fetch)


async def async_expiry(
    adapter: AsyncAdapter, server: LocalOAuthServer, endpoint: Endpoint, seconds: float
) -> Cells:
    auth = adapter.make(endpoint)
    tallies = [Tally() for _ in range(CALLERS)]
    async with adapter.client(auth) as client:
        await adapter.start(auth)
        (await client.get(endpoint.resource_url)).raise_for_status()
        server.reset_counters()
        end = time.perf_counter() + seconds

        async def caller(tally: Tally) -> None:
            while (started := time.perf_counter()) < end:
                try:
                    await client.get(endpoint.resource_url)
                except Exception as error:
                    tally.failed(error)
                tally.took(time.perf_counter() - started)

        await asyncio.gather(*(caller(tally) for tally in tallies))
    return expiry_cells(server, merged(tallies))


async def async_503(adapter: AsyncAdapter, server: LocalOAuthServer, endpoint: Endpoint) -> str:
    auth = adapter.make(endpoint)
    server.reset_counters()
    server.fail_next(2, 503)
    error: BaseException | None = None
    status = 0
    async with adapter.client(auth) as client:
        try:
            await adapter.start(auth)
            status = (await client.get(endpoint.resource_url)).status_code
        except Exception as failure:
            error = failure
    cell = first_request(server, error, status)
    drain(server, endpoint)
    return cell


async def async_waits(adapter: AsyncAdapter, endpoint: Endpoint, seconds: float) -> Cells:
    auth = adapter.make(endpoint)
    tallies = [Tally() for _ in range(CALLERS)]
    async with adapter.client(auth) as client:
        await adapter.start(auth)
        (await client.get(endpoint.resource_url)).raise_for_status()
        steps = adapter.flow(auth), adapter.before(auth)
        end = time.perf_counter() + seconds

        async def caller(tally: Tally) -> None:
            request = client.build_request("GET", endpoint.resource_url)
            original = request.headers.copy()
            response = httpx.Response(200, request=request)
            while time.perf_counter() < end:
                request.headers = original.copy()
                started = time.perf_counter()
                try:
                    await one_flow(steps, request, response)
                except Exception as error:
                    tally.failed(error)
                tally.took(time.perf_counter() - started)
                await asyncio.sleep(PACE)

        stop = asyncio.Event()
        lag = asyncio.ensure_future(ticker(stop))
        await asyncio.gather(*(caller(tally) for tally in tallies))
        stop.set()
        stall = await lag
    return {**waits_cells(merged(tallies)), "stall": f"{stall:.1f} ms"}


async def async_scenarios(
    adapter: AsyncAdapter, server: LocalOAuthServer, settings: Settings
) -> Cells:
    long, short = endpoint(server, LONG_LIFETIME), endpoint(server, SHORT_LIFETIME)
    cells = {"herd": await async_herd(adapter, server, long)}
    with lifetime(server, SHORT_LIFETIME):
        cells.update(await async_expiry(adapter, server, short, settings.expiry_for))
        cells.update(await async_waits(adapter, short, settings.waits_for))
    cells["503"] = await async_503(adapter, server, long)
    return cells


# -- import time ---------------------------------------------------------------------------

IMPORT_PROGRAM = """\
import sys, time
sys.path.insert(0, {adapters!r})
TOKEN_URL = "https://login.example.com/oauth2/token"
API_URL = "https://api.example.com"
CLIENT_ID, SECRET = {client!r}, {secret!r}
{base}
_started = time.perf_counter()
{imports}
_imported = time.perf_counter()
{build}
print(_imported - _started, time.perf_counter() - _started)
"""


def import_cells(found: Sequence[Adapter], rounds: int) -> dict[Adapter, Cells]:
    """Each library's program in a fresh ``python -c``, all in turn, ``rounds`` times after
    a warm-up round: the median ms of its imports, and of those and one ``build``."""
    programs = {
        adapter: IMPORT_PROGRAM.format(
            adapters=str(ADAPTERS_DIR),
            client=CLIENT_ID,
            secret=SECRET,
            base=BASE_IMPORT[adapter.kind],
            imports=adapter.imports,
            build=adapter.build,
        )
        for adapter in found
        if not adapter.reference
    }
    times: dict[Adapter, list[list[float]]] = {adapter: [] for adapter in programs}
    for _ in range(rounds + 1):
        for adapter, program in programs.items():
            child = subprocess.run(
                [sys.executable, "-c", program], capture_output=True, text=True, check=False
            )
            if child.returncode:
                raise RuntimeError(f"{adapter.name}'s import program failed:\n{child.stderr}")
            times[adapter].append([float(seconds) * 1e3 for seconds in child.stdout.split()])
    return {
        adapter: {
            key: f"{statistics.median(ms[column] for ms in measured[1:]):.1f}"
            for column, key in enumerate(("import", "build"))
        }
        for adapter, measured in times.items()
    }


# -- the run -------------------------------------------------------------------------------


def interleaved(runs: Sequence[Callable[[], float]], rounds: int) -> list[float]:
    """Each run's median over ``rounds``; each round calls every run once, in turn."""
    by_round: list[list[float]] = [[] for _ in runs]
    for _ in range(rounds):
        for times, run in zip(by_round, runs, strict=True):
            times.append(run())
    return [statistics.median(times) for times in by_round]


def endpoint(server: LocalOAuthServer, lifetime: float) -> Endpoint:
    return Endpoint(server.url, server.token_url, server.resource_url, CLIENT_ID, SECRET, lifetime)


@contextlib.contextmanager
def lifetime(server: LocalOAuthServer, seconds: float) -> Iterator[None]:
    """Meanwhile, the server's tokens live ``seconds``."""
    before, server.token_lifetime = server.token_lifetime, seconds
    try:
        yield
    finally:
        server.token_lifetime = before


def measure(found: Sequence[Adapter], settings: Settings) -> dict[Adapter, Cells]:
    cells: dict[Adapter, Cells] = {adapter: {} for adapter in found}

    def add(more: dict[Adapter, Cells]) -> None:
        for adapter, some in more.items():
            cells[adapter].update(some)

    sync = [a for a in found if isinstance(a, RequestsAdapter)]
    async_ = [a for a in found if isinstance(a, AsyncAdapter)]
    with LocalOAuthServer(
        clients={CLIENT_ID: SECRET}, latency=LATENCY, token_lifetime=LONG_LIFETIME
    ) as server:
        long = endpoint(server, LONG_LIFETIME)
        add(requests_hot(sync, long, settings))
        add(asyncio.run(async_hot(async_, long, settings)))
        for adapter in sync:
            if not adapter.reference:
                cells[adapter].update(requests_scenarios(adapter, server, settings))
        for adapter in async_:
            if not adapter.reference:
                cells[adapter].update(asyncio.run(async_scenarios(adapter, server, settings)))
    add(import_cells(found, settings.imports))
    return cells


def render(found: Sequence[Adapter], cells: dict[Adapter, Cells], settings: Settings) -> str:
    versions = dict.fromkeys(f"{a.distribution or a.name} {a.version()}" for a in found)
    lines = [
        f"{datetime.date.today().isoformat()} · Python {platform.python_version()} · "
        f"{os.cpu_count()} cores · token endpoint {LATENCY * 1000:.0f} ms per token · "
        + ", ".join(versions),
    ]
    for kind, rows in ROWS.items():
        columns = [a for a in found if a.kind == kind]
        lines += ["", f"### {TITLES[kind]}", ""]
        lines.append("| | " + " | ".join(a.name for a in columns) + " |")
        lines.append("|---" * (len(columns) + 1) + "|")
        for key, label in rows:
            row = [cells[a].get(key, "—") for a in columns]
            lines.append(f"| {label} | " + " | ".join(row) + " |")
    lines += [
        "",
        f"Hot path: median of {settings.rounds} interleaved rounds of {settings.calls} calls "
        f"(requests) or {settings.flows} flows (httpx), the header reset subtracted. "
        f"Expiry: {settings.expiry_for:g} s; rolling over: {settings.waits_for:g} s. "
        f"Imports: median of {settings.imports} rounds of fresh processes. "
        "¹ The docs have the program call `fetch_token()` first: the herd met a token that "
        "had just expired.",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, shorter scenarios")
    settings = QUICK if parser.parse_args(argv).quick else FULL
    found = adapters.load()
    print(render(found, measure(found, settings), settings))


if __name__ == "__main__":
    main()
