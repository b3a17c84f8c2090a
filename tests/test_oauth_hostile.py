"""OAuthTokenProvider against hostile token endpoints and discovery documents.

Hostile servers are raw sockets on 127.0.0.1 (some with TLS, from a self-signed
certificate made here): huge, endless and gzip-bomb bodies, bytes dripped into the
headers or the body, deeply nested JSON, numbers no float holds, floods of server text,
passwords hidden in URLs, and redirects that try to downgrade discovery to plain http.
Anything that could hang or eat memory without the fix runs in a child process with a
time bound (and a memory limit for the bomb).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import gzip
import ipaddress
import itertools
import json
import os
import socket
import ssl
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote, quote_plus

import pytest

from conftest import (
    CANARY_SECRET,
    all_log_text,
    assert_no_leak,
    closed_port,
    reachable_text,
    run_python,
)
from tokenprovider import (
    ConfigurationError,
    DiscoveryError,
    MalformedTokenResponseError,
    OAuthError,
    OAuthTokenProvider,
    RetryPolicy,
    TokenEndpointError,
    TokenRequestError,
)
from tokenprovider._untrusted import MAX_RESPONSE_BYTES
from tokenprovider.providers.oauth import MAX_REDIRECTS, WELL_KNOWN_PATHS
from tokenprovider.testing.clock import FakeClock
from tokenprovider.testing.oauth_server import LocalOAuthServer
from tokenprovider.testing.refresh import wait_for_refresh

METADATA_PATH = WELL_KNOWN_PATHS[0]
USERINFO = "must not contain a user name or password"

# -- hostile servers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One request a `RawServer` received (header names lower-cased)."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes


#: Answers one request on a connection; the event is set when the server stops.
Handler = Callable[[socket.socket, Request, threading.Event], None]


def response(status: int, body: bytes = b"", **headers: str) -> bytes:
    """A complete HTTP/1.1 response that closes the connection."""
    lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def json_response(payload: object, status: int = 200) -> bytes:
    return response(status, json.dumps(payload).encode(), Content_Type="application/json")


@dataclass
class RawServer:
    """A socket server on 127.0.0.1 (an ephemeral port) whose handler writes raw bytes.

    Each connection is served on a thread; `requests` lists what arrived. With ``tls``
    set, connections are wrapped in TLS with that server context.
    """

    handler: Handler
    tls: Any = None
    requests: list[Request] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self._listener.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), contextlib.closing(conn):
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            reader = conn.makefile("rb")
            request_line = reader.readline(65536).decode("latin-1").split()
            headers = {}
            while (line := reader.readline(65536)) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            body = reader.read(int(headers.get("content-length", "0")))
            request = Request(request_line[0], request_line[1], headers, body)
            with self._lock:
                self.requests.append(request)
            self.handler(conn, request, self.stopping)

    def stop(self) -> None:
        self.stopping.set()
        self._listener.close()
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def raw_server() -> Iterator[Callable[..., RawServer]]:
    """Start `RawServer`s for one test; all are stopped after it."""
    servers: list[RawServer] = []

    def start(handler: Handler, tls: Any = None) -> RawServer:
        servers.append(RawServer(handler, tls))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def answer(data: bytes) -> Handler:
    """A handler that answers every request with ``data``."""
    return lambda conn, request, stopping: conn.sendall(data)


def routes(table: dict[str, bytes]) -> Handler:
    """A handler answering by path (query ignored); 404 for any other."""

    def handle(conn: socket.socket, request: Request, stopping: threading.Event) -> None:
        conn.sendall(table.get(request.target.split("?")[0], response(404)))

    return handle


def drip(head: bytes) -> Handler:
    """Send ``head``, then one byte every half second until the server stops."""

    def handle(conn: socket.socket, request: Request, stopping: threading.Event) -> None:
        conn.sendall(head)
        while not stopping.wait(0.5):  # the drip's pace, not a synchronisation
            conn.sendall(b"x")

    return handle


def token_json(**fields: object) -> bytes:
    return json.dumps({"access_token": "tok", "token_type": "Bearer", **fields}).encode()


def fetch_error(provider: OAuthTokenProvider, error_type: type[Exception]) -> Any:
    with pytest.raises(error_type) as info:
        _ = provider.token
    assert_no_leak(str(info.value) + repr(info.value), CANARY_SECRET)
    return info.value


# -- running a fetch in a child process, bounded in time (and memory) ------------------------

CHILD = textwrap.dedent(
    """
    import json, sys, time
    spec = json.loads(sys.argv[1])
    from tokenprovider import OAuthTokenProvider, RetryPolicy
    provider = OAuthTokenProvider(
        spec["host"], "client", "client-secret", token_url=spec.get("token_url"),
        retry=RetryPolicy(**spec["retry"]),
    )
    started = time.monotonic()
    try:
        outcome = {"token": provider.token}
    except BaseException as exc:
        outcome = {"error": type(exc).__name__, "message": str(exc)[:2000]}
    outcome["elapsed"] = time.monotonic() - started
    print(json.dumps(outcome))
    """
)


def fetch_in_child(
    host: str,
    token_url: str | None,
    *,
    limit: float = 30,
    memory: int | None = None,
    env: dict[str, str] | None = None,
    **retry: float,
) -> dict[str, Any]:
    """Fetch a token in a child process killed after ``limit`` s; its outcome."""
    spec = {"host": host, "token_url": token_url, "retry": retry}
    child_env = {**os.environ, "MALLOC_ARENA_MAX": "2", **(env or {})}
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        if not env or name not in env:
            child_env.pop(name, None)
            child_env.pop(name.upper(), None)
    done = run_python("-c", CHILD, json.dumps(spec), timeout=limit, env=child_env, memory=memory)
    assert done.returncode == 0, done.stderr[-3000:]
    outcome: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return outcome


# -- bounded size ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cap", "size"),
    [(None, MAX_RESPONSE_BYTES + 1), (1000, 1001)],
    ids=["default-cap", "configured-cap"],
)
def test_token_response_over_the_cap_is_refused(oauth_server, cap, size):
    padding = "p" * (size - len(token_json(padding="")))
    body = token_json(padding=padding)
    assert len(body) == size
    oauth_server.respond_next(200, body)
    settings = {} if cap is None else {"max_response_bytes": cap}
    provider = OAuthTokenProvider(
        oauth_server.url, "client", CANARY_SECRET, token_url=oauth_server.token_url, **settings
    )
    error = fetch_error(provider, MalformedTokenResponseError)
    assert oauth_server.token_url in str(error)
    assert f"larger than the {cap or MAX_RESPONSE_BYTES}-byte cap" in str(error)
    assert oauth_server.token_requests == 1


def test_token_response_at_the_cap_is_accepted(oauth_server):
    body = token_json(expires_in=60)
    oauth_server.respond_next(200, body)
    provider = OAuthTokenProvider(
        oauth_server.url,
        "client",
        CANARY_SECRET,
        token_url=oauth_server.token_url,
        max_response_bytes=len(body),
    )
    assert provider.token == "tok"


def test_discovery_document_over_the_cap_is_refused(raw_server):
    document = json.dumps({"token_endpoint": "http://127.0.0.1:1/t", "pad": "p" * 5000}).encode()
    server = raw_server(answer(json_response(json.loads(document))))
    provider = OAuthTokenProvider(server.url, "client", CANARY_SECRET, max_response_bytes=4096)
    error = fetch_error(provider, DiscoveryError)
    for path in WELL_KNOWN_PATHS:
        assert f"{server.url}{path} (larger than the 4096-byte cap)" in str(error)


@pytest.mark.parametrize(
    "value",
    [0, -1, True, 1.5, "4096", None],
    ids=["zero", "negative", "bool", "float", "str", "none"],
)
def test_max_response_bytes_must_be_a_positive_whole_number(value):
    with pytest.raises(ConfigurationError, match="max_response_bytes must be a positive whole"):
        OAuthTokenProvider("https://api.example.com", "c", max_response_bytes=value)


def endless_chunked(conn: socket.socket, request: Request, stopping: threading.Event) -> None:
    """A 200 whose chunked body never ends."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
    conn.sendall(b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"10000\r\n" + b" " * 0x10000 + b"\r\n"
    while not stopping.is_set():
        conn.sendall(chunk)


def test_endless_body_stops_at_the_cap(raw_server):
    server = raw_server(endless_chunked)
    outcome = fetch_in_child(
        server.url, server.url + "/token", memory=1 << 30, limit=60, deadline=30
    )
    assert outcome.get("error") == "MalformedTokenResponseError", outcome
    assert f"larger than the {MAX_RESPONSE_BYTES}-byte cap" in outcome["message"]
    assert f"{server.url}/token" in outcome["message"]
    assert len(server.requests) == 1


def test_body_that_does_not_decompress_is_malformed(raw_server):
    head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 12\r\n\r\n"
    server = raw_server(answer(head + b"not gzip at all"[:12]))
    provider = OAuthTokenProvider(server.url, "client", token_url=server.url + "/token")
    error = fetch_error(provider, MalformedTokenResponseError)
    assert "could not be decompressed" in str(error)
    assert f"{server.url}/token" in str(error)


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """About 766 KiB of gzip that inflates to 768 MiB of spaces: 96 gzip members (which a
    gzip body may hold, one after another) of 8 MiB each, made in milliseconds."""
    return gzip.compress(b" " * (8 << 20), 9) * 96


def test_gzip_bomb_is_refused_while_streaming(raw_server, gzip_bomb):
    assert len(gzip_bomb) < 800 * 1024
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
        f"Content-Length: {len(gzip_bomb)}\r\nConnection: close\r\n\r\n"
    ).encode()
    server = raw_server(answer(head + gzip_bomb))
    # Inflated whole, the body alone would take 768 MiB (and its copy as much again).
    outcome = fetch_in_child(
        server.url, server.url + "/token", memory=1 << 30, limit=60, deadline=30
    )
    assert outcome.get("error") == "MalformedTokenResponseError", outcome
    assert f"larger than the {MAX_RESPONSE_BYTES}-byte cap" in outcome["message"]
    assert len(server.requests) == 1


# -- a deadline that holds ---------------------------------------------------------------------

DRIP_HEADERS = b"HTTP/1.1 200 OK\r\nX-Drip: "
DRIP_BODY = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9999\r\n\r\n{"
#: Deadline and per-call timeout of the drip tests: a byte every 0.5 s never trips the timeout.
DRIP_RETRY = {"deadline": 2.0, "timeout": 1.0, "max_attempts": 2, "backoff_base": 0.01}
#: Slack on the wall time of a fetch that must end at its deadline (child start-up excluded).
SLACK = 2.5


@pytest.mark.parametrize("head", [DRIP_HEADERS, DRIP_BODY], ids=["headers", "body"])
def test_dripping_token_endpoint_ends_at_the_deadline(raw_server, head):
    server = raw_server(drip(head))
    outcome = fetch_in_child(server.url, server.url + "/token", limit=20, **DRIP_RETRY)
    assert outcome.get("error") == "TokenRequestError", outcome
    assert "the deadline of 2s passed" in outcome["message"]
    assert f"{server.url}/token" in outcome["message"]
    assert outcome["elapsed"] < DRIP_RETRY["deadline"] + SLACK
    assert len(server.requests) == 1  # no retry once the deadline has passed


def test_dripping_discovery_ends_at_the_deadline(raw_server):
    server = raw_server(drip(DRIP_BODY))
    outcome = fetch_in_child(server.url, None, limit=20, **DRIP_RETRY)
    assert outcome.get("error") == "DiscoveryError", outcome
    assert "the deadline of 2s passed" in outcome["message"]
    assert f"{server.url}{METADATA_PATH}" in outcome["message"]
    assert outcome["elapsed"] < DRIP_RETRY["deadline"] + SLACK
    assert len(server.requests) == 1


def test_dripping_proxy_ends_at_the_deadline(raw_server):
    proxy = raw_server(drip(DRIP_HEADERS))
    token_url = f"http://127.0.0.1:{closed_port()}/token"
    proxies = {"HTTP_PROXY": proxy.url, "http_proxy": proxy.url, "NO_PROXY": "", "no_proxy": ""}
    outcome = fetch_in_child("http://127.0.0.1:1", token_url, limit=20, env=proxies, **DRIP_RETRY)
    assert outcome.get("error") == "TokenRequestError", outcome
    assert "the deadline of 2s passed" in outcome["message"]
    assert outcome["elapsed"] < DRIP_RETRY["deadline"] + SLACK
    assert [r.target for r in proxy.requests] == [token_url]  # it went through the proxy


# -- malformed responses -----------------------------------------------------------------------

DEEP = b"[" * 100_000 + b"]" * 100_000


def test_deeply_nested_token_response_is_malformed(oauth_server):
    oauth_server.respond_next(200, DEEP)
    provider = OAuthTokenProvider(oauth_server.url, "client", token_url=oauth_server.token_url)
    error = fetch_error(provider, MalformedTokenResponseError)
    assert "nested too deeply" in str(error)
    assert oauth_server.token_url in str(error)


def test_deeply_nested_error_response_is_an_endpoint_error(oauth_server):
    oauth_server.respond_next(400, DEEP)
    provider = OAuthTokenProvider(oauth_server.url, "client", token_url=oauth_server.token_url)
    error = fetch_error(provider, TokenEndpointError)
    assert error.status == 400


def test_deeply_nested_discovery_document_is_a_discovery_error(raw_server):
    server = raw_server(answer(response(200, DEEP, Content_Type="application/json")))
    error = fetch_error(OAuthTokenProvider(server.url, "client"), DiscoveryError)
    assert f"{server.url}{METADATA_PATH} (not a JSON object: nested too deeply)" in str(error)


@pytest.mark.parametrize("expires_in", [int("9" * 400), "9" * 400, -1], ids=["int", "str", "neg"])
def test_expires_in_no_float_holds_is_malformed(oauth_server, expires_in):
    oauth_server.respond_next(200, token_json(expires_in=expires_in))
    provider = OAuthTokenProvider(oauth_server.url, "client", token_url=oauth_server.token_url)
    error = fetch_error(provider, MalformedTokenResponseError)
    assert "expires_in=" in str(error)
    assert len(str(error)) < 800


# -- server text is quoted: cut short, control characters escaped --------------------------

FORGED = "\r\n2030-01-01 INFO tokenprovider forged entry\x1b[2J"


def assert_quoted(text: str) -> None:
    assert "\r" not in text
    assert "\n" not in text
    assert "\x1b" not in text
    assert len(text) < 1500


def test_huge_error_description_is_cut_and_escaped(oauth_server, debug_logs):
    fake_clock = FakeClock()
    description = FORGED + "d" * 900_000
    provider = OAuthTokenProvider(
        oauth_server.url,
        "client",
        "client-secret",
        token_url=oauth_server.token_url,
        clock=fake_clock,
        retry=RetryPolicy(sleep=fake_clock.sleep, monotonic=fake_clock.monotonic),
    )
    token = provider.token
    fake_clock.advance(3600 - 100)  # into the advisory window: the failure is logged
    body = {"error": "invalid_client" + FORGED, "error_description": description}
    oauth_server.respond_next(401, json.dumps(body).encode())
    assert provider.token == token
    wait_for_refresh(provider)  # the refresh ahead ran in a worker
    for record in debug_logs.records:
        assert_quoted(record.getMessage())
    assert "forged entry" in all_log_text(debug_logs)  # there, but escaped on its line

    oauth_server.respond_next(401, json.dumps(body).encode())
    provider.invalidate_cache()
    error = fetch_error(provider, OAuthError)
    assert_quoted(str(error))
    for value in (error.error, error.error_description):
        assert_quoted(value)
        assert "\\r\\n2030-01-01" in value
    assert "more characters" in error.error_description
    assert len(error.error_description) < 400


def test_reason_location_and_field_names_are_quoted(raw_server):
    location = f"https://svc:{CANARY_SECRET}@evil.example/{'l' * 5000}\x1b[2J"
    server = raw_server(
        routes(
            {
                "/reason": f"HTTP/1.1 400 {'R' * 5000}\x1b[2J\r\nContent-Length: 0\r\n\r\n".encode(
                    "latin-1"
                ),
                "/moved": response(302, Location=location),
                "/fields": json_response({f"{'f' * 5000}\x1b": 1}),
            }
        )
    )
    for path, error_type in [
        ("/reason", TokenEndpointError),
        ("/moved", TokenEndpointError),
        ("/fields", MalformedTokenResponseError),
    ]:
        provider = OAuthTokenProvider(
            server.url,
            "client",
            CANARY_SECRET,
            token_url=server.url + path,
            retry=RetryPolicy(max_attempts=1),
        )
        error = fetch_error(provider, error_type)
        assert_quoted(str(error))
        assert "more characters" in str(error)


def test_token_type_in_the_log_is_quoted(oauth_server, debug_logs):
    oauth_server.respond_next(200, token_json(token_type="MAC" + FORGED + "t" * 5000))
    provider = OAuthTokenProvider(oauth_server.url, "client", token_url=oauth_server.token_url)
    assert provider.token == "tok"
    (warning,) = [r for r in debug_logs.records if "issued a" in r.getMessage()]
    assert_quoted(warning.getMessage())


# -- passwords in URLs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token_url",
    [
        f"https://svc:{CANARY_SECRET}/x@login.example.com/token",
        f"https://svc:pa/{CANARY_SECRET}@login.example.com/token",
        f"https://svc:123/{CANARY_SECRET}@login.example.com/token",
        f"https://svc:{CANARY_SECRET}?x@login.example.com/token",
        f"https://svc:{CANARY_SECRET}#x@login.example.com/token",
    ],
    ids=["slash", "slash-after", "numeric-start", "question-mark", "hash"],
)
def test_password_hiding_the_at_sign_is_refused(token_url):
    with pytest.raises(ConfigurationError) as info:
        OAuthTokenProvider("https://api.example.com", "c", "s", token_url=token_url)
    assert USERINFO in str(info.value)
    assert_no_leak(str(info.value) + repr(info.value), CANARY_SECRET)


def test_discovered_endpoint_with_a_hidden_password_is_refused(oauth_server, monkeypatch):
    endpoint = f"http://svc:{CANARY_SECRET}/x@127.0.0.1:1/token"
    monkeypatch.setattr(oauth_server, "_metadata", lambda: {"token_endpoint": endpoint})
    provider = OAuthTokenProvider(oauth_server.url, "client", "client-secret")
    error = fetch_error(provider, DiscoveryError)
    assert USERINFO in str(error)
    assert_no_leak(repr(provider), CANARY_SECRET)
    assert oauth_server.token_requests == 0


# -- no secret held in exceptions --------------------------------------------------------------

#: A secret that form-urlencoding, percent-encoding and Basic encoding all change.
ODD_SECRET = f"{CANARY_SECRET} p@ss/w+rd:\u00e9%"


def secret_forms(secret: str = ODD_SECRET, client_id: str = "client") -> list[str]:
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}"
    return [
        secret,
        quote_plus(secret),
        quote(secret),
        quote(secret, safe=""),
        base64.b64encode(pair.encode()).decode("ascii"),
    ]


def assert_holds_no_secret(error: BaseException, secret: str = ODD_SECRET) -> None:
    assert_no_leak(reachable_text(error), *secret_forms(secret))


def silent(conn: socket.socket, request: Request, stopping: threading.Event) -> None:
    """Read the request, never answer."""
    stopping.wait()


@pytest.mark.parametrize("client_auth", ["basic", "post"])
@pytest.mark.parametrize("failure", ["refused", "timeout"])
def test_transport_errors_hold_no_secret(raw_server, client_auth, failure):
    if failure == "refused":
        token_url = f"http://127.0.0.1:{closed_port()}/token"
    else:
        token_url = raw_server(silent).url + "/token"
    provider = OAuthTokenProvider(
        "http://127.0.0.1:1",
        "client",
        ODD_SECRET,
        token_url=token_url,
        client_auth=client_auth,
        retry=RetryPolicy(max_attempts=2, backoff_base=0.01, timeout=0.3, deadline=10),
    )
    with pytest.raises(TokenRequestError) as info:
        _ = provider.token
    error = info.value
    assert token_url in str(error)
    assert "(2 attempts at most, within " in str(error)
    said = "connection refused" if failure == "refused" else "no answer within the read timeout"
    assert f"ConnectionError: {said}" in str(error)
    assert error.__cause__ is None
    assert error.__context__ is None
    assert_holds_no_secret(error)


def test_endpoint_and_body_errors_hold_no_secret(oauth_server):
    oauth_server.clients = {"client": ODD_SECRET}
    echo = {"error": "invalid_client", "error_description": " ".join(secret_forms())}
    for status, body, error_type in [
        (401, json.dumps(echo).encode(), OAuthError),
        (200, b"{" + " ".join(secret_forms()).encode(), MalformedTokenResponseError),
        (200, DEEP, MalformedTokenResponseError),
    ]:
        oauth_server.respond_next(status, body)
        provider = OAuthTokenProvider(
            oauth_server.url, "client", ODD_SECRET, token_url=oauth_server.token_url
        )
        with pytest.raises(error_type) as info:
            _ = provider.token
        assert_holds_no_secret(info.value)


def test_fully_percent_encoded_secret_echoed_by_the_server_is_redacted(oauth_server):
    oauth_server.clients = {"client": ODD_SECRET}
    echoed = quote(ODD_SECRET, safe="")
    assert echoed not in (quote(ODD_SECRET), quote_plus(ODD_SECRET))  # a form of its own
    body = {"error": "invalid_client", "error_description": f"got {echoed}"}
    oauth_server.respond_next(401, json.dumps(body).encode())
    provider = OAuthTokenProvider(
        oauth_server.url, "client", ODD_SECRET, token_url=oauth_server.token_url
    )
    error = fetch_error(provider, OAuthError)
    assert error.error_description == "got ***"
    assert_holds_no_secret(error)


# -- discovery and redirects -------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate (and its key) for 127.0.0.1, made here."""
    from cryptography import x509  # noqa: PLC0415 - an optional extra
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tokenprovider test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def tls(tls_files, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A TLS server context for `RawServer`; requests trusts its certificate."""
    cert_file, key_file = tls_files
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert_file))
    return context


def authorization_server(conn: socket.socket, request: Request, stopping: threading.Event) -> None:
    """Metadata naming its own token endpoint, and a token for any POST to it."""
    if request.method == "POST":
        conn.sendall(json_response({"access_token": "tls-token", "expires_in": 60}))
        return
    host = request.headers["host"]
    scheme = "https" if isinstance(conn, ssl.SSLSocket) else "http"
    conn.sendall(json_response({"token_endpoint": f"{scheme}://{host}/token"}))


def test_tls_authorization_server_works(raw_server, tls):
    server = raw_server(authorization_server, tls)
    assert OAuthTokenProvider(server.url, "client", "client-secret").token == "tls-token"
    assert [r.method for r in server.requests] == ["GET", "POST"]


def hang_up(conn: socket.socket, request: Request, stopping: threading.Event) -> None:
    """Read the request, then close the connection without a word."""


@pytest.mark.parametrize(
    ("failure", "said"),
    [
        ("refused", "ConnectionError: connection refused"),
        ("silent", "ConnectionError: no answer within the read timeout"),
        ("hang up", "ConnectionError: the server closed the connection without an answer"),
        ("plain http", "SSLError: TLS failed: [SSL: WRONG_VERSION_NUMBER] wrong version number"),
        ("untrusted", "SSLError: the TLS certificate was not trusted: self-signed certificate"),
    ],
)
def test_an_unreached_token_endpoint_is_said_in_words_not_in_urllib3_wrappers(
    raw_server, oauth_server, tls_files, monkeypatch: pytest.MonkeyPatch, failure: str, said: str
) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*tls_files)  # a certificate nobody trusts
    if failure == "refused":
        token_url = f"http://127.0.0.1:{closed_port()}/token"
    elif failure == "plain http":
        token_url = oauth_server.token_url.replace("http:", "https:")  # it answers a 400
    else:
        handler = {"silent": silent, "hang up": hang_up, "untrusted": authorization_server}
        token_url = raw_server(handler[failure], context if failure == "untrusted" else None).url
        token_url += "/token"
    provider = OAuthTokenProvider(
        "http://127.0.0.1:1",
        "client",
        ODD_SECRET,
        token_url=token_url,
        retry=RetryPolicy(max_attempts=1, timeout=0.3, deadline=10),
    )
    error = str(fetch_error(provider, TokenRequestError))
    assert error.startswith(f"could not reach the token endpoint {token_url} (1 attempt at most")
    assert f"): {said}" in error
    assert not any(word in error for word in ("Pool", "Max retries", "urllib3", "Caused by"))


def _unreachable_provider() -> OAuthTokenProvider:
    """A provider whose token endpoint (``https://login.example``) this test cannot reach."""
    return OAuthTokenProvider(
        "login.example",
        "client",
        ODD_SECRET,
        token_url="https://login.example/token",  # never resolved here: a proxy would
        retry=RetryPolicy(max_attempts=1),
    )


def _through_proxy(monkeypatch: pytest.MonkeyPatch, proxy: str) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)


@pytest.mark.parametrize(
    ("proxy", "said"),
    [
        ("http://{user}127.0.0.1:{port}", "ProxyError: the proxy failed: connection refused"),
        (
            "http://{user}127.0.0.1:99999",
            "InvalidURL: Failed to parse: http://{shown}127.0.0.1:99999",
        ),
    ],
)
@pytest.mark.parametrize("user", ["", "user:hunter2pass@"])
def test_an_unreached_proxy_is_said_to_be_the_proxy_without_its_password(
    monkeypatch: pytest.MonkeyPatch, proxy: str, said: str, user: str
) -> None:
    _through_proxy(monkeypatch, proxy.format(user=user, port=closed_port()))
    error = fetch_error(_unreachable_provider(), TokenRequestError)
    assert str(error).endswith(f"): {said.format(shown='***@' if user else '')}"), str(error)
    assert "hunter2pass" not in reachable_text(error)


def _no_name(*args: object, **kwargs: object) -> NoReturn:
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def _no_connection_in_time(*args: object, **kwargs: object) -> NoReturn:
    raise TimeoutError("timed out")


@pytest.mark.parametrize(
    ("target", "failing", "said"),
    [
        (
            "socket.getaddrinfo",
            _no_name,
            "ConnectionError: the name did not resolve (Name or service not known)",
        ),
        (
            "urllib3.util.connection.create_connection",
            _no_connection_in_time,
            "ConnectTimeout: connecting timed out",
        ),
    ],
)
def test_failures_no_loopback_server_can_cause_are_said_in_words(
    monkeypatch: pytest.MonkeyPatch, target: str, failing: Callable[..., NoReturn], said: str
) -> None:
    # A name that does not resolve and a connection that does not happen in time cannot
    # be had on loopback: urllib3's own call out is what fails here.
    monkeypatch.setattr(target, failing)
    error = str(fetch_error(_unreachable_provider(), TokenRequestError))
    assert error.endswith(f"): {said}"), error


def test_https_discovery_redirected_to_http_is_refused(raw_server, tls):
    plain = raw_server(authorization_server)
    target = f"{plain.url}{METADATA_PATH}"
    secure = raw_server(answer(response(302, Location=target)), tls)
    error = fetch_error(OAuthTokenProvider(secure.url, "client", CANARY_SECRET), DiscoveryError)
    assert f"{secure.url}{METADATA_PATH}" in str(error)
    assert target in str(error)
    assert "downgrade" in str(error)
    assert plain.requests == []  # never fetched, so its token endpoint never saw the secret


def test_https_discovery_naming_an_http_token_endpoint_is_refused(raw_server, tls):
    plain = raw_server(authorization_server)
    endpoint = f"{plain.url}/token"
    secure = raw_server(answer(json_response({"token_endpoint": endpoint})), tls)
    error = fetch_error(OAuthTokenProvider(secure.url, "client", CANARY_SECRET), DiscoveryError)
    assert f"{secure.url}{METADATA_PATH}" in str(error)
    assert endpoint in str(error)
    assert "plain http" in str(error)
    assert plain.requests == []


def test_http_discovery_may_be_upgraded_to_https(raw_server, tls):
    secure = raw_server(authorization_server, tls)
    plain = raw_server(answer(response(301, Location=f"{secure.url}{METADATA_PATH}")))
    assert OAuthTokenProvider(plain.url, "client", "client-secret").token == "tls-token"
    assert [r.method for r in secure.requests] == ["GET", "POST"]


def test_discovery_may_redirect_to_another_origin_without_credentials(raw_server):
    other = raw_server(authorization_server)
    first = raw_server(answer(response(307, Location=f"{other.url}{METADATA_PATH}")))
    assert OAuthTokenProvider(first.url, "client", "client-secret").token == "tls-token"
    get, post = other.requests
    assert "authorization" not in get.headers
    assert "authorization" in post.headers  # the token request itself, to the endpoint named


def test_discovery_redirect_to_http_off_loopback_is_refused(raw_server):
    server = raw_server(answer(response(302, Location="http://198.51.100.7/meta")))
    error = fetch_error(OAuthTokenProvider(server.url, "client"), DiscoveryError)
    assert "http://198.51.100.7/meta" in str(error)
    assert "not loopback" in str(error)
    assert len(server.requests) == 1


def test_discovery_follows_at_most_a_few_redirects(raw_server):
    def loop(conn: socket.socket, request: Request, stopping: threading.Event) -> None:
        conn.sendall(response(302, Location=request.target.split("?")[0] + "?again"))

    server = raw_server(loop)
    error = fetch_error(OAuthTokenProvider(server.url, "client"), DiscoveryError)
    assert f"more than {MAX_REDIRECTS} redirects" in str(error)
    assert len(server.requests) == len(WELL_KNOWN_PATHS) * (MAX_REDIRECTS + 1)


def test_token_request_is_not_redirected(raw_server, foreign_server):
    location = foreign_server.url.replace("://", f"://svc:{CANARY_SECRET}@") + "/token"
    server = raw_server(answer(response(307, Location=location)))
    provider = OAuthTokenProvider(
        server.url, "client", CANARY_SECRET, token_url=server.url + "/token"
    )
    error = fetch_error(provider, TokenEndpointError)
    assert error.status == 307
    assert foreign_server.url.split("://")[1] + "/token" in str(error)
    assert foreign_server.requests == []


@pytest.mark.parametrize(
    ("host", "token_url", "pattern"),
    [
        ("http://api.example.com", None, "cannot be discovered"),
        ("http://api.example.com", "http://login.example.com/token", "not loopback"),
        ("http://127.0.0.1:8080", "http://login.example.com/token", "not loopback"),
        ("https://127.0.0.1:8080", "http://127.0.0.1:9/token", "plain http while"),
    ],
)
def test_plain_http_is_only_for_loopback_hosts(host, token_url, pattern):
    with pytest.raises(ConfigurationError, match=pattern):
        OAuthTokenProvider(host, "c", "s", token_url=token_url)


@pytest.mark.parametrize(
    "token_url",
    ["http://127.0.0.1:9/t", "http://127.8.9.10/t", "http://[::1]:9/t", "http://localhost/t"],
)
def test_loopback_token_endpoints_may_use_http(token_url):
    assert OAuthTokenProvider("http://localhost:8080", "c", "s", token_url=token_url)


def test_deadline_error_is_immediate_once_passed(raw_server):
    """With the deadline already passed on the policy's clock, nothing is even sent."""
    server = raw_server(authorization_server)
    calls = itertools.count()
    policy = RetryPolicy(deadline=5, monotonic=lambda: 100.0 if next(calls) else 0.0)
    provider = OAuthTokenProvider(server.url, "c", "s", token_url=server.url + "/t", retry=policy)
    started = time.monotonic()
    error = fetch_error(provider, TokenRequestError)
    assert "the deadline of 5s passed" in str(error)
    assert time.monotonic() - started < 5
    assert server.requests == []


@pytest.mark.parametrize(
    "shape",
    ["field-name", "basic-form-field-name", "expires_in", "token_type", "content-type"],
)
def test_what_the_server_echoes_in_a_good_answer_is_redacted(debug_logs, shape):
    basic = base64.b64encode(f"client:{CANARY_SECRET}".encode()).decode()
    with LocalOAuthServer(clients={"client": CANARY_SECRET}) as server:
        provider = OAuthTokenProvider(
            server.url, "client", CANARY_SECRET, token_url=server.token_url
        )
        good = {"access_token": "tok", "expires_in": 3600}
        bodies = {
            "field-name": {f"echo {CANARY_SECRET}": 1},
            "basic-form-field-name": {f"echo {basic}": 1},
            "expires_in": {**good, "expires_in": f"bad {CANARY_SECRET}"},
            "token_type": {**good, "token_type": f"odd {CANARY_SECRET}"},
        }
        if shape == "content-type":
            server.respond_next(200, b"not json", content_type=f"text/{CANARY_SECRET}")
        else:
            server.respond_next(200, json.dumps(bodies[shape]).encode())
        try:
            _ = provider.token
        except MalformedTokenResponseError as exc:
            assert_no_leak(reachable_text(exc), CANARY_SECRET, basic)
        assert_no_leak(all_log_text(debug_logs), CANARY_SECRET, basic)
