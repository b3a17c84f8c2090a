"""A local HTTP server that records every request: a stand-in "foreign host" for tests."""

from __future__ import annotations

import abc
import contextlib
import json
import socket
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from tokenprovider.testing.running import Running

_S = TypeVar("_S", bound="_BackgroundServer")
_MAX_LINE = 65536
_POLL_INTERVAL = 0.05  # bounds how long stop() waits for the serving loop


class _Handler(BaseHTTPRequestHandler):
    """Request handler that reads the body and hands the request to the owning server."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm
    # and the client's delayed ACK add ~40 ms to every keep-alive response.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def setup(self) -> None:
        """Register the connection so that stopping the server can close it."""
        super().setup()
        self.server.track(self.connection, open_=True)

    def finish(self) -> None:
        """Unregister the connection."""
        try:
            super().finish()
        finally:
            self.server.track(self.connection, open_=False)

    def _dispatch(self) -> None:
        try:
            body = self.read_body()
        except ValueError:
            self.close_connection = True
            self.respond_json(400, {"error": "invalid_request"})
            return
        self.server.app.handle(self, body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _dispatch  # noqa: N815

    def read_body(self) -> bytes:
        """Read the request body, by Content-Length or chunked transfer coding."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while size := int(self.rfile.readline(_MAX_LINE).split(b";", 1)[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline(_MAX_LINE)
            while self.rfile.readline(_MAX_LINE).strip():  # trailer section
                pass
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def header_dict(self) -> dict[str, str]:
        """The request headers with lower-cased names."""
        return {name.lower(): value for name, value in self.headers.items()}

    def respond(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Send a complete response."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def respond_json(
        self, status: int, payload: object, headers: Mapping[str, str] | None = None
    ) -> None:
        """Send a JSON response."""
        self.respond(status, json.dumps(payload).encode(), "application/json", headers)

    def drop(self) -> None:
        """Close the connection abruptly without writing a response."""
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer on 127.0.0.1 that knows its owner and its open connections."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, app: _BackgroundServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.app = app
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def track(self, connection: socket.socket, *, open_: bool) -> None:
        """Add or remove an open client connection."""
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        """Shut down every open client connection."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that went away; report anything else."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _BackgroundServer(Running):
    """An HTTP server on 127.0.0.1 with an OS-chosen port, served from a daemon thread."""

    def __init__(self) -> None:
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    @abc.abstractmethod
    def handle(self, request: _Handler, body: bytes) -> None:
        """Answer one request whose body has already been read."""

    def start(self: _S) -> _S:
        """Bind a port and start serving; returns self."""
        if self._httpd is not None:
            raise RuntimeError("server already started")
        self._httpd = _Server(self)
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL},
            name=type(self).__name__,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the socket and all connections; safe to call twice."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._httpd = self._thread = None
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if thread is not None:
            thread.join()

    @property
    def domain(self) -> str:
        """``127.0.0.1:PORT`` (still available after stop)."""
        if self._port is None:
            raise RuntimeError("server not started")
        return f"127.0.0.1:{self._port}"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.domain}"


@dataclass(frozen=True)
class RecordedRequest:
    """One request received by a RecordingHTTPServer."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


class RecordingHTTPServer(_BackgroundServer):
    """Answers every request with 200 ``{"ok": true}`` (or a redirect) and records it.

    Set ``redirect_to`` to answer 302 with ``Location: redirect_to + path`` instead.
    """

    def __init__(self, redirect_to: str | None = None) -> None:
        super().__init__()
        self.redirect_to = redirect_to
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the requests received so far."""
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self._requests.clear()

    def handle(self, request: _Handler, body: bytes) -> None:
        """Record the request, then answer it."""
        record = RecordedRequest(request.command, request.path, request.header_dict(), body)
        with self._lock:
            self._requests.append(record)
        if self.redirect_to is not None:
            request.respond(302, b"", "text/plain", {"Location": self.redirect_to + request.path})
        else:
            request.respond_json(200, {"ok": True})
