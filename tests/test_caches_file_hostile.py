"""FileTokenCache against planted files and filesystem faults (issue 10, section 5).

Tests run as root, so "another user's file" is a real file chowned to uid 12345 (root
can still read it: only the cache's own checks keep it out). Anything that hung or ate
memory before the fix (a FIFO, ``/dev/zero``) runs in a child process with a timeout
and an address-space limit. Full disks and read-only file systems are real: a small
tmpfs, remounted read-only; where mounting is not allowed the OSError is injected at
``os.open``/``os.mkdir`` instead.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import stat
import subprocess
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from conftest import CANARY_SECRET, all_log_text, assert_no_leak, run_python
from tokenprovider import OAuthTokenProvider
from tokenprovider._private_files import UnsafeFileError, read_regular_file, write_private
from tokenprovider.caches import MemoryTokenCache
from tokenprovider.caches.base import CacheKey, TokenCache
from tokenprovider.caches.file import ENTRY_LIMIT, FileTokenCache
from tokenprovider.errors import CacheError, ConfigurationError
from tokenprovider.testing.oauth_server import LocalOAuthServer

OTHER_UID = 12345
PLANTED = "planted-token-never-served"
CHILD_TIMEOUT = 60.0
CHILD_MEMORY = 512 << 20

#: A separate program using the cache: prints the token it got, or fails.
CHILD = textwrap.dedent(
    """
    import os, sys
    from tokenprovider import OAuthTokenProvider
    from tokenprovider.caches.file import FileTokenCache
    if sys.argv[1] == "read":
        from tokenprovider._private_files import read_regular_file
        try:
            read_regular_file(sys.argv[2], 4096, private=sys.argv[3] == "private")
        except OSError as exc:
            print(type(exc).__name__, exc)
        sys.exit(0)
    url, token_url, directory = sys.argv[2:5]
    cache = FileTokenCache(directory, lock_timeout=10.0)
    provider = OAuthTokenProvider(
        url, "client", os.environ["CHILD_SECRET"], token_url=token_url, cache=cache
    )
    print(provider.token)
    """
)


def run_child(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `CHILD` with ``args``, bounded in time and memory; a hang is a failure."""
    env = {**os.environ, "CHILD_SECRET": CANARY_SECRET}
    return run_python("-c", CHILD, *args, timeout=CHILD_TIMEOUT, env=env, memory=CHILD_MEMORY)


@pytest.fixture
def server(oauth_server: LocalOAuthServer) -> LocalOAuthServer:
    oauth_server.clients = {"client": CANARY_SECRET}
    return oauth_server


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "tokens"


def make(server: LocalOAuthServer, cache: TokenCache, **kwargs: Any) -> OAuthTokenProvider:
    return OAuthTokenProvider(
        server.url, "client", CANARY_SECRET, token_url=server.token_url, cache=cache, **kwargs
    )


def key_of(provider: OAuthTokenProvider) -> CacheKey:
    return provider.cache.key_for(provider._cache_identity(), provider._cache_secret())


def plant(cache: TokenCache, key: CacheKey, token: str) -> None:
    """Store a well-formed entry holding ``token`` through the cache itself."""
    now = time.time()
    cache.fetch(key, lambda: (token, now + 3600.0, now), lambda entry, waited: False)


def planted_entry(server: LocalOAuthServer, directory: Path) -> tuple[OAuthTokenProvider, Path]:
    """A provider on ``directory`` and its entry file, holding a valid `PLANTED` entry."""
    cache = FileTokenCache(directory)
    provider = make(server, cache)
    key = key_of(provider)
    plant(cache, key, PLANTED)
    path = cache.path_for(key)
    assert json.loads(path.read_bytes())["token"] == PLANTED
    assert make(server, FileTokenCache(directory)).token == PLANTED  # served while it is ours
    assert server.token_requests == 0
    return provider, path


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "tokenprovider" and record.levelno == logging.WARNING
    ]


def served(server: LocalOAuthServer, provider: OAuthTokenProvider) -> str:
    """The token ``provider`` sends, checked by the server's protected resource."""
    response = requests.get(server.resource_url, auth=provider, timeout=10)
    assert response.status_code == 200
    return provider.token


# -- planted entries -------------------------------------------------------------------------


def _other_users(path: Path) -> None:
    os.chown(path, OTHER_UID, OTHER_UID)


def _open_to_others(path: Path) -> None:
    os.chmod(path, 0o644)


def _symlink_to_a_copy(path: Path) -> None:
    target = path.parent.parent / "elsewhere.json"
    target.write_bytes(path.read_bytes())
    os.chmod(target, 0o600)
    path.unlink()
    path.symlink_to(target)


def _too_large(path: Path) -> None:
    record = json.loads(path.read_bytes())
    path.write_text(json.dumps({**record, "padding": "x" * ENTRY_LIMIT}))


def _hard_to_read(path: Path) -> None:  # a directory where the entry should be
    path.unlink()
    path.mkdir()


PLANTINGS: dict[str, Callable[[Path], None]] = {
    "another-users-file": _other_users,
    "open-to-others": _open_to_others,
    "symlink-to-a-valid-entry": _symlink_to_a_copy,
    "larger-than-the-cap": _too_large,
    "a-directory": _hard_to_read,
}


@pytest.mark.parametrize("spoil", list(PLANTINGS.values()), ids=list(PLANTINGS))
def test_a_planted_entry_is_never_served(
    server: LocalOAuthServer,
    cache_dir: Path,
    debug_logs: pytest.LogCaptureFixture,
    spoil: Callable[[Path], None],
) -> None:
    _, path = planted_entry(server, cache_dir)
    spoil(path)
    debug_logs.clear()
    provider = make(server, FileTokenCache(cache_dir))
    token = served(server, provider)
    assert token != PLANTED
    assert server.token_requests == 1
    assert any(str(path) in message for message in warnings_of(debug_logs))
    if path.is_dir():
        return  # nothing replaces a directory; the fetch still works
    info = os.lstat(path)  # rewritten as a private regular file of ours
    assert stat.S_ISREG(info.st_mode)
    assert info.st_uid == os.geteuid()
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert json.loads(path.read_bytes())["token"] == token


KINDS = ["fifo", "symlink-to-dev-zero", "device-node"]


def _make_special(path: Path, kind: str) -> None:
    """Plant a FIFO, or a /dev/zero: a link to one (our own node, so that code which
    chmods through links cannot change the system's), or the device node itself."""
    if path.exists() or path.is_symlink():
        path.unlink()
    if kind == "fifo":
        os.mkfifo(path, 0o600)
        return
    zero = path if kind == "device-node" else path.with_name(f"zero-{path.name}")
    os.mknod(zero, stat.S_IFCHR | 0o600, os.makedev(1, 5))  # what /dev/zero is
    if zero != path:
        path.symlink_to(zero)


@pytest.mark.parametrize("where", ["entry", "salt", "lock"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_special_file_neither_hangs_nor_eats_memory(
    server: LocalOAuthServer, cache_dir: Path, kind: str, where: str
) -> None:
    cache = FileTokenCache(cache_dir)
    entry = cache.path_for(key_of(make(server, cache)))  # creates the salt
    target = {"entry": entry, "salt": cache_dir / "salt", "lock": entry.with_suffix(".lock")}
    _make_special(target[where], kind)
    result = run_child("token", server.url, server.token_url, str(cache_dir))
    assert result.returncode == 0, result.stderr[-2000:]
    token = result.stdout.strip()
    assert token
    assert server.token_requests == 1
    assert "Traceback" not in result.stderr
    assert stat.S_ISREG(os.lstat(target[where]).st_mode)  # replaced (the entry: rewritten)
    assert make(server, FileTokenCache(cache_dir)).token == token  # shared through the files
    assert server.token_requests == 1


# -- the salt --------------------------------------------------------------------------------

DAMAGED_SALTS: dict[str, bytes] = {
    "empty": b"",
    "not-hex": b"zz-not-a-salt\n",
    "too-short": b"00ff\n",
    "binary": b"\x00\xff\xfe\x80",
    "too-large": b"00" * 8192,
}


@pytest.mark.parametrize("content", list(DAMAGED_SALTS.values()), ids=list(DAMAGED_SALTS))
def test_a_damaged_salt_is_replaced_and_every_entry_misses_once(
    server: LocalOAuthServer,
    cache_dir: Path,
    debug_logs: pytest.LogCaptureFixture,
    content: bytes,
) -> None:
    old = make(server, FileTokenCache(cache_dir, key="derive")).token
    salt = cache_dir / "salt"
    salt.write_bytes(content)
    debug_logs.clear()
    provider = make(server, FileTokenCache(cache_dir, key="derive"))
    new = provider.token  # no CacheError
    assert new != old
    assert server.token_requests == 2
    assert [message for message in warnings_of(debug_logs) if str(salt) in message]
    assert len(bytes.fromhex(salt.read_text())) == 16
    assert stat.S_IMODE(salt.stat().st_mode) == 0o600
    assert make(server, FileTokenCache(cache_dir, key="derive")).token == new
    assert server.token_requests == 2
    assert_no_leak(all_log_text(debug_logs), CANARY_SECRET, new)


def test_a_damaged_salt_is_replaced_once_for_many_caches(
    cache_dir: Path, debug_logs: pytest.LogCaptureFixture
) -> None:
    FileTokenCache(cache_dir)._salt()
    (cache_dir / "salt").write_text("damaged")
    caches = [FileTokenCache(cache_dir) for _ in range(8)]
    barrier = threading.Barrier(len(caches))
    salts: list[bytes] = []

    def read(cache: FileTokenCache) -> None:
        barrier.wait(10)
        salts.append(cache._salt())

    threads = [threading.Thread(target=read, args=(cache,)) for cache in caches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(salts) == len(caches)
    assert len(set(salts)) == 1
    replaced = [message for message in warnings_of(debug_logs) if "replaced" in message]
    assert len(replaced) == 1


def test_a_symlinked_salt_is_replaced_and_its_target_left_alone(
    server: LocalOAuthServer, cache_dir: Path, tmp_path: Path
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("ab" * 16)
    os.chmod(victim, 0o644)
    os.chown(victim, OTHER_UID, OTHER_UID)
    cache_dir.mkdir(mode=0o700)
    (cache_dir / "salt").symlink_to(victim)
    assert make(server, FileTokenCache(cache_dir)).token
    info = victim.stat()
    assert stat.S_IMODE(info.st_mode) == 0o644  # not chmod-ed through the link
    assert info.st_uid == OTHER_UID
    assert victim.read_text() == "ab" * 16
    salt = os.lstat(cache_dir / "salt")
    assert stat.S_ISREG(salt.st_mode)
    assert (cache_dir / "salt").read_text() != "ab" * 16


def test_another_users_salt_is_replaced(server: LocalOAuthServer, cache_dir: Path) -> None:
    # Their salt, with an entry planted under it: both would be trusted if the salt were.
    planted_entry(server, cache_dir)
    _other_users(cache_dir / "salt")
    provider = make(server, FileTokenCache(cache_dir))
    assert served(server, provider) != PLANTED
    assert server.token_requests == 1
    assert (cache_dir / "salt").stat().st_uid == os.geteuid()


# -- lock files ------------------------------------------------------------------------------


@pytest.mark.parametrize("spoil", ["symlink", "another-users", "open-to-others"])
def test_a_planted_lock_file_is_replaced_and_the_fetch_works(
    server: LocalOAuthServer, cache_dir: Path, tmp_path: Path, spoil: str
) -> None:
    cache = FileTokenCache(cache_dir)
    provider = make(server, cache)
    lock = cache.path_for(key_of(provider)).with_suffix(".lock")
    victim = tmp_path / "victim"
    victim.write_text("someone else's file")
    os.chown(victim, OTHER_UID, OTHER_UID)
    if spoil == "symlink":
        lock.symlink_to(victim)
    else:
        lock.write_text("")
        os.chmod(lock, 0o644)
        if spoil == "another-users":
            _other_users(lock)
    assert served(server, provider)
    assert server.token_requests == 1
    info = os.lstat(lock)
    assert stat.S_ISREG(info.st_mode)
    assert info.st_uid == os.geteuid()
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert victim.read_text() == "someone else's file"
    assert victim.stat().st_uid == OTHER_UID


# -- directories -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o1777, 0o777, 0o775, 0o730])
def test_a_directory_others_can_write_is_refused_and_keeps_its_mode(
    server: LocalOAuthServer, cache_dir: Path, mode: int
) -> None:
    cache_dir.mkdir()
    os.chmod(cache_dir, mode)  # /tmp is 1777
    provider = make(server, FileTokenCache(cache_dir))
    with pytest.raises(CacheError) as info:
        provider.token  # noqa: B018
    assert str(cache_dir) in str(info.value)
    assert "write" in str(info.value)
    assert stat.S_IMODE(cache_dir.stat().st_mode) == mode
    assert server.token_requests == 0
    assert not list(cache_dir.iterdir())


def test_another_users_directory_is_refused(server: LocalOAuthServer, cache_dir: Path) -> None:
    cache_dir.mkdir(mode=0o700)
    os.chown(cache_dir, OTHER_UID, OTHER_UID)
    with pytest.raises(CacheError) as info:
        make(server, FileTokenCache(cache_dir)).token  # noqa: B018
    assert "another user" in str(info.value)
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700


@pytest.mark.parametrize("swap", ["symlink", "another-users"])
def test_a_directory_swapped_after_first_use_is_refused(
    server: LocalOAuthServer, cache_dir: Path, tmp_path: Path, swap: str
) -> None:
    provider = make(server, FileTokenCache(cache_dir))
    provider.token  # noqa: B018
    cache_dir.rename(tmp_path / "moved")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    if swap == "symlink":
        cache_dir.symlink_to(elsewhere)
    else:
        cache_dir.mkdir(mode=0o700)
        os.chown(cache_dir, OTHER_UID, OTHER_UID)
    provider.invalidate_cache()
    with pytest.raises(CacheError) as info:
        provider.token  # noqa: B018
    assert str(cache_dir) in str(info.value)
    assert not list(elsewhere.iterdir())
    if swap == "another-users":
        assert not list(cache_dir.iterdir())


def test_a_missing_directory_is_made_again(server: LocalOAuthServer, cache_dir: Path) -> None:
    provider = make(server, FileTokenCache(cache_dir))
    provider.token  # noqa: B018
    for path in cache_dir.iterdir():
        path.unlink()
    cache_dir.rmdir()
    provider.invalidate_cache()
    assert provider.token
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700


# -- full disks and read-only file systems ---------------------------------------------------


class Filesystem:
    """A small file system for one test: a real tmpfs, or (where mounting is not
    allowed) faults injected at the lowest level, ``os.open`` and ``os.mkdir``."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.__monkeypatch = monkeypatch
        root.mkdir()
        options = "size=64k,nr_inodes=32,mode=0700"
        try:
            result = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(root)],
                capture_output=True,
                timeout=30,
                check=False,
            )
            self.mounted = result.returncode == 0
        except (OSError, subprocess.SubprocessError):
            self.mounted = False

    def unmount(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.root)], timeout=30, check=False)

    def fill(self) -> None:
        """No room left, neither for data nor for new files."""
        if not self.mounted:
            self.__inject(errno.ENOSPC)
            return
        filler = os.open(self.root / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            _until_full(lambda number: _write_all(filler, b"\0" * 4096))
        finally:
            os.close(filler)
        _until_full(lambda number: (self.root / f"inode-{number}").touch())

    def read_only(self) -> None:
        if not self.mounted:
            self.__inject(errno.EROFS)
            return
        command = ["mount", "-o", "remount,ro", str(self.root)]
        subprocess.run(command, timeout=30, check=True)

    def __inject(self, code: int) -> None:
        """Fail what the kernel would fail: on a full disk, making a file or directory;
        on a read-only one, also opening a file for writing."""
        real_open, real_mkdir = os.open, os.mkdir
        refused = os.O_CREAT if code == errno.ENOSPC else os.O_CREAT | os.O_WRONLY | os.O_RDWR
        inside = str(self.root)

        def fake_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            name = os.fspath(path)
            if name.startswith(inside) and flags & refused and not os.path.lexists(name):
                raise OSError(code, os.strerror(code), name)
            if name.startswith(inside) and code == errno.EROFS and flags & refused:
                raise OSError(code, os.strerror(code), name)
            return real_open(path, flags, *args, **kwargs)

        def fake_mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
            if os.fspath(path).startswith(inside):
                raise OSError(code, os.strerror(code), os.fspath(path))
            real_mkdir(path, *args, **kwargs)

        self.__monkeypatch.setattr(os, "open", fake_open)
        self.__monkeypatch.setattr(os, "mkdir", fake_mkdir)


def _write_all(descriptor: int, data: bytes) -> None:
    while data:
        data = data[os.write(descriptor, data) :]


def _until_full(make_one: Callable[[int], object]) -> None:
    """Call ``make_one(0)``, ``make_one(1)``, ... until the file system is full."""
    code = None
    for number in range(100_000):
        try:
            make_one(number)
        except OSError as exc:
            code = exc.errno
            break
    assert code == errno.ENOSPC, "the small file system never filled up"


@pytest.fixture
def small_fs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Filesystem]:
    filesystem = Filesystem(tmp_path / "fs", monkeypatch)
    try:
        yield filesystem
    finally:
        monkeypatch.undo()
        filesystem.unmount()


def test_a_full_disk_uses_the_token_and_warns_naming_the_entry(
    server: LocalOAuthServer, small_fs: Filesystem, debug_logs: pytest.LogCaptureFixture
) -> None:
    directory = small_fs.root / "tokens"
    provider = make(server, FileTokenCache(directory))
    entry = FileTokenCache(directory).path_for(key_of(provider))
    (entry.with_suffix(".lock")).touch(mode=0o600)  # made before the disk filled up
    small_fs.fill()
    debug_logs.clear()
    assert served(server, provider)
    assert server.token_requests == 1
    warned = warnings_of(debug_logs)
    assert len(warned) == 1, warned
    assert str(entry) in warned[0]  # the entry, not a temporary file
    assert os.strerror(errno.ENOSPC) in warned[0]


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_a_lock_that_cannot_be_made_fetches_without_the_cache(
    server: LocalOAuthServer,
    small_fs: Filesystem,
    debug_logs: pytest.LogCaptureFixture,
    fault: str,
) -> None:
    directory = small_fs.root / "tokens"
    provider = make(server, FileTokenCache(directory))
    key_of(provider)  # the salt exists; no lock file yet
    if fault == "full":
        small_fs.fill()
    else:
        small_fs.read_only()
    debug_logs.clear()
    token = served(server, provider)
    assert token
    assert server.token_requests == 1
    warned = warnings_of(debug_logs)
    assert len(warned) == 1, warned
    assert "without the cache" in warned[0]
    assert str(directory) in warned[0]
    code = errno.ENOSPC if fault == "full" else errno.EROFS
    assert os.strerror(code) in warned[0]
    assert_no_leak(all_log_text(debug_logs), CANARY_SECRET, token)


@pytest.mark.parametrize("missing", ["salt", "directory"])
def test_a_read_only_file_system_without_a_salt_fetches_without_the_cache(
    server: LocalOAuthServer,
    small_fs: Filesystem,
    debug_logs: pytest.LogCaptureFixture,
    missing: str,
) -> None:
    directory = small_fs.root / "tokens"
    if missing == "salt":
        directory.mkdir(mode=0o700)
    small_fs.read_only()
    provider = make(server, FileTokenCache(directory))
    token = served(server, provider)
    assert token
    assert server.token_requests == 1
    warned = warnings_of(debug_logs)
    assert len(warned) == 1, warned
    assert str(directory) in warned[0]
    assert os.strerror(errno.EROFS) in warned[0]


# -- header-safe tokens from caches ----------------------------------------------------------

UNSAFE_TOKENS = {
    "crlf-header-injection": "tok\r\nX-Injected: 1",
    "bare-lf": "tok\nsecond-line",
    "nul": "tok\x00",
    "outer-space": " tok ",
    "non-ascii": "tök",
}


@pytest.mark.parametrize("kind", ["memory", "file"])
@pytest.mark.parametrize("planted", list(UNSAFE_TOKENS.values()), ids=list(UNSAFE_TOKENS))
def test_a_token_a_header_cannot_carry_is_never_adopted_from_a_cache(
    server: LocalOAuthServer, cache_dir: Path, kind: str, planted: str
) -> None:
    cache: TokenCache = MemoryTokenCache() if kind == "memory" else FileTokenCache(cache_dir)
    provider = make(server, cache)
    plant(cache, key_of(provider), planted)
    loaded = cache.load(key_of(provider))
    assert loaded is not None
    assert loaded.token == planted  # the entry is there, readable
    token = served(server, provider)  # a request that carried it would raise or get a 401
    assert token != planted
    assert server.token_requests == 1
    assert server.resource_unauthorized == 0
    again = cache.load(key_of(provider))
    assert again is not None
    assert again.token == token  # the fresh token replaced it for everyone


# -- the read helper (also for configuration files) ------------------------------------------


@pytest.mark.parametrize("private", ["private", "shared"])
@pytest.mark.parametrize("kind", KINDS)
def test_read_regular_file_refuses_special_files_at_once(
    tmp_path: Path, kind: str, private: str
) -> None:
    path = tmp_path / "special"
    _make_special(path, kind)
    result = run_child("read", str(path), private)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("UnsafeFileError"), result.stdout
    assert str(path) in result.stdout


def test_read_regular_file_follows_links_only_for_shared_files(tmp_path: Path) -> None:
    target = tmp_path / "config.toml"
    target.write_bytes(b"x = 1\n")
    os.chmod(target, 0o600)
    link = tmp_path / "link.toml"
    link.symlink_to(target)
    assert read_regular_file(link, 100, private=False) == b"x = 1\n"
    with pytest.raises(UnsafeFileError) as info:
        read_regular_file(link, 100, private=True)
    assert info.value.filename == str(link)
    assert "symbolic link" in info.value.reason


def test_read_regular_file_bounds_size_and_checks_owner_and_mode(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_bytes(b"a" * 101)
    os.chmod(path, 0o600)
    assert read_regular_file(path, 101, private=True) == b"a" * 101
    with pytest.raises(UnsafeFileError, match="larger than 100 bytes"):
        read_regular_file(path, 100, private=True)
    os.chmod(path, 0o640)
    assert read_regular_file(path, 101, private=False) == b"a" * 101
    with pytest.raises(UnsafeFileError, match="group or others"):
        read_regular_file(path, 101, private=True)
    os.chmod(path, 0o600)
    os.chown(path, OTHER_UID, OTHER_UID)
    assert read_regular_file(path, 101, private=False) == b"a" * 101
    with pytest.raises(UnsafeFileError, match="another user"):
        read_regular_file(path, 101, private=True)
    with pytest.raises(FileNotFoundError):
        read_regular_file(tmp_path / "missing", 100, private=True)


def test_read_regular_file_reads_no_more_than_the_cap_of_a_file_that_lies(tmp_path: Path) -> None:
    # /proc files claim size 0 and are longer: only cap + 1 bytes are read.
    with pytest.raises(UnsafeFileError, match="larger than 16 bytes"):
        read_regular_file("/proc/self/environ", 16, private=False)


def test_write_private_errors_name_the_destination(small_fs: Filesystem, tmp_path: Path) -> None:
    small_fs.read_only()
    destination = small_fs.root / "config.toml"
    with pytest.raises(OSError, match="Read-only file system") as info:
        write_private(destination, b"x = 1\n")
    assert info.value.errno == errno.EROFS
    assert info.value.filename == str(destination)


def test_no_home_directory_is_a_cache_error_not_a_directory_named_tilde(tmp_path: Path) -> None:
    # A uid with no password entry and no HOME: platformdirs gives "~/.cache/...", which
    # would make a directory called "~" wherever the program runs.
    program = (
        "import os, pwd, platformdirs\n"
        "from tokenprovider.caches.file import default_directory\n"
        "from tokenprovider.errors import CacheError\n"
        "os.setgid(54321); os.setuid(54321)  # a uid with no password entry\n"
        "try:\n"
        "    default_directory()\n"
        "except CacheError as exc:\n"
        "    print('CacheError:', exc)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("HOME", "XDG_CACHE_HOME")}
    tmp_path.chmod(0o777)
    result = run_python("-c", program, timeout=60, cwd=tmp_path, env=env)
    assert result.stdout.startswith("CacheError:"), result.stdout + result.stderr
    assert "set HOME or XDG_CACHE_HOME" in result.stdout
    assert not (tmp_path / "~").exists()


@pytest.mark.parametrize(
    ("directory", "reason"),
    [
        ("~nouser-tp/tokens", "there is no user 'nouser-tp'"),
        (b"/tmp/tokens", "must be a path, got bytes"),
        (42, "must be a path, got int"),
    ],
)
def test_an_unusable_directory_argument_is_a_configuration_error(
    directory: object, reason: str
) -> None:
    with pytest.raises(ConfigurationError, match=reason):
        FileTokenCache(directory)  # type: ignore[arg-type]


def test_the_repr_of_a_huge_directory_is_cut_short() -> None:
    assert len(repr(FileTokenCache("/d" * 5000))) < 300
