"""`RefreshSettings`: the settings every `CachedTokenProvider` takes, declared once.

A provider passes them on untouched: ``def __init__(self, host, ..., **settings:
Unpack[RefreshSettings])`` and ``super().__init__(host, **settings)``. Type checkers and
IDEs show them as keyword arguments of each provider, and the configuration reads them
from the declaration (`tokenprovider.config.params`), so their keys are the same for
every provider.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TypedDict

from tokenprovider.caches.base import TokenCache  # evaluated by the configuration
from tokenprovider.core.clock import Clock  # evaluated by the configuration

if sys.version_info >= (3, 11):
    from typing import Unpack
else:  # pragma: no cover - Python 3.10
    from typing_extensions import Unpack

__all__ = ["RefreshSettings", "Unpack", "check_names"]


class RefreshSettings(TypedDict, total=False):
    """How a cached provider refreshes and keeps its token. A setting left out, or None,
    takes the class attribute of that name (``clock_skew = 30.0`` in a subclass body)."""

    #: The mandatory margin: this close to expiry, callers wait for a new token.
    clock_skew: float | None
    #: The advisory margin: from here on, the token is refreshed ahead of expiry.
    refresh_ahead: float | None
    #: After a failed mandatory fetch, no new attempt for this long.
    failure_cooldown: float | None
    #: ``monotonic()`` and ``time()``; tests inject a fake clock.
    clock: Clock | None
    #: Where the token is kept and who shares it; the process-wide memory cache if None.
    cache: TokenCache | None


def check_names(owner: type, settings: Mapping[str, object]) -> None:
    """Raise `TypeError`, as Python does for a keyword argument that ``owner``'s
    constructor lacks, if ``settings`` holds a name `RefreshSettings` does not declare."""
    for name in settings:
        if name not in RefreshSettings.__annotations__:
            raise TypeError(
                f"{owner.__qualname__}.__init__() got an unexpected keyword argument {name!r}"
            )
