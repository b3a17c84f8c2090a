"""``tokenprovider config check``: every problem of the profiles, with no secret read.

`check` builds each profile's provider as `load_provider` would (`build.check_section`),
recording every problem instead of stopping at the first, each naming its key path and
the file and line, or variable, it came from. It resolves no secret reference (so an
``env:`` reference to a variable that is not set is not a problem here: it is read when
a token is first needed) and fetches no token. No AWS region in this environment is,
for the same reason, a note (`ProfileCheck.notes`), not a problem: where the
configuration runs (a Lambda), ``AWS_REGION`` may well be set. A provider one of whose
plain settings is a reference (read when the provider is built) has each setting
checked but is not constructed; the report says which settings.

`quick_problems` is the part that imports no provider, for ``config show`` (which must
start fast): tables and keys, the domain, which provider, an empty ``literal:``, secret
settings with a mistyped reference prefix, and a project file deciding where the user
file's credentials go (`trust.redirect_problems`), in the words of `check`
(`section_rules`). The types of values and the providers' own rules are checked only by
`check`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from tokenprovider._masking import takes_reference
from tokenprovider.config import section_rules as rules
from tokenprovider.config.known import KNOWN, SECTION_KEYS, UNKNOWN, KnownKeys
from tokenprovider.config.loading import KeyPath, LoadedConfig
from tokenprovider.config.profiles import profile_names, profile_path, section, top_level_problems
from tokenprovider.config.toml_lines import dotted
from tokenprovider.config.trust import redirect_problems
from tokenprovider.errors import ConfigurationError
from tokenprovider.secret_refs import literal_problem, mistyped_prefix


class ProfileCheck(NamedTuple):
    """One profile's result: its provider (when known), its problems, the settings whose
    references only building reads (the provider was then not constructed), and notes
    that are not problems (no AWS region in this environment: see `build._Builder`)."""

    profile: str
    provider: str | None
    problems: list[str]
    unresolved: list[str]
    notes: list[str]


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
    from tokenprovider.config.resolve import (  # noqa: PLC0415
        Configuration,
        ProfileLinks,
        profile_of,
    )

    results = []
    for name in profiles:
        found: list[ConfigurationError] = []
        try:
            path = profile_path(loaded, name, found)
        except ConfigurationError as exc:
            results.append(ProfileCheck(name, None, [*map(str, found), str(exc)], [], []))
            continue
        links = ProfileLinks(Configuration(loaded, cwd or Path.cwd()), (profile_of(path),))
        checked = check_section(
            section(loaded.data, path), path, loaded.origin, cwd=cwd, profiles=links
        )
        redirects = redirect_problems(loaded, path)
        problems = [*map(str, found), *map(str, redirects), *map(str, checked.problems)]
        results.append(
            ProfileCheck(name, checked.provider, problems, checked.unresolved, checked.notes)
        )
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
        problems += map(str, redirect_problems(loaded, path, known))
        problems += _Quick(loaded, known).section(section(loaded.data, path), path)
    return problems


def _provider_names() -> list[str]:
    """Every provider name (only on an error path: it reads the plugins' metadata)."""
    from tokenprovider.config.registry import registry  # noqa: PLC0415

    return registry.names()


class _Quick:
    """The checks of one credentials table that need no provider class, in the builder's
    words (`section_rules`)."""

    def __init__(self, loaded: LoadedConfig, known: KnownKeys) -> None:
        self._loaded = loaded
        self._known = known
        self.problems: list[str] = []

    def _where(self, path: KeyPath) -> str:
        origin = self._loaded.origin(path)
        return f"{dotted(path)} (from {origin})" if origin is not None else dotted(path)

    def _add(self, path: KeyPath, problem: str) -> None:
        self.problems.append(f"{self._where(path)}: {problem}")

    def _found(self, found: rules.Problem) -> None:
        self._add(found.at, found.text)

    def _is_provider(self, name: str) -> bool:
        return self._known.settings(name) is not None

    def _is_setting(self, key: str) -> bool:
        return any((key,) in (self._known.settings(name) or ()) for name in _provider_names())

    def section(self, table: Any, path: KeyPath) -> list[str]:
        if not isinstance(table, Mapping):
            self._add(path, f"must be a table, like [{dotted(path)}], not {rules.kind(table)}")
            return self.problems
        for key, item in table.items():
            found = rules.entry_problem(
                key,
                item,
                path,
                is_provider=self._is_provider,
                names=_provider_names,
                is_setting=self._is_setting,
            )
            if found is not None:
                self._found(found)
            elif isinstance(item, Mapping):
                self._keys(item, (*path, key))
            elif key not in SECTION_KEYS:  # a shorthand, such as jwt = "..."
                self._value((*path, key), item)
        for found in rules.host_of(table, path)[1]:
            self._found(found)
        chosen = rules.chosen_provider(table, path, self._is_provider, _provider_names, self._where)
        if isinstance(chosen, rules.Problem):
            self._found(chosen)
        return self.problems

    def _keys(self, value: Mapping[str, Any], path: KeyPath) -> None:
        """Unknown keys (with a did-you-mean) and values written wrong (`_value`)."""
        for key, item in value.items():
            key_path = (*path, str(key))
            verdict = self._known.classify(key_path, isinstance(item, Mapping))
            if verdict == UNKNOWN:
                candidates = self._known.candidates(key_path)
                self._add(key_path, rules.unknown_setting(str(key), candidates))
            elif isinstance(item, Mapping):
                self._keys(item, key_path)
            elif verdict == KNOWN:
                self._value(key_path, item)

    def _value(self, path: KeyPath, value: Any) -> None:
        """An empty ``literal:``, and a secret with a mistyped reference prefix."""
        problem = literal_problem(value)
        if problem is None and (takes_reference(path[-1]) or self._known.takes_secret(path)):
            problem = mistyped_prefix(value)
        if problem is not None:
            self._add(path, problem)
