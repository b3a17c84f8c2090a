"""moto's server mode on 127.0.0.1, for SSM, DynamoDB and Secrets Manager in tests.

Needs ``moto[server]`` (in the ``dev`` extra); imported only when a server is started.
"""

from __future__ import annotations

import logging
import urllib.request
from types import TracebackType
from typing import Any


class MotoServer:
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
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def stop(self) -> None:
        """Stop the server; safe to call twice."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
