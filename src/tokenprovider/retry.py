"""The retry policy shared by every provider that calls a token source over HTTP.

For HTTP the machinery is urllib3's `Retry` (counting, which statuses and errors to
retry, ``Retry-After`` parsing), extended in `tokenprovider._urllib3_retry` with full
jitter, a deadline for the whole fetch and an injectable sleep so tests need not wait.
urllib3 is imported only when a fetch needs it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from tokenprovider._value import Value, init
from tokenprovider.errors import ConfigurationError

#: Statuses worth another try: request timeout, throttling and every server error.
RETRY_STATUSES = frozenset({408, 429, *range(500, 600)})


class RetryPolicy(Value):
    """How a token fetch retries transient failures.

    Connection errors, timeouts, 408, 429 and 5xx are retried with exponential backoff
    and full jitter (a random wait between 0 and ``backoff_base * 2**n``, at most
    ``backoff_max``); a ``Retry-After`` header is honoured instead when present. No other
    4xx is retried. Each HTTP call is bounded by ``timeout`` seconds and the whole fetch
    by ``deadline``: retrying stops when the wait before the next attempt would reach it,
    and every connect, send and socket read of an OAuth fetch is cut short at it
    (`tokenprovider._http_reading`), so a server that drips its answer cannot hold the
    fetch past the deadline.
    """

    __match_args__ = (
        "max_attempts",
        "backoff_base",
        "backoff_max",
        "timeout",
        "deadline",
        "sleep",
        "monotonic",
    )
    _unshown = _uncompared = frozenset({"sleep", "monotonic"})
    max_attempts: int
    backoff_base: float
    backoff_max: float
    timeout: float
    deadline: float
    sleep: Callable[[float], None]
    monotonic: Callable[[], float]

    def __init__(  # noqa: PLR0917 - the fields, in order
        self,
        max_attempts: int = 4,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        timeout: float = 10.0,
        deadline: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        init(
            self,
            max_attempts=max_attempts,
            backoff_base=backoff_base,
            backoff_max=backoff_max,
            timeout=timeout,
            deadline=deadline,
            sleep=sleep,
            monotonic=monotonic,
        )
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise ConfigurationError(
                f"retry max_attempts must be a whole number, got {self.max_attempts!r}"
            )
        if self.max_attempts < 1:
            raise ConfigurationError(
                f"retry max_attempts must be at least 1, got {self.max_attempts}"
            )
        for name in ("backoff_base", "backoff_max", "timeout", "deadline"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigurationError(f"retry {name} must be a number of seconds, got {value!r}")
            if (
                not math.isfinite(value)
                or value < 0
                or (name in ("timeout", "deadline") and value == 0)
            ):
                raise ConfigurationError(
                    f"retry {name} must be a positive number of seconds, got {value!r}"
                )

    def start(self) -> float:
        """Begin a fetch: return its deadline on this policy's monotonic clock."""
        return self.monotonic() + self.deadline

    def call_timeout(self, deadline_at: float) -> float:
        """The per-call timeout for a fetch starting now: ``timeout``, or the time to the
        deadline if that is shorter."""
        return max(0.001, min(self.timeout, deadline_at - self.monotonic()))

    def limits(self) -> str:
        """The policy's bounds, for a message: ``"4 attempts at most, within 30s"``."""
        attempts = "1 attempt" if self.max_attempts == 1 else f"{self.max_attempts} attempts"
        return f"{attempts} at most, within {self.deadline:g}s"
