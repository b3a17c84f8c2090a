"""The rules every transport adapter follows, written once.

A provider says how its token travels (`TokenProvider._carrier`, `_credential`): in the
``Authorization`` header, or as a cookie with a name. An adapter (`transports.requests`,
`transports.httpx`) gives these rules a `Client`: how to read and write one HTTP client's
requests and responses. The rules then decide everything else:

1. **The host rule.** Only a request to the provider's `Host` (same scheme, domain and
   effective port) gets the token: `wants_token`. A redirect to another host never gets
   it: the clients drop ``Authorization`` on a redirect to another origin (and rebuild
   ``Cookie`` from their cookie jar on every redirect), and the token is never attached
   again after a redirect.
2. **The caller's own credential wins.** A request that already has an ``Authorization``
   header (for a header carrier) or a cookie of the credential's name (for a cookie
   carrier) is left as it is: `wants_token`, `attach`.
3. **A 401 from the host** (`answer_401`), to a request that carried the token (`carries`:
   after a redirect it may not): the token sent is invalidated only if it is still the
   current one (so many callers hitting 401 together cause one refresh), the current token
   is read, and the request is sent once more with it, and with the cookies the 401 set,
   if the token changed and the body can be replayed. A streaming body is not replayed:
   the 401 is returned. A request is retried at most once.

`auth_flow` is the whole flow for one request, written in the style of httpx's
``Auth.auth_flow``: a generator that yields the request to send and receives its response.
It does no I/O itself: where it needs the token it yields `FETCH`, and the adapter sends
back the provider's `Credential`, read synchronously (``provider._credential()``) or
awaited without blocking the event loop (``await provider._async_header_item()`` for a
header carrier, ``await provider._async_credential()`` for a cookie). The requests
adapter, whose auth is a call and a response hook rather than a generator, uses the same
pieces (`wants_token`, `attach`, `answer_401`) from its handler and its hook.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple, Protocol, TypeVar

if TYPE_CHECKING:
    from tokenprovider.core.host import Host

logger = logging.getLogger("tokenprovider")

AUTHORIZATION: Final = "Authorization"
COOKIE: Final = "Cookie"

#: How a provider's token travels: in the ``Authorization`` header or as a cookie.
Carrier = Literal["header", "cookie"]


class Credential(NamedTuple):
    """The current token as a request carries it: what a provider's `_credential` returns.

    ``kind`` ``"header"``: the header ``name`` (``Authorization``) with ``value``
    (``"Bearer ..."``); ``"cookie"``: the cookie ``name`` (``SMSESSION``) with ``value``.
    ``value`` is also what the provider's ``_invalidate_if_current`` compares after a 401.
    """

    kind: Carrier
    name: str
    value: str

    def __repr__(self) -> str:  # the value is the token: never shown
        return f"Credential(kind={self.kind!r}, name={self.name!r}, value=<set>)"


RequestT = TypeVar("RequestT")
ResponseT = TypeVar("ResponseT")
ResponseT_contra = TypeVar("ResponseT_contra", contravariant=True)
ResultT = TypeVar("ResultT")


class Fetch:
    """What a flow yields when it needs the provider's current `Credential`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "FETCH"


#: Yielded by a flow that needs the current credential; the adapter sends it back.
FETCH: Final = Fetch()


class Carrying(Protocol):
    """What the rules need of a provider."""

    host: Host

    def _carrier(self) -> Carrier: ...

    def _invalidate_if_current(self, sent_authorization: str) -> None: ...


class Client(Protocol[RequestT, ResponseT_contra]):
    """How to read and write one HTTP client's requests and responses."""

    def on_host(self, host: Host, request: RequestT) -> bool:
        """Whether ``request``'s URL is on ``host`` (decided by `Host.matches`)."""

    def header(self, request: RequestT, name: str) -> str | None:
        """The value of ``request``'s header ``name`` (any case), or None."""

    def set_header(self, request: RequestT, name: str, value: str) -> None:
        """Set ``request``'s header ``name`` to ``value``, replacing any other value."""

    def add_header(self, request: RequestT, name: str, value: str) -> None:
        """Add the header ``name`` to ``request``, which has none of that name."""

    def replayable_copy(self, request: RequestT) -> RequestT | None:
        """A copy of ``request`` ready to send again, or None if its body cannot be."""

    def status(self, response: ResponseT_contra) -> int:
        """``response``'s status code."""

    def request_of(self, response: ResponseT_contra) -> RequestT:
        """The request ``response`` answers (after redirects, the last one)."""

    def release(self, response: ResponseT_contra) -> None:
        """Give up the body of ``response``, a 401 about to be answered by a retry, unread
        (a hostile server could send an endless or dripping one), and close its
        connection; the response keeps an empty body."""

    def cookies_set(self, response: ResponseT_contra, request: RequestT) -> str | None:
        """The cookies ``response`` set that apply to ``request``, as a ``Cookie`` value."""


def wants_token(provider: Carrying, request: RequestT, client: Client[RequestT, Any]) -> bool:
    """Whether ``request`` should get the token: it goes to the provider's host and, for a
    header carrier, has no ``Authorization`` header of the caller's. Fetches nothing."""
    if not client.on_host(provider.host, request):
        return False
    return client.header(request, AUTHORIZATION) is None or provider._carrier() != "header"


def attach(client: Client[RequestT, Any], request: RequestT, credential: Credential) -> bool:
    """Put ``credential`` on ``request``, for which `wants_token` said yes (so a header
    credential's ``Authorization`` is not there yet), unless the caller's own cookie of
    that name is there; return whether it was put on."""
    if credential.kind == "header":
        client.add_header(request, credential.name, credential.value)
        return True
    cookies = client.header(request, COOKIE)
    ours = f"{credential.name}={credential.value}"
    if not cookies:
        client.set_header(request, COOKIE, ours)
    elif credential.name in cookie_pairs(cookies):
        return False  # the caller's own cookie wins
    else:
        client.set_header(request, COOKIE, f"{cookies}; {ours}")
    return True


def carries(client: Client[RequestT, Any], request: RequestT, credential: Credential) -> bool:
    """Whether ``request`` carries ``credential`` (a redirect drops a cookie)."""
    if credential.kind == "header":
        return client.header(request, credential.name) == credential.value
    cookies = client.header(request, COOKIE)
    return cookies is not None and cookie_pairs(cookies).get(credential.name) == credential.value


def cookie_pairs(header: str) -> dict[str, str]:
    """A ``Cookie`` header's ``name=value`` pairs, by name (a later one wins)."""
    pairs = (part.strip().partition("=") for part in header.split(";"))
    return {name: value for name, equals, value in pairs if equals}


def merged_cookies(header: str | None, *added: str, drop: str = "") -> str:
    """``header`` without the cookie ``drop``, with the cookies of each ``added`` header
    (new values win)."""
    pairs = cookie_pairs(header or "")
    pairs.pop(drop, None)
    for more in added:
        pairs.update(cookie_pairs(more))
    return "; ".join(f"{name}={value}" for name, value in pairs.items())


def answer_401(
    provider: Carrying,
    sent: Credential,
    response: ResponseT,
    client: Client[RequestT, ResponseT],
) -> Generator[Fetch, Credential, RequestT | None]:
    """After a 401 ``response`` to a request that carried ``sent``: if it came from the
    provider's host, invalidate the token if it is still the current one and return the
    request to send once more with the new one; None keeps ``response`` (another host, the
    token did not change, or a body that cannot be sent again)."""
    request = client.request_of(response)
    if not client.on_host(provider.host, request) or not carries(client, request, sent):
        return None
    provider._invalidate_if_current(sent.value)
    fresh = yield FETCH  # should it raise, the adapter closes ``response``
    if fresh.value == sent.value:
        logger.debug(
            "401 from %s; the token did not change (a static token, or one fetched after a "
            "401 moments ago: a 401 that a new token did not cure is not refreshed again "
            "within reauth_interval), not retrying",
            provider.host,
        )
        return None
    retry = client.replayable_copy(request)
    if retry is None:
        logger.debug("401 from %s; the request body is a stream, not retrying", provider.host)
        return None
    # The cookies the 401 set go along (a session nonce, say); the fresh token wins.
    cookies = client.header(retry, COOKIE)
    added = client.cookies_set(response, retry) or ""
    client.release(response)  # its body is not read: the 401 said all we need
    if fresh.kind == "header":
        client.set_header(retry, fresh.name, fresh.value)
        if added:
            client.set_header(retry, COOKIE, merged_cookies(cookies, added))
    else:
        ours = f"{fresh.name}={fresh.value}"
        client.set_header(retry, COOKIE, merged_cookies(cookies, added, ours, drop=sent.name))
    logger.debug("401 from %s; retrying once with a fresh token", provider.host)
    return retry


def auth_flow(
    provider: Carrying, request: RequestT, client: Client[RequestT, ResponseT]
) -> Generator[RequestT | Fetch, Any, None]:
    """The whole flow for one request. Yields `FETCH` (send back the current `Credential`)
    or a request to send (send back its response); ends when the last response stands."""
    sent: Credential | None = None
    if wants_token(provider, request, client):
        credential: Credential = yield FETCH
        if attach(client, request, credential):
            sent = credential
    response: ResponseT = yield request
    if sent is None or client.status(response) != 401:
        return
    retry = yield from answer_401(provider, sent, response, client)
    if retry is not None:
        yield retry


def resolved(
    flow: Generator[Fetch, Credential, ResultT], fetch: Callable[[], Credential]
) -> ResultT:
    """Run ``flow`` to its end, answering each `FETCH` with ``fetch()``; its result."""
    try:
        next(flow)
        while True:
            flow.send(fetch())
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
