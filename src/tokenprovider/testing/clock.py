"""`FakeClock`: a clock tests move by hand, so no test waits for real time."""

from __future__ import annotations

import threading


class FakeClock:
    """A controllable `tokenprovider.Clock`.

    `advance` moves both clocks, as real time passing does; `jump_wall` moves only the
    wall clock, as an NTP correction or a suspended laptop does. `sleep` advances instead
    of waiting, so a `RetryPolicy` can use it.
    """

    def __init__(self, wall: float = 1_800_000_000.0, monotonic: float = 1_000.0) -> None:
        self._lock = threading.Lock()
        self._wall = wall
        self._monotonic = monotonic
        self.slept: list[float] = []

    def monotonic(self) -> float:
        """The fake monotonic time."""
        return self._monotonic

    def time(self) -> float:
        """The fake wall-clock time (epoch seconds)."""
        return self._wall

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass on both clocks."""
        with self._lock:
            self._monotonic += seconds
            self._wall += seconds

    def jump_wall(self, seconds: float) -> None:
        """Move only the wall clock (by a negative amount to go back)."""
        with self._lock:
            self._wall += seconds

    def sleep(self, seconds: float) -> None:
        """Record the wait and advance by it, returning at once."""
        self.slept.append(seconds)
        self.advance(seconds)
