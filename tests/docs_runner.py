"""The child program of tests/test_docs.py: run one page's Python blocks, loopback only.

``python docs_runner.py PLAN.json``. The plan (written by `test_docs.plan`) names the page,
the certificate files, the hosts to serve and the steps: each step is a block with its
directives. Everything runs in this one process, in page order, in one namespace.

First of all a guard goes into ``socket``: resolving a name or connecting to an address
that is not loopback fails (and is recorded), except for the mapped hosts, which resolve
to local TLS fronts. Any attempt to reach further fails the page, even one a snippet
caught. Exit 0 when every block ran.
"""

from __future__ import annotations

import ipaddress
import json
import os
import select
import socket
import ssl
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

#: Every attempt to go beyond loopback: (what, where).
BLOCKED: list[tuple[str, str]] = []
#: Mapped host name -> port of its TLS front on 127.0.0.1 (filled in by `serve_hosts`).
FRONTS: dict[str, int] = {}
#: Mapped host name -> the loopback address it resolves to, one for each name: a client
#: may connect to port 443 of the address it resolved, not to the port it was given (anyio,
#: under httpx.AsyncClient, does), so `_routed` sends that address to the name's front.
ADDRESSES: dict[str, str] = {}

_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_sendto = socket.socket.sendto


def _is_loopback(host: object) -> bool:
    if not isinstance(host, str):
        return False
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _block(what: str, where: object) -> OSError:
    BLOCKED.append((what, repr(where)))
    return OSError(f"docs harness: no network beyond loopback ({what} {where!r})")


def _getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
    name = host.decode() if isinstance(host, bytes) else host
    if isinstance(name, str) and name.lower().rstrip(".") in FRONTS:
        if str(port) not in ("443", "https", "None"):
            raise _block("resolve", f"{name}:{port}")
        address = ADDRESSES[name.lower().rstrip(".")]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, 443))]
    if name is None or _is_loopback(name):
        return _real_getaddrinfo(host, port, *args, **kwargs)
    raise socket.gaierror(socket.EAI_NONAME, str(_block("resolve", name)))


def _checked(address: Any) -> None:
    if isinstance(address, tuple) and not _is_loopback(address[0]):
        raise _block("connect", address)


def _routed(address: Any) -> Any:
    """A mapped host's address on port 443 -> its TLS front; any other as it is."""
    if isinstance(address, tuple) and address[1:2] == (443,):
        for name, mapped in ADDRESSES.items():
            if address[0] == mapped:
                return ("127.0.0.1", FRONTS[name])
    return address


def _connect(self: socket.socket, address: Any) -> None:
    _checked(address)
    _real_connect(self, _routed(address))


def _connect_ex(self: socket.socket, address: Any) -> int:
    _checked(address)
    return _real_connect_ex(self, _routed(address))


def _sendto(self: socket.socket, data: Any, *args: Any) -> int:
    _checked(args[-1])
    return _real_sendto(self, data, *args)  # type: ignore[call-overload,no-any-return]


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise _block("resolve", args[0] if args else None)


def install_guard() -> None:
    """Refuse every name and address that is not loopback (mapped hosts excepted)."""
    socket.getaddrinfo = _getaddrinfo
    socket.gethostbyname = _refuse
    socket.gethostbyname_ex = _refuse
    socket.socket.connect = _connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = _sendto  # type: ignore[method-assign]


# -- mapped hosts: TLS on 127.0.0.1, in front of the plain-HTTP local servers -----------------


class TLSFront:
    """Accept TLS on 127.0.0.1 (a certificate for every mapped name) and pass the bytes on
    to a plain-HTTP server on loopback."""

    def __init__(self, context: ssl.SSLContext, backend: tuple[str, int]) -> None:
        self.context = context
        self.backend = backend
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            client, _ = self.listener.accept()
            threading.Thread(target=self._pump, args=(client,), daemon=True).start()

    def _pump(self, client: socket.socket) -> None:
        try:
            tls = self.context.wrap_socket(client, server_side=True)
        except OSError:
            client.close()
            return
        with tls, socket.create_connection(self.backend) as upstream:
            while True:
                ready = [tls] if tls.pending() else select.select([tls, upstream], [], [], 60)[0]
                if not ready:
                    return
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is tls else tls).sendall(data)


def serve_hosts(plan: dict[str, Any]) -> dict[str, Any]:
    """Start the local servers and a TLS front for each mapped host; returns the servers."""
    from tokenprovider.testing import LocalOAuthServer, RecordingHTTPServer  # noqa: PLC0415

    oauth = LocalOAuthServer(clients={plan["client_id"]: plan["client_secret"]}).start()
    api = RecordingHTTPServer().start()
    backends = {"oauth": ("127.0.0.1", int(oauth.domain.rpartition(":")[2]))}
    backends["api"] = ("127.0.0.1", int(api.url.rpartition(":")[2]))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(plan["cert"], plan["key"])
    for number, (name, role) in enumerate(plan["hosts"].items(), start=2):
        FRONTS[name] = TLSFront(context, backends[role]).port
        ADDRESSES[name] = f"127.0.0.{number}"
    return {"oauth": oauth, "api": api}


# -- the blocks ---------------------------------------------------------------------------------


def _code(step: dict[str, Any], text: str, line: int) -> Any:
    """``text`` compiled so that tracebacks name the page and its line."""
    return compile("\n" * (line - 1) + text, step["path"], "exec")


def _start_tds(namespace: dict[str, Any]) -> None:
    from tokenprovider.testing import LocalTokenDispenser  # noqa: PLC0415

    dispenser = LocalTokenDispenser(prefix="sit", region="us-west-2").start()
    os.environ.update(dispenser.env)
    namespace.setdefault("__docs_dispenser__", dispenser)


def _run_pytest(step: dict[str, Any], work: Path) -> None:
    import pytest  # noqa: PLC0415

    module = work / f"test_snippet_{step['line']}.py"
    module.write_text("\n".join([step.get("setup", ""), "\n" * 2, step["code"]]), encoding="utf-8")
    # hypothesis's plugin is left out: no block needs it, and it takes over a second to load
    args = [str(module), "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest"]
    code = pytest.main([*args, "--rootdir", str(work)])
    if code != 0:
        raise AssertionError(f"pytest exited {code} for the block at line {step['line']}")


def run(plan: dict[str, Any]) -> int:
    install_guard()
    serve_hosts(plan)
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    work = Path.cwd()
    for step in plan["steps"]:
        where = f"{plan['page']}:{step['line']}"
        try:
            if "tds" in step["directives"]:
                _start_tds(namespace)
            if "pytest" in step["directives"]:
                _run_pytest(step, work)
            else:
                if step.get("setup"):
                    exec(_code(step, step["setup"], step["setup_line"]), namespace)
                exec(_code(step, step["code"], step["line"]), namespace)
        except BaseException:
            print(f"the block at {where} failed:", file=sys.stderr)
            traceback.print_exc()
            return 1
        print(f"ran {where}")
    if BLOCKED:
        print(f"blocked attempts to go beyond loopback: {BLOCKED}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))))
