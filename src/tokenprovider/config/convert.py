"""Converting configuration values to the types a constructor declares.

TOML gives strings, numbers, booleans, arrays and tables; environment variables give
strings. Strings are accepted wherever a number, boolean or list is expected
(``"300"``, ``"true"``, ``"read,write"``), so the two sources behave alike.
"""

from __future__ import annotations

import math
import pathlib
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from tokenprovider.config import params
from tokenprovider.config.params import UNRESOLVED, type_name

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})

#: Builds a settings class (such as RetryPolicy) from a table; supplied by the caller so
#: nested tables get the same checks (unknown keys, missing keys) as a provider's.
BuildTable = Callable[[type, Mapping[str, Any]], Any]


class ConversionError(Exception):
    """A value does not fit the expected type; ``str()`` says what was expected."""


def convert(value: Any, annotation: Any, build_table: BuildTable) -> Any:
    """``value`` as ``annotation``; raises `ConversionError` if it cannot be."""
    if annotation is Any or annotation is UNRESOLVED:
        return value
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return _union(value, typing.get_args(annotation), annotation, build_table)
    if origin is typing.Literal:
        return _literal(value, typing.get_args(annotation))
    scalar = _SCALARS.get(annotation)
    if scalar is not None:
        return scalar(value)
    if origin in params._SEQUENCES or annotation in params._SEQUENCES:
        return _sequence(value, annotation, origin, build_table)
    if origin in params._MAPPINGS or annotation in params._MAPPINGS:
        return _mapping(value, annotation, build_table)
    if params.is_settings_class(annotation):
        if isinstance(value, Mapping):
            return build_table(annotation, value)
        raise ConversionError(f"{type_name(annotation)}: a table of settings")
    raise ConversionError(f"{type_name(annotation)}, which cannot be set in configuration")


def _str(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise ConversionError("str (put the value in quotes)")


def _path(value: Any) -> pathlib.Path:
    if isinstance(value, str) and value:
        from tokenprovider._private_files import expand_user  # noqa: PLC0415

        try:
            return expand_user(value)
        except ValueError as exc:
            raise ConversionError(f"path ({exc})") from None
    raise ConversionError("path (a string)")


def _union(value: Any, members: tuple[Any, ...], annotation: Any, build: BuildTable) -> Any:
    candidates = [m for m in members if m is not type(None) and params.configurable(m)]
    exact = [m for m in candidates if _natural(value, m)]
    if isinstance(value, str) and "," in value:  # "read,write" from a variable: a list first
        exact = [m for m in candidates if _is_sequence(m)] + exact
    for member in exact + [m for m in candidates if m not in exact]:
        try:
            return convert(value, member, build)
        except ConversionError:
            continue
    raise ConversionError(type_name(annotation))


def _natural(value: Any, member: Any) -> bool:
    """Whether ``value``'s own type is ``member`` (tried before any conversion)."""
    origin = typing.get_origin(member) or member
    if isinstance(value, bool):
        return member is bool
    if isinstance(value, str):
        return member is str or origin is typing.Literal
    if isinstance(value, (int, float)):
        return member in (int, float)
    if isinstance(value, list):
        return origin in params._SEQUENCES
    if isinstance(value, Mapping):
        return origin in params._MAPPINGS or params.is_settings_class(member)
    return False


def _is_sequence(annotation: Any) -> bool:
    return (typing.get_origin(annotation) or annotation) in params._SEQUENCES


def _literal(value: Any, choices: tuple[Any, ...]) -> Any:
    for choice in choices:
        if value == choice and type(value) is type(choice):
            return choice
        if isinstance(value, str) and not isinstance(choice, str) and value == str(choice).lower():
            return choice
    raise ConversionError(" | ".join(repr(choice) for choice in choices))


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ConversionError("bool (true or false)")


def _int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ConversionError("int (a whole number)")


def _float(value: Any) -> float:
    number: float | None = None
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            number = float(value.strip())
    except (ValueError, OverflowError):
        number = None
    if number is None or not math.isfinite(number):
        raise ConversionError("float (a finite number)")
    return number


def _sequence(value: Any, annotation: Any, origin: Any, build: BuildTable) -> Any:
    args = [arg for arg in typing.get_args(annotation) if arg is not ...]
    if isinstance(value, str):
        items: list[Any] = [part.strip() for part in value.split(",") if part.strip()]
    elif isinstance(value, list):
        items = value
    else:
        raise ConversionError(f"{type_name(annotation)} (an array, or a comma-separated string)")
    if args:
        try:
            items = [convert(item, args[0], build) for item in items]
        except ConversionError as exc:
            raise ConversionError(f"{type_name(annotation)} (an item is not {exc})") from None
    kind = origin or annotation
    if kind is tuple:
        return tuple(items)
    if kind in (set, frozenset):
        try:
            return kind(items)
        except TypeError:
            raise ConversionError(f"{type_name(annotation)} (of simple values)") from None
    return items


def _mapping(value: Any, annotation: Any, build: BuildTable) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        raise ConversionError(f"{type_name(annotation)} (a table)")
    args = typing.get_args(annotation)
    if len(args) != 2:
        return dict(value)
    try:
        return {key: convert(item, args[1], build) for key, item in value.items()}
    except ConversionError as exc:
        raise ConversionError(f"{type_name(annotation)} (a value is not {exc})") from None


_SCALARS: dict[Any, Callable[[Any], Any]] = {
    str: _str,
    bool: _bool,
    int: _int,
    float: _float,
    **dict.fromkeys(params._PATHS, _path),
}
