"""What a provider's constructor accepts: parameter names, resolved types and defaults.

Annotations are evaluated for real (``from __future__ import annotations`` leaves them as
strings), so configuration values can be converted to the declared types.
"""

from __future__ import annotations

import collections.abc
import inspect
import os
import pathlib
import sys
import types
import typing
from typing import Any, NamedTuple

from tokenprovider.secret_refs import SecretReference

#: Parameters that configuration never sets directly: ``host`` comes from domain/scheme,
#: ``cache`` from the section's ``cache`` and ``cache_key``.
_NOT_SETTINGS = frozenset({"self", "host", "cache"})
UNRESOLVED = object()
_SEQUENCES = frozenset(
    {
        list,
        tuple,
        set,
        frozenset,
        collections.abc.Sequence,
        collections.abc.Iterable,
        collections.abc.Collection,
        collections.abc.Set,
        collections.abc.MutableSequence,
    }
)
_MAPPINGS = frozenset({dict, collections.abc.Mapping, collections.abc.MutableMapping})
_SCALARS = frozenset({str, int, float, bool})
_PATHS = frozenset({pathlib.Path, pathlib.PurePath, os.PathLike})


class Parameter(NamedTuple):
    """One constructor parameter as configuration sees it."""

    name: str
    annotation: Any
    default: Any
    required: bool
    configurable: bool
    accepts_secret: bool


def parameters(cls: type, _seen: frozenset[type] = frozenset()) -> dict[str, Parameter]:
    """The settings ``cls(host, **settings)`` accepts, following ``**kwargs`` up the MRO
    (a ``**settings: Unpack[SomeTypedDict]`` declares its keys: see `signature`)."""
    seen = _seen | {cls}
    found: dict[str, Parameter] = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        declared = signature(init)
        if declared is None:
            break
        namespace = getattr(init, "__globals__", {})
        for parameter in declared.parameters.values():
            if parameter.name in _NOT_SETTINGS or parameter.kind in (
                inspect.Parameter.VAR_POSITIONAL,
                inspect.Parameter.VAR_KEYWORD,
                inspect.Parameter.POSITIONAL_ONLY,
            ):
                continue
            annotation = _resolve(parameter.annotation, namespace)
            found.setdefault(
                parameter.name,
                Parameter(
                    parameter.name,
                    annotation,
                    parameter.default,
                    parameter.default is inspect.Parameter.empty,
                    configurable(annotation, seen),
                    SecretReference in members(annotation),
                ),
            )
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in declared.parameters.values()):
            break
    return found


def signature(function: Any) -> inspect.Signature | None:
    """The signature of ``function`` (or of a class's constructor) with a ``**name:
    Unpack[SomeTypedDict]`` replaced by the keys of the `TypedDict`, keyword-only (an
    optional key defaults to None, which takes the class attribute of that name), as type
    checkers read it; None if it has none."""
    try:
        found = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    last = list(found.parameters.values())[-1:]
    if not last or last[0].kind is not inspect.Parameter.VAR_KEYWORD:
        return found
    namespace = getattr(function, "__globals__", None)
    if namespace is None:  # a class: its constructor's module
        namespace = getattr(getattr(function, "__init__", None), "__globals__", {})
    declaration = _unpacked(_resolve(last[0].annotation, namespace))
    if declaration is None:
        return found
    try:
        hints = typing.get_type_hints(declaration)
    except Exception:
        hints = {}
    others = list(found.parameters.values())[:-1]
    keys = [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=inspect.Parameter.empty if name in declaration.__required_keys__ else None,
            annotation=hints.get(name, UNRESOLVED),
        )
        for name in declaration.__annotations__
        if name.isidentifier() and name not in found.parameters
    ]
    return found.replace(parameters=[*others, *keys])


def _unpacked(annotation: Any) -> Any:
    """The `TypedDict` in ``Unpack[...]`` (of `typing` or `typing_extensions`), or None."""
    forms = (getattr(typing, "Unpack", None), getattr(_typing_extensions(), "Unpack", None))
    if typing.get_origin(annotation) not in [form for form in forms if form is not None]:
        return None
    inner = typing.get_args(annotation)[0]
    is_typeddict = (
        isinstance(inner, type) and issubclass(inner, dict) and hasattr(inner, "__required_keys__")
    )  # of typing or typing_extensions, whose TypedDict typing.is_typeddict does not know
    return inner if is_typeddict else None


def _typing_extensions() -> types.ModuleType | None:
    """`typing_extensions` if loaded: it is, when an annotation uses its `Unpack`."""
    return sys.modules.get("typing_extensions")


def _resolve(annotation: Any, namespace: dict[str, Any]) -> Any:
    if annotation is inspect.Parameter.empty:
        return Any
    if isinstance(annotation, str):
        try:
            return eval(annotation, dict(namespace))
        except Exception:
            return UNRESOLVED
    return annotation


def members(annotation: Any) -> tuple[Any, ...]:
    """The members of a union (or the annotation alone)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def configurable(annotation: Any, _seen: frozenset[type] = frozenset()) -> bool:
    """Whether a TOML value can be turned into ``annotation``."""
    if annotation in _seen:
        return False
    if annotation is Any or annotation is UNRESOLVED:
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(configurable(member, _seen) for member in typing.get_args(annotation))
    if origin is typing.Literal or annotation in _SCALARS or annotation in _PATHS:
        return True
    if origin in _SEQUENCES or origin in _MAPPINGS:
        args = typing.get_args(annotation)
        return all(configurable(arg, _seen) for arg in args if arg is not ...)
    if annotation in _SEQUENCES or annotation in _MAPPINGS:
        return True
    return is_settings_class(annotation, _seen)


def is_mapping(annotation: Any) -> bool:
    """Whether ``annotation`` is a free-form table (``dict[str, str]``, ``Mapping``...)."""
    return typing.get_origin(annotation) in _MAPPINGS or annotation in _MAPPINGS


def is_settings_class(annotation: Any, _seen: frozenset[type] = frozenset()) -> bool:
    """A plain class built from a table of its own settings (such as `RetryPolicy`)."""
    if not isinstance(annotation, type) or annotation in (type(None), SecretReference):
        return False
    if getattr(annotation, "_is_protocol", False) or inspect.isabstract(annotation):
        return False
    if annotation.__module__ in ("builtins", "typing", "collections.abc"):
        return False
    own = parameters(annotation, _seen).values()
    return any(p.configurable for p in own) and all(p.configurable for p in own if p.required)


def type_name(annotation: Any) -> str:
    """A short readable name: ``str``, ``list[str]``, ``'basic' | 'post'``, ``table``..."""
    if annotation is Any or annotation is UNRESOLVED:
        return "any"
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [
            type_name(member)
            for member in typing.get_args(annotation)
            if member not in (type(None), SecretReference) and configurable(member)
        ]
        return " | ".join(dict.fromkeys(members))
    if origin is typing.Literal:
        return " | ".join(repr(arg) for arg in typing.get_args(annotation))
    if annotation in _PATHS:
        return "path"
    if origin in _SEQUENCES or annotation in _SEQUENCES:
        args = [arg for arg in typing.get_args(annotation) if arg is not ...]
        return f"list[{type_name(args[0])}]" if args else "list"
    if origin in _MAPPINGS or annotation in _MAPPINGS:
        pair = typing.get_args(annotation)
        return f"table of {type_name(pair[1])}" if len(pair) == 2 else "table"
    if is_settings_class(annotation):
        return f"table ({annotation.__name__})"
    return getattr(annotation, "__name__", str(annotation))
