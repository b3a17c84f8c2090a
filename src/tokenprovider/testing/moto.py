"""moto's server mode on 127.0.0.1, for SSM, DynamoDB and Secrets Manager in tests.

Needs ``moto[server]`` and boto3 (the ``testing`` extra); imported only when a server is
started. Without them, starting one is a `MissingExtraError` naming the extra.
"""

from __future__ import annotations

import logging
import urllib.request
from types import ModuleType
from typing import Any

from tokenprovider._extras import missing_text, require
from tokenprovider.errors import MissingExtraError
from tokenprovider.testing.running import Running


def require_testing(module: str, needed_by: str) -> ModuleType:
    """Import ``module`` (``"moto.server"``, ``"boto3"``...) for a testing helper, as
    `tokenprovider._extras.require` does, but naming the ``testing`` extra whatever is
    missing (moto, its server's Flask, boto3): that extra installs all of them."""
    try:
        return require(module, needed_by)
    except (MissingExtraError, ModuleNotFoundError) as exc:
        # require's error keeps the ModuleNotFoundError as its context: it has the name
        found = exc.__context__ if isinstance(exc, MissingExtraError) else exc
        missing = getattr(found, "name", None) or module
        raise MissingExtraError(
            missing_text(needed_by, missing.partition(".")[0], "testing")
        ) from None


class MotoServer(Running):
    """A moto server on a free loopback port: ``with MotoServer() as moto: moto.url``."""

    def __init__(self) -> None:
        self._server: Any = None
        self.url = ""

    def start(self) -> MotoServer:
        """Start serving; returns self."""
        server = require_testing("moto.server", "tokenprovider.testing.MotoServer")

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request

        self._server = server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self

    def reset(self) -> None:
        """Forget every resource created so far."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
        request = urllib.request.Request(f"{self.url}/moto-api/reset", data=b"", method="POST")
        with opener.open(request, timeout=10) as response:
            response.read()

    def stop(self) -> None:
        """Stop the server; safe to call twice."""
        if self._server is not None:
            self._server.stop()
            self._server = None
