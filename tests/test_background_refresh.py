"""The refresh ahead of expiry runs in a worker thread: no caller waits while a valid token
exists, only a caller starts a refresh, a forked child inherits no half-done refresh, and
no worker is left running at interpreter exit. Child processes run with a time bound."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading

import pytest

from tokenprovider import CachedTokenProvider
from tokenprovider.caches.memory import MemoryTokenCache
from tokenprovider.core import _workers
from tokenprovider.testing.clock import FakeClock
from tokenprovider.testing.refresh import wait_for_refresh

CHILD_BOUND = 60  # seconds a child process may take before it counts as hung

#: A provider whose fetches wait for ``release``; shared by the child-process scripts.
SOURCE = textwrap.dedent(
    """
    import threading
    from tokenprovider import CachedTokenProvider
    from tokenprovider.caches.memory import MemoryTokenCache
    from tokenprovider.testing.clock import FakeClock

    class Source(CachedTokenProvider):
        def __init__(self, clock):
            super().__init__("api.example.com", clock=clock, cache=MemoryTokenCache())
            self.fake_clock = clock
            self.calls = 0
            self.entered = threading.Event()
            self.release = threading.Event()
            self.release.set()

        def _cache_identity(self):  # shares through its memory cache, which locks too
            return {"kind": "test"}

        def _request_token(self):
            self.calls += 1
            number = self.calls
            self.entered.set()
            assert self.release.wait(30)
            return f"token-{number}", self.fake_clock.time() + 3600

    clock = FakeClock()
    provider = Source(clock)
    assert provider.token == "token-1"
    clock.advance(3600 - 200)  # the advisory window
    provider.release = threading.Event()
    """
)


def run_child(script: str, prologue: str = "") -> subprocess.CompletedProcess[str]:
    """Run ``prologue`` (before tokenprovider is imported), SOURCE, then ``script``."""
    code = textwrap.dedent(prologue) + SOURCE + textwrap.dedent(script)
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=CHILD_BOUND,
        check=False,
    )


class Source(CachedTokenProvider):
    def __init__(self, clock: FakeClock) -> None:
        super().__init__("api.example.com", clock=clock, cache=MemoryTokenCache())
        self.fake_clock = clock
        self.calls = 0

    def _request_token(self) -> tuple[str, float]:
        self.calls += 1
        return f"token-{self.calls}", self.fake_clock.time() + 3600


def workers() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == _workers.WORKER_NAME}


def test_an_idle_provider_starts_no_refresh(fake_clock: FakeClock) -> None:
    provider = Source(fake_clock)
    assert provider.token == "token-1"
    before = workers()  # other tests' workers may still be ending
    fake_clock.advance(3600 - 200)  # due for a refresh ahead, but nobody asks
    assert workers() <= before
    assert provider._wait_for_fetch(0)  # nothing under way for it
    assert provider.calls == 1
    assert provider.token == "token-1"  # the first caller starts it
    wait_for_refresh(provider)
    assert provider.calls == 2
    for worker in workers() - before:  # it released the fetch lock: now it ends
        worker.join(10)
    assert workers() <= before  # the worker ended with its refresh


def test_a_refresh_starts_once_however_many_callers_see_it_due(fake_clock: FakeClock) -> None:
    provider = Source(fake_clock)
    assert provider.token == "token-1"
    fake_clock.advance(3600 - 200)
    assert {provider.token for _ in range(100)} <= {"token-1", "token-2"}
    wait_for_refresh(provider)
    assert provider.calls == 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_inherit_a_half_done_refresh() -> None:
    result = run_child(
        """
        import os, sys
        assert provider.token == "token-1"  # starts the refresh, which waits for release
        assert provider.entered.wait(30)
        pid = os.fork()
        if pid == 0:  # the child: the parent's worker does not exist here
            from tokenprovider.core import _workers
            clock.advance(200)  # expired: the child must fetch, not wait for a dead worker
            provider.release.set()
            token = provider.token  # its own fetch: the parent's refresh was call 2
            os._exit(0 if token == "token-3" and _workers.running() == 0 else 3)
        _, status = os.waitpid(pid, 0)
        provider.release.set()
        from tokenprovider.testing.refresh import wait_for_refresh
        wait_for_refresh(provider)
        print(os.waitstatus_to_exitcode(status), provider.token)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "token-2"]


def test_no_worker_is_left_running_at_interpreter_exit() -> None:
    # atexit runs hooks last-registered first: the prologue's hook runs after
    # tokenprovider's, the script's before it.
    result = run_child(
        """
        assert provider.token == "token-1"  # a refresh starts in a worker, held
        assert provider.entered.wait(30)
        atexit.register(provider.release.set)  # lets the held refresh finish at exit
        """,
        prologue="""
        import atexit, threading

        def last_look():
            from tokenprovider.core import _workers
            alive = [t for t in threading.enumerate() if t.name == _workers.WORKER_NAME]
            print("alive:", len(alive), "calls:", provider.calls, provider.token, flush=True)

        atexit.register(last_look)
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "alive: 0 calls: 2 token-2"


def test_no_refresh_starts_once_the_interpreter_is_exiting() -> None:
    result = run_child(
        "",
        prologue="""
        import atexit

        def late_caller():  # runs after tokenprovider's exit hook
            from tokenprovider.core import _workers
            print(provider.token, _workers.running(), provider.calls, flush=True)

        atexit.register(late_caller)
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "token-1 0 1"


@pytest.mark.parametrize("where", ["refresh", "flight"])
def test_a_worker_that_cannot_start_leaves_no_lock_held_nor_fetch_unsettled(
    fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    provider = Source(fake_clock)
    if where == "refresh":
        assert provider.token == "token-1"
        fake_clock.advance(3600 - 200)  # a refresh ahead would start a worker

    def out_of_memory(work: object) -> bool:
        raise MemoryError

    monkeypatch.setattr(_workers, "start", out_of_memory)

    def read() -> str:
        return provider.token if where == "refresh" else asyncio.run(provider.async_token())

    with pytest.raises(MemoryError):
        read()
    monkeypatch.undo()
    assert provider._wait_for_fetch(0)  # the fetch lock is free
    if where == "flight":
        assert asyncio.run(asyncio.wait_for(provider.async_token(), 10)) == "token-1"
    else:
        assert provider.token == "token-1"
        wait_for_refresh(provider)
        assert provider.token == "token-2"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_can_read_a_secret_reference_another_thread_was_reading() -> None:
    result = run_child(
        """
        import os, threading
        from tokenprovider import secret_refs
        holding, done = threading.Event(), threading.Event()

        def slow_resolve():  # holds the references' lock, as a slow aws-ssm: read does
            with secret_refs._lock:
                holding.set()
                done.wait(30)

        threading.Thread(target=slow_resolve, daemon=True).start()
        assert holding.wait(30)
        os.environ["TP_FORK_SECRET"] = "a-secret-for-the-child"
        pid = os.fork()
        if pid == 0:
            value = secret_refs.SecretReference("env:TP_FORK_SECRET").reveal()
            os._exit(0 if value == "a-secret-for-the-child" else 3)
        _, status = os.waitpid(pid, 0)
        done.set()
        print(os.waitstatus_to_exitcode(status))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0"]
