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
import typing
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol, TypeVar

from tokenprovider._masking import (
    REDACTED,
    built_from_configuration,
    is_secret_key,
    redact,
    without_userinfo,
)
from tokenprovider._untrusted import quote
from tokenprovider.config import convert as conversion
from tokenprovider.config import section_rules as rules
from tokenprovider.config.params import Parameter, parameters, type_name
from tokenprovider.config.registry import Registry, registry
from tokenprovider.config.toml_lines import dotted
from tokenprovider.errors import ConfigurationError, SecretReferenceError, TokenProviderError
from tokenprovider.secret_refs import (
    SecretReference,
    is_literal,
    is_reference,
    literal_problem,
    literal_value,
    mistyped_prefix,
)
from tokenprovider.sources.base import AssertionSource

if TYPE_CHECKING:
    from tokenprovider.config.loading import KeyPath, Origin
    from tokenprovider.core.provider import TokenProvider

OriginOf = Callable[["KeyPath"], "Origin | None"]
E = TypeVar("E", bound=TokenProviderError)
#: How a source setting names another profile's token.
PROFILE_SCHEME = "profile:"


class Profiles(Protocol):
    """The other profiles of the configuration, for a source setting ``profile:NAME``."""

    def problem(self, name: str) -> str | None:
        """Why ``name`` may not be named here (no such profile; this very profile)."""

    def shareable(self, name: str) -> bool:
        """Whether the tokens of profile ``name`` may sit in a shared cache."""

    def build(self, name: str) -> TokenProvider:
        """The provider of profile ``name``."""


class _ReportedError(Exception):
    """In a check: the problem that stops this step is already recorded."""


#: A probe's stand-in for a required setting that is not set yet (see `_Builder`).
_PLACEHOLDER = "placeholder"


class _Builder:
    """One provider build: knows where values came from, and which secrets to redact.

    With ``problems`` (a check), each step records its problem there, and the key path it
    is about in `blamed`, and the build goes on with the next one; a secret reference is
    never resolved, and the provider is not constructed when a problem was found or a
    setting's value is a reference that only building would read (listed in
    ``unresolved``).

    A ``probe`` (``config set``, on a table that may be half written) is a check that
    still constructs the provider whatever problems other keys have, with stand-ins for
    what is missing or wrong (a loopback host for the domain, `_PLACEHOLDER` for a
    required string; a value with a problem is left out), so that the constructor's own
    rules judge the values that are set; its cache is checked for its form only
    (`caches.setting.cache_setting`: no boto3, no region).

    No AWS region in this environment is, in a check, a note (`notes`), not a problem:
    the region may come from the environment the configuration runs in (a Lambda's
    ``AWS_REGION``), as an ``env:`` reference's variable does."""

    def __init__(
        self,
        origin_of: OriginOf | None,
        providers: Registry,
        cwd: Path | None = None,
        problems: list[TokenProviderError] | None = None,
        *,
        probe: bool = False,
        profiles: Profiles | None = None,
    ) -> None:
        self._origin_of = origin_of or (lambda path: None)
        self._profiles = profiles
        self._cwd = cwd or Path.cwd()
        self._registry = providers
        self._literal_secrets: list[str] = []
        self._problems = problems
        self._probe = probe
        self._blame: dict[int, KeyPath] = {}
        #: A provider table that is not there, picked by ``provider = "NAME"``, and the
        #: key path of that ``provider`` (named as its origin in messages).
        self._picked: dict[KeyPath, KeyPath] = {}
        self.blamed: list[KeyPath] = []
        self.notes: list[str] = []
        self.unresolved: list[KeyPath] = []
        self.chosen: str | None = None

    @contextlib.contextmanager
    def _step(self, path: KeyPath) -> Iterator[None]:
        """One check: in a build its error propagates; in a check it is recorded, as
        about ``path`` unless the error says otherwise (`_about`)."""
        if self._problems is None:
            yield
            return
        try:
            yield
        except _ReportedError:
            pass
        except TokenProviderError as exc:
            self._record(exc, path)

    def _record(self, exc: TokenProviderError, path: KeyPath) -> None:
        assert self._problems is not None
        self._problems.append(exc)
        self.blamed.append(self._blame.pop(id(exc), path))

    def _about(self, exc: E, path: KeyPath) -> E:
        """``exc``, noted (in a check) as a problem about the key at ``path``."""
        if self._problems is not None:
            self._blame[id(exc)] = path
        return exc

    def _found(self) -> int:
        return len(self._problems) if self._problems is not None else 0

    def where(self, path: KeyPath, at: KeyPath | None = None) -> str:
        """``path`` for a message, with where it (or the key at ``at``) was set."""
        at = path if at is None else at
        picked_by = self._picked.get(at)
        if picked_by is not None:
            origin = self._origin_of(picked_by)
            chosen = f"provider = {at[-1]!r}" + (f" from {origin}" if origin else "")
            return f"{dotted(path)} (picked by {chosen})"
        origin = self._origin_of(at)
        return f"{dotted(path)} (from {origin})" if origin is not None else dotted(path)

    def error(self, path: KeyPath, problem: str) -> ConfigurationError:
        return self._about(ConfigurationError(f"{self.where(path)}: {problem}"), path)

    def _problem(self, found: rules.Problem) -> TokenProviderError:
        error = _retyped(found.error(""), f"{self.where(found.at)}: {found.text}")
        return self._about(error, found.path)

    def provider(self, section: Any, path: KeyPath) -> tuple[str, TokenProvider]:
        name, provider = self.build(section, path)
        assert provider is not None  # only a check leaves it unbuilt
        return name, provider

    def build(self, section: Any, path: KeyPath) -> tuple[str, TokenProvider | None]:
        """The provider's name and the provider (None in a check that could not build it);
        in a check, problems that stop the build raise `_ReportedError`."""
        if not isinstance(section, Mapping):
            label = f"[{dotted(path)}]"
            raise self.error(path, f"must be a table, like {label}, not {_kind(section)}")
        found = self._found()
        for key, value in section.items():
            with self._step((*path, str(key))):
                self._check_entry(key, value, path)
        host = self._host(section, path)
        try:
            name, settings = self._choose(section, path)
        except (_ReportedError, TokenProviderError):
            if self._problems is not None:  # a check: the cache is judged all the same
                with self._step((*path, "cache")):
                    self._cache(section, path, None, None)
            raise
        self.chosen = name
        if name not in section:  # picked by provider = "NAME", with no table of that name
            table: KeyPath = (*path, name)
            self._picked[table] = (*path, "provider")
        cls = self._registry.get(name)
        assert cls is not None  # _choose only returns known names
        shorthand = not isinstance(settings, Mapping)
        settings = self._settings(name, settings, cls, path)
        kwargs: dict[str, Any] | None = None
        # A shorthand's one key sits in the section itself: credentials.jwt, not ...jwt.jwt
        settings_path = path if shorthand else (*path, name)
        with self._step(settings_path):
            kwargs = self.arguments(cls, settings, settings_path)
        cache = None
        with self._step((*path, "cache")):
            cache = self._cache(section, path, name, cls)
        if kwargs is None or (self._found() > found and not self._probe):
            raise _ReportedError
        if self.unresolved:
            return name, None
        if cache is not None:
            kwargs["cache"] = cache
        return name, self._construct(cls, (host,), kwargs, (*path, name), settings_path)

    def _cache(
        self, section: Mapping[str, Any], path: KeyPath, name: str | None, cls: type | None
    ) -> Any:
        """The cache that ``cache`` and ``cache_key`` describe, or None for the default
        (and in a probe, which checks their form only), for the provider ``name`` (None:
        not known, because the table names none)."""
        from tokenprovider.caches import _setting as setting  # noqa: PLC0415
        from tokenprovider.core.cached import CachedTokenProvider  # noqa: PLC0415

        spec, key = section.get("cache"), section.get("cache_key")
        key_path = (*path, "cache_key")
        if key is not None and (problem := setting.cache_key_problem(key)) is not None:
            raise self.error(key_path, problem)
        if spec is None:
            if key is not None:
                # About the missing cache: a probe lets cache_key be set first.
                error = self.error(key_path, 'needs cache = "file" or cache = "dynamodb:TABLE"')
                raise self._about(error, (*path, "cache"))
            return None
        if not isinstance(spec, str):
            raise self.error((*path, "cache"), f"must be a string, not {_kind(spec)}")
        if cls is not None and not issubclass(cls, CachedTokenProvider):
            raise self.error(
                (*path, "cache"), f"{name} tokens are not fetched, so {name} uses no cache"
            )
        origin = self._origin_of((*path, "cache"))
        reference: SecretReference | str | None = None
        if key is not None:
            key_origin = self._origin_of(key_path)
            reference = (
                setting.DERIVE
                if key == setting.DERIVE
                else SecretReference(
                    key,
                    base_dir=key_origin.directory if key_origin else None,
                    setting=self.where(key_path),
                )
            )
        try:
            if self._probe:
                setting.cache_setting(spec, reference)
                return None
            # A relative directory is taken from the file that set it, else the cwd.
            base_dir = origin.directory if origin and origin.directory else self._cwd
            return setting.cache_from_setting(spec, reference, base_dir=base_dir)
        except ConfigurationError as exc:
            if self._problems is not None and _is_no_region(exc):
                self.notes.append(_as_note(f"{self.where((*path, 'cache'))}: {exc}"))
                return None
            raise self.error((*path, "cache"), str(exc)) from None

    def _host(self, section: Mapping[str, Any], path: KeyPath) -> Any:
        """The section's host (in a build, its first problem raised; in a check, every
        problem recorded); a probe stands in a loopback host for a missing or bad domain."""
        host, problems = rules.host_of(section, path)
        for found in problems:
            error = self._problem(found)
            if self._problems is None:
                raise error
            self._record(error, found.path)
        if self._probe and host is None:
            from tokenprovider.core.host import Host  # noqa: PLC0415

            # A loopback host; over http unless a scheme is set, so it refuses no token_url.
            scheme = section.get("scheme", "http")
            try:
                host = Host("127.0.0.1", scheme if isinstance(scheme, str) else "http")
            except ConfigurationError:  # the scheme's problem is recorded above
                host = Host("127.0.0.1", "http")
        return host

    def _is_provider(self, name: str) -> bool:
        return name in self._registry

    def _choose(self, section: Mapping[str, Any], path: KeyPath) -> tuple[str, Any]:
        chosen = rules.chosen_provider(
            section, path, self._is_provider, self._registry.names, self.where
        )
        if chosen is None:
            raise _ReportedError  # a check: each unknown entry is recorded (a build raised)
        if isinstance(chosen, rules.Problem):
            raise self._problem(chosen)
        return chosen, section.get(chosen, {})

    def _check_entry(self, key: object, value: Any, path: KeyPath) -> None:
        """``key`` is a section key or a provider name (typos get a did-you-mean)."""
        found = rules.entry_problem(
            key,
            value,
            path,
            is_provider=self._is_provider,
            names=self._registry.names,
            is_setting=self._is_setting,
        )
        if found is not None:
            raise self._problem(found)

    def _is_setting(self, key: str) -> bool:
        """Whether some known provider takes a setting called ``key``."""
        return any(key in parameters(cls) for cls in self._known_classes())

    def _known_classes(self) -> list[type]:
        return [cls for name in self._registry.names() if (cls := self._safe_get(name))]

    def _safe_get(self, name: str) -> type | None:
        try:
            return self._registry.get(name)
        except ConfigurationError:
            return None

    def _settings(self, name: str, settings: Any, cls: type, path: KeyPath) -> Mapping[str, Any]:
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
            key_path = (*path, key) if isinstance(key, str) else path
            with self._step(key_path):
                if not isinstance(key, str):
                    raise self.error(path, f"has a key that is not a string ({_kind(key)})")
                parameter = accepted.get(key)
                if parameter is None:
                    settable = [p.name for p in accepted.values() if p.configurable]
                    raise self.error(key_path, rules.unknown_setting(key, settable))
                kwargs[key] = self._value(value, parameter, key_path)
        missing = [p for p in accepted.values() if p.required and p.name not in settings]
        if missing:
            needed = ", ".join(f"{p.name} ({type_name(p.annotation)})" for p in missing)
            error = self.error(path, f"is missing required setting(s): {needed}")
            if self._problems is None:
                raise error
            self._record(self._about(error, (*path, missing[0].name)), path)
            stand_ins = self._stand_ins(missing, path)
            if stand_ins is None:
                raise _ReportedError
            kwargs.update(stand_ins)
        if self._found() > found and not self._probe:
            raise _ReportedError
        return kwargs  # in a probe, without the values that have a problem

    def _stand_ins(self, missing: list[Parameter], path: KeyPath) -> dict[str, Any] | None:
        """In a probe: `_PLACEHOLDER` for each of ``missing``, if each takes a string."""
        if not self._probe:
            return None
        try:
            return {
                p.name: conversion.convert(_PLACEHOLDER, p.annotation, self._table(path))
                for p in missing
            }
        except conversion.ConversionError:
            return None

    def _value(self, value: Any, parameter: Parameter, path: KeyPath) -> Any:
        if not parameter.configurable:
            raise self.error(path, "cannot be set in configuration (only in code)")
        if _takes_source(parameter.annotation):
            return self._source(value, path)
        secret = parameter.accepts_secret or is_secret_key(parameter.name)
        # A choice among fixed words (``login_store = "file"``) is never a reference.
        if is_reference(value) and typing.get_origin(parameter.annotation) is not Literal:
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
            if (problem := literal_problem(value)) is not None:
                raise self.error(path, problem)
            value = literal_value(value)
        elif secret and (mistyped := mistyped_prefix(value)):
            raise SecretReferenceError(f"{self.where(path)}: {mistyped}")
        if secret and isinstance(value, str):
            self._literal_secrets.append(value)
        if parameter.name == "region" and isinstance(value, str) and not value.strip():
            from tokenprovider._aws import REGION_ORDER  # noqa: PLC0415 - light

            raise self.error(
                path,
                "is empty; set an AWS region such as us-west-2, or remove the setting to "
                f"take the region from {REGION_ORDER}",
            )
        try:
            return conversion.convert(value, parameter.annotation, self._table(path))
        except conversion.ConversionError as exc:
            shown = REDACTED if secret else _show(value)
            raise self.error(path, f"expected {exc}, got {shown} ({_kind(value)})") from None

    def _source(self, value: Any, path: KeyPath) -> Any:
        """The assertion source a setting names (``file:PATH``, ``github-actions``,
        ``profile:NAME``, a plugin's ``SCHEME:...``): another profile is built here, from
        this configuration; in a check, it is only looked up."""
        from tokenprovider.sources import (  # noqa: PLC0415 - with the providers
            ProviderSource,
            source_from_setting,
            source_problem,
        )

        problem = source_problem(value)
        if problem is not None:
            raise self.error(path, problem)
        if value.startswith(PROFILE_SCHEME):
            name = value[len(PROFILE_SCHEME) :].strip()
            problem = None if self._profiles is None else self._profiles.problem(name)
            if problem is not None:
                raise self.error(path, problem)
            if self._problems is not None:  # a check builds no other profile
                shareable = self._profiles is None or self._profiles.shareable(name)
                return _ProfileToBe(name, shareable=shareable)
            if self._profiles is None:
                raise self.error(
                    path,
                    f"{value!r} names another profile, which this table alone cannot "
                    "build: load the whole configuration (load_provider, or "
                    "parse_credentials_config with its profiles)",
                )
            try:
                provider = self._profiles.build(name)
            except TokenProviderError as exc:
                raise _retyped(exc, f"{self.where(path)}: profile {name!r}: {exc}") from None
            return ProviderSource(provider, description=f"profile {name!r}")
        origin = self._origin_of(path)
        base_dir = origin.directory if origin and origin.directory else self._cwd
        try:
            return source_from_setting(value, base_dir=base_dir)
        except ConfigurationError as exc:
            raise self.error(path, str(exc)) from None

    def _table(self, path: KeyPath) -> conversion.BuildTable:
        def build(cls: type, settings: Mapping[str, Any]) -> Any:
            unresolved = len(self.unresolved)
            kwargs = self.arguments(cls, settings, path)
            if len(self.unresolved) > unresolved:
                return None  # a check: built once its references are read
            return self._construct(cls, (), kwargs, path)

        return build

    def _construct(
        self,
        cls: type,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        path: KeyPath,
        settings_path: KeyPath | None = None,
    ) -> Any:
        """``cls(*args, **kwargs)``, its settings read from ``settings_path`` (default
        ``path``), marked as built from configuration (`built_from_configuration`); its
        error names ``path`` and is about the setting it starts with, if any."""
        settings_path = path if settings_path is None else settings_path
        try:
            with built_from_configuration(lambda name: self.where((*settings_path, name))):
                if not self._probe:
                    return cls(*args, **kwargs)
                with warnings.catch_warnings():  # a probe's stand-ins are not the user's
                    warnings.simplefilter("ignore")
                    return cls(*args, **kwargs)
        except TokenProviderError as exc:
            if _is_no_region(exc) and "region" in parameters(cls):
                return self._no_region(cls, settings_path)
            culprit = _culprit(str(exc), kwargs, settings_path, path)
            text = f"{self.where(path, at=culprit)}: {self._redact(str(exc))}"
            raise self._about(_retyped(exc, text), culprit) from None
        except Exception as exc:
            culprit = _culprit(str(exc), kwargs, settings_path, path)
            error = ConfigurationError(
                f"{self.where(path, at=culprit)}: {cls.__name__} refused these settings: "
                f"{type(exc).__name__}: {self._redact(str(exc))}"
            )
            raise self._about(error, culprit) from None

    def _no_region(self, cls: type, path: KeyPath) -> None:
        """``cls`` (whose settings are at ``path``) found no AWS region: in a build, the
        error, naming this table and the command that sets one; in a check, a note."""
        from tokenprovider import _aws as aws  # noqa: PLC0415 - light; boto3 is not imported

        rule = aws.no_region(cls.__name__, f"region = in [{dotted(path)}]")
        command = f"tokenprovider config set {dotted((*path, 'region'))} VALUE"
        text = f"{self.where(path)}: {rule}; to set one: {command}"
        if self._problems is None:
            raise ConfigurationError(text)
        self.notes.append(_as_note(text))

    def _redact(self, text: str) -> str:
        longest_first = sorted(self._literal_secrets, key=len, reverse=True)
        return redact(text, longest_first)


_kind = rules.kind


class _ProfileToBe(AssertionSource):
    """In a check: the profile a source setting names, looked up but not built."""

    token_type = "access_token"  # another provider's token, as a ProviderSource's

    def __init__(self, name: str, *, shareable: bool) -> None:
        self.description = f"profile {name!r}"
        self.shareable = shareable

    def read(self, audience: str | None) -> str:
        raise ConfigurationError(f"{self.description} is not built in a check")

    def cache_identity(self) -> object:
        """As the profile's provider would have one, if its tokens may be shared."""
        return ["profile", self.description] if self.shareable else None


def _takes_source(annotation: Any) -> bool:
    """Whether a parameter annotated so takes an assertion source."""
    return AssertionSource in typing.get_args(annotation)


def _culprit(message: str, kwargs: Mapping[str, Any], settings: KeyPath, path: KeyPath) -> KeyPath:
    """The setting a constructor's error ``message`` is about: the one it starts with
    (``token_url must ...``, or after the table's name: ``retry max_attempts must ...``)
    or that it names as ``the NAME setting``, else the table at ``path``."""
    if settings:
        message = message.removeprefix(f"{settings[-1]} ")
    for name in kwargs:
        if message.startswith(name) and message[len(name) : len(name) + 1] in (" ", ":"):
            return (*settings, name)
    for name in kwargs:
        if f"the {name} setting " in message:
            return (*settings, name)
    return path


def _is_no_region(exc: Exception) -> bool:
    """Whether ``exc`` is `tokenprovider._aws.no_region`'s error (no region anywhere)."""
    from tokenprovider import _aws as aws  # noqa: PLC0415 - light; boto3 is not imported

    said = str(aws.no_region("")).partition(";")[0].strip()  # "needs an AWS region ..."
    return isinstance(exc, ConfigurationError) and said in str(exc)


def _as_note(text: str) -> str:
    """A missing region, reported by a check as a note (see `_Builder`)."""
    return (
        f"{text} (not counted as a problem: where this configuration runs, the region may "
        "come from the environment, as a Lambda's AWS_REGION does)"
    )


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
    profiles: Profiles | None = None,
) -> tuple[str, TokenProvider]:
    """Like `build_provider`, also returning the name of the provider chosen; relative
    paths set by variables are taken from ``cwd`` (default: the working directory);
    ``profile:NAME`` sources are built by ``profiles``."""
    builder = _Builder(origin_of, providers or registry, cwd, profiles=profiles)
    return builder.provider(section, path)


class Checked(NamedTuple):
    """What `check_section` found: the provider chosen (if it got that far), every problem,
    the settings whose references only a build would read (the provider is then not
    constructed), for each problem the key path it is about (the key that is wrong, or
    missing), and notes that are not problems (no AWS region here: see `_Builder`)."""

    provider: str | None
    problems: list[TokenProviderError]
    unresolved: list[str]
    about: list[KeyPath]
    notes: list[str]

    def problems_about(self, path: KeyPath) -> list[TokenProviderError]:
        """The problems about the key at ``path`` (or a key inside it)."""
        return [
            problem
            for problem, about in zip(self.problems, self.about, strict=True)
            if about[: len(path)] == path
        ]


def check_section(
    section: Any,
    path: KeyPath,
    origin_of: OriginOf | None = None,
    providers: Registry | None = None,
    *,
    cwd: Path | None = None,
    probe: bool = False,
    profiles: Profiles | None = None,
) -> Checked:
    """Check a ``[credentials]``-style table as `build_named` would build it, recording
    every problem instead of stopping at the first, and resolving no secret reference.
    A ``probe`` judges a table that may be half written (see `_Builder`)."""
    problems: list[TokenProviderError] = []
    builder = _Builder(
        origin_of, providers or registry, cwd, problems, probe=probe, profiles=profiles
    )
    with builder._step(path):
        builder.build(section, path)
    unresolved = [builder.where(p) for p in builder.unresolved]
    return Checked(builder.chosen, problems, unresolved, builder.blamed, builder.notes)
