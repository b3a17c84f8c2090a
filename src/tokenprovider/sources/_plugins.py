"""Source schemes: the built-ins, in-code registrations and entry-point plugins.

A plugin is an entry point in `SOURCE_ENTRY_POINT_GROUP` whose name is its scheme and
whose value is an `AssertionSource` subclass; ``"SCHEME:REST"`` builds ``cls(REST)``. The
registry is a `tokenprovider._registry.PluginRegistry`, as the providers' is, made on
first use.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from tokenprovider._registry import Kind, PluginRegistry

if TYPE_CHECKING:
    from tokenprovider.sources.base import AssertionSource

SOURCE_ENTRY_POINT_GROUP = "tokenprovider.sources"
#: The schemes built in; no plugin may take them.
BUILT_INS = {
    "file": "tokenprovider.sources.file:FileSource",
    "env": "tokenprovider.sources.environment:EnvSource",
    "github-actions": "tokenprovider.sources.github_actions:GitHubActionsSource",
    "profile": "tokenprovider.sources.provider:ProviderSource",
}
SCHEME = re.compile(r"[a-z][a-z0-9_-]*")

S = TypeVar("S", bound="type[AssertionSource]")
_made: list[PluginRegistry[AssertionSource]] = []
_making = threading.Lock()


def registry() -> PluginRegistry[AssertionSource]:
    """The registry of source schemes (one per process)."""
    with _making:
        if not _made:
            kind = Kind(
                "assertion source",
                "tokenprovider.sources.base:AssertionSource",
                SCHEME,
                "lower case letters, digits, _ and -",
            )
            _made.append(PluginRegistry(BUILT_INS, SOURCE_ENTRY_POINT_GROUP, kind))
        return _made[0]


def register_source(scheme: str) -> Callable[[S], S]:
    """Class decorator: make an `AssertionSource` subclass available as ``"SCHEME:REST"``;
    its constructor takes the text after ``SCHEME:``.

    >>> @register_source("vault-jwt")
    ... class VaultJWTSource(AssertionSource): ...
    """

    def decorate(cls: S) -> S:
        registry().register(scheme, cls)
        return cls

    return decorate
