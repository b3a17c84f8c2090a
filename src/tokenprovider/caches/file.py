"""`FileTokenCache`: tokens shared by the processes of one host, one file per key."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

from tokenprovider.caches.base import (
    CacheEntry,
    CacheKey,
    Hold,
    TokenCache,
    positive_seconds,
)
from tokenprovider.caches.records import RecordError, from_record, to_record
from tokenprovider.caches.sealing import Encryption, Sealer
from tokenprovider.errors import CacheError
from tokenprovider.private_files import write_private
from tokenprovider.secret_refs import SecretReference

logger = logging.getLogger("tokenprovider")

_SALT_FILE = "salt"
_LOCK_POLL = 0.01  # seconds between tries for a lock another process holds
_LOCKS: dict[Path, threading.Lock] = {}  # one per lock file: threads queue here first
_LOCKS_GUARD = threading.Lock()


def default_directory() -> Path:
    """The user cache directory for tokens (platformdirs): ``~/.cache/tokenprovider/tokens``."""
    import platformdirs  # noqa: PLC0415

    return Path(platformdirs.user_cache_dir("tokenprovider")) / "tokens"


class FileTokenCache(TokenCache):
    """Keeps tokens in files, so processes on one host share them and refresh once.

    The directory (by default the user's cache directory) is made mode 0700 and each
    file is 0600, replaced atomically. A lock file per key (`filelock`) makes one
    process fetch while the others wait and then read its token; a caller that waits
    longer than ``lock_timeout`` seconds fetches anyway. A corrupt, truncated or
    foreign file counts as a miss. With ``key`` (a secret reference to 32 base64 bytes,
    or ``"derive"``), tokens are stored encrypted with AES-256-GCM.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        key: str | bytes | SecretReference | None = None,
        lock_timeout: float = 60.0,
    ) -> None:
        positive_seconds("lock_timeout", lock_timeout)
        self.directory = Path(directory).expanduser() if directory is not None else None
        self.lock_timeout = float(lock_timeout)
        self.__encryption = None if key is None else Encryption(key, owner="FileTokenCache")
        self.__ready: Path | None = None
        self.__salt: bytes | None = None

    def __repr__(self) -> str:
        where = str(self.directory) if self.directory is not None else "default"
        encrypted = ", encrypted" if self.__encryption is not None else ""
        return f"{type(self).__name__}({where!r}{encrypted})"

    @property
    def encrypted(self) -> bool:
        """Whether tokens are stored encrypted."""
        return self.__encryption is not None

    def path_for(self, key: CacheKey) -> Path:
        """The file that holds the entry for ``key``."""
        return self.__directory() / f"{key.digest}.json"

    def load(self, key: CacheKey) -> CacheEntry | None:
        """The entry in ``key``'s file; a missing or unreadable file is None."""
        path = self.path_for(key)
        try:
            with open(path, "rb") as file:
                data = file.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.warning("FileTokenCache: cannot read %s (%s); fetching anew", path, exc)
            return None
        sealer = self.__sealer(key)
        try:
            record = json.loads(data)
            if not isinstance(record, dict):
                raise RecordError("not a JSON object")
            return from_record(key, record, sealer)
        except RecordError as exc:
            reason: object = exc
        except Exception:  # ValueError for bad JSON or UTF-8, RecursionError for deep nesting
            reason = "not valid JSON (truncated or corrupt)"
        logger.warning("FileTokenCache: ignoring %s: %s", path, reason)
        return None

    def _prepare(self, key: CacheKey) -> None:
        self.__sealer(key)

    @contextlib.contextmanager
    def _hold(self, key: CacheKey, seen: CacheEntry | None) -> Iterator[Hold]:
        import filelock  # noqa: PLC0415

        lock_path = self.__directory() / f"{key.digest}.lock"
        with _LOCKS_GUARD:
            in_process = _LOCKS.setdefault(lock_path, threading.Lock())
        # Threads of this process queue on a plain lock; processes on the file lock.
        if not in_process.acquire(timeout=self.lock_timeout):
            yield self.__unheld(key)
            return
        try:
            lock = filelock.FileLock(
                lock_path, mode=0o600, thread_local=False, poll_interval=_LOCK_POLL
            )
            _private_file(lock_path)
            try:
                lock.acquire(timeout=self.lock_timeout)
            except filelock.Timeout:
                yield self.__unheld(key)
                return
            try:
                yield Hold(self.load(key), lambda entry: self.__write(key, entry))
            finally:
                lock.release()
        finally:
            in_process.release()

    def __unheld(self, key: CacheKey) -> Hold:
        logger.warning(
            "FileTokenCache: waited %.0fs for another process to refresh %s; fetching anyway",
            self.lock_timeout,
            key.label,
        )
        return Hold(self.load(key), lambda entry: self.__write(key, entry))

    def __write(self, key: CacheKey, entry: CacheEntry) -> None:
        """Replace ``key``'s file with ``entry``, atomically."""
        record = to_record(key, entry, self.__sealer(key))
        write_private(self.path_for(key), json.dumps(record).encode())

    def __sealer(self, key: CacheKey) -> Sealer | None:
        if self.__encryption is None:
            return None
        return self.__encryption.sealer(key, self._salt())

    def _salt(self) -> bytes:
        salt = self.__salt
        if salt is None:
            salt = self.__salt = _read_or_create_salt(self.__directory() / _SALT_FILE)
        return salt

    def __directory(self) -> Path:
        ready = self.__ready
        if ready is None:
            ready = self.__ready = _private_directory(self.directory or default_directory())
        return ready


def _private_directory(path: Path) -> Path:
    """Create ``path`` (mode 0700) or check an existing one is this user's, and make it 0700."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
        if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
            raise CacheError(
                f"the token cache directory {path} belongs to another user; "
                "give FileTokenCache a directory of your own"
            )
        if stat.S_IMODE(info.st_mode) & 0o077:
            os.chmod(path, 0o700)
            logger.info("FileTokenCache: made %s private (mode 0700)", path)
    except OSError as exc:
        raise CacheError(
            f"cannot use {path} as the token cache directory: {exc.strerror or exc}"
        ) from exc
    return path


def _private_file(path: Path) -> None:
    """Make an existing ``path`` mode 0600 if others could read it (files we made are)."""
    with contextlib.suppress(OSError):
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            os.chmod(path, 0o600)


def _read_or_create_salt(path: Path) -> bytes:
    """The salt in ``path``; the first process to need one writes it (atomically)."""
    for _ in range(2):
        try:
            _private_file(path)
            text = path.read_text().strip()
        except FileNotFoundError:
            _publish(path, secrets.token_hex(16))
            continue
        except OSError as exc:
            raise CacheError(f"cannot read the token cache salt {path}: {exc}") from exc
        try:
            salt = bytes.fromhex(text)
        except ValueError:
            salt = b""
        if len(salt) < 16:
            raise CacheError(
                f"the token cache salt {path} is corrupt; delete it (cached tokens are then "
                "fetched anew)"
            )
        return salt
    raise CacheError(f"cannot create the token cache salt {path}")  # pragma: no cover


def _publish(path: Path, text: str) -> None:
    """Create ``path`` holding ``text`` unless another process did first."""
    try:
        write_private(path, text.encode(), overwrite=False)
    except OSError as exc:
        raise CacheError(f"cannot create the token cache salt {path}: {exc}") from exc
