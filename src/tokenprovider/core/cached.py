"""`CachedTokenProvider`: caching, single flight and refresh ahead for dynamic tokens."""

from __future__ import annotations

import logging
import math
import sys
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from tokenprovider import _after_fork
from tokenprovider._untrusted import describe
from tokenprovider._value import Value, init, replace
from tokenprovider.caches.base import CACHE_RETRY_AFTER, NO_ATTRIBUTES, attributes_problem
from tokenprovider.core import _workers, events
from tokenprovider.core.clock import SYSTEM_CLOCK
from tokenprovider.core.host import Host
from tokenprovider.core.provider import TokenProvider
from tokenprovider.core.refresh_settings import RefreshSettings, Unpack, check_names
from tokenprovider.errors import (
    ConfigurationError,
    LoginRequiredError,
    MalformedTokenResponseError,
    TokenExpiredOnArrivalError,
    TokenProviderError,
    TokenRequestError,
)
from tokenprovider.transports import requests as requests_adapter

if TYPE_CHECKING:
    import concurrent.futures

    from tokenprovider.caches.base import CacheEntry, CacheKey, Found, TokenCache

logger = logging.getLogger("tokenprovider")

#: The mandatory margin is at most this share of a token's lifetime ...
MANDATORY_SHARE = 0.25
#: ... and the advisory margin at most this share, so short-lived tokens stay usable.
ADVISORY_SHARE = 0.5
#: Longest pause between failed advisory refreshes.
MAX_ADVISORY_BACKOFF = 60.0
#: After a source hands out a token that has already expired, it is not asked again for
#: at least this many seconds (or ``failure_cooldown``, if longer).
EXPIRED_TOKEN_COOLDOWN = 30.0
#: A token that lives less than this (as the source gave it) counts as expired on arrival:
#: it would be fetched again every few milliseconds.
MIN_TOKEN_LIFETIME = 1.0
#: A wall clock that moved this much more (or less) than the monotonic clock during a
#: fetch was stepped; the source's expiry is then re-read against the monotonic clock.
_CLOCK_STEP = 1.0


class _Snapshot(Value):
    """One cached token and the monotonic times at which it must be refreshed."""

    __match_args__ = (
        "token",
        "header",
        "refresh_at",
        "mandatory_at",
        "expires_mono",
        "expires_at",
        "reauth_until",
        "version",
        "attributes",
    )
    __slots__ = __match_args__
    _unshown = frozenset({"token", "header"})
    token: str
    header: tuple[str, str]  # ("Authorization", value), as requests has it
    refresh_at: float  # before this, the token is served with no further check
    mandatory_at: float  # from this on, callers wait for a fresh token
    expires_mono: float  # from this on, the token is never served
    expires_at: float | None  # wall-clock expiry, for display
    reauth_until: float  # a 401 before this does not invalidate the token
    version: str  # the cache entry it came from
    attributes: Mapping[str, str]

    def __init__(  # noqa: PLR0917 - the fields, in order
        self,
        token: str,
        header: tuple[str, str],
        refresh_at: float,
        mandatory_at: float,
        expires_mono: float,
        expires_at: float | None,
        reauth_until: float = -math.inf,
        version: str = "",
        attributes: Mapping[str, str] = NO_ATTRIBUTES,
    ) -> None:
        init(
            self,
            token=token,
            header=header,
            refresh_at=refresh_at,
            mandatory_at=mandatory_at,
            expires_mono=expires_mono,
            expires_at=expires_at,
            reauth_until=reauth_until,
            version=version,
            attributes=attributes,
        )


_EMPTY = _Snapshot("", ("Authorization", ""), -math.inf, -math.inf, -math.inf, None)


class _CacheLink:
    """A provider's cache, its key there (once known), when the cache's store may be
    tried again after failing, the token the API or the caller last refused, and the
    unexpired entry the fetch under way found in the cache (with its monotonic expiry)."""

    __slots__ = ("cache", "down_until", "fallback", "key", "rejected")

    def __init__(self, cache: TokenCache) -> None:
        self.cache = cache
        self.key: CacheKey | None = None
        self.down_until = -math.inf
        self.rejected = ""  # never adopt this token from the cache again
        self.fallback: tuple[CacheEntry, float] | None = None  # served if the fetch fails


class _Failure:
    """The last failed mandatory fetch, when the next attempt is allowed, and the token
    whose serving past a failed refresh has been logged (once per token)."""

    __slots__ = ("error", "retry_at", "warned_for")

    def __init__(
        self, error: BaseException, retry_at: float, warned_for: _Snapshot | None = None
    ) -> None:
        self.error = error
        self.retry_at = retry_at
        self.warned_for = warned_for


class _Engine:
    """A provider's state apart from its token: the locks, who is fetching, the fetch
    coroutines await, and how the last fetches went."""

    __slots__ = (
        "__weakref__",
        "advisory_failures",
        "failure",
        "fetch_lock",
        "fetching_thread",
        "flight",
        "generation",
        "listeners",
        "reauth_pending",
        "swap_lock",
    )

    def __init__(self) -> None:
        self.failure: _Failure | None = None  # the last failed mandatory fetch
        self.generation = 0  # fetches finished, successful or not
        self.advisory_failures = 0
        self.reauth_pending = False
        self.listeners = events.Listeners()  # this provider's own
        self.renew_after_fork()
        _after_fork.track(self)

    def renew_after_fork(self) -> None:
        """Start with fresh locks and no fetch under way (also in a forked child, where
        the threads that held them do not exist)."""
        self.fetch_lock = threading.Lock()  # held by whoever fetches (or refreshes ahead)
        self.swap_lock = threading.Lock()  # held while the snapshot is swapped
        self.fetching_thread: int | None = None
        self.flight: concurrent.futures.Future[_Snapshot] | None = None  # awaited by tasks


#: Raised to stop the process, not by a failed fetch: passed on as they are.
_PROCESS_SIGNALS = (KeyboardInterrupt, SystemExit)


def _class_statement_level() -> int:
    """For a warning issued in ``__init_subclass__``: the ``stacklevel`` of the ``class``
    statement, past the metaclasses' ``__new__`` and the parents' ``__init_subclass__``."""
    level, frame = 2, sys._getframe(2)
    while frame.f_back is not None and frame.f_code.co_name in ("__init_subclass__", "__new__"):
        frame = frame.f_back
        level += 1
    return level


class CachedTokenProvider(TokenProvider):
    """Base for providers whose token comes from a dynamic source and expires.

    Subclasses implement only `_request_token`. The base class caches the token and:

    - makes exactly one `_request_token` call however many threads, and coroutines
      awaiting `async_token` (on any number of event loops), need a token at once;
    - refreshes *ahead*: in the advisory window (``refresh_ahead`` seconds before expiry)
      the first caller to see it starts a refresh in a worker thread, and every caller
      keeps using the current token meanwhile; a failed advisory refresh keeps the
      current token and backs off;
    - in the mandatory window (``clock_skew`` seconds before expiry) callers wait for a
      fresh token; if the fetch fails they keep the token until it expires (with one
      warning), be it this provider's or one another process left in a shared cache;
      without one the fetch raises, and calls within ``failure_cooldown`` seconds
      re-raise at once instead of hammering the source.

    Both margins are capped (a quarter and a half of the token's lifetime) so a
    5-second token is not fetched again on every call. Time left is tracked on a
    monotonic clock, so a wall-clock jump neither expires nor extends a token.

    Tokens go through ``cache`` (a `TokenCache`; the process-wide `MemoryTokenCache` by
    default), so providers with the same identity share one token and one fetch, across
    processes or hosts with a `FileTokenCache` or `DynamoDBTokenCache`. A subclass takes
    part by defining `_cache_identity` (and `_cache_secret` if it has credentials);
    without them its tokens stay its own. A provider that learns something with its
    token that it needs to use it (a cookie's name) defines `_token_attributes` and
    `_attributes_flaw`, and reads them back with `_token_details`. Listeners added with
    `add_listener` hear what the engine does (`tokenprovider.core.events`).

    The engine's attributes keep Python's name mangling (``__name``) so that they cannot
    clash with a subclass's own; hidden from display they would be anyway.
    """

    clock_skew: float = 10.0
    refresh_ahead: float = 300.0
    failure_cooldown: float = 2.0
    #: A token fetched because of a 401 is not replaced for another 401 within this many
    #: seconds: a 401 that a fresh token does not cure (a missing scope, a server that
    #: says 401 for 403) must not turn every request into a token request.
    reauth_interval: float = 30.0

    def __init__(self, host: Host | str, **settings: Unpack[RefreshSettings]) -> None:
        check_names(type(self), settings)
        clock_skew = settings.get("clock_skew")
        refresh_ahead = settings.get("refresh_ahead")
        failure_cooldown = settings.get("failure_cooldown")
        clock, cache = settings.get("clock"), settings.get("cache")
        super().__init__(host)
        cls = type(self)
        self.clock_skew = _seconds("clock_skew", clock_skew, cls.clock_skew)
        self.refresh_ahead = _seconds("refresh_ahead", refresh_ahead, cls.refresh_ahead)
        self.failure_cooldown = _seconds("failure_cooldown", failure_cooldown, cls.failure_cooldown)
        self.__clock = clock or SYSTEM_CLOCK
        # On the hot paths, read as ``now = self.__now`` and then ``now()``: CPython 3.11
        # speeds up that attribute load, and not the lookup behind ``self.__now()``.
        self.__now = self.__clock.monotonic
        self.__snapshot = _EMPTY
        self.__engine = _Engine()
        self.__link = _CacheLink(_checked_cache(cache))

    def add_listener(self, listener: events.Listener) -> Callable[[], None]:
        """Call ``listener`` with each `TokenEvent` of this provider (fetches, cache hits,
        lease waits, advisory back-offs, 401 invalidations); returns its remover. See
        `tokenprovider.core.events` for every provider's events at once."""
        return self.__engine.listeners.add(listener)

    def remove_listener(self, listener: events.Listener) -> None:
        """Stop calling ``listener`` for this provider's events."""
        self.__engine.listeners.remove(listener)

    def __emit(self, kind: events.EventKind, **details: Any) -> None:
        """Hand an event to the listeners, if there are any."""
        own = self.__engine.listeners
        if not (own or events.GLOBAL):
            return
        event = events.TokenEvent(kind, type(self).__name__, str(self.host), **details)
        own.emit(event)
        events.GLOBAL.emit(event)

    @property
    def cache(self) -> TokenCache:
        """Where this provider keeps its token."""
        return self.__link.cache

    def _cache_identity(self) -> Mapping[str, object] | None:
        """What identifies this provider's tokens (kind, host, client id, scopes...).

        Providers with equal identities share tokens through their cache, so it must
        cover everything that makes a token differ, but no secret (see `_cache_secret`).
        None, the default, keeps this provider's tokens to itself.
        """
        return None

    def _cache_secret(self) -> str | None:
        """The credential that also identifies the tokens; it enters cache keys only as
        a salted hash, and may derive the cache's encryption key."""
        return None

    def _token_attributes(self) -> Mapping[str, str]:
        """Strings that go with the token `_request_token` just returned and that a
        provider needs to use it (the name of the cookie that carries it, say); called
        right after it. They are stored with the token, in the clear, so a provider that
        reads it from a shared cache gets them too: no secret belongs here. At most
        eight, named like ``cookie_name``, each a printable string of at most 256
        characters (`tokenprovider.caches.base.attributes_problem`). None by default."""
        return NO_ATTRIBUTES

    def _attributes_flaw(self, attributes: Mapping[str, str]) -> str | None:
        """Why a cached token's ``attributes`` must not be used (they come from another
        process: check them as untrusted input), or None. A token with flawed
        attributes counts as a cache miss. The message must not quote the value."""
        return None

    def cache_key(self) -> CacheKey | None:
        """The key under which `cache` keeps this provider's token, or None if its
        tokens stay its own (it defines no `_cache_identity`). Making the key may read
        (or create) the cache's salt."""
        link = self.__link
        if link.key is None:
            identity = self._cache_identity()
            if identity is not None:
                link.key = link.cache.key_for(identity, self._cache_secret())
        return link.key

    def _request_token(self) -> tuple[str, float]:
        """Fetch a new token: return ``(token, expiry as epoch seconds)``.

        A subclass implements this, or `_async_request_token` if its source is a
        coroutine. It is called by one thread at a time, never on an event loop's thread
        when the caller is a coroutine (that caller awaits a worker thread)."""
        if _has_coroutine_source(self):
            import asyncio  # noqa: PLC0415 - only for coroutine sources

            return asyncio.run(self._async_request_token())
        raise NotImplementedError(f"{type(self).__name__} must implement _request_token()")

    async def _async_request_token(self) -> tuple[str, float]:
        """`_request_token` written as a coroutine, for a source that is async (an
        ``httpx.AsyncClient``, say). It runs to completion on an event loop of its own in
        the thread that fetches, so threads and tasks on any loop still share one fetch;
        create loop-bound clients inside it, not in ``__init__``."""
        raise NotImplementedError(f"{type(self).__name__} must implement _request_token()")

    @property
    def token(self) -> str:
        """The cached token, refreshed ahead of expiry; raises if none can be had."""
        snapshot = self.__snapshot
        now = self.__now
        if now() < snapshot.refresh_at:
            return snapshot.token
        return self.__slow_path().token

    async def async_token(self) -> str:
        """The cached token, for a coroutine: as `token`, but the event loop never waits
        on a fetch. Threads and tasks, on any number of loops, share one fetch."""
        snapshot = self.__snapshot
        now = self.__now
        if now() < snapshot.refresh_at:
            return snapshot.token
        return (await self.__async_slow_path()).token

    async def _async_header_item(self) -> tuple[str, str]:
        snapshot = self.__snapshot
        now = self.__now
        if now() < snapshot.refresh_at:
            return snapshot.header
        return (await self.__async_slow_path()).header

    async def __async_slow_path(self) -> _Snapshot:
        snapshot = self.__snapshot
        now = self.__now()
        if now < snapshot.refresh_at:
            return snapshot
        if now < snapshot.mandatory_at:
            return self.__advisory(snapshot)  # never waits: a worker refreshes
        engine = self.__engine
        if engine.fetching_thread == threading.get_ident():
            raise self.__own_token_error()  # it would wait for itself
        failure = engine.failure
        if failure is not None:
            if self.__still_valid(snapshot):
                # Refreshing it failed: keep the token while a worker retries, once the
                # cooldown is over, rather than wait for the retry.
                if now >= failure.retry_at and not engine.fetch_lock.locked():
                    self.__flight()
                return self.__stale(snapshot, failure)
            if now < failure.retry_at:
                raise self.__cooldown_error(failure, now)
        from tokenprovider.core._awaiting import outcome  # noqa: PLC0415 - loads asyncio

        return await outcome(self.__flight())

    def __flight(self) -> concurrent.futures.Future[_Snapshot]:
        """The fetch coroutines wait for: the one under way, or a new one in a worker,
        which takes its turn with the threads that fetch, as a thread would."""
        import concurrent.futures  # noqa: PLC0415 - loaded with asyncio already

        engine = self.__engine
        with engine.swap_lock:
            flight = engine.flight
            if flight is not None:
                return flight
            flight = engine.flight = concurrent.futures.Future()
        started = False
        try:
            started = _workers.start(lambda: self.__fly(flight))
        finally:
            if not started:  # nobody would ever settle it
                self.__land(flight)
                flight.set_exception(
                    TokenRequestError(
                        f"{type(self).__name__} could not start a thread to fetch the token "
                        f"for {self.host} (the interpreter is exiting, or out of threads)"
                    )
                )
        return flight

    def __fly(self, flight: concurrent.futures.Future[_Snapshot]) -> None:
        """In a worker: get the token as a thread would, and hand the outcome over."""
        try:
            snapshot = self.__slow_path()
        except BaseException as exc:  # handed to the coroutines, which raise it
            self.__land(flight)
            if not isinstance(exc, Exception):  # the waiters were not cancelled, nor exiting
                exc = TokenRequestError(
                    f"{type(self).__name__} could not get a token for {self.host}: "
                    f"{type(exc).__name__} in the fetch"
                )
            flight.set_exception(exc)
        else:
            self.__land(flight)
            flight.set_result(snapshot)

    def __land(self, flight: concurrent.futures.Future[_Snapshot]) -> None:
        """Take ``flight`` off the board before its outcome is known, so a coroutine that
        finds the token due again starts a new fetch instead of reading this one."""
        engine = self.__engine
        with engine.swap_lock:
            if engine.flight is flight:
                engine.flight = None

    def _wait_for_fetch(self, timeout: float) -> bool:
        """Wait until no fetch for this provider is under way (a refresh ahead of expiry
        runs in a worker); False if one still is after ``timeout`` seconds. For tests:
        `tokenprovider.testing.wait_for_refresh`."""
        lock = self.__engine.fetch_lock
        if not lock.acquire(timeout=timeout):
            return False
        lock.release()
        return True

    @property
    def expires_at(self) -> float | None:
        """Wall-clock expiry (epoch seconds) of the cached token, or None if none is cached."""
        return self.__snapshot.expires_at

    def _token_and_expiry(self) -> tuple[str, float | None]:
        """The token and its wall-clock expiry, read together (`token` refreshes alike)."""
        snapshot = self.__snapshot
        if self.__now() >= snapshot.refresh_at:
            snapshot = self.__slow_path()
        return snapshot.token, snapshot.expires_at

    def _token_details(self) -> tuple[str, float | None, Mapping[str, str]]:
        """The token, its wall-clock expiry and the attributes that came with it (see
        `_token_attributes`), read together (`token` refreshes alike)."""
        snapshot = self.__snapshot
        if self.__now() >= snapshot.refresh_at:
            snapshot = self.__slow_path()
        return snapshot.token, snapshot.expires_at, snapshot.attributes

    async def _async_token_details(self) -> tuple[str, float | None, Mapping[str, str]]:
        """`_token_details` for a coroutine, without blocking the event loop."""
        snapshot = self.__snapshot
        if self.__now() >= snapshot.refresh_at:
            snapshot = await self.__async_slow_path()
        return snapshot.token, snapshot.expires_at, snapshot.attributes

    def _wall_time(self) -> float:
        """Wall-clock epoch seconds from this provider's clock, for computing expiries."""
        return self.__clock.time()

    def _authorization(self) -> str:
        return self._header_item()[1]

    # The requests fast path reads the snapshot itself (`cached_header_handler`), unless a
    # subclass has its own `_header_item`, which it must then be asked.
    requests_auth_handler = requests_adapter.cached_header_handler
    __call__ = requests_auth_handler

    def __init_subclass__(cls, **kwargs: Any) -> None:
        if "_clock_skew" in cls.__dict__:  # the seed design's name, which nothing read
            warnings.warn(
                f"{cls.__qualname__}._clock_skew is not read; set clock_skew (no underscore) "
                "for the mandatory window",
                stacklevel=_class_statement_level(),
            )
        if (
            cls.requests_auth_handler is requests_adapter.cached_header_handler
            and cls._header_item is not CachedTokenProvider._header_item
        ):
            cls.requests_auth_handler = requests_adapter.header_handler
        super().__init_subclass__(**kwargs)

    def _header_item(self) -> tuple[str, str]:
        snapshot = self.__snapshot
        now = self.__now
        if now() < snapshot.refresh_at:
            return snapshot.header
        return self.__slow_path().header

    def invalidate_cache(self) -> None:
        """Drop the cached token; the next caller fetches a new one (even if a shared
        cache still holds this token)."""
        with self.__engine.swap_lock:
            self.__link.rejected = self.__snapshot.token or self.__link.rejected
            self.__snapshot = _EMPTY

    def _invalidate_if_current(self, sent_authorization: str) -> None:
        with self.__engine.swap_lock:
            snapshot = self.__snapshot
            if snapshot.header[1] != sent_authorization or self.__now() < snapshot.reauth_until:
                return
            self.__link.rejected = snapshot.token
            self.__snapshot = _EMPTY
            self.__engine.reauth_pending = True
        self.__emit("invalidated")

    def __slow_path(self) -> _Snapshot:
        if self.__engine.fetching_thread == threading.get_ident():
            raise self.__own_token_error()
        snapshot = self.__snapshot
        now = self.__now()
        if now < snapshot.refresh_at:
            return snapshot  # refreshed since the caller looked
        if now < snapshot.mandatory_at:
            return self.__advisory(snapshot)
        if _has_coroutine_source(self) and _on_a_running_loop():
            raise TokenProviderError(
                f"{type(self).__name__}.token was read on a running event loop, where its "
                "coroutine source cannot run without blocking the loop: use "
                "`await provider.async_token()` in a coroutine"
            )
        generation = self.__engine.generation
        # Once refreshing this token has failed, callers keep it while another caller
        # retries, rather than queue behind a fetch that may last until its deadline.
        if self.__engine.failure is not None and self.__still_valid(snapshot):
            if not self.__engine.fetch_lock.acquire(blocking=False):
                return snapshot
        else:
            self.__engine.fetch_lock.acquire()
        try:
            return self.__mandatory(generation)
        finally:
            self.__engine.fetch_lock.release()

    def __own_token_error(self) -> TokenProviderError:
        return TokenProviderError(
            f"{type(self).__name__}._request_token() asked for its own token; "
            "it must fetch the token without using self.token"
        )

    def __mandatory(self, generation: int) -> _Snapshot:
        """In the mandatory window, holding the fetch lock: one fetch for every caller."""
        snapshot = self.__snapshot
        now = self.__now()
        if now < snapshot.mandatory_at:
            return snapshot  # another caller refreshed while we waited
        failure = self.__engine.failure
        if self.__engine.generation != generation:
            # A fetch finished while we waited for the lock: share its outcome, even
            # a token that is already due again, rather than fetching once per waiter.
            if failure is not None:
                return self.__after_failure(snapshot, failure, now)
            if snapshot.token:
                return snapshot
        elif failure is not None and now < failure.retry_at:
            return self.__after_failure(snapshot, failure, now)
        try:
            fresh = self.__fetch()
        except _PROCESS_SIGNALS:
            raise
        except BaseException as exc:  # a CancelledError from the source counts as a failure
            warned = None if failure is None else failure.warned_for
            failure = _Failure(exc, self.__now() + self.__cooldown_for(exc), warned)
            self.__engine.failure = failure
            snapshot = self.__fallback(snapshot)
            if self.__still_valid(snapshot):
                return self.__stale(snapshot, failure)
            if isinstance(exc, TokenProviderError):
                raise
            raise TokenRequestError(
                f"{type(self).__name__} could not get a token for {self.host}: "
                f"{type(exc).__name__}: {describe(exc)}"
            ) from exc
        self.__engine.failure = None
        return fresh

    def __cooldown_for(self, error: BaseException) -> float:
        if isinstance(error, LoginRequiredError) and not self.__still_valid(self.__snapshot):
            # With no token to serve meanwhile, ask the login store again at once: a login
            # in another terminal is picked up by the next call.
            return 0.0
        if isinstance(error, TokenExpiredOnArrivalError):
            return self.__expired_cooldown()
        return self.failure_cooldown

    def __expired_cooldown(self) -> float:
        return max(self.failure_cooldown, EXPIRED_TOKEN_COOLDOWN)

    def __still_valid(self, snapshot: _Snapshot) -> bool:
        """Whether ``snapshot`` holds a token that has not expired (nor been refused)."""
        return (
            bool(snapshot.token)
            and snapshot.token != self.__link.rejected
            and self.__now() < snapshot.expires_mono
        )

    def __fallback(self, snapshot: _Snapshot) -> _Snapshot:
        """After a failed fetch: the token to keep serving. The current snapshot (empty
        if the token was refused, by a 401 or `invalidate_cache`, while the fetch ran),
        unless the shared cache held an unexpired token, not refused, that outlives it
        (one another process fetched): that one is installed instead."""
        link = self.__link
        found, link.fallback = link.fallback, None
        cached = None
        if found is not None:
            entry, expires_mono = found
            remaining = expires_mono - self.__now()
            if remaining > 0:
                cached = self.__snapshot_for(
                    entry.token,
                    self.__clock.time() + remaining,
                    entry.lifetime,
                    entry.version,
                    entry.attributes,
                )
        with self.__engine.swap_lock:
            current = self.__snapshot  # not ``snapshot`` if it was refused meanwhile
            if (
                cached is None
                or cached.token == link.rejected
                or (self.__still_valid(current) and current.expires_mono >= cached.expires_mono)
            ):
                return current
            self.__snapshot = cached
        return cached

    def __after_failure(self, snapshot: _Snapshot, failure: _Failure, now: float) -> _Snapshot:
        """Within a failed fetch's cooldown: the token while it is still good, else the error."""
        if self.__still_valid(snapshot):
            return self.__stale(snapshot, failure)
        raise self.__cooldown_error(failure, now)

    def __stale(self, snapshot: _Snapshot, failure: _Failure) -> _Snapshot:
        """Serve a token that is due but not yet expired, because refreshing it failed;
        warn once per token."""
        if failure.warned_for is not snapshot:
            failure.warned_for = snapshot
            logger.warning(
                "%s: refreshing the token for %s failed (%s: %s); using the current token "
                "for its last %.0fs and trying again in %.1fs",
                type(self).__name__,
                self.host,
                type(failure.error).__name__,
                describe(failure.error),
                max(0.0, snapshot.expires_mono - self.__now()),
                max(0.0, failure.retry_at - self.__now()),
            )
        return snapshot

    def __cooldown_error(self, failure: _Failure, now: float) -> TokenRequestError:
        error = TokenRequestError(
            f"{type(self).__name__} for {self.host} is not retrying for another "
            f"{max(0.0, failure.retry_at - now):.1f}s after a failed token request: "
            f"{describe(failure.error)}"
        )
        error.__cause__ = failure.error
        return error

    def __advisory(self, snapshot: _Snapshot) -> _Snapshot:
        """In the advisory window: a worker thread refreshes, nobody waits."""
        engine = self.__engine
        if not engine.fetch_lock.acquire(blocking=False):
            return snapshot  # a refresh is under way
        current = self.__snapshot
        started = False
        try:
            started = current is snapshot and _workers.start(lambda: self.__refresh(snapshot))
        finally:
            if not started:  # the worker, had it started, would release it
                engine.fetch_lock.release()
        return snapshot if started or not current.token else current

    def __refresh(self, snapshot: _Snapshot) -> None:
        """The advisory refresh, in a worker holding the fetch lock for it."""
        try:
            self.__fetch()
        except BaseException as exc:  # in a worker: nothing above it to tell but the log
            self.__back_off(snapshot, exc)
        finally:
            self.__engine.fetch_lock.release()

    def __back_off(self, snapshot: _Snapshot, error: BaseException) -> _Snapshot:
        engine = self.__engine
        delay = min(self.failure_cooldown * 2**engine.advisory_failures, MAX_ADVISORY_BACKOFF)
        engine.advisory_failures += 1
        logger.warning(
            "%s: refreshing the token for %s ahead of expiry failed (%s: %s); "
            "keeping the current token and trying again in %.1fs",
            type(self).__name__,
            self.host,
            type(error).__name__,
            describe(error),
            delay,
        )
        self.__emit("advisory_backoff", delay=delay, reason=type(error).__name__)
        later = replace(snapshot, refresh_at=min(self.__now() + delay, snapshot.mandatory_at))
        with self.__engine.swap_lock:
            if self.__snapshot is snapshot:
                self.__snapshot = later
        return later

    def __fetch(self) -> _Snapshot:
        """Get a token through the cache (holding the fetch lock) and install it."""
        self.__engine.fetching_thread = threading.get_ident()
        try:
            snapshot = self.__through_cache()
        finally:
            self.__engine.fetching_thread = None
            self.__engine.generation += 1
        with self.__engine.swap_lock:
            self.__snapshot = snapshot
            self.__engine.reauth_pending = False
            self.__link.rejected = ""
        self.__engine.advisory_failures = 0
        return snapshot

    def __through_cache(self) -> _Snapshot:
        link = self.__link
        link.fallback = None
        key = self.__cache_key()
        if key is None:
            token, expires_at, issued_at, attributes = self.__requested()
            return self.__snapshot_for(token, expires_at, expires_at - issued_at, "", attributes)
        held = self.__snapshot.version
        rejected = link.rejected
        wall = self.__clock.time
        refused: set[str] = set()  # versions whose attributes were refused (warned once)

        def usable(entry: CacheEntry, waited: float | None) -> bool:
            if entry.token == rejected or not is_header_safe(entry.token):
                return False
            if not self.__attributes_usable(entry, refused):
                return False
            if waited is not None:
                # Written while we waited, so at most `waited` old, whatever the clocks say.
                remaining = entry.lifetime - waited
            elif entry.version == held:
                return False  # the token this provider already found due
            else:
                now = wall()
                remaining = min(entry.expires_at, now + entry.lifetime) - now
            if remaining > 0:  # served should the fetch fail (design principle 3)
                link.fallback = (entry, self.__now() + remaining)
            return remaining > self.__margins(entry.lifetime)[1]

        found = link.cache.fetch(key, self.__requested, usable)
        link.fallback = None
        return self.__adopt(found)

    def __attributes_usable(self, entry: CacheEntry, refused: set[str]) -> bool:
        """Whether this provider accepts the attributes a cached entry came with."""
        flaw = self._attributes_flaw(entry.attributes) if entry.attributes else None
        if flaw is None:
            return True
        if entry.version not in refused:
            refused.add(entry.version)
            logger.warning(
                "%s: ignoring the cached token for %s in %r: its attributes are refused (%s)",
                type(self).__name__,
                self.host,
                self.__link.cache,
                flaw,
            )
        return False

    def __adopt(self, found: Found) -> _Snapshot:
        entry = found.entry
        now = self.__clock.time()
        if found.waited is not None:
            remaining = entry.lifetime - found.waited
        else:
            remaining = min(entry.expires_at, now + entry.lifetime) - now
        cache = type(self.__link.cache).__name__
        logger.debug(
            "%s: %s token for %s from %s",
            type(self).__name__,
            "fetched a" if found.fetched else "using a cached",
            self.host,
            cache,
        )
        if not found.fetched:
            if found.waited is None:
                self.__emit("cache_hit", cache=cache)
            else:
                self.__emit("lease_waited", cache=cache, duration=found.waited)
        return self.__snapshot_for(
            entry.token, now + remaining, entry.lifetime, entry.version, entry.attributes
        )

    def __cache_key(self) -> CacheKey | None:
        key = self.__link.key
        if key is None:
            if self.__now() < self.__link.down_until:
                return None  # the cache's store failed moments ago: do not wait on it again
            identity = self._cache_identity()
            if identity is None:
                if self.__link.cache.shared:
                    raise ConfigurationError(
                        f"{type(self).__name__} cannot use {type(self.__link.cache).__name__}: it "
                        "does not define _cache_identity(), so its tokens cannot be told "
                        "apart from another client's"
                    )
                return None
            try:
                key = self.__link.cache.key_for(identity, self._cache_secret())
            except TokenProviderError:
                raise
            except Exception as exc:  # the cache's store is down: fetch without it
                self.__link.down_until = self.__now() + CACHE_RETRY_AFTER
                logger.warning(
                    "%s: cannot reach %r (%s: %s); fetching the token for %s without it, "
                    "and trying the cache again in %.0fs",
                    type(self).__name__,
                    self.__link.cache,
                    type(exc).__name__,
                    describe(exc),
                    self.host,
                    CACHE_RETRY_AFTER,
                )
                return None
            self.__link.key = key
        return key

    def __requested(self) -> tuple[str, float, float, Mapping[str, str]]:
        """Call `_request_token`, check what it returned, and return the token with its
        expiry and issue time on the wall clock as it reads now, and its attributes.

        The time left is what the source gave as the fetch began, less the time the
        fetch took on the monotonic clock: a wall clock stepped during the fetch can
        neither stretch a token's life nor make a good token look expired.
        """
        started_wall, started = self.__clock.time(), self.__now()
        self.__emit("fetch_started")
        timer = time.perf_counter()  # events report real durations, whatever the clock
        try:
            checked = self.__checked(self._request_token(), started_wall, started)
        except Exception as exc:
            took = time.perf_counter() - timer
            self.__emit("fetch_failed", duration=took, reason=type(exc).__name__)
            raise
        self.__emit("fetch_succeeded", duration=time.perf_counter() - timer)
        return checked

    def __checked(
        self, result: object, started_wall: float, started: float
    ) -> tuple[str, float, float, Mapping[str, str]]:
        """What `_request_token` returned, checked, as `__requested` returns it."""
        name = type(self).__name__
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise MalformedTokenResponseError(
                f"{name}._request_token() must return a (token, expires_at) pair, "
                f"got {type(result).__name__}"
            )
        token, expires_at = result
        if not isinstance(token, str) or not token:
            raise MalformedTokenResponseError(
                f"{name}._request_token() must return a non-empty str token, "
                f"got {type(token).__name__}"
            )
        if not is_header_safe(token):
            raise MalformedTokenResponseError(
                f"{name}._request_token() returned a token with characters an HTTP header "
                "cannot carry (surrounding whitespace, control or non-ASCII characters)"
            )
        if (
            not isinstance(expires_at, (int, float))
            or isinstance(expires_at, bool)
            or not math.isfinite(expires_at)
        ):
            raise MalformedTokenResponseError(
                f"{name}._request_token() must return the expiry as epoch seconds "
                f"(time.time() + lifetime), got {type(expires_at).__name__}"
            )
        given = self._token_attributes()
        problem = attributes_problem(given)
        if problem is not None:
            raise MalformedTokenResponseError(
                f"{name}._token_attributes() returned attributes a cache cannot hold: {problem}"
            )
        attributes = MappingProxyType(dict(given)) if given else NO_ATTRIBUTES
        took = max(0.0, self.__now() - started)
        remaining = float(expires_at) - started_wall - took
        lifetime = float(expires_at) - started_wall
        if remaining <= 0 or lifetime < MIN_TOKEN_LIFETIME:
            raise self.__expired_on_arrival(float(expires_at), remaining, lifetime)
        now = self.__clock.time()
        if abs(now - started_wall - took) < _CLOCK_STEP:
            # The clocks agree: keep the source's expiry exact.
            return token, float(expires_at), started_wall, attributes
        return token, now + remaining, now - took, attributes

    def __expired_on_arrival(
        self, expires_at: float, remaining: float, lifetime: float
    ) -> TokenExpiredOnArrivalError:
        """The error for a token that was expired, or all but, when it arrived; warns once."""
        if expires_at < 1e9:
            hint = "it looks like a lifetime; _request_token() must return time.time() + lifetime"
        elif remaining <= 0:
            hint = f"{abs(remaining):.0f}s ago; check the source's clock and this machine's"
        else:
            hint = f"it lived {lifetime:.2g}s, less than the {MIN_TOKEN_LIFETIME:g}s a token must"
        cooldown = self.__expired_cooldown()
        message = (
            f"{self._token_source()} gave a token for {self.host} that had already expired "
            f"({hint}); not asking again for {cooldown:.0f}s"
        )
        last = self.__engine.failure
        if last is None or not isinstance(last.error, TokenExpiredOnArrivalError):
            logger.warning("%s: %s", type(self).__name__, message)  # once, not per refusal
        return TokenExpiredOnArrivalError(message)

    def _token_source(self) -> str:
        """Where this provider's tokens come from, for messages (an endpoint, a Lambda)."""
        return f"{type(self).__name__}._request_token()"

    def __margins(self, lifetime: float) -> tuple[float, float]:
        """The mandatory and advisory margins for a token that lives ``lifetime`` seconds."""
        mandatory = min(self.clock_skew, lifetime * MANDATORY_SHARE)
        advisory = max(mandatory, min(self.refresh_ahead, lifetime * ADVISORY_SHARE))
        return mandatory, advisory

    def __snapshot_for(
        self,
        token: str,
        expires_at: float,
        lifetime: float,
        version: str = "",
        attributes: Mapping[str, str] = NO_ATTRIBUTES,
    ) -> _Snapshot:
        """The snapshot for ``token``; ``expires_at`` is on this host's wall clock."""
        now = self.__now()
        expires_mono = now + max(0.0, expires_at - self.__clock.time())
        mandatory, advisory = self.__margins(max(0.0, lifetime))
        return _Snapshot(
            token=token,
            header=("Authorization", self._format_authorization(token)),
            refresh_at=expires_mono - advisory,
            mandatory_at=expires_mono - mandatory,
            expires_mono=expires_mono,
            expires_at=expires_at,
            reauth_until=now + self.reauth_interval if self.__engine.reauth_pending else -math.inf,
            version=version,
            attributes=attributes,
        )


def _has_coroutine_source(provider: CachedTokenProvider) -> bool:
    return type(provider)._async_request_token is not CachedTokenProvider._async_request_token


def _on_a_running_loop() -> bool:
    import asyncio  # noqa: PLC0415 - only for coroutine sources

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _checked_cache(cache: object) -> TokenCache:
    from tokenprovider.caches.base import TokenCache  # noqa: PLC0415 - keeps imports light
    from tokenprovider.caches.memory import default_cache  # noqa: PLC0415

    if cache is None:
        return default_cache()
    if not isinstance(cache, TokenCache):
        raise ConfigurationError(
            f"cache must be a TokenCache (MemoryTokenCache, FileTokenCache, "
            f"DynamoDBTokenCache), got {type(cache).__name__}"
        )
    return cache


def is_header_safe(token: str) -> bool:
    """Whether ``token`` can go into a header as is: printable ASCII, no outer spaces.

    http.client and requests quote a bad header value in their errors, so a token that
    fails this must never reach a header.
    """
    return token.isascii() and token.isprintable() and token.strip(" ") == token


def _seconds(name: str, value: float | None, default: float) -> float:
    """Validate a duration setting (non-negative, finite) or fall back to ``default``."""
    if value is None:
        return float(default)
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ConfigurationError(f"{name} must be a non-negative number of seconds, got {value!r}")
    return float(value)
