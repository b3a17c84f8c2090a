"""`TokenProvider`: the abstract base every provider implements."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from tokenprovider._extras import require
from tokenprovider._masking import masked_repr
from tokenprovider.core.host import Host
from tokenprovider.transports import requests as requests_adapter
from tokenprovider.transports._rules import Carrier, Credential

__all__ = ["Carrier", "Credential", "TokenProvider"]

if TYPE_CHECKING:
    import httpx
    import requests


#: The fast handlers for the Authorization header (`TokenProvider`'s, and the engine's).
_HEADER_HANDLERS = (requests_adapter.header_handler, requests_adapter.cached_header_handler)


class TokenProvider(abc.ABC):
    """Supplies a token for one host and attaches it to `requests` calls.

    A provider is a `requests` auth: ``requests.get(url, auth=provider)``. It sets
    ``Authorization`` only on requests to its own `host`, never overrides a header the
    caller set, and on a 401 from its host fetches a fresh token and retries once.

    A provider only gets tokens and says how they travel (`_carrier`, `_credential`); the
    adapters in `tokenprovider.transports` attach them, following one set of rules.

    Attribute display follows one rule everywhere (``repr()``, errors, the CLI): a public
    attribute is shown, a ``_private`` one only as set or not set, and a ``__hidden`` one
    not at all.
    """

    host: Host
    _hidden_attributes: ClassVar[frozenset[str]] = frozenset({"_requests_hook", "_last_credential"})

    def __init__(self, host: Host | str) -> None:
        self.host = Host.coerce(host)
        #: The response hook the requests handler registers (one per provider, so that
        #: registering it allocates nothing).
        self._requests_hook = requests_adapter.response_hook(self)
        self._last_credential = _NO_CREDENTIAL  # what `_credential` returned last

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A class that says how its tokens travel gets the handler that asks it on each
        # request; the others keep the fast one for the Authorization header.
        if cls.requests_auth_handler in _HEADER_HANDLERS and (
            cls._carrier is not TokenProvider._carrier
        ):
            cls.requests_auth_handler = requests_adapter.handler
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

    #: Attach the token to a `requests.PreparedRequest` going to this provider's host.
    requests_auth_handler = requests_adapter.header_handler
    __call__ = requests_auth_handler

    def session(self) -> requests.Session:
        """A new `requests.Session` with this provider installed as its auth."""
        return requests_adapter.session(self)

    def httpx_auth(self) -> httpx.Auth:
        """An `httpx.Auth` for `httpx.Client` and `httpx.AsyncClient` that attaches this
        provider's token by the rules of the requests handler: its host only, never over
        the caller's own header, and one retry with a fresh token after a 401. Needs the
        ``httpx`` extra."""
        require("httpx", needed_by="provider.httpx_auth()")
        from tokenprovider.transports.httpx import ProviderAuth  # noqa: PLC0415 - loads httpx

        return ProviderAuth(self)

    def auth_header(self) -> tuple[str, str]:
        """The header this provider attaches to requests for its host, as ``(name,
        value)``: ``("Authorization", "Bearer ...")`` unless the provider sends its
        token otherwise (a TDS provider with ``auth_style="cookie"`` sends a cookie)."""
        credential = self._credential()
        if credential.kind == "cookie":
            return ("Cookie", f"{credential.name}={credential.value}")
        return (credential.name, credential.value)

    # -- how the token travels: read by tokenprovider.transports ---------------------

    def _carrier(self) -> Carrier:
        """How this provider's token travels, known without fetching it.

        ``"header"`` (the default): in ``Authorization``, as `_header_item` (or, in a
        coroutine, `_async_header_item`) gives it; the transports read that. ``"cookie"``:
        a subclass that says so also implements `_credential` and `_async_credential`,
        which name the cookie, and the transports read those.
        """
        return "header"

    def _credential(self) -> Credential:
        """The current token as a request carries it (fetched or refreshed as needed)."""
        return self._carried(self._header_item())

    async def _async_credential(self) -> Credential:
        """`_credential` for a coroutine, without blocking the event loop."""
        return self._carried(await self._async_header_item())

    def _carried(self, header: tuple[str, str]) -> Credential:
        """The `Credential` for a `_header_item` (one for each token, not for each use)."""
        credential = self._last_credential
        if credential.value is not header[1]:
            credential = self._last_credential = Credential("header", *header)
        return credential

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
        """Invalidate the cached token if it is still the one behind ``sent_authorization``
        (a `Credential.value`)."""
        if self._authorization() == sent_authorization:
            self.invalidate_cache()

    def __repr__(self) -> str:
        return masked_repr(self)

    def __reduce__(self) -> NoReturn:
        raise TypeError(
            f"{type(self).__name__} cannot be pickled because it holds credentials; "
            "build the provider in each process instead (for example with load_provider())"
        )


_NO_CREDENTIAL = Credential("header", "", "")


def _read_token(provider: TokenProvider) -> str:
    return provider.token
