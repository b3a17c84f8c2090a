"""A small plugin provider, installed only while tests/test_cli_config.py runs."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from tokenprovider.core.cached import CachedTokenProvider
from tokenprovider.core.host import Host
from tokenprovider.errors import ConfigurationError


class AcmeTokenProvider(CachedTokenProvider):
    """Mints ``acme-<lifetime>-<digest of api_key>`` tokens locally."""

    def __init__(self, host: Host | str, api_key: str, lifetime: int = 60, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        if type(lifetime) is not int:  # configuration must convert "30" to 30
            raise ConfigurationError(f"lifetime must be an int, got {type(lifetime).__name__}")
        self._api_key = api_key
        self.lifetime = lifetime

    def _request_token(self) -> tuple[str, float]:
        return acme_token(self._api_key, self.lifetime), time.time() + self.lifetime


def acme_token(api_key: str, lifetime: int) -> str:
    """The token the provider mints (the tests compute it too)."""
    digest = hashlib.sha256(api_key.encode()).hexdigest()[:12]
    return f"acme-{lifetime}-{digest}"
