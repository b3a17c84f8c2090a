"""The store of people's logins: the refresh token (and the current access token) of each
person who ran ``tokenprovider login``, one entry per `LoginKey`.

`login_store` picks where: the OS keyring when it really works here, else private files
under the user data directory, sealed with AES-256-GCM when a key is given. A refresh
runs inside `LoginStore.hold`, which takes a thread lock, then a cross-process file lock,
and only then reads the entry, so a rotating refresh token is never spent twice.
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import hashlib
import hmac
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from tokenprovider import _after_fork
from tokenprovider._private_files import (
    UnsafeFileError,
    directory_problem,
    expand_user,
    given_directory,
    make_lock_file,
    read_regular_file,
    size_text,
    user_directory,
    write_private,
)
from tokenprovider._untrusted import UntrustedJSONError, a_type, finite_seconds, load_json, quote
from tokenprovider.caches import _keyring_store
from tokenprovider.caches.base import CacheKey, positive_seconds
from tokenprovider.caches.sealing import DERIVE, Encryption, Sealer, SealError
from tokenprovider.errors import (
    CacheError,
    ConfigurationError,
    LoginStoreError,
    MissingExtraError,
)
from tokenprovider.secret_refs import SecretReference, is_reference

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

logger = logging.getLogger("tokenprovider")

#: The format written in every record; a record of another format is ignored.
FORMAT = "tokenprovider-login/1"
#: The most a stored login may hold, in bytes (a sealed record of long tokens fits).
ENTRY_LIMIT = 64 * 1024
#: The values ``login_store`` accepts, for messages and docs.
FORMS = ('"auto"', '"keyring"', '"file"', '"file:DIRECTORY"')
SETTING = "login_store"
_LOCK_POLL = 0.01  # seconds between tries for a lock another process holds
_ANOTHER = ' (login_store = "file" with login_store_dir names another directory)'


@dataclass(frozen=True)
class LoginKey:
    """What a login belongs to. Two accounts, clients or scope sets never share one;
    the order and repetition of ``scopes`` (as requested) do not matter."""

    host: str
    token_endpoint: str
    client_id: str
    scopes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "scopes", tuple(self.scopes))  # a list is taken too
        texts = (self.host, self.token_endpoint, self.client_id, *self.scopes)
        if not all(isinstance(text, str) for text in texts):
            raise TypeError("LoginKey's host, token_endpoint, client_id and scopes are strings")

    @property
    def canonical_scopes(self) -> tuple[str, ...]:
        """The scopes sorted, each once."""
        return tuple(sorted(set(self.scopes)))

    @property
    def digest(self) -> str:
        """A stable hexadecimal name for storage: the SHA-256 of the canonical key."""
        canonical = json.dumps(_key_fields(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def label(self) -> str:
        """The key in words, for messages (it holds no secret)."""
        scopes = " ".join(self.canonical_scopes) or "none"
        return (
            f"client {quote(self.client_id, 100)!r} of the token endpoint "
            f"{quote(self.token_endpoint, 200)} "
            f"for {quote(self.host, 200)} (scopes: {quote(scopes, 200)})"
        )


@dataclass(frozen=True)
class StoredLogin:
    """One person's login as stored: the tokens (never shown), when the access token
    expires, the scopes granted, who logged in (for display) and when it was saved."""

    refresh_token: str | None = field(repr=False)
    access_token: str | None = field(repr=False)
    expires_at: float | None
    scopes: tuple[str, ...]
    account: str | None
    saved_at: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "scopes", tuple(self.scopes))


class HeldLogin:
    """A login held by `LoginStore.hold`: ``current`` is what the store held once the
    lock was taken; `save` and `forget_refresh_token` change it while the lock is held
    (afterwards they raise `LoginStoreError`)."""

    def __init__(self, store: LoginStore, key: LoginKey, current: StoredLogin | None) -> None:
        self.current = current
        self.__store = store
        self.__key = key
        self.__held = True

    def __repr__(self) -> str:
        state = "held" if self.__held else "released"
        found = "a login" if self.current is not None else "no login"
        return f"HeldLogin({found} for {self.__key.label}, {state})"

    def save(self, login: StoredLogin) -> None:
        """Replace the stored login with ``login``, atomically; `LoginStoreError` if it
        cannot be saved (never ignored: the old refresh token may be spent already)."""
        self.__check()
        self.__store._save(self.__key, login)
        self.current = login

    def forget_refresh_token(self, refused: str) -> None:
        """Drop the stored refresh token if it is still ``refused`` (the one the server
        refused), keeping the access token until it expires; one another process has
        rotated in meanwhile is kept. `LoginStoreError` if that cannot be written."""
        self.__check()
        stored = self.__store.load(self.__key)
        token = None if stored is None else stored.refresh_token
        refused_now = token is not None and hmac.compare_digest(token.encode(), refused.encode())
        if stored is not None and refused_now:
            if stored.access_token:
                stored = dataclasses.replace(stored, refresh_token=None)
                self.__store._save(self.__key, stored)
            else:
                self.__store._delete(self.__key)
                stored = None
            logger.info(
                "%s: forgot the refused refresh token for %s", self.__store.name, self.__key.label
            )
        self.current = stored

    def forget(self) -> bool:
        """Drop the stored login, whatever it holds; False if there was none."""
        self.__check()
        removed = self.__store._delete(self.__key)
        self.current = None
        return removed

    def _release(self) -> None:
        self.__held = False

    def __check(self) -> None:
        if not self.__held:
            raise LoginStoreError(
                f"the login for {self.__key.label} is no longer held: change it only "
                "inside `with store.hold(key) as held:`"
            )


class LoginStore(abc.ABC):
    """Where people's logins are kept. Subclasses say where (`where`) and read, write
    and delete one blob per key; locking and the record format are the same for all.

    ``directory`` holds the lock files (and, for `FileLoginStore`, the logins): by
    default ``platformdirs.user_data_dir("tokenprovider")/logins``. A missing one is
    made mode 0700; an existing one must be this user's, not a symbolic link and not
    writable by group or others, checked at every use (`LoginStoreError` otherwise).
    ``key`` (a secret reference to 32 base64 bytes, or the bytes) seals the tokens.
    """

    kind: ClassVar[str]

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        key: str | bytes | SecretReference | None = None,
        lock_timeout: float = 60.0,
    ) -> None:
        positive_seconds("lock_timeout", lock_timeout)
        self.directory = (
            None if directory is None else given_directory(directory, "the login store's directory")
        )
        self.lock_timeout = float(lock_timeout)
        self.__encryption = _encryption(key)
        self.__default: Path | None = None

    @property
    def name(self) -> str:
        """The store's class name, for messages."""
        return type(self).__name__

    @property
    def encrypted(self) -> bool:
        """Whether the tokens are sealed with a key."""
        return self.__encryption is not None

    @property
    def location(self) -> Path:
        """The directory: ``directory``, else the default (`LoginStoreError` if this user
        has none). Neither made nor checked."""
        if self.directory is not None:
            return self.directory
        if self.__default is None:
            self.__default = default_directory()
        return self.__default

    @abc.abstractmethod
    def where(self, key: LoginKey) -> str:
        """Where the login for ``key`` is kept, in plain words (for output and status)."""

    def load(self, key: LoginKey) -> StoredLogin | None:
        """The login stored for ``key`` (read without the lock), or None: a missing,
        unreadable, corrupt, unsafe or foreign entry, or one that does not open with this
        store's key, is None and logged (why, never what it holds)."""
        data = self._read(key)
        if data is None:
            return None
        try:
            return self.__decode(key, data)
        except _RecordError as exc:
            logger.warning(
                "%s: ignoring %s: %s; a new login is needed", self.name, self._source(key), exc
            )
            return None

    @contextlib.contextmanager
    def hold(self, key: LoginKey) -> Iterator[HeldLogin]:
        """Hold the login for ``key`` against every other thread and process, then read
        it. `LoginStoreError` if the lock cannot be had within ``lock_timeout`` seconds
        (nothing is ever done without it)."""
        with self.__locked(key):
            held = HeldLogin(self, key, self.load(key))
            try:
                yield held
            finally:
                held._release()

    def remove(self, key: LoginKey) -> bool:
        """Forget the login for ``key`` (under the lock); False if there was none.
        Inside `hold` of the same key, use `HeldLogin.forget` instead."""
        with self.__locked(key):
            return self._delete(key)

    # -- what subclasses provide ----------------------------------------------------------

    @abc.abstractmethod
    def _read(self, key: LoginKey) -> bytes | None:
        """The stored blob for ``key``; None (logged) if there is none or it cannot be read."""

    @abc.abstractmethod
    def _write(self, key: LoginKey, data: bytes) -> None:
        """Replace the blob for ``key`` atomically; `LoginStoreError` if that fails."""

    @abc.abstractmethod
    def _delete(self, key: LoginKey) -> bool:
        """Delete the blob for ``key``; False if there was none; `LoginStoreError` if
        it cannot be deleted."""

    @abc.abstractmethod
    def _source(self, key: LoginKey) -> str:
        """The entry for ``key`` in words, for log lines."""

    # -- shared -------------------------------------------------------------------------

    def _save(self, key: LoginKey, login: StoredLogin) -> None:
        self._write(key, self.__encode(key, login))

    def _existing_directory(self) -> Path | None:
        """The directory, checked; None if it does not exist."""
        path = self.location
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise LoginStoreError(f"cannot use {path}: {exc.strerror or exc}") from None
        return self.__checked(path, info)

    def _made_directory(self) -> Path:
        """The directory, checked, and made (mode 0700) if it does not exist."""
        path = self._existing_directory()
        if path is not None:
            return path
        path = self.location
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = os.lstat(path)
        except OSError as exc:
            raise LoginStoreError(f"cannot make {path}: {exc.strerror or exc}") from None
        return self.__checked(path, info)

    def __checked(self, path: Path, info: os.stat_result) -> Path:
        problem = directory_problem(info, owner="the login store")
        if problem is not None:
            raise LoginStoreError(f"cannot keep logins in {path}: {problem}{_ANOTHER}")
        return path

    @contextlib.contextmanager
    def __locked(self, key: LoginKey) -> Iterator[None]:
        import filelock  # noqa: PLC0415

        deadline = time.monotonic() + self.lock_timeout
        path = self._made_directory() / f"{key.digest}.lock"
        in_process = _THREAD_LOCKS.get(path)
        if in_process.owner == threading.get_ident():
            raise LoginStoreError(
                f"the login for {key.label} is already held by this thread; use the "
                "HeldLogin that hold() gave"
            )
        if not in_process.acquire(self.lock_timeout):
            raise self.__timed_out(key, path)
        try:
            try:
                make_lock_file(path, self.name)
                lock = filelock.FileLock(
                    path, mode=0o600, thread_local=False, poll_interval=_LOCK_POLL
                )
                lock.acquire(timeout=max(0.0, deadline - time.monotonic()))
            except filelock.Timeout:  # a TimeoutError, hence an OSError: first
                raise self.__timed_out(key, path) from None
            except OSError as exc:
                raise LoginStoreError(
                    f"cannot lock {path} for the login for {key.label}: {exc.strerror or exc}"
                ) from None
            try:
                yield
            finally:
                lock.release()
        finally:
            in_process.release()

    def __timed_out(self, key: LoginKey, path: Path) -> LoginStoreError:
        return LoginStoreError(
            f"waited {self.lock_timeout:g}s for the lock {path} on the login for {key.label}: "
            "another process or thread is refreshing it (or is stuck); try again, or end "
            "that process (its lock goes with it)"
        )

    def __sealer(self, key: LoginKey) -> Sealer | None:
        if self.__encryption is None:
            return None
        try:
            return self.__encryption.sealer(CacheKey(key.digest, key.label), b"")
        except LoginStoreError:
            raise
        except CacheError as exc:  # a key that is not base64 or not 32 bytes
            raise LoginStoreError(str(exc)) from None

    def __encode(self, key: LoginKey, login: StoredLogin) -> bytes:
        problem = _login_problem(login)
        if problem is not None:
            raise LoginStoreError(f"cannot save the login for {key.label}: {problem}")
        record: dict[str, Any] = {
            "format": FORMAT,
            "key": key.digest,
            **_key_fields(key),
            "granted_scopes": list(login.scopes),
            "account": login.account,
            "expires_at": login.expires_at,
            "saved_at": login.saved_at,
        }
        tokens = {"refresh_token": login.refresh_token, "access_token": login.access_token}
        sealer = self.__sealer(key)
        if sealer is None:
            record.update(tokens)
        else:
            record["sealed"] = sealer.seal(json.dumps(tokens), _associated(record))
        data = json.dumps(record, allow_nan=False).encode()
        if len(data) > ENTRY_LIMIT:
            raise LoginStoreError(
                f"cannot save the login for {key.label}: it takes {len(data)} bytes, more "
                f"than the {size_text(ENTRY_LIMIT)} a stored login may hold"
            )
        return data

    def __decode(self, key: LoginKey, data: bytes) -> StoredLogin:
        record = _json_object(data, "it is not valid JSON (truncated or corrupt)")
        if record.get("format") != FORMAT:
            raise _RecordError(f"it is not a tokenprovider login ({FORMAT})")
        fields = _key_fields(key)
        if record.get("key") != key.digest or any(record.get(n) != v for n, v in fields.items()):
            raise _RecordError("it was saved for another login (a copied or renamed entry)")
        sealer = self.__sealer(key)
        if sealer is None:
            if "sealed" in record:
                raise _RecordError("its tokens are encrypted, and this store has no key")
            tokens = record
        else:
            if "refresh_token" in record or "access_token" in record:
                raise _RecordError("its tokens are not encrypted, but this store has a key")
            try:
                opened = sealer.open(record.get("sealed"), _associated(record))
            except SealError as exc:
                raise _RecordError(f"its tokens cannot be opened: {exc}") from None
            tokens = _json_object(opened.encode(), "its sealed tokens are not a JSON object")
        expires_at = record.get("expires_at")
        login = StoredLogin(
            refresh_token=tokens.get("refresh_token"),
            access_token=tokens.get("access_token"),
            expires_at=None if expires_at is None else _seconds(expires_at, "expires_at"),
            scopes=_scopes(record.get("granted_scopes")),
            account=record.get("account"),
            saved_at=_seconds(record.get("saved_at"), "saved_at"),
        )
        problem = _login_problem(login)
        if problem is not None:
            raise _RecordError(problem)
        return login


class FileLoginStore(LoginStore):
    """Logins in private files, one per key: ``DIRECTORY/<digest>.json``, mode 0600,
    replaced atomically and read only when a regular file of this user's, private and at
    most 64 KiB (never through a link); anything else is ignored, with a warning."""

    kind = "file"

    def __repr__(self) -> str:
        where = quote(str(self.directory), 120) if self.directory is not None else "default"
        return f"{self.name}({where!r}{', encrypted' if self.encrypted else ''})"

    def path_for(self, key: LoginKey) -> Path:
        """The file that holds the login for ``key`` (neither made nor checked)."""
        return self.location / f"{key.digest}.json"

    def where(self, key: LoginKey) -> str:
        """The file, its mode and whether the tokens in it are encrypted."""
        sealed = "encrypted" if self.encrypted else "not encrypted"
        return f"{self.path_for(key)} (mode 0600, {sealed})"

    def _source(self, key: LoginKey) -> str:
        return str(self.path_for(key))

    def _read(self, key: LoginKey) -> bytes | None:
        if self._existing_directory() is None:
            return None
        path = self.path_for(key)
        try:
            return read_regular_file(path, ENTRY_LIMIT, private=True)
        except FileNotFoundError:
            return None
        except UnsafeFileError as exc:
            logger.warning(
                "%s: ignoring %s, which %s; a new login is needed",
                self.name,
                exc.filename,
                exc.reason,
            )
        except OSError as exc:
            logger.warning(
                "%s: cannot read %s (%s); a new login is needed",
                self.name,
                path,
                exc.strerror or exc,
            )
        return None

    def _write(self, key: LoginKey, data: bytes) -> None:
        self._made_directory()
        path = self.path_for(key)
        try:
            write_private(path, data)
        except OSError as exc:
            raise LoginStoreError(
                f"cannot save the login for {key.label} in {path}: {exc.strerror or exc}"
            ) from None

    def _delete(self, key: LoginKey) -> bool:
        if self._existing_directory() is None:
            return False
        path = self.path_for(key)
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise LoginStoreError(f"cannot remove {path}: {exc.strerror or exc}") from None
        return True


class KeyringLoginStore(LoginStore):
    """Logins in the OS keyring: service ``"tokenprovider"``, username the key's digest,
    one JSON record (sealed too when a key is given). ``backend`` is keyring's backend
    for this process unless given; one that does not work here (see `login_store`) is a
    `LoginStoreError`. The lock files are in ``directory``."""

    kind = "keyring"

    def __init__(
        self,
        backend: KeyringBackend | None = None,
        directory: str | os.PathLike[str] | None = None,
        *,
        key: str | bytes | SecretReference | None = None,
        lock_timeout: float = 60.0,
    ) -> None:
        super().__init__(directory, key=key, lock_timeout=lock_timeout)
        needed_by = f'{SETTING} = "keyring"'
        try:
            self.backend = _keyring_store.working_backend(needed_by, backend)
        except MissingExtraError as exc:
            raise MissingExtraError(f'{exc}; or use {SETTING} = "file"') from None
        except _keyring_store.UnusableKeyringError as exc:
            raise LoginStoreError(
                f"{needed_by} cannot be used here, as the OS keyring does not work: {exc}. "
                f'Use {SETTING} = "file" (private files, encrypted when a key is given) instead'
            ) from None

    def __repr__(self) -> str:
        encrypted = ", encrypted" if self.encrypted else ""
        return f"{self.name}({_keyring_store.backend_name(self.backend)!r}{encrypted})"

    def where(self, key: LoginKey) -> str:
        """The keyring backend and service, and whether the record is also encrypted."""
        encrypted = " (encrypted with the configured key)" if self.encrypted else ""
        return (
            f"the OS keyring (backend {_keyring_store.backend_name(self.backend)}), "
            f"service {_keyring_store.SERVICE!r}{encrypted}"
        )

    def _source(self, key: LoginKey) -> str:
        name = _keyring_store.backend_name(self.backend)
        return f"the keyring entry {_keyring_store.SERVICE!r}/{key.digest} ({name})"

    def _read(self, key: LoginKey) -> bytes | None:
        try:
            text = self.backend.get_password(_keyring_store.SERVICE, key.digest)
        except Exception as exc:  # whatever the backend raises
            logger.warning(
                "%s: cannot read %s (%s: %s); a new login is needed",
                self.name,
                self._source(key),
                type(exc).__name__,
                _keyring_store.failure_text(exc, []),
            )
            return None
        if text is None:
            return None
        if not isinstance(text, str) or len(text) > ENTRY_LIMIT:
            logger.warning(
                "%s: ignoring %s, which is not text of at most %s; a new login is needed",
                self.name,
                self._source(key),
                size_text(ENTRY_LIMIT),
            )
            return None
        return text.encode("utf-8", "surrogatepass")

    def _write(self, key: LoginKey, data: bytes) -> None:
        text = data.decode()
        try:
            self.backend.set_password(_keyring_store.SERVICE, key.digest, text)
        except Exception as exc:  # whatever the backend raises
            why = f"{type(exc).__name__}: {_keyring_store.failure_text(exc, _secrets_in(text))}"
        else:
            return
        # Raised here, not in the handler, so that the backend's exception (which may hold
        # the tokens it was given) is not kept as the context of ours.
        raise LoginStoreError(f"cannot save the login for {key.label} in {self.where(key)}: {why}")

    def _delete(self, key: LoginKey) -> bool:
        service = _keyring_store.SERVICE
        try:
            if self.backend.get_password(service, key.digest) is None:
                return False
            self.backend.delete_password(service, key.digest)
        except Exception as exc:  # whatever the backend raises
            raise LoginStoreError(
                f"cannot remove the login for {key.label} from {self.where(key)}: "
                f"{type(exc).__name__}: {_keyring_store.failure_text(exc, [])}"
            ) from None
        return True


def login_store(
    setting: str = "auto",
    *,
    key: str | bytes | SecretReference | None = None,
    lock_timeout: float = 60.0,
    base_dir: Path | None = None,
) -> LoginStore:
    """The store ``setting`` names: ``"auto"`` (the OS keyring when keyring is installed
    and its backend works here, else the files), ``"keyring"`` (the keyring, or
    `LoginStoreError` saying why not), ``"file"`` or ``"file:DIRECTORY"`` (relative to
    ``base_dir``, else the working directory). ``key`` seals the tokens; it never falls
    back to something weaker than asked."""
    if not isinstance(setting, str):
        raise ConfigurationError(
            f"{SETTING} must be one of {', '.join(FORMS)}, got {a_type(setting)}"
        )
    _encryption(key)  # a bad key is an error whatever the store
    kind, colon, argument = setting.partition(":")
    if kind == "file" and not (colon and not argument):
        return FileLoginStore(
            _directory_setting(argument, base_dir) if argument else None,
            key=key,
            lock_timeout=lock_timeout,
        )
    if setting == "keyring":
        return KeyringLoginStore(key=key, lock_timeout=lock_timeout)
    if setting == "auto":
        try:
            backend = _keyring_store.working_backend(f'{SETTING} = "auto"')
        except (MissingExtraError, _keyring_store.UnusableKeyringError) as exc:
            logger.debug("%s: not the OS keyring (%s); the files", SETTING, exc)
            return FileLoginStore(key=key, lock_timeout=lock_timeout)
        return KeyringLoginStore(backend, key=key, lock_timeout=lock_timeout)
    raise ConfigurationError(
        f"{SETTING} must be one of {', '.join(FORMS)}, got {quote(setting, 100)!r}"
    )


def default_directory() -> Path:
    """The user data directory for logins (platformdirs), e.g.
    ``~/.local/share/tokenprovider/logins``."""
    directory = user_directory("data", "logins")
    if directory is None:
        raise LoginStoreError(
            "the login store has no default directory: HOME is not set and this user has "
            "no home directory; set HOME or XDG_DATA_HOME, or give it a directory "
            '(login_store = "file" with login_store_dir)'
        )
    return directory


# -- helpers ------------------------------------------------------------------------------


class _RecordError(Exception):
    """A stored login that cannot be used; the message says why and holds no secret."""


class _ThreadLock:
    """A lock that knows which thread holds it (so a nested hold fails at once)."""

    def __init__(self) -> None:
        self.__lock = threading.Lock()
        self.owner: int | None = None

    def acquire(self, timeout: float) -> bool:
        if not self.__lock.acquire(timeout=timeout):
            return False
        self.owner = threading.get_ident()
        return True

    def release(self) -> None:
        self.owner = None
        self.__lock.release()


class _ThreadLocks:
    """One `_ThreadLock` per lock file: threads of this process queue there first."""

    def __init__(self) -> None:
        self.renew_after_fork()
        _after_fork.track(self)

    def renew_after_fork(self) -> None:
        self.__guard = threading.Lock()
        self.__locks: dict[Path, _ThreadLock] = {}

    def get(self, path: Path) -> _ThreadLock:
        with self.__guard:
            return self.__locks.setdefault(path, _ThreadLock())


_THREAD_LOCKS = _ThreadLocks()


def _encryption(key: str | bytes | SecretReference | None) -> Encryption | None:
    """The `Encryption` for a ``key`` setting; `LoginStoreError` for one that cannot seal
    logins (``"derive"``, a literal, anything but a reference or bytes)."""
    if key is None:
        return None
    if key == DERIVE:
        raise LoginStoreError(
            f'{SETTING}\'s key cannot be "{DERIVE}": the token caches derive theirs from a '
            "client secret, which most clients people log in with do not have (and which "
            "would not keep a person's tokens from another user of the same client); give a "
            "secret reference to 32 base64-encoded bytes (make them with: openssl rand "
            "-base64 32)"
        )
    if isinstance(key, (bytes, SecretReference)) or is_reference(key):
        return Encryption(key, owner=SETTING)
    raise LoginStoreError(
        f"{SETTING}'s key must be a secret reference (env:, file:, aws-secretsmanager:, "
        "aws-ssm:) to 32 base64-encoded bytes; a literal key does not belong in code "
        "or configuration"
    )


def _directory_setting(argument: str, base_dir: Path | None) -> Path:
    if "\x00" in argument:
        raise ConfigurationError(
            f'{SETTING} = "file:...": the directory holds a NUL character, so it is not a path'
        )
    try:
        directory = expand_user(argument)
    except ValueError as exc:
        raise ConfigurationError(f"{SETTING}: {exc}") from None
    return directory if directory.is_absolute() else (base_dir or Path.cwd()) / directory


def _associated(record: dict[str, Any]) -> bytes:
    """What sealed tokens are bound to: every other field of their record (the key's
    digest and fields, the expiry, the account...), so none can be changed or moved."""
    rest = {name: value for name, value in record.items() if name != "sealed"}
    return json.dumps(rest, sort_keys=True, separators=(",", ":")).encode()


def _json_object(data: bytes, invalid: str) -> dict[str, Any]:
    try:
        value = load_json(data)
    except UntrustedJSONError:
        raise _RecordError(invalid) from None
    if not isinstance(value, dict):
        raise _RecordError(invalid)
    return value


def _seconds(value: object, name: str) -> float:
    seconds = finite_seconds(value)
    if seconds is None:
        raise _RecordError(f"its {name} is not a number")
    return seconds


def _scopes(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(scope, str) for scope in value):
        raise _RecordError("its granted_scopes are not a list of strings")
    return tuple(value)


def _login_problem(login: StoredLogin) -> str | None:
    """Why ``login`` cannot be stored (or was not stored by us), or None; names fields,
    never values."""
    for name in ("refresh_token", "access_token"):
        token = getattr(login, name)
        if token is not None and (not isinstance(token, str) or not token):
            return f"its {name} is not a non-empty string"
    if login.account is not None and not isinstance(login.account, str):
        return "its account is not a string"
    if not all(isinstance(scope, str) for scope in login.scopes):
        return "its scopes are not strings"
    if login.expires_at is not None and finite_seconds(login.expires_at) is None:
        return "its expires_at is not a finite number"
    if finite_seconds(login.saved_at) is None:
        return "its saved_at is not a finite number"
    return None


def _secrets_in(record_text: str) -> list[str | None]:
    """The record (one we made) and each token it holds in clear, for redaction."""
    record = json.loads(record_text)
    return [record_text, record.get("refresh_token"), record.get("access_token")]


def _key_fields(key: LoginKey) -> dict[str, Any]:
    """The fields of ``key`` as a record holds them (the scopes canonical)."""
    return {
        "host": key.host,
        "token_endpoint": key.token_endpoint,
        "client_id": key.client_id,
        "scopes": list(key.canonical_scopes),
    }
