"""`CachedTokenProvider`: caching, single flight and refresh ahead for dynamic tokens."""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, replace

from tokenprovider.clock import SYSTEM_CLOCK, Clock
from tokenprovider.errors import (
    ConfigurationError,
    MalformedTokenResponseError,
    TokenProviderError,
    TokenRequestError,
)
from tokenprovider.host import Host
from tokenprovider.provider import TokenProvider

logger = logging.getLogger("tokenprovider")

#: The mandatory margin is at most this share of a token's lifetime ...
MANDATORY_SHARE = 0.25
#: ... and the advisory margin at most this share, so short-lived tokens stay usable.
ADVISORY_SHARE = 0.5
#: Longest pause between failed advisory refreshes.
MAX_ADVISORY_BACKOFF = 60.0


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """One cached token and the monotonic times at which it must be refreshed."""

    token: str
    header: tuple[str, str]  # ("Authorization", value), as requests stores it
    refresh_at: float  # before this, the token is served with no further check
    mandatory_at: float  # from this on, callers wait for a fresh token
    expires_at: float | None  # wall-clock expiry, for display
    reauth_until: float = -math.inf  # a 401 before this does not invalidate the token


_EMPTY = _Snapshot("", ("Authorization", ""), -math.inf, -math.inf, None)


@dataclass(frozen=True, slots=True)
class _Failure:
    """The last failed mandatory fetch, and when the next attempt is allowed."""

    error: Exception
    retry_at: float


class CachedTokenProvider(TokenProvider):
    """Base for providers whose token comes from a dynamic source and expires.

    Subclasses implement only `_request_token`. The base class caches the token and:

    - makes exactly one `_request_token` call however many threads need a token at once;
    - refreshes *ahead*: in the advisory window (``refresh_ahead`` seconds before expiry)
      one caller refreshes while the others keep using the current token; a failed
      advisory refresh keeps the current token and backs off;
    - in the mandatory window (``clock_skew`` seconds before expiry) callers wait for a
      fresh token; a failed fetch raises, and calls within ``failure_cooldown`` seconds
      re-raise at once instead of hammering the source.

    Both margins are capped (a quarter and a half of the token's lifetime) so a
    5-second token is not fetched again on every call. Time left is tracked on a
    monotonic clock, so a wall-clock jump neither expires nor extends a token.
    """

    clock_skew: float = 10.0
    refresh_ahead: float = 300.0
    failure_cooldown: float = 2.0
    #: A token fetched because of a 401 is not replaced for another 401 within this many
    #: seconds: a 401 that a fresh token does not cure (a missing scope, a server that
    #: says 401 for 403) must not turn every request into a token request.
    reauth_interval: float = 30.0

    def __init__(
        self,
        host: Host | str,
        *,
        clock_skew: float | None = None,
        refresh_ahead: float | None = None,
        failure_cooldown: float | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(host)
        cls = type(self)
        self.clock_skew = _seconds("clock_skew", clock_skew, cls.clock_skew)
        self.refresh_ahead = _seconds("refresh_ahead", refresh_ahead, cls.refresh_ahead)
        self.failure_cooldown = _seconds("failure_cooldown", failure_cooldown, cls.failure_cooldown)
        self.__clock = clock or SYSTEM_CLOCK
        self.__now = self.__clock.monotonic
        self.__snapshot = _EMPTY
        self.__fetch_lock = threading.Lock()
        self.__swap_lock = threading.Lock()
        self.__fetching_thread: int | None = None
        self.__failure: _Failure | None = None
        self.__generation = 0  # fetches finished, successful or not
        self.__advisory_failures = 0
        self.__reauth_pending = False

    def _request_token(self) -> tuple[str, float]:
        """Fetch a new token: return ``(token, expiry as epoch seconds)``."""
        raise NotImplementedError(f"{type(self).__name__} must implement _request_token()")

    @property
    def token(self) -> str:
        """The cached token, refreshed ahead of expiry; raises if none can be had."""
        snapshot = self.__snapshot
        if self.__now() < snapshot.refresh_at:
            return snapshot.token
        return self.__slow_path().token

    @property
    def expires_at(self) -> float | None:
        """Wall-clock expiry (epoch seconds) of the cached token, or None if none is cached."""
        return self.__snapshot.expires_at

    def _wall_time(self) -> float:
        """Wall-clock epoch seconds from this provider's clock, for computing expiries."""
        return self.__clock.time()

    def _authorization(self) -> str:
        return self._header_item()[1]

    def _header_item(self) -> tuple[str, str]:
        snapshot = self.__snapshot
        if self.__now() < snapshot.refresh_at:
            return snapshot.header
        return self.__slow_path().header

    def invalidate_cache(self) -> None:
        """Drop the cached token; the next caller fetches a new one."""
        with self.__swap_lock:
            self.__snapshot = _EMPTY

    def _invalidate_if_current(self, sent_authorization: str) -> None:
        with self.__swap_lock:
            snapshot = self.__snapshot
            if snapshot.header[1] != sent_authorization or self.__now() < snapshot.reauth_until:
                return
            self.__snapshot = _EMPTY
            self.__reauth_pending = True

    def __slow_path(self) -> _Snapshot:
        if self.__fetching_thread == threading.get_ident():
            raise TokenProviderError(
                f"{type(self).__name__}._request_token() asked for its own token; "
                "it must fetch the token without using self.token"
            )
        snapshot = self.__snapshot
        if self.__now() < snapshot.mandatory_at:
            return self.__advisory(snapshot)
        generation = self.__generation
        with self.__fetch_lock:
            snapshot = self.__snapshot
            now = self.__now()
            if now < snapshot.mandatory_at:
                return snapshot  # another caller refreshed while we waited
            failure = self.__failure
            if self.__generation != generation:
                # A fetch finished while we waited for the lock: share its outcome, even
                # a token that is already due again, rather than fetching once per waiter.
                if failure is not None:
                    raise self.__cooldown_error(failure, now)
                if snapshot.token:
                    return snapshot
            elif failure is not None and now < failure.retry_at:
                raise self.__cooldown_error(failure, now)
            try:
                fresh = self.__fetch()
            except Exception as exc:
                self.__failure = _Failure(exc, self.__now() + self.failure_cooldown)
                if isinstance(exc, TokenProviderError):
                    raise
                raise TokenRequestError(
                    f"{type(self).__name__} could not get a token for {self.host}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            self.__failure = None
            return fresh

    def __cooldown_error(self, failure: _Failure, now: float) -> TokenRequestError:
        error = TokenRequestError(
            f"{type(self).__name__} for {self.host} is not retrying for another "
            f"{max(0.0, failure.retry_at - now):.1f}s after a failed token request: "
            f"{failure.error}"
        )
        error.__cause__ = failure.error
        return error

    def __advisory(self, snapshot: _Snapshot) -> _Snapshot:
        """In the advisory window: one caller refreshes, nobody waits."""
        if not self.__fetch_lock.acquire(blocking=False):
            return snapshot
        try:
            if self.__snapshot is not snapshot:
                return self.__snapshot if self.__snapshot.token else snapshot
            try:
                return self.__fetch()
            except Exception as exc:
                return self.__back_off(snapshot, exc)
        finally:
            self.__fetch_lock.release()

    def __back_off(self, snapshot: _Snapshot, error: Exception) -> _Snapshot:
        delay = min(self.failure_cooldown * 2**self.__advisory_failures, MAX_ADVISORY_BACKOFF)
        self.__advisory_failures += 1
        logger.warning(
            "%s: refreshing the token for %s ahead of expiry failed (%s: %s); "
            "keeping the current token and trying again in %.1fs",
            type(self).__name__,
            self.host,
            type(error).__name__,
            error,
            delay,
        )
        later = replace(snapshot, refresh_at=min(self.__now() + delay, snapshot.mandatory_at))
        with self.__swap_lock:
            if self.__snapshot is snapshot:
                self.__snapshot = later
        return later

    def __fetch(self) -> _Snapshot:
        """Call `_request_token` (holding the fetch lock) and install its result."""
        self.__fetching_thread = threading.get_ident()
        try:
            result = self._request_token()
        finally:
            self.__fetching_thread = None
            self.__generation += 1
        snapshot = self.__snapshot_for(result)
        with self.__swap_lock:
            self.__snapshot = snapshot
            self.__reauth_pending = False
        self.__advisory_failures = 0
        return snapshot

    def __snapshot_for(self, result: object) -> _Snapshot:
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
        lifetime = expires_at - self.__clock.time()
        if lifetime <= 0:
            hint = (
                " (it looks like a lifetime; return time.time() + lifetime)"
                if expires_at < 1e9
                else " (check this machine's clock)"
            )
            logger.warning("%s: the new token for %s is already expired%s", name, self.host, hint)
            lifetime = 0.0
        expires_mono = self.__now() + lifetime
        mandatory = min(self.clock_skew, lifetime * MANDATORY_SHARE)
        advisory = max(mandatory, min(self.refresh_ahead, lifetime * ADVISORY_SHARE))
        return _Snapshot(
            token=token,
            header=("Authorization", self._format_authorization(token)),
            refresh_at=expires_mono - advisory,
            mandatory_at=expires_mono - mandatory,
            expires_at=float(expires_at),
            reauth_until=self.__now() + self.reauth_interval
            if self.__reauth_pending
            else -math.inf,
        )


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
