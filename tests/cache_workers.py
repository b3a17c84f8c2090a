"""Child-process code for the FileTokenCache tests (importable, as `spawn` needs).

Each function builds its own provider and cache in the child, as a separate program
would; results go back through a `multiprocessing` queue.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from tokenprovider import OAuthTokenProvider
from tokenprovider.caches.base import CacheEntry
from tokenprovider.caches.file import FileTokenCache

#: The token the crash-safety child tries (and never manages) to write.
CHILD_TOKEN = "child-token-never-published"


def build_provider(server_url: str, token_url: str, secret: str, directory: str) -> Any:
    """An OAuthTokenProvider for client ``client`` on a FileTokenCache in ``directory``."""
    cache = FileTokenCache(directory, lock_timeout=30.0)
    return OAuthTokenProvider(server_url, "client", secret, token_url=token_url, cache=cache)


def token_after_barrier(
    server_url: str, token_url: str, secret: str, directory: str, barrier: Any, queue: Any
) -> None:
    """Build a cold provider, wait for every sibling at ``barrier``, then get a token."""
    provider = build_provider(server_url, token_url, secret, directory)
    barrier.wait(30)
    queue.put(provider.token)


def read_token(server_url: str, token_url: str, secret: str, directory: str, queue: Any) -> None:
    """Get a token (from the shared file, if the parent wrote one)."""
    provider = build_provider(server_url, token_url, secret, directory)
    queue.put(provider.token)


def fetch_token_forever(server_url: str, token_url: str, secret: str, directory: str) -> None:
    """Ask for a token; the test holds the server's answer and kills this process."""
    provider = build_provider(server_url, token_url, secret, directory)
    provider.token  # noqa: B018 - blocks inside the cache's lock until killed


def block_in_write(
    server_url: str, token_url: str, secret: str, directory: str, stage: str, entered: Any
) -> None:
    """Write an entry through the cache, stopping for good at ``stage`` (``os.fsync`` or
    ``os.replace`` of the cache's write) after setting ``entered``."""
    provider = build_provider(server_url, token_url, secret, directory)
    cache = provider.cache
    key = cache.key_for(provider._cache_identity(), provider._cache_secret())
    parked = threading.Event()

    def park(*args: Any) -> None:
        entered.set()
        parked.wait()  # never set: the parent kills this process here

    # The cache module uses the os module itself; this child exists only for this write.
    setattr(os, stage, park)

    def request() -> tuple[str, float, float]:
        now = time.time()
        return CHILD_TOKEN, now + 3600.0, now

    def never_usable(entry: CacheEntry, appeared: bool) -> bool:
        return False

    cache.fetch(key, request, never_usable)
