"""Local servers and fixtures for testing code that uses token providers.

Every server listens on 127.0.0.1 on a port the OS picks. The pytest fixtures
(``oauth_server``, ``foreign_server``, ``fake_clock``, ``tds_dispenser``) load automatically
through the ``pytest11`` entry point once tokenprovider is installed.

`FakeClock`, `wait_for_refresh`, `LocalOAuthServer`, `RecordingHTTPServer` and
`LocalLambdaServer` need only the standard library; signed assertions (`key_pair`,
`LocalGitHubActionsOIDC`, the assertion checks of `LocalOAuthServer`) need PyJWT and
cryptography (the ``jwt`` extra), imported when first used. The AWS helpers load when first
used; `MotoServer`, `LocalTokenDispenser` and the ``tds_dispenser`` fixture need the
``testing`` extra (``pip install 'tokenprovider[testing]'``): without it, starting one
raises `tokenprovider.errors.MissingExtraError` saying so.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tokenprovider.testing._assertions import TokenExchangeRecord
from tokenprovider.testing.clock import FakeClock
from tokenprovider.testing.github_actions import LocalGitHubActionsOIDC
from tokenprovider.testing.http_recorder import RecordedRequest, RecordingHTTPServer
from tokenprovider.testing.keys import ALGORITHMS, KeyPair, key_pair
from tokenprovider.testing.oauth_server import LocalOAuthServer, TokenRequestRecord
from tokenprovider.testing.refresh import wait_for_refresh

if TYPE_CHECKING:
    from tokenprovider.testing.lambda_server import Invocation, LambdaContext, LocalLambdaServer
    from tokenprovider.testing.moto import MotoServer
    from tokenprovider.testing.tds_dispenser import LocalTokenDispenser, TokenDispenserHandler

#: Exported names whose modules load on first use (they need boto3 or moto).
_LAZY = {
    "Invocation": "lambda_server",
    "LambdaContext": "lambda_server",
    "LocalLambdaServer": "lambda_server",
    "LocalTokenDispenser": "tds_dispenser",
    "MotoServer": "moto",
    "TokenDispenserHandler": "tds_dispenser",
}

__all__ = [
    "ALGORITHMS",
    "FakeClock",
    "Invocation",
    "KeyPair",
    "LambdaContext",
    "LocalGitHubActionsOIDC",
    "LocalLambdaServer",
    "LocalOAuthServer",
    "LocalTokenDispenser",
    "MotoServer",
    "RecordedRequest",
    "RecordingHTTPServer",
    "TokenDispenserHandler",
    "TokenExchangeRecord",
    "TokenRequestRecord",
    "key_pair",
    "wait_for_refresh",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
