"""Another provider's token as an assertion source: `ProviderSource`."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from tokenprovider.sources.base import AssertionSource

if TYPE_CHECKING:
    from tokenprovider.core.provider import TokenProvider


class ProviderSource(AssertionSource):
    """``provider.token``: cached and refreshed by that provider, such as another
    configured profile's (a TDS or an OAuth profile). ``description`` defaults to the
    provider's class and host."""

    _hidden_attributes: ClassVar[frozenset[str]] = frozenset({"_provider"})
    expired_hint = "the provider handed out a token past its exp: check this machine's clock"
    token_type = "access_token"

    def __init__(self, provider: TokenProvider, *, description: str | None = None) -> None:
        self._provider = provider
        host = getattr(provider, "host", None)
        self.description = description or " ".join(
            ["provider", type(provider).__name__, *([f"for {host}"] if host else [])]
        )

    def cache_identity(self) -> object | None:
        """The provider's own cache identity (None if its tokens are its own)."""
        identity = getattr(self._provider, "_cache_identity", None)
        found = identity() if callable(identity) else None
        return None if found is None else ["provider", dict(found)]

    def cache_secret(self) -> str | None:
        """The provider's own secret, if it has one: only who holds it finds a token
        got with the provider's token."""
        secret = getattr(self._provider, "_cache_secret", None)
        found = secret() if callable(secret) else None
        return found if isinstance(found, str) else None

    def read(self, audience: str | None) -> str:
        """The provider's current token (``audience`` is the provider's own business)."""
        return self._provider.token
