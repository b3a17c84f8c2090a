"""tokenprovider: fetch, cache, refresh and attach bearer tokens.

>>> provider = OAuthTokenProvider("api.example.com", "reporting", "secret",
...                               token_url="https://login.example.com/oauth2/token")
>>> requests.get("https://api.example.com/items", auth=provider)  # doctest: +SKIP

Names are imported on first use, so ``import tokenprovider`` (and the command line)
stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tokenprovider._lazy import lazy

if TYPE_CHECKING:
    from tokenprovider.caches import (
        DynamoDBTokenCache,
        FileTokenCache,
        MemoryTokenCache,
        TokenCache,
    )
    from tokenprovider.config import (
        load_provider,
        parse_credentials_config,
        register_provider,
    )
    from tokenprovider.core.cached import CachedTokenProvider
    from tokenprovider.core.clock import SYSTEM_CLOCK, Clock, SystemClock
    from tokenprovider.core.events import TokenEvent
    from tokenprovider.core.host import Host
    from tokenprovider.core.provider import TokenProvider
    from tokenprovider.errors import (
        AssertionSourceError,
        CacheError,
        ConfigurationError,
        DiscoveryError,
        InvalidHostError,
        LoginError,
        LoginRequiredError,
        LoginStoreError,
        MalformedTokenError,
        MalformedTokenResponseError,
        OAuthError,
        PluginError,
        SecretReferenceError,
        TDSError,
        TokenEndpointError,
        TokenExpiredError,
        TokenExpiredOnArrivalError,
        TokenProviderError,
        TokenRequestError,
    )
    from tokenprovider.providers.jwt import JWTTokenProvider
    from tokenprovider.providers.oauth import OAuthTokenProvider
    from tokenprovider.providers.tds import TDSTokenProvider
    from tokenprovider.retry import RetryPolicy
    from tokenprovider.secret_refs import SecretReference

__version__ = "0.1.0"

_HOMES = {
    "tokenprovider.core.cached": ("CachedTokenProvider",),
    "tokenprovider.caches": (
        "DynamoDBTokenCache",
        "FileTokenCache",
        "MemoryTokenCache",
        "TokenCache",
    ),
    "tokenprovider.core.clock": ("SYSTEM_CLOCK", "Clock", "SystemClock"),
    "tokenprovider.core.events": ("TokenEvent",),
    "tokenprovider.config": ("load_provider", "parse_credentials_config", "register_provider"),
    "tokenprovider.errors": (
        "AssertionSourceError",
        "CacheError",
        "ConfigurationError",
        "DiscoveryError",
        "InvalidHostError",
        "LoginError",
        "LoginRequiredError",
        "LoginStoreError",
        "MalformedTokenError",
        "MalformedTokenResponseError",
        "OAuthError",
        "PluginError",
        "SecretReferenceError",
        "TDSError",
        "TokenEndpointError",
        "TokenExpiredError",
        "TokenExpiredOnArrivalError",
        "TokenProviderError",
        "TokenRequestError",
    ),
    "tokenprovider.core.host": ("Host",),
    "tokenprovider.core.provider": ("TokenProvider",),
    "tokenprovider.providers.jwt": ("JWTTokenProvider",),
    "tokenprovider.providers.oauth": ("OAuthTokenProvider",),
    "tokenprovider.providers.tds": ("TDSTokenProvider",),
    "tokenprovider.retry": ("RetryPolicy",),
    "tokenprovider.secret_refs": ("SecretReference",),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "SYSTEM_CLOCK",
    "AssertionSourceError",
    "CacheError",
    "CachedTokenProvider",
    "Clock",
    "ConfigurationError",
    "DiscoveryError",
    "DynamoDBTokenCache",
    "FileTokenCache",
    "Host",
    "InvalidHostError",
    "JWTTokenProvider",
    "LoginError",
    "LoginRequiredError",
    "LoginStoreError",
    "MalformedTokenError",
    "MalformedTokenResponseError",
    "MemoryTokenCache",
    "OAuthError",
    "OAuthTokenProvider",
    "PluginError",
    "RetryPolicy",
    "SecretReference",
    "SecretReferenceError",
    "SystemClock",
    "TDSError",
    "TDSTokenProvider",
    "TokenCache",
    "TokenEndpointError",
    "TokenEvent",
    "TokenExpiredError",
    "TokenExpiredOnArrivalError",
    "TokenProvider",
    "TokenProviderError",
    "TokenRequestError",
    "__version__",
    "load_provider",
    "parse_credentials_config",
    "register_provider",
]


__getattr__, __dir__ = lazy(globals(), _MODULE_OF)
