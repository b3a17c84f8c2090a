"""From files and environment to a built provider, keeping what the CLI reports."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from tokenprovider.config.build import build_named
from tokenprovider.config.known import SECTION_KEYS
from tokenprovider.config.loading import KeyPath, load
from tokenprovider.config.profiles import active_profile, credentials_path, section
from tokenprovider.config.registry import registry
from tokenprovider.errors import ConfigurationError
from tokenprovider.providers._person import PERSON_GRANTS

if TYPE_CHECKING:
    from tokenprovider.core.provider import TokenProvider

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
    table = section(loaded.data, path)
    if (memory_only or default_cache is not None) and _cacheable(table):
        if memory_only:
            table = {key: value for key, value in table.items() if key not in _CACHE_KEYS}
        elif "cache" not in table:
            table = {**table, "cache": default_cache}
    provider_name, provider = build_named(
        table,
        path,
        loaded.origin,
        cwd=Path(cwd) if cwd is not None else Path.cwd(),
    )
    if getattr(provider, "grant_type", None) in PERSON_GRANTS:
        # LoginRequiredError names the command that logs in for this very configuration.
        provider.login_command = login_command(path, config_file)  # type: ignore[attr-defined]
    return Resolved(provider, provider_name, name)


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
