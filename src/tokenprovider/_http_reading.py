"""Reading HTTP responses from untrusted servers: a wall-clock deadline and a size cap.

A socket timeout bounds each read, not the whole response: a server that sends one byte
every half second into the headers or the body never trips it. `DeadlineAdapter` gives
every connect, send and socket read of a fetch a timeout of at most the time left until
the fetch's `Deadline`, and fails every one once that has passed, for http, https and
connections through proxies alike; `deadline_pools` and `deadline_in_force` do the same
for another client built on urllib3 (botocore's). `read_capped` reads a streamed body, decompressed,
and stops at a byte limit, so neither a huge body nor a gzip bomb is ever held whole.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import io
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, cast

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool

if TYPE_CHECKING:
    import requests
    from urllib3 import PoolManager

#: Decompressed bytes asked for per read of a capped body.
_CHUNK = 64 * 1024


class Deadline:
    """The moment ``at`` on the ``monotonic`` clock by which a fetch of ``seconds`` must end."""

    __slots__ = ("at", "monotonic", "seconds")

    def __init__(
        self, at: float, seconds: float, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.at = at
        self.seconds = seconds
        self.monotonic = monotonic

    @property
    def passed(self) -> bool:
        """Whether the deadline has been reached."""
        return self.monotonic() >= self.at

    def clamp(self, timeout: object) -> float:
        """``timeout`` (seconds, or None for none) cut to the time left; `TimeoutError`
        once the deadline has passed."""
        left = self.at - self.monotonic()
        if left <= 0:
            raise TimeoutError(f"the deadline of {self.seconds:g}s passed")
        return min(timeout, left) if isinstance(timeout, (int, float)) else left


class ResponseTooLargeError(ValueError):
    """A body longer than the cap `read_capped` was given."""


def read_capped(response: requests.Response, limit: int) -> bytes:
    """The body of a streamed ``response``, decompressed, if it is at most ``limit`` bytes.

    `ResponseTooLargeError` as soon as more arrives: the rest is neither read nor
    decompressed. Read errors are raised as `requests` raises them.
    """
    chunks = []
    size = 0
    for chunk in response.iter_content(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise ResponseTooLargeError(f"larger than the {limit}-byte cap")
        chunks.append(chunk)
    return b"".join(chunks)


#: The deadline of the fetch sending on this thread (or task); set by `DeadlineAdapter.send`.
_current: ContextVar[Deadline | None] = ContextVar("tokenprovider_deadline", default=None)


class DeadlineAdapter(HTTPAdapter):
    """A `requests` adapter whose connections end every operation by ``deadline``.

    Connecting (TCP and TLS), sending and each socket read get a timeout of at most the
    time left, the per-call timeout still applying when it is shorter; once the deadline
    has passed, each fails with a timeout, which urllib3 and `requests` report as theirs.
    This holds for the status line, the headers and the body (also when it is read after
    `send` returned), and through proxies: `proxy_manager_for` is covered as well.
    """

    def __init__(self, deadline: Deadline, **kwargs: Any) -> None:
        self.deadline = deadline
        super().__init__(**kwargs)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        """Make the pool manager's connections keep the deadline."""
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        _keep_deadlines(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """Make the proxy manager's connections keep the deadline."""
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        _keep_deadlines(manager)
        return manager

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        """Send ``request`` with this adapter's deadline in force."""
        with deadline_in_force(self.deadline):
            return super().send(request, *args, **kwargs)


@contextlib.contextmanager
def deadline_in_force(deadline: Deadline) -> Iterator[None]:
    """Make connections of `deadline_pool` classes keep ``deadline`` in this context."""
    reset = _current.set(deadline)
    try:
        yield
    finally:
        _current.reset(reset)


def _keep_deadlines(manager: PoolManager) -> None:
    """Swap the pool classes of ``manager`` (plain, proxy or SOCKS) for deadline-keeping ones."""
    manager.pool_classes_by_scheme = deadline_pools(manager.pool_classes_by_scheme)


def deadline_pools(pools: Mapping[str, Any]) -> dict[str, type[HTTPConnectionPool]]:
    """``pools`` (a pool class by scheme) with each made to keep the current deadline."""
    return {scheme: deadline_pool(pool) for scheme, pool in pools.items()}


@functools.cache
def deadline_pool(pool: type[HTTPConnectionPool]) -> type[HTTPConnectionPool]:
    """``pool`` whose connection class is its own with `_DeadlineConnection` mixed in first.

    Built from the pool's class rather than written out, so that the HTTPS, proxy and
    SOCKS connection classes each keep their behaviour and gain the deadline.
    """
    connection = type(
        f"Deadline{pool.ConnectionCls.__name__}", (_DeadlineConnection, pool.ConnectionCls), {}
    )
    return cast(
        "type[HTTPConnectionPool]",
        type(f"Deadline{pool.__name__}", (pool,), {"ConnectionCls": connection}),
    )


class _DeadlineResponse(http.client.HTTPResponse):
    """http.client's response (status line, headers, body) read under the current deadline."""

    def __init__(
        self,
        sock: socket.socket,
        debuglevel: int = 0,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(sock, debuglevel, method, url)
        deadline = _current.get()
        if deadline is not None:
            self.fp.close()  # the plain reader http.client made; the socket stays open
            self.fp = io.BufferedReader(_DeadlineReader(sock, deadline))


class _DeadlineReader(io.RawIOBase):
    """Reads a socket, each read's timeout cut to the time left to ``deadline``."""

    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        super().__init__()
        self._sock = sock
        # A makefile reader, as http.client's own: it keeps the socket open while in use.
        self._raw = sock.makefile("rb", buffering=0)
        self._timeout = sock.gettimeout()  # the per-read timeout urllib3 set
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        self._sock.settimeout(self._deadline.clamp(self._timeout))
        return self._raw.readinto(buffer)

    def fileno(self) -> int:
        return self._raw.fileno()

    def close(self) -> None:
        self._raw.close()
        super().close()


class _DeadlineConnection(HTTPConnection):
    """Mixed into a urllib3 connection class: connect, send and read by the current deadline."""

    response_class = _DeadlineResponse

    def connect(self) -> None:
        deadline = _current.get()
        if deadline is not None:  # also bounds the TLS handshake, which uses this timeout
            self.timeout = deadline.clamp(self.timeout)
        super().connect()

    def send(self, data: Any) -> None:
        deadline = _current.get()
        if deadline is not None and self.sock is not None:
            self.sock.settimeout(deadline.clamp(self.timeout))
        super().send(data)
