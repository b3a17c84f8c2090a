"""Events for observability: what a provider's engine did, for logs and metrics.

A listener is any callable taking one `TokenEvent`. Register it on one provider
(``provider.add_listener(listener)``) or on every provider of the process
(`add_listener`). Events are emitted only off the hot path (a token served from memory
emits nothing), and with no listener registered emitting costs one truth test.

No event carries a token, a secret or a URL's query: a provider is named by its class
and host, a failure by its exception's class.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, Protocol

from tokenprovider import _after_fork

if TYPE_CHECKING:
    from tokenprovider.core._token_event import TokenEvent as TokenEvent  # noqa: PLC0414 - re-exported

logger = logging.getLogger("tokenprovider")

#: What happened:
#:
#: - ``fetch_started``, ``fetch_succeeded``, ``fetch_failed``: the provider asked its source
#:   for a token (``duration``: how long it took; ``reason``: the error's class);
#: - ``cache_hit``: a token another provider, process or host had put in a shared cache was
#:   taken instead of fetching (``cache``: the cache's class);
#: - ``lease_waited``: the provider waited while another process or host fetched, and took
#:   its token (``duration``: how long it waited);
#: - ``advisory_backoff``: a refresh ahead of expiry failed; the current token stays and
#:   the next attempt waits ``delay`` seconds (``reason``: the error's class);
#: - ``invalidated``: an API answered 401 to the current token, which was dropped.
EventKind = Literal[
    "fetch_started",
    "fetch_succeeded",
    "fetch_failed",
    "cache_hit",
    "lease_waited",
    "advisory_backoff",
    "invalidated",
]


class Listener(Protocol):
    """What takes a provider's events: any callable of one `TokenEvent`. (A protocol, not
    ``Callable[[TokenEvent], object]``, so that ``typing.get_type_hints`` of the functions
    taking one works before `TokenEvent`, defined on first use, exists.)"""

    def __call__(self, event: TokenEvent, /) -> object: ...


class Listeners:
    """A list of listeners that calls each one and survives their failures."""

    __slots__ = ("__weakref__", "_guard", "_listeners")

    def __init__(self) -> None:
        self._listeners: tuple[Listener, ...] = ()
        self.renew_after_fork()
        _after_fork.track(self)

    def renew_after_fork(self) -> None:
        """A fresh lock (in a forked child, a parent's thread may have held this one)."""
        self._guard = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self._listeners)

    def add(self, listener: Listener) -> Callable[[], None]:
        """Register ``listener``; returns a function that removes it again."""
        if not callable(listener):
            raise TypeError(f"a listener must be callable, got {type(listener).__name__}")
        with self._guard:
            self._listeners = (*self._listeners, listener)
        return lambda: self.remove(listener)

    def remove(self, listener: Listener) -> None:
        """Unregister ``listener`` (registered once per `add`); unknown ones are ignored."""
        with self._guard:
            listeners = list(self._listeners)
            if listener in listeners:
                listeners.remove(listener)
            self._listeners = tuple(listeners)

    def emit(self, event: TokenEvent) -> None:
        """Call every listener with ``event``; one that raises is logged and skipped."""
        for listener in self._listeners:
            try:
                listener(event)
            except Exception as exc:  # a metrics bug must not break getting tokens
                logger.warning(
                    "tokenprovider: an event listener (%s) raised %s on event %s; ignored",
                    getattr(listener, "__qualname__", type(listener).__name__),
                    type(exc).__name__,
                    event.kind,
                )


#: Listeners of every provider in this process.
GLOBAL = Listeners()


def add_listener(listener: Listener) -> Callable[[], None]:
    """Call ``listener`` with the events of every provider; returns its remover."""
    return GLOBAL.add(listener)


def remove_listener(listener: Listener) -> None:
    """Stop calling ``listener`` for every provider's events."""
    GLOBAL.remove(listener)


def __getattr__(name: str) -> object:
    """`TokenEvent`, defined on first use (``core/_token_event.py`` says why)."""
    if name != "TokenEvent":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from tokenprovider.core._token_event import TokenEvent  # noqa: PLC0415

    globals()[name] = TokenEvent
    return TokenEvent
