"""The settings of a client without a long-lived secret, checked together: how it
authenticates (``client_auth`` with its key or assertion) and the assertion grants
(``jwt_bearer``, ``token_exchange``) with their sources and token types.

`Secretless` refuses every combination that cannot work, naming the setting to change,
and builds the `ClientAuthentication` and `AssertionGrant` that `OAuthTokenProvider` uses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from tokenprovider import _untrusted as untrusted
from tokenprovider._extras import require_installed
from tokenprovider._suggest import did_you_mean
from tokenprovider.errors import ConfigurationError
from tokenprovider.providers._assertion_grants import GRANTS, AssertionGrant, token_type
from tokenprovider.providers._client_auth import (
    ALGORITHMS,
    ASSERTION_METHODS,
    AUDIENCES,
    CLIENT_AUTH_METHODS,
    DEFAULT_LIFETIME,
    MAX_LIFETIME,
    NEEDED_BY,
    AssertionSigner,
    ClientAuthentication,
)
from tokenprovider.providers._person import PERSON_GRANTS

if TYPE_CHECKING:
    from tokenprovider.retry import RetryPolicy
    from tokenprovider.secret_refs import SecretReference
    from tokenprovider.sources.base import AssertionSource

#: The settings of a token exchange, refused with any other grant.
EXCHANGE_SETTINGS = (
    "subject_token",
    "subject_token_type",
    "actor_token",
    "actor_token_type",
    "requested_token_type",
    "resource",
)
_SIGNING_SETTINGS = ("private_key", "key_id", "assertion_algorithm")


def _words(names: tuple[str, ...]) -> str:
    return ", ".join(repr(name) for name in names[:-1]) + f" or {names[-1]!r}"


class Secretless:
    """The checked settings (see the module); ``sources`` holds the assertion sources
    (`AssertionSource`, from a setting such as ``"file:PATH"``; GitHub Actions' under the
    provider's ``retry``), ``token_types`` the token type URNs (a source's subject type
    defaults to its own: an access token for another provider's token, else a JWT),
    ``grant`` the assertion grant (None for another)."""

    def __init__(
        self,
        client_id: str,
        *,
        grant_type: str,
        client_auth: str,
        has_secret: bool,
        private_key: str | SecretReference | None,
        key_id: str | None,
        algorithm: str | None,
        assertion_audience: str,
        lifetime: float,
        sources: Mapping[str, str | AssertionSource | None],
        token_types: Mapping[str, str | None],
        resource: str | None,
        scopes: tuple[str, ...],
        audience: str | None,
        extra_params: Mapping[str, str] | None,
        retry: RetryPolicy,
    ) -> None:
        self.client_id = client_id
        self.client_auth = client_auth
        self.person = grant_type in PERSON_GRANTS
        self.sources = {
            name: None if value is None else _source(value, retry)
            for name, value in sources.items()
        }
        given = {name for name, value in self.sources.items() if value is not None}
        given |= {name for name, value in token_types.items() if value is not None}
        if resource is not None:
            given.add("resource")
        self.__check_client_auth(grant_type, has_secret, private_key, given)
        self.__check_signing(private_key, key_id, algorithm, assertion_audience, lifetime)
        self.__check_grant(grant_type, given)
        if resource is not None and not _is_uri(resource):
            raise ConfigurationError(
                "resource must be an absolute URI without a fragment (RFC 8693 §2.1), "
                "such as 'https://api.example.com/'"
            )
        self.private_key = private_key
        self.key_id = key_id
        self.algorithm = algorithm
        self.lifetime = float(lifetime)
        self.resource = resource
        self.signer = (
            AssertionSigner(
                client_id,
                private_key=private_key,
                key_id=key_id,
                algorithm=algorithm,
                lifetime=float(lifetime),
            )
            if client_auth == "client_secret_jwt" or private_key is not None
            else None
        )
        if self.signer is not None:  # said now, so that config check says it
            require_installed("jwt", NEEDED_BY)
            if private_key is not None:  # HS256 needs no cryptography
                require_installed("cryptography", NEEDED_BY, "jwt")
        self.assertion_audience = assertion_audience
        self.token_types = {
            name: None if value is None else token_type(value, name)
            for name, value in token_types.items()
        }
        self.grant = self.__grant(grant_type, resource, scopes, audience, extra_params)

    def authentication(
        self, read: Callable[[AssertionSource, float], str], wall_time: Callable[[], float]
    ) -> ClientAuthentication:
        """The client's authentication; a ready-made client assertion is read with
        ``read(source, deadline_at)`` for each request."""
        source = self.sources["assertion"]
        given = None
        if self.client_auth == "private_key_jwt" and self.signer is None:
            assert source is not None  # checked

            def given(deadline_at: float) -> str:
                return read(source, deadline_at)

        return ClientAuthentication(
            self.client_auth,
            self.client_id,
            signer=self.signer,
            given=given,
            audience=self.assertion_audience,
            wall_time=wall_time,
            person=self.person,
        )

    def __check_client_auth(
        self,
        grant_type: str,
        has_secret: bool,
        private_key: object,
        given: set[str],
    ) -> None:
        method = self.client_auth
        if method not in CLIENT_AUTH_METHODS:
            raise ConfigurationError(
                f"client_auth must be {_words(CLIENT_AUTH_METHODS)}, got {method!r}"
            )
        if grant_type in PERSON_GRANTS and (method in ASSERTION_METHODS or given):
            raise ConfigurationError(
                f"a person's login (grant_type {grant_type!r}) authenticates with "
                "client_auth 'none', 'basic' or 'post'; client assertions, assertion and "
                "the token exchange settings apply to a service's grants"
            )
        if method in ("none", "private_key_jwt") and has_secret:
            raise ConfigurationError(
                f"client_auth = {method!r} sends no client_secret: remove client_secret"
            )
        if method == "client_secret_jwt":
            if not has_secret:
                raise ConfigurationError(
                    "client_auth = 'client_secret_jwt' signs its assertion with the "
                    "client_secret: set client_secret"
                )
            if private_key is not None:
                raise ConfigurationError(
                    "private_key applies to client_auth = 'private_key_jwt', not "
                    "'client_secret_jwt' (which signs with the client_secret)"
                )
        if method != "private_key_jwt":
            return
        client_assertion = "assertion" in given and grant_type != "jwt_bearer"
        if private_key is None and not client_assertion:
            raise ConfigurationError(
                "client_auth = 'private_key_jwt' needs private_key (a secret reference to "
                "a PEM private key) or assertion (a source of a ready-made client "
                "assertion, such as a federated token file: 'file:PATH')"
            )
        if private_key is not None and client_assertion:
            raise ConfigurationError(
                "client_auth = 'private_key_jwt' signs with private_key or sends the "
                "assertion source's token, not both: remove one"
            )

    def __check_signing(
        self,
        private_key: object,
        key_id: object,
        algorithm: object,
        assertion_audience: object,
        lifetime: object,
    ) -> None:
        settings = {
            "private_key": private_key,
            "key_id": key_id,
            "assertion_algorithm": algorithm,
        }
        set_here = [name for name in _SIGNING_SETTINGS if settings[name] is not None]
        if set_here and self.client_auth != "private_key_jwt":
            raise ConfigurationError(
                f"{', '.join(set_here)} apply to client_auth = 'private_key_jwt'"
            )
        if private_key is None and (key_id is not None or algorithm is not None):
            raise ConfigurationError("key_id and assertion_algorithm need private_key")
        if key_id is not None and not (
            isinstance(key_id, str) and key_id and len(key_id) <= 200 and key_id.isprintable()
        ):
            raise ConfigurationError("key_id must be a short printable string")
        if algorithm is not None and algorithm not in ALGORITHMS:
            raise ConfigurationError(
                f"assertion_algorithm must be {_words(ALGORITHMS)}, got {algorithm!r}"
            )
        signs = self.client_auth == "client_secret_jwt" or private_key is not None
        if not signs and (assertion_audience != "token_endpoint" or lifetime != DEFAULT_LIFETIME):
            raise ConfigurationError(
                "assertion_audience and assertion_lifetime apply to a signed client "
                "assertion: client_auth = 'private_key_jwt' with private_key, or "
                "'client_secret_jwt'"
            )
        if assertion_audience not in AUDIENCES and not _is_url(assertion_audience):
            given = untrusted.quote(repr(assertion_audience), 60)
            near = (
                did_you_mean(assertion_audience.lower().replace("-", "_"), AUDIENCES)
                if isinstance(assertion_audience, str)
                else ""
            )
            raise ConfigurationError(
                f"assertion_audience must be {_words(AUDIENCES)} or the URL the server "
                f"wants as aud, such as 'https://login.example.com/'; got {given}{near}"
            )
        if (
            isinstance(lifetime, bool)
            or not isinstance(lifetime, (int, float))
            or not 1 <= lifetime <= MAX_LIFETIME
        ):
            raise ConfigurationError(
                f"assertion_lifetime must be a number of seconds from 1 to {MAX_LIFETIME:g}, "
                f"got {lifetime!r}"
            )

    def __check_grant(self, grant_type: str, given: set[str]) -> None:
        exchange = sorted(given.intersection(EXCHANGE_SETTINGS))
        if exchange and grant_type != "token_exchange":
            raise ConfigurationError(
                f"{', '.join(exchange)} apply to grant_type = 'token_exchange'"
            )
        if grant_type == "token_exchange" and "subject_token" not in given:
            raise ConfigurationError(
                "grant_type = 'token_exchange' needs subject_token: a source such as "
                "'file:PATH', 'github-actions' or 'profile:NAME'"
            )
        if "actor_token_type" in given and "actor_token" not in given:
            raise ConfigurationError("actor_token_type needs actor_token")
        if grant_type == "jwt_bearer" and "assertion" not in given:
            raise ConfigurationError(
                "grant_type = 'jwt_bearer' needs assertion: a source such as 'file:PATH', "
                "'github-actions' or 'profile:NAME'"
            )
        if (
            "assertion" in given
            and grant_type != "jwt_bearer"
            and self.client_auth != "private_key_jwt"
        ):
            raise ConfigurationError(
                "assertion is the jwt_bearer grant's assertion, or the client assertion "
                "of client_auth = 'private_key_jwt': set one of them"
            )

    def __grant(
        self,
        grant_type: str,
        resource: str | None,
        scopes: tuple[str, ...],
        audience: str | None,
        extra_params: Mapping[str, str] | None,
    ) -> AssertionGrant | None:
        if grant_type not in GRANTS:
            return None
        types = self.token_types
        subject, actor = self.sources["subject_token"], self.sources["actor_token"]
        return AssertionGrant(
            grant_type,
            assertion=self.sources["assertion"] if grant_type == "jwt_bearer" else None,
            subject=subject,
            subject_type=types["subject_token_type"] or _default_type(subject),
            actor=actor,
            actor_type=types["actor_token_type"] or _default_type(actor),
            requested_type=types["requested_token_type"],
            resource=resource,
            scopes=scopes,
            audience=audience,
            extra_params=extra_params,
        )


def _source(setting: str | AssertionSource, retry: RetryPolicy) -> AssertionSource:
    """The source ``setting`` names; a GitHub Actions source under the provider's retry
    policy. (The sources load only for a provider that has one.)"""
    from tokenprovider.sources import GitHubActionsSource, source_from_setting  # noqa: PLC0415

    source = source_from_setting(setting)
    return source.under(retry) if isinstance(source, GitHubActionsSource) else source


def _default_type(source: AssertionSource | None) -> str | None:
    """The token type of a source's token when no setting says: the source's own
    (another provider's is an access token; a file's or GitHub Actions' a JWT)."""
    return None if source is None else token_type(source.token_type, "token_type")


def _is_url(value: object) -> bool:
    if not isinstance(value, str) or not value.isprintable() or " " in value:
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _is_uri(value: object) -> bool:
    if not isinstance(value, str) or not value.isprintable() or " " in value or "#" in value:
        return False
    scheme, colon, rest = value.partition(":")
    return bool(colon and rest and scheme.isascii() and scheme[:1].isalpha())
