"""One home for fork safety: objects whose locks a forked child must not inherit held.

At ``os.fork()`` another thread of the parent may hold a lock (a provider's fetch lock, a
memory cache's key lock); the child has no such thread, so the lock would never be
released. An object that owns such locks calls `track` with itself, and in a child its
``renew_after_fork()`` gives it fresh ones. Only weak references are kept.
"""

from __future__ import annotations

import os
import weakref
from typing import Protocol


class Renewable(Protocol):
    """What `track` accepts."""

    def renew_after_fork(self) -> None:
        """Start with fresh locks and nothing under way."""


_TRACKED: weakref.WeakSet[Renewable] = weakref.WeakSet()


def track(owner: Renewable) -> None:
    """Renew ``owner``'s locks in every child forked from now on (while it lives)."""
    _TRACKED.add(owner)


def _in_child() -> None:
    for owner in list(_TRACKED):
        owner.renew_after_fork()


os.register_at_fork(after_in_child=_in_child)
