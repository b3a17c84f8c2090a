"""Configuration: TOML files and environment variables → a provider, through the registry.

>>> provider = load_provider()            # [credentials], or TOKENPROVIDER_PROFILE's profile
>>> provider = load_provider("dispenser")  # [profiles.dispenser.credentials]

See ``docs/configuration.md`` for the files searched, the keys and secret references.
Names are imported on first use, so reading configuration stays fast.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tokenprovider.config.loading import InsecureConfigFileWarning
    from tokenprovider.config.registry import ENTRY_POINT_GROUP, register_provider
    from tokenprovider.config.resolve import parse_credentials_config
    from tokenprovider.core.provider import TokenProvider

__all__ = [
    "ENTRY_POINT_GROUP",
    "InsecureConfigFileWarning",
    "load_provider",
    "parse_credentials_config",
    "register_provider",
]

_MODULE_OF = {
    "parse_credentials_config": "tokenprovider.config.resolve",
    "InsecureConfigFileWarning": "tokenprovider.config.loading",
    "ENTRY_POINT_GROUP": "tokenprovider.config.registry",
    "register_provider": "tokenprovider.config.registry",
}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'tokenprovider.config' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def load_provider(
    profile: str | None = None,
    *,
    config_file: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> TokenProvider:
    """Read the configuration files and environment, pick the profile, build its provider.

    ``profile`` defaults to ``TOKENPROVIDER_PROFILE``, else the ``[credentials]`` table.
    ``config_file`` is an extra file read last (like ``--config``); ``env`` and ``cwd``
    replace `os.environ` and the working directory (for tests and tools).
    """
    from tokenprovider.config.resolve import resolve  # noqa: PLC0415

    return resolve(profile, config_file=config_file, env=env, cwd=cwd).provider
