"""The start/stop shape every local stand-in shares, and its ``with`` statement."""

from __future__ import annotations

import abc
from types import TracebackType
from typing import TypeVar

_R = TypeVar("_R", bound="Running")


class Running(abc.ABC):
    """Something started and stopped; ``with`` starts it and always stops it."""

    @abc.abstractmethod
    def start(self) -> object:
        """Start serving."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop; safe to call twice."""

    def __enter__(self: _R) -> _R:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
