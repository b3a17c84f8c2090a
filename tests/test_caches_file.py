"""FileTokenCache: tokens shared by the processes of one host, through real files.

Real processes (``spawn``) with their own providers, real sockets to the local OAuth
server, real file locks. Children's code lives in `cache_workers`. Counts of token
requests at the server are the evidence; nothing waits on a timer.
"""

from __future__ import annotations

import base64
import json
import logging
import multiprocessing
import os
import signal
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import cache_workers
from conftest import CANARY_SECRET, all_log_text, assert_no_leak
from tokenprovider import OAuthTokenProvider
from tokenprovider.caches.base import CacheKey
from tokenprovider.caches.file import FileTokenCache
from tokenprovider.errors import CacheError, ConfigurationError
from tokenprovider.secret_refs import clear_secret_cache
from tokenprovider.testing.clock import FakeClock
from tokenprovider.testing.oauth_server import LocalOAuthServer
from tokenprovider.testing.refresh import wait_for_refresh

LIFETIME = 3600.0
SPAWN = multiprocessing.get_context("spawn")
KEY_VARIABLE = "TOKENPROVIDER_TEST_CACHE_KEY"
OTHER_KEY_VARIABLE = "TOKENPROVIDER_TEST_OTHER_CACHE_KEY"


@pytest.fixture
def server(oauth_server: LocalOAuthServer) -> LocalOAuthServer:
    """The local server, with the client's secret set to the canary."""
    oauth_server.clients = {"client": CANARY_SECRET}
    return oauth_server


@pytest.fixture(autouse=True)
def _fresh_secret_references() -> Iterator[None]:
    """Key references are resolved once per process: forget them around each test."""
    clear_secret_cache()
    yield
    clear_secret_cache()


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "tokens"


@pytest.fixture
def key_value(monkeypatch: pytest.MonkeyPatch) -> str:
    """Base64 of 32 random bytes in ``$KEY_VARIABLE``."""
    value = base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv(KEY_VARIABLE, value)
    return value


def make(
    server: LocalOAuthServer,
    cache: FileTokenCache,
    client_id: str = "client",
    secret: str = CANARY_SECRET,
    **kwargs: Any,
) -> OAuthTokenProvider:
    return OAuthTokenProvider(
        server.url, client_id, secret, token_url=server.token_url, cache=cache, **kwargs
    )


def key_of(provider: OAuthTokenProvider) -> CacheKey:
    return provider.cache.key_for(provider._cache_identity(), provider._cache_secret())


def path_of(provider: OAuthTokenProvider) -> Path:
    cache = provider.cache
    assert isinstance(cache, FileTokenCache)
    return cache.path_for(key_of(provider))


def read_record(path: Path) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(path.read_bytes())
    return record


def write_record(path: Path, record: dict[str, Any]) -> None:
    path.write_text(json.dumps(record))


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == "tokenprovider" and record.levelno == logging.WARNING
    ]


def every_file_bytes(directory: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(directory.iterdir()) if path.is_file())


def start(target: Any, *args: Any) -> Any:
    process = SPAWN.Process(target=target, args=args, daemon=True)
    process.start()
    return process


def stop(process: Any) -> None:
    if process.is_alive():
        os.kill(process.pid, signal.SIGKILL)
    process.join(10)


# -- one fetch across processes --------------------------------------------------------------


def test_eight_cold_processes_make_one_token_request(
    server: LocalOAuthServer, cache_dir: Path
) -> None:
    barrier = SPAWN.Barrier(9)
    queue = SPAWN.Queue()
    server.hold_token_requests()
    args = (server.url, server.token_url, CANARY_SECRET, str(cache_dir), barrier, queue)
    children = [start(cache_workers.token_after_barrier, *args) for _ in range(8)]
    try:
        barrier.wait(60)  # every child has built its provider and is about to ask
        assert server.wait_for_token_requests(1)
        server.release_token_requests()
        tokens = [queue.get(timeout=30) for _ in children]
        for child in children:
            child.join(30)
            assert child.exitcode == 0
    finally:
        server.release_token_requests()
        for child in children:
            stop(child)
    assert server.token_requests == 1
    assert len(set(tokens)) == 1
    assert server.tokens_issued == 1


def test_another_process_reads_the_token_from_the_file(
    server: LocalOAuthServer, cache_dir: Path
) -> None:
    token = make(server, FileTokenCache(cache_dir)).token
    queue = SPAWN.Queue()
    child = start(
        cache_workers.read_token, server.url, server.token_url, CANARY_SECRET, str(cache_dir), queue
    )
    try:
        assert queue.get(timeout=30) == token
        child.join(30)
        assert child.exitcode == 0
    finally:
        stop(child)
    assert server.token_requests == 1


def test_another_cache_on_the_same_directory_reads_the_token(
    server: LocalOAuthServer, cache_dir: Path
) -> None:
    token = make(server, FileTokenCache(cache_dir)).token
    assert make(server, FileTokenCache(cache_dir)).token == token
    assert server.token_requests == 1


@pytest.mark.parametrize(
    "age",
    [LIFETIME + 1, LIFETIME - 5, LIFETIME - 100],
    ids=["expired", "within-clock-skew", "within-refresh-ahead"],
)
def test_an_expired_or_nearly_expired_entry_is_fetched_anew(
    server: LocalOAuthServer, cache_dir: Path, age: float
) -> None:
    writer_clock = FakeClock(wall=1_800_000_000.0)
    old = make(server, FileTokenCache(cache_dir), clock=writer_clock).token
    reader_clock = FakeClock(wall=1_800_000_000.0 + age)
    reader = make(server, FileTokenCache(cache_dir), clock=reader_clock)
    new = reader.token
    assert new != old
    assert server.token_requests == 2
    assert FileTokenCache(cache_dir).load(key_of(reader)) is not None
    assert read_record(path_of(reader))["token"] == new


def test_a_fresh_entry_is_used_by_a_reader_later_in_its_life(
    server: LocalOAuthServer, cache_dir: Path
) -> None:
    writer_clock = FakeClock(wall=1_800_000_000.0)
    token = make(server, FileTokenCache(cache_dir), clock=writer_clock).token
    reader_clock = FakeClock(wall=1_800_000_000.0 + LIFETIME / 2)
    assert make(server, FileTokenCache(cache_dir), clock=reader_clock).token == token
    assert server.token_requests == 1


# -- permissions -----------------------------------------------------------------------------


@pytest.fixture
def no_umask() -> Iterator[None]:
    """Umask 0, so that modes come from the cache and not from the umask."""
    previous = os.umask(0)
    yield
    os.umask(previous)


@pytest.mark.usefixtures("no_umask")
def test_new_directory_is_0700_and_files_are_0600(
    server: LocalOAuthServer, cache_dir: Path
) -> None:
    provider = make(server, FileTokenCache(cache_dir))
    provider.token  # noqa: B018
    assert mode_of(cache_dir) == 0o700
    path = path_of(provider)
    lock = path.with_suffix(".lock")
    salt = cache_dir / "salt"
    for file in (path, lock, salt):
        assert file.exists(), file
        assert mode_of(file) == 0o600, file


@pytest.mark.usefixtures("no_umask")
def test_an_existing_readable_directory_keeps_its_mode(
    server: LocalOAuthServer, cache_dir: Path
) -> None:
    # Never chmod a directory the cache did not create; others may read it, not the files.
    cache_dir.mkdir(mode=0o755)
    os.chmod(cache_dir, 0o755)
    provider = make(server, FileTokenCache(cache_dir))
    provider.token  # noqa: B018
    assert mode_of(cache_dir) == 0o755
    assert mode_of(path_of(provider)) == 0o600


@pytest.mark.usefixtures("no_umask")
def test_a_rewritten_entry_is_0600_even_if_it_was_open(
    server: LocalOAuthServer, cache_dir: Path
) -> None:
    provider = make(server, FileTokenCache(cache_dir))
    provider.token  # noqa: B018
    path = path_of(provider)
    os.chmod(path, 0o644)
    provider.invalidate_cache()
    provider.token  # noqa: B018 - rewrites the entry under the lock
    assert server.token_requests == 2
    assert mode_of(path) == 0o600


@pytest.mark.usefixtures("no_umask")
def test_existing_open_lock_and_salt_files_are_replaced_by_private_ones(
    server: LocalOAuthServer, cache_dir: Path
) -> None:
    # Files left by another tool: a salt others could read is no longer secret.
    provider = make(server, FileTokenCache(cache_dir))
    token = provider.token
    lock = path_of(provider).with_suffix(".lock")
    salt = cache_dir / "salt"
    os.chmod(lock, 0o644)
    os.chmod(salt, 0o644)
    old_salt = salt.read_bytes()
    again = make(server, FileTokenCache(cache_dir))
    fresh = again.token  # a new cache: replaces the salt, so the entry misses once
    assert fresh != token
    assert server.token_requests == 2
    assert salt.read_bytes() != old_salt
    assert mode_of(salt) == 0o600
    assert mode_of(path_of(again).with_suffix(".lock")) == 0o600
    assert make(server, FileTokenCache(cache_dir)).token == fresh
    assert server.token_requests == 2


# -- unreadable files are misses -------------------------------------------------------------


def _truncated(record: dict[str, Any]) -> bytes:
    text = json.dumps(record).encode()
    return text[: len(text) // 2]


def _foreign(record: dict[str, Any]) -> bytes:
    return json.dumps({"access_token": "foreign-token", "expires_in": 3600}).encode()


def _other_key(record: dict[str, Any]) -> bytes:
    return json.dumps({**record, "cache_key": "0" * 64, "token": "other-key-token"}).encode()


def _wrong_format(record: dict[str, Any]) -> bytes:
    return json.dumps({**record, "format": "tokenprovider-cache/999"}).encode()


def _bad_expiry(record: dict[str, Any]) -> bytes:
    return json.dumps({**record, "expires_at": "soon"}).encode()


def _no_token(record: dict[str, Any]) -> bytes:
    return json.dumps({key: value for key, value in record.items() if key != "token"}).encode()


def _attributes(text: object) -> Any:
    return lambda record: json.dumps({**record, "attributes": text}).encode()


CORRUPTIONS: dict[str, Any] = {
    "garbage-bytes": lambda record: b"\x00\xff\xfe\x80garbage\x9c",
    "truncated-json": _truncated,
    "foreign-json": _foreign,
    "json-array": lambda record: b"[1, 2, 3]",
    "json-null": lambda record: b"null",
    "wrong-cache-key": _other_key,
    "wrong-format": _wrong_format,
    "expiry-not-a-number": _bad_expiry,
    "token-missing": _no_token,
    "empty-file": lambda record: b"",
    "deeply-nested-json": lambda record: b"[" * 100_000,
    "attributes-not-text": _attributes({"cookie_name": "X"}),
    "attributes-not-json": _attributes("{cookie_name"),
    "attributes-an-array": _attributes('["cookie_name"]'),
    "attributes-nested-deeply": _attributes("[" * 10_000),
    "attributes-too-long": _attributes(json.dumps({"a": "x" * 20_000})),
    "attributes-too-many": _attributes(json.dumps({f"a{n}": "x" for n in range(9)})),
    "attribute-name-bad": _attributes('{"Cookie Name":"X"}'),
    "attribute-value-a-number": _attributes('{"cookie_name":5}'),
    "attribute-value-too-long": _attributes(json.dumps({"cookie_name": "x" * 257})),
    "attribute-value-unprintable": _attributes('{"cookie_name":"a\\u0000b"}'),
}


@pytest.mark.parametrize("corrupt", list(CORRUPTIONS.values()), ids=list(CORRUPTIONS))
def test_an_unreadable_file_is_a_warned_miss_and_is_rewritten(
    server: LocalOAuthServer,
    cache_dir: Path,
    debug_logs: pytest.LogCaptureFixture,
    corrupt: Any,
) -> None:
    first = make(server, FileTokenCache(cache_dir))
    old = first.token
    path = path_of(first)
    path.write_bytes(corrupt(read_record(path)))
    debug_logs.clear()

    reader = make(server, FileTokenCache(cache_dir))
    new = reader.token  # never raises
    assert new != old
    assert server.token_requests == 2
    warned = [record for record in warnings_of(debug_logs) if str(path) in record.getMessage()]
    assert warned, "no warning names the unreadable file"
    record = read_record(path)  # rewritten, valid
    assert record["token"] == new
    assert record["cache_key"] == key_of(reader).digest
    entry = FileTokenCache(cache_dir).load(key_of(reader))
    assert entry is not None
    assert entry.token == new
    assert_no_leak(all_log_text(debug_logs), CANARY_SECRET, new)


# -- encryption ------------------------------------------------------------------------------


@pytest.fixture(params=["env", "file", "derive", "bytes"])
def encrypted_cache(
    request: pytest.FixtureRequest, cache_dir: Path, tmp_path: Path, key_value: str
) -> FileTokenCache:
    """A FileTokenCache with each kind of key."""
    kind = request.param
    if kind == "env":
        return FileTokenCache(cache_dir, key=f"env:{KEY_VARIABLE}")
    if kind == "file":
        key_file = tmp_path / "cache.key"
        key_file.write_text(key_value + "\n")
        return FileTokenCache(cache_dir, key=f"file:{key_file}")
    if kind == "derive":
        return FileTokenCache(cache_dir, key="derive")
    return FileTokenCache(cache_dir, key=base64.b64decode(key_value))


def test_sealed_files_hold_no_token_and_no_secret(
    server: LocalOAuthServer,
    encrypted_cache: FileTokenCache,
    cache_dir: Path,
    key_value: str,
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    provider = make(server, encrypted_cache)
    token = provider.token
    assert encrypted_cache.encrypted
    record = read_record(path_of(provider))
    assert "token" not in record
    assert "sealed" in record
    raw = every_file_bytes(cache_dir)
    for secret in (token, CANARY_SECRET, key_value):
        assert secret.encode() not in raw
    assert base64.b64decode(key_value) not in raw
    # A second provider on the same directory and key opens it: no request.
    assert make(server, encrypted_cache).token == token
    assert server.token_requests == 1
    assert_no_leak(all_log_text(debug_logs), token, CANARY_SECRET, key_value)


def test_a_derived_key_is_shared_by_caches_with_the_same_credentials(
    server: LocalOAuthServer, cache_dir: Path
) -> None:
    token = make(server, FileTokenCache(cache_dir, key="derive")).token
    assert make(server, FileTokenCache(cache_dir, key="derive")).token == token
    assert server.token_requests == 1


def test_a_cache_with_another_key_misses_without_error(
    server: LocalOAuthServer,
    cache_dir: Path,
    key_value: str,
    monkeypatch: pytest.MonkeyPatch,
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv(OTHER_KEY_VARIABLE, base64.b64encode(os.urandom(32)).decode())
    first = make(server, FileTokenCache(cache_dir, key=f"env:{KEY_VARIABLE}"))
    old = first.token
    other = make(server, FileTokenCache(cache_dir, key=f"env:{OTHER_KEY_VARIABLE}"))
    new = other.token
    assert new != old
    assert server.token_requests == 2
    assert warnings_of(debug_logs)
    # An unencrypted cache cannot read sealed entries either.
    plain = make(server, FileTokenCache(cache_dir))
    assert plain.token not in (old, new)
    assert server.token_requests == 3


def _flip_sealed(record: dict[str, Any]) -> dict[str, Any]:
    sealed = record["sealed"]
    index = len(sealed) // 2
    replacement = "A" if sealed[index] != "A" else "B"
    return {**record, "sealed": sealed[:index] + replacement + sealed[index + 1 :]}


def _extend_expiry(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "expires_at": record["expires_at"] + 86_400}


def _other_issue_time(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "issued_at": record["issued_at"] + 1}


def _other_writer(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "writer": "attacker:1", "version": "0123456789abcdef"}


def _sealed_not_base64(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "sealed": "!!not base64!!"}


def _sealed_too_short(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "sealed": base64.b64encode(b"short").decode()}


TAMPERINGS: dict[str, Any] = {
    "attributes-added": lambda record: {**record, "attributes": '{"cookie_name":"X"}'},
    "sealed-bit-flipped": _flip_sealed,
    "expiry-extended": _extend_expiry,
    "issue-time-changed": _other_issue_time,
    "writer-changed": _other_writer,
    "sealed-not-base64": _sealed_not_base64,
    "sealed-too-short": _sealed_too_short,
}


@pytest.mark.parametrize("kind", ["env", "derive"])
@pytest.mark.parametrize("tamper", list(TAMPERINGS.values()), ids=list(TAMPERINGS))
def test_a_tampered_sealed_entry_is_a_miss(
    server: LocalOAuthServer,
    cache_dir: Path,
    key_value: str,
    debug_logs: pytest.LogCaptureFixture,
    tamper: Any,
    kind: str,
) -> None:
    key = f"env:{KEY_VARIABLE}" if kind == "env" else "derive"
    first = make(server, FileTokenCache(cache_dir, key=key))
    old = first.token
    path = path_of(first)
    write_record(path, tamper(read_record(path)))
    debug_logs.clear()
    reader = make(server, FileTokenCache(cache_dir, key=key))
    new = reader.token
    assert new != old
    assert server.token_requests == 2
    assert any(str(path) in record.getMessage() for record in warnings_of(debug_logs))
    assert "sealed" in read_record(path)  # rewritten, sealed again
    assert make(server, FileTokenCache(cache_dir, key=key)).token == new
    assert server.token_requests == 2


def test_a_sealed_entry_moved_to_another_key_is_a_miss(
    server: LocalOAuthServer, cache_dir: Path, key_value: str
) -> None:
    server.clients = {"client": CANARY_SECRET, "other": CANARY_SECRET}
    cache = FileTokenCache(cache_dir, key=f"env:{KEY_VARIABLE}")
    victim = make(server, cache, "client")
    victim_token = victim.token
    attacker = make(server, cache, "other")
    record = read_record(path_of(victim))
    # The victim's sealed token, relabelled as the other client's entry.
    write_record(path_of(attacker), {**record, "cache_key": key_of(attacker).digest})
    other_token = attacker.token
    assert other_token != victim_token
    assert server.token_requests == 2
    assert server.last_token_request is not None
    assert server.last_token_request.client_id == "other"


@pytest.mark.parametrize("kind", ["env", "derive"])
def test_a_clear_text_entry_is_refused_where_tokens_are_sealed(
    server: LocalOAuthServer,
    cache_dir: Path,
    key_value: str,
    debug_logs: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    key = f"env:{KEY_VARIABLE}" if kind == "env" else "derive"
    provider = make(server, FileTokenCache(cache_dir, key=key))
    path = path_of(provider)
    # A well-formed clear-text entry, as an unencrypted cache on the same directory writes.
    planted = make(server, FileTokenCache(cache_dir))
    planted_token = planted.token
    assert path_of(planted) == path
    assert read_record(path)["token"] == planted_token
    debug_logs.clear()
    token = provider.token
    assert token != planted_token
    assert server.token_requests == 2
    assert any(str(path) in record.getMessage() for record in warnings_of(debug_logs))
    assert "token" not in read_record(path)


def test_a_rotated_client_secret_with_a_derived_key_fetches_anew(
    server: LocalOAuthServer, cache_dir: Path, debug_logs: pytest.LogCaptureFixture
) -> None:
    old = make(server, FileTokenCache(cache_dir, key="derive")).token
    server.clients = {"client": "rotated-SECRET-31"}
    rotated = make(server, FileTokenCache(cache_dir, key="derive"), secret="rotated-SECRET-31")
    new = rotated.token
    assert new != old
    assert server.token_requests == 2
    assert server.tokens_issued == 2
    assert (
        make(server, FileTokenCache(cache_dir, key="derive"), secret="rotated-SECRET-31").token
        == new
    )
    assert server.token_requests == 2
    assert_no_leak(all_log_text(debug_logs), "rotated-SECRET-31", CANARY_SECRET, new)


# -- key errors ------------------------------------------------------------------------------

BAD_KEYS = {
    "sixteen-bytes": base64.b64encode(b"k" * 16).decode(),
    "sixty-four-bytes": base64.b64encode(b"k" * 64).decode(),
    "not-base64": "this-is-not-base64-%%%-key-material",
}


@pytest.mark.parametrize("existing_entry", [False, True], ids=["cold", "existing-entry"])
@pytest.mark.parametrize("bad_value", list(BAD_KEYS.values()), ids=list(BAD_KEYS))
def test_a_bad_referenced_key_raises_cache_error_naming_only_the_reference(
    server: LocalOAuthServer,
    cache_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    debug_logs: pytest.LogCaptureFixture,
    bad_value: str,
    existing_entry: bool,
) -> None:
    if existing_entry:  # written by a process whose key is fine
        monkeypatch.setenv(KEY_VARIABLE, base64.b64encode(os.urandom(32)).decode())
        make(server, FileTokenCache(cache_dir, key=f"env:{KEY_VARIABLE}")).token  # noqa: B018
        clear_secret_cache()
    monkeypatch.setenv(KEY_VARIABLE, bad_value)
    provider = make(server, FileTokenCache(cache_dir, key=f"env:{KEY_VARIABLE}"))
    with pytest.raises(CacheError) as info:
        provider.token  # noqa: B018
    message = str(info.value)
    assert f"env:{KEY_VARIABLE}" in message
    for text in (message, repr(info.value), all_log_text(debug_logs)):
        assert_no_leak(text, bad_value, CANARY_SECRET)


@pytest.mark.parametrize("existing_entry", [False, True], ids=["cold", "existing-entry"])
def test_an_unresolvable_key_reference_is_an_error_not_a_corrupt_file(
    server: LocalOAuthServer,
    cache_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    debug_logs: pytest.LogCaptureFixture,
    existing_entry: bool,
) -> None:
    if existing_entry:
        monkeypatch.setenv(KEY_VARIABLE, base64.b64encode(os.urandom(32)).decode())
        make(server, FileTokenCache(cache_dir, key=f"env:{KEY_VARIABLE}")).token  # noqa: B018
        clear_secret_cache()
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    provider = make(server, FileTokenCache(cache_dir, key=f"env:{KEY_VARIABLE}"))
    with pytest.raises((CacheError, ConfigurationError)) as info:
        provider.token  # noqa: B018
    assert f"env:{KEY_VARIABLE}" in str(info.value)
    assert "not valid JSON" not in all_log_text(debug_logs)


@pytest.mark.parametrize(
    "key",
    ["0123456789abcdef0123456789abcdef", base64.b64encode(b"k" * 32).decode(), "Derive", ""],
    ids=["literal-text", "literal-base64", "derive-misspelt", "empty"],
)
def test_a_literal_key_string_is_a_configuration_error(key: str, cache_dir: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        FileTokenCache(cache_dir, key=key)
    if key:
        assert key not in str(info.value)


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_key_bytes_of_the_wrong_length_are_a_cache_error(length: int, cache_dir: Path) -> None:
    material = bytes(range(length)) if length else b""
    with pytest.raises(CacheError) as info:
        FileTokenCache(cache_dir, key=material)
    assert str(length) in str(info.value)
    if material:
        assert repr(material) not in str(info.value)
        assert base64.b64encode(material).decode() not in str(info.value)


@pytest.mark.parametrize("key", [123, 1.5, ["env:X"], True], ids=["int", "float", "list", "bool"])
def test_a_key_of_another_type_is_a_configuration_error(key: Any, cache_dir: Path) -> None:
    with pytest.raises(ConfigurationError):
        FileTokenCache(cache_dir, key=key)


# -- crash safety ----------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["fsync", "replace"])
def test_a_writer_killed_mid_write_leaves_the_previous_entry(
    server: LocalOAuthServer, cache_dir: Path, stage: str
) -> None:
    cache = FileTokenCache(cache_dir, lock_timeout=5.0)
    provider = make(server, cache)
    token = provider.token
    key = key_of(provider)
    before = cache.load(key)
    assert before is not None

    entered = SPAWN.Event()
    child = start(
        cache_workers.block_in_write,
        server.url,
        server.token_url,
        CANARY_SECRET,
        str(cache_dir),
        stage,
        entered,
    )
    try:
        assert entered.wait(30), "the child never reached the write"
        os.kill(child.pid, signal.SIGKILL)
        child.join(10)
    finally:
        stop(child)
    assert child.exitcode == -signal.SIGKILL

    leftovers = [path for path in cache_dir.iterdir() if path.name.startswith(f".{key.digest}.")]
    assert leftovers, "expected the killed writer's temporary file"
    for reader in (cache, FileTokenCache(cache_dir)):
        entry = reader.load(key)
        assert entry is not None
        assert entry.token == token
        assert entry.version == before.version
    assert cache_workers.CHILD_TOKEN.encode() not in cache.path_for(key).read_bytes()
    # A new provider uses the surviving entry; the dead writer's lock is free again.
    assert make(server, FileTokenCache(cache_dir, lock_timeout=5.0)).token == token
    provider.invalidate_cache()
    fresh = provider.token
    assert fresh != token
    assert server.token_requests == 2
    entry = FileTokenCache(cache_dir).load(key)
    assert entry is not None
    assert entry.token == fresh


def test_a_killed_lock_holder_does_not_block_the_next_fetch(
    server: LocalOAuthServer, cache_dir: Path, debug_logs: pytest.LogCaptureFixture
) -> None:
    server.hold_token_requests()
    child = start(
        cache_workers.fetch_token_forever,
        server.url,
        server.token_url,
        CANARY_SECRET,
        str(cache_dir),
    )
    try:
        # The child asks only while it holds the key's lock.
        assert server.wait_for_token_requests(1, timeout=30)
        os.kill(child.pid, signal.SIGKILL)
        child.join(10)
    finally:
        server.release_token_requests()
        stop(child)
    assert child.exitcode == -signal.SIGKILL

    provider = make(server, FileTokenCache(cache_dir, lock_timeout=5.0))
    assert provider.token
    assert server.token_requests == 2
    waited = [record for record in warnings_of(debug_logs) if "waited" in record.getMessage()]
    assert not waited, "the parent waited out lock_timeout instead of taking the freed lock"


# -- settings and display --------------------------------------------------------------------


@pytest.mark.parametrize(
    "timeout",
    [0, 0.0, -1, -0.5, True, False, float("nan"), float("inf"), "5", None],
    ids=[
        "zero",
        "zero-float",
        "negative",
        "negative-float",
        "true",
        "false",
        "nan",
        "inf",
        "str",
        "none",
    ],
)
def test_lock_timeout_must_be_positive_seconds(timeout: Any, cache_dir: Path) -> None:
    with pytest.raises(ConfigurationError):
        FileTokenCache(cache_dir, lock_timeout=timeout)


def test_lock_timeout_accepts_positive_seconds(cache_dir: Path) -> None:
    assert FileTokenCache(cache_dir, lock_timeout=0.5).lock_timeout == 0.5
    assert FileTokenCache(cache_dir, lock_timeout=3).lock_timeout == 3.0


def test_reprs_show_no_key_token_or_secret(
    server: LocalOAuthServer, cache_dir: Path, key_value: str, tmp_path: Path
) -> None:
    key_file = tmp_path / "cache.key"
    key_file.write_text(key_value)
    raw = base64.b64decode(key_value)
    caches = [
        FileTokenCache(cache_dir, key=f"env:{KEY_VARIABLE}"),
        FileTokenCache(cache_dir, key=f"file:{key_file}"),
        FileTokenCache(cache_dir, key=raw),
        FileTokenCache(cache_dir, key="derive"),
    ]
    for cache in caches:
        provider = make(server, cache)
        token = provider.token
        for text in (repr(cache), str(cache), repr(provider), str(provider)):
            assert_no_leak(text, key_value, repr(raw), token, CANARY_SECRET)
        assert "encrypted" in repr(cache)
    assert "encrypted" not in repr(FileTokenCache(cache_dir))


# -- skewed clocks ---------------------------------------------------------------------------


@pytest.mark.parametrize("first", ["ahead", "behind"])
def test_skewed_clocks_fetch_no_more_than_one_clock(
    server: LocalOAuthServer, cache_dir: Path, first: str
) -> None:
    base = 1_800_000_000.0
    step = 60.0
    clocks = {
        "ahead": FakeClock(wall=base + 30, monotonic=1_000.0),
        "behind": FakeClock(wall=base - 30, monotonic=90_000.0),
    }
    cache = FileTokenCache(cache_dir)
    providers = {name: make(server, cache, clock=clock) for name, clock in clocks.items()}
    order = [first, "behind" if first == "ahead" else "ahead"]
    # The same schedule on one unskewed provider, with a cache of its own.
    baseline_clock = FakeClock(wall=base)
    baseline = make(server, FileTokenCache(cache_dir / "baseline"), clock=baseline_clock)

    issued: dict[str, float] = {}  # token -> elapsed time when the server issued it
    skewed_requests = baseline_requests = 0
    elapsed = 0.0
    while elapsed < 3 * LIFETIME:
        for name in order:
            before = server.token_requests
            token = providers[name].token
            # Never a token past its real life (minus the mandatory margin).
            assert elapsed - issued.setdefault(token, elapsed) < LIFETIME - 10.0, (name, elapsed)
            wait_for_refresh(providers[name])  # a refresh ahead runs in a worker
            issued.setdefault(providers[name].token, elapsed)
            skewed_requests += server.token_requests - before
        before = server.token_requests
        baseline.token  # noqa: B018
        wait_for_refresh(baseline)
        baseline_requests += server.token_requests - before
        for clock in (*clocks.values(), baseline_clock):
            clock.advance(step)
        elapsed += step
    assert baseline_requests == 4  # at 0, 3300, 6600 and 9900 s: refreshed 300 s ahead
    assert skewed_requests == baseline_requests


# -- attributes stored with the token ---------------------------------------------------------


class FlavouredProvider(OAuthTokenProvider):
    """Keeps a string with its token (as a cookie-style provider keeps its cookie's name)."""

    flavour = "vanilla"

    def _token_attributes(self) -> Mapping[str, str]:
        return {"flavour": self.flavour}

    def _attributes_flaw(self, attributes: Mapping[str, str]) -> str | None:
        return None if attributes.get("flavour") != "poison" else "flavour is poison"


def flavoured(server: LocalOAuthServer, cache: FileTokenCache) -> FlavouredProvider:
    return FlavouredProvider(
        server.url, "client", CANARY_SECRET, token_url=server.token_url, cache=cache
    )


@pytest.mark.parametrize("key", [None, f"env:{KEY_VARIABLE}"], ids=["clear", "sealed"])
def test_attributes_reach_another_cache_on_the_same_directory(
    server: LocalOAuthServer, cache_dir: Path, key_value: str, key: str | None
) -> None:
    writer = flavoured(server, FileTokenCache(cache_dir, key=key))
    writer.flavour = "pistachio"
    token = writer.token
    reader = flavoured(server, FileTokenCache(cache_dir, key=key))

    assert reader._token_details()[0::2] == (token, {"flavour": "pistachio"})
    assert server.token_requests == 1
    entry = FileTokenCache(cache_dir, key=key).load(key_of(writer))
    assert entry is not None
    assert dict(entry.attributes) == {"flavour": "pistachio"}


def _other_flavour(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "attributes": '{"flavour":"chocolate"}'}


def _no_flavour(record: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in record.items() if key != "attributes"}


def _flavour_moved_into_the_version(record: dict[str, Any]) -> dict[str, Any]:
    """The same bytes to authenticate, were fields joined by NUL without a check."""
    moved = _no_flavour(record)
    moved["version"] = f"{record['version']}\0attributes={record['attributes']}"
    return moved


@pytest.mark.parametrize(
    "tamper",
    [_other_flavour, _no_flavour, _flavour_moved_into_the_version],
    ids=["changed", "removed", "moved-into-the-version"],
)
def test_sealed_attributes_cannot_be_changed_or_removed(
    server: LocalOAuthServer, cache_dir: Path, key_value: str, tamper: Any
) -> None:
    key = f"env:{KEY_VARIABLE}"
    writer = flavoured(server, FileTokenCache(cache_dir, key=key))
    old = writer.token
    path = path_of(writer)
    write_record(path, tamper(read_record(path)))

    reader = flavoured(server, FileTokenCache(cache_dir, key=key))

    token, _, attributes = reader._token_details()
    assert token != old  # the entry did not open: fetched anew
    assert attributes == {"flavour": "vanilla"}
    assert server.token_requests == 2


def test_attributes_the_provider_refuses_make_the_entry_a_miss(
    server: LocalOAuthServer, cache_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    writer = flavoured(server, FileTokenCache(cache_dir))
    writer.flavour = "poison"
    old = writer.token  # a provider's own token is its own business
    reader = flavoured(server, FileTokenCache(cache_dir))

    with caplog.at_level(logging.WARNING, logger="tokenprovider"):
        new = reader.token

    assert new != old
    assert server.token_requests == 2
    refused = [
        r.getMessage() for r in warnings_of(caplog) if "attributes are refused" in r.getMessage()
    ]
    assert len(refused) == 1, refused
    assert "flavour is poison" in refused[0]
    assert json.loads(read_record(path_of(reader))["attributes"]) == {"flavour": "vanilla"}


def test_an_entry_without_attributes_is_written_as_before(
    server: LocalOAuthServer, cache_dir: Path
) -> None:
    provider = make(server, FileTokenCache(cache_dir))
    provider.token  # noqa: B018 - writes the entry

    record = read_record(path_of(provider))

    assert "attributes" not in record
    assert set(record) == {
        "format",
        "cache_key",
        "expires_at",
        "issued_at",
        "writer",
        "version",
        "token",
    }


# -- cache_key, remove, clear ------------------------------------------------------------------


def test_cache_key_is_the_key_the_token_is_cached_under(
    server: LocalOAuthServer, cache_dir: Path
) -> None:
    provider = make(server, FileTokenCache(cache_dir))
    key = provider.cache_key()
    provider.token  # noqa: B018 - writes the entry

    assert key is not None
    assert key == key_of(provider)
    assert provider.cache.path_for(key).exists()  # type: ignore[attr-defined]
    assert provider.cache_key() is key  # made once


def test_cache_key_is_none_for_a_provider_that_keeps_its_tokens_to_itself() -> None:
    from test_cached import CountingProvider  # noqa: PLC0415

    assert CountingProvider(FakeClock()).cache_key() is None


def test_remove_deletes_one_entry_and_the_next_fetch_requests_anew(
    server: LocalOAuthServer, cache_dir: Path
) -> None:
    server.clients = {"client": CANARY_SECRET, "other": CANARY_SECRET}
    cache = FileTokenCache(cache_dir)
    kept = make(server, cache, "other")
    kept_token = kept.token
    provider = make(server, cache)
    provider.token  # noqa: B018 - writes the entry
    key = provider.cache_key()
    assert key is not None

    assert cache.remove(key) is True
    assert cache.remove(key) is False  # nothing left to remove
    assert not cache.path_for(key).exists()
    assert make(server, FileTokenCache(cache_dir), "other").token == kept_token
    make(server, FileTokenCache(cache_dir)).token  # noqa: B018 - fetched anew
    assert server.token_requests == 3


def test_remove_and_clear_on_a_missing_directory_create_nothing(cache_dir: Path) -> None:
    cache = FileTokenCache(cache_dir)
    key = CacheKey("a" * 64, "test key")

    assert cache.remove(key) is False
    assert cache.clear() == 0
    assert not cache_dir.exists()
    assert cache.location == cache_dir


def test_clear_removes_every_token_file_and_nothing_else(
    server: LocalOAuthServer, cache_dir: Path
) -> None:
    server.clients = {"client": CANARY_SECRET, "other": CANARY_SECRET}
    cache = FileTokenCache(cache_dir)
    for client in ("client", "other"):
        make(server, cache, client).token  # noqa: B018 - writes an entry and a lock file
    (cache_dir / "notes.json").write_text("{}")  # not a token file's name
    (cache_dir / ("b" * 64 + ".json")).mkdir()  # a token file's name, but a directory
    outside = cache_dir.parent / "outside.json"
    outside.write_text("keep me")
    (cache_dir / ("c" * 64 + ".json")).symlink_to(outside)  # a link: not a token file
    before = {path.name for path in cache_dir.iterdir()}

    removed = cache.clear()

    after = {path.name for path in cache_dir.iterdir()}
    assert removed == 2
    assert before - after == {
        f"{key_of(make(server, cache, c)).digest}.json" for c in ("client", "other")
    }
    assert {"salt", "notes.json", "b" * 64 + ".json", "c" * 64 + ".json"} <= after
    assert len([name for name in after if name.endswith(".lock")]) == 2
    assert outside.read_text() == "keep me"
    assert cache.clear() == 0


@pytest.mark.parametrize("problem", ["link", "group-writable"])
def test_clear_and_remove_refuse_a_directory_they_must_not_use_and_delete_nothing(
    server: LocalOAuthServer, cache_dir: Path, tmp_path: Path, problem: str
) -> None:
    provider = make(server, FileTokenCache(cache_dir))
    provider.token  # noqa: B018 - writes the entry
    key = key_of(provider)
    if problem == "link":
        linked = tmp_path / "linked"
        linked.symlink_to(cache_dir)
        cache = FileTokenCache(linked)
        expected = "symbolic link"
    else:
        cache_dir.chmod(0o770)
        cache = FileTokenCache(cache_dir)
        expected = "group or others can write to it"
    before = sorted(path.name for path in cache_dir.iterdir())

    with pytest.raises(CacheError, match=expected):
        cache.clear()
    with pytest.raises(CacheError, match=expected):
        cache.remove(key)

    assert sorted(path.name for path in cache_dir.iterdir()) == before
