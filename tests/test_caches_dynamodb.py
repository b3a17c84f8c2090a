"""DynamoDBTokenCache against moto's server mode over HTTP on 127.0.0.1.

Real processes (``spawn``) and threads with their own providers, real sockets to the local
OAuth server, real conditional writes for the lease. The test steers timing only through
the OAuth server's hold/release and through observable DynamoDB state: a waiter is known
to be waiting when one of its GetItem answers holds only another host's lease. Every
provider uses `CANARY_SECRET`; no log record, repr or error may show it or a token.
"""

from __future__ import annotations

import base64
import contextlib
import json
import multiprocessing
import os
import queue
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import boto3
import pytest

import ddb_workers
from conftest import (
    CANARY_SECRET,
    DYNAMODB_TABLE,
    LEASE_FIELDS,
    REGION,
    SALT_KEY,
    MotoForwarder,
    Reply,
    assert_no_leak,
    closed_port,
    log_text,
    make_table,
    run_python,
    token_item,
    token_items,
    warnings_of,
)
from tokenprovider import OAuthTokenProvider
from tokenprovider.caches.base import CACHE_RETRY_AFTER, writer_id
from tokenprovider.caches.dynamodb import DynamoDBTokenCache, create_table
from tokenprovider.errors import CacheError, ConfigurationError, TokenProviderError
from tokenprovider.testing.clock import FakeClock
from tokenprovider.testing.oauth_server import LocalOAuthServer

TABLE = DYNAMODB_TABLE
SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture
def server(oauth_server: LocalOAuthServer) -> Iterator[LocalOAuthServer]:
    """The local OAuth server, with the client's secret set to the canary."""
    oauth_server.clients = {"client": CANARY_SECRET}
    yield oauth_server
    oauth_server.release_token_requests()


def make(
    server: LocalOAuthServer,
    *,
    session: Any = None,
    clock: FakeClock | None = None,
    **cache: Any,
) -> OAuthTokenProvider:
    dynamodb = DynamoDBTokenCache(TABLE, boto3_session=session, **cache)
    return OAuthTokenProvider(
        server.url,
        "client",
        CANARY_SECRET,
        token_url=server.token_url,
        cache=dynamodb,
        clock=clock,
    )


def raw_table(client: Any) -> str:
    return json.dumps(client.scan(TableName=TABLE, ConsistentRead=True)["Items"])


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode("ascii")


def stop_process(process: Any) -> None:
    if process.is_alive():
        process.kill()
    process.join(30)


# --- single flight ------------------------------------------------------------------------


def test_eight_processes_make_one_token_request(server: LocalOAuthServer, dynamodb: Any) -> None:
    """Eight programs start together; while the first holds the lease (its token request
    held at the server), the other seven are seen waiting on it; then one request serves
    all eight."""
    barrier = SPAWN.Barrier(8)
    waiting = SPAWN.Queue()
    results = SPAWN.Queue()
    server.hold_token_requests()
    args = (server.url, server.token_url, CANARY_SECRET, barrier, waiting, results)
    children = [SPAWN.Process(target=ddb_workers.token_after_barrier, args=args) for _ in range(8)]
    for child in children:
        child.start()
    try:
        assert server.wait_for_token_requests(1, timeout=60)
        waiters = 0
        with contextlib.suppress(queue.Empty):
            while waiters < 7:
                waiting.get(timeout=30)
                waiters += 1
        assert waiters == 7, f"{waiters} waiters, {server.token_requests} token requests"
        server.release_token_requests()
        tokens = [results.get(timeout=60) for _ in children]
    finally:
        server.release_token_requests()
        for child in children:
            child.join(30)
            stop_process(child)
    assert [child.exitcode for child in children] == [0] * 8
    assert server.token_requests == 1
    assert len(set(tokens)) == 1
    assert token_item(dynamodb)["token"]["S"] == tokens[0]


def test_sixteen_threads_on_two_providers_make_one_token_request(
    server: LocalOAuthServer, dynamodb: Any
) -> None:
    lease_seen = threading.Event()
    providers = [
        make(server, session=ddb_workers.lease_watching_session(lease_seen.set), poll_interval=0.05)
        for _ in range(2)
    ]
    barrier = threading.Barrier(16)
    tokens: list[str] = []
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            barrier.wait(30)
            tokens.append(providers[index % 2].token)
        except BaseException as exc:  # reported below
            errors.append(exc)

    server.hold_token_requests()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    try:
        assert server.wait_for_token_requests(1, timeout=30)
        assert lease_seen.wait(30), "the second provider never saw the first one's lease"
    finally:
        server.release_token_requests()
        for thread in threads:
            thread.join(30)
    assert errors == []
    assert server.token_requests == 1
    assert len(tokens) == 16
    assert len(set(tokens)) == 1


def test_waiter_uses_the_lease_holders_token(
    server: LocalOAuthServer, dynamodb: Any, logs: pytest.LogCaptureFixture
) -> None:
    lease_seen = threading.Event()
    holder = make(server)
    waiter = make(server, session=ddb_workers.lease_watching_session(lease_seen.set))
    results: dict[str, str] = {}

    def get(name: str, provider: OAuthTokenProvider) -> None:
        results[name] = provider.token

    server.hold_token_requests()
    first = threading.Thread(target=get, args=("holder", holder))
    second = threading.Thread(target=get, args=("waiter", waiter))
    first.start()
    try:
        assert server.wait_for_token_requests(1, timeout=30)
        held = token_item(dynamodb)
        assert held["lease_holder"]["S"] == writer_id()
        assert "token" not in held
        second.start()
        assert lease_seen.wait(30), "the waiter never read the holder's lease"
        assert server.token_requests == 1
    finally:
        server.release_token_requests()
        first.join(30)
        if second.is_alive() or second.ident is not None:
            second.join(30)
    assert server.token_requests == 1
    assert results["holder"] == results["waiter"]
    item = token_item(dynamodb)
    assert item["token"]["S"] == results["holder"]
    assert not set(LEASE_FIELDS) & set(item)
    assert "taking over" not in log_text(logs)
    assert_no_leak(log_text(logs), CANARY_SECRET, results["holder"])


def test_killed_lease_holder_is_replaced(
    server: LocalOAuthServer, dynamodb: Any, logs: pytest.LogCaptureFixture
) -> None:
    server.hold_token_requests()
    child = SPAWN.Process(
        target=ddb_workers.fetch_token_until_killed,
        args=(server.url, server.token_url, CANARY_SECRET, 1.0),
    )
    child.start()
    try:
        assert server.wait_for_token_requests(1, timeout=60)
        # The lease is written (and answered) before the token request is sent.
        held = token_item(dynamodb)
        assert "lease_id" in held, held
        assert held["lease_holder"]["S"] == f"{socket.gethostname()}:{child.pid}"
        assert "token" not in held
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join(30)
    finally:
        stop_process(child)
        server.release_token_requests()
    assert child.exitcode == -signal.SIGKILL

    provider = make(server, lease_seconds=1.0, poll_interval=0.05)
    token = provider.token

    assert server.token_requests == 2
    item = token_item(dynamodb)
    assert item["token"]["S"] == token
    assert item["writer"]["S"] == writer_id()
    assert not set(LEASE_FIELDS) & set(item)
    text = log_text(logs)
    assert "taking over" in text
    assert_no_leak(text, CANARY_SECRET, token)


def test_presumed_dead_holder_does_not_overwrite_the_new_holders_token(
    server: LocalOAuthServer, dynamodb: Any, logs: pytest.LogCaptureFixture
) -> None:
    """A holder slower than its lease is taken over; when its token finally arrives it
    is used by that holder but not written over the new holder's entry."""
    slow = make(server, lease_seconds=1.0)
    taker = make(server, lease_seconds=1.0, poll_interval=0.05)
    results: dict[str, str] = {}

    def get(name: str, provider: OAuthTokenProvider) -> None:
        results[name] = provider.token

    server.hold_token_requests()
    first = threading.Thread(target=get, args=("slow", slow))
    second = threading.Thread(target=get, args=("taker", taker))
    first.start()
    try:
        assert server.wait_for_token_requests(1, timeout=30)
        slow_lease = token_item(dynamodb)["lease_id"]["S"]
        second.start()
        # The taker asks only after writing its own lease over the slow one.
        assert server.wait_for_token_requests(2, timeout=30)
        assert token_item(dynamodb)["lease_id"]["S"] != slow_lease
    finally:
        server.release_token_requests()
        first.join(30)
        if second.ident is not None:
            second.join(30)
    assert server.token_requests == 2
    assert results["slow"] != results["taker"]
    item = token_item(dynamodb)
    assert item["token"]["S"] == results["taker"]
    assert not set(LEASE_FIELDS) & set(item)
    assert make(server).token == results["taker"]
    assert server.token_requests == 2
    text = log_text(logs)
    assert "taking over" in text
    assert "another host took over" in text


def test_lease_on_an_item_past_its_ttl_gets_a_future_ttl(
    server: LocalOAuthServer, dynamodb: Any
) -> None:
    """An item whose token expired over an hour ago is past its ``ttl``: DynamoDB may
    delete it at any moment. A host that writes its lease into that item must move the
    ttl into the future, or the item (and the lease) can vanish mid-refresh, and the
    holder's conditional store then fails ("another host took over") and nobody gets
    the token from the cache."""
    make(server).token  # noqa: B018 - writes the item
    item = token_item(dynamodb)
    now = time.time()
    item["expires_at"] = {"N": repr(now - 7200)}
    item["issued_at"] = {"N": repr(now - 10800)}
    item["ttl"] = {"N": str(int(now) - 3600)}
    item["version"] = {"S": "old-version"}
    dynamodb.put_item(TableName=TABLE, Item=item)

    holder = make(server)
    server.hold_token_requests()
    thread = threading.Thread(target=lambda: holder.token)
    thread.start()
    try:
        assert server.wait_for_token_requests(2, timeout=30)
        leased = token_item(dynamodb)
        assert "lease_id" in leased
        ttl = float(leased["ttl"]["N"])
    finally:
        server.release_token_requests()
        thread.join(30)
    assert ttl > time.time(), f"the leased item's ttl is {time.time() - ttl:.0f}s in the past"


def test_failed_fetch_releases_the_lease(
    server: LocalOAuthServer, dynamodb: Any, logs: pytest.LogCaptureFixture
) -> None:
    """A holder whose token request fails leaves no lease behind: the next host fetches
    at once instead of waiting out the lease."""
    server.respond_next(400, json.dumps({"error": "invalid_request"}).encode())
    failing = make(server)
    with pytest.raises(TokenProviderError) as info:
        failing.token  # noqa: B018
    assert_no_leak(str(info.value), CANARY_SECRET)
    for item in token_items(dynamodb):
        assert not set(LEASE_FIELDS) & set(item), item

    other = make(server, lease_seconds=30.0, max_wait=30.0)
    token = other.token
    assert server.token_requests == 2
    assert token_item(dynamodb)["token"]["S"] == token
    assert "waited" not in log_text(logs)


class Calls:
    """The DynamoDB calls one host makes (through its own boto3 session), as
    (operation, error code or "") in order."""

    def __init__(self) -> None:
        self.made: list[tuple[str, str]] = []
        self.session = boto3.session.Session()
        self.session.events.register("after-call.dynamodb.*", self._record)

    def _record(self, model: Any, parsed: Mapping[str, Any], **_: Any) -> None:
        self.made.append((model.name, parsed.get("Error", {}).get("Code", "")))

    def since(self, start: int) -> list[tuple[str, str]]:
        return sorted(self.made[start:])


def test_the_calls_per_process_are_those_the_sizing_table_counts(
    server: LocalOAuthServer, dynamodb: Any
) -> None:
    """docs/caches.md, "Sizing the DynamoDB table": the rows a test can step through in
    one thread (the salt, a refresh, a newer token in the table, a failed refresh)."""
    clock = FakeClock()
    hosts = {name: Calls() for name in ("first", "later")}
    providers = {
        name: OAuthTokenProvider(
            server.url,
            "client",
            CANARY_SECRET,
            token_url=server.token_url,
            cache=DynamoDBTokenCache(TABLE, boto3_session=calls.session, clock=clock),
            clock=clock,
        )
        for name, calls in hosts.items()
    }
    get, put, failed = (
        ("GetItem", ""),
        ("PutItem", ""),
        ("PutItem", "ConditionalCheckFailedException"),
    )

    # The first host's start: the salt (read, created), then a refresh (2 reads, 2 writes).
    providers["first"].token  # noqa: B018
    assert hosts["first"].since(0) == [get] * 3 + [put] * 3
    # A later host's start: the salt (read, its write refused), then the table's token.
    providers["later"].token  # noqa: B018
    assert hosts["later"].since(0) == [get] * 2 + [failed]
    assert server.token_requests == 1

    # Due (in the mandatory window): the first refreshes, the later one finds it newer.
    clock.advance(3600 - 5)
    marks = {name: len(calls.made) for name, calls in hosts.items()}
    refreshed = providers["first"].token
    assert providers["later"].token == refreshed
    assert hosts["first"].since(marks["first"]) == [get] * 2 + [put] * 2
    assert hosts["later"].since(marks["later"]) == [get]
    assert server.token_requests == 2

    # A refresh that fails: the lease is taken, then released (the token stays).
    clock.advance(3600 - 5)
    server.respond_next(400, json.dumps({"error": "invalid_request"}).encode())
    mark = len(hosts["first"].made)
    assert providers["first"].token == refreshed
    assert server.token_requests == 3  # failed: the current token, still good, is kept
    assert hosts["first"].since(mark) == [get] * 2 + [put] * 2
    assert all(
        operation in ("GetItem", "PutItem") for h in hosts.values() for operation, _ in h.made
    )


# --- what the item holds --------------------------------------------------------------------


def test_item_holds_the_entry_and_reads_are_consistent(
    server: LocalOAuthServer, dynamodb: Any, logs: pytest.LogCaptureFixture
) -> None:
    reads: list[dict[str, Any]] = []
    session = boto3.session.Session()
    session.events.register(
        "before-parameter-build.dynamodb.GetItem",
        lambda params, **_: reads.append(dict(params)),
    )
    provider = make(server, session=session)
    before = time.time()
    token = provider.token
    after = time.time()

    assert reads, "the cache never read the table"
    assert all(read.get("ConsistentRead") is True for read in reads), reads
    item = token_item(dynamodb)
    assert set(item) == {
        "cache_key",
        "format",
        "expires_at",
        "issued_at",
        "writer",
        "version",
        "token",
        "ttl",
    }
    assert len(item["cache_key"]["S"]) == 64
    assert item["token"]["S"] == token
    assert item["writer"]["S"] == writer_id()
    assert item["version"]["S"]
    expires_at = float(item["expires_at"]["N"])
    assert before + 3600 - 1 <= expires_at <= after + 3600 + 1
    assert before - 1 <= float(item["issued_at"]["N"]) <= after + 1
    assert int(item["ttl"]["N"]) == int(expires_at) + 3600

    # Another host (its own cache instance) reads it without a token request.
    assert make(server).token == token
    assert server.token_requests == 1
    assert_no_leak(log_text(logs), CANARY_SECRET, token)


@pytest.mark.parametrize("kind", ["env", "derive"])
def test_sealed_item_holds_neither_token_nor_secret(
    server: LocalOAuthServer,
    dynamodb: Any,
    monkeypatch: pytest.MonkeyPatch,
    logs: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    key_text = new_key()
    variable = f"TP_DDB_SEALED_{kind.upper()}_{os.getpid()}"
    monkeypatch.setenv(variable, key_text)
    key = f"env:{variable}" if kind == "env" else "derive"
    provider = make(server, key=key)
    assert provider.cache.encrypted  # type: ignore[attr-defined]
    token = provider.token

    item = token_item(dynamodb)
    assert "sealed" in item
    assert "token" not in item
    raw = raw_table(dynamodb)
    assert_no_leak(raw, token, CANARY_SECRET, key_text)
    # A second host with the same key opens it.
    other = make(server, key=key)
    assert other.token == token
    assert server.token_requests == 1
    for text in (
        repr(provider.cache),
        repr(other.cache),
        repr(provider),
        log_text(logs),
    ):
        assert_no_leak(text, token, CANARY_SECRET, key_text)


# --- tampering and wrong keys -----------------------------------------------------------------


def _flip(text: str) -> str:
    middle = len(text) // 2
    replacement = "B" if text[middle] != "B" else "C"
    return text[:middle] + replacement + text[middle + 1 :]


@pytest.mark.parametrize("change", ["flip-sealed", "raise-expiry", "other-key", "clear-token"])
def test_tampered_or_foreign_items_are_misses(
    server: LocalOAuthServer,
    dynamodb: Any,
    monkeypatch: pytest.MonkeyPatch,
    logs: pytest.LogCaptureFixture,
    change: str,
) -> None:
    monkeypatch.setenv("TP_DDB_TAMPER_KEY", new_key())
    monkeypatch.setenv("TP_DDB_TAMPER_OTHER", new_key())
    key = "env:TP_DDB_TAMPER_KEY"
    original = make(server, key=key).token
    item = token_item(dynamodb)
    planted = "planted-token-3b9e"
    if change == "flip-sealed":
        item["sealed"] = {"S": _flip(item["sealed"]["S"])}
    elif change == "raise-expiry":
        later = float(item["expires_at"]["N"]) + 86400
        item["expires_at"] = {"N": repr(later)}
        item["ttl"] = {"N": str(int(later) + 3600)}
    elif change == "clear-token":
        del item["sealed"]
        item["token"] = {"S": planted}
    if change == "other-key":
        key = "env:TP_DDB_TAMPER_OTHER"
    else:
        dynamodb.put_item(TableName=TABLE, Item=item)

    reader = make(server, key=key)
    token = reader.token  # a miss, never an exception

    assert server.token_requests == 2
    assert token not in (original, planted)
    healed = token_item(dynamodb)
    assert "sealed" in healed
    assert "token" not in healed
    # The fresh entry is readable by the next host with that key.
    assert make(server, key=key).token == token
    assert server.token_requests == 2
    text = log_text(logs)
    assert "ignoring the item" in text
    assert_no_leak(text, CANARY_SECRET, original, token, planted)


class FlavouredProvider(OAuthTokenProvider):
    """Keeps a string with its token (as a cookie-style provider keeps its cookie's name)."""

    def _token_attributes(self) -> Mapping[str, str]:
        return {"flavour": "pistachio"}


def flavoured(server: LocalOAuthServer, **cache: Any) -> FlavouredProvider:
    return FlavouredProvider(
        server.url,
        "client",
        CANARY_SECRET,
        token_url=server.token_url,
        cache=DynamoDBTokenCache(TABLE, **cache),
    )


@pytest.mark.parametrize("sealed", [False, True], ids=["clear", "sealed"])
def test_attributes_reach_another_host_and_are_checked(
    server: LocalOAuthServer, dynamodb: Any, monkeypatch: pytest.MonkeyPatch, sealed: bool
) -> None:
    monkeypatch.setenv("TP_DDB_ATTRIBUTES_KEY", new_key())
    cache: dict[str, Any] = {"key": "env:TP_DDB_ATTRIBUTES_KEY"} if sealed else {}
    token = flavoured(server, **cache).token
    item = token_item(dynamodb)
    assert json.loads(item["attributes"]["S"]) == {"flavour": "pistachio"}

    reader = flavoured(server, **cache)
    assert reader._token_details()[0::2] == (token, {"flavour": "pistachio"})
    assert server.token_requests == 1

    # Damage (a number where this cache writes text), or for sealed items any change.
    item["attributes"] = {"S": '{"flavour":"chocolate"}'} if sealed else {"N": "5"}
    dynamodb.put_item(TableName=TABLE, Item=item)
    fresh, _, attributes = flavoured(server, **cache)._token_details()
    assert fresh != token
    assert attributes == {"flavour": "pistachio"}
    assert server.token_requests == 2


def test_sealed_item_is_a_miss_for_a_cache_without_key(
    server: LocalOAuthServer, dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TP_DDB_ONLY_KEY", new_key())
    sealed_token = make(server, key="env:TP_DDB_ONLY_KEY").token
    plain = make(server)
    assert plain.token != sealed_token
    assert server.token_requests == 2


# --- table problems -------------------------------------------------------------------------


def test_missing_table_is_a_cache_error_naming_table_and_command(
    server: LocalOAuthServer, aws_env: str, logs: pytest.LogCaptureFixture
) -> None:
    provider = make(server)
    with pytest.raises(CacheError) as info:
        provider.token  # noqa: B018
    message = str(info.value)
    assert isinstance(info.value, ConfigurationError)
    assert repr(TABLE) in message
    assert f"tokenprovider cache create-table {TABLE}" in message
    assert server.token_requests == 0
    for text in (message, repr(info.value), log_text(logs)):
        assert_no_leak(text, CANARY_SECRET)


def test_wrong_key_schema_is_a_cache_error_naming_key_attribute(
    server: LocalOAuthServer, aws_env: str
) -> None:
    client = boto3.client("dynamodb")
    make_table(client, key_attribute="Id")
    with pytest.raises(CacheError) as info:
        make(server).token  # noqa: B018
    assert "key_attribute" in str(info.value)
    assert "'cache_key'" in str(info.value)
    assert server.token_requests == 0
    assert_no_leak(str(info.value), CANARY_SECRET)

    token = make(server, key_attribute="Id").token
    item = token_item(client, key_attribute="Id")
    assert item["token"]["S"] == token
    assert len(item["Id"]["S"]) == 64
    assert make(server, key_attribute="Id").token == token
    assert server.token_requests == 1


def test_table_with_a_sort_key_is_a_cache_error(server: LocalOAuthServer, aws_env: str) -> None:
    client = boto3.client("dynamodb")
    client.create_table(
        TableName=TABLE,
        AttributeDefinitions=[
            {"AttributeName": "cache_key", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "cache_key", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    with pytest.raises(CacheError) as info:
        make(server).token  # noqa: B018
    assert "sort key" in str(info.value)
    assert server.token_requests == 0


# --- clocks ---------------------------------------------------------------------------------


@pytest.mark.parametrize("first", ["ahead", "behind"])
def test_skewed_wall_clocks_make_one_request_per_lifetime(
    server: LocalOAuthServer, dynamodb: Any, first: str
) -> None:
    """Two hosts whose wall clocks are 60 s apart share the table for three token
    lifetimes (3600 s, refreshed 300 s ahead): three token requests in all."""
    base = time.time()
    clocks = {"ahead": FakeClock(wall=base + 30), "behind": FakeClock(wall=base - 30)}
    providers = {name: make(server, clock=clock) for name, clock in clocks.items()}
    order = [first, *(name for name in providers if name != first)]
    tokens: set[str] = set()
    for _ in range(164):  # 0 .. 9780 s, in steps of 60 s
        for name in order:
            tokens.add(providers[name].token)
        for clock in clocks.values():
            clock.advance(60)
    assert server.token_requests == 3
    assert len(tokens) == 3


def test_invalidated_token_is_replaced_in_the_table(
    server: LocalOAuthServer, dynamodb: Any
) -> None:
    provider = make(server)
    first = provider.token
    provider.invalidate_cache()
    second = provider.token
    assert second != first
    assert server.token_requests == 2
    assert token_item(dynamodb)["token"]["S"] == second
    assert make(server).token == second
    assert server.token_requests == 2


# --- throttling and unreachable DynamoDB ----------------------------------------------------

THROTTLE_BODY = json.dumps(
    {
        "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "message": "slow down",
    }
).encode()


class ThrottlingProxy(MotoForwarder):
    """A loopback HTTP forwarder to moto that answers chosen DynamoDB requests with a
    ProvisionedThroughputExceededException instead."""

    def __init__(self, upstream: str) -> None:
        self.remaining = 0
        self.when: Callable[[str, bytes], bool] = lambda operation, body: True
        self.throttled: list[str] = []
        self.forwarded: list[str] = []
        super().__init__(upstream)

    def reply(
        self, operation: str, path: str, headers: dict[str, str], body: bytes
    ) -> Reply | None:
        if self.should_throttle(operation, body):
            failure = {
                "Content-Type": "application/x-amz-json-1.0",
                "x-amzn-ErrorType": "ProvisionedThroughputExceededException",
                "x-amzn-RequestId": "proxy-throttle",
            }
            return 400, failure, THROTTLE_BODY
        return self.forward(path, headers, body)

    def throttle(self, count: int, when: Callable[[str, bytes], bool] | None = None) -> None:
        with self.lock:
            self.remaining = count
            self.when = when or (lambda operation, body: True)

    def should_throttle(self, operation: str, body: bytes) -> bool:
        with self.lock:
            if self.remaining > 0 and self.when(operation, body):
                self.remaining -= 1
                self.throttled.append(operation)
                return True
            self.forwarded.append(operation)
            return False


@pytest.fixture
def proxy(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[ThrottlingProxy]:
    """A throttling proxy in front of moto; boto3 clients made from now on go through it."""
    forwarder = ThrottlingProxy(os.environ["AWS_ENDPOINT_URL"])
    monkeypatch.setenv("AWS_ENDPOINT_URL", forwarder.url)
    yield forwarder
    forwarder.stop()


def _token_item_read(operation: str, body: bytes) -> bool:
    return operation == "GetItem" and SALT_KEY.encode() not in body


def test_throttling_is_retried_by_botocore(
    server: LocalOAuthServer,
    dynamodb: Any,
    proxy: ThrottlingProxy,
    logs: pytest.LogCaptureFixture,
) -> None:
    proxy.throttle(2)
    provider = make(server)
    token = provider.token

    # The cache's first call (the salt item's PutItem) was answered "slow down" twice
    # and retried by botocore until it went through.
    assert proxy.throttled == ["PutItem", "PutItem"]
    assert proxy.forwarded[0] == "PutItem"
    assert server.token_requests == 1
    assert token_item(dynamodb)["token"]["S"] == token
    assert make(server).token == token  # cached for the next host
    assert server.token_requests == 1
    assert warnings_of(logs) == []


def test_throttled_read_without_retries_degrades_with_a_warning(
    server: LocalOAuthServer,
    dynamodb: Any,
    proxy: ThrottlingProxy,
    logs: pytest.LogCaptureFixture,
) -> None:
    token = make(server).token  # another host stored a token
    proxy.throttle(1, _token_item_read)
    reader = make(server, max_attempts=1)

    assert reader.token == token  # the cache's hold re-reads and finds the stored token
    assert proxy.throttled == ["GetItem"]
    assert server.token_requests == 1
    warnings = warnings_of(logs)
    assert any(
        "cannot read" in text and TABLE in text and "ProvisionedThroughputExceeded" in text
        for text in warnings
    ), warnings
    assert_no_leak(log_text(logs), CANARY_SECRET, token)


def test_throttled_salt_setup_without_retries_degrades_to_a_fetch(
    server: LocalOAuthServer,
    dynamodb: Any,
    proxy: ThrottlingProxy,
    logs: pytest.LogCaptureFixture,
) -> None:
    """The very first DynamoDB call of a new cache (creating/reading the salt item) is
    throttled and not retried: like every other DynamoDB failure, the provider should
    still get its token from the OAuth server, with a warning."""
    proxy.throttle(1)
    provider = make(server, max_attempts=1)
    token = provider.token
    assert proxy.throttled == ["PutItem"]
    assert server.token_requests == 1
    assert "ProvisionedThroughputExceeded" in log_text(logs)
    assert_no_leak(log_text(logs), CANARY_SECRET, token)


def test_unreachable_dynamodb_degrades_to_fetching(
    server: LocalOAuthServer,
    aws_env: str,
    monkeypatch: pytest.MonkeyPatch,
    logs: pytest.LogCaptureFixture,
) -> None:
    """DynamoDB cannot be reached at all: the cache's reads log a warning and the provider
    fetches its own token (the cache's load() promises "fetching anew")."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port()}")
    provider = make(server, max_attempts=1)
    try:
        token = provider.token
    except TokenProviderError as exc:
        assert_no_leak(str(exc), CANARY_SECRET)
        pytest.fail(f"an unreachable DynamoDB made the token unavailable: {exc}")
    assert server.token_requests == 1
    warnings = warnings_of(logs)
    assert any(TABLE in text for text in warnings), warnings
    assert_no_leak(log_text(logs), CANARY_SECRET, token)


def test_an_unreachable_cache_is_not_tried_again_for_a_minute(
    server: LocalOAuthServer,
    aws_env: str,
    monkeypatch: pytest.MonkeyPatch,
    logs: pytest.LogCaptureFixture,
    fake_clock: FakeClock,
) -> None:
    """Each try at an unreachable table costs timeouts: after one fails, the provider
    fetches without the cache for CACHE_RETRY_AFTER seconds, then tries it again."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port()}")
    provider = make(server, max_attempts=1, clock=fake_clock)

    def tries() -> int:
        return sum("cannot reach" in text for text in warnings_of(logs))

    assert provider.token
    assert tries() == 1
    provider.invalidate_cache()
    fake_clock.advance(CACHE_RETRY_AFTER - 1)
    assert provider.token
    assert (tries(), server.token_requests) == (1, 2)
    provider.invalidate_cache()
    fake_clock.advance(2)
    assert provider.token
    assert (tries(), server.token_requests) == (2, 3)


def test_dynamodb_going_away_after_setup_degrades_to_fetching(
    server: LocalOAuthServer,
    dynamodb: Any,
    proxy: ThrottlingProxy,
    logs: pytest.LogCaptureFixture,
) -> None:
    provider = make(server, max_attempts=1)
    first = provider.token
    proxy.stop()  # the endpoint now refuses connections
    provider.invalidate_cache()

    second = provider.token

    assert second != first
    assert server.token_requests == 2
    # One warning: the failed read marks the table as not answering, so the hold and the
    # store are skipped rather than each paying the connection failure again.
    warnings = warnings_of(logs)
    assert len(warnings) == 1, warnings
    assert "does not answer" in warnings[0], warnings
    assert TABLE in warnings[0], warnings
    assert_no_leak(log_text(logs), CANARY_SECRET, first, second)


def test_endpoint_url_overrides_the_environment(
    server: LocalOAuthServer, dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    moto_url = os.environ["AWS_ENDPOINT_URL"]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port()}")
    token = make(server, endpoint_url=moto_url).token
    assert token_item(dynamodb)["token"]["S"] == token
    assert make(server, endpoint_url=moto_url).token == token
    assert server.token_requests == 1


@pytest.mark.parametrize("endpoint_url", ["localhost:8000", 8000])
def test_bad_endpoint_url_is_a_configuration_error(
    server: LocalOAuthServer, aws_env: str, endpoint_url: Any
) -> None:
    """A malformed endpoint_url is a mistake in the settings, not DynamoDB being down:
    it must be an error (when the cache is made, or at the latest at the first token),
    not a warning at every fetch while the cache is silently bypassed."""
    with pytest.raises(ConfigurationError, match="endpoint_url"):
        make(server, endpoint_url=endpoint_url).token  # noqa: B018


# --- create_table and the CLI ---------------------------------------------------------------


def test_create_table_enables_ttl_and_is_idempotent(aws_env: str) -> None:
    client = boto3.client("dynamodb")
    assert create_table("CreatedTokens") is True
    table = client.describe_table(TableName="CreatedTokens")["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["KeySchema"] == [{"AttributeName": "cache_key", "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = client.describe_time_to_live(TableName="CreatedTokens")["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] in ("ENABLED", "ENABLING")
    assert ttl["AttributeName"] == "ttl"

    assert create_table("CreatedTokens") is False


def test_create_table_enables_ttl_on_an_existing_table(aws_env: str) -> None:
    client = boto3.client("dynamodb")
    make_table(client, "Existing")
    assert create_table("Existing") is False
    ttl = client.describe_time_to_live(TableName="Existing")["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] in ("ENABLED", "ENABLING")
    assert ttl["AttributeName"] == "ttl"


def test_created_table_serves_a_cache(server: LocalOAuthServer, aws_env: str) -> None:
    assert create_table(TABLE) is True
    token = make(server).token
    assert make(server).token == token
    assert server.token_requests == 1


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = run_python("-m", "tokenprovider", *args, timeout=60, env=env)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_cli_create_table(aws_env: str) -> None:
    result = _cli("cache", "create-table", "CliTokens", env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    assert "CliTokens" in result.stdout
    client = boto3.client("dynamodb")
    assert client.describe_table(TableName="CliTokens")["Table"]["TableStatus"] == "ACTIVE"
    ttl = client.describe_time_to_live(TableName="CliTokens")["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "ttl"

    again = _cli("cache", "create-table", "CliTokens", env=dict(os.environ))
    assert again.returncode == 0, again.stderr
    assert "already exists" in again.stdout


def test_cli_create_table_without_region_is_a_configuration_error(aws_env: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_REGION", "AWS_DEFAULT_REGION")}
    result = _cli("cache", "create-table", "NoRegion", env=env)
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tokenprovider: error: ")
    assert "region" in lines[0]

    explicit = _cli("cache", "create-table", "NoRegion", "--region", "us-west-2", env=env)
    assert explicit.returncode == 0, explicit.stderr
    assert boto3.client("dynamodb").describe_table(TableName="NoRegion")["Table"]


# --- parameters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "table_name", ["", "ab", "x" * 256, 5, None, b"Tokens", "bad table", "bad/name", "t\u00e4ble"]
)
def test_bad_table_name_is_a_configuration_error(table_name: Any) -> None:
    with pytest.raises(ConfigurationError, match="table_name"):
        DynamoDBTokenCache(table_name)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("lease_seconds", 0),
        ("lease_seconds", -1),
        ("lease_seconds", True),
        ("lease_seconds", float("inf")),
        ("lease_seconds", float("nan")),
        ("lease_seconds", "30"),
        ("poll_interval", 0),
        ("max_wait", 0),
        ("max_wait", -5.0),
        ("max_attempts", 0),
        ("max_attempts", -1),
        ("max_attempts", True),
        ("max_attempts", 2.0),
        ("key_attribute", ""),
        ("key_attribute", 7),
    ],
)
def test_bad_parameters_are_configuration_errors(setting: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=setting):
        DynamoDBTokenCache(TABLE, **{setting: value})


def test_literal_key_is_refused_without_being_echoed() -> None:
    literal = new_key()
    with pytest.raises(ConfigurationError) as info:
        DynamoDBTokenCache(TABLE, key=literal)
    assert_no_leak(str(info.value), literal)
    with pytest.raises(CacheError):
        DynamoDBTokenCache(TABLE, key=b"short")


def test_repr_shows_table_and_encryption_only(monkeypatch: pytest.MonkeyPatch) -> None:
    key_text = new_key()
    monkeypatch.setenv("TP_DDB_REPR_KEY", key_text)
    assert repr(DynamoDBTokenCache(TABLE, region=REGION)) == "DynamoDBTokenCache('Tokens')"
    sealed = DynamoDBTokenCache(TABLE, key="env:TP_DDB_REPR_KEY", region=REGION)
    assert repr(sealed) == "DynamoDBTokenCache('Tokens', encrypted)"
    assert sealed.encrypted
    assert_no_leak(repr(vars(sealed)), key_text)
