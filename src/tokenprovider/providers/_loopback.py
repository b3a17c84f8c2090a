"""The loopback redirect of a browser login (RFC 8252 §7.3): one callback, then closed.

`LoopbackListener` binds 127.0.0.1 (and [::1] on the same port where it can) before the
browser opens, answers one request to ``/callback`` (other paths get a 404 and it keeps
waiting), checks ``state`` and shows the person a page saying whether the login worked,
never the code. Hostile local clients are expected: a request head is read up to
`MAX_HEAD` bytes within `CONNECTION_SECONDS`, several connections are served at once (a
browser opens idle ones), nothing of a request (line, query, headers) is logged, and
every socket is closed whatever happens.
"""

from __future__ import annotations

import html
import http
import logging
import secrets
import selectors
import socket
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import cast

from tokenprovider._untrusted import quote
from tokenprovider.errors import ConfigurationError, LoginError

logger = logging.getLogger("tokenprovider")

#: The path of the redirect URI, ``http://127.0.0.1:PORT/callback``.
CALLBACK_PATH = "/callback"
#: The most a request line and its headers may take, in bytes.
MAX_HEAD = 16 * 1024
#: How long one connection may take to send its request head.
CONNECTION_SECONDS = 5.0
#: Connections served at once; more are closed at once.
_MAX_CONNECTIONS = 16
#: Server text (``error``, ``error_description``) shown or quoted is cut to this.
_TEXT_LIMIT = 200
_AGAIN = "log in again"
_CLOSE = "You can close this window."
_HEADERS = (
    "Content-Type: text/html; charset=utf-8",
    "Cache-Control: no-store",
    "Content-Security-Policy: default-src 'none'",
    "Referrer-Policy: no-referrer",
    "X-Content-Type-Options: nosniff",
    "X-Frame-Options: DENY",
    "Connection: close",
)


@dataclass(frozen=True)
class _Failure:
    """Why a callback does not log the person in: for the page and for the error."""

    title: str
    page: str
    message: str


@dataclass
class _Connection:
    sock: socket.socket
    deadline: float
    head: bytearray = field(default_factory=bytearray)


class LoopbackListener:
    """Waits for one authorization redirect to ``http://127.0.0.1:PORT/callback``.

    Binds at once, on an ephemeral port or on the first free one of ``ports``
    (`LoginError` naming them when none is); `wait` serves and closes. Also a context
    manager that closes it.
    """

    def __init__(self, state: str, ports: Sequence[int] | None = None) -> None:
        self._state = state
        self._sockets = _bind(ports)
        self.port: int = self._sockets[0].getsockname()[1]
        self.redirect_uri = f"http://127.0.0.1:{self.port}{CALLBACK_PATH}"

    def __enter__(self) -> LoopbackListener:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the listening sockets; safe to call twice."""
        for sock in self._sockets:
            sock.close()

    def wait(self, timeout: float) -> str:
        """The authorization code of the first callback. `LoginError` when it reports a
        failure (denied, a server error, a wrong ``state``, no code) or none arrives
        within ``timeout`` seconds. Closes the listener."""
        deadline = time.monotonic() + timeout
        logger.debug("waiting for the login redirect on 127.0.0.1:%d", self.port)
        selector = selectors.DefaultSelector()
        clients: dict[socket.socket, _Connection] = {}
        try:
            for sock in self._sockets:
                selector.register(sock, selectors.EVENT_READ)
            while True:
                now = time.monotonic()
                for client in [c for c in clients.values() if c.deadline <= now]:
                    _drop(selector, clients, client)
                if now >= deadline:
                    raise LoginError(
                        f"no redirect arrived within {timeout:g}s; {_AGAIN}, or "
                        "use the device flow (`--device`) on a machine without a browser"
                    )
                wake = min([deadline, *(c.deadline for c in clients.values())])
                for key, _ in selector.select(wake - now):
                    answer = self._serve(selector, clients, key)
                    if isinstance(answer, _Failure):
                        logger.debug("the login redirect reported a failure: %s", answer.title)
                        raise LoginError(answer.message)
                    if answer is not None:
                        logger.debug("the login redirect brought an authorization code")
                        return answer
        finally:
            for client in list(clients.values()):
                _drop(selector, clients, client)
            selector.close()
            self.close()

    def _serve(
        self,
        selector: selectors.BaseSelector,
        clients: dict[socket.socket, _Connection],
        key: selectors.SelectorKey,
    ) -> str | _Failure | None:
        """Accept a connection or read from one; the callback's outcome once it came."""
        client = key.data
        if not isinstance(client, _Connection):
            _accept(cast(socket.socket, key.fileobj), selector, clients)
            return None
        try:
            chunk = client.sock.recv(4096)
        except BlockingIOError:
            return None
        except OSError:
            chunk = b""
        client.head += chunk
        if chunk and len(client.head) <= MAX_HEAD:
            if b"\r\n\r\n" in client.head or b"\n\n" in client.head:
                return self._answer(client, selector, clients)
            return None
        if chunk:
            _reply(client, 431, "Request too large", "The request was too large.")
        _drop(selector, clients, client)
        return None

    def _answer(
        self,
        client: _Connection,
        selector: selectors.BaseSelector,
        clients: dict[socket.socket, _Connection],
    ) -> str | _Failure | None:
        """Answer a complete request head; the outcome when it was the callback."""
        request = _request_line(bytes(client.head))
        outcome: str | _Failure | None = None
        if request is None:
            _reply(client, 400, "Bad request", "This is not a request this page understands.")
        elif request[0] != "GET":
            _reply(client, 405, "Method not allowed", "Only GET is allowed here.", "Allow: GET")
        elif request[1].path != CALLBACK_PATH:
            _reply(client, 404, "Not found", "Nothing here.")
        else:
            outcome = _judge(request[1].query, self._state)
            if isinstance(outcome, _Failure):
                _reply(client, 400, outcome.title, outcome.page)
            else:
                _reply(client, 200, "Logged in", f"You are logged in. {_CLOSE}")
        _drop(selector, clients, client)
        return outcome


def _request_line(head: bytes) -> tuple[str, urllib.parse.SplitResult] | None:
    """The method and target of a request head; None when it is not HTTP/1.x."""
    parts = head.split(b"\n", 1)[0].rstrip(b"\r").decode("latin-1").split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return None
    try:
        return parts[0], urllib.parse.urlsplit(parts[1])
    except ValueError:  # such as an unclosed "[" of an IPv6 host
        return None


def _judge(query: str, state: str) -> str | _Failure:
    """The code a callback query carries, or why it does not log the person in."""
    params = urllib.parse.parse_qs(query, keep_blank_values=True)

    def single(name: str) -> str | None:
        values = params.get(name, [])
        return values[0] if len(values) == 1 else None

    got = single("state")
    if got is None or not secrets.compare_digest(got.encode(), state.encode()):
        return _Failure(
            "Login failed",
            "This answer does not belong to the login that is waiting (the state does not "
            f"match), so it was refused. {_CLOSE} Then run the login again.",
            "the login redirect carried a state that does not match this login (a stale "
            f"browser tab, or a request forged by another page); {_AGAIN}",
        )
    error = single("error")
    if error is not None:
        said = quote(error, 64)
        description = single("error_description")
        if description:
            said += f" ({quote(description, _TEXT_LIMIT)})"
        if error == "access_denied":
            return _Failure(
                "Login refused",
                f"The login was refused: {said}. {_CLOSE}",
                f"the login was refused in the browser: {said}; {_AGAIN} and approve it",
            )
        return _Failure(
            "Login failed",
            f"The authorization server answered with an error: {said}. {_CLOSE}",
            f"the authorization server refused the login: {said}; check the client_id, "
            f"scopes and registered redirect URI, then {_AGAIN}",
        )
    code = single("code")
    if not code:
        return _Failure(
            "Login failed",
            f"The answer carried no authorization code. {_CLOSE} Then run the login again.",
            f"the login redirect carried no authorization code; {_AGAIN}",
        )
    return code


def _reply(client: _Connection, status: int, title: str, text: str, *extra: str) -> None:
    """Send a small HTML page (``text`` is plain) and ``extra`` header lines."""
    body = (
        "<!doctype html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head>\n<body><h1>{html.escape(title)}</h1>\n"
        f"<p>{html.escape(text)}</p>\n</body></html>\n"
    ).encode()
    lines = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}", *_HEADERS, *extra]
    head = "\r\n".join([*lines, f"Content-Length: {len(body)}", "", ""]).encode()
    try:
        client.sock.settimeout(CONNECTION_SECONDS)
        client.sock.sendall(head + body)
        client.sock.shutdown(socket.SHUT_WR)
    except OSError:
        return


def _accept(
    listening: socket.socket,
    selector: selectors.BaseSelector,
    clients: dict[socket.socket, _Connection],
) -> None:
    try:
        sock, _ = listening.accept()
    except OSError:
        return
    if len(clients) >= _MAX_CONNECTIONS:
        # Full: make room by dropping the oldest connection that has sent nothing (idle
        # ones, which browsers open and other local programs could hoard), else refuse.
        idle = [client for client in clients.values() if not client.head]
        if not idle:
            sock.close()
            return
        _drop(selector, clients, min(idle, key=lambda client: client.deadline))
    sock.setblocking(False)
    clients[sock] = _Connection(sock, time.monotonic() + CONNECTION_SECONDS)
    selector.register(sock, selectors.EVENT_READ, clients[sock])


def _drop(
    selector: selectors.BaseSelector,
    clients: dict[socket.socket, _Connection],
    client: _Connection,
) -> None:
    if clients.pop(client.sock, None) is not None:
        selector.unregister(client.sock)
    client.sock.close()


def _bind(ports: Sequence[int] | None) -> list[socket.socket]:
    """127.0.0.1 on an ephemeral port or the first free one of ``ports``, then [::1]."""
    if ports is None:
        first = socket.create_server(("127.0.0.1", 0))
    else:
        if not ports or any(not 0 < port < 65536 for port in ports):
            raise ConfigurationError(
                f"redirect_port must list ports from 1 to 65535, got {list(ports)[:10]}"
            )
        for port in ports:
            try:
                first = socket.create_server(("127.0.0.1", port))
                break
            except OSError:
                continue
        else:
            raise LoginError(
                f"none of the configured redirect ports is free on 127.0.0.1 "
                f"({_port_list(ports)}); stop what listens there, or change the setting "
                "`redirect_port` to ports registered for this client at the server"
            )
    sockets = [first]
    try:
        sockets.append(
            socket.create_server(("::1", first.getsockname()[1]), family=socket.AF_INET6)
        )
    except OSError:
        logger.debug("no IPv6 loopback listener: [::1] is not available on this port")
    for sock in sockets:
        sock.setblocking(False)
    return sockets


def _port_list(ports: Sequence[int]) -> str:
    """``8400-8409, 8500``: the ports, consecutive runs shortened."""
    runs: list[list[int]] = []
    for port in ports:
        if runs and port == runs[-1][-1] + 1:
            runs[-1].append(port)
        else:
            runs.append([port])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)
