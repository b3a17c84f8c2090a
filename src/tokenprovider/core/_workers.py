"""Short-lived worker threads that fetch tokens off the caller's path.

A worker is started for one fetch (a refresh ahead of expiry, or a fetch that coroutines
await) and ends with it: an idle process runs none. At interpreter exit no new worker
starts and running ones get up to `EXIT_WAIT` seconds to finish; one still stuck after
that (a fetch past its own deadline) is a daemon thread the interpreter abandons, unless it
is inside `finish_before_exit` (spending a rotating refresh token: the server's answer
must reach the store), which exit waits for, up to `SPENDING_EXIT_WAIT` seconds. A forked
child forgets the parent's workers, which do not exist in it.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")

#: How long interpreter exit waits for fetches still under way in workers.
EXIT_WAIT = 2.0
#: How long exit waits, beyond `EXIT_WAIT`, for blocks in `finish_before_exit`.
SPENDING_EXIT_WAIT = 60.0
#: The name of every worker thread.
WORKER_NAME = "tokenprovider-fetch"


class _Workers:
    """The workers running in this process, and whether it is exiting."""

    def __init__(self) -> None:
        self.guard = threading.Lock()
        self.running: set[threading.Thread] = set()
        self.closing = False
        self.spending = 0  # blocks inside finish_before_exit
        self.spent = threading.Condition(self.guard)


_state = _Workers()


def start(work: Callable[[], object]) -> bool:
    """Run ``work`` in a new worker thread; False if none can start (the interpreter is
    exiting, or the system refuses a thread), in which case ``work`` does not run."""
    # The worker runs in a copy of the caller's context, so context variables (a request
    # id in log records, say) reach what it logs.
    context = contextvars.copy_context()
    thread = threading.Thread(target=_run, args=(context, work), name=WORKER_NAME, daemon=True)
    with _state.guard:
        if _state.closing:
            return False
        _state.running.add(thread)
    started = False
    try:
        thread.start()
        started = True
    except RuntimeError:  # can't start new thread
        return False
    finally:
        if not started:
            with _state.guard:
                _state.running.discard(thread)
    return True


def running() -> int:
    """How many workers are running."""
    with _state.guard:
        return len(_state.running)


@contextlib.contextmanager
def finish_before_exit() -> Iterator[None]:
    """A block that interpreter exit waits for (up to `SPENDING_EXIT_WAIT` seconds), in
    whichever thread it runs: what it spends (a single-use refresh token) and what it
    gets for it (the new one, written to the store) must not be parted by exit."""
    _spending(+1)
    try:
        yield
    finally:
        _spending(-1)


def run_to_end(work: Callable[[], T]) -> T:
    """``work``'s result, computed in a worker thread that exit waits for (as
    `finish_before_exit` does): when the caller's wait is interrupted (Ctrl-C, or a
    signal handler raising `SystemExit`), the work still runs to its end. Run in the
    caller's thread when no worker can start."""
    import concurrent.futures  # noqa: PLC0415 - only a person's login needs it

    outcome: concurrent.futures.Future[T] = concurrent.futures.Future()

    def run() -> None:
        try:
            outcome.set_result(work())
        except BaseException as exc:  # handed to the caller, whatever it is
            outcome.set_exception(exc)
        finally:
            _spending(-1)

    _spending(+1)  # before the worker starts: exit must not slip in between
    if not start(run):
        _spending(-1)
        with finish_before_exit():
            return work()
    return outcome.result()


def _spending(change: int) -> None:
    state = _state
    with state.guard:
        state.spending += change
        if not state.spending:
            state.spent.notify_all()


def _run(context: contextvars.Context, work: Callable[[], object]) -> None:
    try:
        context.run(work)
    finally:
        with _state.guard:
            _state.running.discard(threading.current_thread())


def _at_exit() -> None:
    with _state.guard:
        _state.closing = True
        workers = list(_state.running)
    deadline = time.monotonic() + EXIT_WAIT
    for worker in workers:
        if worker.is_alive():
            worker.join(max(0.0, deadline - time.monotonic()))
    with _state.guard:
        _state.spent.wait_for(lambda: _state.spending == 0, SPENDING_EXIT_WAIT)


def _in_child() -> None:
    global _state  # noqa: PLW0603 - the parent's locks may be held by threads the child lacks
    closing = _state.closing
    _state = _Workers()
    _state.closing = closing


atexit.register(_at_exit)
os.register_at_fork(after_in_child=_in_child)
