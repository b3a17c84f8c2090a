"""What `LocalOAuthServer` checks in the JWTs it receives, and the JWTs it issues.

Client assertions (``private_key_jwt`` and ``client_secret_jwt``, RFC 7523 §2.2 and OIDC
Core §9, and federated ones signed by a trusted issuer), the jwt-bearer grant's assertion
(RFC 7523 §2.1) and the subject and actor tokens of token exchange (RFC 8693). PyJWT does
the signatures; the claims are checked here, against the server's wall clock, so that each
refusal has its own ``error_description``.
"""

from __future__ import annotations

import functools
import secrets
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from tokenprovider._extras import require
from tokenprovider._untrusted import finite_seconds

from .keys import KeyPair, key_pair

AssertionAudience = Literal["token_endpoint", "issuer", "either"]
AssertionAuth = Literal["private_key_jwt", "client_secret_jwt", "federated"]

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
KEY_ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")
SECRET_ALGORITHM = "HS256"
#: How far in the future an ``iat`` or ``nbf`` may be (clock skew between the parties).
SKEW = 60.0
_REQUESTABLE = (ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE)
_CHECK_SIGNATURE_ONLY = {
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
    "verify_sub": False,
    "verify_jti": False,
}


class RefusedError(Exception):
    """A token request refused: HTTP ``status`` with an RFC 6749 §5.2 error."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


class _BadTokenError(Exception):
    """A JWT that fails a check; the caller decides the status and error code."""


class Settings(Protocol):
    """The server attributes the checks read (`LocalOAuthServer` has them all)."""

    @property
    def url(self) -> str: ...
    @property
    def token_url(self) -> str: ...
    @property
    def clients(self) -> Mapping[str, str]: ...
    @property
    def client_keys(self) -> Mapping[str, str]: ...
    @property
    def federated_clients(self) -> Mapping[str, tuple[str, str]]: ...
    @property
    def trusted_issuers(self) -> Mapping[str, str]: ...
    @property
    def assertion_audience(self) -> AssertionAudience: ...
    @property
    def max_assertion_lifetime(self) -> float: ...
    @property
    def federated_audience(self) -> str: ...
    @property
    def exchange_targets(self) -> Collection[str] | None: ...
    @property
    def wall_clock(self) -> Callable[[], float]: ...


@dataclass(frozen=True)
class TokenExchangeRecord:
    """One token exchange the server granted (RFC 8693)."""

    subject_token_type: str
    subject: str | None
    actor_token_type: str | None
    actor: str | None
    audience: tuple[str, ...]
    resource: tuple[str, ...]
    requested_token_type: str
    scope: tuple[str, ...]
    client_id: str | None


def _first(form: Mapping[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


def _jwt() -> Any:
    return require("jwt", "tokenprovider.testing.LocalOAuthServer")


def _public_key(pem: str, what: str) -> tuple[Any, frozenset[str]]:
    """The key object of a registered PEM public key and the algorithms that suit it."""
    try:
        return _load_public_key(pem)
    except (ValueError, TypeError):
        raise _BadTokenError(f"the key registered for the {what} is not a PEM public key") from None


@functools.lru_cache(maxsize=64)
def _load_public_key(pem: str) -> tuple[Any, frozenset[str]]:
    require("cryptography", "tokenprovider.testing.LocalOAuthServer")
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa  # noqa: PLC0415
    from cryptography.hazmat.primitives.serialization import (  # noqa: PLC0415
        load_pem_public_key,
    )

    key = load_pem_public_key(pem.encode())
    if isinstance(key, rsa.RSAPublicKey):
        return key, frozenset({"RS256", "PS256"})
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return key, frozenset({"ES256"})
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key, frozenset({"EdDSA"})
    return key, frozenset()


def _unverified(token: str, what: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of ``token``, before any check."""
    jwt = _jwt()
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError, TypeError):
        raise _BadTokenError(f"{what} is not a well-formed JWT") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise _BadTokenError(f"{what} is not a well-formed JWT")
    return header, claims


def _verified(token: str, key: Any, algorithm: str, what: str) -> dict[str, Any]:
    jwt = _jwt()
    try:
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=[algorithm], options=_CHECK_SIGNATURE_ONLY
        )
    except (jwt.PyJWTError, ValueError, TypeError):
        raise _BadTokenError(f"{what} signature is invalid") from None
    return claims


def _audiences(claims: Mapping[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list):
        return [item for item in aud if isinstance(item, str)]
    return []


def _check_times(claims: Mapping[str, Any], now: float, what: str) -> float:
    """``exp`` present and in the future, ``nbf`` (if any) not ahead; returns ``exp``."""
    if "exp" not in claims:
        raise _BadTokenError(f"{what} has no exp")
    exp = finite_seconds(claims["exp"])
    if exp is None:
        raise _BadTokenError(f"{what} exp is not a number")
    if exp <= now:
        raise _BadTokenError(f"{what} expired")
    if "nbf" in claims:
        nbf = finite_seconds(claims["nbf"])
        if nbf is None or nbf > now + SKEW:
            raise _BadTokenError(f"{what} is not yet valid")
    return exp


class Verifier:
    """The checks, plus what they remember: seen ``jti`` values, counters, exchanges."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, dict[str, float]] = {}  # client id -> jti -> exp
        self._own: KeyPair | None = None
        self.verified = self.replayed = 0
        self.exchanges: list[TokenExchangeRecord] = []

    def reset_counters(self) -> None:
        """Zero the counters and forget the exchanges (seen jtis stay: replay is replay)."""
        with self._lock:
            self.verified = self.replayed = 0
            self.exchanges.clear()

    # -- the server's own key --------------------------------------------------------------

    def own_key(self) -> KeyPair:
        """The ES256 key of the JWTs the server issues (made on first use)."""
        with self._lock:
            if self._own is None:
                self._own = key_pair("ES256")
            return self._own

    def exchanged(self) -> list[TokenExchangeRecord]:
        """A copy of the exchanges granted."""
        with self._lock:
            return list(self.exchanges)

    def issue_jwt(self, settings: Settings, record: TokenExchangeRecord, lifetime: float) -> str:
        """The JWT a token exchange issues: ``sub``, ``aud``, ``act`` (the actor) and
        ``scope`` from ``record``; ``iss`` is the server."""
        now = int(settings.wall_clock())
        audience = list(record.audience + record.resource)
        body: dict[str, Any] = {
            "sub": record.subject,
            "aud": audience or record.client_id or record.subject,
            "iss": settings.url,
            "iat": now,
            "exp": now + int(max(lifetime, 1)),
            "jti": secrets.token_urlsafe(16),
        }
        if record.actor is not None:
            body["act"] = {"sub": record.actor}
        if record.scope:
            body["scope"] = " ".join(record.scope)
        token: str = _jwt().encode(body, self.own_key().private_pem, algorithm="ES256")
        return token

    # -- client assertions -----------------------------------------------------------------

    @staticmethod
    def kind(form: Mapping[str, list[str]], settings: Settings) -> tuple[AssertionAuth, str | None]:
        """How a request with a client assertion authenticates, and as whom (unverified)."""
        client_id = _first(form, "client_id")
        algorithm: object = None
        try:
            header, claims = _unverified(_first(form, "client_assertion") or "", "assertion")
            algorithm = header.get("alg")
            sub = claims.get("sub")
            client_id = client_id or (sub if isinstance(sub, str) else None)
        except _BadTokenError:
            pass
        if client_id in settings.federated_clients:
            return "federated", client_id
        if algorithm == SECRET_ALGORITHM:
            return "client_secret_jwt", client_id
        return "private_key_jwt", client_id

    def client(self, form: Mapping[str, list[str]], settings: Settings) -> str:
        """The client a ``client_assertion`` authenticates; `RefusedError` 401 otherwise."""
        try:
            return self._client(form, settings)
        except _BadTokenError as exc:
            raise RefusedError(401, "invalid_client", str(exc)) from None

    def _client(self, form: Mapping[str, list[str]], settings: Settings) -> str:
        if _first(form, "client_assertion_type") != CLIENT_ASSERTION_TYPE:
            raise _BadTokenError(f"client_assertion_type must be {CLIENT_ASSERTION_TYPE}")
        token = _first(form, "client_assertion")
        if not token:
            raise _BadTokenError("missing client_assertion")
        header, unverified = _unverified(token, "client assertion")
        given = _first(form, "client_id")
        sub = unverified.get("sub")
        client_id = given or (sub if isinstance(sub, str) else None)
        if client_id is None:
            raise _BadTokenError("client assertion has no sub")
        if client_id in settings.federated_clients:
            return self._federated(token, client_id, settings)
        key, allowed = self._key_of(client_id, settings)
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in allowed:
            raise _BadTokenError("client assertion algorithm is not accepted for this client")
        claims = _verified(token, key, algorithm, "client assertion")
        if given is not None and claims.get("sub") != given:
            raise _BadTokenError("client_id does not match the client assertion")
        if claims.get("iss") != client_id or claims.get("sub") != client_id:
            raise _BadTokenError("client assertion iss and sub must both be the client id")
        expected = {
            "token_endpoint": (settings.token_url,),
            "issuer": (settings.url,),
            "either": (settings.token_url, settings.url),
        }[settings.assertion_audience]
        if not set(expected) & set(_audiences(claims)):
            raise _BadTokenError("client assertion audience is wrong")
        now = settings.wall_clock()
        exp = _check_times(claims, now, "client assertion")
        self._check_iat(claims, now, exp, settings.max_assertion_lifetime)
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise _BadTokenError("client assertion has no jti")
        with self._lock:
            seen = self._seen.setdefault(client_id, {})
            for old in [old for old, until in seen.items() if until <= now]:
                del seen[old]
            if jti in seen:
                self.replayed += 1
                raise _BadTokenError("assertion replayed")
            seen[jti] = exp
            self.verified += 1
        return client_id

    @staticmethod
    def _key_of(client_id: str, settings: Settings) -> tuple[Any, frozenset[str]]:
        """The key a client signs its assertions with, and the algorithms accepted."""
        if client_id in settings.client_keys:
            return _public_key(settings.client_keys[client_id], "client")
        if client_id in settings.clients:
            return settings.clients[client_id].encode(), frozenset({SECRET_ALGORITHM})
        raise _BadTokenError("client assertion names an unknown client")

    @staticmethod
    def _check_iat(claims: Mapping[str, Any], now: float, exp: float, longest: float) -> None:
        if "iat" not in claims:
            raise _BadTokenError("client assertion has no iat")
        iat = finite_seconds(claims["iat"])
        if iat is None or iat > now + SKEW:
            raise _BadTokenError("client assertion iat is in the future")
        if exp - iat > longest:
            raise _BadTokenError("client assertion lifetime is too long")

    def _federated(self, token: str, client_id: str, settings: Settings) -> str:
        issuer, subject = settings.federated_clients[client_id]
        claims = self._trusted(token, settings, "federated assertion")
        if claims.get("iss") != issuer or claims.get("sub") != subject:
            raise _BadTokenError("federated assertion issuer or subject is wrong")
        if settings.federated_audience not in _audiences(claims):
            raise _BadTokenError("federated assertion audience is wrong")
        with self._lock:
            self.verified += 1
        return client_id

    # -- tokens from trusted issuers -------------------------------------------------------

    def _trusted(self, token: str, settings: Settings, what: str) -> dict[str, Any]:
        """A JWT signed by a trusted issuer (or this server), with a live ``exp``."""
        header, unverified = _unverified(token, what)
        issuer = unverified.get("iss")
        if issuer == settings.url:
            pem = self.own_key().public_pem
        elif isinstance(issuer, str) and issuer in settings.trusted_issuers:
            pem = settings.trusted_issuers[issuer]
        else:
            raise _BadTokenError(f"{what} issuer is not trusted")
        key, allowed = _public_key(pem, f"{what} issuer")
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in allowed:
            raise _BadTokenError(f"{what} algorithm is not accepted for its issuer")
        claims = _verified(token, key, algorithm, what)
        _check_times(claims, settings.wall_clock(), what)
        return claims

    def grant_assertion(self, form: Mapping[str, list[str]], settings: Settings) -> str:
        """The ``sub`` of a jwt-bearer grant's ``assertion``; `RefusedError` 400 otherwise."""
        token = _first(form, "assertion")
        try:
            if not token:
                raise _BadTokenError("missing assertion")
            claims = self._trusted(token, settings, "assertion")
            if not {settings.token_url, settings.url} & set(_audiences(claims)):
                raise _BadTokenError("assertion audience is wrong")
            sub = claims.get("sub")
            if not isinstance(sub, str) or not sub:
                raise _BadTokenError("assertion has no sub")
        except _BadTokenError as exc:
            raise RefusedError(400, "invalid_grant", str(exc)) from None
        return sub

    # -- token exchange --------------------------------------------------------------------

    def exchange(
        self,
        form: Mapping[str, list[str]],
        settings: Settings,
        client_id: str | None,
        live: Callable[[str], str | None],
    ) -> TokenExchangeRecord:
        """Check a token-exchange request; ``live(token)`` names the owner of a live access
        token issued here. RFC 8693 §2.2.2: a bad request or a bad subject or actor token
        is ``invalid_request``; an unwanted audience or resource is ``invalid_target``."""
        try:
            subject_type, subject = self._party(form, "subject", settings, live, required=True)
            actor_type, actor = self._party(form, "actor", settings, live, required=False)
            requested = _first(form, "requested_token_type") or ACCESS_TOKEN_TYPE
            if requested not in _REQUESTABLE:
                raise _BadTokenError("requested_token_type is not supported")
        except _BadTokenError as exc:
            raise RefusedError(400, "invalid_request", str(exc)) from None
        audience, resource = tuple(form.get("audience", [])), tuple(form.get("resource", []))
        targets = settings.exchange_targets
        if targets is not None and not set(audience + resource) <= set(targets):
            raise RefusedError(400, "invalid_target", "audience or resource is not a known target")
        record = TokenExchangeRecord(
            subject_type or "",
            subject,
            actor_type,
            actor,
            audience,
            resource,
            requested,
            tuple(" ".join(form.get("scope", [])).split()),
            client_id,
        )
        with self._lock:
            self.exchanges.append(record)
        return record

    def _party(
        self,
        form: Mapping[str, list[str]],
        role: str,
        settings: Settings,
        live: Callable[[str], str | None],
        *,
        required: bool,
    ) -> tuple[str | None, str | None]:
        """The type and subject of the ``subject`` or ``actor`` token (None, None if absent)."""
        token, token_type = _first(form, f"{role}_token"), _first(form, f"{role}_token_type")
        if not token:
            if required:
                raise _BadTokenError(f"missing {role}_token")
            if token_type:
                raise _BadTokenError(f"{role}_token_type without {role}_token")
            return None, None
        if not token_type:
            raise _BadTokenError(f"missing {role}_token_type")
        if token_type == ACCESS_TOKEN_TYPE:
            owner = live(token)
            if owner is None:
                raise _BadTokenError(f"{role}_token is not a live access token issued here")
            return token_type, owner
        if token_type in (JWT_TOKEN_TYPE, ID_TOKEN_TYPE):
            sub = self._trusted(token, settings, f"{role}_token").get("sub")
            if not isinstance(sub, str) or not sub:
                raise _BadTokenError(f"{role}_token has no sub")
            return token_type, sub
        raise _BadTokenError(f"{role}_token_type is not supported")
