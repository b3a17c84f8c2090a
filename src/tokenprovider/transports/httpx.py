"""The httpx adapter: `TokenProvider.httpx_auth()`, one `httpx.Auth` for `httpx.Client`
and `httpx.AsyncClient`, driving `_rules.auth_flow`.

The flow is the same for both clients; only the way the token is read differs. The sync
flow calls ``provider._credential()``; the async flow awaits
``provider._async_header_item()`` (or, for a cookie, ``provider._async_credential()``),
which never blocks the event loop (a fetch runs off the loop, shared by every caller,
threads and tasks alike). Loaded only by ``httpx_auth()``: httpx is an optional extra.

Where httpx's public API would search a request's headers twice (``Headers.__setitem__``
looks for a header to replace; ``Headers.get`` raises and catches a KeyError for a missing
one), the adapter reads and extends the header list httpx keeps (`Headers._list`) instead,
falling back to the public API if it is not there; tests/test_transport_rules.py checks
that the headers come out as ``Headers`` itself would hold them.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import TYPE_CHECKING, Any

import httpx

from tokenprovider.transports import _rules as rules
from tokenprovider.transports._rules import Credential, Fetch

if TYPE_CHECKING:
    from tokenprovider.core.host import Host
    from tokenprovider.core.provider import TokenProvider

#: How many URL origins an auth remembers the host rule's answer for.
_KNOWN_ORIGINS = 64
#: Header names the rules look up, as httpx keeps them (lower-cased bytes).
_LOWER = {rules.AUTHORIZATION: b"authorization", rules.COOKIE: b"cookie"}


class ProviderAuth(httpx.Auth):
    """Attaches ``provider``'s token to requests for its host (``Authorization``, or the
    provider's cookie), and answers a 401 from that host by retrying once with a fresh
    token when the body can be sent again. Get one with ``provider.httpx_auth()``."""

    def __init__(self, provider: TokenProvider) -> None:
        self._provider = provider
        self._client = _HTTPX(provider.host)
        self._last = Credential("header", "", "")  # the async flow's last header credential

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        provider = self._provider
        flow = rules.auth_flow(provider, request, self._client)
        answer: Any = None
        answered: httpx.Response | None = None  # the last response httpx sent back
        while True:
            try:
                step = flow.send(answer)
            except StopIteration:
                return
            if isinstance(step, Fetch):
                answer = provider._credential()
            else:
                if answered is not None:  # a retry: the 401 goes unread (see _discard)
                    answered.close()
                    _discard(answered)
                answer = answered = yield step

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        provider = self._provider
        flow = rules.auth_flow(provider, request, self._client)
        answer: Any = None
        answered: httpx.Response | None = None  # the last response httpx sent back
        while True:
            try:
                step = flow.send(answer)
            except StopIteration:
                return
            if isinstance(step, Fetch):
                if provider._carrier() != "header":
                    answer = await provider._async_credential()
                    continue
                # What _async_credential does, with one coroutine and two calls less.
                header = await provider._async_header_item()
                answer = self._last
                if answer.value is not header[1]:
                    answer = self._last = Credential("header", *header)
            else:
                if answered is not None:  # a retry: the 401 goes unread (see _discard)
                    await answered.aclose()
                    _discard(answered)
                answer = answered = yield step

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._provider!r})"


class _HTTPX:
    """`_rules.Client` for httpx requests and responses (of one provider's auth)."""

    __slots__ = ("_host", "_origins")

    def __init__(self, host: Host) -> None:
        self._host = host
        #: The host rule's answer by (scheme, user info, host, port) of a request's URL.
        self._origins: dict[tuple[object, ...], bool] = {}

    def on_host(self, host: Host, request: httpx.Request) -> bool:
        url = request.url
        if host is not self._host:
            return host.matches(_origin(url))
        # httpx keeps a URL's parts in `_uri_reference`, a named tuple that starts with
        # (scheme, userinfo, host, port): one slice of it costs a tenth of the URL's
        # properties.
        key: tuple[object, ...]
        try:
            key = url._uri_reference[:4]
        except AttributeError:
            key = (url.scheme, url.userinfo, url.host, url.port)
        known = self._origins.get(key)
        if known is None:
            if len(self._origins) >= _KNOWN_ORIGINS:
                self._origins.clear()
            known = self._origins[key] = host.matches(_origin(url))
        return known

    def header(self, request: httpx.Request, name: str) -> str | None:
        headers = request.headers
        # httpx's Headers keeps (name, lower-cased name, value) triples in `_list`: looking
        # there first saves a KeyError raised and caught for a header that is not set.
        items: list[tuple[bytes, bytes, bytes]] | None
        try:
            items = headers._list
        except AttributeError:
            items = None
        wanted = _LOWER.get(name)
        if items is not None and wanted is not None:
            for _, lower, _ in items:
                if lower == wanted:
                    break
            else:
                return None
        value: str | None = headers.get(name)
        return value

    def set_header(self, request: httpx.Request, name: str, value: str) -> None:
        request.headers[name] = value

    def add_header(self, request: httpx.Request, name: str, value: str) -> None:
        headers = request.headers
        wanted = _LOWER.get(name)
        items: list[tuple[bytes, bytes, bytes]] | None
        try:
            items, encoding = headers._list, headers._encoding or "utf-8"
        except AttributeError:  # not the Headers this was written for
            items = None
        if items is None or wanted is None:
            headers[name] = value
            return
        # Added as Headers.__setitem__ adds a new header, without its search for one to
        # replace (there is none): most of the cost of attaching the token.
        items.append((name.encode(encoding), wanted, value.encode(encoding)))

    def replayable_copy(self, request: httpx.Request) -> httpx.Request | None:
        # A body in memory (bytes, text, form, JSON, or a request that was read) can be
        # sent again; httpx resends the same request object, as its own auths do.
        return request if isinstance(request.stream, httpx.ByteStream) else None

    def status(self, response: httpx.Response) -> int:
        return response.status_code

    def request_of(self, response: httpx.Response) -> httpx.Request:
        return response.request

    def release(self, response: httpx.Response) -> None:
        """Nothing to do here: the auth's drivers close the 401 (sync or async) before
        yielding the retry, and httpx closes a response if the flow raises."""

    def cookies_set(self, response: httpx.Response, request: httpx.Request) -> str | None:
        probe = httpx.Request(request.method, request.url)
        httpx.Cookies(response.cookies).set_cookie_header(probe)
        value: str | None = probe.headers.get("Cookie")
        return value


def _discard(response: httpx.Response) -> None:
    """Give the closed, unread ``response`` an empty body, so that httpx, which reads a
    response before it sends the auth flow's next request, reads nothing: a hostile 401
    could be endless or drip-fed. (httpx keeps a read body in ``_content``.)"""
    response._content = b""


def _origin(url: httpx.URL) -> str:
    """``scheme://host:port/`` of ``url``, for `Host.matches`."""
    return f"{url.scheme}://{url.netloc.decode('ascii')}/"
