"""urllib3 `Retry` carrying out a `RetryPolicy`: full jitter, a deadline, an injectable sleep.

urllib3 logs a WARNING ("Retrying (PolicyRetry(...)) after connection broken by ...") for
each retry after a connection error. A fetch is one operation, whose failure is reported
once (its error, or one warning when a stale token is served), so a filter on urllib3's
connection-pool logger passes those records on at DEBUG, for our retries only: the
application's own urllib3 warnings and its logging configuration are left alone.
"""

from __future__ import annotations

import copy
import logging
import math
import random
from types import TracebackType
from typing import Any

from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import InvalidHeader, MaxRetryError, ResponseError
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from tokenprovider.retry import RETRY_STATUSES, RetryPolicy


class PolicyRetry(Retry):
    """urllib3 `Retry` with full jitter, a deadline and the policy's sleep."""

    RETRY_AFTER_STATUS_CODES = RETRY_STATUSES

    def __init__(
        self,
        *args: Any,
        policy: RetryPolicy | None = None,
        deadline_at: float = math.inf,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.policy = policy or RetryPolicy()
        self.deadline_at = deadline_at
        self.next_wait: float | None = None  # set by `increment` for `sleep`

    def new(self, **kwargs: Any) -> PolicyRetry:
        retry = super().new(**kwargs)
        assert isinstance(retry, PolicyRetry)
        retry.policy = self.policy
        retry.deadline_at = self.deadline_at
        return retry

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> PolicyRetry:
        """Count a failure; give up now if the wait before the next try reaches the deadline."""
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        assert isinstance(retry, PolicyRetry)
        retry.next_wait = retry._wait_for(response)
        if self.policy.monotonic() + retry.next_wait >= self.deadline_at:
            status = response.status if response is not None else None
            reason = error or ResponseError(ResponseError.SPECIFIC_ERROR.format(status_code=status))
            raise MaxRetryError(_pool, url or "", reason) from reason  # type: ignore[arg-type]
        return retry

    def _wait_for(self, response: BaseHTTPResponse | None) -> float:
        """``Retry-After`` when the response has a valid one, else the jittered backoff."""
        if response is not None and self.respect_retry_after_header:
            try:
                wait = self.get_retry_after(response)
            except InvalidHeader:
                wait = None
            if wait is not None:
                return wait
        return self.get_backoff_time()

    def get_backoff_time(self) -> float:
        """Full jitter (`full_jitter`) after the failures so far."""
        return full_jitter(self.backoff_factor, self.backoff_max, len(self.history))

    def is_exhausted(self) -> bool:
        return super().is_exhausted() or self.policy.monotonic() >= self.deadline_at

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        wait = self.next_wait if self.next_wait is not None else self._wait_for(response)
        wait = min(wait, max(0.0, self.deadline_at - self.policy.monotonic()))
        if wait > 0:
            self.policy.sleep(wait)


def full_jitter(base: float, ceiling: float, failures: int) -> float:
    """The wait after ``failures`` failures: uniform between 0 and ``base * 2**(failures -
    1)``, at most ``ceiling``; none before the first failure."""
    if failures == 0:
        return 0.0
    return random.uniform(0, min(ceiling, base * 2 ** (failures - 1)))


def wait_before_retry(policy: RetryPolicy, failures: int, retry_after: str | None) -> float:
    """The wait before another attempt after ``failures`` failed ones: a valid
    ``Retry-After`` (seconds or an HTTP date), else the policy's jittered backoff."""
    if retry_after is not None:
        try:
            return PolicyRetry(policy=policy).parse_retry_after(retry_after)
        except InvalidHeader:
            pass
    return full_jitter(policy.backoff_base, policy.backoff_max, failures)


class _RetryWarningsAtDebug(logging.Filter):
    """urllib3's retry WARNING about a `PolicyRetry` (a token fetch retrying), logged at
    DEBUG instead; every other record passes as it is."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not (
            record.levelno == logging.WARNING
            and isinstance(args, tuple)
            and args
            and isinstance(args[0], PolicyRetry)
        ):
            return True
        if _POOL_LOGGER.isEnabledFor(logging.DEBUG):
            quieter = copy.copy(record)
            quieter.levelno, quieter.levelname = logging.DEBUG, "DEBUG"
            _POOL_LOGGER.handle(quieter)
        return False


#: The logger urllib3's connection pools log to (``urllib3.connectionpool.log``).
_POOL_LOGGER = logging.getLogger("urllib3.connectionpool")
_POOL_LOGGER.addFilter(_RetryWarningsAtDebug())


def policy_retry(
    policy: RetryPolicy, deadline_at: float, *, repeatable: bool = True
) -> PolicyRetry:
    """A urllib3 `Retry` carrying out ``policy`` for one fetch that must end by
    ``deadline_at`` (on the policy's monotonic clock). A request that is not
    ``repeatable`` is not sent again after a read failed: the server may have acted on it."""
    retries = policy.max_attempts - 1
    return PolicyRetry(
        total=retries,
        connect=retries,
        read=retries if repeatable else 0,
        status=retries,
        other=0,
        allowed_methods=None,  # token requests may be repeated (see repeatable)
        status_forcelist=RETRY_STATUSES,
        backoff_factor=policy.backoff_base,
        backoff_max=policy.backoff_max,
        raise_on_status=False,
        respect_retry_after_header=True,
        policy=policy,
        deadline_at=deadline_at,
    )
