"""The provider registry: built-ins, in-code registrations and entry-point plugins.

Plugins come from the entry-point group ``tokenprovider.providers``. Their metadata is
read on the first lookup; a plugin's module is imported only when its name is asked for
or when every provider is listed. A plugin that is not a `TokenProvider` subclass, or
that takes a name already in use, raises `PluginError` naming both: nothing is silently
overridden. The rules live in `tokenprovider._registry.PluginRegistry`, which keeps assertion
source schemes too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from tokenprovider._registry import Kind, PluginRegistry

if TYPE_CHECKING:
    from tokenprovider.core.provider import TokenProvider

ENTRY_POINT_GROUP = "tokenprovider.providers"
BUILT_INS = {
    "jwt": "tokenprovider.providers.jwt:JWTTokenProvider",
    "oauth": "tokenprovider.providers.oauth:OAuthTokenProvider",
    "tds": "tokenprovider.providers.tds:TDSTokenProvider",
}
_NAME = re.compile(r"[a-z][a-z0-9_]*")

P = TypeVar("P", bound="type[TokenProvider]")
T = TypeVar("T")


PROVIDERS = Kind(
    "provider",
    "tokenprovider.core.provider:TokenProvider",
    _NAME,
    "lower case letters, digits and _",
)


class Registry(PluginRegistry["TokenProvider"]):
    """Provider names and the classes behind them."""

    def __init__(
        self, built_ins: dict[str, str] | None = None, group: str = ENTRY_POINT_GROUP
    ) -> None:
        super().__init__(BUILT_INS if built_ins is None else built_ins, group, PROVIDERS)


registry = Registry()


def register_provider(name: str) -> Callable[[P], P]:
    """Class decorator: make a `TokenProvider` subclass available in configuration as ``name``.

    >>> @register_provider("vault")
    ... class VaultTokenProvider(CachedTokenProvider): ...
    """

    def decorate(cls: P) -> P:
        registry.register(name, cls)
        return cls

    return decorate
