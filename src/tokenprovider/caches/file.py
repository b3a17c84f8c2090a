"""`FileTokenCache`: tokens shared by the processes of one host, one file per key."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

from tokenprovider._private_files import (
    UnsafeFileError,
    directory_problem,
    given_directory,
    make_lock_file,
    read_regular_file,
    user_directory,
    write_private,
)
from tokenprovider._untrusted import UntrustedJSONError, load_json, quote
from tokenprovider.caches._records import RecordError, from_record, to_record
from tokenprovider.caches.base import (
    CacheEntry,
    CacheKey,
    Hold,
    TokenCache,
    positive_seconds,
    unshared,
)
from tokenprovider.caches.sealing import Encryption, Sealer
from tokenprovider.errors import CacheError
from tokenprovider.secret_refs import SecretReference

logger = logging.getLogger("tokenprovider")

_SALT_FILE = "salt"
_SALT_LOCK = "salt.lock"
#: The name of a token file: the key's digest (`path_for`).
_ENTRY_NAME = re.compile(r"[0-9a-f]{64}\.json")
#: The most an entry file may hold (a sealed token of several kilobytes fits many times).
ENTRY_LIMIT = 64 * 1024
#: The most the salt file may hold (it holds 32 hexadecimal digits).
SALT_LIMIT = 4 * 1024
_LOCK_POLL = 0.01  # seconds between tries for a lock another process holds
_LOCKS: dict[Path, threading.Lock] = {}  # one per lock file: threads queue here first
_LOCKS_GUARD = threading.Lock()


def default_directory() -> Path:
    """The user cache directory for tokens (platformdirs): ``~/.cache/tokenprovider/tokens``."""
    directory = user_directory("cache", "tokens")
    if directory is None:
        raise CacheError(
            "FileTokenCache has no default directory: HOME is not set and this user has "
            "no home directory; set HOME or XDG_CACHE_HOME, or give it a directory "
            '(cache = "file:DIRECTORY")'
        )
    return directory


class FileTokenCache(TokenCache):
    """Keeps tokens in files, so processes on one host share them and refresh once.

    A missing directory (by default the user's cache directory) is created mode 0700;
    an existing one keeps its mode, but must be this user's, not a symbolic link, and
    writable by nobody else (`CacheError` otherwise), checked at every use. Each file
    is 0600, replaced atomically, and read only if it is a regular file of this user's,
    private and small: anything else is a miss. A lock file per key (`filelock`) makes
    one process fetch while the others wait and then read its token; a caller that
    waits longer than ``lock_timeout`` seconds fetches anyway, and one that cannot make
    the lock (a full disk, a read-only directory) fetches without the cache. A corrupt,
    truncated or foreign file counts as a miss; a damaged salt is replaced. With ``key``
    (a secret reference to 32 base64 bytes, or ``"derive"``), tokens are stored
    encrypted with AES-256-GCM.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        key: str | bytes | SecretReference | None = None,
        lock_timeout: float = 60.0,
    ) -> None:
        positive_seconds("lock_timeout", lock_timeout)
        self.directory = (
            None if directory is None else given_directory(directory, "FileTokenCache directory")
        )
        self.lock_timeout = float(lock_timeout)
        self.__encryption = None if key is None else Encryption(key, owner="FileTokenCache")
        self.__default: Path | None = None
        self.__salt: bytes | None = None

    def __repr__(self) -> str:
        where = quote(str(self.directory), 120) if self.directory is not None else "default"
        encrypted = ", encrypted" if self.__encryption is not None else ""
        return f"{type(self).__name__}({where!r}{encrypted})"

    @property
    def encrypted(self) -> bool:
        """Whether tokens are stored encrypted."""
        return self.__encryption is not None

    @property
    def location(self) -> Path:
        """The directory tokens are kept in: ``directory``, else the user cache
        directory (`CacheError` if this user has none). Neither made nor checked."""
        return self.__where()

    def path_for(self, key: CacheKey) -> Path:
        """The file that holds the entry for ``key``."""
        return self.__directory() / f"{key.digest}.json"

    def remove(self, key: CacheKey) -> bool:
        """Delete the entry for ``key``; False if there was none (or no directory).
        `CacheError` if the directory must not be used or the file cannot be removed."""
        name = f"{key.digest}.json"
        with self.__opened_directory() as fd:
            if fd is None:
                return False
            try:
                os.unlink(name, dir_fd=fd)
            except FileNotFoundError:
                return False
            except OSError as exc:
                where = self.__where() / name
                raise CacheError(f"cannot remove {where}: {exc.strerror or exc}") from None
        return True

    def clear(self) -> int:
        """Delete every token file (never the salt or lock files); how many went.
        `CacheError` if the directory must not be used (a link, another user's, writable
        by others: then nothing is deleted), or if a file cannot be removed."""
        removed = 0
        with self.__opened_directory() as fd:
            if fd is None:
                return 0
            try:
                with os.scandir(fd) as entries:
                    for entry in entries:
                        if _ENTRY_NAME.fullmatch(entry.name) and entry.is_file(
                            follow_symlinks=False
                        ):
                            with contextlib.suppress(FileNotFoundError):  # removed meanwhile
                                os.unlink(entry.name, dir_fd=fd)
                                removed += 1
            except OSError as exc:
                where = self.__where()
                raise CacheError(f"cannot clear {where}: {exc.strerror or exc}") from None
        return removed

    @contextlib.contextmanager
    def __opened_directory(self) -> Iterator[int | None]:
        """The directory, opened without following a link and checked as opened (so it
        cannot be swapped for a link between the check and the deletions); None if it
        does not exist. `CacheError` if it must not be used."""
        path = self.__where()
        fd: int | None = None
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except FileNotFoundError:
            yield None
            return
        except OSError as exc:
            if not os.path.islink(path):  # a link is refused below, by name
                raise CacheError(f"cannot open {path}: {exc.strerror or exc}") from None
        try:
            _check_directory(path, os.lstat(path) if fd is None else os.fstat(fd))
            yield fd
        finally:
            if fd is not None:
                os.close(fd)

    def load(self, key: CacheKey) -> CacheEntry | None:
        """The entry in ``key``'s file; a missing, unsafe or unreadable file is None."""
        try:
            path = self.path_for(key)
            data = read_regular_file(path, ENTRY_LIMIT, private=True)
        except FileNotFoundError:
            return None
        except UnsafeFileError as exc:
            logger.warning("FileTokenCache: ignoring %s, which %s", exc.filename, exc.reason)
            return None
        except OSError as exc:
            logger.warning(
                "FileTokenCache: cannot read %s (%s); fetching anew",
                exc.filename or self.__where(),
                exc.strerror or exc,
            )
            return None
        sealer = self.__sealer(key)
        try:
            record = load_json(data)
            if not isinstance(record, dict):
                raise RecordError("not a JSON object")
            return from_record(key, record, sealer)
        except RecordError as exc:
            reason: object = exc
        except UntrustedJSONError:
            reason = "not valid JSON (truncated or corrupt)"
        logger.warning("FileTokenCache: ignoring %s: %s", path, reason)
        return None

    def _prepare(self, key: CacheKey) -> None:
        self.__sealer(key)

    @contextlib.contextmanager
    def _hold(self, key: CacheKey, seen: CacheEntry | None) -> Iterator[Hold]:
        with contextlib.ExitStack() as held:
            try:
                locked: bool | OSError = self.__lock(held, f"{key.digest}.lock")
            except OSError as exc:
                locked = exc
            if isinstance(locked, OSError):
                logger.warning(
                    "FileTokenCache: cannot lock %s (%s); fetching the token for %s "
                    "without the cache",
                    locked.filename or self.__where(),
                    locked.strerror or locked,
                    key.label,
                )
                yield unshared()
            elif locked:
                yield Hold(self.load(key), functools.partial(self.__write, key))
            else:
                yield self.__unheld(key)

    def __lock(self, held: contextlib.ExitStack, name: str) -> bool:
        """Take lock file ``name`` (threads of this process queue on a plain lock first,
        processes on the file lock), releasing it when ``held`` closes; False once
        ``lock_timeout`` has passed. `OSError` if the lock file cannot be made."""
        import filelock  # noqa: PLC0415

        path = self.__directory() / name
        with _LOCKS_GUARD:
            in_process = _LOCKS.setdefault(path, threading.Lock())
        if not in_process.acquire(timeout=self.lock_timeout):
            return False
        held.callback(in_process.release)
        make_lock_file(path, "FileTokenCache")
        lock = filelock.FileLock(path, mode=0o600, thread_local=False, poll_interval=_LOCK_POLL)
        try:
            lock.acquire(timeout=self.lock_timeout)
        except filelock.Timeout:  # a TimeoutError, hence an OSError: first
            return False
        held.callback(lock.release)
        return True

    def __unheld(self, key: CacheKey) -> Hold:
        logger.warning(
            "FileTokenCache: waited %.0fs for another process to refresh %s; fetching anyway",
            self.lock_timeout,
            key.label,
        )
        return Hold(self.load(key), functools.partial(self.__write, key))

    def __write(self, key: CacheKey, entry: CacheEntry) -> None:
        """Replace ``key``'s file with ``entry``, atomically."""
        record = to_record(key, entry, self.__sealer(key))
        try:
            path = self.path_for(key)
            write_private(path, json.dumps(record).encode())
        except OSError as exc:
            where = exc.filename or self.__where()
            raise CacheError(f"cannot write {where}: {exc.strerror or exc}") from None

    def __sealer(self, key: CacheKey) -> Sealer | None:
        if self.__encryption is None:
            return None
        return self.__encryption.sealer(key, self._salt())

    def _salt(self) -> bytes:
        salt = self.__salt
        if salt is None:
            salt = self.__salt = self.__read_salt()
        return salt

    def __read_salt(self) -> bytes:
        """The salt in the salt file; the first process to need one writes it, and a
        damaged one is replaced under a lock. `OSError` if neither can be done."""
        path = self.__directory() / _SALT_FILE
        found = _salt_in(path)
        if found is None:
            fresh = secrets.token_bytes(16)
            if write_private(path, fresh.hex().encode(), overwrite=False):
                return fresh
            found = _salt_in(path)  # another process wrote it first
        if isinstance(found, bytes):
            return found
        with contextlib.ExitStack() as held:
            self.__lock(held, _SALT_LOCK)  # held or waited out: the write is atomic anyway
            again = _salt_in(path)
            if isinstance(again, bytes):
                return again  # another process replaced it meanwhile
            fresh = secrets.token_bytes(16)
            write_private(path, fresh.hex().encode())
        logger.warning(
            "FileTokenCache: replaced the token cache salt %s, which %s; "
            "every cached token is fetched anew once",
            path,
            found or again or "vanished",
        )
        return fresh

    def __directory(self) -> Path:
        """The directory, created (mode 0700) if missing, and checked at every use:
        `CacheError` if it must not be used, `OSError` if it cannot be made."""
        path = self.__where()
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = os.lstat(path)
        _check_directory(path, info)
        return path

    def __where(self) -> Path:
        if self.directory is not None:
            return self.directory
        if self.__default is None:
            self.__default = default_directory()
        return self.__default


def _check_directory(path: Path, info: os.stat_result) -> None:
    """`CacheError` if the directory ``path`` (whose status is ``info``) must not hold
    tokens."""
    problem = directory_problem(info, owner="FileTokenCache")
    if problem is not None:
        raise CacheError(f"cannot use {path} as the token cache directory: {problem}")


def _salt_in(path: Path) -> bytes | str | None:
    """The salt in ``path``; None if there is none, or why it cannot be used."""
    try:
        data = read_regular_file(path, SALT_LIMIT, private=True)
    except FileNotFoundError:
        return None
    except UnsafeFileError as exc:
        return exc.reason
    try:
        salt = bytes.fromhex(data.decode("ascii").strip())
    except ValueError:  # UnicodeDecodeError included
        return "does not hold a hexadecimal salt"
    return salt if len(salt) >= 16 else "holds too short a salt"
