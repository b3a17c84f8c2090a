"""`MemoryTokenCache`: tokens shared by the providers of one process."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator

from tokenprovider.caches.base import CacheEntry, CacheKey, Hold, TokenCache


class MemoryTokenCache(TokenCache):
    """Keeps tokens in this process. Providers with the same identity that use the same
    `MemoryTokenCache` share one token and one in-flight fetch.

    Providers use `default_cache()` unless given another cache; a new instance is a
    separate store.
    """

    shared = False

    def __init__(self) -> None:
        self.__entries: dict[str, CacheEntry] = {}
        self.__locks: dict[str, threading.Lock] = {}
        self.__guard = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(entries={len(self.__entries)})"

    def load(self, key: CacheKey) -> CacheEntry | None:
        """The entry under ``key``, if any."""
        return self.__entries.get(key.digest)

    @contextlib.contextmanager
    def _hold(self, key: CacheKey, seen: CacheEntry | None) -> Iterator[Hold]:
        with self.__guard:
            lock = self.__locks.setdefault(key.digest, threading.Lock())
        with lock:
            store = functools.partial(self.__entries.__setitem__, key.digest)
            yield Hold(self.__entries.get(key.digest), store)

    def clear(self) -> None:
        """Forget every entry."""
        with self.__guard:
            self.__entries.clear()


_DEFAULT = MemoryTokenCache()


def default_cache() -> MemoryTokenCache:
    """The process-wide cache providers use when given none."""
    return _DEFAULT
