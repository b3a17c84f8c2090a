"""The token cache interface, and the fetch-through algorithm every cache shares.

A cache holds `CacheEntry` records under a `CacheKey`. `TokenCache.fetch` returns an
entry a provider may use, fetching (through the provider's own request function) only
when no usable entry exists, and only once however many callers, processes or hosts
ask together: each cache offers a way to *hold* a key (a lock or a lease) while one
caller refreshes it.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import socket
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType

from tokenprovider._untrusted import a_type, describe
from tokenprovider._value import Value, init
from tokenprovider.errors import ConfigurationError

logger = logging.getLogger("tokenprovider")

#: After a cache's store cannot be reached, it is left alone for this many seconds: the
#: provider fetches without it, and the cache makes no call to it.
CACHE_RETRY_AFTER = 60.0
#: The most attributes an entry may carry with its token ...
MAX_ATTRIBUTES = 8
#: ... each named like a Python identifier in lower case, at most 32 characters ...
ATTRIBUTE_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
#: ... with a printable string value of at most this many characters.
MAX_ATTRIBUTE_LENGTH = 256
NO_ATTRIBUTES: Mapping[str, str] = MappingProxyType({})


class CacheKey(Value):
    """What identifies one token: a digest for storage and a label for messages.

    ``material`` is the client's credentials, used only to derive an encryption key
    (``key="derive"``); it is never stored and never shown.
    """

    __match_args__ = ("digest", "label", "material")
    __slots__ = __match_args__
    _unshown = _uncompared = frozenset({"material"})
    digest: str
    label: str
    material: bytes | None

    def __init__(self, digest: str, label: str, material: bytes | None = None) -> None:
        init(self, digest=digest, label=label, material=material)


class CacheEntry(Value):
    """One cached token: its wall-clock expiry and issue time (writer's clock), who
    wrote it, a version that changes with every write, and the few strings its
    provider needs with it (``attributes``, such as the name of the cookie that carries
    it; see `attributes_problem` for their limits)."""

    __match_args__ = ("token", "expires_at", "issued_at", "writer", "version", "attributes")
    __slots__ = __match_args__
    _unshown = frozenset({"token"})
    _unhashed = frozenset({"attributes"})
    token: str
    expires_at: float
    issued_at: float
    writer: str
    version: str
    attributes: Mapping[str, str]

    def __init__(  # noqa: PLR0917 - the fields, in order
        self,
        token: str,
        expires_at: float,
        issued_at: float,
        writer: str,
        version: str,
        attributes: Mapping[str, str] = NO_ATTRIBUTES,
    ) -> None:
        init(
            self,
            token=token,
            expires_at=expires_at,
            issued_at=issued_at,
            writer=writer,
            version=version,
            attributes=attributes,
        )

    @property
    def lifetime(self) -> float:
        """How long the token lived when it was written (immune to clock offsets)."""
        return max(0.0, self.expires_at - self.issued_at)


def new_entry(
    token: str,
    expires_at: float,
    issued_at: float,
    attributes: Mapping[str, str] = NO_ATTRIBUTES,
) -> CacheEntry:
    """A fresh entry written by this process."""
    import secrets  # noqa: PLC0415 - not needed until a token is fetched

    return CacheEntry(
        token,
        float(expires_at),
        float(issued_at),
        writer_id(),
        secrets.token_hex(8),
        MappingProxyType(dict(attributes)) if attributes else NO_ATTRIBUTES,
    )


def attributes_problem(attributes: object) -> str | None:
    """Why ``attributes`` cannot go with a cached token, or None: at most
    `MAX_ATTRIBUTES` names matching `ATTRIBUTE_NAME`, each with a printable string of at
    most `MAX_ATTRIBUTE_LENGTH` characters. The message quotes no value."""
    if not isinstance(attributes, Mapping):
        return f"they are {a_type(attributes)}, not a mapping"
    if len(attributes) > MAX_ATTRIBUTES:
        return f"there are {len(attributes)} of them, more than {MAX_ATTRIBUTES}"
    for name, value in attributes.items():
        if not isinstance(name, str) or not ATTRIBUTE_NAME.fullmatch(name):
            return "a name is not 1 to 32 of a-z, 0-9 and _ (starting with a letter)"
        if not isinstance(value, str):
            return f"{name} is {a_type(value)}, not a string"
        if len(value) > MAX_ATTRIBUTE_LENGTH or not value.isprintable():
            return f"{name} is longer than {MAX_ATTRIBUTE_LENGTH} or not printable"
    return None


def writer_id() -> str:
    """This process, as ``host:pid`` (read each time: a forked child has its own pid)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Found(Value):
    """What `TokenCache.fetch` returns: the entry, and how it was obtained.

    ``fetched`` is true when this caller made the token request. ``waited`` is set when
    the entry appeared while this caller waited for another to refresh: its age is then
    at most ``waited`` seconds, whatever the writer's clock said.
    """

    __match_args__ = ("entry", "fetched", "waited")
    __slots__ = __match_args__
    entry: CacheEntry
    fetched: bool
    waited: float | None

    def __init__(
        self, entry: CacheEntry, fetched: bool = False, waited: float | None = None
    ) -> None:
        init(self, entry=entry, fetched=fetched, waited=waited)


#: Decides whether a cached entry may be used; the second argument is set when the entry
#: appeared while the caller waited: it is then at most that many seconds old.
Usable = Callable[[CacheEntry, "float | None"], bool]
#: Fetches a token: ``(token, expires_at, issued_at)``, optionally followed by the
#: attributes to store with it.
Request = Callable[[], "tuple[str, float, float] | tuple[str, float, float, Mapping[str, str]]"]


class Hold:
    """A key held for refreshing (or no longer waited for): the entry the cache holds
    by then, and how to write the new one."""

    def __init__(self, current: CacheEntry | None, store: Callable[[CacheEntry], None]) -> None:
        self.current = current
        self.__store = store

    def store(self, entry: CacheEntry) -> None:
        """Write ``entry`` (what the caller fetched) for everyone to read."""
        self.__store(entry)


def unshared() -> Hold:
    """A hold on nothing: the caller fetches, and what it fetched is not stored (the
    cache's store cannot be used just now)."""
    return Hold(None, lambda entry: None)


class TokenCache(abc.ABC):
    """Where providers keep tokens. Subclasses implement `load`, `_hold` and `_salt`.

    ``shared`` says whether entries reach other processes; such caches need a provider
    that defines its identity (`CachedTokenProvider._cache_identity`).
    """

    shared: bool = True

    def key_for(self, identity: Mapping[str, object], secret: str | None) -> CacheKey:
        """The key for a provider with ``identity``; ``secret`` enters only as a salted hash."""
        fields = dict(identity)
        if secret is not None:
            fields["secret_sha256"] = hashlib.sha256(secret.encode()).hexdigest()
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
        digest = hmac.new(self._salt(), canonical.encode(), hashlib.sha256).hexdigest()
        material = None if secret is None else f"{identity.get('client_id', '')}\0{secret}"
        key = CacheKey(digest, _label(identity), None if material is None else material.encode())
        self._prepare(key)
        return key

    def _prepare(self, key: CacheKey) -> None:  # noqa: B027 - nothing to check by default
        """Check, once per provider, that ``key`` can be used (an encryption key that
        cannot be read is an error now, not a silent miss at every read)."""

    def _salt(self) -> bytes:
        """A per-cache random salt for key digests (and derived encryption keys)."""
        return b""

    @abc.abstractmethod
    def load(self, key: CacheKey) -> CacheEntry | None:
        """The entry under ``key``, or None; anything unreadable counts as None."""

    @abc.abstractmethod
    def _hold(
        self, key: CacheKey, seen: CacheEntry | None
    ) -> contextlib.AbstractContextManager[Hold]:
        """Hold ``key`` against other refreshers (waiting for them if need be)."""

    def fetch(self, key: CacheKey, request: Request, usable: Usable) -> Found:
        """A usable entry for ``key``: cached, written by a concurrent refresher, or fetched.

        ``request`` returns ``(token, expires_at, issued_at)`` (and optionally the
        entry's attributes); it is called at most once, and only by the caller holding
        the key.
        """
        seen = self.load(key)
        if seen is not None and usable(seen, None):
            return Found(seen)
        started = time.monotonic()
        with self._hold(key, seen) as hold:
            current = hold.current
            if current is not None:
                appeared = seen is None or current.version != seen.version
                waited = time.monotonic() - started if appeared else None
                if usable(current, waited):
                    return Found(current, waited=waited)
            entry = new_entry(*request())
            try:
                hold.store(entry)
            except Exception as exc:  # the token is good; failing to share it loses nothing
                logger.warning(
                    "%s: could not store the token for %s (%s: %s); it is used but not shared",
                    type(self).__name__,
                    key.label,
                    type(exc).__name__,
                    describe(exc),
                )
            return Found(entry, fetched=True)


def positive_seconds(name: str, value: object) -> None:
    """Raise `ConfigurationError` unless ``value`` is a positive, finite number."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0 < value < float("inf")
    ):
        raise ConfigurationError(f"{name} must be positive seconds, got {value!r}")


def _label(identity: Mapping[str, object]) -> str:
    kind = identity.get("kind", "provider")
    client = identity.get("client_id")
    host = identity.get("host")
    words = [str(kind)]
    if client is not None:
        words.append(f"client {client!r}")
    if host is not None:
        words.append(f"for {host}")
    return " ".join(words)
