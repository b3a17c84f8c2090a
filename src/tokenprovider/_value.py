"""`Value`: the base of the small immutable classes a provider needs once it is imported
(cache keys and entries, the retry policy, token answers), written by hand because
`dataclasses` imports `inspect`, which costs more to import than the rest of a provider.

A subclass names its fields in ``__match_args__``, in the order its ``__init__`` takes
them (in ``__slots__`` too, if it has slots), and sets them with `init`. Its instances
behave as a frozen dataclass's do: the repr shows every field but those in ``_unshown``;
equality compares, with an instance of the same class only, every field but those in
``_uncompared``, and the hash takes the compared fields but those in ``_unhashed``;
setting or deleting an attribute raises `AttributeError`; copies and pickles are made by
the constructor.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

V = TypeVar("V", bound="Value")


class Value:
    """A frozen value with named fields (see the module)."""

    __slots__ = ()
    __match_args__: ClassVar[tuple[str, ...]] = ()
    _unshown: ClassVar[frozenset[str]] = frozenset()
    _uncompared: ClassVar[frozenset[str]] = frozenset()
    _unhashed: ClassVar[frozenset[str]] = frozenset()

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in self.__match_args__
            if name not in self._unshown
        )
        return f"{type(self).__qualname__}({shown})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return _fields(self, self._uncompared) == _fields(other, self._uncompared)

    def __hash__(self) -> int:
        return hash(_fields(self, self._uncompared | self._unhashed))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple[type[Value], tuple[Any, ...]]:
        return type(self), tuple(getattr(self, name) for name in self.__match_args__)


def init(value: Value, **fields: object) -> None:
    """Set the fields of a new ``value`` (its ``__init__`` does, once)."""
    for name, field in fields.items():
        object.__setattr__(value, name, field)


def replace(value: V, /, **changes: object) -> V:
    """A copy of ``value`` with ``changes`` made to its fields."""
    fields: dict[str, Any] = {name: getattr(value, name) for name in value.__match_args__}
    fields.update(changes)
    return type(value)(**fields)


def _fields(value: Value, left_out: frozenset[str]) -> tuple[Any, ...]:
    return tuple(getattr(value, name) for name in value.__match_args__ if name not in left_out)
