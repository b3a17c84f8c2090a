"""Calls to AWS bounded in time: each runs on a worker thread, waited for until a deadline.

The deadline covers botocore's retries (a ``before-send`` hook refuses an attempt once it
has passed and bounds each socket read by the time left) and the reading of the payload,
which is also bounded in size.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar

from tokenprovider._masking import masked_repr

#: The most bytes asked for in one read of the payload (one socket read at most).
_READ_CHUNK = 64 * 1024

_T = TypeVar("_T")
_local = threading.local()  # the deadline of the AWS call running on this worker thread


class DeadlineReachedError(Exception):
    """Raised by the ``before-send`` hook: no time is left for another attempt."""


class Worker(Generic[_T]):
    """Runs one AWS call on a daemon thread; the caller waits for it until a deadline.

    A call still running at the deadline is left behind: it ends by itself at the
    deadline (its connections keep it, see `keep_deadlines`, and the ``before-send`` hook
    refuses further attempts), and what it returns or raises then is dropped unseen, so a
    late token is never used or shown.
    """

    #: Not shown by `repr()` at all (`tokenprovider._masking`): the call and its outcome.
    _hidden_attributes: ClassVar[frozenset[str]] = frozenset(
        {"_abandoned", "_call", "_deadline", "_done", "_lock", "_outcome"}
    )

    def __init__(self, call: Callable[[], _T], deadline: float) -> None:
        self._call: Callable[[], _T] | None = call
        self._deadline = deadline
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._outcome: tuple[_T | None, BaseException | None] | None = None
        self._abandoned = False
        self.thread = threading.Thread(target=self.__run, name="tokenprovider-tds", daemon=True)

    def __repr__(self) -> str:
        return masked_repr(self)

    def run(self) -> tuple[bool, _T | None, BaseException | None]:
        """``(finished in time, result, exception)``."""
        self.thread.start()
        self._done.wait(max(0.0, self._deadline - time.monotonic()))
        with self._lock:
            outcome = self._outcome
            self._abandoned = outcome is None
            self._outcome = None
        return (False, None, None) if outcome is None else (True, *outcome)

    def __run(self) -> None:
        from tokenprovider._http_reading import Deadline, deadline_in_force  # noqa: PLC0415

        _local.deadline = self._deadline
        call, self._call = self._call, None
        assert call is not None
        seconds = max(0.0, self._deadline - time.monotonic())
        try:
            with deadline_in_force(Deadline(self._deadline, seconds)):
                outcome: tuple[_T | None, BaseException | None] = (call(), None)
        except BaseException as exc:  # handed to the caller, or dropped
            outcome = (None, exc)
        del call
        with self._lock:
            if not self._abandoned:
                self._outcome = outcome
        del outcome
        self._done.set()


def keep_deadlines(client: Any) -> None:
    """Make every connect, send and socket read of ``client`` (a boto3 client) end by the
    deadline of the worker it runs on, as `tokenprovider._http_reading` does for OAuth: so
    a call left behind ends at its deadline even when the server drips its headers.

    botocore offers no public hook for its connections: this swaps the pool classes of
    its urllib3 session, and does nothing if a botocore release has moved them (the
    worker's bounded wait still holds the caller to the deadline).
    """
    from tokenprovider._http_reading import deadline_pools  # noqa: PLC0415

    session = getattr(getattr(client, "_endpoint", None), "http_session", None)
    pools = getattr(session, "_pool_classes_by_scheme", None)
    manager = getattr(session, "_manager", None)
    if not isinstance(pools, dict) or not hasattr(manager, "pool_classes_by_scheme"):
        return
    session._pool_classes_by_scheme = deadline_pools(pools)  # type: ignore[union-attr]
    manager.pool_classes_by_scheme = session._pool_classes_by_scheme  # type: ignore[union-attr]


def within_deadline(request: Any, **_: Any) -> None:
    """botocore ``before-send`` hook: no attempt once the worker's deadline has passed,
    and each socket read of an attempt bounded by the time left."""
    deadline = getattr(_local, "deadline", None)
    if deadline is None:
        return
    left = deadline - time.monotonic()
    if left <= 0:
        raise DeadlineReachedError
    context = getattr(request, "context", None)
    if isinstance(context, dict):
        context["read_timeout"] = left  # botocore's per-request read timeout


def read_payload(stream: Any, cap: int) -> tuple[bytes, str | None]:
    """What ``stream`` (botocore's StreamingBody) holds, and what went wrong if anything:
    ``"too large"`` past ``cap`` bytes, ``"deadline"``, or how the connection broke.

    urllib3's ``read1`` returns what one socket read gives, so the deadline is checked
    between reads even when the server sends a byte at a time; botocore's own ``read(n)``
    would wait for all ``n`` bytes.
    """
    raw = getattr(stream, "_raw_stream", None)
    read: Callable[[int], bytes] = getattr(raw, "read1", None) or stream.read
    deadline = getattr(_local, "deadline", math.inf)
    chunks: list[bytes] = []
    size = 0
    while time.monotonic() < deadline:
        try:
            chunk = read(_READ_CHUNK)
        except Exception as exc:  # named, never quoted: it may hold payload
            timed_out = isinstance(exc, TimeoutError) or "timeout" in type(exc).__name__.lower()
            return b"", "deadline" if timed_out else f"broken off ({type(exc).__name__})"
        if not chunk:
            return b"".join(chunks), None
        size += len(chunk)
        if size > cap:
            return b"", "too large"
        chunks.append(chunk)
    return b"", "deadline"


def content_length(headers: object) -> int | None:
    """The ``content-length`` botocore's ``HTTPHeaders`` declare, if it is a sane number."""
    value = headers.get("content-length") if isinstance(headers, dict) else None
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 20 else None
