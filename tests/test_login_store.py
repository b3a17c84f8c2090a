"""The store of people's logins (tokenprovider.caches.logins): real files, real file
locks, real processes (``spawn``), and keyring backends that really store (a directory
keyring from `login_store_workers`); this machine's own keyring backend is the failing
one, and is tested as it is. Counts and sets of numbers seen are the evidence; nothing
waits on a timer."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import multiprocessing
import os
import signal
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.backends.fail
import keyring.backends.null
import pytest

import login_store_workers as workers
from conftest import all_log_text, assert_no_leak, reachable_text, run_python
from login_store_workers import KEY, DirectoryKeyring, login, number_of
from tokenprovider.caches import _keyring_store
from tokenprovider.caches.logins import (
    ENTRY_LIMIT,
    FileLoginStore,
    KeyringLoginStore,
    LoginKey,
    LoginStore,
    StoredLogin,
    login_store,
)
from tokenprovider.errors import ConfigurationError, LoginStoreError
from tokenprovider.secret_refs import clear_secret_cache

SPAWN = multiprocessing.get_context("spawn")
REFRESH = "CANARY-7f3a-refresh-9d2e51"
ACCESS = "CANARY-7f3a-access-41bc07"
ROTATED = "CANARY-7f3a-rotated-66ab20"
KEY_VARIABLE = "TOKENPROVIDER_TEST_LOGIN_KEY"
OTHER_KEY_VARIABLE = "TOKENPROVIDER_TEST_OTHER_LOGIN_KEY"
CHILD_TIMEOUT = 60


def a_login(**changes: Any) -> StoredLogin:
    fields: dict[str, Any] = {
        "refresh_token": REFRESH,
        "access_token": ACCESS,
        "expires_at": 1_900_000_000.0,
        "scopes": ("read",),
        "account": "person@example.com",
        "saved_at": 1_800_000_000.0,
    }
    fields.update(changes)
    return StoredLogin(**fields)


def save(store: LoginStore, stored: StoredLogin, key: LoginKey = KEY) -> None:
    with store.hold(key) as held:
        held.save(stored)


def warnings_text(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)


@pytest.fixture(autouse=True)
def _fresh_secret_references() -> Iterator[None]:
    clear_secret_cache()
    yield
    clear_secret_cache()


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    return tmp_path / "data" / "tokenprovider" / "logins"


@pytest.fixture
def store(directory: Path) -> FileLoginStore:
    return FileLoginStore(directory)


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """XDG_DATA_HOME in ``tmp_path``: the default directory is under it."""
    home = tmp_path / "xdg-data"
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    return home


@pytest.fixture
def sealing_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_VARIABLE, base64.b64encode(os.urandom(32)).decode())
    monkeypatch.setenv(OTHER_KEY_VARIABLE, base64.b64encode(os.urandom(32)).decode())
    return f"env:{KEY_VARIABLE}"


@pytest.fixture
def use_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """Make a backend from `login_store_workers` keyring's backend for this process (its
    entries in ``tmp_path``); the previous backend comes back afterwards."""
    previous = keyring.get_keyring()  # detected before any test backend can be viable
    keyring_dir = tmp_path / "keyring"
    keyring_dir.mkdir()
    monkeypatch.setenv(workers.KEYRING_DIR, str(keyring_dir))

    def use(kind: type[Any] = DirectoryKeyring) -> Any:
        backend = kind()
        keyring.set_keyring(backend)
        return backend

    yield use
    keyring.set_keyring(previous)


def start(target: Callable[..., None], *args: Any) -> Any:
    process = SPAWN.Process(target=target, args=args, daemon=True)
    process.start()
    return process


def stop(process: Any) -> None:
    if process.is_alive():
        os.kill(process.pid, signal.SIGKILL)
    process.join(10)


# -- keys --------------------------------------------------------------------------------


def test_the_digest_ignores_the_order_and_repetition_of_scopes() -> None:
    one = LoginKey("https://api", "https://idp/token", "cli", ("b", "a", "a"))
    other = LoginKey("https://api", "https://idp/token", "cli", ["a", "b"])  # type: ignore[arg-type]
    assert one.digest == other.digest
    assert len(one.digest) == 64
    assert int(one.digest, 16) >= 0


@pytest.mark.parametrize(
    "other",
    [
        LoginKey("https://other-api", "https://idp/token", "cli", ("a",)),
        LoginKey("https://api", "https://other-idp/token", "cli", ("a",)),
        LoginKey("https://api", "https://idp/token", "other-cli", ("a",)),
        LoginKey("https://api", "https://idp/token", "cli", ("a", "b")),
        LoginKey("https://api", "https://idp/token", "cli", ()),
    ],
)
def test_each_key_field_changes_the_digest(other: LoginKey) -> None:
    assert LoginKey("https://api", "https://idp/token", "cli", ("a",)).digest != other.digest


def test_the_label_names_client_endpoint_host_and_scopes() -> None:
    label = LoginKey("https://api.example.com", "https://idp/token", "cli", ("b", "a")).label
    assert label == (
        "client 'cli' of the token endpoint https://idp/token "
        "for https://api.example.com (scopes: a b)"
    )


def test_the_label_escapes_control_characters_of_a_discovered_endpoint() -> None:
    label = LoginKey("https://api", "https://idp/\r\nFAKE LOG LINE", "cli").label
    assert "\n" not in label
    assert "\r" not in label


# -- files -------------------------------------------------------------------------------


def test_a_saved_login_is_loaded_back(store: FileLoginStore) -> None:
    save(store, a_login())
    assert store.load(KEY) == a_login()
    with store.hold(KEY) as held:
        assert held.current == a_login()


def test_nothing_stored_is_none_and_makes_no_directory(
    store: FileLoginStore, directory: Path
) -> None:
    assert store.load(KEY) is None
    assert not directory.exists()


def test_the_directory_is_made_0700_and_the_file_is_0600(
    store: FileLoginStore, directory: Path
) -> None:
    save(store, a_login())
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    path = store.path_for(KEY)
    assert path == directory / f"{KEY.digest}.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert {p.name for p in directory.iterdir()} == {path.name, f"{KEY.digest}.lock"}


def test_the_default_directory_is_in_the_user_data_directory(data_home: Path) -> None:
    store = login_store("file")
    assert isinstance(store, FileLoginStore)
    save(store, a_login())
    expected = data_home / "tokenprovider" / "logins" / f"{KEY.digest}.json"
    assert store.path_for(KEY) == expected
    assert expected.is_file()
    assert store.where(KEY) == f"{expected} (mode 0600, not encrypted)"


def test_without_a_home_there_is_no_default_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs  # noqa: PLC0415 - patched: a machine without a home cannot be had here

    def no_home(*args: Any, **kwargs: Any) -> str:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(platformdirs, "user_data_dir", no_home)
    with pytest.raises(LoginStoreError, match="XDG_DATA_HOME") as caught:
        login_store("file").load(KEY)
    assert 'login_store = "file" with login_store_dir' in str(caught.value)


def test_the_record_names_its_key_and_format(store: FileLoginStore) -> None:
    save(store, a_login())
    record = json.loads(store.path_for(KEY).read_text())
    assert record["format"] == "tokenprovider-login/1"
    assert record["key"] == KEY.digest
    assert (record["host"], record["token_endpoint"], record["client_id"]) == (
        KEY.host,
        KEY.token_endpoint,
        KEY.client_id,
    )
    assert record["scopes"] == ["read"]


def test_a_record_copied_under_another_key_is_ignored(
    store: FileLoginStore, caplog: pytest.LogCaptureFixture
) -> None:
    other = LoginKey(KEY.host, KEY.token_endpoint, "another-client", KEY.scopes)
    save(store, a_login())
    store.path_for(KEY).rename(store.path_for(other))
    assert store.load(other) is None
    warned = warnings_text(caplog)
    assert str(store.path_for(other)) in warned
    assert "saved for another login" in warned


def write_entry(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o600)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"format": "tokenprovider-login/1", "key": "', "not valid JSON"),
        (b"[1, 2, 3]", "not valid JSON"),
        (b'{"format": "something-else/9"}', "not a tokenprovider login"),
        (b"\xff\xfe not text", "not valid JSON"),
        (b" " * (ENTRY_LIMIT + 1), "larger than 64 KiB"),
    ],
    ids=["truncated", "not-an-object", "foreign", "not-utf8", "oversized"],
)
def test_a_corrupt_file_is_ignored_with_a_warning(
    store: FileLoginStore, caplog: pytest.LogCaptureFixture, content: bytes, reason: str
) -> None:
    save(store, a_login())
    write_entry(store.path_for(KEY), content)
    assert store.load(KEY) is None
    warned = warnings_text(caplog)
    assert str(store.path_for(KEY)) in warned
    assert reason in warned
    with store.hold(KEY) as held:  # and a login is needed: nothing to refresh with
        assert held.current is None


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("saved_at", "yesterday", "saved_at is not a number"),
        ("expires_at", True, "expires_at is not a number"),
        ("granted_scopes", "read", "granted_scopes are not a list"),
        ("refresh_token", 42, "refresh_token is not a non-empty string"),
        ("access_token", "", "access_token is not a non-empty string"),
        ("account", ["x"], "account is not a string"),
        ("scopes", ["read", "admin"], "saved for another login"),
    ],
)
def test_a_record_with_a_bad_field_is_ignored(
    store: FileLoginStore,
    caplog: pytest.LogCaptureFixture,
    field: str,
    value: object,
    reason: str,
) -> None:
    save(store, a_login())
    path = store.path_for(KEY)
    record = json.loads(path.read_text())
    record[field] = value
    write_entry(path, json.dumps(record).encode())
    assert store.load(KEY) is None
    assert reason in warnings_text(caplog)


def test_an_unsafe_file_is_ignored_and_never_followed(
    store: FileLoginStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    save(store, a_login())
    path = store.path_for(KEY)
    elsewhere = tmp_path / "elsewhere.json"
    path.rename(elsewhere)
    path.symlink_to(elsewhere)
    assert store.load(KEY) is None
    assert "is a symbolic link" in warnings_text(caplog)
    path.unlink()
    os.mkfifo(path, 0o600)  # a FIFO: refused, never opened (the read would block)
    assert store.load(KEY) is None
    assert "FIFO" in warnings_text(caplog)


def test_a_file_open_to_others_is_ignored(
    store: FileLoginStore, caplog: pytest.LogCaptureFixture
) -> None:
    save(store, a_login())
    store.path_for(KEY).chmod(0o644)
    assert store.load(KEY) is None
    assert "is open to group or others (mode 0644)" in warnings_text(caplog)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user takes root")
def test_another_users_file_is_ignored(
    store: FileLoginStore, caplog: pytest.LogCaptureFixture
) -> None:
    save(store, a_login())
    os.chown(store.path_for(KEY), 4242, -1)
    assert store.load(KEY) is None
    assert "belongs to another user (uid 4242)" in warnings_text(caplog)


def make_unsafe(directory: Path, how: str, tmp_path: Path) -> None:
    if how == "group-writable":
        directory.chmod(0o770)
    elif how == "world-writable":
        directory.chmod(0o777)
    elif how == "symlink":
        real = tmp_path / "real-logins"
        directory.rename(real)
        directory.symlink_to(real)
    elif how == "not-a-directory":
        for entry in directory.iterdir():
            entry.unlink()
        directory.rmdir()
        directory.write_text("")
    elif how == "another-user":
        os.chown(directory, 4242, -1)


@pytest.mark.parametrize(
    ("how", "says"),
    [
        ("group-writable", "chmod go-w"),
        ("world-writable", "mode 0777"),
        ("symlink", "symbolic link"),
        ("not-a-directory", "not a directory"),
        pytest.param(
            "another-user",
            "belongs to another user",
            marks=pytest.mark.skipif(os.geteuid() != 0, reason="chown takes root"),
        ),
    ],
)
def test_an_unsafe_directory_is_refused_at_every_use(
    store: FileLoginStore, directory: Path, tmp_path: Path, how: str, says: str
) -> None:
    save(store, a_login())  # it was fine when first used
    make_unsafe(directory, how, tmp_path)
    for use in (
        lambda: store.load(KEY),
        lambda: save(store, a_login()),
        lambda: store.remove(KEY),
    ):
        with pytest.raises(LoginStoreError) as caught:
            use()
        message = str(caught.value)
        assert str(directory) in message
        assert says in message


def test_where_says_the_file_mode_and_encryption(directory: Path, sealing_key: str) -> None:
    plain, sealed = FileLoginStore(directory), FileLoginStore(directory, key=sealing_key)
    path = directory / f"{KEY.digest}.json"
    assert plain.where(KEY) == f"{path} (mode 0600, not encrypted)"
    assert sealed.where(KEY) == f"{path} (mode 0600, encrypted)"


def test_remove_forgets_the_login(store: FileLoginStore) -> None:
    assert store.remove(KEY) is False
    save(store, a_login())
    assert store.remove(KEY) is True
    assert store.load(KEY) is None
    assert store.remove(KEY) is False


def test_a_failed_save_is_an_error(store: FileLoginStore) -> None:
    save(store, a_login())
    path = store.path_for(KEY)
    path.unlink()
    path.mkdir()  # a directory where the file goes: the atomic rename fails
    rotated = a_login(refresh_token=ROTATED)
    with store.hold(KEY) as held, pytest.raises(LoginStoreError) as caught:
        held.save(rotated)
    assert str(path) in str(caught.value)
    assert_no_leak(reachable_text(caught.value), REFRESH, ACCESS, ROTATED)


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"expires_at": float("inf")}, "expires_at is not a finite number"),
        ({"saved_at": float("nan")}, "saved_at is not a finite number"),
        ({"refresh_token": ""}, "refresh_token is not a non-empty string"),
        ({"account": "x" * ENTRY_LIMIT}, "more than the 64 KiB"),
    ],
)
def test_a_login_that_could_not_be_read_back_is_not_saved(
    store: FileLoginStore, changes: dict[str, Any], says: str
) -> None:
    with store.hold(KEY) as held, pytest.raises(LoginStoreError, match=says):
        held.save(a_login(**changes))
    assert store.load(KEY) is None


# -- encryption --------------------------------------------------------------------------


def test_a_key_seals_the_tokens_at_rest(directory: Path, sealing_key: str) -> None:
    store = FileLoginStore(directory, key=sealing_key)
    save(store, a_login())
    content = store.path_for(KEY).read_text()
    assert_no_leak(content, REFRESH, ACCESS)
    assert "sealed" in json.loads(content)
    assert store.load(KEY) == a_login()


@pytest.mark.parametrize(
    ("reader_key", "says"),
    [
        (None, "encrypted, and this store has no key"),
        (f"env:{OTHER_KEY_VARIABLE}", "does not open with this key"),
    ],
)
def test_sealed_tokens_open_only_with_their_key(
    directory: Path,
    sealing_key: str,
    caplog: pytest.LogCaptureFixture,
    reader_key: str | None,
    says: str,
) -> None:
    save(FileLoginStore(directory, key=sealing_key), a_login())
    assert FileLoginStore(directory, key=reader_key).load(KEY) is None
    assert says in warnings_text(caplog)


def test_clear_tokens_are_not_trusted_where_tokens_are_sealed(
    directory: Path, sealing_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    save(FileLoginStore(directory), a_login())
    assert FileLoginStore(directory, key=sealing_key).load(KEY) is None
    assert "not encrypted, but this store has a key" in warnings_text(caplog)


@pytest.mark.parametrize(("field", "value"), [("expires_at", 2e9), ("account", "intruder")])
def test_sealed_tokens_are_bound_to_the_rest_of_their_record(
    directory: Path,
    sealing_key: str,
    caplog: pytest.LogCaptureFixture,
    field: str,
    value: object,
) -> None:
    store = FileLoginStore(directory, key=sealing_key)
    save(store, a_login())
    path = store.path_for(KEY)
    record = json.loads(path.read_text())
    record[field] = value
    write_entry(path, json.dumps(record).encode())
    assert store.load(KEY) is None
    assert "cannot be opened" in warnings_text(caplog)


def test_sealed_tokens_cannot_be_moved_to_another_key(
    directory: Path, sealing_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = FileLoginStore(directory, key=sealing_key)
    other = LoginKey(KEY.host, KEY.token_endpoint, "another-client", KEY.scopes)
    save(store, a_login())
    record = json.loads(store.path_for(KEY).read_text())
    record.update(key=other.digest, client_id="another-client")  # rewritten to match
    save(store, a_login(refresh_token="CANARY-7f3a-other-5e1d"), other)
    write_entry(store.path_for(other), json.dumps(record).encode())
    assert store.load(other) is None
    assert "cannot be opened" in warnings_text(caplog)


def test_derive_is_refused_and_says_why() -> None:
    with pytest.raises(LoginStoreError, match="client secret") as caught:
        login_store("file", key="derive")
    assert "secret reference" in str(caught.value)


def test_a_literal_key_is_refused(directory: Path) -> None:
    with pytest.raises(ConfigurationError, match="literal key does not belong"):
        FileLoginStore(directory, key="bm90IGEga2V5IGluIGNvbmZpZ3VyYXRpb24=")


def test_a_key_of_the_wrong_length_is_a_store_error(
    directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_VARIABLE, base64.b64encode(os.urandom(16)).decode())
    store = FileLoginStore(directory, key=f"env:{KEY_VARIABLE}")
    with store.hold(KEY) as held, pytest.raises(LoginStoreError, match="32 bytes"):
        held.save(a_login())


def test_raw_key_bytes_seal_too(directory: Path) -> None:
    store = FileLoginStore(directory, key=os.urandom(32))
    save(store, a_login())
    assert_no_leak(store.path_for(KEY).read_text(), REFRESH, ACCESS)
    assert store.load(KEY) == a_login()


# -- the setting -------------------------------------------------------------------------


def test_file_directory_is_relative_to_base_dir(tmp_path: Path) -> None:
    store = login_store("file:logins", base_dir=tmp_path)
    assert isinstance(store, FileLoginStore)
    assert store.location == tmp_path / "logins"


def test_file_directory_expands_the_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert login_store("file:~/logins").location == tmp_path / "logins"


@pytest.mark.parametrize(
    "setting", ["files", "file:", "keyring:x", "auto:", "memory", "", "dynamodb:T", "file:a\0b"]
)
def test_a_bad_setting_names_login_store_and_the_values(setting: str) -> None:
    with pytest.raises(ConfigurationError, match="login_store") as caught:
        login_store(setting)
    if "\0" not in setting:
        for form in ('"auto"', '"keyring"', '"file"', '"file:DIRECTORY"'):
            assert form in str(caught.value)


def test_a_setting_that_is_not_text_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="login_store must be one of"):
        login_store(["file"])  # type: ignore[arg-type]


def test_a_bad_lock_timeout_is_refused(directory: Path) -> None:
    with pytest.raises(ConfigurationError, match="lock_timeout"):
        FileLoginStore(directory, lock_timeout=0)


# -- the lock ----------------------------------------------------------------------------


def test_threads_lose_no_update(store: FileLoginStore) -> None:
    threads, times = 8, 15
    seen: list[int] = []
    seen_lock = threading.Lock()
    start_together = threading.Barrier(threads)

    def count() -> None:
        start_together.wait(30)
        for _ in range(times):
            with store.hold(KEY) as held:
                number = number_of(held.current)
                with seen_lock:
                    seen.append(number)
                held.save(login(number + 1))

    workers_ = [threading.Thread(target=count) for _ in range(threads)]
    for worker in workers_:
        worker.start()
    for worker in workers_:
        worker.join(60)
    assert number_of(store.load(KEY)) == threads * times
    assert sorted(seen) == list(range(threads * times))  # each holder saw the last save


def test_stores_on_one_directory_share_the_lock(directory: Path) -> None:
    """Two store objects (as two libraries in one process would build) still queue."""
    stores = [FileLoginStore(directory), FileLoginStore(str(directory))]
    seen: list[int] = []

    def count(store: FileLoginStore) -> None:
        for _ in range(20):
            with store.hold(KEY) as held:
                number = number_of(held.current)
                seen.append(number)
                held.save(login(number + 1))

    threads = [threading.Thread(target=count, args=(s,)) for s in stores * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(seen) == list(range(80))


def count_in_processes(env: dict[str, str], setting: str) -> tuple[set[str], list[int]]:
    processes, times = 4, 10
    barrier = SPAWN.Barrier(processes)
    results = SPAWN.Queue()
    children = [
        start(workers.count_up, env, setting, times, barrier, results) for _ in range(processes)
    ]
    try:
        outcomes = [results.get(timeout=CHILD_TIMEOUT) for _ in children]
        for child in children:
            child.join(CHILD_TIMEOUT)
            assert child.exitcode == 0
    finally:
        for child in children:
            stop(child)
    kinds = {kind for kind, _ in outcomes}
    seen = sorted(number for _, numbers in outcomes for number in numbers)
    assert seen == list(range(processes * times))  # no update lost, none seen twice
    return kinds, seen


def test_processes_lose_no_update(directory: Path) -> None:
    kinds, _ = count_in_processes({}, f"file:{directory}")
    assert kinds == {"file"}
    assert number_of(FileLoginStore(directory).load(KEY)) == 40


def test_a_lock_held_past_the_timeout_is_an_error(directory: Path) -> None:
    holding, release = SPAWN.Event(), SPAWN.Event()
    child = start(workers.hold_until, {}, f"file:{directory}", holding, release)
    try:
        assert holding.wait(CHILD_TIMEOUT)
        store = FileLoginStore(directory, lock_timeout=0.2)
        started = time.monotonic()
        with pytest.raises(LoginStoreError) as caught, store.hold(KEY):
            pytest.fail("held a login another process holds")
        assert time.monotonic() - started < 30  # gave up near its timeout
        assert "waited 0.2s for the lock" in str(caught.value)
        assert str(directory / f"{KEY.digest}.lock") in str(caught.value)
        release.set()
        child.join(CHILD_TIMEOUT)
        assert child.exitcode == 0
        save(store, a_login())  # free again
    finally:
        release.set()
        stop(child)


def test_a_lock_goes_with_a_killed_process(directory: Path) -> None:
    holding, release = SPAWN.Event(), SPAWN.Event()
    child = start(workers.hold_until, {}, f"file:{directory}", holding, release)
    try:
        assert holding.wait(CHILD_TIMEOUT)
        os.kill(child.pid, signal.SIGKILL)
        child.join(CHILD_TIMEOUT)
        save(FileLoginStore(directory, lock_timeout=30), a_login())
    finally:
        stop(child)


def test_a_thread_waiting_past_the_timeout_gets_an_error(directory: Path) -> None:
    store = FileLoginStore(directory, lock_timeout=0.2)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store.hold(KEY):
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(30)
        with pytest.raises(LoginStoreError, match=r"waited 0\.2s"), store.hold(KEY):
            pytest.fail("held a login another thread holds")
    finally:
        release.set()
        holder.join(30)


def test_a_nested_hold_in_one_thread_fails_at_once(store: FileLoginStore) -> None:
    with store.hold(KEY), pytest.raises(LoginStoreError, match="already held by this thread"):
        store.remove(KEY)


def test_other_keys_are_not_blocked(store: FileLoginStore) -> None:
    other = LoginKey(KEY.host, KEY.token_endpoint, "other", ())
    with store.hold(KEY):
        save(store, a_login(), other)
    assert store.load(other) == a_login()


def test_a_released_login_cannot_be_changed(store: FileLoginStore) -> None:
    with store.hold(KEY) as held:
        pass
    for change in (lambda: held.save(a_login()), lambda: held.forget_refresh_token(REFRESH)):
        with pytest.raises(LoginStoreError, match="no longer held"):
            change()
    assert store.load(KEY) is None


def test_forget_refresh_token_drops_only_the_refused_token(store: FileLoginStore) -> None:
    save(store, a_login())
    with store.hold(KEY) as held:
        held.forget_refresh_token("CANARY-7f3a-some-older-token")  # already rotated
        assert held.current == a_login()
    assert store.load(KEY) == a_login()
    with store.hold(KEY) as held:
        held.forget_refresh_token(REFRESH)
        kept = held.current
    # The refused refresh token is gone; the access token stays until it expires.
    assert kept == dataclasses.replace(a_login(), refresh_token=None)
    assert store.load(KEY) == kept
    with store.hold(KEY) as held:  # refused again (as from a stale copy): nothing to drop
        held.forget_refresh_token(REFRESH)
    assert store.load(KEY) == kept


def test_forget_refresh_token_without_an_access_token_drops_the_login(
    store: FileLoginStore,
) -> None:
    save(store, a_login(access_token=None, expires_at=None))
    with store.hold(KEY) as held:
        held.forget_refresh_token(REFRESH)
        assert held.current is None
    assert store.load(KEY) is None


def test_forget_refresh_token_keeps_what_another_process_rotated_in(
    store: FileLoginStore,
) -> None:
    save(store, a_login())
    with store.hold(KEY) as held:
        spent = held.current
        assert spent is not None
        held.save(a_login(refresh_token="CANARY-7f3a-rotated-0b9c"))  # as another holder did
    with store.hold(KEY) as held:
        assert spent.refresh_token is not None
        held.forget_refresh_token(spent.refresh_token)
    assert store.load(KEY) == a_login(refresh_token="CANARY-7f3a-rotated-0b9c")


def test_forget_drops_the_login_under_the_hold(store: FileLoginStore) -> None:
    save(store, a_login())
    with store.hold(KEY) as held:
        assert held.forget() is True
        assert held.forget() is False
    assert store.load(KEY) is None


# -- secrets never show ------------------------------------------------------------------


def test_no_token_shows_in_reprs_logs_or_errors(
    directory: Path,
    sealing_key: str,
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    store = FileLoginStore(directory, key=sealing_key)
    save(store, a_login())
    shown = [repr(a_login()), str(a_login()), repr(store), store.where(KEY), KEY.label]
    with store.hold(KEY) as held:
        shown.append(repr(held))
        held.forget_refresh_token(REFRESH)
    save(store, a_login())
    errors: list[BaseException] = []
    path = store.path_for(KEY)
    record = json.loads(path.read_text())
    record["account"] = "changed"
    write_entry(path, json.dumps(record).encode())
    assert FileLoginStore(directory, key=sealing_key).load(KEY) is None  # warns
    assert FileLoginStore(directory).load(KEY) is None  # warns
    path.unlink()
    path.mkdir()
    with store.hold(KEY) as held:
        try:
            held.save(a_login())
        except LoginStoreError as exc:
            errors.append(exc)
    assert errors
    text = "\n".join([*shown, all_log_text(debug_logs), *map(reachable_text, errors)])
    assert "ignoring" in text  # the warnings were captured
    assert_no_leak(text, REFRESH, ACCESS, os.environ[KEY_VARIABLE])


# -- the keyring -------------------------------------------------------------------------


def test_this_machines_keyring_is_used_only_if_it_works(tmp_path: Path) -> None:
    """This machine's real default backend (here the failing one: there is no Secret
    Service): "auto" keeps logins in files, "keyring" says why it cannot."""
    code = (
        "import json, keyring\n"
        "from tokenprovider.caches.logins import login_store\n"
        "from tokenprovider.errors import LoginStoreError\n"
        "backend = type(keyring.get_keyring()).__module__\n"
        "kind = login_store('auto').kind\n"
        "try:\n"
        "    login_store('keyring')\n"
        "    error = None\n"
        "except LoginStoreError as exc:\n"
        "    error = str(exc)\n"
        "print(json.dumps([backend, kind, error]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_KEYRING_BACKEND"}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    result = run_python("-c", code, timeout=CHILD_TIMEOUT, env=env)
    assert result.returncode == 0, result.stderr
    backend, kind, error = json.loads(result.stdout)
    if backend not in {"keyring.backends.fail", "keyring.backends.null"}:
        pytest.skip(f"this machine's keyring backend is {backend}, which may work")
    assert kind == "file"
    assert error is not None
    assert "stores nothing" in error
    assert 'login_store = "file"' in error


@pytest.mark.parametrize("backend", [keyring.backends.fail.Keyring, keyring.backends.null.Keyring])
def test_a_backend_that_stores_nothing_is_never_used(
    backend: type[Any], data_home: Path, use_backend: Callable[..., Any]
) -> None:
    use_backend(backend)
    assert isinstance(login_store("auto"), FileLoginStore)
    with pytest.raises(LoginStoreError, match=f"{backend.__module__}.Keyring, which stores"):
        login_store("keyring")


def test_a_working_keyring_is_chosen_and_round_trips(
    data_home: Path, use_backend: Callable[..., Any], tmp_path: Path
) -> None:
    backend = use_backend()
    store = login_store("auto")
    assert isinstance(store, KeyringLoginStore)
    assert store.kind == "keyring"
    assert store.backend is backend
    assert store.where(KEY) == (
        "the OS keyring (backend login store workers DirectoryKeyring), service 'tokenprovider'"
    )
    save(store, a_login())
    assert store.load(KEY) == a_login()
    blob = json.loads(backend.get_password("tokenprovider", KEY.digest))
    assert blob["format"] == "tokenprovider-login/1"
    assert blob["key"] == KEY.digest
    assert [p.name for p in (tmp_path / "keyring").iterdir()] == [
        backend.path("tokenprovider", KEY.digest).name
    ]  # the probe's test entry is gone
    locks = data_home / "tokenprovider" / "logins"
    assert [p.name for p in locks.iterdir()] == [f"{KEY.digest}.lock"]  # locks, no logins
    assert login_store("keyring").load(KEY) == a_login()
    assert store.remove(KEY) is True
    assert store.remove(KEY) is False
    assert store.load(KEY) is None


def test_a_key_seals_the_keyring_blob_too(
    data_home: Path, use_backend: Callable[..., Any], sealing_key: str
) -> None:
    backend = use_backend()
    store = login_store("auto", key=sealing_key)
    assert store.where(KEY).endswith("(encrypted with the configured key)")
    save(store, a_login())
    blob = backend.get_password("tokenprovider", KEY.digest)
    assert_no_leak(blob, REFRESH, ACCESS)
    assert store.load(KEY) == a_login()
    assert login_store("keyring").load(KEY) is None  # no key: not opened


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        (workers.RefusingKeyring, "failed storing a test entry (PasswordSetError"),
        (workers.LowPriorityKeyring, "priority 0.5, below 1"),
    ],
)
def test_a_backend_that_fails_its_probe_is_refused(
    data_home: Path, use_backend: Callable[..., Any], kind: type[Any], says: str
) -> None:
    use_backend(kind)
    assert isinstance(login_store("auto"), FileLoginStore)
    with pytest.raises(LoginStoreError) as caught:
        login_store("keyring")
    assert says in str(caught.value)
    assert 'Use login_store = "file"' in str(caught.value)


def test_a_backend_that_does_not_answer_is_refused(
    data_home: Path, use_backend: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_keyring_store, "PROBE_TIMEOUT", 0.2)
    backend = use_backend(workers.HangingKeyring)
    backend.release = threading.Event()
    try:
        assert isinstance(login_store("auto"), FileLoginStore)
        with pytest.raises(LoginStoreError, match=r"within 0\.2s"):
            login_store("keyring")
    finally:
        backend.release.set()


def test_a_keyring_that_fails_later_is_a_warning_then_an_error(
    data_home: Path, use_backend: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    backend = use_backend(workers.ForgetfulKeyring)
    store = login_store("keyring")
    save(store, a_login())
    backend.broken = True
    assert store.load(KEY) is None
    assert "the secret service went away" in warnings_text(caplog)
    with pytest.raises(LoginStoreError, match="cannot remove the login"):
        store.remove(KEY)


def test_a_keyring_write_error_does_not_repeat_the_tokens(
    data_home: Path, use_backend: Callable[..., Any], tmp_path: Path
) -> None:
    backend = workers.RefusingKeyring()
    store = KeyringLoginStore(workers.DirectoryKeyring(), tmp_path / "locks")
    store.backend = backend  # the keyring breaks after the store was made
    with store.hold(KEY) as held, pytest.raises(LoginStoreError) as caught:
        held.save(a_login())
    assert "refused" in str(caught.value)
    assert_no_leak(reachable_text(caught.value), REFRESH, ACCESS)


def test_processes_share_the_keyring_and_its_lock(tmp_path: Path) -> None:
    keyring_dir = tmp_path / "keyring"
    keyring_dir.mkdir()
    env = {
        "PYTHON_KEYRING_BACKEND": workers.BACKEND,
        workers.KEYRING_DIR: str(keyring_dir),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    kinds, _ = count_in_processes(env, "auto")
    assert kinds == {"keyring"}
    entry = keyring_dir / os.listdir(keyring_dir)[0]
    assert len(os.listdir(keyring_dir)) == 1
    assert json.loads(entry.read_text())["refresh_token"] == f"{workers.TOKEN_PREFIX}40"


def test_a_keyring_lock_held_past_the_timeout_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, use_backend: Callable[..., Any]
) -> None:
    env = {
        "PYTHON_KEYRING_BACKEND": workers.BACKEND,
        workers.KEYRING_DIR: os.environ[workers.KEYRING_DIR],
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    monkeypatch.setenv("XDG_DATA_HOME", env["XDG_DATA_HOME"])
    use_backend()
    holding, release = SPAWN.Event(), SPAWN.Event()
    child = start(workers.hold_until, env, "keyring", holding, release)
    try:
        assert holding.wait(CHILD_TIMEOUT)
        with pytest.raises(LoginStoreError, match=r"waited 0\.2s"):
            save(login_store("keyring", lock_timeout=0.2), a_login())
    finally:
        release.set()
        stop(child)


def test_without_keyring_auto_uses_files_and_keyring_names_the_extra(tmp_path: Path) -> None:
    code = (
        "import json\n"
        "from tokenprovider.caches.logins import login_store\n"
        "from tokenprovider.errors import MissingExtraError\n"
        "kind = login_store('auto').kind\n"
        "try:\n"
        "    login_store('keyring')\n"
        "    error = None\n"
        "except MissingExtraError as exc:\n"
        "    error = str(exc)\n"
        "print(json.dumps([kind, error]))\n"
    )
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    result = run_python("-c", code, timeout=CHILD_TIMEOUT, env=env, without=("keyring",))
    assert result.returncode == 0, result.stderr
    kind, error = json.loads(result.stdout)
    assert kind == "file"
    assert "pip install 'tokenprovider[keyring]'" in error
    assert 'login_store = "file"' in error


def test_the_store_loads_no_optional_dependency_until_used() -> None:
    code = (
        "import json, sys\n"
        "import tokenprovider.caches.logins\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    result = run_python("-c", code, timeout=CHILD_TIMEOUT)
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout))
    assert loaded.isdisjoint({"keyring", "filelock", "platformdirs", "cryptography"})
