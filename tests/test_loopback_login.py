"""The browser login's loopback redirect and `browser_login`, over real sockets.

Most tests play the browser with plain HTTP requests to the redirect URI, read from what
`browser_login` printed; the end-to-end ones drive a real headless Chromium against a
`LocalOAuthServer` (see browser_support), and one goes through `webbrowser` and
``BROWSER`` to a program that drives its own Chromium (browser_opener.py).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import logging
import re
import shlex
import socket
import sys
import threading
import time
import urllib.parse
import webbrowser
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

import browser_support
from browser_support import log_in_in_browser, require_browser
from conftest import all_log_text, assert_no_leak, reachable_text
from tokenprovider.errors import ConfigurationError, LoginError
from tokenprovider.providers import _loopback
from tokenprovider.providers._browser_login import (
    OPENER_THREAD,
    AuthorizationCode,
    browser_login,
)
from tokenprovider.providers._loopback import MAX_HEAD
from tokenprovider.testing import LocalOAuthServer

CANARY_CODE = "canary-CODE-7f3a9c-0d41e2"
ENDPOINT = "https://login.example.com/oauth2/authorize"
USERS = {"alice": "wonderland"}
OPENER = Path(__file__).resolve().parent / "browser_opener.py"
chromium = browser_support.chromium  # the fixture
_HTTP = requests.Session()
_HTTP.trust_env = False  # no proxy: the listener is on loopback


class Out(io.StringIO):
    """The person's terminal: a test waits until some text has been printed and flushed."""

    def __init__(self) -> None:
        super().__init__()
        self._changed = threading.Condition()
        self.flushed = ""

    def write(self, text: str) -> int:
        with self._changed:
            return super().write(text)

    def flush(self) -> None:
        with self._changed:
            self.flushed = self.getvalue()
            self._changed.notify_all()

    def wait_for(self, text: str, timeout: float = 10.0) -> str:
        with self._changed:
            if not self._changed.wait_for(lambda: text in self.flushed, timeout):
                pytest.fail(f"{text!r} was never printed and flushed; printed: {self.getvalue()!r}")
            return self.flushed


@dataclass
class Login:
    """A `browser_login` running in a thread, and what it printed."""

    future: Future[AuthorizationCode]
    out: Out
    url: str

    @property
    def query(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.url).query))

    @property
    def redirect_uri(self) -> str:
        return self.query["redirect_uri"]

    @property
    def port(self) -> int:
        port = urllib.parse.urlsplit(self.redirect_uri).port
        assert port is not None
        return port

    def callback(
        self, params: dict[str, str] | None = None, *, host: str = "127.0.0.1", path: str = ""
    ) -> requests.Response:
        """GET the redirect URI (or ``path`` on its port) as the browser would."""
        url = f"http://{host}:{self.port}{path or _loopback.CALLBACK_PATH}"
        return _HTTP.get(url, params=params, timeout=10)

    def approve(self, code: str = CANARY_CODE) -> requests.Response:
        return self.callback({"code": code, "state": self.query["state"]})

    def result(self) -> AuthorizationCode:
        return self.future.result(timeout=20)

    def error(self) -> LoginError:
        with pytest.raises(LoginError) as caught:
            self.result()
        return caught.value


def quiet_get(url: str) -> int:
    """GET ``url`` with `http.client`, which logs nothing (requests' urllib3 logs URLs)."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=10)
    try:
        connection.request("GET", f"{parts.path}?{parts.query}")
        return connection.getresponse().status
    finally:
        connection.close()


def printed_url(text: str) -> str:
    match = re.search(r"^    (\S+)$", text, flags=re.MULTILINE)
    assert match is not None, text
    return match.group(1)


Start = Callable[..., Login]


@pytest.fixture
def start() -> Iterator[Start]:
    """Start `browser_login` in a thread (no browser, 20 s unless told) once it printed."""
    pool = ThreadPoolExecutor(4)

    def run(
        endpoint: str = ENDPOINT,
        scopes: tuple[str, ...] = ("read",),
        out: Out | None = None,
        **kw: Any,
    ) -> Login:
        out = out or Out()
        kw = {"open_browser": False, "timeout": 20.0, **kw}
        future = pool.submit(browser_login, endpoint, "cli", scopes, out=out, **kw)
        return Login(future, out, printed_url(out.wait_for("Waiting up to")))

    yield run
    pool.shutdown(wait=True)


def challenge_of(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def refused(port: int, host: str = "127.0.0.1") -> bool:
    """Whether nothing listens on ``port`` any more."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        return sock.connect_ex((host, port)) != 0


def ipv6_loopback() -> bool:
    try:
        socket.create_server(("::1", 0), family=socket.AF_INET6).close()
    except OSError:
        return False
    return True


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return int(sock.getsockname()[1])


# -- the authorization request -------------------------------------------------------------------


def test_the_authorization_url_asks_for_a_code_with_pkce_s256(start: Start) -> None:
    login = start(
        ENDPOINT + "?tenant=t1", scopes=("read", "write"), extra_params={"audience": "api"}
    )
    parts = urllib.parse.urlsplit(login.url)
    assert urllib.parse.urlunsplit(parts._replace(query="")) == ENDPOINT
    assert parts.query.startswith("tenant=t1&")
    query = login.query
    assert query["response_type"] == "code"
    assert query["client_id"] == "cli"
    assert query["scope"] == "read write"
    assert query["audience"] == "api"
    assert query["code_challenge_method"] == "S256"
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/callback", login.redirect_uri)
    assert len(query["state"]) >= 32
    login.approve()
    code = login.result()
    assert code == AuthorizationCode(CANARY_CODE, login.redirect_uri, code.verifier)
    assert re.fullmatch(r"[A-Za-z0-9._~-]{43,128}", code.verifier)
    assert query["code_challenge"] == challenge_of(code.verifier)


def test_each_login_has_its_own_state_verifier_and_port(start: Start) -> None:
    first, second = start(), start()
    assert first.query["state"] != second.query["state"]
    assert first.query["code_challenge"] != second.query["code_challenge"]
    assert first.port != second.port
    first.approve()
    second.approve()
    assert first.result().verifier != second.result().verifier


def test_no_scope_is_sent_when_there_is_none(start: Start) -> None:
    login = start(scopes=())
    assert "scope" not in login.query
    login.approve()
    login.result()


def test_extra_parameters_cannot_replace_the_protocol_ones() -> None:
    with pytest.raises(ConfigurationError, match="state"):
        browser_login(ENDPOINT, "cli", (), out=Out(), extra_params={"state": "mine"})


# -- the callback ------------------------------------------------------------------------------


def test_the_page_says_it_worked_and_never_shows_the_code(start: Start) -> None:
    login = start()
    page = login.approve()
    assert page.status_code == 200
    assert "You are logged in. You can close this window." in page.text
    assert_no_leak(page.text, CANARY_CODE)
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert login.result().code == CANARY_CODE


def test_a_refusal_in_the_browser_is_a_login_error(start: Start) -> None:
    login = start()
    page = login.callback(
        {
            "error": "access_denied",
            "error_description": "alice said no",
            "state": login.query["state"],
        }
    )
    assert page.status_code == 400
    assert "The login was refused: access_denied (alice said no)" in page.text
    message = str(login.error())
    assert "the login was refused in the browser: access_denied (alice said no)" in message
    assert "log in again" in message


def test_a_server_error_is_escaped_and_cut_short_on_the_page_and_in_the_error(
    start: Start,
) -> None:
    login = start()
    description = "<script>alert(1)</script>\n" + "x" * 5000
    page = login.callback(
        {"error": "invalid_scope", "error_description": description, "state": login.query["state"]}
    )
    assert "invalid_scope" in page.text
    assert "<script>" not in page.text
    assert "&lt;script&gt;" in page.text
    assert len(page.text) < 2000
    message = str(login.error())
    assert "the authorization server refused the login: invalid_scope (<script>" in message
    assert "\n" not in message
    assert len(message) < 800


@pytest.mark.parametrize(
    "state",
    [pytest.param(["forged"], id="wrong"), pytest.param([], id="missing"), None],
)
def test_a_state_that_does_not_match_is_refused(start: Start, state: list[str] | None) -> None:
    login = start()
    states = [login.query["state"]] * 2 if state is None else state  # None: repeated
    params = [("code", CANARY_CODE), *(("state", s) for s in states)]
    page = _HTTP.get(login.redirect_uri, params=params, timeout=10)
    assert page.status_code == 400
    assert "the state does not match" in page.text
    assert_no_leak(page.text, CANARY_CODE)
    error = login.error()
    assert "state that does not match this login" in str(error)
    assert_no_leak(reachable_text(error), CANARY_CODE, login.query["state"])


def test_a_callback_without_a_code_is_refused(start: Start) -> None:
    login = start()
    page = login.callback({"state": login.query["state"], "code": ""})
    assert "no authorization code" in page.text
    assert "no authorization code" in str(login.error())


def test_other_paths_get_a_404_and_the_callback_still_works(start: Start) -> None:
    login = start()
    assert login.callback(path="/favicon.ico").status_code == 404
    assert login.callback(path="/callback/extra").status_code == 404
    posted = _HTTP.post(login.redirect_uri, data={"code": "x"}, timeout=10)
    assert posted.status_code == 405
    assert not login.future.done()
    assert login.approve().status_code == 200
    assert login.result().code == CANARY_CODE


def test_the_listener_stops_after_one_callback(start: Start) -> None:
    login = start()
    login.callback({"state": "forged"})
    login.error()
    assert refused(login.port)


# -- bounded, and closed in every case ------------------------------------------------------


def test_no_redirect_within_the_timeout_is_a_login_error(start: Start) -> None:
    began = time.monotonic()
    login = start(timeout=0.5)
    error = login.error()
    assert time.monotonic() - began < 10
    assert str(error) == (
        "no redirect arrived within 0.5s; log in again, or use the device flow "
        "(`--device`) on a machine without a browser"
    )
    assert refused(login.port)


def test_an_idle_connection_does_not_hold_the_listener(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_loopback, "CONNECTION_SECONDS", 600.0)
    login = start()
    with socket.create_connection(("127.0.0.1", login.port)) as idle:
        idle.sendall(b"GET /callback?state=")  # a head that never ends
        login.approve()
        assert login.result().code == CANARY_CODE


def test_idle_connections_hoarded_by_another_program_do_not_block_the_redirect(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_loopback, "CONNECTION_SECONDS", 600.0)
    login = start()
    hoard = [
        socket.create_connection(("127.0.0.1", login.port))
        for _ in range(_loopback._MAX_CONNECTIONS + 4)
    ]
    try:
        login.approve()  # the oldest idle connection makes room for it
        assert login.result().code == CANARY_CODE
    finally:
        for sock in hoard:
            sock.close()


def test_a_slow_connection_is_closed_after_its_time(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_loopback, "CONNECTION_SECONDS", 0.2)
    login = start()
    with socket.create_connection(("127.0.0.1", login.port), timeout=10) as slow:
        slow.sendall(b"GET /callback?state=")
        assert slow.recv(100) == b""  # closed by the listener, without an answer
    login.approve()
    assert login.result().code == CANARY_CODE


def test_an_oversized_request_head_is_refused(start: Start) -> None:
    login = start()
    with socket.create_connection(("127.0.0.1", login.port), timeout=10) as big:
        big.sendall(b"GET /callback?state=" + b"a" * (MAX_HEAD + 10))
        answer = big.recv(100)
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert not login.future.done()
    login.approve()
    assert login.result().code == CANARY_CODE


@pytest.mark.parametrize(
    "head",
    [b"\x16\x03\x01 hello\r\n\r\n", b"GET http://[::1/callback HTTP/1.1\r\n\r\n", b"\r\n\r\n"],
    ids=["tls", "bad-target", "empty"],
)
def test_garbage_gets_a_400_and_the_listener_keeps_waiting(start: Start, head: bytes) -> None:
    login = start()
    with socket.create_connection(("127.0.0.1", login.port), timeout=10) as junk:
        junk.sendall(head)
        assert junk.recv(100).startswith(b"HTTP/1.1 400 ")
    login.approve()
    assert login.result().code == CANARY_CODE


# -- ports ------------------------------------------------------------------------------------


def test_a_configured_port_is_used(start: Start) -> None:
    port = free_port()
    login = start(ports=[port])
    assert login.redirect_uri == f"http://127.0.0.1:{port}/callback"
    login.approve()
    assert login.result().redirect_uri == login.redirect_uri


def test_a_busy_configured_port_moves_on_to_the_next(start: Start) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        taken = busy.getsockname()[1]
        port = free_port()
        login = start(ports=[taken, port])
        assert login.port == port
        login.approve()
        login.result()


def test_all_configured_ports_busy_is_a_login_error_naming_them() -> None:
    with (
        socket.create_server(("127.0.0.1", 0)) as one,
        socket.create_server(("127.0.0.1", 0)) as two,
    ):
        ports = [one.getsockname()[1], two.getsockname()[1]]
        with pytest.raises(LoginError) as caught:
            browser_login(ENDPOINT, "cli", (), out=Out(), ports=ports, open_browser=False)
    message = str(caught.value)
    assert f"({ports[0]}, {ports[1]})" in message or f"({min(ports)}-{max(ports)})" in message
    assert "redirect_port" in message


@pytest.mark.parametrize("ports", [[], [0], [70000]])
def test_ports_out_of_range_are_a_configuration_error(ports: list[int]) -> None:
    with pytest.raises(ConfigurationError, match="redirect_port"):
        browser_login(ENDPOINT, "cli", (), out=Out(), ports=ports, open_browser=False)


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback ([::1]) on this machine")
def test_the_callback_also_arrives_on_ipv6_loopback(start: Start) -> None:
    login = start()
    page = login.callback({"code": CANARY_CODE, "state": login.query["state"]}, host="[::1]")
    assert page.status_code == 200
    assert login.result().code == CANARY_CODE
    assert refused(login.port, "::1")
    assert refused(login.port)


def test_a_busy_ipv6_port_is_not_an_error(start: Start) -> None:
    if not ipv6_loopback():
        pytest.skip("no IPv6 loopback ([::1]) on this machine")
    port = free_port()
    with socket.create_server(("::1", port), family=socket.AF_INET6):
        login = start(ports=[port])
        login.approve()
        assert login.result().code == CANARY_CODE


# -- secrets stay out of logs, stderr, reprs and errors ---------------------------------------


def test_nothing_of_the_callback_is_logged_or_written_to_stderr(
    start: Start, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    login = start()
    state = login.query["state"]
    base = f"http://127.0.0.1:{login.port}"
    assert quiet_get(f"{base}/favicon.ico?{CANARY_CODE}") == 404
    query = urllib.parse.urlencode({"code": CANARY_CODE, "state": state})
    assert quiet_get(f"{base}/callback?{query}") == 200
    code = login.result()
    logged = all_log_text(caplog)
    assert "waiting for the login redirect" in logged  # the records were captured
    captured = capfd.readouterr()
    for text in (logged, captured.err, captured.out, repr(code)):
        assert_no_leak(text, CANARY_CODE, state, code.verifier, "favicon")
    assert repr(code) == f"AuthorizationCode(redirect_uri={code.redirect_uri!r})"


def test_a_failed_login_leaks_no_code_state_or_verifier(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    login = start()
    forged = {"code": CANARY_CODE, "state": "forged-" + login.query["state"]}
    assert quiet_get(f"{login.redirect_uri}?{urllib.parse.urlencode(forged)}") == 400
    error = login.error()
    assert_no_leak(reachable_text(error), CANARY_CODE, login.query["state"])
    assert_no_leak(all_log_text(caplog), CANARY_CODE, login.query["state"])


# -- opening the browser -------------------------------------------------------------------------


def test_the_url_is_printed_and_flushed_before_the_browser_opens(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = Out()
    flushed_at_open: list[str] = []

    def open_(url: str) -> bool:
        flushed_at_open.append(out.flushed)
        return True

    monkeypatch.setattr(webbrowser, "open", open_)
    login = start(open_browser=True, out=out)
    login.approve()
    login.result()
    assert len(flushed_at_open) == 1
    assert printed_url(flushed_at_open[0]) == login.url
    assert "No browser" not in out.getvalue()


def test_without_open_browser_no_browser_is_opened(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(webbrowser, "open", calls.append)
    login = start(open_browser=False)
    login.approve()
    login.result()
    assert calls == []


@pytest.mark.parametrize("failure", ["false", "error"])
def test_a_browser_that_cannot_open_is_said_and_the_login_keeps_waiting(
    start: Start, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    def open_(url: str) -> bool:
        if failure == "error":
            raise webbrowser.Error("could not locate runnable browser")
        return False

    monkeypatch.setattr(webbrowser, "open", open_)
    login = start(open_browser=True)
    login.out.wait_for("No browser could be opened here")
    login.approve()
    assert login.result().code == CANARY_CODE


@pytest.fixture
def browser_variable(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Set ``BROWSER`` and make `webbrowser` read it again (it registers browsers once);
    keep only the browser it names, so none of this machine's can stand in."""

    def set_(command: str) -> None:
        monkeypatch.setenv("BROWSER", command)
        monkeypatch.setattr(webbrowser, "_tryorder", None)
        monkeypatch.setattr(webbrowser, "_browsers", {})
        webbrowser.register_standard_browsers()
        tryorder = webbrowser._tryorder
        assert tryorder is not None
        assert tryorder[0] == command
        del tryorder[1:]

    return set_


def opener_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == OPENER_THREAD]


def test_a_browser_command_that_fails_is_said(
    start: Start, browser_variable: Callable[[str], None]
) -> None:
    browser_variable(f"{shlex.quote(sys.executable)} -c 'raise SystemExit(3)' %s")
    login = start(open_browser=True)
    login.out.wait_for("No browser could be opened here")
    login.approve()
    assert login.result().code == CANARY_CODE


# -- a real browser -----------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[LocalOAuthServer]:
    with LocalOAuthServer(
        public_clients={"cli": ["http://127.0.0.1/callback"]}, users=USERS
    ) as srv:
        yield srv


def authorize_url(server: LocalOAuthServer) -> str:
    return server.url + "/oauth2/authorize"


def redeem(server: LocalOAuthServer, code: AuthorizationCode) -> dict[str, Any]:
    """Spend ``code`` at the server's token endpoint, as the provider does."""
    answer = _HTTP.post(
        server.token_url,
        data={
            "grant_type": "authorization_code",
            "code": code.code,
            "redirect_uri": code.redirect_uri,
            "client_id": "cli",
            "code_verifier": code.verifier,
        },
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    tokens: dict[str, Any] = answer.json()
    return tokens


def test_a_person_logs_in_in_chromium(
    chromium: Any, start: Start, server: LocalOAuthServer
) -> None:
    login = start(authorize_url(server), scopes=("read", "write"))
    page = log_in_in_browser(chromium, login.url, "alice", USERS["alice"])
    assert "You are logged in. You can close this window." in page
    assert chromium.current_url.startswith(login.redirect_uri + "?")
    code = login.result()
    assert code.code in chromium.current_url  # the browser really brought it
    assert_no_leak(page, code.code)
    tokens = redeem(server, code)
    assert tokens["access_token"]
    assert tokens["refresh_token"]
    assert tokens["scope"] == "read write"


def test_a_person_who_denies_in_chromium_gets_a_login_error(
    chromium: Any, start: Start, server: LocalOAuthServer
) -> None:
    login = start(authorize_url(server))
    page = log_in_in_browser(chromium, login.url, "alice", USERS["alice"], approve=False)
    assert "The login was refused: access_denied" in page
    assert "the login was refused in the browser: access_denied" in str(login.error())
    assert server.authorization_codes_issued == 0


def test_browser_login_opens_the_browser_named_by_browser(
    server: LocalOAuthServer, browser_variable: Callable[[str], None], tmp_path: Path
) -> None:
    require_browser()
    result = tmp_path / "page.txt"
    program = [sys.executable, str(OPENER), str(result), "alice", USERS["alice"]]
    browser_variable(" ".join(map(shlex.quote, program)) + " %s")
    out = Out()
    code = browser_login(authorize_url(server), "cli", ("read",), out=out, timeout=60)
    for thread in opener_threads():
        thread.join(timeout=60)  # the program exits once it has read the page
        assert not thread.is_alive()
    assert "You are logged in. You can close this window." in result.read_text(encoding="utf-8")
    assert "No browser" not in out.getvalue()
    assert redeem(server, code)["refresh_token"]
