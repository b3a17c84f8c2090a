"""How an OAuth client proves who it is to its server (RFC 6749 §2.3, RFC 7523 §2.2,
OpenID Connect Core §9).

`ClientAuthentication` adds a client's credentials to a request: HTTP Basic, the id and
secret in the body, only the id (a public client), or a client assertion. A client
assertion is a JWT signed for each request (`AssertionSigner`: with the client's private
key, ``private_key_jwt``, or HMAC over its secret, ``client_secret_jwt``), or a token
from elsewhere (a federated token file) read for each request.

PyJWT signs (the ``jwt`` extra): a small, widely used JWS library over `cryptography`,
which does all that signing needs and nothing we would have to keep safe besides.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, ClassVar, NamedTuple

from tokenprovider._extras import require
from tokenprovider._masking import masked_repr
from tokenprovider.errors import ConfigurationError
from tokenprovider.providers._oauth_http import basic_value
from tokenprovider.secret_refs import SecretReference, reference_prefix, reveal

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

    #: A key private_key_jwt signs with.
    SigningKey = RSAPrivateKey | EllipticCurvePrivateKey | Ed25519PrivateKey

#: ``client_auth`` settings.
CLIENT_AUTH_METHODS = ("basic", "post", "private_key_jwt", "client_secret_jwt", "none")
#: The methods that send a client assertion.
ASSERTION_METHODS = ("private_key_jwt", "client_secret_jwt")
#: RFC 7523 §2.2: the ``client_assertion_type`` of a JWT client assertion.
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: The signing algorithms of ``private_key_jwt``, by key type.
ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")
#: ``assertion_audience``: the token endpoint's URL, or the server's issuer identifier.
AUDIENCES = ("token_endpoint", "issuer")
DEFAULT_LIFETIME = 60.0
#: The longest ``assertion_lifetime``: servers refuse longer ones (Okta: one hour).
MAX_LIFETIME = 3600.0
#: RFC 7518 §3.2: an HS256 key has at least 256 bits.
MIN_HMAC_KEY_BYTES = 32
_MIN_RSA_BITS = 2048
#: What needs the ``jwt`` extra, for `MissingExtraError`.
NEEDED_BY = "a signed client assertion (client_auth = 'private_key_jwt' or 'client_secret_jwt')"


class Credentials(NamedTuple):
    """A request's client credentials: the form fields to add, the ``Authorization``
    value (None: none), and the values to redact from anything the server says."""

    fields: dict[str, str]
    authorization: str | None
    sensitive: tuple[str, ...]


class AssertionSigner:
    """Signs client assertions (RFC 7523 §3): ``iss`` and ``sub`` the client id, a
    unique ``jti``, ``iat`` now and ``exp`` ``lifetime`` seconds later, ``aud`` as asked;
    with the private key in ``private_key`` (a PEM, or a reference to one; read on the
    first signature) and ``algorithm`` (default: RS256 for RSA, ES256 for P-256, EdDSA
    for Ed25519 keys), or, without a key, HS256 over the client secret. A ``key_id`` goes
    in the header as ``kid``."""

    _hidden_attributes: ClassVar[frozenset[str]] = frozenset({"_loaded"})

    def __init__(
        self,
        client_id: str,
        *,
        private_key: str | SecretReference | None,
        key_id: str | None,
        algorithm: str | None,
        lifetime: float,
    ) -> None:
        self.client_id = client_id
        self._private_key = private_key
        self.key_id = key_id
        self.algorithm = algorithm
        self.lifetime = lifetime
        self._loaded: tuple[SigningKey, str] | None = None
        self._loading = threading.Lock()

    def __repr__(self) -> str:
        return masked_repr(self)

    def sign(self, audience: str, secret: str | None, now: float) -> str:
        """A new assertion for ``audience``, issued at ``now`` (epoch seconds); ``secret``
        is the client secret (for HS256)."""
        import secrets  # noqa: PLC0415 - with jwt, for a signed assertion only

        jwt = require("jwt", NEEDED_BY)
        issued = int(now)
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": audience,
            "jti": secrets.token_urlsafe(24),
            "iat": issued,
            "exp": issued + int(self.lifetime),
        }
        headers = {"kid": self.key_id} if self.key_id else None
        if self._private_key is None:
            if secret is None:
                raise ConfigurationError("client_secret_jwt needs a client_secret")
            if len(secret.encode()) < MIN_HMAC_KEY_BYTES:
                raise ConfigurationError(
                    f"client_secret_jwt signs with HS256, whose key must be at least "
                    f"{MIN_HMAC_KEY_BYTES} bytes (RFC 7518 §3.2); this client_secret is "
                    "shorter: ask for a longer one, or use client_auth = 'basic'"
                )
            return str(jwt.encode(claims, secret, algorithm="HS256", headers=headers))
        key, algorithm = self.__key()
        return str(jwt.encode(claims, key, algorithm=algorithm, headers=headers))

    def __key(self) -> tuple[SigningKey, str]:
        with self._loading:
            if self._loaded is None:
                assert self._private_key is not None
                key = self._private_key
                where = "private_key"
                if isinstance(key, SecretReference):
                    where += f" {key.reference!r}" + (f" ({key.setting})" if key.setting else "")
                self._loaded = load_private_key(reveal(key), self.algorithm, where)
            return self._loaded


def load_private_key(
    pem: str, algorithm: str | None, where: str = "private_key"
) -> tuple[SigningKey, str]:
    """The signing key in ``pem`` and the algorithm it signs with (``algorithm``, checked
    against the key, or the key type's default). `ConfigurationError` naming what is
    wrong (``where`` names the setting and its reference), never quoting the key."""
    require("jwt", NEEDED_BY)
    serialization = require("cryptography.hazmat.primitives.serialization", NEEDED_BY)
    from cryptography.exceptions import UnsupportedAlgorithm  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa  # noqa: PLC0415

    problem = None
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except TypeError:
        problem = (
            "is encrypted with a password; give the key unencrypted (PKCS#8 PEM) and keep "
            "it in a secret store instead (file:, env:, aws-secretsmanager:)"
        )
    except UnsupportedAlgorithm:
        problem = "is a key of a kind this machine's cryptography cannot load"
    except (ValueError, UnicodeError):
        problem = _not_a_key(pem)
    if problem is not None:  # raised outside the handler: nothing of the key is chained
        raise ConfigurationError(f"{where} {problem}")
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < _MIN_RSA_BITS:
            raise ConfigurationError(
                f"{where} is a {key.key_size}-bit RSA key; use one of at least {_MIN_RSA_BITS} bits"
            )
        allowed: tuple[str, ...] = ("RS256", "PS256")
    elif isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        allowed = ("ES256",)
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        allowed = ("EdDSA",)
    else:
        kind = getattr(getattr(key, "curve", None), "name", None) or type(key).__name__
        raise ConfigurationError(
            f"{where} is a {kind} key; private_key_jwt signs with an RSA key (RS256, "
            "PS256), a P-256 key (ES256) or an Ed25519 key (EdDSA)"
        )
    if algorithm is None:
        return key, allowed[0]
    if algorithm not in allowed:
        raise ConfigurationError(
            f"assertion_algorithm {algorithm!r} does not suit the {where}, which signs "
            f"with {' or '.join(allowed)}"
        )
    return key, algorithm


def _not_a_key(text: str) -> str:
    """Why ``text``, which no PEM private key loader took, is not one, in words that
    quote nothing of it."""
    if "BEGIN OPENSSH PRIVATE KEY" in text:
        return (
            "is an OpenSSH key; convert it to PKCS#8 PEM (ssh-keygen -p -m PKCS8 -f FILE, "
            "on a copy)"
        )
    if "PUBLIC KEY" in text or text.lstrip().startswith(("ssh-", "ecdsa-")):
        return "is a public key; give the private key (the server holds the public one)"
    if "BEGIN CERTIFICATE" in text:
        return "is a certificate; give its private key"
    prefix = reference_prefix(text)
    if prefix is not None:  # only the prefix is quoted: the rest may be a secret's name
        return (
            f"is a str written like a secret reference ({prefix}...), which in Python is "
            f"taken as the key itself; to read the key from there, pass "
            f"SecretReference({prefix + '...'!r})"
        )
    return (
        "is not a PEM private key (expected -----BEGIN PRIVATE KEY----- or -----BEGIN "
        "RSA/EC PRIVATE KEY-----; a DER key converts with openssl pkey -inform DER)"
    )


class ClientAuthentication:
    """One client's ``client_auth`` method and what it needs: for ``private_key_jwt``, a
    `signer` with a private key, or ``given`` (reads a ready-made assertion, such as a
    federated token file, for each request, by the deadline it is given); for
    ``client_secret_jwt``, a signer over the secret. ``audience`` is the assertions'
    ``aud``: ``"token_endpoint"`` (the URL the request goes to), ``"issuer"`` (the
    server's issuer, from its metadata) or a URL. ``person``: the client logs people in
    (its hints never suggest what a person's login cannot use)."""

    _hidden_attributes: ClassVar[frozenset[str]] = frozenset({"_given"})

    def __init__(
        self,
        method: str,
        client_id: str,
        *,
        signer: AssertionSigner | None = None,
        given: Callable[[float], str] | None = None,
        audience: str = "token_endpoint",
        wall_time: Callable[[], float],
        person: bool = False,
    ) -> None:
        self.method = method
        self.person = person
        self.client_id = client_id
        self.signer = signer
        self._given = given
        self.audience = audience
        self.last_audience: str | None = None
        self.__wall_time = wall_time

    def __repr__(self) -> str:
        return masked_repr(self)

    @property
    def signs(self) -> bool:
        """Whether each request carries a newly signed assertion (never sent twice)."""
        return self.signer is not None

    @property
    def fresh_each_attempt(self) -> bool:
        """Whether each attempt carries a new assertion: signed here, or read again from
        its source (which may hand out a one-use token)."""
        return self.signer is not None or self._given is not None

    @property
    def wants_issuer(self) -> bool:
        """Whether the assertions' audience is the server's issuer (from its metadata)."""
        return self.signs and self.audience == "issuer"

    def refused_hint(self, sent_secret: bool) -> str:
        """What to check when the server refuses the client (``invalid_client``), which
        sent a secret or not."""
        if self.method in ("basic", "post") and not sent_secret and self.person:
            return (
                "the client sent no secret: register it at the server as a public client, "
                "or set client_secret"
            )
        if self.method in ("basic", "post") and not sent_secret:
            return (
                "the client sent no secret: set client_secret, or authenticate without one "
                "(client_auth = 'private_key_jwt' with private_key or assertion)"
            )
        if self.method in ("basic", "post"):
            return "check client_id and client_secret, and client_auth ('basic' or 'post')"
        if self.method == "none":
            return (
                "check client_id; the server may want this client to authenticate "
                "(client_auth 'basic', 'post', 'private_key_jwt' or 'client_secret_jwt')"
            )
        if self.signer is None:
            return (
                "check client_id, and that the assertion source's token (its issuer, "
                "subject and audience) matches the client's federated credential"
            )
        key = "client_secret" if self.method == "client_secret_jwt" else "private_key and key_id"
        sent = f", which sent aud {self.last_audience!r}" if self.last_audience else ""
        return (
            f"check client_id and {key} against what the server has for the client, "
            f"assertion_audience{sent} ('token_endpoint' or 'issuer': servers differ), "
            "and this machine's clock"
        )

    def authorization(self, secret: str | None) -> str | None:
        """The ``Authorization`` value the client sends (HTTP Basic), or None."""
        if self.method == "basic" and secret is not None:
            return "Basic " + basic_value(self.client_id, secret)
        return None

    def credentials(
        self,
        fields: Mapping[str, str],
        secret: str | None,
        endpoint: str,
        issuer: str | None = None,
        deadline_at: float = math.inf,
    ) -> Credentials:
        """What a request to ``endpoint`` carrying ``fields`` sends to authenticate the
        client, whose secret is ``secret``; ``issuer`` is the server's, for an
        ``"issuer"`` audience; a ready-made assertion must be read by ``deadline_at``."""
        form = dict(fields)
        method = self.method
        if method in ASSERTION_METHODS:
            assertion = self.__assertion(secret, endpoint, issuer, deadline_at)
            form.update(
                client_id=self.client_id,
                client_assertion_type=CLIENT_ASSERTION_TYPE,
                client_assertion=assertion,
            )
            return Credentials(form, None, (assertion,))
        authorization = self.authorization(secret)
        if authorization is not None:
            return Credentials(form, authorization, (secret or "", authorization[6:]))
        form["client_id"] = self.client_id
        if method == "post" and secret is not None:
            form["client_secret"] = secret
            return Credentials(form, None, (secret,))
        return Credentials(form, None, ())

    def __assertion(
        self, secret: str | None, endpoint: str, issuer: str | None, deadline_at: float
    ) -> str:
        if self.signer is None:
            assert self._given is not None
            return self._given(deadline_at)
        if self.audience == "token_endpoint":
            audience = endpoint
        elif self.audience == "issuer":
            assert issuer is not None  # the token endpoint discovers it first
            audience = issuer
        else:
            audience = self.audience
        self.last_audience = audience  # for refused_hint: an audience is no secret
        return self.signer.sign(audience, secret, self.__wall_time())
