"""From files and environment to a built provider, keeping what the CLI reports."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from tokenprovider.config.build import build_named
from tokenprovider.config.loading import load
from tokenprovider.config.profiles import active_profile, credentials_path, section

if TYPE_CHECKING:
    from tokenprovider.provider import TokenProvider


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
) -> Resolved:
    """Load the configuration and build the provider of ``profile`` (see `load_provider`)."""
    loaded = load(env, Path(cwd) if cwd is not None else None, config_file)
    name, _ = active_profile(profile, env)
    path = credentials_path(loaded, name)
    provider_name, provider = build_named(
        section(loaded.data, path),
        path,
        loaded.origin,
        cwd=Path(cwd) if cwd is not None else Path.cwd(),
    )
    return Resolved(provider, provider_name, name)
