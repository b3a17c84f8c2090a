"""The OS keyring, through the `keyring` package (the ``keyring`` extra): whether its
backend really works on this machine, and entries of one text blob each.

A backend works when it is not one that stores nothing (``keyring.backends.fail``,
``keyring.backends.null``), keyring recommends it (priority 1 or more), and a test entry
can be stored, read back and deleted within `PROBE_TIMEOUT` seconds. The answer is
kept per backend for the life of the process.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from typing import TYPE_CHECKING

from tokenprovider import _after_fork
from tokenprovider._extras import require
from tokenprovider._masking import redact
from tokenprovider._untrusted import describe, quote

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

#: The keyring service every login is stored under (the username is the login's digest).
SERVICE = "tokenprovider"
#: How long the round trip of a test entry may take (a locked keyring may wait for a
#: password prompt nobody answers).
PROBE_TIMEOUT = 10.0
#: The size of the probe's test entry: that of a large stored login (two long JWTs).
PROBE_BYTES = 12 * 1024
#: Backends that store nothing: the one keyring falls back to, and the one that disables it.
_STORES_NOTHING = frozenset({"keyring.backends.fail", "keyring.backends.null"})


class _Verdicts:
    """What each backend's probe found, by backend (kept alive, so ids are not reused)."""

    def __init__(self) -> None:
        self.renew_after_fork()
        _after_fork.track(self)

    def renew_after_fork(self) -> None:
        self.lock = threading.Lock()  # a parent's thread may have held it mid-probe
        self.found: dict[int, tuple[KeyringBackend, str | None]] = {}


_VERDICTS = _Verdicts()


class UnusableKeyringError(Exception):
    """keyring has no backend that works here; the message says why (and holds no secret)."""


def working_backend(needed_by: str, backend: KeyringBackend | None = None) -> KeyringBackend:
    """``backend``, else keyring's backend for this process (as configured or detected),
    if it works here (see the module); `UnusableKeyringError` saying why not; `MissingExtraError` if
    keyring is not installed."""
    if backend is None:
        keyring = require("keyring", needed_by)
        try:
            backend = keyring.get_keyring()
        except Exception as exc:  # a broken keyringrc.cfg, a failing plugin...
            raise UnusableKeyringError(
                f"keyring cannot pick a backend ({type(exc).__name__}: {failure_text(exc, [])})"
            ) from None
    problem = backend_problem(backend)
    if problem is not None:
        raise UnusableKeyringError(problem)
    return backend


def backend_name(backend: KeyringBackend) -> str:
    """The backend's name for display, e.g. ``"SecretService Keyring"``."""
    try:
        name = type(backend).name
    except Exception:  # a third-party classproperty; any failure means no name
        name = type(backend).__qualname__
    return quote(name, 80)


def backend_problem(backend: KeyringBackend) -> str | None:
    """Why ``backend`` cannot keep logins on this machine, or None if it can (see the
    module); asked of each backend once per process."""
    with _VERDICTS.lock:
        known = _VERDICTS.found.get(id(backend))
        if known is not None and known[0] is backend:
            return known[1]
        problem = _problem(backend)
        _VERDICTS.found[id(backend)] = (backend, problem)
        return problem


def _problem(backend: KeyringBackend) -> str | None:
    kind = type(backend)
    if kind.__module__ in _STORES_NOTHING:
        return (
            f"its backend is {kind.__module__}.{kind.__qualname__}, which stores nothing: no "
            "OS keyring was found; on Linux one needs a Secret Service such as GNOME Keyring "
            "or KWallet on the session D-Bus"
        )
    try:
        priority = float(backend.priority)
    except Exception as exc:  # a backend says it is unusable by raising
        return f"its backend {backend_name(backend)} is not usable here ({describe(exc)})"
    if not priority >= 1:
        return (
            f"its backend {backend_name(backend)} has priority {priority:g}, "
            "below 1: keyring does not recommend it"
        )
    outcome: list[str | None] = []
    probe = threading.Thread(
        target=lambda: outcome.append(_round_trip(backend)),
        name="tokenprovider-keyring-probe",
        daemon=True,  # one that never answers must not keep the process alive
    )
    probe.start()
    probe.join(PROBE_TIMEOUT)
    if not outcome:
        return (
            f"its backend {backend_name(backend)} did not store and read back a test entry "
            f"within {PROBE_TIMEOUT:g}s (a locked keyring waiting for its password?)"
        )
    return outcome[0]


def _round_trip(backend: KeyringBackend) -> str | None:
    """Store, read back and delete a test entry; why that failed, or None."""
    name = f"probe-{secrets.token_hex(8)}"
    # As large as a stored login may be: a backend that keeps only short secrets (the
    # Windows Credential Manager's 2560 bytes) cannot hold one, and files are used.
    value = secrets.token_urlsafe(PROBE_BYTES)
    step = "storing"
    try:
        backend.set_password(SERVICE, name, value)
        step = "reading back"
        answer = backend.get_password(SERVICE, name)
        step = "deleting"
        backend.delete_password(SERVICE, name)
    except Exception as exc:  # whatever a backend raises, it does not work
        if step != "storing":
            with contextlib.suppress(Exception):
                backend.delete_password(SERVICE, name)
        return (
            f"its backend {backend_name(backend)} failed {step} a test entry "
            f"({type(exc).__name__}: {failure_text(exc, [value])})"
        )
    if answer != value:
        return f"its backend {backend_name(backend)} did not give back a test entry it stored"
    return None


def failure_text(error: BaseException, secrets: list[str | None]) -> str:
    """A backend's exception as text for a message, quoted, with ``secrets`` redacted
    first (a backend may repeat what it was given)."""
    return quote(redact(str(error), secrets))
