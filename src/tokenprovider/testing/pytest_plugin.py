"""pytest fixtures for testing code that uses token providers (loaded automatically).

- ``oauth_server``: a started `LocalOAuthServer` with one client, ``client``/``secret``;
- ``foreign_server``: a started `RecordingHTTPServer`, a host that must never see a token;
- ``fake_clock``: a `FakeClock` to inject as ``clock=``;
- ``tds_dispenser``: the Token Dispenser stack on 127.0.0.1 (moto's server for SSM and
  DynamoDB, a local Lambda Invoke endpoint, the TDS handler, the SSM parameter), with
  tokenprovider pointed at it through environment variables. Needs the ``testing`` extra
  (``pip install 'tokenprovider[testing]'``); without it, a `MissingExtraError` says so.
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
    """A local OAuth2 server on 127.0.0.1 with client ``client`` / secret ``client-secret``."""
    with LocalOAuthServer() as server:
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
    """A started `LocalTokenDispenser`; ``AWS_*`` variables point tokenprovider at it.
    Without the ``testing`` extra, the test errors with a `MissingExtraError` naming it."""
    from tokenprovider.testing.moto import require_testing  # noqa: PLC0415
    from tokenprovider.testing.tds_dispenser import LocalTokenDispenser  # noqa: PLC0415

    for module in ("moto.server", "boto3"):
        require_testing(module, "the tds_dispenser fixture")

    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    with LocalTokenDispenser() as dispenser:
        for name, value in dispenser.env.items():
            monkeypatch.setenv(name, value)
        yield dispenser
