"""``tokenprovider config check``: every problem of the profiles, with no secret read.

`check` builds each profile's provider as `load_provider` would (`build.check_section`),
recording every problem instead of stopping at the first, each naming its key path and
the file and line, or variable, it came from. It resolves no secret reference (so an
``env:`` reference to a variable that is not set is not a problem here: it is read when
a token is first needed) and fetches no token. A provider one of whose plain settings is
a reference (read when the provider is built) has each setting checked but is not
constructed; the report says which settings.

`quick_problems` is the part that imports no provider, for ``config show`` (which must
start fast): tables and keys, the domain, which provider, and secret settings with a
mistyped reference prefix. The types of values and the providers' own rules are checked
only by `check`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from tokenprovider.config.known import KNOWN, SECTION_KEYS, UNKNOWN, KnownKeys
from tokenprovider.config.loading import KeyPath, LoadedConfig
from tokenprovider.config.profiles import profile_names, profile_path, section, top_level_problems
from tokenprovider.config.suggest import did_you_mean
from tokenprovider.config.toml_lines import dotted
from tokenprovider.errors import ConfigurationError
from tokenprovider.masking import is_secret_key
from tokenprovider.secret_refs import mistyped_prefix


class ProfileCheck(NamedTuple):
    """One profile's result: its provider (when known), its problems, and the settings
    whose references only building reads (the provider was then not constructed)."""

    profile: str
    provider: str | None
    problems: list[str]
    unresolved: list[str]


class Report(NamedTuple):
    """Problems outside any profile, and each profile checked."""

    general: list[str]
    profiles: list[ProfileCheck]

    @property
    def problem_count(self) -> int:
        """How many problems were found in all."""
        return len(self.general) + sum(len(result.problems) for result in self.profiles)


def every_profile(loaded: LoadedConfig) -> list[str]:
    """The default profile (if ``[credentials]`` exists) and every named profile, once."""
    return list(dict.fromkeys(profile_names(loaded.data)))


def check(loaded: LoadedConfig, profiles: list[str], *, cwd: Path | None = None) -> Report:
    """Check ``profiles`` of ``loaded`` (see the module docs)."""
    from tokenprovider.config.build import check_section  # noqa: PLC0415 - imports providers

    results = []
    for name in profiles:
        found: list[ConfigurationError] = []
        try:
            path = profile_path(loaded, name, found)
        except ConfigurationError as exc:
            results.append(ProfileCheck(name, None, [*map(str, found), str(exc)], []))
            continue
        checked = check_section(section(loaded.data, path), path, loaded.origin, cwd=cwd)
        problems = [*map(str, found), *map(str, checked.problems)]
        results.append(ProfileCheck(name, checked.provider, problems, checked.unresolved))
    return Report(list(map(str, top_level_problems(loaded))), results)


def quick_problems(loaded: LoadedConfig, profiles: list[str]) -> list[str]:
    """What `check` would find without importing a provider (see the module docs)."""
    problems = list(map(str, top_level_problems(loaded)))
    known = KnownKeys()
    for name in profiles:
        found: list[ConfigurationError] = []
        try:
            path = profile_path(loaded, name, found)
        except ConfigurationError as exc:
            problems += [*map(str, found), str(exc)]
            continue
        problems += map(str, found)
        problems += _Quick(loaded, known).section(section(loaded.data, path), path)
    return problems


class _Quick:
    """The checks of one credentials table that need no provider class."""

    def __init__(self, loaded: LoadedConfig, known: KnownKeys) -> None:
        self._loaded = loaded
        self._known = known
        self.problems: list[str] = []

    def _add(self, path: KeyPath, problem: str) -> None:
        origin = self._loaded.origin(path)
        where = f"{dotted(path)} (from {origin})" if origin is not None else dotted(path)
        self.problems.append(f"{where}: {problem}")

    def section(self, table: Any, path: KeyPath) -> list[str]:
        if not isinstance(table, Mapping):
            self._add(path, f"must be a table, like [{dotted(path)}]")
            return self.problems
        self._keys(table, path)
        self._host(table, path)
        self._provider(table, path)
        return self.problems

    def _keys(self, value: Any, path: KeyPath) -> None:
        """Unknown keys (with a did-you-mean) and secrets with a mistyped prefix."""
        for key, item in value.items():
            key_path = (*path, str(key))
            verdict = self._known.classify(key_path, isinstance(item, Mapping))
            if verdict == UNKNOWN:
                hint = did_you_mean(str(key), self._known.candidates(key_path))
                self._add(key_path, f"is not a known setting{hint}")
            elif isinstance(item, Mapping):
                self._keys(item, key_path)
            elif verdict == KNOWN and is_secret_key(str(key)):
                mistyped = mistyped_prefix(item)
                if mistyped:
                    self._add(key_path, mistyped)

    def _host(self, table: Mapping[str, Any], path: KeyPath) -> None:
        from tokenprovider.host import Host  # noqa: PLC0415 - light; only when checking

        if "domain" not in table:
            self._add(path, 'has no domain; add domain = "api.example.com"')
            return
        domain, scheme = table["domain"], table.get("scheme", "https")
        if not isinstance(domain, str) or not isinstance(scheme, str):
            key = "domain" if not isinstance(domain, str) else "scheme"
            self._add((*path, key), "must be a string")
            return
        try:
            Host(domain, scheme)
        except ConfigurationError as exc:
            key = "scheme" if "scheme" in str(exc) and "scheme" in table else "domain"
            self._add((*path, key), str(exc))

    def _provider(self, table: Mapping[str, Any], path: KeyPath) -> None:
        entries = [key for key in table if key not in SECTION_KEYS]
        providers = [key for key in entries if self._known.settings(key) is not None]
        chosen = table.get("provider")
        if chosen is not None:
            if not isinstance(chosen, str) or self._known.settings(chosen) is None:
                self._add((*path, "provider"), f"there is no provider {chosen!r}")
        elif not entries:
            self._add(path, "names no provider (tokenprovider providers lists them)")
        elif len(providers) > 1:
            self._add(
                path,
                f"configures {len(providers)} providers ({', '.join(providers)}); keep one, "
                'or pick one with provider = "NAME"',
            )
