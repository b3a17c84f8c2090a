"""A registry of pluggable classes: built-ins, in-code registrations and entry points.

`PluginRegistry` keeps the names of one `Kind` of class (providers, assertion sources).
Entry-point metadata is read on the first lookup; a plugin's module is imported only
when its name is asked for. A plugin that is not a subclass of the kind's base, or that
takes a name already in use, raises `PluginError` naming both: nothing is silently
overridden.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

from tokenprovider.errors import PluginError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

T = TypeVar("T")


class Source(NamedTuple):
    """Where a name comes from, and how to load its class."""

    description: str
    load: Callable[[], Any]


class Kind(NamedTuple):
    """What a `PluginRegistry` keeps: its ``noun`` in messages, the ``base`` class its
    classes must subclass (loaded when first needed, as ``"module:Class"``), and the
    ``pattern`` of its names, which ``rule`` says in words."""

    noun: str
    base: str
    pattern: re.Pattern[str]
    rule: str


class PluginRegistry(Generic[T]):
    """Names and the classes (subclasses of ``T``, as ``kind`` says) behind them."""

    def __init__(self, built_ins: dict[str, str], group: str, kind: Kind) -> None:
        self._group = group
        self._kind = kind
        self._built_ins = dict(built_ins)
        self._registered: dict[str, Source] = {}
        self._plugins: dict[str, list[Source]] | None = None
        self._classes: dict[str, type[T]] = {}
        self._lock = threading.RLock()

    def register(self, name: str, cls: type[T]) -> None:
        """Register ``cls`` under ``name``; the name must not be in use."""
        where = f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', cls)!s}"
        source = Source(f"registered in code ({where})", lambda: cls)
        noun = self._kind.noun
        if not isinstance(name, str) or not self._kind.pattern.fullmatch(name):
            raise PluginError(f"{noun} name {name!r} for {where} must be {self._kind.rule}")
        _check_class(self._kind, name, source.description, cls)
        with self._lock:
            if self._registered.get(name) is not None and self._classes.get(name) is cls:
                return  # the same class again (a module imported twice)
            taken = self._sources(name)
            if taken:
                raise PluginError(
                    f"{noun} {name!r} {source.description} conflicts with {noun} "
                    f"{name!r} {taken[0].description}; pick another name"
                )
            self._registered[name] = source
            self._classes[name] = cls

    def unregister(self, name: str) -> None:
        """Remove an in-code registration (built-ins and plugins stay)."""
        with self._lock:
            if self._registered.pop(name, None) is not None:
                self._classes.pop(name, None)

    def names(self) -> list[str]:
        """Every name, sorted (reads plugin metadata but imports nothing)."""
        with self._lock:
            return sorted({*self._built_ins, *self._registered, *self._plugin_sources()})

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.names()

    def get(self, name: str) -> type[T] | None:
        """The class registered as ``name``, importing it if needed; None if unknown."""
        with self._lock:
            sources = self._sources(name)
            if not sources:
                return None
            if len(sources) > 1:
                raise PluginError(
                    f"{self._kind.noun} {name!r} is claimed twice: {sources[0].description} and "
                    f"{sources[1].description}; uninstall one of them"
                )
            cls = self._classes.get(name)
            if cls is None:
                cls = _load(self._kind, name, sources[0])
                self._classes[name] = cls
            return cls

    def describe(self, name: str) -> str:
        """Where ``name`` comes from (built-in, a plugin's package, or code)."""
        with self._lock:
            sources = self._sources(name)
        return " and ".join(source.description for source in sources) or "unknown"

    def _sources(self, name: str) -> list[Source]:
        found = []
        if name in self._built_ins:
            target = self._built_ins[name]
            found.append(Source(f"built in ({target})", _importer(target)))
        if name in self._registered:
            found.append(self._registered[name])
        found.extend(self._plugin_sources().get(name, ()))
        return found

    def _plugin_sources(self) -> dict[str, list[Source]]:
        if self._plugins is None:
            from importlib.metadata import entry_points  # noqa: PLC0415 - on first lookup

            plugins: dict[str, list[Source]] = {}
            seen = set()
            for entry_point in entry_points(group=self._group):
                if (entry_point.name, entry_point.value) in seen:
                    continue
                seen.add((entry_point.name, entry_point.value))
                plugins.setdefault(entry_point.name, []).append(_plugin_source(entry_point))
            self._plugins = plugins
        return self._plugins


def _plugin_source(entry_point: EntryPoint) -> Source:
    dist = getattr(entry_point, "dist", None)
    package = f"package {dist.name} {dist.version}" if dist is not None else "an unknown package"
    return Source(f"from the plugin in {package} ({entry_point.value})", entry_point.load)


def _importer(target: str) -> Callable[[], Any]:
    module, _, attribute = target.partition(":")
    return lambda: getattr(importlib.import_module(module), attribute)


def _load(kind: Kind, name: str, source: Source) -> Any:
    try:
        cls = source.load()
    except Exception as exc:
        raise PluginError(
            f"{kind.noun} {name!r} {source.description} failed to load: {type(exc).__name__}: {exc}"
        ) from exc
    _check_class(kind, name, source.description, cls)
    return cls


def _check_class(kind: Kind, name: str, description: str, cls: object) -> None:
    base = _importer(kind.base)()  # imported here: keeps `config show` light
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise PluginError(
            f"{kind.noun} {name!r} {description} is {cls!r}, which is not a "
            f"{base.__name__} subclass"
        )
