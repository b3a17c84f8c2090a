"""What every adapter gives `benchmarks/peers.py`: one library, set up as its docs say.

An adapter builds a fresh auth object with no token cached anywhere (`Adapter.make`),
does the first fetch itself when the library's docs have the program do that
(`explicit_fetch`, `start`), and says what runs per request (`attach` for requests, `flow`
and `before` for httpx) and how a program sends requests with it (`session`, `client`).
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any, ClassVar, Literal

import httpx
import requests
import requests.adapters

Kind = Literal["requests", "async"]

#: A library's early-expiry margin is cut to this share of the token's lifetime (the share
#: tokenprovider's mandatory margin is capped at), so a 2-second token is not "expiring"
#: from the start; for long-lived tokens every library keeps its default.
LIFETIME_SHARE = 0.25
#: Seconds any single HTTP request may take.
TIMEOUT = 30.0


@dataclass(frozen=True)
class Endpoint:
    """The local server and a client of it; ``lifetime`` is how long its tokens live."""

    api_url: str
    token_url: str
    resource_url: str
    client_id: str
    client_secret: str
    lifetime: float

    def margin(self, default: float) -> float:
        """A library's early-expiry margin: its ``default``, at most a share of the lifetime."""
        return min(default, self.lifetime * LIFETIME_SHARE)


class Adapter(abc.ABC):
    """One library. ``imports`` and ``build`` are source text, timed in a fresh process
    after ``import requests`` (``import httpx`` for an `AsyncAdapter`): what a program
    imports, and how it builds one auth object (``TOKEN_URL``, ``API_URL``, ``CLIENT_ID``
    and ``SECRET`` are defined)."""

    name: ClassVar[str]
    distribution: ClassVar[str]
    kind: ClassVar[Kind]
    imports: ClassVar[str]
    build: ClassVar[str]
    #: Columns come in this order: the reference, tokenprovider, the seed, then the others.
    rank: ClassVar[int] = 9
    #: The constant-header reference: timed on the hot path only.
    reference: ClassVar[bool] = False
    #: The docs have the program fetch the first token (``fetch_token()``) before requests.
    explicit_fetch: ClassVar[bool] = False

    def version(self) -> str:
        return metadata.version(self.distribution)

    @abc.abstractmethod
    def make(self, endpoint: Endpoint) -> Any:
        """A new auth object (or client) with no token: nothing cached in it or elsewhere."""


class RequestsAdapter(Adapter):
    kind = "requests"

    def start(self, auth: Any) -> None:
        """The first fetch, for a library that has the program make it (else nothing)."""

    @abc.abstractmethod
    def attach(self, auth: Any) -> Callable[[requests.PreparedRequest], object]:
        """What runs on each request to give it the token (its ``auth``)."""

    def session(self, auth: Any) -> requests.Session:
        """A session whose requests carry the token."""
        session = pooled(requests.Session())
        session.auth = self.attach(auth)
        return session


class AsyncAdapter(Adapter):
    kind = "async"

    async def start(self, auth: Any) -> None:
        """The first fetch, for a library that has the program make it (else nothing)."""

    @abc.abstractmethod
    def flow(self, auth: Any) -> httpx.Auth:
        """The `httpx.Auth` whose flow runs on each request."""

    def before(self, auth: Any) -> Callable[[], Awaitable[object]] | None:
        """What the client awaits on each request before the flow, if anything."""
        return None

    def client(self, auth: Any) -> httpx.AsyncClient:
        """An `httpx.AsyncClient` whose requests carry the token."""
        return httpx.AsyncClient(auth=self.flow(auth), timeout=TIMEOUT)


def pooled(session: requests.Session) -> requests.Session:
    """``session`` with room for 64 connections, so 32 threads sharing it keep theirs."""
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=64))
    return session
