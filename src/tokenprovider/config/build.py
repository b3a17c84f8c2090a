"""Turning a ``[credentials]`` table into a provider.

The table names the host (``domain``, optional ``scheme``) and exactly one provider,
either as a table (``[credentials.oauth]``) or as the shorthand ``jwt = "eyJ..."``;
``provider = "NAME"`` picks one when several are present. Every error names the key
path and where the value was set.

`check_section` runs the same checks without stopping at the first problem and without
resolving a secret reference, for ``tokenprovider config check``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from tokenprovider.config import convert as conversion
from tokenprovider.config.known import SECTION_KEYS
from tokenprovider.config.params import Parameter, parameters, type_name
from tokenprovider.config.registry import Registry, registry
from tokenprovider.config.suggest import did_you_mean
from tokenprovider.config.toml_lines import dotted
from tokenprovider.errors import ConfigurationError, SecretReferenceError, TokenProviderError
from tokenprovider.masking import REDACTED, is_secret_key, redact, without_userinfo
from tokenprovider.secret_refs import (
    SecretReference,
    is_literal,
    is_reference,
    literal_value,
    mistyped_prefix,
)
from tokenprovider.untrusted import quote

if TYPE_CHECKING:
    from tokenprovider.config.loading import KeyPath, Origin
    from tokenprovider.provider import TokenProvider

OriginOf = Callable[["KeyPath"], "Origin | None"]


class _ReportedError(Exception):
    """In a check: the problem that stops this step is already recorded."""


class _Builder:
    """One provider build: knows where values came from, and which secrets to redact.

    With ``problems`` (a check), each step records its problem there and the build goes
    on with the next one; a secret reference is never resolved, and the provider is not
    constructed when a problem was found or a setting's value is a reference that only
    building would read (listed in ``unresolved``)."""

    def __init__(
        self,
        origin_of: OriginOf | None,
        providers: Registry,
        cwd: Path | None = None,
        problems: list[TokenProviderError] | None = None,
    ) -> None:
        self._origin_of = origin_of or (lambda path: None)
        self._cwd = cwd or Path.cwd()
        self._registry = providers
        self._literal_secrets: list[str] = []
        self._problems = problems
        self.unresolved: list[KeyPath] = []
        self.chosen: str | None = None

    @contextlib.contextmanager
    def _step(self) -> Iterator[None]:
        """One check: in a build its error propagates; in a check it is recorded."""
        if self._problems is None:
            yield
            return
        try:
            yield
        except _ReportedError:
            pass
        except TokenProviderError as exc:
            self._problems.append(exc)

    def _found(self) -> int:
        return len(self._problems) if self._problems is not None else 0

    def where(self, path: KeyPath) -> str:
        origin = self._origin_of(path)
        return f"{dotted(path)} (from {origin})" if origin is not None else dotted(path)

    def error(self, path: KeyPath, problem: str) -> ConfigurationError:
        return ConfigurationError(f"{self.where(path)}: {problem}")

    def provider(self, section: Any, path: KeyPath) -> tuple[str, TokenProvider]:
        name, provider = self.build(section, path)
        assert provider is not None  # only a check leaves it unbuilt
        return name, provider

    def build(self, section: Any, path: KeyPath) -> tuple[str, TokenProvider | None]:
        """The provider's name and the provider (None in a check that could not build it);
        in a check, problems that stop the build raise `_ReportedError`."""
        label = f"[{dotted(path)}]"
        if not isinstance(section, Mapping):
            raise self.error(path, f"must be a table, like {label}, not {_kind(section)}")
        found = self._found()
        for key, value in section.items():
            with self._step():
                self._check_entry(key, value, path)
        host = None
        with self._step():
            host = self._host(section, path, label)
        name, settings = self._choose(section, path, label)
        self.chosen = name
        cls = self._registry.get(name)
        assert cls is not None  # _choose only returns known names
        shorthand = not isinstance(settings, Mapping)
        settings = self._settings(name, settings, cls, path, label)
        kwargs: dict[str, Any] = {}
        with self._step():
            # A shorthand's one key sits in the section itself: credentials.jwt, not ...jwt.jwt
            kwargs = self.arguments(cls, settings, path if shorthand else (*path, name))
        cache = None
        with self._step():
            cache = self._cache(section, path, name, cls)
        if self._found() > found:
            raise _ReportedError
        if self.unresolved:
            return name, None
        if cache is not None:
            kwargs["cache"] = cache
        return name, self._construct(cls, (host,), kwargs, (*path, name))

    def _cache(self, section: Mapping[str, Any], path: KeyPath, name: str, cls: type) -> Any:
        """The cache that ``cache`` and ``cache_key`` describe, or None for the default."""
        from tokenprovider.cached import CachedTokenProvider  # noqa: PLC0415
        from tokenprovider.caches.setting import cache_from_setting  # noqa: PLC0415

        spec, key = section.get("cache"), section.get("cache_key")
        if spec is None:
            if key is not None:
                raise self.error(
                    (*path, "cache_key"), 'needs cache = "file" or cache = "dynamodb:TABLE"'
                )
            return None
        if not isinstance(spec, str):
            raise self.error((*path, "cache"), f"must be a string, not {_kind(spec)}")
        if not issubclass(cls, CachedTokenProvider):
            raise self.error(
                (*path, "cache"), f"{name} tokens are not fetched, so {name} uses no cache"
            )
        origin = self._origin_of((*path, "cache"))
        reference: SecretReference | str | None = None
        if key is not None:
            key_path = (*path, "cache_key")
            if not isinstance(key, str) or not (is_reference(key) or key == "derive"):
                mistyped = mistyped_prefix(key)
                raise self.error(
                    key_path,
                    (f"{mistyped}; cache_key " if mistyped else "")
                    + "must be a secret reference (env:, file:, aws-secretsmanager:, aws-ssm:) "
                    'to 32 base64-encoded bytes, or "derive"',
                )
            key_origin = self._origin_of(key_path)
            reference = (
                key
                if key == "derive"
                else SecretReference(
                    key,
                    base_dir=key_origin.directory if key_origin else None,
                    setting=self.where(key_path),
                )
            )
        try:
            # A relative directory is taken from the file that set it, else the cwd.
            base_dir = origin.directory if origin and origin.directory else self._cwd
            return cache_from_setting(spec, reference, base_dir=base_dir)
        except ConfigurationError as exc:
            raise self.error((*path, "cache"), str(exc)) from None

    def _host(self, section: Mapping[str, Any], path: KeyPath, label: str) -> Any:
        from tokenprovider.host import Host  # noqa: PLC0415 - keeps `config show` light

        if "domain" not in section:
            raise self.error(
                path,
                f'has no domain; add domain = "api.example.com" to {label} '
                "(the host its tokens may be sent to)",
            )
        domain, scheme = section["domain"], section.get("scheme", "https")
        if not isinstance(domain, str):
            raise self.error((*path, "domain"), f"must be a string, not {_kind(domain)}")
        if not isinstance(scheme, str):
            raise self.error((*path, "scheme"), f"must be a string, not {_kind(scheme)}")
        try:
            return Host(domain, scheme)
        except ConfigurationError as exc:
            key = "scheme" if "scheme" in str(exc) and "scheme" in section else "domain"
            raise _retyped(exc, f"{self.where((*path, key))}: {exc}") from None

    def _choose(self, section: Mapping[str, Any], path: KeyPath, label: str) -> tuple[str, Any]:
        entries = {key: value for key, value in section.items() if key not in SECTION_KEYS}
        chosen = section.get("provider")
        if chosen is not None:
            if not isinstance(chosen, str) or chosen not in self._registry:
                raise self._unknown_provider(chosen, (*path, "provider"))
            return chosen, entries.get(chosen, {})
        known = {key: value for key, value in entries.items() if key in self._registry}
        if entries and not known:
            raise _ReportedError  # a check: each unknown entry is recorded (a build raised)
        entries = known
        if not entries:
            raise self.error(
                path,
                f"names no provider; add a table such as [{dotted((*path, 'oauth'))}] "
                f"(known providers: {', '.join(self._registry.names())})",
            )
        if len(entries) > 1:
            found = "; ".join(self.where((*path, key)) for key in entries)
            raise self.error(
                path,
                f"configures {len(entries)} providers ({found}); keep one, or pick one "
                f'with provider = "NAME" in {label}',
            )
        return next(iter(entries.items()))

    def _check_entry(self, key: object, value: Any, path: KeyPath) -> None:
        """``key`` is a section key or a provider name (typos get a did-you-mean)."""
        if not isinstance(key, str):
            raise self.error(path, f"has a key that is not a string ({_kind(key)})")
        if key not in SECTION_KEYS and key not in self._registry:
            raise self._unknown_entry(key, value, path)

    def _unknown_entry(self, key: str, value: Any, path: KeyPath) -> ConfigurationError:
        if isinstance(value, Mapping):
            return self._unknown_provider(key, (*path, key))
        candidates = [*SECTION_KEYS, *self._registry.names()]
        hint = did_you_mean(key, candidates)
        if not hint and any(key in parameters(cls) for cls in self._known_classes()):
            hint = f"; provider settings go in the provider's table, like [{dotted(path)}.NAME]"
        return self.error((*path, key), f"is not a known setting{hint}")

    def _known_classes(self) -> list[type]:
        return [cls for name in self._registry.names() if (cls := self._safe_get(name))]

    def _safe_get(self, name: str) -> type | None:
        try:
            return self._registry.get(name)
        except ConfigurationError:
            return None

    def _unknown_provider(self, name: object, path: KeyPath) -> ConfigurationError:
        known = self._registry.names()
        hint = did_you_mean(name, known) if isinstance(name, str) else ""
        return self.error(
            path,
            f"there is no provider {name!r}{hint}; known providers: {', '.join(known)} "
            "(plugins add more through the 'tokenprovider.providers' entry points)",
        )

    def _settings(
        self, name: str, settings: Any, cls: type, path: KeyPath, label: str
    ) -> Mapping[str, Any]:
        if isinstance(settings, Mapping):
            return settings
        if name in parameters(cls):
            return {name: settings}
        raise self.error(
            (*path, name),
            f"the shorthand {name} = ... works only for a provider with a setting named "
            f"{name!r}; use a table [{dotted((*path, name))}]",
        )

    def arguments(self, cls: type, settings: Mapping[str, Any], path: KeyPath) -> dict[str, Any]:
        """Keyword arguments for ``cls`` from ``settings``, checked and converted."""
        accepted = parameters(cls)
        kwargs: dict[str, Any] = {}
        found = self._found()
        for key, value in settings.items():
            with self._step():
                key_path = (*path, key) if isinstance(key, str) else path
                if not isinstance(key, str):
                    raise self.error(path, f"has a key that is not a string ({_kind(key)})")
                parameter = accepted.get(key)
                if parameter is None:
                    raise self._unknown_setting(key, key_path, accepted)
                kwargs[key] = self._value(value, parameter, key_path)
        missing = [p for p in accepted.values() if p.required and p.name not in settings]
        with self._step():
            if missing:
                needed = ", ".join(f"{p.name} ({type_name(p.annotation)})" for p in missing)
                raise self.error(path, f"is missing required setting(s): {needed}")
        if self._found() > found:
            raise _ReportedError
        return kwargs

    def _unknown_setting(
        self, key: str, path: KeyPath, accepted: Mapping[str, Parameter]
    ) -> ConfigurationError:
        if key in ("domain", "scheme"):
            return self.error(path, f"{key} belongs in the [credentials] table, not here")
        settable = [p.name for p in accepted.values() if p.configurable]
        hint = did_you_mean(key, settable) or f"; known: {', '.join(settable) or 'none'}"
        return self.error(path, f"is not a known setting{hint}")

    def _value(self, value: Any, parameter: Parameter, path: KeyPath) -> Any:
        if not parameter.configurable:
            raise self.error(path, "cannot be set in configuration (only in code)")
        secret = parameter.accepts_secret or is_secret_key(parameter.name)
        if is_reference(value):
            origin = self._origin_of(path)
            reference = SecretReference(
                value, base_dir=origin.directory if origin else None, setting=self.where(path)
            )
            if parameter.accepts_secret:
                return reference
            if self._problems is not None:  # a check reads no secret
                self.unresolved.append(path)
                return reference
            value = reference.reveal()  # this parameter takes a plain string: resolve now
            secret = True
        elif is_literal(value):
            value = literal_value(value)
        elif secret and (mistyped := mistyped_prefix(value)):
            raise SecretReferenceError(f"{self.where(path)}: {mistyped}")
        if secret and isinstance(value, str):
            self._literal_secrets.append(value)
        try:
            return conversion.convert(value, parameter.annotation, self._table(path))
        except conversion.ConversionError as exc:
            shown = REDACTED if secret else _show(value)
            raise self.error(path, f"expected {exc}, got {shown} ({_kind(value)})") from None

    def _table(self, path: KeyPath) -> conversion.BuildTable:
        def build(cls: type, settings: Mapping[str, Any]) -> Any:
            unresolved = len(self.unresolved)
            kwargs = self.arguments(cls, settings, path)
            if len(self.unresolved) > unresolved:
                return None  # a check: built once its references are read
            return self._construct(cls, (), kwargs, path)

        return build

    def _construct(
        self, cls: type, args: tuple[Any, ...], kwargs: dict[str, Any], path: KeyPath
    ) -> Any:
        try:
            return cls(*args, **kwargs)
        except TokenProviderError as exc:
            raise _retyped(exc, f"{self.where(path)}: {self._redact(str(exc))}") from None
        except Exception as exc:
            raise self.error(
                path,
                f"{cls.__name__} refused these settings: {type(exc).__name__}: "
                f"{self._redact(str(exc))}",
            ) from None

    def _redact(self, text: str) -> str:
        longest_first = sorted(self._literal_secrets, key=len, reverse=True)
        return redact(text, longest_first)


def _kind(value: object) -> str:
    """A TOML-ish name for ``value``'s type, for error messages."""
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string"}
    for kind, name in names.items():
        if type(value) is kind:
            return name
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, (list, tuple)):
        return "an array"
    return f"a {type(value).__name__}"


def _show(value: object) -> str:
    """``value`` for an error message: a table by its keys only (its values may be
    secrets, as in ``extra_params``), anything else quoted, user info masked, cut short."""
    if isinstance(value, dict):
        keys = ", ".join(quote(str(key), 30) for key in list(value)[:5])
        return f"keys {keys}" + (", ..." if len(value) > 5 else "")
    text = without_userinfo(repr(value))
    return text if len(text) <= 60 else text[:57] + "..."


def _retyped(exc: TokenProviderError, message: str) -> TokenProviderError:
    """``exc``'s class with a new message (or a ConfigurationError if it cannot be rebuilt)."""
    try:
        return type(exc)(message)
    except TypeError:
        return ConfigurationError(message)


def build_provider(
    section: Any,
    path: KeyPath = ("credentials",),
    *,
    origin_of: OriginOf | None = None,
    providers: Registry | None = None,
) -> TokenProvider:
    """Build the provider a ``[credentials]``-style table describes (see module docs)."""
    return build_named(section, path, origin_of, providers)[1]


def build_named(
    section: Any,
    path: KeyPath,
    origin_of: OriginOf | None = None,
    providers: Registry | None = None,
    *,
    cwd: Path | None = None,
) -> tuple[str, TokenProvider]:
    """Like `build_provider`, also returning the name of the provider chosen; relative
    paths set by variables are taken from ``cwd`` (default: the working directory)."""
    return _Builder(origin_of, providers or registry, cwd).provider(section, path)


class Checked(NamedTuple):
    """What `check_section` found: the provider chosen (if it got that far), every problem,
    and the settings whose references only a build would read (the provider is then not
    constructed)."""

    provider: str | None
    problems: list[TokenProviderError]
    unresolved: list[str]


def check_section(
    section: Any,
    path: KeyPath,
    origin_of: OriginOf | None = None,
    providers: Registry | None = None,
    *,
    cwd: Path | None = None,
) -> Checked:
    """Check a ``[credentials]``-style table as `build_named` would build it, recording
    every problem instead of stopping at the first, and resolving no secret reference."""
    problems: list[TokenProviderError] = []
    builder = _Builder(origin_of, providers or registry, cwd, problems)
    with builder._step():
        builder.build(section, path)
    return Checked(builder.chosen, problems, [builder.where(p) for p in builder.unresolved])


def parse_credentials_config(config: Mapping[str, Any]) -> TokenProvider:
    """Build the provider described by ``config["credentials"]`` (a parsed TOML document).

    >>> parse_credentials_config({"credentials": {"domain": "api.example.com",
    ...                                           "jwt": "eyJ..."}})  # doctest: +SKIP
    """
    if not isinstance(config, Mapping):
        raise ConfigurationError(f"the configuration must be a table (a dict), not {_kind(config)}")
    if "credentials" not in config:
        raise ConfigurationError(
            "the configuration has no [credentials] table; add one with a domain and a "
            "provider, for example [credentials] domain = ... and [credentials.oauth]"
        )
    return build_provider(config["credentials"])
