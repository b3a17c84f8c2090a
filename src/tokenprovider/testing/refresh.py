"""`wait_for_refresh`: let a test see the outcome of a refresh that runs in the background."""

from __future__ import annotations

from tokenprovider.core.cached import CachedTokenProvider


def wait_for_refresh(provider: CachedTokenProvider, timeout: float = 10.0) -> None:
    """Wait until ``provider`` has no fetch under way, such as the refresh ahead of expiry
    that a worker thread runs; raise `TimeoutError` after ``timeout`` seconds."""
    if not isinstance(provider, CachedTokenProvider):
        raise TypeError(
            f"wait_for_refresh needs a CachedTokenProvider, got {type(provider).__name__}"
        )
    if not provider._wait_for_fetch(timeout):
        raise TimeoutError(f"{type(provider).__name__} was still fetching after {timeout:g}s")
