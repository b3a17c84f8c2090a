"""pytest fixtures for testing code that uses token providers (loaded automatically).

- ``oauth_server``: a started `LocalOAuthServer` with one client, ``client``/``secret``;
- ``foreign_server``: a started `RecordingHTTPServer`, a host that must never see a token;
- ``fake_clock``: a `FakeClock` to inject as ``clock=``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tokenprovider.testing.clock import FakeClock
from tokenprovider.testing.http_recorder import RecordingHTTPServer
from tokenprovider.testing.oauth_server import LocalOAuthServer


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
