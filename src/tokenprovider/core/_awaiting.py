"""Awaiting a fetch that runs in a worker thread, from any event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from typing import TypeVar

T = TypeVar("T")


async def outcome(fetch: concurrent.futures.Future[T]) -> T:
    """The result of ``fetch`` (or its exception), awaited on the running loop.

    Each caller waits on a future of its own loop, so callers on several loops can share
    one fetch, and cancelling a caller (or a timeout around it) leaves the fetch, and
    everyone else waiting for it, alone.
    """
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[T] = loop.create_future()

    def relay(done: concurrent.futures.Future[T]) -> None:
        with contextlib.suppress(RuntimeError):  # that loop closed: nobody waits there now
            loop.call_soon_threadsafe(_settle, done, waiter)

    fetch.add_done_callback(relay)
    return await waiter


def _settle(done: concurrent.futures.Future[T], waiter: asyncio.Future[T]) -> None:
    if waiter.done():  # the caller was cancelled
        return
    error = done.exception()
    if error is None:
        waiter.set_result(done.result())
    else:
        waiter.set_exception(error)
