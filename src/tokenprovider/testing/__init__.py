"""Local servers and fixtures for testing code that uses token providers.

Standard library only; every server listens on 127.0.0.1 on a port the OS picks. The pytest
fixtures (``oauth_server``, ``foreign_server``, ``fake_clock``) load automatically through
the ``pytest11`` entry point once tokenprovider is installed.
"""

from tokenprovider.testing.clock import FakeClock
from tokenprovider.testing.http_recorder import RecordedRequest, RecordingHTTPServer
from tokenprovider.testing.oauth_server import LocalOAuthServer, TokenRequestRecord

__all__ = [
    "FakeClock",
    "LocalOAuthServer",
    "RecordedRequest",
    "RecordingHTTPServer",
    "TokenRequestRecord",
]
