"""The interface of an assertion source: something that yields a token when asked."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar


class AssertionSource(ABC):
    """Yields a JWT or other token on demand, fresh on every token request: a client
    assertion, a jwt-bearer grant's ``assertion``, a token exchange's ``subject_token``.

    ``description`` names the source in messages (``"file /var/run/secrets/tokens/x"``,
    ``"GitHub Actions OIDC (...)"``, ``"profile 'tds'"``); ``expired_hint`` says what to
    check when it hands out a token that has already expired; ``token_type`` what its
    tokens are. Read a source through
    `tokenprovider.sources.read_assertion`, which bounds the read in time and checks the
    value. `repr()` shows the class and the description only, never a token.
    """

    description: str
    expired_hint: ClassVar[str] = "check the source and this machine's clock"
    #: What its tokens are when a token exchange names no type: the last word of an RFC
    #: 8693 token type (``"jwt"``; another provider's token is an ``"access_token"``).
    token_type: ClassVar[str] = "jwt"

    @abstractmethod
    def read(self, audience: str | None) -> str:
        """A fresh token for ``audience`` (None: the source's default); may raise
        `tokenprovider.errors.AssertionSourceError`."""

    def cache_identity(self) -> object | None:
        """What makes this source's tokens differ, for the key of a shared cache: JSON
        data, no secret. None (the default) keeps a token got with it from being shared
        at all: a file, a variable or a CI job's OIDC token may name another workload in
        another process (every pod has the same projected path), and a plugin that does
        not say may too. Another provider's token has that provider's identity."""
        return None

    def cache_secret(self) -> str | None:
        """A credential behind this source's tokens, which joins the provider's own in a
        shared cache's key (salted and hashed, never stored): another provider's secret.
        None (the default): none."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({describe(self)!r})"


def describe(source: object) -> str:
    """The ``description`` of ``source``, or its class name if it has none that is a str."""
    description = getattr(source, "description", None)
    return description if isinstance(description, str) else type(source).__name__
