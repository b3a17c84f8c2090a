"""`MemoryTokenCache`: tokens shared by the providers of one process."""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Iterator

from tokenprovider import _after_fork
from tokenprovider.caches.base import CacheEntry, CacheKey, Hold, TokenCache


class MemoryTokenCache(TokenCache):
    """Keeps tokens in this process. Providers with the same identity that use the same
    `MemoryTokenCache` share one token and one in-flight fetch.

    Providers use `default_cache()` unless given another cache; a new instance is a
    separate store. Expired tokens are dropped as new ones come in (once the cache holds
    `SWEEP_AT` entries, and then whenever it has doubled), so a process that makes many
    short-lived identities does not keep them all.
    """

    shared = False

    def __init__(self) -> None:
        self.__entries: dict[str, CacheEntry] = {}
        self.__sweep_at = SWEEP_AT
        self.renew_after_fork()
        _after_fork.track(self)

    def renew_after_fork(self) -> None:
        """Fresh locks: also in a forked child, whose copies may be held by threads of the
        parent that the child does not have."""
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
            store = functools.partial(self.__store, key.digest)
            yield Hold(self.__entries.get(key.digest), store)

    def __store(self, digest: str, entry: CacheEntry) -> None:
        self.__entries[digest] = entry
        if len(self.__entries) >= self.__sweep_at:
            self.__sweep()

    def __sweep(self) -> None:
        """Drop the entries that have expired: a provider would never serve them. (Their
        keys' locks stay: one may be on its way to a caller that has yet to take it.)"""
        now = time.time()
        with self.__guard:
            for digest, entry in list(self.__entries.items()):
                if entry.expires_at <= now:
                    del self.__entries[digest]
            self.__sweep_at = max(SWEEP_AT, 2 * len(self.__entries))

    def clear(self) -> None:
        """Forget every entry."""
        with self.__guard:
            self.__entries.clear()


#: How many entries a memory cache holds before it first drops the expired ones.
SWEEP_AT = 256

_DEFAULT = MemoryTokenCache()


def default_cache() -> MemoryTokenCache:
    """The process-wide cache providers use when given none."""
    return _DEFAULT
