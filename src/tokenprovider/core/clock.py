"""Clocks: a monotonic clock for intervals and a wall clock for absolute expiry times."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """What providers read the time from; inject a fake one in tests."""

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps; used for every interval."""
        ...  # pragma: no cover

    def time(self) -> float:
        """Wall-clock epoch seconds; used only to read absolute expiry times."""
        ...  # pragma: no cover


class SystemClock:
    """The real clocks: `time.monotonic` and `time.time`."""

    monotonic = staticmethod(time.monotonic)
    time = staticmethod(time.time)


SYSTEM_CLOCK: Clock = SystemClock()
