"""Where configuration files are looked for, in the order they are merged (later wins)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from tokenprovider._private_files import expand_user
from tokenprovider.config.files import exists
from tokenprovider.errors import ConfigurationError

APP = "tokenprovider"
FILE_NAME = "config.toml"
PROJECT_FILE_NAME = ".tokenprovider.toml"
CONFIG_ENV = "TOKENPROVIDER_CONFIG"

SITE, USER, PROJECT, EXPLICIT = "site", "user", "project", "explicit"


class ConfigFile(NamedTuple):
    """One place a configuration file may be: its kind (site, user...) and path."""

    kind: str
    path: Path


def site_file(env: Mapping[str, str]) -> Path:
    """The site-wide file: the first ``$XDG_CONFIG_DIRS`` entry (``/etc/xdg``) on Linux."""
    if _is_xdg():
        dirs = env.get("XDG_CONFIG_DIRS", "").strip() or "/etc/xdg"
        return Path(os.path.expanduser(dirs.split(os.pathsep)[0])) / APP / FILE_NAME
    import platformdirs  # noqa: PLC0415 - only off Linux; the XDG rule is inlined for speed

    return Path(platformdirs.site_config_dir(APP)) / FILE_NAME


def user_file(env: Mapping[str, str]) -> Path:
    """The user's file: ``$XDG_CONFIG_HOME`` (``~/.config``) on Linux, as platformdirs says.

    Raises `ConfigurationError` when there is no home directory to put it in.
    """
    if _is_xdg():
        base = env.get("XDG_CONFIG_HOME", "").strip() or "~/.config"
        try:
            return expand_user(base) / APP / FILE_NAME
        except ValueError as exc:
            raise ConfigurationError(
                f"the user configuration file cannot be located: {exc}; set HOME or "
                "XDG_CONFIG_HOME, or name a file with --file"
            ) from None
    import platformdirs  # noqa: PLC0415

    return Path(platformdirs.user_config_dir(APP)) / FILE_NAME


def _is_xdg() -> bool:
    return sys.platform not in ("win32", "darwin") and not hasattr(sys, "getandroidapilevel")


def project_root(start: Path) -> Path | None:
    """The repository root above ``start`` (the nearest directory holding ``.git``)."""
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return None


def project_file(start: Path) -> Path | None:
    """The nearest ``.tokenprovider.toml`` from ``start`` up to the repository root.

    Outside a repository only ``start`` itself is looked at.
    """
    root = project_root(start)
    directories = [start] if root is None else [start, *start.parents]
    for directory in directories:
        candidate = directory / PROJECT_FILE_NAME
        if exists(candidate):  # a FIFO or a directory here is an error when read
            return candidate
        if directory == root:
            break
    return None


def default_project_file(start: Path) -> Path:
    """Where ``config set --project`` writes: the existing project file, else at the root."""
    return project_file(start) or (project_root(start) or start) / PROJECT_FILE_NAME


def search_path(
    env: Mapping[str, str], cwd: Path, explicit: str | os.PathLike[str] | None = None
) -> list[ConfigFile]:
    """The files merged, in order; the project and explicit entries appear when found/given.

    Without a home directory (``HOME`` unset, no password entry) there is no user file.
    """
    files = [ConfigFile(SITE, site_file(env))]
    with contextlib.suppress(ConfigurationError):  # no home: the other sources still work
        files.append(ConfigFile(USER, user_file(env)))
    files.append(ConfigFile(PROJECT, default_project_file(cwd)))
    chosen = explicit if explicit is not None else env.get(CONFIG_ENV) or None
    if chosen is not None:
        files.append(ConfigFile(EXPLICIT, Path(os.path.expanduser(chosen))))
    return files
