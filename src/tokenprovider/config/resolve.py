"""From files and environment to a built provider, keeping what the CLI reports."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from tokenprovider._masking import SOURCE_SETTINGS
from tokenprovider.config import section_rules as rules
from tokenprovider.config.build import PROFILE_SCHEME, build_named
from tokenprovider.config.known import SECTION_KEYS, KnownKeys
from tokenprovider.config.loading import KeyPath, LoadedConfig, load
from tokenprovider.config.profiles import (
    DEFAULT,
    active_profile,
    credentials_path,
    profile_path,
    section,
)
from tokenprovider.config.registry import registry
from tokenprovider.config.toml_lines import dotted
from tokenprovider.config.trust import redirect_problems
from tokenprovider.errors import ConfigurationError
from tokenprovider.providers._person import PERSON_GRANTS

if TYPE_CHECKING:
    from tokenprovider.core.provider import TokenProvider

#: The longest chain of profiles, each naming the next in a source (``profile:NAME``).
MAX_PROFILE_CHAIN = 32
#: The settings of a credentials table that choose its cache.
_CACHE_KEYS = ("cache", "cache_key")


class Resolved(NamedTuple):
    """A provider with the profile and provider name it was built from."""

    provider: TokenProvider
    provider_name: str
    profile: str


def resolve(
    profile: str | None = None,
    *,
    config_file: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    default_cache: str | None = None,
    memory_only: bool = False,
) -> Resolved:
    """Load the configuration and build the provider of ``profile`` (see `load_provider`).

    For the CLI: ``default_cache`` is the ``cache =`` setting (such as ``"file"``) given
    to a provider whose tokens a shared cache can keep (see
    `CachedTokenProvider._cache_identity`) when the profile sets no ``cache``; a
    ``cache_key`` of the profile then seals it. ``memory_only`` ignores the profile's
    ``cache`` and ``cache_key``, keeping the token in this process only. The library
    passes neither.
    """
    loaded = load(env, Path(cwd) if cwd is not None else None, config_file)
    name, _ = active_profile(profile, env)
    path = credentials_path(loaded, name)
    configuration = Configuration(
        loaded,
        Path(cwd) if cwd is not None else Path.cwd(),
        config_file,
        default_cache=default_cache,
        memory_only=memory_only,
    )
    links = ProfileLinks(configuration, (profile_of(path),))
    provider_name, provider = links.build_table(section(loaded.data, path), path)
    return Resolved(provider, provider_name, name)


class Configuration:
    """What every profile of one build shares: the configuration, the directory relative
    paths set by variables start from, the file given (named in login commands), the
    CLI's cache options (see `resolve`), what is known so far by profile: the providers
    built, and whether their tokens may be shared, and the settings of the providers
    looked up (`KnownKeys`)."""

    def __init__(
        self,
        loaded: LoadedConfig,
        cwd: Path,
        config_file: str | os.PathLike[str] | None = None,
        *,
        default_cache: str | None = None,
        memory_only: bool = False,
    ) -> None:
        self.loaded = loaded
        self.cwd = cwd
        self.config_file = config_file
        self.default_cache = default_cache
        self.memory_only = memory_only
        self.built: dict[str, tuple[str, TokenProvider]] = {}
        self.shareable: dict[str, bool] = {}
        self.known = KnownKeys()


class ProfileLinks:
    """The profiles of one configuration, built for the sources that name them
    (``subject_token = "profile:NAME"``) as `resolve` builds the profile asked for, each
    once however many name it. ``chain`` is the profiles that lead here (the last one is
    being built); a chain that comes back to one of its own is refused, naming the loop."""

    def __init__(self, configuration: Configuration, chain: tuple[str, ...]) -> None:
        self.configuration = configuration
        self.chain = chain

    def problem(self, name: str) -> str | None:
        """Why profile ``name`` may not be named from the end of the chain: it does not
        exist, or it (or a profile it names, and so on) comes back to the chain."""
        loaded = self.configuration.loaded
        try:
            path = profile_path(loaded, name)
        except ConfigurationError as exc:
            return f"profile:{name} names no usable profile: {exc}"
        loop = self.__loop([*self.chain, profile_of(path)], set())
        if loop is None:
            return None
        if len(loop) > MAX_PROFILE_CHAIN:
            return (
                f"profile:{name} starts a chain of more than {MAX_PROFILE_CHAIN} profiles, "
                f"each naming the next ({' -> '.join(loop[:3])} -> ...); shorten it"
            )
        loop = loop[loop.index(loop[-1]) :]  # the loop itself, not the way to it
        return f"profile:{name} comes back to a profile that needs it ({' -> '.join(loop)})"

    def __loop(self, stack: list[str], done: set[str]) -> list[str] | None:
        """A chain of profiles from ``stack`` back into it, if the profiles the last one
        names lead to one, or one longer than `MAX_PROFILE_CHAIN`; each profile is
        walked once (``done``: none found beyond)."""
        last = stack[-1]
        if last in stack[:-1] or len(stack) > MAX_PROFILE_CHAIN:
            return stack
        if last in done:
            return None
        loaded = self.configuration.loaded
        try:
            table = section(loaded.data, profile_path(loaded, last))
        except ConfigurationError:
            return None  # reported where it is named
        for named in _profiles_named(table):
            try:
                following = profile_of(profile_path(loaded, named))
            except ConfigurationError:
                continue
            loop = self.__loop([*stack, following], done)
            if loop is not None:
                return loop
        done.add(last)
        return None

    def shareable(self, name: str) -> bool:
        """Whether the tokens of profile ``name`` may sit in a shared cache, as far as
        its table tells without building it: an OAuth profile whose sources are all
        other shareable profiles (a file's, a variable's or a job's token is not), and
        not a person's login; any other provider kind is taken at its word."""
        loaded = self.configuration.loaded
        try:
            table = section(loaded.data, profile_path(loaded, name))
        except ConfigurationError:
            return True  # reported where it is named
        settings = table.get("oauth") if isinstance(table, Mapping) else None
        if not isinstance(settings, Mapping):
            return True
        if settings.get("grant_type") in PERSON_GRANTS:
            return False
        named = _profiles_named(table)
        written = [settings.get(key) for key in SOURCE_SETTINGS if settings.get(key) is not None]
        if len(named) < len(written):
            return False  # a source that is not another profile
        if len(self.chain) > MAX_PROFILE_CHAIN:
            return True  # a chain too long (or a loop), which problem() reports
        known = self.configuration.shareable
        if name not in known:
            further = ProfileLinks(self.configuration, (*self.chain, name))
            known[name] = all(further.shareable(other) for other in named)
        return known[name]

    def build(self, name: str) -> TokenProvider:
        """The provider of profile ``name`` (built once), its own sources built along
        the chain."""
        problem = self.problem(name)
        if problem is not None:
            raise ConfigurationError(problem)
        loaded = self.configuration.loaded
        path = profile_path(loaded, name)
        canonical = profile_of(path)
        built = self.configuration.built
        if canonical not in built:
            links = ProfileLinks(self.configuration, (*self.chain, canonical))
            built[canonical] = links.build_table(section(loaded.data, path), path)
        return built[canonical][1]

    def build_table(self, table: Any, path: KeyPath) -> tuple[str, TokenProvider]:
        """The provider of the credentials ``table`` at ``path``, the last of the chain,
        with the CLI's cache options."""
        options = self.configuration
        problems = redirect_problems(options.loaded, path, options.known)
        if problems:
            raise problems[0]  # before anything is built: no credential goes anywhere
        if options.memory_only and _cacheable(table):
            table = {key: value for key, value in table.items() if key not in _CACHE_KEYS}
        offered = (
            options.default_cache is not None
            and not options.memory_only
            and "cache" not in table
            and _cacheable(table)
        )
        if offered:
            # Built first without the cache (whose cache_key seals it), to learn whether
            # its tokens may be shared: an exchange of a file's token may not.
            unsealed = {key: value for key, value in table.items() if key != "cache_key"}
            provider_name, provider = self.__build(unsealed, path)
            if getattr(provider, "_cache_identity", lambda: None)() is None:
                if "cache_key" in table:
                    raise ConfigurationError(
                        f"{dotted((*path, 'cache_key'))}: seals the CLI's shared token "
                        "cache, which never keeps this profile's tokens (they come from a "
                        "source that may differ from one process to the next): remove it"
                    )
                return provider_name, provider
            table = {**table, "cache": options.default_cache}
        return self.__build(table, path)

    def __build(self, table: Any, path: KeyPath) -> tuple[str, TokenProvider]:
        options = self.configuration
        provider_name, provider = build_named(
            table, path, options.loaded.origin, cwd=options.cwd, profiles=self
        )
        if getattr(provider, "grant_type", None) in PERSON_GRANTS:
            # LoginRequiredError names the command that logs in for this very configuration.
            command = login_command(path, options.config_file)
            provider.login_command = command  # type: ignore[attr-defined]
        return provider_name, provider


def _profiles_named(table: Any) -> list[str]:
    """The profiles the source settings of a credentials ``table`` name (``profile:X``)."""
    named = []
    for settings in table.values() if isinstance(table, Mapping) else ():
        if not isinstance(settings, Mapping):
            continue
        for key in SOURCE_SETTINGS:
            value = settings.get(key)
            if isinstance(value, str) and value.startswith(PROFILE_SCHEME):
                named.append(value[len(PROFILE_SCHEME) :].strip())
    return named


def profile_of(path: KeyPath) -> str:
    """The profile name of a credentials table's key path (``default`` for the default)."""
    return str(path[1]) if len(path) == 3 and path[0] == "profiles" else DEFAULT


def login_command(path: KeyPath, config_file: str | os.PathLike[str] | None = None) -> str:
    """The command that logs a person in for the provider at ``path``:
    ``tokenprovider login``, with ``--config FILE`` when one was given and
    ``--profile NAME`` for ``[profiles.NAME.credentials]``."""
    words = ["tokenprovider"]
    if config_file is not None:
        words += ["--config", shlex.quote(os.fspath(config_file))]
    words.append("login")
    if len(path) == 3 and path[0] == "profiles":
        words += ["--profile", shlex.quote(str(path[1]))]
    return " ".join(words)


def _cacheable(table: Any) -> bool:
    """Whether ``table`` names one provider, and a shared cache can keep its tokens (it
    fetches them and defines their identity); any other table is built as it is, and the
    build reports what is wrong with it."""
    if not isinstance(table, Mapping):
        return False
    chosen = table.get("provider")
    if chosen is None:
        named = [key for key in table if key not in SECTION_KEYS]
        chosen = named[0] if len(named) == 1 else None
    if not isinstance(chosen, str):
        return False
    settings = table.get(chosen)
    if isinstance(settings, Mapping) and settings.get("grant_type") in PERSON_GRANTS:
        return False  # a person's tokens are shared through the login store
    try:
        cls = registry.get(chosen)
    except ConfigurationError:
        return False
    from tokenprovider.core.cached import CachedTokenProvider  # noqa: PLC0415 - keeps imports light

    return (
        cls is not None
        and issubclass(cls, CachedTokenProvider)
        and cls._cache_identity is not CachedTokenProvider._cache_identity
    )


def parse_credentials_config(config: Mapping[str, Any]) -> TokenProvider:
    """Build the provider described by ``config["credentials"]`` (a parsed TOML document).

    >>> parse_credentials_config({"credentials": {"domain": "api.example.com",
    ...                                           "jwt": "env:API_JWT"}})
    JWTTokenProvider(host=Host('api.example.com', scheme='https'), ...)
    """
    if not isinstance(config, Mapping):
        raise ConfigurationError(
            f"the configuration must be a table (a dict), not {rules.kind(config)}"
        )
    if "credentials" not in config:
        raise ConfigurationError(
            "the configuration has no [credentials] table; add one with a domain and a "
            "provider, for example [credentials] domain = ... and [credentials.oauth]"
        )
    # profile:NAME sources are built from this very document's [profiles].
    document = Configuration(LoadedConfig(dict(config), {}, []), Path.cwd())
    links = ProfileLinks(document, (DEFAULT,))
    return build_named(config["credentials"], ("credentials",), profiles=links)[1]
