"""The grants that trade one token for another: a JWT assertion (RFC 7523 §2.1) and
token exchange (RFC 8693).

`AssertionGrant` holds a grant's settings and turns them into the fields of a token
request, reading its assertion or subject token afresh each time (a federated token
file is renewed underneath the process); `check_exchange` checks what an exchange
issued.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from tokenprovider import _untrusted as untrusted
from tokenprovider.errors import ConfigurationError, MalformedTokenResponseError

if TYPE_CHECKING:
    from tokenprovider.providers._token_endpoint import TokenAnswer
    from tokenprovider.sources import AssertionSource

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
#: ``grant_type`` setting -> the grant's URN.
GRANTS = {"jwt_bearer": JWT_BEARER_GRANT, "token_exchange": TOKEN_EXCHANGE_GRANT}
TOKEN_TYPE_PREFIX = "urn:ietf:params:oauth:token-type:"
#: RFC 8693 §3: the token types a setting may name by their last word.
TOKEN_TYPES = ("access_token", "refresh_token", "id_token", "jwt", "saml1", "saml2")

#: Reads a source (by the fetch's deadline).
Read = Callable[["AssertionSource"], str]


def token_type(value: object, setting: str) -> str:
    """The token type URN ``value`` names: a short name (``"jwt"``, ``"access_token"``,
    ...: `TOKEN_TYPES`) or a URN such as ``urn:ietf:params:oauth:token-type:jwt``."""
    if isinstance(value, str) and value in TOKEN_TYPES:
        return TOKEN_TYPE_PREFIX + value
    if (
        isinstance(value, str)
        and value.startswith("urn:")
        and len(value) <= 200
        and value.isprintable()
        and " " not in value
    ):
        return value
    raise ConfigurationError(
        f"{setting} must be a token type: {', '.join(TOKEN_TYPES)}, or a URN such as "
        f"{TOKEN_TYPE_PREFIX}jwt; got {untrusted.quote(repr(value), 60)}"
    )


class AssertionGrant:
    """A jwt-bearer grant (``assertion``) or a token exchange (``subject`` and its
    ``subject_type``, an optional ``actor``, ``requested_type``, ``resource``), with the
    ``scopes``, ``audience`` and ``extra_params`` of the request."""

    def __init__(
        self,
        grant: str,
        *,
        assertion: AssertionSource | None = None,
        subject: AssertionSource | None = None,
        subject_type: str | None = None,
        actor: AssertionSource | None = None,
        actor_type: str | None = None,
        requested_type: str | None = None,
        resource: str | None = None,
        scopes: tuple[str, ...] = (),
        audience: str | None = None,
        extra_params: Mapping[str, str] | None = None,
    ) -> None:
        self.grant = grant
        self.assertion = assertion
        self.subject = subject
        self.subject_type = subject_type
        self.actor = actor
        self.actor_type = actor_type
        self.requested_type = requested_type
        self.resource = resource
        self.scopes = scopes
        self.audience = audience
        self.extra_params = dict(extra_params or {})

    def fields(self, read: Read) -> dict[str, str]:
        """The token request's fields, each source read with ``read``."""
        form = {"grant_type": GRANTS[self.grant]}
        if self.grant == "jwt_bearer":
            assert self.assertion is not None
            form["assertion"] = read(self.assertion)
        else:
            assert self.subject is not None
            assert self.subject_type is not None
            form["subject_token"] = read(self.subject)
            form["subject_token_type"] = self.subject_type
            if self.actor is not None and self.actor_type is not None:
                form["actor_token"] = read(self.actor)
                form["actor_token_type"] = self.actor_type
            if self.requested_type:
                form["requested_token_type"] = self.requested_type
            if self.resource:
                form["resource"] = self.resource
        if self.audience:
            form["audience"] = self.audience
        if self.scopes:
            form["scope"] = " ".join(self.scopes)
        form.update(self.extra_params)
        return form

    def identity(self) -> list[object] | None:
        """What the grant's token depends on, for a shared cache's key: each source's
        `cache_identity` and the token types; None when a source's token may differ from
        one process to the next (its tokens are then never shared)."""
        sources = []
        for source in (self.assertion, self.subject, self.actor):
            identity = None if source is None else source.cache_identity()
            if source is not None and identity is None:
                return None
            sources.append(identity)
        return [
            self.grant,
            *sources,
            self.subject_type,
            self.actor_type,
            self.requested_type,
            self.resource,
        ]

    def unshared(self) -> str:
        """The first source whose token may differ between processes, in words."""
        named = (("assertion", self.assertion), ("subject_token", self.subject))
        for name, source in (*named, ("actor_token", self.actor)):
            if source is not None and source.cache_identity() is None:
                return f"{name} from {source.description}"
        return "sources"

    def check(self, answer: TokenAnswer, source: str) -> None:
        """`MalformedTokenResponseError` if a token exchange's answer (from ``source``,
        quoted) does not say what it issued (RFC 8693 §2.2.1: ``issued_token_type`` is
        required), or issued another type than the one requested."""
        if self.grant != "token_exchange":
            return
        issued = answer.issued_token_type
        if issued is None:
            raise MalformedTokenResponseError(
                f"{source} answered a token exchange without issued_token_type "
                "(RFC 8693 §2.2.1 requires it); check the token endpoint"
            )
        if self.requested_type and issued != self.requested_type:
            raise MalformedTokenResponseError(
                f"{source} issued a token of type {issued} where "
                f"requested_token_type is {self.requested_type}; check the server's token "
                "exchange policy, or the requested_token_type setting"
            )
