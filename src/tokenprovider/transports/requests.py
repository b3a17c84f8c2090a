"""The 401 handling behind every provider's `requests` auth.

On a 401 from the provider's own host, the token that was sent is invalidated if it is
still the current one (so many callers hitting 401 together cause one refresh) and the
request is sent once more with the fresh token, when its body can be sent again.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import requests

    from tokenprovider.core.host import Host

logger = logging.getLogger("tokenprovider")
_RETRY_MARK = "_tokenprovider_retry"


class AuthHook(Protocol):
    """A `requests` response hook."""

    def __call__(self, response: requests.Response, **kwargs: Any) -> requests.Response: ...


class _Refreshable(Protocol):
    host: Host

    def _authorization(self) -> str: ...

    def _invalidate_if_current(self, sent_authorization: str) -> None: ...


def retry_with_fresh_token(
    provider: _Refreshable, response: requests.Response, send_kwargs: dict[str, Any]
) -> requests.Response:
    """Handle a 401 ``response``: refresh the token and resend once, or return it as is."""
    request = response.request
    if getattr(request, _RETRY_MARK, False):
        return response  # the answer to our own retry: never retry twice
    sent = request.headers.get("Authorization")
    if sent is None or request.url is None or not provider.host.matches(request.url):
        return response
    # Read the body (it stays available to the caller) and free the connection first,
    # so nothing leaks if getting a new token raises.
    response.content  # noqa: B018
    response.close()
    provider._invalidate_if_current(sent)
    fresh = provider._authorization()
    if fresh == sent:
        logger.debug("401 from %s; the token did not change, not retrying", provider.host)
        return response
    retry = _replayable_copy(request)
    if retry is None:
        logger.debug("401 from %s; the request body is a stream, not retrying", provider.host)
        return response
    retry.headers["Authorization"] = fresh
    request.headers["Authorization"] = fresh  # requests follows redirects from the original
    setattr(retry, _RETRY_MARK, True)
    _carry_cookies(request, retry, response)
    logger.debug("401 from %s; retrying once with a fresh token", provider.host)
    second: requests.Response = response.connection.send(retry, **send_kwargs)
    second.history.append(response)
    second.request = retry
    return second


def _carry_cookies(
    request: requests.PreparedRequest, retry: requests.PreparedRequest, response: requests.Response
) -> None:
    """Add the cookies the 401 set to ``retry``'s Cookie header (new values win)."""
    from requests.cookies import (  # noqa: PLC0415 - requests is loaded
        RequestsCookieJar,
        extract_cookies_to_jar,
        get_cookie_header,
    )

    if "Set-Cookie" not in response.headers:
        return
    fresh = RequestsCookieJar()
    extract_cookies_to_jar(fresh, request, response.raw)  # type: ignore[no-untyped-call]
    probe = retry.copy()
    probe.headers.pop("Cookie", None)  # the jar adds nothing to a request that has one
    added = get_cookie_header(fresh, probe)  # type: ignore[no-untyped-call]
    if not added:
        return
    pairs = dict(
        part.split("=", 1)
        for header in (retry.headers.get("Cookie", ""), added)
        for part in header.split("; ")
        if "=" in part
    )
    retry.headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in pairs.items())


def _replayable_copy(request: requests.PreparedRequest) -> requests.PreparedRequest | None:
    """A copy of ``request`` ready to send again, or None if its body cannot be replayed."""
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
