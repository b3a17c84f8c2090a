"""pytest fixtures for testing code that uses token providers (loaded automatically).

- ``oauth_server``: a started `LocalOAuthServer` with one client, ``client``/``secret``;
- ``foreign_server``: a started `RecordingHTTPServer`, a host that must never see a token;
- ``fake_clock``: a `FakeClock` to inject as ``clock=``;
- ``tds_dispenser``: the Token Dispenser stack on 127.0.0.1 (moto's server for SSM and
  DynamoDB, a local Lambda Invoke endpoint, the TDS handler, the SSM parameter), with
  boto3 pointed at it through environment variables. Needs ``moto[server]`` and boto3.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tokenprovider.testing.clock import FakeClock
from tokenprovider.testing.http_recorder import RecordingHTTPServer
from tokenprovider.testing.oauth_server import LocalOAuthServer

if TYPE_CHECKING:
    from tokenprovider.testing.tds_dispenser import LocalTokenDispenser


@pytest.fixture
def oauth_server() -> Iterator[LocalOAuthServer]:
    """A local OAuth2 server on 127.0.0.1 with client ``client`` / secret ``secret``."""
    with LocalOAuthServer(clients={"client": "secret"}) as server:
        yield server


@pytest.fixture
def foreign_server() -> Iterator[RecordingHTTPServer]:
    """A local HTTP server that records every request it receives."""
    with RecordingHTTPServer() as server:
        yield server


@pytest.fixture
def fake_clock() -> FakeClock:
    """A clock that moves only when the test says so."""
    return FakeClock()


@pytest.fixture
def tds_dispenser(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalTokenDispenser]:
    """A started `LocalTokenDispenser`; ``AWS_*`` variables point boto3 at it."""
    from tokenprovider.testing.tds_dispenser import (  # noqa: PLC0415 - loads moto and boto3
        LocalTokenDispenser,
    )

    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    with LocalTokenDispenser() as dispenser:
        for name, value in dispenser.env.items():
            monkeypatch.setenv(name, value)
        yield dispenser
