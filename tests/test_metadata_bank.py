"""`tokenprovider.compat.metadata_bank.refresh_token`, the drop-in for the Metadata Bank SDK.

End to end on real parts: boto3 → moto's server on 127.0.0.1 (Secrets Manager, DynamoDB),
requests → the local OAuth server's sockets, and real `spawn` processes for "a fleet of
Lambda containers". One test (at least) per defect of the original SDK (REFERENCE.md §2):
a weak key and no integrity, rotation failing the call, no HTTP timeout, every error
retried, ``scope=None`` sent, no expiry margin, ``RETRIES``/``INTERVAL`` never read, any
non-empty ``IS_LOCAL`` meaning LocalStack, and unconditional writes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import multiprocessing
import os
import signal
import time
import traceback
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from requests.adapters import HTTPAdapter

import mb_workers
from conftest import CANARY_SECRET, assert_no_leak
from tokenprovider import OAuthTokenProvider
from tokenprovider import _aws as aws
from tokenprovider.caches._records import RecordError, from_record
from tokenprovider.caches.base import CacheKey
from tokenprovider.caches.dynamodb import DynamoDBTokenCache
from tokenprovider.caches.sealing import Sealer
from tokenprovider.compat import metadata_bank
from tokenprovider.errors import (
    CacheError,
    ConfigurationError,
    OAuthError,
    SecretReferenceError,
    TokenEndpointError,
    TokenProviderError,
)
from tokenprovider.testing.clock import FakeClock
from tokenprovider.testing.lambda_server import LambdaContext
from tokenprovider.testing.oauth_server import LocalOAuthServer

SPAWN = multiprocessing.get_context("spawn")

KEY = "mbconsumer"
SECRET_NAME = "metadata-bank/api-credentials"
TABLE = "Tokens"
SCOPE = "metadata.read"
SALT_ID = "tokenprovider#salt"
ROTATED_SECRET = CANARY_SECRET + "-rotated"
LIFETIME = 3600
ENV_NAMES = (
    "SECRET_NAME",
    "URL",
    "SCOPE",
    "INTERVAL",
    "RETRIES",
    "IS_LOCAL",
    "TOKEN_TABLE",
)
CONTEXT = LambdaContext(
    function_name="refresh",
    invoked_function_arn="arn:aws:lambda:us-west-2:123456789012:function:refresh",
    aws_request_id="c0ffee",
)


# -- fixtures and helpers -------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fresh_metadata_bank() -> Iterator[None]:
    """Every test starts and ends with no provider kept in the process."""
    metadata_bank.clear_cache()
    yield
    metadata_bank.clear_cache()


@pytest.fixture
def server(oauth_server: LocalOAuthServer) -> LocalOAuthServer:
    """The OAuth server, knowing only the Metadata Bank consumer."""
    oauth_server.clients = {KEY: CANARY_SECRET}
    return oauth_server


@pytest.fixture
def mb_env(
    aws_env: str, server: LocalOAuthServer, monkeypatch: pytest.MonkeyPatch
) -> LocalOAuthServer:
    """The secret and the ``Tokens`` table on moto, and the SDK's variables set."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    put_secret({"consumerKey": KEY, "consumerSecret": CANARY_SECRET}, create=True)
    create_table(TABLE)
    monkeypatch.setenv("SECRET_NAME", SECRET_NAME)
    monkeypatch.setenv("URL", server.token_url)
    monkeypatch.setenv("SCOPE", SCOPE)
    monkeypatch.setenv("INTERVAL", "1")
    monkeypatch.setenv("RETRIES", "3")
    return server


def put_secret(document: dict[str, str], *, create: bool = False) -> None:
    client = boto3.client("secretsmanager")
    if create:
        client.create_secret(Name=SECRET_NAME, SecretString=json.dumps(document))
    else:
        client.put_secret_value(SecretId=SECRET_NAME, SecretString=json.dumps(document))


def create_table(name: str) -> None:
    boto3.client("dynamodb").create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "Id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "Id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )


def raw_items(table: str = TABLE) -> list[dict[str, dict[str, str]]]:
    """Every item in ``table``, exactly as DynamoDB holds it."""
    items: list[dict[str, dict[str, str]]] = boto3.client("dynamodb").scan(TableName=table)["Items"]
    return items


def token_item(table: str = TABLE) -> dict[str, dict[str, str]]:
    """The one item holding a token (not the salt item)."""
    items = [item for item in raw_items(table) if item["Id"]["S"] != SALT_ID]
    assert len(items) == 1, items
    return items[0]


def basic(key: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every record captured at DEBUG (tokenprovider, requests, urllib3...) but botocore's:
    botocore's DEBUG output logs AWS response bodies, the secret's among them, whoever
    reads the secret, so it is left out (as in test_caches_dynamodb.py)."""
    kept = [record for record in caplog.records if not record.name.startswith("botocore")]
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    parts = []
    for record in kept:
        parts.append(formatter.format(record))
        if record.exc_info:
            parts.append(formatter.formatException(record.exc_info))
    return "\n".join(parts)


def error_texts(error: BaseException, caplog: pytest.LogCaptureFixture) -> list[str]:
    """Everything a caller could see of ``error``: str, repr, the formatted chain, the logs."""
    return [
        str(error),
        repr(error),
        "".join(traceback.format_exception(error)),
        log_text(caplog),
    ]


def writer_provider(server: LocalOAuthServer, wall: float) -> OAuthTokenProvider:
    """Another "container" configured as `refresh_token` configures itself, whose clock
    reads ``wall``: what it fetches lands in the table issued at ``wall``."""
    return OAuthTokenProvider(
        server.url,
        KEY,
        CANARY_SECRET,
        token_url=server.token_url,
        scopes=SCOPE,
        client_auth="basic",
        clock=FakeClock(wall=wall),
        cache=DynamoDBTokenCache(TABLE, key="derive", key_attribute="Id"),
    )


# -- the basics -----------------------------------------------------------------------------


def test_returns_the_token_object_with_expiry_in_milliseconds(mb_env: LocalOAuthServer) -> None:
    before = time.time()
    token = metadata_bank.refresh_token()
    after = time.time()
    assert set(token) == {"access_token", "token_type", "expires_in", "expiry"}
    assert isinstance(token["access_token"], str)
    assert token["access_token"]
    assert token["token_type"] == "Bearer"
    assert isinstance(token["expires_in"], int)
    assert LIFETIME - 10 <= token["expires_in"] <= LIFETIME
    assert isinstance(token["expiry"], int)
    assert (before + LIFETIME) * 1000 - 1000 <= token["expiry"] <= (after + LIFETIME) * 1000
    assert mb_env.token_requests == 1


def test_the_token_request_is_basic_auth_client_credentials_with_scope(
    mb_env: LocalOAuthServer,
) -> None:
    metadata_bank.refresh_token()
    record = mb_env.last_token_request
    assert record is not None
    assert record.headers["authorization"] == basic(KEY, CANARY_SECRET)
    assert record.headers["content-type"] == "application/x-www-form-urlencoded"
    assert record.form == {"grant_type": ["client_credentials"], "scope": [SCOPE]}
    assert record.client_auth == "basic"
    assert record.client_id == KEY


def test_works_as_a_lambda_handler(mb_env: LocalOAuthServer) -> None:
    direct = metadata_bank.refresh_token()
    handled = metadata_bank.refresh_token({"some": "event"}, CONTEXT)
    assert handled["access_token"] == direct["access_token"]
    assert handled["expiry"] == direct["expiry"]
    assert set(handled) == set(direct)
    assert mb_env.token_requests == 1


def test_a_cold_lambda_handler_call_fetches_with_the_environment(
    mb_env: LocalOAuthServer,
) -> None:
    # The event and context must not be taken for retries and interval: with RETRIES=3
    # read from the environment, two 503s are retried through.
    mb_env.fail_next(2, 503)
    token = metadata_bank.refresh_token({"retries": 1}, object())
    assert token["access_token"]
    assert mb_env.token_requests == 3


@pytest.mark.parametrize("event", [None, ["a", "list"], "ping"], ids=["null", "list", "string"])
def test_any_json_event_works_as_a_lambda_handler(mb_env: LocalOAuthServer, event: Any) -> None:
    # Lambda passes whatever JSON the invoker sent: null, a list, a string... The second
    # argument is then Lambda's context object, never a number of milliseconds.
    token = metadata_bank.refresh_token(event, CONTEXT)
    assert token["access_token"]
    assert mb_env.token_requests == 1


def test_token_table_names_the_table(
    mb_env: LocalOAuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_table("OtherTokens")
    monkeypatch.setenv("TOKEN_TABLE", "OtherTokens")
    metadata_bank.refresh_token()
    assert "sealed" in token_item("OtherTokens")
    assert raw_items(TABLE) == []


# -- shared through DynamoDB (the original's unconditional writes) --------------------------


def test_a_new_container_uses_the_token_in_dynamodb(mb_env: LocalOAuthServer) -> None:
    first = metadata_bank.refresh_token()
    metadata_bank.clear_cache()  # a new Lambda container: nothing in the process
    second = metadata_bank.refresh_token()
    assert second["access_token"] == first["access_token"]
    assert abs(second["expiry"] - first["expiry"]) <= 1000
    assert mb_env.token_requests == 1


def test_eight_cold_containers_make_one_token_request(mb_env: LocalOAuthServer) -> None:
    barrier = SPAWN.Barrier(9)
    queue = SPAWN.Queue()
    mb_env.hold_token_requests()
    children = [
        SPAWN.Process(target=mb_workers.refresh_after_barrier, args=(barrier, queue), daemon=True)
        for _ in range(8)
    ]
    for child in children:
        child.start()
    try:
        barrier.wait(120)  # every child has imported the drop-in and is about to ask
        assert mb_env.wait_for_token_requests(1, timeout=60)
        mb_env.release_token_requests()
        results = [queue.get(timeout=120) for _ in children]
        for child in children:
            child.join(60)
            assert child.exitcode == 0
    finally:
        mb_env.release_token_requests()
        for child in children:
            if child.is_alive():
                os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
            child.join(10)
    assert [outcome for outcome, _ in results] == ["ok"] * 8, results
    assert len({token for _, token in results}) == 1
    assert mb_env.token_requests == 1


#: What a Lambda allows one invocation here (the default is 3 s, many use 10-30 s).
LAMBDA_TIMEOUT = 10.0


def test_a_container_killed_mid_fetch_does_not_block_the_next_ones(
    mb_env: LocalOAuthServer,
) -> None:
    # Lambda kills a container at its timeout; here it is killed while the token endpoint
    # is slow to answer, i.e. while it holds the table's lease. The next container, itself
    # given LAMBDA_TIMEOUT seconds, must get a token in that time, or no container with
    # that timeout ever does (each starts waiting for the dead holder anew).
    queue = SPAWN.Queue()
    mb_env.hold_token_requests()
    first = SPAWN.Process(target=mb_workers.refresh_once, args=(queue,), daemon=True)
    second = SPAWN.Process(target=mb_workers.refresh_once, args=(queue,), daemon=True)
    first.start()
    try:
        assert mb_env.wait_for_token_requests(1, timeout=60)  # it holds the lease now
        os.kill(first.pid, signal.SIGKILL)  # type: ignore[arg-type]
        first.join(10)
        mb_env.release_token_requests()
        second.start()
        asked = mb_env.wait_for_token_requests(2, timeout=LAMBDA_TIMEOUT)
    finally:
        mb_env.release_token_requests()
        for child in (first, second):
            if child.pid is not None and child.is_alive():
                os.kill(child.pid, signal.SIGKILL)
            if child.pid is not None:
                child.join(10)
    assert asked, "the second container was still waiting for the dead one's lease"


# -- encryption (the original's unsalted SHA-256 key and AES-CBC without integrity) ---------


def test_the_item_holds_neither_the_token_nor_the_secret(mb_env: LocalOAuthServer) -> None:
    token = metadata_bank.refresh_token()["access_token"]
    items = raw_items()
    assert items
    everything = json.dumps(items)
    assert_no_leak(everything, token, CANARY_SECRET, basic(KEY, CANARY_SECRET)[6:])
    item = token_item()
    assert "sealed" in item
    assert "token" not in item


def test_the_token_is_sealed_under_a_salted_hkdf_key(mb_env: LocalOAuthServer) -> None:
    from cryptography.hazmat.primitives import hashes  # noqa: PLC0415
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF  # noqa: PLC0415

    token = metadata_bank.refresh_token()["access_token"]
    salt_items = [item for item in raw_items() if item["Id"]["S"] == SALT_ID]
    assert len(salt_items) == 1
    salt = bytes.fromhex(salt_items[0]["salt"]["S"])
    assert len(salt) >= 16
    item = {name: value.get("S", value.get("N")) for name, value in token_item().items()}
    key = CacheKey(str(item["cache_key"]), "metadata bank")
    material = f"{KEY}\0{CANARY_SECRET}".encode()

    def hkdf(with_salt: bytes | None) -> bytes:
        derived: bytes = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=with_salt,
            info=b"tokenprovider token cache v1",
        ).derive(material)
        return derived

    assert from_record(key, item, Sealer(hkdf(salt))).token == token
    # Neither the original's key (unsalted SHA-256 of key + secret) nor an unsalted HKDF opens it.
    original_key = hashlib.sha256(f"{KEY}{CANARY_SECRET}".encode()).digest()
    for wrong in (original_key, hkdf(None)):
        with pytest.raises(RecordError):
            from_record(key, item, Sealer(wrong))


def test_a_tampered_item_is_fetched_anew(
    mb_env: LocalOAuthServer, debug_logs: pytest.LogCaptureFixture
) -> None:
    first = metadata_bank.refresh_token()["access_token"]
    item = token_item()
    sealed = item["sealed"]["S"]
    position = len(sealed) // 2
    flipped = "A" if sealed[position] != "A" else "B"
    item["sealed"] = {"S": sealed[:position] + flipped + sealed[position + 1 :]}
    boto3.client("dynamodb").put_item(TableName=TABLE, Item=item)
    metadata_bank.clear_cache()  # a new container reads the tampered item
    second = metadata_bank.refresh_token()["access_token"]
    assert second != first
    assert mb_env.token_requests == 2
    assert token_item()["sealed"]["S"] != item["sealed"]["S"]  # the good token replaced it
    assert_no_leak(log_text(debug_logs), CANARY_SECRET, first, second)


def test_a_tampered_salt_item_is_fetched_anew(mb_env: LocalOAuthServer) -> None:
    # The salt item is one more item of the table: tampering with it must, like tampering
    # with the token's item, cost a fetch, not every call from then on.
    first = metadata_bank.refresh_token()["access_token"]
    boto3.client("dynamodb").put_item(
        TableName=TABLE, Item={"Id": {"S": SALT_ID}, "salt": {"S": "not-hex"}}
    )
    metadata_bank.clear_cache()  # a new container
    second = metadata_bank.refresh_token()["access_token"]
    assert second != first
    assert mb_env.token_requests == 2


# -- credential rotation (the original failed the whole call) --------------------------------


def test_rotated_credentials_fetch_a_new_token(mb_env: LocalOAuthServer) -> None:
    first = metadata_bank.refresh_token()["access_token"]
    put_secret({"consumerKey": KEY, "consumerSecret": ROTATED_SECRET})
    mb_env.clients = {KEY: ROTATED_SECRET}
    second = metadata_bank.refresh_token()["access_token"]
    assert second != first
    assert mb_env.token_requests == 2
    record = mb_env.last_token_request
    assert record is not None
    assert record.headers["authorization"] == basic(KEY, ROTATED_SECRET)


def test_rotated_credentials_in_a_new_container_fetch_a_new_token(
    mb_env: LocalOAuthServer,
) -> None:
    first = metadata_bank.refresh_token()["access_token"]
    put_secret({"consumerKey": KEY, "consumerSecret": ROTATED_SECRET})
    mb_env.clients = {KEY: ROTATED_SECRET}
    metadata_bank.clear_cache()
    second = metadata_bank.refresh_token()["access_token"]
    assert second != first
    assert mb_env.token_requests == 2
    metadata_bank.clear_cache()  # and the token under the new credentials is shared
    assert metadata_bank.refresh_token()["access_token"] == second
    assert mb_env.token_requests == 2


def test_a_rotation_between_reads_of_the_secret_never_mixes_two_versions(
    mb_env: LocalOAuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The secret is rotated to a new consumer (key and secret both change) while
    # refresh_token reads it. Both consumers are valid at the server, as during a real
    # rotation; only a key from one version with the secret of the other is refused.
    new_key = KEY + "-v2"
    mb_env.clients = {KEY: CANARY_SECRET, new_key: ROTATED_SECRET}
    made = aws.session
    reads: list[str] = []

    def rotate_after_first_read(**_: Any) -> None:
        reads.append("GetSecretValue")
        if len(reads) == 1:
            put_secret({"consumerKey": new_key, "consumerSecret": ROTATED_SECRET})

    def session(
        profile_name: str | None = None, region: str | None = None, *, needed_by: str
    ) -> Any:
        created = made(profile_name=profile_name, region=region, needed_by=needed_by)
        created.events.register(
            "after-call.secrets-manager.GetSecretValue", rotate_after_first_read
        )
        return created

    monkeypatch.setattr(aws, "session", session)
    token = metadata_bank.refresh_token()
    assert token["access_token"]
    record = mb_env.last_token_request
    assert record is not None
    assert record.headers["authorization"] in (
        basic(KEY, CANARY_SECRET),
        basic(new_key, ROTATED_SECRET),
    )


# -- HTTP timeout (the original had none) -----------------------------------------------------


def test_every_token_request_has_a_finite_timeout(
    mb_env: LocalOAuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No environment variable sets the timeout, and waiting out the default (10 s per
    # attempt) would make a slow test; so this records the timeout that reaches requests'
    # transport for every HTTP call the drop-in makes to the token endpoint.
    timeouts: list[Any] = []
    send = HTTPAdapter.send

    def recording_send(self: HTTPAdapter, request: Any, *args: Any, **kwargs: Any) -> Any:
        timeouts.append(kwargs.get("timeout"))
        return send(self, request, *args, **kwargs)

    monkeypatch.setattr(HTTPAdapter, "send", recording_send)
    mb_env.fail_next(1, 503)
    metadata_bank.refresh_token()
    assert mb_env.token_requests == 2
    assert timeouts
    for timeout in timeouts:
        assert timeout is not None
        parts = timeout if isinstance(timeout, tuple) else (timeout,)
        assert all(part is not None and 0 < part < math.inf for part in parts), timeouts


# -- retries (the original retried everything and never read RETRIES / INTERVAL) -----------


def test_a_401_is_not_retried(
    mb_env: LocalOAuthServer, debug_logs: pytest.LogCaptureFixture
) -> None:
    mb_env.clients = {KEY: "another-secret"}
    with pytest.raises(OAuthError) as info:
        metadata_bank.refresh_token()
    assert info.value.error == "invalid_client"
    assert info.value.status == 401
    assert mb_env.token_requests == 1
    for text in error_texts(info.value, debug_logs):
        assert_no_leak(text, CANARY_SECRET)


def test_a_400_is_not_retried(mb_env: LocalOAuthServer) -> None:
    mb_env.respond_next(400, json.dumps({"error": "invalid_scope"}).encode())
    with pytest.raises(OAuthError) as info:
        metadata_bank.refresh_token()
    assert info.value.error == "invalid_scope"
    assert mb_env.token_requests == 1


def test_503s_are_retried_up_to_retries(mb_env: LocalOAuthServer) -> None:
    mb_env.fail_next(2, 503)
    token = metadata_bank.refresh_token()
    assert token["access_token"]
    assert mb_env.token_requests == 3


def test_retries_is_the_number_of_attempts(
    mb_env: LocalOAuthServer, monkeypatch: pytest.MonkeyPatch, debug_logs: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("RETRIES", "1")
    mb_env.fail_next(1, 503)
    with pytest.raises(TokenEndpointError) as info:
        metadata_bank.refresh_token()
    assert info.value.status == 503
    assert mb_env.token_requests == 1
    for text in error_texts(info.value, debug_logs):
        assert_no_leak(text, CANARY_SECRET)


def test_retries_exhausted_raises(
    mb_env: LocalOAuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    mb_env.fail_next(3, 503)
    with pytest.raises(TokenEndpointError) as info:
        metadata_bank.refresh_token()
    assert info.value.status == 503
    assert mb_env.token_requests == 3


def test_should_retry_false_makes_one_attempt(mb_env: LocalOAuthServer) -> None:
    mb_env.fail_next(3, 503)
    with pytest.raises(TokenEndpointError):
        metadata_bank.refresh_token(should_retry=False)
    assert mb_env.token_requests == 1


def test_the_retries_argument_overrides_retries(
    mb_env: LocalOAuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETRIES", "5")
    mb_env.fail_next(5, 503)
    with pytest.raises(TokenEndpointError):
        metadata_bank.refresh_token(retries=2)
    assert mb_env.token_requests == 2


def test_interval_and_the_interval_argument_set_the_backoff(
    mb_env: LocalOAuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Inspects the kept provider: the backoff is randomised (full jitter), so its length
    # cannot be told from the outside by counting.
    monkeypatch.setenv("INTERVAL", "250")
    metadata_bank.refresh_token()
    policy = metadata_bank._kept["provider"][2].retry
    assert policy.backoff_base == pytest.approx(0.25)
    assert policy.max_attempts == 3
    metadata_bank.refresh_token(retries=2, interval=40)
    policy = metadata_bank._kept["provider"][2].retry
    assert policy.backoff_base == pytest.approx(0.04)
    assert policy.max_attempts == 2
    assert mb_env.token_requests == 1  # the token in DynamoDB served the second provider


# -- scope (the original sent scope=None) -----------------------------------------------------


@pytest.mark.parametrize("scope", [None, "", "   "], ids=["unset", "empty", "blank"])
def test_scope_is_not_sent_when_scope_is_unset(
    mb_env: LocalOAuthServer, monkeypatch: pytest.MonkeyPatch, scope: str | None
) -> None:
    if scope is None:
        monkeypatch.delenv("SCOPE")
    else:
        monkeypatch.setenv("SCOPE", scope)
    metadata_bank.refresh_token()
    record = mb_env.last_token_request
    assert record is not None
    assert "scope" not in record.form
    assert record.form == {"grant_type": ["client_credentials"]}
    assert "None" not in json.dumps(record.form)


# -- expiry margin (the original used a token until its last millisecond) --------------------


@pytest.mark.parametrize("left", [5, 200], ids=["5s-left", "200s-left"])
def test_a_token_near_expiry_in_the_table_is_not_used(mb_env: LocalOAuthServer, left: int) -> None:
    # Another container fetched a one-hour token LIFETIME - left seconds ago.
    old = writer_provider(mb_env, wall=time.time() - (LIFETIME - left)).token
    assert mb_env.token_requests == 1
    token = metadata_bank.refresh_token()
    assert token["access_token"] != old
    assert mb_env.token_requests == 2
    assert token["expires_in"] >= LIFETIME - 10


def test_a_token_with_time_left_in_the_table_is_used(mb_env: LocalOAuthServer) -> None:
    # The counterpart of the test above: the other container's entry is found and used.
    written = time.time() - 600
    old = writer_provider(mb_env, wall=written).token
    token = metadata_bank.refresh_token()
    assert token["access_token"] == old
    assert mb_env.token_requests == 1
    assert LIFETIME - 600 - 10 <= token["expires_in"] <= LIFETIME - 600
    assert abs(token["expiry"] - (written + LIFETIME) * 1000) <= 1000


# -- RETRIES / INTERVAL validation ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RETRIES", "abc"),
        ("RETRIES", "0"),
        ("RETRIES", "-1"),
        ("INTERVAL", "-5"),
        ("INTERVAL", "x"),
        ("INTERVAL", "inf"),
    ],
)
def test_an_invalid_retries_or_interval_is_a_configuration_error(
    mb_env: LocalOAuthServer, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as info:
        metadata_bank.refresh_token()
    assert name in str(info.value)
    assert repr(value) in str(info.value)
    assert mb_env.token_requests == 0


# -- IS_LOCAL (the original took any non-empty value, even "0", for LocalStack) --------------


@pytest.mark.parametrize("value", ["0", "false", "False", "", "no", "off"])
def test_a_false_is_local_uses_aws(
    mb_env: LocalOAuthServer, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    # boto3 reaches AWS through its usual settings (here AWS_ENDPOINT_URL → moto).
    monkeypatch.setenv("IS_LOCAL", value)
    assert metadata_bank.read_settings(os.environ).endpoint_url is None
    assert metadata_bank.refresh_token()["access_token"]
    assert "sealed" in token_item()


@pytest.mark.parametrize("value", ["true", "True", "1", "yes"])
def test_a_true_is_local_uses_aws_endpoint_url(
    mb_env: LocalOAuthServer, aws_env: str, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("IS_LOCAL", value)
    assert metadata_bank.read_settings(os.environ).endpoint_url == aws_env
    assert metadata_bank.refresh_token()["access_token"]
    assert "sealed" in token_item()


@pytest.mark.parametrize("value", ["maybe", "2", "localstack"])
def test_is_local_must_be_a_boolean(
    mb_env: LocalOAuthServer,
    monkeypatch: pytest.MonkeyPatch,
    debug_logs: pytest.LogCaptureFixture,
    value: str,
) -> None:
    monkeypatch.setenv("IS_LOCAL", value)
    with pytest.raises(ConfigurationError) as info:
        metadata_bank.refresh_token()
    assert "IS_LOCAL" in str(info.value)
    assert repr(value) in str(info.value)
    assert mb_env.token_requests == 0
    for text in error_texts(info.value, debug_logs):
        assert_no_leak(text, CANARY_SECRET)


def test_a_true_is_local_without_aws_endpoint_url_goes_to_localstack(
    mb_env: LocalOAuthServer,
    monkeypatch: pytest.MonkeyPatch,
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    # Nothing listens on localhost:4566 here: the connection is refused on loopback.
    monkeypatch.setenv("IS_LOCAL", "true")
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    assert metadata_bank.read_settings(os.environ).endpoint_url == "http://localhost:4566"
    with pytest.raises(TokenProviderError) as info:
        metadata_bank.refresh_token()
    assert isinstance(info.value, SecretReferenceError)
    assert "http://localhost:4566" in str(info.value)
    assert mb_env.token_requests == 0
    for text in error_texts(info.value, debug_logs):
        assert_no_leak(text, CANARY_SECRET)


# -- missing settings, secret fields and table -----------------------------------------------


@pytest.mark.parametrize(
    "missing",
    [("SECRET_NAME",), ("URL",), ("SECRET_NAME", "URL")],
    ids=["SECRET_NAME", "URL", "both"],
)
def test_a_missing_secret_name_or_url_is_named(
    mb_env: LocalOAuthServer, monkeypatch: pytest.MonkeyPatch, missing: tuple[str, ...]
) -> None:
    for name in missing:
        monkeypatch.delenv(name)
    with pytest.raises(ConfigurationError) as info:
        metadata_bank.refresh_token()
    for name in missing:
        assert name in str(info.value)
    assert mb_env.token_requests == 0


def test_a_url_that_is_not_http_is_a_configuration_error(
    mb_env: LocalOAuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("URL", "ftp://example.invalid/token")
    with pytest.raises(ConfigurationError, match="URL"):
        metadata_bank.refresh_token()


def test_a_secret_without_consumersecret_names_the_field_not_a_value(
    mb_env: LocalOAuthServer, debug_logs: pytest.LogCaptureFixture
) -> None:
    put_secret({"consumerKey": KEY, "consumerSecrets": CANARY_SECRET})
    with pytest.raises(SecretReferenceError) as info:
        metadata_bank.refresh_token()
    assert "consumerSecret" in str(info.value)
    assert SECRET_NAME in str(info.value)
    assert mb_env.token_requests == 0
    for text in error_texts(info.value, debug_logs):
        assert_no_leak(text, CANARY_SECRET)


def test_an_empty_consumersecret_is_a_secret_reference_error(
    mb_env: LocalOAuthServer, debug_logs: pytest.LogCaptureFixture
) -> None:
    put_secret({"consumerKey": KEY, "consumerSecret": ""})
    with pytest.raises(SecretReferenceError, match="consumerSecret"):
        metadata_bank.refresh_token()
    assert mb_env.token_requests == 0


def test_a_missing_secret_names_it(
    mb_env: LocalOAuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_NAME", "no/such/secret")
    with pytest.raises(SecretReferenceError) as info:
        metadata_bank.refresh_token()
    assert "no/such/secret" in str(info.value)
    assert mb_env.token_requests == 0


def test_a_missing_table_is_a_cache_error_naming_it(
    mb_env: LocalOAuthServer,
    monkeypatch: pytest.MonkeyPatch,
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("TOKEN_TABLE", "NoSuchTokens")
    with pytest.raises(CacheError) as info:
        metadata_bank.refresh_token()
    assert "NoSuchTokens" in str(info.value)
    assert mb_env.token_requests == 0
    for text in error_texts(info.value, debug_logs):
        assert_no_leak(text, CANARY_SECRET)


# -- secrets never leak -------------------------------------------------------------------------


def test_a_full_flow_leaks_nothing_into_debug_logs_or_reprs(
    mb_env: LocalOAuthServer, debug_logs: pytest.LogCaptureFixture
) -> None:
    first = metadata_bank.refresh_token()
    metadata_bank.clear_cache()
    second = metadata_bank.refresh_token()
    kept = metadata_bank._kept["provider"]
    texts = [log_text(debug_logs), repr(kept), str(kept[2].cache)]
    assert debug_logs.records, "the flow should have logged at DEBUG"
    for text in texts:
        assert_no_leak(text, CANARY_SECRET, first["access_token"], basic(KEY, CANARY_SECRET)[6:])
    assert second["access_token"] == first["access_token"]
