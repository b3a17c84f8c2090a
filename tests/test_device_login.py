"""The device authorization grant, client side (RFC 8628), against the local OAuth server
and a scripted one, with the fake clock: no test waits for real time."""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests

import browser_support
from conftest import all_log_text, assert_no_leak, reachable_text
from tokenprovider._untrusted import MAX_RESPONSE_BYTES
from tokenprovider.core.host import Host
from tokenprovider.errors import (
    LoginError,
    MalformedTokenResponseError,
    OAuthError,
    TokenProviderError,
)
from tokenprovider.providers._client_auth import ClientAuthentication
from tokenprovider.providers._device_login import (
    DENIED,
    DEVICE_GRANT,
    EXPIRED,
    LOST,
    DeviceAuthorization,
    device_login,
)
from tokenprovider.providers._token_endpoint import TokenAnswer, TokenEndpoint
from tokenprovider.retry import RetryPolicy
from tokenprovider.testing import FakeClock, LocalOAuthServer

PASSWORD = "wonderland"
CANARY = "CANARY-7f3a-device-code-0d1e"
CLIENT_SECRET = "CANARY-client-secret-5b2c"
DEVICE_PATH = "/oauth2/device_authorization"
chromium = browser_support.chromium  # the fixture


def make_endpoint(domain: str, token_url: str) -> TokenEndpoint:
    """The token endpoint client of the public client "tv", as OAuthTokenProvider builds
    one; one attempt per request, so an injected failure reaches the poller at once."""
    return TokenEndpoint(
        Host(domain, scheme="http"),
        "tv",
        token_url=token_url,
        grant_type="client_credentials",
        scopes=(),
        audience=None,
        auth=ClientAuthentication("basic", "tv", wall_time=time.time),
        extra_params=None,
        default_expires_in=3600.0,
        retry=RetryPolicy(max_attempts=1),
        max_response_bytes=MAX_RESPONSE_BYTES,
    )


class Terminal(io.StringIO):
    """Where device_login writes; each flush records how many polls had been made."""

    def __init__(self, polls: Any) -> None:
        super().__init__()
        self.polls = polls
        self.flushes: list[tuple[int, str]] = []
        self.flushed = threading.Event()

    def flush(self) -> None:
        self.flushes.append((self.polls(), self.getvalue()))
        super().flush()
        self.flushed.set()

    def user_code(self) -> str:
        found = re.search(r"enter the code:\s+(\S+)", self.getvalue())
        assert found, self.getvalue()
        return found[1]


class Person:
    """The poller's ``sleep``: lets the time pass on the fake clock, and once ``after``
    polls were made, answers on the verification page as a person would."""

    def __init__(
        self,
        clock: FakeClock,
        server: LocalOAuthServer,
        out: Terminal,
        after: int | None = None,
        decision: str = "approve",
    ) -> None:
        self.clock, self.server, self.out = clock, server, out
        self.after, self.decision = after, decision
        self.slept: list[float] = []
        self.answers: list[int] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.advance(seconds)
        if self.after is not None and not self.answers and self.server.token_requests >= self.after:
            self.answers.append(answer_page(self.server, self.out.user_code(), self.decision))


def answer_page(server: LocalOAuthServer, user_code: str, decision: str = "approve") -> int:
    form = {
        "user_code": user_code,
        "username": "alice",
        "password": PASSWORD,
        "decision": decision,
    }
    return requests.post(server.url + "/device", data=form, timeout=5).status_code


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server(clock: FakeClock) -> Iterator[LocalOAuthServer]:
    with LocalOAuthServer(
        public_clients={"tv": []},
        users={"alice": PASSWORD},
        device_interval=5,
        clock=clock.monotonic,
    ) as srv:
        yield srv


@pytest.fixture
def out(server: LocalOAuthServer) -> Terminal:
    return Terminal(lambda: server.token_requests)


def login(
    server: LocalOAuthServer,
    clock: FakeClock,
    out: Terminal,
    person: Person,
    scopes: tuple[str, ...] = ("read",),
) -> TokenAnswer:
    return device_login(
        make_endpoint(server.domain, server.token_url),
        server.url + DEVICE_PATH,
        scopes,
        None,
        out=out,
        wall_time=clock.time,
        monotonic=clock.monotonic,
        sleep=person.sleep,
    )


def device_code_of(server: LocalOAuthServer) -> str:
    """The device code the client polled with (the server chose it)."""
    codes = {r.form["device_code"][0] for r in server.token_request_records}
    assert len(codes) == 1
    return codes.pop()


# -- the flow against the local server ------------------------------------------------------


def test_pending_then_approved(server: LocalOAuthServer, clock: FakeClock, out: Terminal) -> None:
    person = Person(clock, server, out, after=2)
    answer = login(server, clock, out, person)
    assert person.answers == [200]
    assert person.slept == [5, 5, 5]
    assert server.token_requests == 3  # pending, pending, the tokens
    for record in server.token_request_records:
        assert record.form["grant_type"] == [DEVICE_GRANT]
        assert record.client_id == "tv"
        assert record.client_auth == "post"
    assert answer.refresh_token
    assert answer.scopes == ("read",)
    assert answer.expires_at == clock.time() + 3600
    bearer = {"Authorization": f"Bearer {answer.access_token}"}
    assert requests.get(server.resource_url, headers=bearer, timeout=5).status_code == 200
    assert server.device_slow_downs == 0


def test_instructions_are_flushed_before_the_first_poll(
    server: LocalOAuthServer, clock: FakeClock, out: Terminal
) -> None:
    login(server, clock, out, Person(clock, server, out, after=1))
    polls, text = out.flushes[0]
    assert polls == 0
    code = out.user_code()
    assert re.fullmatch(r"[B-Z]{4}-[B-Z]{4}", code)
    uri = server.url + "/device"
    assert text == (
        "To log in, open this page in a browser (on any computer or phone):\n\n"
        f"    {uri}\n\n"
        f"and enter the code:  {code}\n\n"
        "Or open this page, which has the code filled in:\n\n"
        f"    {uri}?user_code={code}\n\n"
        "The code is valid for 10 minutes. Waiting for the login to be approved...\n"
    )


def test_slow_down_adds_five_seconds_each_time(
    server: LocalOAuthServer, clock: FakeClock, out: Terminal, debug_logs: pytest.LogCaptureFixture
) -> None:
    server.respond_next(400, json.dumps({"error": "slow_down"}).encode(), count=2)
    person = Person(clock, server, out, after=3)
    answer = login(server, clock, out, person)
    assert answer.refresh_token
    assert server.token_requests == 4  # slow_down, slow_down, pending (approved), tokens
    assert person.slept == [5, 10, 15, 15]
    assert server.device_slow_downs == 0  # never polled faster than the server asked
    assert [m for m in debug_logs.messages if "slow_down" in m] == [
        "device login: slow_down, now polling every 10s",
        "device login: slow_down, now polling every 15s",
    ]


def test_denied(server: LocalOAuthServer, clock: FakeClock, out: Terminal) -> None:
    person = Person(clock, server, out, after=1, decision="deny")
    with pytest.raises(LoginError) as caught:
        login(server, clock, out, person)
    assert str(caught.value) == DENIED
    assert isinstance(caught.value.__cause__, OAuthError)
    assert caught.value.__cause__.error == "access_denied"
    assert server.token_requests == 2
    assert server.tokens_issued == 0


def test_expired_token_from_the_server(
    server: LocalOAuthServer, clock: FakeClock, out: Terminal
) -> None:
    server.respond_next(400, json.dumps({"error": "expired_token"}).encode())
    person = Person(clock, server, out)
    with pytest.raises(LoginError) as caught:
        login(server, clock, out, person)
    assert str(caught.value) == EXPIRED
    assert "log in again" in str(caught.value)
    assert server.token_requests == 1
    assert person.slept == [5]


def test_local_expiry_stops_polling(clock: FakeClock) -> None:
    with LocalOAuthServer(
        public_clients={"tv": []}, device_code_lifetime=60, device_interval=5, clock=clock.monotonic
    ) as server:
        out = Terminal(lambda: server.token_requests)
        person = Person(clock, server, out)
        with pytest.raises(LoginError) as caught:
            login(server, clock, out, person)
        assert str(caught.value) == EXPIRED
        assert person.slept == [5] * 12
        assert server.token_requests == 11  # never polls once the code has expired
        assert "valid for 1 minute." in out.getvalue()


def test_long_validity_is_cut_to_half_an_hour(clock: FakeClock) -> None:
    with LocalOAuthServer(
        public_clients={"tv": []},
        device_code_lifetime=7200,
        device_interval=60,
        clock=clock.monotonic,
    ) as server:
        out = Terminal(lambda: server.token_requests)
        person = Person(clock, server, out)
        with pytest.raises(LoginError):
            login(server, clock, out, person)
        assert sum(person.slept) == 1800
        assert server.token_requests == 29
        assert "valid for 30 minutes." in out.getvalue()


@pytest.mark.parametrize("failure", ["dropped", "503"])
def test_a_poll_without_answer_is_tried_again(
    server: LocalOAuthServer,
    clock: FakeClock,
    out: Terminal,
    debug_logs: pytest.LogCaptureFixture,
    failure: str,
) -> None:
    if failure == "dropped":
        server.drop_next(1)
    else:
        server.fail_next(1, 503)
    person = Person(clock, server, out, after=2)
    answer = login(server, clock, out, person)
    assert answer.refresh_token
    assert person.slept == [5, 5, 5]
    assert server.token_requests == 3
    failed = [r for r in debug_logs.records if "polling the token endpoint failed" in r.message]
    assert [r.levelno for r in failed] == [logging.INFO]
    assert "trying again in 5s" in failed[0].getMessage()
    assert_no_leak(all_log_text(debug_logs), device_code_of(server))


def test_other_token_endpoint_errors_end_the_login(
    server: LocalOAuthServer, clock: FakeClock, out: Terminal
) -> None:
    refusal = {"error": "invalid_client", "error_description": "no such client"}
    server.respond_next(401, json.dumps(refusal).encode())
    with pytest.raises(OAuthError) as caught:
        login(server, clock, out, Person(clock, server, out))
    assert caught.value.error == "invalid_client"
    assert server.token_requests == 1


def test_a_malformed_token_answer_ends_the_login(
    server: LocalOAuthServer, clock: FakeClock, out: Terminal
) -> None:
    server.respond_next(200, b"<html>hello</html>", "text/html")
    with pytest.raises(MalformedTokenResponseError):
        login(server, clock, out, Person(clock, server, out))
    assert server.token_requests == 1


def test_the_device_code_never_shows(
    server: LocalOAuthServer, clock: FakeClock, out: Terminal, debug_logs: pytest.LogCaptureFixture
) -> None:
    server.drop_next(1)
    server.fail_next(1, 503)
    person = Person(clock, server, out, after=3)
    answer = login(server, clock, out, person)
    device_code = device_code_of(server)
    assert_no_leak(all_log_text(debug_logs) + out.getvalue() + repr(answer), device_code)
    person = Person(clock, server, Terminal(lambda: server.token_requests), decision="deny")
    person.after = server.token_requests + 1
    with pytest.raises(LoginError) as caught:
        login(server, clock, person.out, person)
    second = {r.form["device_code"][0] for r in server.token_request_records} - {device_code}
    assert len(second) == 1
    assert_no_leak(reachable_text(caught.value), *second)
    assert_no_leak(all_log_text(debug_logs), *second)


def test_device_authorization_repr_hides_the_device_code() -> None:
    authorization = DeviceAuthorization(CANARY, "BCDF-GHJK", "https://x.example/d", None, 600, 5)
    assert CANARY not in repr(authorization)
    assert "BCDF-GHJK" in repr(authorization)


# -- a scripted server: hostile answers ------------------------------------------------------


class Scripted:
    """A raw HTTP server on 127.0.0.1: the device authorization endpoint answers
    ``device`` (status, body), the token endpoint the next of ``tokens`` (None: the
    connection is closed without an answer). Requests are recorded."""

    def __init__(self) -> None:
        self.device: tuple[int, bytes] = (200, b"{}")
        self.tokens: deque[tuple[int, bytes] | None] = deque()
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                scripted.requests.append((self.path, parse_qs(body.decode())))
                if self.path == DEVICE_PATH:
                    reply: tuple[int, bytes] | None = scripted.device
                else:
                    reply = scripted.tokens.popleft()
                if reply is None:
                    self.close_connection = True
                    return
                self.send_response(reply[0])
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply[1])))
                self.end_headers()
                self.wfile.write(reply[1])

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.domain = f"127.0.0.1:{self.httpd.server_address[1]}"
        self.url = f"http://{self.domain}"

    def polls(self) -> int:
        return sum(path != DEVICE_PATH for path, _ in self.requests)

    def login(
        self,
        clock: FakeClock,
        out: io.StringIO,
        scopes: tuple[str, ...] = (),
        secret: str | None = None,
    ) -> tuple[TokenAnswer, list[float]]:
        slept: list[float] = []

        def sleep(seconds: float) -> None:
            slept.append(seconds)
            clock.advance(seconds)

        answer = device_login(
            make_endpoint(self.domain, self.url + "/token"),
            self.url + DEVICE_PATH,
            scopes,
            secret,
            out=out,
            wall_time=clock.time,
            monotonic=clock.monotonic,
            sleep=sleep,
        )
        return answer, slept


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    server = Scripted()
    thread = threading.Thread(
        target=server.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()
    thread.join()


def json_body(payload: object) -> tuple[int, bytes]:
    return 200, json.dumps(payload).encode()


GOOD = {
    "device_code": CANARY,
    "user_code": "WDJB-MJHT",
    "verification_uri": "https://login.example.com/device",
    "verification_uri_complete": "https://login.example.com/device?user_code=WDJB-MJHT",
    "expires_in": 600,
    "interval": 5,
}
TOKENS = json_body({"access_token": "at-1", "refresh_token": "rt-1", "expires_in": 60})
PENDING = 400, json.dumps({"error": "authorization_pending"}).encode()


def without(name: str) -> dict[str, object]:
    return {k: v for k, v in GOOD.items() if k != name}


HOSTILE: list[tuple[dict[str, object], str]] = [
    (without("device_code"), "device_code"),
    ({**GOOD, "device_code": 12345}, "device_code"),
    ({**GOOD, "device_code": " "}, "device_code"),
    ({**GOOD, "device_code": "x" * 2049}, "device_code"),
    ({**GOOD, "device_code": "abc\r\ndef"}, "device_code"),
    ({**GOOD, "device_code": "ünïcode-device-code"}, "device_code"),
    (without("user_code"), "user_code"),
    ({**GOOD, "user_code": ""}, "user_code"),
    ({**GOOD, "user_code": ["WDJB"]}, "user_code"),
    ({**GOOD, "user_code": "\x1b[2J\x1b[31mWDJB"}, "user_code"),
    ({**GOOD, "user_code": "W" * 65}, "user_code"),
    ({**GOOD, "user_code": f"code {CANARY}"}, "user_code"),
    (without("verification_uri"), "verification_uri"),
    ({**GOOD, "verification_uri": ""}, "verification_uri"),
    ({**GOOD, "verification_uri": 42}, "verification_uri"),
    ({**GOOD, "verification_uri": "http://login.example.com/device"}, "verification_uri"),
    ({**GOOD, "verification_uri": "javascript:alert(1)"}, "verification_uri"),
    ({**GOOD, "verification_uri": "file:///etc/passwd"}, "verification_uri"),
    ({**GOOD, "verification_uri": "https:///device"}, "verification_uri"),
    ({**GOOD, "verification_uri": "https://login.example.com:0/"}, "verification_uri"),
    ({**GOOD, "verification_uri": "https://[::1/device"}, "verification_uri"),
    ({**GOOD, "verification_uri": "https://login.example.com@evil.example/"}, "verification_uri"),
    ({**GOOD, "verification_uri": "https://login.example.com/\x1b]8;;x\x07"}, "verification_uri"),
    ({**GOOD, "verification_uri": "https://l\u043egin.example.com/device"}, "verification_uri"),
    ({**GOOD, "verification_uri": "https://login.example.com/a b"}, "verification_uri"),
    ({**GOOD, "verification_uri": "https://x.example/" + "a" * 2048}, "verification_uri"),
    ({**GOOD, "verification_uri": f"https://x.example/{CANARY}"}, "verification_uri"),
    ({**without("verification_uri"), "verification_url": "ftp://x/"}, "verification_url"),
    ({**GOOD, "verification_uri_complete": "http://evil.example/"}, "verification_uri_complete"),
    ({**GOOD, "verification_uri_complete": 7}, "verification_uri_complete"),
    (without("expires_in"), "expires_in"),
    ({**GOOD, "expires_in": 0}, "expires_in"),
    ({**GOOD, "expires_in": -600}, "expires_in"),
    ({**GOOD, "expires_in": "ten minutes"}, "expires_in"),
    ({**GOOD, "expires_in": "nan"}, "expires_in"),
    ({**GOOD, "expires_in": True}, "expires_in"),
    ({**GOOD, "expires_in": 10**400}, "expires_in"),
    ({**GOOD, "expires_in": [600]}, "expires_in"),
    ({**GOOD, "interval": 0}, "interval"),
    ({**GOOD, "interval": -1}, "interval"),
    ({**GOOD, "interval": 61}, "interval"),
    ({**GOOD, "interval": "soon"}, "interval"),
    ({**GOOD, "interval": "inf"}, "interval"),
    ({**GOOD, "interval": {"s": 5}}, "interval"),
]


@pytest.mark.parametrize(("payload", "culprit"), HOSTILE)
def test_hostile_device_authorization_answers(
    scripted: Scripted,
    clock: FakeClock,
    debug_logs: pytest.LogCaptureFixture,
    payload: dict[str, object],
    culprit: str,
) -> None:
    scripted.device = json_body(payload)
    out = io.StringIO()
    with pytest.raises(MalformedTokenResponseError) as caught:
        scripted.login(clock, out, secret=CLIENT_SECRET)
    message = str(caught.value)
    assert re.search(rf"\b{culprit}\b", message), message
    assert message.startswith(f"device authorization endpoint {scripted.url}{DEVICE_PATH} ")
    assert message.isprintable()
    assert len(message) < 1000
    assert scripted.polls() == 0
    assert out.getvalue() == ""  # nothing shown to the person
    assert_no_leak(reachable_text(caught.value) + all_log_text(debug_logs), CANARY, CLIENT_SECRET)


def test_an_echoed_expires_in_is_quoted_escaped_and_redacted(
    scripted: Scripted, clock: FakeClock
) -> None:
    scripted.device = json_body({**GOOD, "expires_in": f"\x1b[31m{CANARY}" + "9" * 1000})
    with pytest.raises(MalformedTokenResponseError) as caught:
        scripted.login(clock, io.StringIO())
    message = str(caught.value)
    assert "\x1b" not in message
    assert "\\x1b[31m***999" in message
    assert "more characters" in message


@pytest.mark.parametrize(
    "reply",
    [
        (200, b"not json"),
        (200, b"[1, 2]"),
        (200, b"[" * 100_000),
        (200, b'{"expires_in": NaN}'),
        (500, b"oops"),
    ],
)
def test_device_authorization_answers_that_are_not_json_objects(
    scripted: Scripted, clock: FakeClock, reply: tuple[int, bytes]
) -> None:
    scripted.device = reply
    with pytest.raises(TokenProviderError) as caught:
        scripted.login(clock, io.StringIO())
    assert "device authorization endpoint" in str(caught.value)
    assert scripted.polls() == 0


def test_a_refusal_of_the_device_authorization_request(
    scripted: Scripted, clock: FakeClock
) -> None:
    scripted.device = 400, json.dumps({"error": "invalid_scope"}).encode()
    with pytest.raises(OAuthError) as caught:
        scripted.login(clock, io.StringIO(), scopes=("admin",))
    assert caught.value.error == "invalid_scope"
    assert str(caught.value).startswith("device authorization endpoint ")


@pytest.mark.parametrize(
    ("changes", "first_sleep", "validity"),
    [
        ({}, 5, "10 minutes"),
        ({"interval": None}, 5, "10 minutes"),
        ({"interval": 0.2}, 1, "10 minutes"),
        ({"interval": "7"}, 7, "10 minutes"),
        ({"interval": 60}, 60, "10 minutes"),
        ({"expires_in": "900"}, 5, "15 minutes"),
        ({"expires_in": 45.5}, 5, "46 seconds"),
        ({"expires_in": 86400}, 5, "30 minutes"),
        ({"verification_uri_complete": None}, 5, "10 minutes"),
    ],
)
def test_usable_device_authorization_answers(
    scripted: Scripted,
    clock: FakeClock,
    changes: dict[str, object],
    first_sleep: float,
    validity: str,
) -> None:
    payload = {k: v for k, v in {**GOOD, **changes}.items() if v is not None}
    scripted.device = json_body(payload)
    scripted.tokens.append(TOKENS)
    out = io.StringIO()
    answer, slept = scripted.login(clock, out)
    assert (answer.access_token, answer.refresh_token) == ("at-1", "rt-1")
    assert slept == [first_sleep]
    text = out.getvalue()
    assert f"valid for {validity}." in text
    assert "    https://login.example.com/device\n" in text
    assert ("user_code=WDJB-MJHT" in text) == ("verification_uri_complete" in payload)


def test_verification_url_as_some_servers_name_it(scripted: Scripted, clock: FakeClock) -> None:
    payload = {**without("verification_uri"), "verification_url": "https://g.example/device"}
    scripted.device = json_body(payload)
    scripted.tokens.append(TOKENS)
    out = io.StringIO()
    scripted.login(clock, out)
    assert "    https://g.example/device\n" in out.getvalue()


def test_plain_http_verification_uri_only_to_loopback(scripted: Scripted, clock: FakeClock) -> None:
    scripted.device = json_body({**GOOD, "verification_uri": "http://127.0.0.1:8080/device"})
    scripted.tokens.append(TOKENS)
    out = io.StringIO()
    scripted.login(clock, out)
    assert "    http://127.0.0.1:8080/device\n" in out.getvalue()


@pytest.mark.parametrize(
    ("scopes", "sent"), [((), None), (("read",), ["read"]), (("read", "write"), ["read write"])]
)
def test_the_device_authorization_request(
    scripted: Scripted, clock: FakeClock, scopes: tuple[str, ...], sent: list[str] | None
) -> None:
    scripted.device = json_body(GOOD)
    scripted.tokens.append(TOKENS)
    scripted.login(clock, io.StringIO(), scopes=scopes)
    (path, form), (token_path, poll) = scripted.requests
    assert path == DEVICE_PATH
    assert form.get("scope") == sent
    assert form["client_id"] == ["tv"]
    assert token_path == "/token"
    assert poll == {"grant_type": [DEVICE_GRANT], "device_code": [CANARY], "client_id": ["tv"]}


def test_an_answer_lost_after_approval_is_explained(scripted: Scripted, clock: FakeClock) -> None:
    scripted.device = json_body(GOOD)
    refused = 400, json.dumps({"error": "invalid_grant"}).encode()
    scripted.tokens.extend([PENDING, None, refused])
    with pytest.raises(LoginError) as caught:
        scripted.login(clock, io.StringIO())
    assert str(caught.value) == LOST
    assert scripted.polls() == 3


def test_invalid_grant_after_an_answered_poll_is_the_servers(
    scripted: Scripted, clock: FakeClock
) -> None:
    scripted.device = json_body(GOOD)
    refused = 400, json.dumps({"error": "invalid_grant"}).encode()
    scripted.tokens.extend([None, PENDING, refused])
    with pytest.raises(OAuthError) as caught:
        scripted.login(clock, io.StringIO())
    assert caught.value.error == "invalid_grant"


def test_a_hostile_token_endpoint_never_gets_the_device_code_shown(
    scripted: Scripted, clock: FakeClock, debug_logs: pytest.LogCaptureFixture
) -> None:
    scripted.device = json_body(GOOD)
    echo = f"you sent device_code={CANARY} and secret {CLIENT_SECRET}"
    scripted.tokens.extend(
        [
            (
                400,
                json.dumps({"error": "authorization_pending", "error_description": echo}).encode(),
            ),
            (
                503,
                json.dumps(
                    {"error": "temporarily_unavailable", "error_description": echo}
                ).encode(),
            ),
            (502, echo.encode()),
            None,
            (400, json.dumps({"error": "invalid_grant", "error_description": echo}).encode()),
        ]
    )
    out = io.StringIO()
    with pytest.raises(LoginError) as caught:
        scripted.login(clock, out, secret=CLIENT_SECRET)
    assert str(caught.value) == LOST
    assert scripted.polls() == 5
    infos = [r for r in debug_logs.records if r.levelno == logging.INFO]
    assert len(infos) == 3
    text = reachable_text(caught.value) + all_log_text(debug_logs) + out.getvalue()
    assert_no_leak(text, CANARY, CLIENT_SECRET)


# -- end to end: a person in a real headless Chromium -----------------------------------------


def test_a_person_approves_the_device_in_chromium(chromium: Any) -> None:
    """Real clock, real browser: device_login polls from a thread while Chromium opens the
    verification page, the person types the code, logs in and approves."""
    from selenium.webdriver.common.by import By  # noqa: PLC0415 - only this test needs it
    from selenium.webdriver.support import expected_conditions  # noqa: PLC0415
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

    with LocalOAuthServer(
        public_clients={"tv": []}, users={"alice": PASSWORD}, device_interval=0.2
    ) as server:
        out = Terminal(lambda: server.token_requests)
        result: list[TokenAnswer | BaseException] = []

        def poll() -> None:
            try:
                result.append(
                    device_login(
                        make_endpoint(server.domain, server.token_url),
                        server.url + DEVICE_PATH,
                        ("read",),
                        None,
                        out=out,
                        wall_time=time.time,
                    )
                )
            except BaseException as exc:  # handed to the test thread
                result.append(exc)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        assert out.flushed.wait(browser_support.WAIT_SECONDS), "nothing was printed"
        found = re.search(r"page in a browser.*:\n\n    (\S+)\n", out.getvalue())
        assert found, out.getvalue()
        assert found[1] == server.url + "/device"

        wait = WebDriverWait(chromium, browser_support.WAIT_SECONDS)
        chromium.get(found[1])
        typed = wait.until(expected_conditions.presence_of_element_located((By.ID, "user_code")))
        typed.clear()
        typed.send_keys(out.user_code())
        chromium.find_element(By.ID, "username").send_keys("alice")
        chromium.find_element(By.ID, "password").send_keys(PASSWORD)
        chromium.find_element(By.ID, "approve").click()
        wait.until(expected_conditions.staleness_of(typed))
        heading = wait.until(expected_conditions.presence_of_element_located((By.TAG_NAME, "h1")))
        assert heading.text == "Device approved"

        poller.join(browser_support.WAIT_SECONDS)
        assert not poller.is_alive(), "device_login did not return after the approval"
        (answer,) = result
        assert isinstance(answer, TokenAnswer), answer
        assert answer.refresh_token
        assert answer.scopes == ("read",)
        bearer = {"Authorization": f"Bearer {answer.access_token}"}
        assert requests.get(server.resource_url, headers=bearer, timeout=5).status_code == 200
        assert server.tokens_issued == 1
