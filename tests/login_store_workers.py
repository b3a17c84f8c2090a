"""For tests/test_login_store.py: keyring backends that work here, and child-process code
(importable, as `spawn` needs).

`DirectoryKeyring` keeps each entry in a file of the directory named by the environment
variable `KEYRING_DIR`, so several processes share one keyring; a child selects it with
``PYTHON_KEYRING_BACKEND`` (`BACKEND`). Without that variable it is not viable, so it is
never picked by keyring's own detection in a process that merely imported this module.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

from keyring.backend import KeyringBackend
from keyring.compat import properties
from keyring.errors import PasswordDeleteError, PasswordSetError

from tokenprovider.caches.logins import LoginKey, StoredLogin, login_store

KEYRING_DIR = "TOKENPROVIDER_TEST_KEYRING_DIR"
BACKEND = f"{__name__}.DirectoryKeyring"
#: The login every child counts with.
KEY = LoginKey(
    "https://api.example.com", "https://login.example.com/oauth2/token", "cli", ("read",)
)
#: Refresh tokens are this prefix and a counter (a canary: it must never show).
TOKEN_PREFIX = "CANARY-7f3a-rotating-refresh-"


class DirectoryKeyring(KeyringBackend):
    """A keyring in a directory: one file per (service, username), replaced atomically."""

    @properties.classproperty
    def priority(cls) -> float:  # noqa: N805 - a classproperty, as keyring writes them
        if not os.environ.get(KEYRING_DIR):
            raise RuntimeError(f"{KEYRING_DIR} is not set")
        return 1

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(os.environ[KEYRING_DIR])

    def path(self, service: str, username: str) -> Path:
        name = hashlib.sha256(f"{service}\0{username}".encode()).hexdigest()
        return self.directory / name

    def get_password(self, service: str, username: str) -> str | None:
        try:
            return self.path(service, username).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def set_password(self, service: str, username: str, password: str) -> None:
        path = self.path(service, username)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}")
        temporary.write_text(password, encoding="utf-8")
        os.replace(temporary, path)

    def delete_password(self, service: str, username: str) -> None:
        try:
            self.path(service, username).unlink()
        except FileNotFoundError:
            raise PasswordDeleteError("no such entry") from None


class RefusingKeyring(DirectoryKeyring):
    """A backend whose every write fails, repeating what it was given (as a careless one
    might), so that the probe fails and a write's error would leak if not redacted."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise PasswordSetError(f"the keyring is locked; refused {password}")


class LowPriorityKeyring(DirectoryKeyring):
    """A backend that works but that keyring does not recommend (priority below 1)."""

    @properties.classproperty
    def priority(cls) -> float:  # noqa: N805 - a classproperty, as keyring writes them
        if not os.environ.get(KEYRING_DIR):
            raise RuntimeError(f"{KEYRING_DIR} is not set")
        return 0.5


class HangingKeyring(DirectoryKeyring):
    """A backend whose writes wait for `release` (a locked keyring's password prompt)."""

    release = threading.Event()

    def set_password(self, service: str, username: str, password: str) -> None:
        self.release.wait(60)
        super().set_password(service, username, password)


class ForgetfulKeyring(DirectoryKeyring):
    """A backend that accepts writes and reads, but whose reads fail once `broken` is set."""

    broken = False

    def get_password(self, service: str, username: str) -> str | None:
        if self.broken:
            raise OSError("the secret service went away")
        return super().get_password(service, username)


def login(number: int) -> StoredLogin:
    """The login a counter at ``number`` saves."""
    return StoredLogin(
        refresh_token=f"{TOKEN_PREFIX}{number}",
        access_token=f"CANARY-7f3a-access-{number}",
        expires_at=2_000_000_000.0,
        scopes=("read",),
        account="person@example.com",
        saved_at=1_800_000_000.0 + number,
    )


def number_of(stored: StoredLogin | None) -> int:
    """The counter a stored login holds (0 for none)."""
    if stored is None or stored.refresh_token is None:
        return 0
    return int(stored.refresh_token.removeprefix(TOKEN_PREFIX))


def count_up(env: dict[str, str], setting: str, times: int, barrier: Any, results: Any) -> None:
    """With the store ``setting`` names (``env`` set first), ``times`` times: hold the
    key, read the counter, save it plus one. Reports the store's kind and every number
    seen."""
    os.environ.update(env)
    store = login_store(setting, lock_timeout=60.0)
    barrier.wait(60)
    seen = []
    for _ in range(times):
        with store.hold(KEY) as held:
            number = number_of(held.current)
            seen.append(number)
            held.save(login(number + 1))
    results.put((store.kind, seen))


def hold_until(env: dict[str, str], setting: str, holding: Any, release: Any) -> None:
    """Hold the key, set ``holding``, and keep the lock until ``release`` is set."""
    os.environ.update(env)
    store = login_store(setting, lock_timeout=60.0)
    with store.hold(KEY):
        holding.set()
        release.wait(60)
