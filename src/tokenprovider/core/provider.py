"""`TokenProvider`: the abstract base every provider implements."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any, NoReturn

from tokenprovider._masking import masked_repr
from tokenprovider.core.host import Host
from tokenprovider.transports.requests import AuthHook, retry_with_fresh_token

if TYPE_CHECKING:
    import requests

_AUTHORIZATION = "authorization"


class TokenProvider(abc.ABC):
    """Supplies a token for one host and attaches it to `requests` calls.

    A provider is a `requests` auth: ``requests.get(url, auth=provider)``. It sets
    ``Authorization`` only on requests to its own `host`, never overrides a header the
    caller set, and on a 401 from its host fetches a fresh token and retries once.

    Attribute display follows one rule everywhere (``repr()``, errors, the CLI): a public
    attribute is shown, a ``_private`` one only as set or not set, and a ``__hidden`` one
    not at all.
    """

    host: Host

    def __init__(self, host: Host | str) -> None:
        self.host = Host.coerce(host)
        self.__response_hook: AuthHook = self.__on_response

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Calling a provider *is* its auth handler, without an extra call on the hot path,
        # unless the subclass defines its own __call__.
        if "__call__" not in cls.__dict__:
            cls.__call__ = cls.requests_auth_handler  # type: ignore[method-assign]

    @property
    @abc.abstractmethod
    def token(self) -> str:
        """The current token, fetched or refreshed as needed."""

    async def async_token(self) -> str:
        """The current token, for a coroutine: as `token`, but a fetch never blocks the
        event loop (it runs in a worker thread, shared with every other caller)."""
        import asyncio  # noqa: PLC0415 - asyncio loads only for async callers

        return await asyncio.to_thread(_read_token, self)

    async def _async_header_item(self) -> tuple[str, str]:
        """`_header_item` for a coroutine, without blocking the event loop."""
        import asyncio  # noqa: PLC0415 - asyncio loads only for async callers

        return await asyncio.to_thread(self._header_item)

    def invalidate_cache(self) -> None:  # noqa: B027 - a no-op for static tokens
        """Forget any cached token so the next use fetches a new one."""

    def requests_auth_handler(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        """Attach the token to ``r`` if it goes to this provider's host; return ``r``."""
        # The hot path: requests' CaseInsensitiveDict keeps lower-cased names in `_store`;
        # reading and writing it directly saves most of the cost of attaching a header.
        try:
            store = r.headers._store  # type: ignore[attr-defined]
        except AttributeError:
            return self.__attach_to_mapping(r)
        if _AUTHORIZATION in store:
            return r
        url = r.url
        if url is None or not (url.startswith(self.host.prefixes) or self.host.matches(url)):
            return r
        store[_AUTHORIZATION] = self._header_item()
        r.hooks["response"].append(self.__response_hook)  # a duplicate is harmless
        return r

    def __attach_to_mapping(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        """The handler for a request whose headers are a plain mapping."""
        if any(name.lower() == _AUTHORIZATION for name in r.headers):
            return r
        if r.url is None or not self.host.matches(r.url):
            return r
        r.headers["Authorization"] = self._authorization()
        r.hooks["response"].append(self.__response_hook)
        return r

    __call__ = requests_auth_handler

    def session(self) -> requests.Session:
        """A new `requests.Session` with this provider installed as its auth."""
        import requests  # noqa: PLC0415 - requests loads only when a session is wanted

        session = requests.Session()
        session.auth = self
        return session

    def auth_header(self) -> tuple[str, str]:
        """The header this provider attaches to requests for its host, as ``(name,
        value)``: ``("Authorization", "Bearer ...")`` unless the provider sends its
        token otherwise (a TDS provider with ``auth_style="cookie"`` sends a cookie)."""
        return self._header_item()

    def _authorization(self) -> str:
        """The ``Authorization`` header value for the current token."""
        return self._format_authorization(self.token)

    def _header_item(self) -> tuple[str, str]:
        """``("Authorization", value)``, as requests' header dict stores it."""
        return ("Authorization", self._authorization())

    def _format_authorization(self, token: str) -> str:
        """Turn a token into an ``Authorization`` header value (``Bearer`` by default)."""
        return "Bearer " + token

    def _invalidate_if_current(self, sent_authorization: str) -> None:
        """Invalidate the cached token if it is still the one behind ``sent_authorization``."""
        if self._authorization() == sent_authorization:
            self.invalidate_cache()

    def __on_response(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        if response.status_code != 401:
            return response
        return retry_with_fresh_token(self, response, kwargs)

    def __repr__(self) -> str:
        return masked_repr(self)

    def __reduce__(self) -> NoReturn:
        raise TypeError(
            f"{type(self).__name__} cannot be pickled because it holds credentials; "
            "build the provider in each process instead (for example with load_provider())"
        )


def _read_token(provider: TokenProvider) -> str:
    return provider.token
