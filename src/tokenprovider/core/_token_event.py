"""`TokenEvent`, a dataclass (a listener may take `dataclasses.asdict` of one: see
docs/events.md), defined when the first event is built for a listener, because
`dataclasses` (with `inspect`) takes longer to import than a provider. Its home is
`tokenprovider.core.events`, which hands it out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokenprovider.core.events import EventKind


@dataclass(frozen=True, slots=True)
class TokenEvent:
    """One thing a provider did. Holds no token and no secret."""

    __module__ = "tokenprovider.core.events"  # where it is documented, found and pickled

    kind: EventKind
    provider: str  # the provider's class name
    host: str  # the host its tokens are for (scheme and domain)
    duration: float | None = None  # real seconds: the fetch, or the wait for another's
    reason: str | None = None  # why it failed: the exception's class name
    cache: str | None = None  # the cache involved, by class name
    delay: float | None = None  # seconds until the next attempt (advisory_backoff)
