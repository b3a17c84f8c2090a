"""TDSTokenProvider against hostile or broken dispensers (issue 10, TDS parts).

A dispenser's answer is read bounded in size and time, every malformed one is a
`MalformedTokenResponseError`, its text is quoted cut short and escaped, no error repeats
a token value it carried, and a cookie name that could inject headers is refused.
`compat.tds.get_token` never hands out a token with too little life left.

Well-formed but hostile answers come from the local Lambda server; raw bytes (dripping,
endless or broken bodies, FunctionErrors of any shape) from `HostileLambda`, a Lambda
Invoke endpoint on 127.0.0.1 written here. Anything that may hang or eat memory runs in a
child process with a time bound (and a memory limit where memory is at stake).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from conftest import REGION, StackFactory, all_log_text
from tokenprovider import (
    ConfigurationError,
    MalformedTokenResponseError,
    TDSError,
    TokenProviderError,
    TokenRequestError,
    parse_credentials_config,
)
from tokenprovider.caches import MemoryTokenCache
from tokenprovider.compat import tds as compat
from tokenprovider.providers.tds import TDSTokenProvider
from tokenprovider.testing.clock import FakeClock
from tokenprovider.testing.http_recorder import RecordingHTTPServer, _BackgroundServer, _Handler
from tokenprovider.testing.lambda_server import LambdaContext
from tokenprovider.testing.refresh import wait_for_refresh
from tokenprovider.testing.tds_dispenser import LocalTokenDispenser, fake_session

CLIENT = "hostileclient"
HOSTILE_ARN = "arn:aws:lambda:us-west-2:123456789012:function:hostile"
#: Token values a hostile dispenser puts in its answers; no message may repeat them.
CANARY_TOKEN = "sm-CANARY-token-5e1d"
CANARY_DN = "CN=canary-userdn-77,OU=Secret"
CANARY_UPN = "canary-upn-0c9b@example.invalid"
CANARIES = (CANARY_TOKEN, CANARY_DN, CANARY_UPN)
NESTED = "[" * 100_000 + "]" * 100_000
HUGE = "1" + "0" * 400


def canary_document(**fields: Any) -> dict[str, Any]:
    return {
        "sm_token": CANARY_TOKEN,
        "cookiename": "SMSESSION",
        "expires_at": 4_000_000_000,
        "created_at": 3_999_996_400,
        "userdn": CANARY_DN,
        "upn": CANARY_UPN,
        "status": "success",
        **fields,
    }


def reachable_text(error: BaseException) -> str:
    """The text of ``error``, its chain (``__cause__``, ``__context__``) and everything
    their args and attributes hold, bytes included: what a logger or debugger can reach."""
    parts: list[str] = ["".join(traceback.format_exception(error))]
    seen: set[int] = set()
    stack: list[object] = [error]
    while stack:
        item = stack.pop()
        if item is None or isinstance(item, (bool, int, float)) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, str):
            parts.append(item)
        elif isinstance(item, (bytes, bytearray)):
            parts.append(bytes(item).decode("utf-8", "replace"))
        elif isinstance(item, BaseException):
            parts += [str(item), repr(item)]
            stack += [item.__cause__, item.__context__, *item.args, *vars(item).values()]
        elif isinstance(item, dict):
            stack += [*item.keys(), *item.values()]
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack += list(item)
        else:
            parts.append(repr(item))
    return "\n".join(parts)


def assert_no_canary(*texts: str) -> None:
    for text in texts:
        for canary in CANARIES:
            assert canary not in text, f"{canary!r} leaked into: {text[:2000]!r}"


def assert_quoted(text: str) -> None:
    """Server text reached ``text`` only cut short and with CR/LF escaped."""
    assert "\r" not in text
    assert "\n" not in text
    assert len(text) < 1500, f"{len(text)} characters"


# -- a hostile Lambda Invoke endpoint -------------------------------------------------------

Behaviour = Callable[["HostileLambda", _Handler, int], None]


def head(status: str = "200 OK", **headers: str) -> bytes:
    """A status line and headers (``Content_Type`` means ``Content-Type``)."""
    fields = {"Content-Type": "application/json", **headers}
    lines = [f"HTTP/1.1 {status}", *(f"{k.replace('_', '-')}: {v}" for k, v in fields.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def answer(body: bytes, status: str = "200 OK", **headers: str) -> bytes:
    return head(status, Content_Length=str(len(body)), **headers) + body


class HostileLambda(_BackgroundServer):
    """Answers each Invoke with whatever ``behaviour(server, request, n)`` writes.

    ``GET /release`` sets `release`, for behaviours that wait for the client's signal;
    `stopping` is set when the server stops, ending every drip.
    """

    def __init__(self, behaviour: Behaviour) -> None:
        super().__init__()
        self.behaviour = behaviour
        self.stopping = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._invocations = 0

    @property
    def invocations(self) -> int:
        with self._lock:
            return self._invocations

    def handle(self, request: _Handler, body: bytes) -> None:
        if request.path == "/release":
            self.release.set()
            request.respond_json(200, {})
            return
        with self._lock:
            self._invocations += 1
            number = self._invocations
        request.close_connection = True
        with contextlib.suppress(OSError):  # the client hung up
            self.behaviour(self, request, number)

    def drip(self, request: _Handler, data: bytes, interval: float = 0.1) -> None:
        """Write ``data`` a byte at a time, one every ``interval`` seconds."""
        for i in range(len(data)):
            if self.stopping.wait(interval):
                return
            request.wfile.write(data[i : i + 1])

    def stop(self) -> None:
        self.stopping.set()
        super().stop()


def raw(data: bytes) -> Behaviour:
    """A behaviour that writes ``data`` and hangs up."""

    def write(server: HostileLambda, request: _Handler, n: int) -> None:
        request.wfile.write(data)

    return write


def function_error(payload: object) -> Behaviour:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return raw(answer(body, X_Amz_Function_Error="Unhandled"))


@pytest.fixture
def hostile(
    clean_aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[Behaviour], HostileLambda]]:
    """Start a `HostileLambda` with a behaviour; boto3 (here and in children) goes to it."""
    servers: list[HostileLambda] = []

    def start(behaviour: Behaviour) -> HostileLambda:
        server = HostileLambda(behaviour).start()
        servers.append(server)
        settings = {
            "AWS_ENDPOINT_URL_LAMBDA": server.url,
            "AWS_REGION": REGION,  # only this one: the library must read it itself
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        return server

    yield start
    for server in servers:
        server.stop()


def hostile_provider(**settings: Any) -> TDSTokenProvider:
    settings.setdefault("max_attempts", 1)
    return TDSTokenProvider(
        "cmr.example.com",
        CLIENT,
        lambda_arn=HOSTILE_ARN,
        boto3_session=fake_session(REGION),
        cache=MemoryTokenCache(),
        **settings,
    )


def local_provider(
    tds: LocalTokenDispenser, answer: Any, host: str = "cmr.example.com", **settings: Any
) -> TDSTokenProvider:
    """A provider for a local Lambda answering ``answer`` (raised if an exception)."""

    def handler(event: Any, context: LambdaContext) -> Any:
        if isinstance(answer, Exception):
            raise answer
        return answer

    arn = tds.lambda_server.add_function("dispenser", handler)
    return TDSTokenProvider(
        host,
        CLIENT,
        lambda_arn=arn,
        boto3_session=fake_session(REGION),
        cache=MemoryTokenCache(),
        **settings,
    )


# -- child processes, for what may hang or eat memory ---------------------------------------

CHILD = r"""
import io, json, logging, resource, sys, threading, time, urllib.request

settings = json.loads(sys.argv[1])
if settings.get("memory"):
    resource.setrlimit(resource.RLIMIT_AS, (settings["memory"], settings["memory"]))
log = io.StringIO()
logging.getLogger().addHandler(logging.StreamHandler(log))
logging.getLogger().setLevel(logging.DEBUG)

from tokenprovider import TDSTokenProvider
from tokenprovider.caches import MemoryTokenCache

provider = TDSTokenProvider(
    "cmr.example.com", "hostileclient", lambda_arn=settings["arn"], failure_cooldown=0,
    cache=MemoryTokenCache(), **settings["provider"],
)
report = {"calls": []}
for step in settings["steps"]:
    if step == "release":
        urllib.request.urlopen(settings["url"] + "/release", timeout=5).read()
    elif step == "join":
        workers = [t for t in threading.enumerate() if t.name == "tokenprovider-tds"]
        for worker in workers:
            worker.join(settings["join"])
        report["workers"] = len(workers)
        report["workers_alive"] = sum(worker.is_alive() for worker in workers)
    else:
        started = time.monotonic()
        try:
            outcome = {"token": provider.token}
        except Exception as exc:
            outcome = {"error": [c.__name__ for c in type(exc).__mro__], "message": str(exc)}
        outcome["elapsed"] = time.monotonic() - started
        report["calls"].append(outcome)
report["repr"] = repr(provider)
report["log"] = log.getvalue()
print(json.dumps(report))
"""


def run_child(
    server: HostileLambda, steps: list[str], timeout: float = 25, **settings: Any
) -> tuple[dict[str, Any], str]:
    """Run `CHILD` against ``server``; returns its report and everything it printed."""
    settings.setdefault("provider", {})
    settings["provider"].setdefault("invoke_timeout", 1)
    settings.update(arn=HOSTILE_ARN, url=server.url, steps=steps)
    settings.setdefault("join", 5)
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, json.dumps(settings)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=dict(os.environ),
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the token request was still running after {timeout}s")
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1]), done.stdout + done.stderr


def assert_deadline_error(call: dict[str, Any], bound: float) -> None:
    assert "TokenRequestError" in call.get("error", []), call
    assert HOSTILE_ARN in call["message"]
    assert "invoke_timeout" in call["message"]
    assert call["elapsed"] < bound, call


# -- bounded size ---------------------------------------------------------------------------


def test_answer_over_max_response_bytes_is_malformed(tds: LocalTokenDispenser) -> None:
    big = canary_document(padding="x" * 5000)
    provider = local_provider(tds, big, max_response_bytes=1000)

    with pytest.raises(MalformedTokenResponseError) as info:
        _ = provider.token

    assert "max_response_bytes" in str(info.value)
    assert "1000 bytes" in str(info.value)
    assert provider.lambda_arn is not None
    assert provider.lambda_arn in str(info.value)
    assert_no_canary(reachable_text(info.value))
    assert local_provider(tds, big).token == CANARY_TOKEN  # the default cap is 1 MiB


def test_declared_length_over_the_cap_is_refused(
    hostile: Callable[[Behaviour], HostileLambda],
) -> None:
    body = json.dumps(canary_document(padding="x" * 2_000_000)).encode()
    hostile(raw(answer(body)))

    with pytest.raises(MalformedTokenResponseError) as info:
        _ = hostile_provider().token

    assert "1048576 bytes" in str(info.value)
    assert HOSTILE_ARN in str(info.value)


def test_endless_answer_stops_at_the_cap(hostile: Callable[[Behaviour], HostileLambda]) -> None:
    def endless(server: HostileLambda, request: _Handler, n: int) -> None:
        request.wfile.write(head(Connection="close"))
        block = b"[" * 65536
        while not server.stopping.is_set():
            request.wfile.write(block)

    server = hostile(endless)

    report, _ = run_child(
        server, ["token"], memory=1 << 30, provider={"invoke_timeout": 2, "max_attempts": 1}
    )

    call = report["calls"][0]
    assert "MalformedTokenResponseError" in call.get("error", []), call
    assert "1048576 bytes" in call["message"]
    assert HOSTILE_ARN in call["message"]


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "1024", None])
def test_max_response_bytes_is_validated(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="max_response_bytes"):
        TDSTokenProvider(
            "cmr.example.com",
            CLIENT,
            region=REGION,
            boto3_session=fake_session(REGION),
            max_response_bytes=value,
        )


def test_max_response_bytes_from_configuration() -> None:
    config = {
        "credentials": {
            "domain": "cmr.example.com",
            "tds": {"client_id": CLIENT, "region": REGION, "max_response_bytes": "4096"},
        }
    }

    provider = parse_credentials_config(config)

    assert isinstance(provider, TDSTokenProvider)
    assert provider.max_response_bytes == 4096


# -- a deadline that holds ------------------------------------------------------------------


def test_dripping_headers_end_at_the_deadline(
    hostile: Callable[[Behaviour], HostileLambda],
) -> None:
    server = hostile(
        lambda server, request, n: server.drip(
            request, b"HTTP/1.1 200 OK\r\nX-Drip: " + b"a" * 10**5
        )
    )

    report, _ = run_child(server, ["token", "join", "token"], provider={"max_attempts": 4})

    first, second = report["calls"]
    assert_deadline_error(first, bound=3.5)
    # The invoke left behind ended at its deadline too, its connection cut short, so it
    # does not keep the provider from trying again.
    assert report["workers"] <= 1  # it may have ended before the child looked
    assert report["workers_alive"] == 0
    assert_deadline_error(second, bound=3.5)
    assert server.invocations == 2


def test_dripping_payload_ends_at_the_deadline_and_so_does_its_thread(
    hostile: Callable[[Behaviour], HostileLambda],
) -> None:
    def slow_body(server: HostileLambda, request: _Handler, n: int) -> None:
        request.wfile.write(head(Content_Length="100000"))
        server.drip(request, b" " * 100_000)

    server = hostile(slow_body)

    report, _ = run_child(server, ["token", "join"], provider={"max_attempts": 4})

    assert_deadline_error(report["calls"][0], bound=3.5)
    assert report["workers"] <= 1  # it may have ended before the child looked
    assert report["workers_alive"] == 0  # it read a byte at a time and saw the deadline
    assert server.invocations == 1


def test_retries_end_at_the_deadline(hostile: Callable[[Behaviour], HostileLambda]) -> None:
    def slow_failure(server: HostileLambda, request: _Handler, n: int) -> None:
        server.stopping.wait(0.4)  # a slow Lambda service, failing every time
        body = json.dumps({"message": "try again"}).encode()
        request.wfile.write(
            answer(body, "500 Internal Server Error", x_amzn_ErrorType="ServiceException")
        )

    server = hostile(slow_failure)

    report, _ = run_child(server, ["token"], provider={"max_attempts": 10})

    assert_deadline_error(report["calls"][0], bound=3)
    assert 1 <= server.invocations <= 3  # retries stop at the deadline, not at 10 attempts


def test_a_late_answer_is_dropped_unseen(hostile: Callable[[Behaviour], HostileLambda]) -> None:
    """The invoke left behind at its deadline gets its token later: it is never used,
    cached, logged or printed, and the thread ends."""

    def late_then_good(server: HostileLambda, request: _Handler, n: int) -> None:
        if n == 1:
            request.wfile.write(b"HTTP/1.1 200 OK\r\n")
            server.release.wait(20)  # until the client has given up on this invoke
            body = json.dumps(canary_document()).encode()
            request.wfile.write(answer(body)[len(b"HTTP/1.1 200 OK\r\n") :])
        else:
            second = canary_document(sm_token="tok-second", userdn="x", upn="y")
            request.wfile.write(answer(json.dumps(second).encode()))

    server = hostile(late_then_good)

    report, printed = run_child(server, ["token", "release", "join", "token"])

    first, second = report["calls"]
    assert_deadline_error(first, bound=3.5)
    assert report["workers_alive"] == 0
    assert second == {"token": "tok-second", "elapsed": second["elapsed"]}
    assert server.invocations == 2
    assert_no_canary(printed)


# -- malformed answers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        NESTED,
        json.dumps(NESTED),
        json.dumps({"statusCode": 200, "body": NESTED}),
        '{"sm_token": "t", "expires_at": ' + HUGE + "}",
        '{"sm_token": "t", "expires_at": 1e400}',
        '{"statusCode": ' + HUGE + ', "body": "x"}',
        '{"statusCode": 200, "body": {"sm_token": "t", "expires_at": -' + HUGE + "}}",
        '{"statusCode": 200.5, "body": "x"}',
        '"' + '\\"' * 10 + '"',
    ],
    ids=[
        "nested",
        "nested-double-encoded",
        "nested-envelope-body",
        "400-digit-expires_at",
        "infinite-expires_at",
        "400-digit-statusCode",
        "400-digit-expires_at-in-envelope",
        "fractional-statusCode",
        "string-of-quotes",
    ],
)
def test_malformed_answer_is_malformed_token_response_error(
    hostile: Callable[[Behaviour], HostileLambda], payload: str
) -> None:
    hostile(raw(answer(payload.encode())))

    with pytest.raises(MalformedTokenResponseError) as info:
        _ = hostile_provider().token

    assert "token dispenser" in str(info.value)
    assert HOSTILE_ARN in str(info.value)
    assert len(str(info.value)) < 500


def test_nested_function_error_payload_is_a_tds_error(
    hostile: Callable[[Behaviour], HostileLambda],
) -> None:
    hostile(function_error(NESTED.encode()))

    with pytest.raises(TDSError) as info:
        _ = hostile_provider().token

    assert "no message" in str(info.value)


# -- server text ----------------------------------------------------------------------------


def test_error_message_is_cut_short_and_escaped(tds: LocalTokenDispenser) -> None:
    message = "dispenser broke\r\nCRITICAL forged log line\x1b[31m" + "x" * 600_000
    provider = local_provider(tds, RuntimeError(message))

    with pytest.raises(TDSError) as info:
        _ = provider.token

    text = str(info.value)
    assert_quoted(text)
    assert "dispenser broke\\r\\nCRITICAL forged log line\\x1b[31m" in text
    assert "cut short" in text


def test_error_type_envelope_body_and_field_names_are_quoted(
    hostile: Callable[[Behaviour], HostileLambda],
) -> None:
    server = hostile(function_error({"errorType": "Bad\r\nType" * 100, "errorMessage": "m\nm"}))
    with pytest.raises(TDSError) as failed:
        _ = hostile_provider().token
    envelope = {"statusCode": 400, "body": "bad client\r\nFORGED" + "y" * 5000}
    server.behaviour = raw(answer(json.dumps(envelope).encode()))
    with pytest.raises(TDSError) as refused:
        _ = hostile_provider().token
    odd_fields = {"sm_tokn\r\nFORGED": "x", "expires_at": 1, "z" * 2000: 1}
    server.behaviour = raw(answer(json.dumps(odd_fields).encode()))
    with pytest.raises(MalformedTokenResponseError) as malformed:
        _ = hostile_provider().token

    assert failed.value.error_type is not None
    assert_quoted(failed.value.error_type)
    assert failed.value.error_type.startswith("Bad\\r\\nType")
    for error in (failed.value, refused.value, malformed.value):
        assert_quoted(str(error))
    assert "bad client\\r\\nFORGED" in str(refused.value)
    assert "sm_tokn\\r\\nFORGED" in str(malformed.value)


def test_server_text_in_log_records_is_escaped(
    tds: LocalTokenDispenser, debug_logs: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    broken = threading.Event()

    def handler(event: Any, context: LambdaContext) -> Any:
        if broken.is_set():
            raise RuntimeError("down\r\nCRITICAL forged entry")
        return canary_document(expires_at=int(clock.time()) + 3600)

    arn = tds.lambda_server.add_function("dispenser", handler)
    provider = TDSTokenProvider(
        "cmr.example.com",
        CLIENT,
        lambda_arn=arn,
        boto3_session=fake_session(REGION),
        clock=clock,
        cache=MemoryTokenCache(),
    )
    assert provider.token == CANARY_TOKEN
    broken.set()
    clock.advance(3500)  # the advisory refresh fails and is logged

    assert provider.token == CANARY_TOKEN
    wait_for_refresh(provider)  # it ran in a worker

    warnings = [r for r in debug_logs.records if r.levelno >= logging.WARNING]
    assert warnings
    assert any("down\\r\\nCRITICAL forged entry" in r.getMessage() for r in warnings)
    for record in debug_logs.records:
        if record.name.startswith("tokenprovider"):
            assert "\r" not in record.getMessage()
            assert "\nCRITICAL" not in record.getMessage()


# -- no token value in any message ----------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected", "shown"),
    [
        ({"statusCode": 500, "body": canary_document()}, TDSError, "500"),
        ({"statusCode": 500, "body": json.dumps(canary_document())}, TDSError, "500"),
        ({"statusCode": "500", "body": canary_document()}, MalformedTokenResponseError, "string"),
        ({"statusCode": "200", "body": json.dumps(canary_document())}, None, "statusCode"),
        (ValueError(json.dumps(canary_document())), TDSError, "ValueError"),
        (ValueError(json.dumps({"cached": json.dumps(canary_document())})), TDSError, "cached"),
        (json.dumps(json.dumps(canary_document(expires_at="soon"))), None, "expires_at"),
    ],
    ids=[
        "envelope-500-object",
        "envelope-500-string",
        "string-status",
        "string-status-200",
        "function-error-json",
        "function-error-json-in-json",
        "double-encoded-malformed",
    ],
)
def test_local_dispenser_answers_never_show_their_token_values(
    tds: LocalTokenDispenser,
    debug_logs: pytest.LogCaptureFixture,
    answer: Any,
    expected: type[Exception] | None,
    shown: str,
) -> None:
    provider = local_provider(tds, answer)

    with pytest.raises(TokenProviderError) as info:
        _ = provider.token

    if expected is not None:
        assert isinstance(info.value, expected)
    assert shown in str(info.value)
    assert_no_canary(reachable_text(info.value), all_log_text(debug_logs), repr(provider))


def test_envelope_401_text_is_shown_without_the_token(tds: LocalTokenDispenser) -> None:
    provider = local_provider(tds, {"statusCode": 401, "body": canary_document(reason="expired")})

    with pytest.raises(TDSError) as info:
        _ = provider.token

    assert "sm_token" in str(info.value)  # the shape of the answer shows ...
    assert "***" in str(info.value)  # ... its values do not
    assert info.value.status_code == 401


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        (function_error({"errorMessage": canary_document(), "errorType": "E"}), TDSError),
        (function_error({"errorMessage": {"detail": [canary_document()]}}), TDSError),
        (
            raw(
                head(Content_Length="5000")
                + json.dumps(canary_document()).encode()  # then the connection closes
            ),
            TokenRequestError,
        ),
        (
            raw(
                head(Transfer_Encoding="chunked")
                + json.dumps(canary_document()).encode()  # not a chunk size line
                + b"\r\n"
            ),
            TokenRequestError,
        ),
    ],
    ids=[
        "function-error-object",
        "function-error-nested",
        "cut-short",
        "broken-chunks",
    ],
)
def test_hostile_answers_never_show_their_token_values(
    hostile: Callable[[Behaviour], HostileLambda],
    debug_logs: pytest.LogCaptureFixture,
    behaviour: Behaviour,
    expected: type[Exception],
) -> None:
    hostile(behaviour)
    provider = hostile_provider()

    with pytest.raises(expected) as info:
        _ = provider.token

    assert HOSTILE_ARN in str(info.value)
    assert_no_canary(reachable_text(info.value), all_log_text(debug_logs), repr(provider))


# -- cookie names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        f"SMSESSION\r\nX-Injected: 1={CANARY_TOKEN}",
        "SMSESSION\n",
        "SM;SESSION",
        "SM=SESSION",
        "SM SESSION",
        "SM\tSESSION",
        "SM\x00SESSION",
        "SM\x7fSESSION",
        "SMSESSIÖN",
        "SM,SESSION",
        "SM\u2028SESSION",
        "S" * 300,
    ],
)
def test_cookie_name_that_is_not_a_token_is_refused(tds: LocalTokenDispenser, name: str) -> None:
    with RecordingHTTPServer() as site:
        document = canary_document(cookiename=name)
        provider = local_provider(tds, document, host=site.url, auth_style="cookie")
        with pytest.raises(TDSError) as info:
            requests.get(site.url + "/protected", auth=provider, timeout=5)
        assert site.requests == []

    assert info.value.error_type == "InvalidCookieName"
    assert "cookie" in str(info.value)
    assert_quoted(str(info.value))
    assert_no_canary(reachable_text(info.value), repr(provider))


@pytest.mark.parametrize("name", ["SMSESSION", "Other_Session-2", "a!#$%&'*+-.^`|~z"])
def test_cookie_names_that_are_tokens_are_used(tds: LocalTokenDispenser, name: str) -> None:
    provider = local_provider(tds, canary_document(cookiename=name), auth_style="cookie")

    assert provider.token == CANARY_TOKEN
    assert provider.token_document()["cookiename"] == name


# -- compat.tds.get_token -------------------------------------------------------------------


@pytest.fixture
def compat_stack(make_stack: StackFactory) -> Iterator[LocalTokenDispenser]:
    compat.clear_cache()
    yield make_stack()
    compat.clear_cache()


@pytest.mark.parametrize("left", [100, -6])
def test_get_token_never_returns_too_short_a_token(
    compat_stack: LocalTokenDispenser, debug_logs: pytest.LogCaptureFixture, left: int
) -> None:
    def short_lived(event: Any, context: LambdaContext) -> Any:
        return canary_document(expires_at=int(time.time()) + left)

    compat_stack.lambda_server.add_function(compat_stack.function_name, short_lived)

    with pytest.raises(TokenProviderError) as info:
        compat.get_token(CLIENT, 300)

    assert isinstance(info.value, TDSError)  # a live token too short, or a dead one
    assert "minimum_alive_secs=300" in str(info.value)
    assert 1 <= compat_stack.lambda_server.invocation_count() <= 2  # asked again once at most
    assert_no_canary(reachable_text(info.value), all_log_text(debug_logs))
