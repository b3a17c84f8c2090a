"""moto's server mode on 127.0.0.1, for SSM, DynamoDB and Secrets Manager in tests.

Needs ``moto[server]`` (in the ``dev`` extra); imported only when a server is started.
"""

from __future__ import annotations

import logging
import urllib.request
from typing import Any

from tokenprovider.testing.running import Running


class MotoServer(Running):
    """A moto server on a free loopback port: ``with MotoServer() as moto: moto.url``."""

    def __init__(self) -> None:
        self._server: Any = None
        self.url = ""

    def start(self) -> MotoServer:
        """Start serving; returns self."""
        from moto.server import ThreadedMotoServer  # noqa: PLC0415 - test dependency

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
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
