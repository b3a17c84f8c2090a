"""Picking a profile: ``[credentials]`` (the default) or ``[profiles.NAME.credentials]``.

A profile is complete on its own: nothing is inherited from the default profile or from
another profile, so a profile's token can never be sent with another profile's secret.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from tokenprovider._suggest import did_you_mean
from tokenprovider.config.loading import PROFILE_ENV, KeyPath, LoadedConfig
from tokenprovider.config.toml_lines import dotted
from tokenprovider.errors import ConfigurationError

DEFAULT = "default"
TOP_LEVEL = ("credentials", "profiles")


def active_profile(profile: str | None, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The profile to use and why: the argument, else ``TOKENPROVIDER_PROFILE``, else default."""
    if profile:
        return profile, "asked for"
    from_env = (os.environ if env is None else env).get(PROFILE_ENV, "").strip()
    if from_env:
        return from_env, f"from {PROFILE_ENV}"
    return DEFAULT, "the default"


def reserved_profile_name(name: str) -> str | None:
    """Why ``name`` may not name a profile, or None: ``default``, in any case, is the
    ``[credentials]`` table. The one rule of ``config check``, ``set`` and ``init``."""
    if name.lower() != DEFAULT:
        return None
    return (
        "the default profile is the [credentials] table, and a profile may not be named "
        f"{name!r} (default, in any case)"
    )


def profile_names(data: Mapping[str, Any]) -> list[str]:
    """The default profile (if configured) and every named profile (one named default,
    in any case, counts as the default profile: see `reserved_profile_name`)."""
    profiles = data.get("profiles")
    named = sorted(map(str, profiles)) if isinstance(profiles, Mapping) else []
    misnamed = [name for name in named if reserved_profile_name(name)]
    # A profile named default (in any case) is reported as a problem of the default one.
    default = [DEFAULT] if "credentials" in data or misnamed else []
    return default + [name for name in named if name not in misnamed]


def credentials_path(loaded: LoadedConfig, profile: str) -> KeyPath:
    """The key path of ``profile``'s credentials table; errors explain what is missing."""
    for problem in top_level_problems(loaded):
        raise problem
    return profile_path(loaded, profile)


def top_level_problems(loaded: LoadedConfig) -> list[ConfigurationError]:
    """What is wrong outside the profiles: unknown top-level tables, a ``profiles`` that
    is not a table."""
    problems = []
    for key in loaded.data:
        if key not in TOP_LEVEL:
            hint = did_you_mean(str(key), TOP_LEVEL)
            problems.append(_error(loaded, (str(key),), f"is not a known table{hint}"))
    profiles = loaded.data.get("profiles", {})
    if not isinstance(profiles, Mapping):
        problems.append(_error(loaded, ("profiles",), "must be a table of profiles"))
    return problems


def profile_path(
    loaded: LoadedConfig, profile: str, problems: list[ConfigurationError] | None = None
) -> KeyPath:
    """`credentials_path` without the `top_level_problems`; with ``problems``, a profile
    named ``default`` and stray keys beside a profile's credentials are recorded there
    instead of raised. ``default`` in any case is the default profile."""
    data = loaded.data
    profiles = data.get("profiles", {})
    if not isinstance(profiles, Mapping):
        profiles = {}
    if profile.lower() == DEFAULT:
        _misnamed_profiles(loaded, profiles, problems)
        if "credentials" not in data:
            raise ConfigurationError(
                "no [credentials] table is configured; searched "
                f"{_searched(loaded)} and TOKENPROVIDER_* variables "
                "(tokenprovider config init --provider NAME writes a starter file)"
            )
        return ("credentials",)
    if profile not in profiles:
        folded = [str(name) for name in profiles if str(name).lower() == profile.lower()]
        if len(folded) == 1:  # TOKENPROVIDER_PROFILE=DEV finds [profiles.dev]
            profile = folded[0]
    if profile not in profiles:
        hint = did_you_mean(profile, [str(name) for name in profiles])
        known = ", ".join(profile_names(data)) or "none"
        raise ConfigurationError(
            f"there is no profile {profile!r}{hint}; configured profiles: {known} "
            "(a profile is a [profiles.NAME.credentials] table)"
        )
    table = profiles[profile]
    path = ("profiles", profile)
    if not isinstance(table, Mapping) or "credentials" not in table:
        raise _error(
            loaded,
            path,
            f"has no credentials; add a [{dotted((*path, 'credentials'))}] table "
            "(profiles do not inherit from [credentials])",
        )
    for key in table:
        if key != "credentials":
            stray = _error(loaded, (*path, str(key)), "is not a known setting; use credentials")
            if problems is None:
                raise stray
            problems.append(stray)
    return (*path, "credentials")


def _misnamed_profiles(
    loaded: LoadedConfig, profiles: Mapping[str, Any], problems: list[ConfigurationError] | None
) -> None:
    """Each profile named default (in any case), raised or, with ``problems``, recorded."""
    for name in profiles:
        reason = reserved_profile_name(str(name))
        if reason is not None:
            misnamed = _error(loaded, ("profiles", str(name)), f"{reason}; rename it")
            if problems is None:
                raise misnamed
            problems.append(misnamed)


def _error(loaded: LoadedConfig, path: KeyPath, problem: str) -> ConfigurationError:
    origin = loaded.origin(path)
    where = f" (from {origin})" if origin else ""
    return ConfigurationError(f"{dotted(path)}{where}: {problem}")


def _searched(loaded: LoadedConfig) -> str:
    return ", ".join(str(config_file.path) for config_file in loaded.files)


def section(data: Mapping[str, Any], path: KeyPath) -> Any:
    """The value at ``path`` in ``data``."""
    value: Any = data
    for key in path:
        value = value[key]
    return value
