"""DynamoDBTokenCache against damaged items, a table that does not answer, and passwords in
its endpoint; moto's server mode over HTTP on 127.0.0.1, as in test_caches_dynamodb.py.

Damaged items are planted with a plain boto3 ``put_item``, as any host holding the
required ``PutItem`` permission could. A cache that might poll for ever runs in a child
process the test waits for with a bound. A table that does not answer is a loopback relay
in front of moto that stops answering (or is closed, so connections are refused); the
tests count the DynamoDB calls the cache made, never the seconds they took.
"""

from __future__ import annotations

import json
import multiprocessing
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config

import ddb_workers
from conftest import (
    CANARY_SECRET,
    DYNAMODB_TABLE,
    LEASE_FIELDS,
    SALT_KEY,
    MotoForwarder,
    Reply,
    assert_no_leak,
    closed_port,
    log_text,
    reachable_text,
    token_item,
    warnings_of,
)
from tokenprovider import OAuthTokenProvider
from tokenprovider.caches.base import CACHE_RETRY_AFTER
from tokenprovider.caches.dynamodb import DynamoDBTokenCache, create_table
from tokenprovider.core.cached import is_header_safe
from tokenprovider.errors import ConfigurationError
from tokenprovider.testing.clock import FakeClock
from tokenprovider.testing.oauth_server import LocalOAuthServer

TABLE = DYNAMODB_TABLE
SPAWN = multiprocessing.get_context("spawn")
#: How long a child may take to get its token: its max_wait is 1 s, so only a cache that
#: keeps polling comes near this.
CHILD_BOUND = 20.0
#: Timeouts of the DynamoDB clients that meet a table that does not answer.
SHORT_TIMEOUT = 1.0
#: What a password in an endpoint looks like in these tests; it must show nowhere.
URL_SECRET = "canary-SECRET"


@pytest.fixture
def server(oauth_server: LocalOAuthServer) -> LocalOAuthServer:
    """The local OAuth server, with the client's secret set to the canary."""
    oauth_server.clients = {"client": CANARY_SECRET}
    return oauth_server


def make(
    server: LocalOAuthServer, *, provider_clock: FakeClock | None = None, **cache: Any
) -> OAuthTokenProvider:
    return OAuthTokenProvider(
        server.url,
        "client",
        CANARY_SECRET,
        token_url=server.token_url,
        cache=DynamoDBTokenCache(TABLE, **cache),
        clock=provider_clock,
    )


def expired_item(server: LocalOAuthServer, client: Any) -> dict[str, Any]:
    """The item a provider stored, its token made long expired (so the next host refreshes)."""
    make(server).token  # noqa: B018 - writes the item
    item = token_item(client)
    now = time.time()
    item["expires_at"] = {"N": repr(now - 60)}
    item["issued_at"] = {"N": repr(now - 3660)}
    return item


# -- a child process that gets one token, so a cache that polls for ever cannot hang us ----


def token_in_child(server: LocalOAuthServer, **cache: Any) -> tuple[str, list[str]]:
    """A token from a provider in a child process, and the warnings it logged; fails the
    test if none comes within `CHILD_BOUND` seconds."""
    results = SPAWN.Queue()
    child = SPAWN.Process(
        target=ddb_workers.token_and_warnings,
        args=(server.url, server.token_url, CANARY_SECRET, results, cache),
        daemon=True,
    )
    child.start()
    try:
        outcome, value, warnings = results.get(timeout=CHILD_BOUND)
    except queue.Empty:
        pytest.fail(
            f"no token after {CHILD_BOUND:.0f}s although max_wait is {cache['max_wait']}s: "
            "the cache kept polling"
        )
    finally:
        if child.is_alive():
            child.kill()
        child.join(10)
    assert outcome == "token", value
    return value, warnings


HURRIED: dict[str, Any] = {"lease_seconds": 1.0, "max_wait": 1.0, "poll_interval": 0.05}


# -- a loopback relay to moto that can stop answering ---------------------------------------

CONDITION_FAILED = json.dumps(
    {
        "__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
        "message": "The conditional request failed",
    }
).encode()


class Relay(MotoForwarder):
    """An HTTP relay on 127.0.0.1 in front of moto that records every DynamoDB operation
    it receives. ``black_hole()`` makes it read requests and never answer; ``fail_leases``
    makes it answer every conditional write of a token item "condition failed";
    ``before_lease`` runs once before the first such write goes on."""

    def __init__(self, upstream: str) -> None:
        self.received: list[str] = []
        self.refused: list[str] = []
        self.silent = threading.Event()
        self.released = threading.Event()  # set at stop: hung handlers return
        self.fail_leases = False
        self.before_lease: Callable[[], None] | None = None
        super().__init__(upstream)

    def reply(
        self, operation: str, path: str, headers: dict[str, str], body: bytes
    ) -> Reply | None:
        with self.lock:
            self.received.append(operation)
        if self.silent.is_set():
            self.released.wait(60)
            return None  # the connection closes without an answer
        lease = (
            operation == "PutItem"
            and b"ConditionExpression" in body
            and SALT_KEY.encode() not in body
        )
        if lease and self.lease_attempt():
            failure = {
                "Content-Type": "application/x-amz-json-1.0",
                "x-amzn-RequestId": "relay-condition-failed",
            }
            return 400, failure, CONDITION_FAILED
        return self.forward(path, headers, body)

    def black_hole(self) -> None:
        self.silent.set()

    def answer_again(self) -> None:
        self.silent.clear()

    def lease_attempt(self) -> bool:
        """Run the hook (once); whether to answer "condition failed"."""
        with self.lock:
            hook, self.before_lease = self.before_lease, None
        if hook is not None:
            hook()
        with self.lock:
            if self.fail_leases:
                self.refused.append("PutItem")
            return self.fail_leases

    def stop(self) -> None:
        """Close the relay: connections to its port are refused from now on."""
        self.released.set()
        super().stop()


@pytest.fixture
def relay(dynamodb: Any) -> Iterator[Relay]:
    """A relay in front of the test's moto server (pass ``endpoint_url=relay.url``)."""
    forwarder = Relay(dynamodb.meta.endpoint_url)
    yield forwarder
    forwarder.stop()


class CountedSession:
    """A boto3 session (``boto3_session`` takes any such object) whose DynamoDB clients
    time out after `SHORT_TIMEOUT` and record every attempt they send in ``sent``."""

    def __init__(self) -> None:
        self.session = boto3.session.Session()
        self.region_name = self.session.region_name
        self.sent: list[str] = []
        self.session.events.register("before-send.dynamodb", self.count)

    def count(self, event_name: str, **_: Any) -> None:
        self.sent.append(event_name.rpartition(".")[2])

    def client(self, service: str, *, config: Config | None = None, **arguments: Any) -> Any:
        short = Config(connect_timeout=SHORT_TIMEOUT, read_timeout=SHORT_TIMEOUT)
        merged = short if config is None else config.merge(short)
        return self.session.client(service, config=merged, **arguments)


# --- a damaged item never stalls the fleet -------------------------------------------------

DAMAGE: dict[str, dict[str, Any]] = {
    "NULL": {"NULL": True},
    "BOOL": {"BOOL": True},
    "L": {"L": [{"S": "x"}]},
    "M": {"M": {"a": {"S": "x"}}},
    "B": {"B": b"\x00\x01"},
    "NS": {"NS": ["1", "2"]},
    "SS": {"SS": ["a", "b"]},
    "N": {"N": "12345678901234567890123456789012345678"},  # more digits than a float holds
}
CASES = [("version", kind) for kind in DAMAGE] + [
    ("lease_id", kind) for kind in ("NULL", "BOOL", "M", "N")
]


@pytest.mark.parametrize(("field", "kind"), CASES)
def test_damaged_version_or_lease_is_replaced_at_once(
    server: LocalOAuthServer, dynamodb: Any, field: str, kind: str
) -> None:
    """An item whose ``version`` or ``lease_id`` has a type this cache never writes is
    replaced by the next host (a conditional write on that damage), which fetches once and
    stores its token for everyone; it does not poll for ever, nor wait out max_wait."""
    item = expired_item(server, dynamodb)
    item[field] = DAMAGE[kind]
    dynamodb.put_item(TableName=TABLE, Item=item)

    token, warnings = token_in_child(server, **HURRIED)

    assert server.token_requests == 2
    healed = token_item(dynamodb)
    assert healed["token"] == {"S": token}
    assert set(healed["version"]) == {"S"}
    assert not set(LEASE_FIELDS) & set(healed)
    assert any("damaged" in text and field in text for text in warnings), warnings
    assert not any("waited" in text for text in warnings), warnings


def test_waiter_gives_up_after_max_wait_when_the_lease_cannot_be_taken(
    server: LocalOAuthServer, dynamodb: Any, relay: Relay
) -> None:
    """Every conditional write of the item fails (another writer always gets there first):
    after max_wait the host fetches anyway and stores its token unconditionally."""
    relay.fail_leases = True

    token, warnings = token_in_child(server, endpoint_url=relay.url, **HURRIED)

    assert server.token_requests == 1
    assert relay.refused, "the cache never tried to take the lease"
    assert token_item(dynamodb)["token"] == {"S": token}
    assert any("waited" in text for text in warnings), warnings


def test_damage_is_replaced_only_while_it_is_still_there(
    server: LocalOAuthServer, dynamodb: Any, relay: Relay, logs: pytest.LogCaptureFixture
) -> None:
    """Another host repairs the damaged item between this host's read and its write: the
    conditional write fails, and this host uses the other's token instead of clobbering it."""
    make(server).token  # noqa: B018 - writes the item
    repaired = token_item(dynamodb)
    damaged = {**expired_item(server, dynamodb), "version": DAMAGE["M"]}
    dynamodb.put_item(TableName=TABLE, Item=damaged)
    relay.before_lease = lambda: dynamodb.put_item(TableName=TABLE, Item=repaired)
    assert server.token_requests == 1

    token = make(server, endpoint_url=relay.url, **HURRIED).token

    assert token == repaired["token"]["S"]
    assert server.token_requests == 1
    assert token_item(dynamodb) == repaired
    assert "replacing it" in log_text(logs)


# --- a damaged salt item is replaced ------------------------------------------------------

SALT_DAMAGE: dict[str, dict[str, Any]] = {
    "S-not-hex": {"S": "not-hex"},  # the right type, but no salt
    "B": {"B": bytes(range(32))},
    "N": {"N": "12345678901234567890123456789012"},
    "BOOL": {"BOOL": False},
    "NULL": {"NULL": True},
    "M": {"M": {"salt": {"S": "00" * 16}}},
    "L": {"L": [{"S": "00" * 16}]},
    "SS": {"SS": ["00" * 16]},
}


@pytest.mark.parametrize("kind", sorted(SALT_DAMAGE))
def test_a_damaged_salt_of_any_type_is_replaced(
    server: LocalOAuthServer, dynamodb: Any, logs: pytest.LogCaptureFixture, kind: str
) -> None:
    dynamodb.put_item(
        TableName=TABLE, Item={"cache_key": {"S": SALT_KEY}, "salt": SALT_DAMAGE[kind]}
    )

    token = make(server).token

    salt = dynamodb.get_item(TableName=TABLE, Key={"cache_key": {"S": SALT_KEY}})["Item"]
    assert len(bytes.fromhex(salt["salt"]["S"])) >= 16
    assert make(server).token == token  # every host now uses the same new salt
    assert server.token_requests == 1
    assert any("salt" in text and TABLE in text for text in warnings_of(logs)), warnings_of(logs)


# --- a table that does not answer costs one call per refresh, then none for a minute ------


def test_black_holed_table_costs_one_call_per_refresh_then_none_for_a_minute(
    server: LocalOAuthServer, relay: Relay, logs: pytest.LogCaptureFixture
) -> None:
    session = CountedSession()
    provider = make(server, boto3_session=session, endpoint_url=relay.url, max_attempts=1)
    first = provider.token  # the key is known, the table holds the token
    relay.black_hole()
    session.sent.clear()
    relay.received.clear()

    provider.invalidate_cache()
    second = provider.token
    assert session.sent == ["GetItem"]  # the load timed out; hold and store were skipped
    assert relay.received == ["GetItem"]

    provider.invalidate_cache()
    third = provider.token
    assert session.sent == ["GetItem"]  # nothing within the minute
    assert server.token_requests == 3
    assert len({first, second, third}) == 3
    assert sum("does not answer" in text for text in warnings_of(logs)) == 1
    assert_no_leak(log_text(logs), CANARY_SECRET, first, second, third)


def test_refusing_table_costs_one_call_per_refresh_then_none_for_a_minute(
    server: LocalOAuthServer, relay: Relay, logs: pytest.LogCaptureFixture
) -> None:
    session = CountedSession()
    provider = make(server, boto3_session=session, endpoint_url=relay.url, max_attempts=2)
    first = provider.token
    relay.stop()  # connections are refused from now on
    session.sent.clear()

    provider.invalidate_cache()
    second = provider.token
    assert session.sent == ["GetItem", "GetItem"]  # one call, botocore's two attempts

    provider.invalidate_cache()
    third = provider.token
    assert session.sent == ["GetItem", "GetItem"]
    assert server.token_requests == 3
    assert len({first, second, third}) == 3
    assert_no_leak(log_text(logs), CANARY_SECRET, first, second, third)


def test_unanswered_salt_lookup_is_not_repeated_for_the_next_provider(
    server: LocalOAuthServer, relay: Relay, logs: pytest.LogCaptureFixture
) -> None:
    """The very first call (the salt item) is not answered: a second provider on the same
    cache, within the minute, fetches at once without calling the table."""
    session = CountedSession()
    cache = DynamoDBTokenCache(TABLE, boto3_session=session, endpoint_url=relay.url, max_attempts=1)
    relay.black_hole()

    def provider() -> OAuthTokenProvider:
        return OAuthTokenProvider(
            server.url, "client", CANARY_SECRET, token_url=server.token_url, cache=cache
        )

    first = provider().token
    assert session.sent == ["PutItem"]
    second = provider().token
    assert session.sent == ["PutItem"]
    assert server.token_requests == 2
    assert_no_leak(log_text(logs), CANARY_SECRET, first, second)


def test_table_is_called_again_a_minute_later(
    server: LocalOAuthServer, dynamodb: Any, relay: Relay, fake_clock: FakeClock
) -> None:
    session = CountedSession()
    provider = make(
        server,
        provider_clock=fake_clock,
        clock=fake_clock,
        boto3_session=session,
        endpoint_url=relay.url,
        max_attempts=1,
    )
    first = provider.token
    relay.black_hole()
    session.sent.clear()
    provider.invalidate_cache()
    provider.token  # noqa: B018
    assert session.sent == ["GetItem"]

    fake_clock.advance(CACHE_RETRY_AFTER - 1)
    provider.invalidate_cache()
    provider.token  # noqa: B018
    assert session.sent == ["GetItem"]

    fake_clock.advance(2)
    relay.answer_again()
    provider.invalidate_cache()
    # The table is read again, and the token it still holds is used.
    assert provider.token == first
    assert session.sent == ["GetItem", "GetItem"]
    assert server.token_requests == 3


# --- no password of an endpoint shows ------------------------------------------------------

USERINFO_ENDPOINTS = [
    f"http://user:{URL_SECRET}@127.0.0.1:8000",
    f"http://user:{URL_SECRET}/x@127.0.0.1:8000",  # "/" hides the "@" from .username
    f"http://user:{URL_SECRET}?x@127.0.0.1:8000",
    f"http://user:{URL_SECRET}#x@127.0.0.1:8000",
    f"http://{URL_SECRET}@127.0.0.1:8000",
    f"user:{URL_SECRET}@127.0.0.1:8000",  # no scheme: refused, and still not quoted
]


@pytest.mark.parametrize("endpoint_url", USERINFO_ENDPOINTS)
def test_endpoint_url_with_a_password_is_refused_without_quoting_it(endpoint_url: str) -> None:
    with pytest.raises(ConfigurationError, match="endpoint_url") as info:
        DynamoDBTokenCache(TABLE, endpoint_url=endpoint_url)
    assert "password" in str(info.value)
    assert_no_leak(reachable_text(info.value), URL_SECRET)


@pytest.mark.parametrize("password", [URL_SECRET, f"{URL_SECRET}/x"])
def test_password_in_the_environments_endpoint_never_shows(
    server: LocalOAuthServer,
    aws_env: str,
    monkeypatch: pytest.MonkeyPatch,
    logs: pytest.LogCaptureFixture,
    password: str,
) -> None:
    """AWS_ENDPOINT_URL (botocore's own setting) with a password: botocore would quote it
    in every connection error; the cache refuses it, naming the settings."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://user:{password}@127.0.0.1:{closed_port()}")
    provider = make(server, max_attempts=1)
    with pytest.raises(ConfigurationError, match="AWS_ENDPOINT_URL") as info:
        provider.token  # noqa: B018
    for text in (
        reachable_text(info.value),
        log_text(logs),
        repr(provider),
        repr(provider.cache),
    ):
        assert_no_leak(text, URL_SECRET, CANARY_SECRET)
    assert server.token_requests == 0


def test_create_table_never_shows_a_password_in_the_endpoint(
    aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://user:{URL_SECRET}@127.0.0.1:{closed_port()}")
    with pytest.raises(ConfigurationError) as info:
        create_table("Created")
    assert_no_leak(reachable_text(info.value), URL_SECRET)


# --- a planted token an HTTP header cannot carry is never sent ------------------------------


@pytest.mark.parametrize(
    "planted",
    ["planted\r\nX-Injected: 1", "planted\nX-Injected: 1", "planted\x00", " planted"],
)
def test_planted_token_a_header_cannot_carry_is_never_sent(
    server: LocalOAuthServer, dynamodb: Any, logs: pytest.LogCaptureFixture, planted: str
) -> None:
    """A valid-looking item whose token holds CR/LF (or other bytes a header cannot carry):
    the next host never adopts it; it fetches a fresh token, stores it and sends that."""
    make(server).token  # noqa: B018 - writes the item
    item = token_item(dynamodb)
    item["token"] = {"S": planted}
    dynamodb.put_item(TableName=TABLE, Item=item)

    provider = make(server)
    response = requests.get(server.resource_url, auth=provider, timeout=10)

    assert response.status_code == 200
    assert server.resource_unauthorized == 0
    assert server.token_requests == 2
    token = provider.token
    assert token != planted
    assert is_header_safe(token)
    assert token_item(dynamodb)["token"] == {"S": token}
    assert planted not in log_text(logs)
