"""tokenprovider: fetch, cache, refresh and attach bearer tokens.

>>> provider = OAuthTokenProvider("api.example.com", "reporting", "secret",
...                               token_url="https://login.example.com/oauth2/token")
>>> requests.get("https://api.example.com/items", auth=provider)  # doctest: +SKIP
"""

from tokenprovider.cached import CachedTokenProvider
from tokenprovider.clock import SYSTEM_CLOCK, Clock, SystemClock
from tokenprovider.errors import (
    ConfigurationError,
    DiscoveryError,
    InvalidHostError,
    MalformedTokenError,
    MalformedTokenResponseError,
    OAuthError,
    TokenEndpointError,
    TokenExpiredError,
    TokenProviderError,
    TokenRequestError,
)
from tokenprovider.host import Host
from tokenprovider.provider import TokenProvider
from tokenprovider.providers.jwt import JWTTokenProvider
from tokenprovider.providers.oauth import OAuthTokenProvider
from tokenprovider.retry import RetryPolicy

__version__ = "0.1.0"

__all__ = [
    "SYSTEM_CLOCK",
    "CachedTokenProvider",
    "Clock",
    "ConfigurationError",
    "DiscoveryError",
    "Host",
    "InvalidHostError",
    "JWTTokenProvider",
    "MalformedTokenError",
    "MalformedTokenResponseError",
    "OAuthError",
    "OAuthTokenProvider",
    "RetryPolicy",
    "SystemClock",
    "TokenEndpointError",
    "TokenExpiredError",
    "TokenProvider",
    "TokenProviderError",
    "TokenRequestError",
    "__version__",
]
