"""What a key path in the configuration means, for commands that write single values."""

from __future__ import annotations

import pathlib
import typing
from collections.abc import Mapping
from typing import Any

from tokenprovider._masking import is_secret_key, takes_reference
from tokenprovider._suggest import did_you_mean
from tokenprovider.config import convert as conversion
from tokenprovider.config import params
from tokenprovider.config.known import SECTION_KEYS
from tokenprovider.config.registry import Registry, registry
from tokenprovider.config.toml_lines import dotted
from tokenprovider.errors import ConfigurationError, SecretReferenceError
from tokenprovider.secret_refs import SecretReference, is_reference, mistyped_prefix

KeyPath = tuple[str, ...]


def credentials_prefix(path: KeyPath) -> int:
    """How many leading keys of ``path`` name a credentials table (1 or 3)."""
    if path[:1] == ("credentials",):
        return 1
    if len(path) >= 3 and path[0] == "profiles" and path[2] == "credentials":
        return 3
    hint = did_you_mean(path[0], ["credentials", "profiles"])
    raise ConfigurationError(
        f"{dotted(path)}: settings live under credentials.* or profiles.NAME.credentials.*{hint}"
    )


def annotation_for(path: KeyPath, providers: Registry = registry) -> Any:
    """The declared type of the setting at ``path``; unknown keys are errors."""
    rest = path[credentials_prefix(path) :]
    if not rest:
        raise ConfigurationError(f"{dotted(path)} is a table; name a setting inside it")
    head = rest[0]
    if head in SECTION_KEYS:
        if len(rest) > 1:
            raise ConfigurationError(f"{dotted(path)}: {head} is a value, not a table")
        return str
    cls = providers.get(head)
    if cls is None:
        known = [*SECTION_KEYS, *providers.names()]
        hint = did_you_mean(head, known)
        raise ConfigurationError(
            f"{dotted(path)}: {head!r} is neither a provider nor a setting{hint}; "
            f"known: {', '.join(known)}"
        )
    if len(rest) == 1:
        if head in params.parameters(cls):
            return params.parameters(cls)[head].annotation
        raise ConfigurationError(f"{dotted(path)} is a provider table; name a setting inside it")
    annotation: Any = cls
    for depth, key in enumerate(rest[1:], start=len(path) - len(rest) + 1):
        annotation = _member(annotation, key, path[: depth + 1])
    return annotation


def _member(annotation: Any, key: str, path: KeyPath) -> Any:
    """The type of ``key`` inside a value of type ``annotation``."""
    for candidate in params.members(annotation):
        if isinstance(candidate, type) and (
            _is_provider(candidate) or params.is_settings_class(candidate)
        ):
            accepted = params.parameters(candidate)
            parameter = accepted.get(key)
            if parameter is not None and parameter.configurable:
                return parameter.annotation
            settable = [p.name for p in accepted.values() if p.configurable]
            hint = did_you_mean(key, settable)
            raise ConfigurationError(
                f"{dotted(path)} is not a known setting{hint}; known: {', '.join(settable)}"
            )
        origin = typing.get_origin(candidate)
        if origin in params._MAPPINGS or candidate in params._MAPPINGS:
            args = typing.get_args(candidate)
            return args[1] if len(args) == 2 else Any
    raise ConfigurationError(f"{dotted(path[:-1])} is a value, not a table")


def _is_provider(cls: type) -> bool:
    from tokenprovider.core.provider import TokenProvider  # noqa: PLC0415

    return issubclass(cls, TokenProvider)


def value_for(path: KeyPath, text: str, providers: Registry = registry) -> Any:
    """``text`` (from the command line) converted to the type ``path`` declares, for TOML,
    with a secret reference's syntax and a mistyped reference prefix checked. The rules a
    build applies (a valid domain, a known provider, a cache form, the provider's own)
    are checked on the whole table by `build.check_section` (``config set`` probes it)."""
    annotation = annotation_for(path, providers)
    if is_reference(text):
        SecretReference(text, setting=dotted(path))  # its syntax; nothing is read
        return text
    declared = SecretReference in params.members(annotation)  # a secret, whatever its name
    if (declared or takes_reference(path[-1])) and (mistyped := mistyped_prefix(text)):
        raise SecretReferenceError(f"{dotted(path)}: {mistyped}")

    def no_tables(cls: type, settings: Mapping[str, Any]) -> Any:
        raise conversion.ConversionError(f"{params.type_name(cls)}: set its keys one at a time")

    try:
        value = conversion.convert(text, annotation, no_tables)
    except conversion.ConversionError as exc:
        shown = "the value given" if declared or is_secret_key(path[-1]) else repr(text)
        raise ConfigurationError(f"{dotted(path)}: expected {exc}, got {shown}") from None
    return _toml_ready(value)


def _toml_ready(value: Any) -> Any:
    if isinstance(value, pathlib.PurePath):
        return str(value)
    if isinstance(value, (tuple, list)):
        return [_toml_ready(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_toml_ready(item) for item in value)
    if isinstance(value, dict):
        return {key: _toml_ready(item) for key, item in value.items()}
    return value
