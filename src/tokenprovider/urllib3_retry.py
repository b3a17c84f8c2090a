"""urllib3 `Retry` carrying out a `RetryPolicy`: full jitter, a deadline, an injectable sleep."""

from __future__ import annotations

import math
import random
from typing import Any

from urllib3.exceptions import InvalidHeader
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

    def new(self, **kwargs: Any) -> PolicyRetry:
        retry = super().new(**kwargs)
        assert isinstance(retry, PolicyRetry)
        retry.policy = self.policy
        retry.deadline_at = self.deadline_at
        return retry

    def get_backoff_time(self) -> float:
        """Full jitter: uniform between 0 and ``backoff_base * 2**(failures - 1)``, capped."""
        failures = len(self.history)
        if failures == 0:
            return 0.0
        ceiling = min(self.backoff_max, self.backoff_factor * 2 ** (failures - 1))
        return random.uniform(0, ceiling)

    def is_exhausted(self) -> bool:
        return super().is_exhausted() or self.policy.monotonic() >= self.deadline_at

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        wait: float | None = None
        if response is not None and self.respect_retry_after_header:
            try:
                wait = self.get_retry_after(response)
            except InvalidHeader:
                wait = None
        if wait is None:
            wait = self.get_backoff_time()
        wait = min(wait, max(0.0, self.deadline_at - self.policy.monotonic()))
        if wait > 0:
            self.policy.sleep(wait)
