"""The `requests` adapter: every provider's `requests` auth, following `_rules`.

A requests auth is a call on the prepared request (`header_handler`, its twin
`cached_header_handler` for the engine's providers, or `handler` for a
provider that says how its token travels) plus a response hook for the 401 answer
(`response_hook`). `requests` itself is imported only by the code that needs it at run
time, so that ``import tokenprovider`` stays light.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from tokenprovider.transports import _rules as rules
from tokenprovider.transports._rules import AUTHORIZATION, Credential

if TYPE_CHECKING:
    import requests

    from tokenprovider.core.cached import CachedTokenProvider
    from tokenprovider.core.host import Host
    from tokenprovider.core.provider import TokenProvider

_RETRY_MARK = "_tokenprovider_retry"


def header_handler(
    provider: TokenProvider, r: requests.PreparedRequest
) -> requests.PreparedRequest:
    """Attach the token to ``r`` if it goes to this provider's host; return ``r``.

    The hot path, for a provider whose token travels in ``Authorization``: the steps of
    `_rules.wants_token` and `_rules.attach` for that header, with requests' header dict
    read directly (its `_store`, keyed by the lower-cased name), which saves most of the
    cost of attaching a header.
    """
    try:
        store = r.headers._store  # type: ignore[attr-defined]
    except AttributeError:
        return handler(provider, r)
    if "authorization" in store:  # the `_store` key of "Authorization": lower-cased
        return r  # the caller's own header
    url = r.url
    host = provider.host
    if url is None or not (host._usual_from <= url < host._usual_until or host.matches(url)):
        return r
    store["authorization"] = provider._header_item()
    r.hooks["response"].append(provider._requests_hook)  # a duplicate is harmless
    return r


def cached_header_handler(
    provider: CachedTokenProvider, r: requests.PreparedRequest
) -> requests.PreparedRequest:
    """`header_handler` for a `CachedTokenProvider` that keeps the engine's `_header_item`.

    The same steps, but a token that is not yet due is read from the engine's snapshot
    directly, as `_header_item` would read it, which saves a method call on every request
    (a tenth of the hot path); a token that is due goes through `_header_item`. This is
    the one place outside the engine that reads its (name-mangled) snapshot and clock.
    """
    try:
        store = r.headers._store  # type: ignore[attr-defined]
    except AttributeError:
        return handler(provider, r)
    if "authorization" in store:  # the `_store` key of "Authorization": lower-cased
        return r  # the caller's own header
    url = r.url
    host = provider.host
    if url is None or not (host._usual_from <= url < host._usual_until or host.matches(url)):
        return r
    snapshot = provider._CachedTokenProvider__snapshot  # type: ignore[attr-defined]
    now = provider._CachedTokenProvider__now  # type: ignore[attr-defined]
    if now() < snapshot.refresh_at:  # (as provider.__now(), CPython looks it up slower)
        store["authorization"] = snapshot.header
    else:
        store["authorization"] = provider._header_item()
    r.hooks["response"].append(provider._requests_hook)  # a duplicate is harmless
    return r


def handler(provider: TokenProvider, r: requests.PreparedRequest) -> requests.PreparedRequest:
    """Attach the token to ``r`` as the provider's `_credential` says (a header or a
    cookie) if it goes to this provider's host; return ``r``."""
    if not hasattr(r, "hooks"):  # not a requests.PreparedRequest: httpx's auth=provider?
        kind = f"{type(r).__module__}.{type(r).__qualname__}"
        raise TypeError(
            f"{type(provider).__name__} is a requests auth, and was given a {kind}; "
            "with httpx, use auth=provider.httpx_auth()"
        )
    if not rules.wants_token(provider, r, CLIENT):
        return r
    credential = provider._credential()
    if not rules.attach(CLIENT, r, credential):
        return r
    if credential.kind == "header":
        r.hooks["response"].append(provider._requests_hook)
    else:  # a cookie's name is not in the request's headers: the hook is told what was sent
        r.hooks["response"].append(functools.partial(_on_response, provider, sent=credential))
    return r


def response_hook(provider: TokenProvider) -> functools.partial[requests.Response]:
    """The response hook `header_handler` registers for ``provider``: the 401 answer."""
    return functools.partial(_on_response, provider)


def _on_response(
    provider: TokenProvider,
    response: requests.Response,
    sent: Credential | None = None,
    **send_kwargs: Any,
) -> requests.Response:
    """Answer a 401 to a request that carried the token (``sent``; None: the
    ``Authorization`` header it has): resend it once with a fresh token, or return
    ``response`` as it is (see `_rules.answer_401`)."""
    if response.status_code != 401:
        return response
    request = response.request
    if getattr(request, _RETRY_MARK, False):
        return response  # the answer to our own retry: never retry twice
    if sent is None:
        value = request.headers.get(AUTHORIZATION)
        if value is None:
            return response
        sent = Credential("header", AUTHORIZATION, value)
    answer = rules.answer_401(provider, sent, response, CLIENT)
    try:
        retry = rules.resolved(answer, provider._credential)
    except BaseException:
        response.close()  # getting the new token failed: free the 401's connection
        raise
    if retry is None:
        return response
    if sent.kind == "header":  # requests follows a redirect of the retry from the original
        request.headers[AUTHORIZATION] = retry.headers[AUTHORIZATION]
    setattr(retry, _RETRY_MARK, True)
    second: requests.Response = response.connection.send(retry, **send_kwargs)
    second.history.append(response)
    second.request = retry
    return second


def session(provider: TokenProvider) -> requests.Session:
    """A new `requests.Session` with ``provider`` installed as its auth."""
    import requests  # noqa: PLC0415 - requests loads only when a session is wanted

    new = requests.Session()
    new.auth = provider
    return new


class _Requests:
    """`_rules.Client` for `requests`: prepared requests and their responses."""

    def on_host(self, host: Host, request: requests.PreparedRequest) -> bool:
        return request.url is not None and host.matches(request.url)

    def header(self, request: requests.PreparedRequest, name: str) -> str | None:
        headers = request.headers
        if hasattr(headers, "_store"):  # a CaseInsensitiveDict
            return headers.get(name)
        lower = name.lower()  # a plain mapping
        return next((value for key, value in headers.items() if key.lower() == lower), None)

    def set_header(self, request: requests.PreparedRequest, name: str, value: str) -> None:
        request.headers[name] = value

    add_header = set_header

    def replayable_copy(self, request: requests.PreparedRequest) -> requests.PreparedRequest | None:
        from requests.utils import rewind_body  # noqa: PLC0415 - requests is loaded

        body = request.body
        if body is None or isinstance(body, (bytes, str)):
            return request.copy()
        position = getattr(request, "_body_position", None)
        if not isinstance(position, int):
            return None
        retry = request.copy()
        rewind_body(retry)
        return retry

    def status(self, response: requests.Response) -> int:
        return response.status_code

    def request_of(self, response: requests.Response) -> requests.PreparedRequest:
        return response.request

    def release(self, response: requests.Response) -> None:
        response.close()  # unread, so requests closes the socket rather than pool it
        response._content = b""  # what .content gives from now on
        response._content_consumed = True  # type: ignore[attr-defined]

    def cookies_set(
        self, response: requests.Response, request: requests.PreparedRequest
    ) -> str | None:
        from requests.cookies import (  # noqa: PLC0415 - requests is loaded
            RequestsCookieJar,
            extract_cookies_to_jar,
            get_cookie_header,
        )

        if "Set-Cookie" not in response.headers:
            return None
        fresh = RequestsCookieJar()
        extract_cookies_to_jar(fresh, response.request, response.raw)  # type: ignore[no-untyped-call]
        probe = request.copy()
        probe.headers.pop("Cookie", None)  # the jar adds nothing to a request that has one
        added: str | None = get_cookie_header(fresh, probe)  # type: ignore[no-untyped-call]
        return added


CLIENT = _Requests()
