"""OAuthTokenProvider's client authentication without a long-lived secret (issue 14 §1, §4),
against the verifier of `LocalOAuthServer` over real sockets on 127.0.0.1.

private_key_jwt with every algorithm, the choice of ``aud``, a new assertion for every
attempt, client_secret_jwt, public clients, bad keys, a federated token file rotated
underneath the provider, the ``invalid_client`` hints, and the canary: no private key,
signed assertion or federated token in any repr, error or log record. The server checks
times against the same fake wall clock as the provider, and retries wait on it.
(Keys by reference and TOML settings: tests/test_client_assertions_config.py.)
"""

from __future__ import annotations

import secrets
import time
import urllib.parse
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from conftest import all_log_text, assert_no_leak, reachable_text
from tokenprovider import (
    AssertionSourceError,
    ConfigurationError,
    DiscoveryError,
    Host,
    OAuthError,
    OAuthTokenProvider,
    RetryPolicy,
    SecretReference,
)
from tokenprovider.caches import FileTokenCache
from tokenprovider.providers._client_auth import ClientAuthentication
from tokenprovider.providers._oauth_metadata import _issuer
from tokenprovider.sources import AssertionSource, ProviderSource
from tokenprovider.testing import FakeClock, KeyPair, LocalOAuthServer, key_pair
from tokenprovider.testing.http_recorder import _Handler
from tokenprovider.testing.oauth_server import TOKEN_PATH

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")
KEYS: dict[str, KeyPair] = {algorithm: key_pair(algorithm) for algorithm in ALGORITHMS}
CLUSTER = "https://kubernetes.default.svc.cluster.local"
WORKLOAD = "system:serviceaccount:prod:reporter"
AZURE = "api://AzureADTokenExchange"
ISSUER_KEY = key_pair("ES256")  # the cluster's signing key (it signs the federated tokens)
FEDERATED = "wi-app"
#: client_secret_jwt's secret: 44 bytes, enough for HS256.
LONG_SECRET = "CANARY-7f3a-hs256-client-secret-of-44-bytes!"


def client_of(algorithm: str) -> str:
    return f"svc-{algorithm}"


def pem_body(pem: str) -> list[str]:
    """The base64 lines of a PEM: any one of them in a text means the key leaked."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def pieces(token: str) -> list[str]:
    """Overlapping 24-character pieces of a JWT's claims and signature (its header is
    not secret): a quote cut short that still shows part of the token holds one."""
    body = token.partition(".")[2] or token
    return [body[start : start + 24] for start in range(0, max(len(body) - 23, 1), 12)]


def assert_never_shown(text: str, *secrets_: str) -> None:
    """No secret (a PEM's base64 lines, a token or part of it) occurs in ``text``."""
    for secret in secrets_:
        for piece in pem_body(secret) if "-----BEGIN" in secret else pieces(secret):
            assert_no_leak(text, piece)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_server(clock: FakeClock) -> Iterator[Callable[..., LocalOAuthServer]]:
    """Start servers that know a ``svc-ALG`` client for every algorithm, the federated
    client ``wi-app`` and the client ``app`` (secret `LONG_SECRET`); their wall clock is
    ``clock``'s."""
    started: list[LocalOAuthServer] = []

    def make(cls: type[LocalOAuthServer] = LocalOAuthServer, **settings: Any) -> LocalOAuthServer:
        settings.setdefault("clients", {"app": LONG_SECRET})
        settings.setdefault("client_keys", {client_of(a): KEYS[a].public_pem for a in ALGORITHMS})
        settings.setdefault("federated_clients", {FEDERATED: (CLUSTER, WORKLOAD)})
        settings.setdefault("trusted_issuers", {CLUSTER: ISSUER_KEY.public_pem})
        server = cls(wall_clock=clock.time, clock=clock.monotonic, **settings)
        started.append(server.start())
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def server(make_server: Callable[..., LocalOAuthServer]) -> LocalOAuthServer:
    return make_server()


def fast_retry(clock: FakeClock, **settings: Any) -> RetryPolicy:
    """A policy whose waits advance ``clock`` and are recorded in ``clock.slept``."""
    return RetryPolicy(sleep=clock.sleep, monotonic=clock.monotonic, **settings)


def signing(
    server: LocalOAuthServer,
    clock: FakeClock,
    algorithm: str = "ES256",
    *,
    token_url: str | None = "",
    **kwargs: Any,
) -> OAuthTokenProvider:
    """A private_key_jwt provider for ``svc-ALGORITHM`` with its key; ``token_url`` is
    the server's unless given (None: discovered)."""
    kwargs.setdefault("private_key", KEYS[algorithm].private_pem)
    return OAuthTokenProvider(
        server.url,
        client_of(algorithm),
        token_url=server.token_url if token_url == "" else token_url,
        client_auth="private_key_jwt",
        clock=clock,
        retry=fast_retry(clock),
        **kwargs,
    )


def federated(server: LocalOAuthServer, clock: FakeClock, path: Path) -> OAuthTokenProvider:
    """A private_key_jwt provider whose client assertion is the token file at ``path``."""
    return OAuthTokenProvider(
        server.url,
        FEDERATED,
        token_url=server.token_url,
        client_auth="private_key_jwt",
        assertion=f"file:{path}",
        clock=clock,
        retry=fast_retry(clock),
    )


def federated_token(clock: FakeClock, *, lifetime: float = 3600, **claims: Any) -> str:
    """A token of the cluster for the workload, as the kubelet projects it."""
    now = int(clock.time())
    body = {
        "iss": CLUSTER,
        "sub": WORKLOAD,
        "aud": AZURE,
        "iat": now,
        "exp": now + int(lifetime),
        "jti": secrets.token_hex(8),
        **claims,
    }
    return str(jwt.encode(body, ISSUER_KEY.private_pem, algorithm="ES256"))


def sent_assertions(server: LocalOAuthServer) -> list[str]:
    """The client assertion of every token request the server received, in order."""
    return [record.form["client_assertion"][0] for record in server.token_request_records]


def refused(provider: OAuthTokenProvider, error_type: type[Exception] = OAuthError) -> Any:
    """The error of fetching a token, which must be an ``error_type``."""
    with pytest.raises(error_type) as info:
        _ = provider.token
    return info.value


# -- private_key_jwt: every algorithm -----------------------------------------------------------


@pytest.mark.parametrize("key_id", [None, "key-2024"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_private_key_jwt_signs_with_every_algorithm(
    server: LocalOAuthServer, clock: FakeClock, algorithm: str, key_id: str | None
) -> None:
    # PS256 must be chosen: an RSA key signs RS256 by default
    chosen = "PS256" if algorithm == "PS256" else None
    provider = signing(
        server, clock, algorithm, key_id=key_id, assertion_algorithm=chosen, assertion_lifetime=45
    )

    assert provider.token
    assert (server.tokens_issued, server.assertions_verified) == (1, 1)
    record = server.last_token_request
    assert record is not None
    form = record.form
    assert form["client_id"] == [client_of(algorithm)]
    assert form["client_assertion_type"] == [ASSERTION_TYPE]
    assert "client_secret" not in form
    assert "authorization" not in record.headers
    assertion = form["client_assertion"][0]
    header = jwt.get_unverified_header(assertion)
    assert header["alg"] == algorithm
    assert header.get("kid") == key_id
    assert ("kid" in header) == (key_id is not None)
    claims = jwt.decode(
        assertion,
        KEYS[algorithm].public_pem,
        algorithms=[algorithm],
        audience=server.token_url,
        options={"verify_exp": False, "verify_iat": False},  # the fake clock's times
    )
    assert claims["iss"] == claims["sub"] == client_of(algorithm)
    assert claims["aud"] == server.token_url
    assert claims["iat"] == int(clock.time())
    assert claims["exp"] - claims["iat"] == 45
    assert isinstance(claims["jti"], str)
    assert len(claims["jti"]) >= 16


def test_the_default_lifetime_is_60_seconds(server: LocalOAuthServer, clock: FakeClock) -> None:
    provider = signing(server, clock)
    assert provider.token
    claims = jwt.decode(sent_assertions(server)[0], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 60


def test_a_key_of_another_client_is_refused_by_the_verifier(
    server: LocalOAuthServer, clock: FakeClock
) -> None:
    provider = signing(server, clock, "ES256", private_key=key_pair("ES256").private_pem)
    error = refused(provider)
    assert error.error == "invalid_client"
    assert "signature is invalid" in str(error)
    assert (server.tokens_issued, server.assertions_verified) == (0, 0)


# -- the assertion's audience -------------------------------------------------------------------


def test_the_token_endpoint_audience_is_the_default(
    make_server: Callable[..., LocalOAuthServer], clock: FakeClock
) -> None:
    server = make_server(assertion_audience="token_endpoint")
    error = refused(signing(server, clock, assertion_audience="issuer"))
    assert error.error == "invalid_client"
    assert "audience is wrong" in str(error)
    assert "assertion_audience" in str(error)  # the hint says what to change
    assert f"which sent aud {server.url!r}" in str(error)  # and what was sent
    assert server.assertions_verified == 0

    assert signing(server, clock).token
    assert server.assertions_verified == 1


def test_the_issuer_audience_is_discovered_even_with_a_token_url(
    make_server: Callable[..., LocalOAuthServer], clock: FakeClock
) -> None:
    server = make_server(assertion_audience="issuer")
    error = refused(signing(server, clock))
    assert error.error == "invalid_client"
    assert "assertion_audience" in str(error)

    provider = signing(server, clock, assertion_audience="issuer")
    assert provider.token
    assert server.assertions_verified == 1
    claims = jwt.decode(sent_assertions(server)[-1], options={"verify_signature": False})
    assert claims["aud"] == server.url


def test_an_explicit_audience_is_sent_as_it_is_without_discovery(
    make_server: Callable[..., LocalOAuthServer], clock: FakeClock
) -> None:
    # no metadata to discover: the audience given is used as it is
    server = make_server(assertion_audience="issuer", well_known="none")
    provider = signing(server, clock, assertion_audience=server.url)
    assert provider.token
    claims = jwt.decode(sent_assertions(server)[0], options={"verify_signature": False})
    assert claims["aud"] == server.url


def test_the_issuer_audience_without_metadata_says_what_to_set(
    make_server: Callable[..., LocalOAuthServer], clock: FakeClock
) -> None:
    server = make_server(well_known="none")
    error = refused(signing(server, clock, assertion_audience="issuer"), DiscoveryError)
    message = str(error)
    # token_url is set: the way out is the audience setting, not token_url
    assert "assertion_audience" in message
    assert "issuer" in message
    assert server.token_requests == 0


# -- a new assertion for every request -------------------------------------------------------


def test_every_fetch_signs_a_new_assertion(server: LocalOAuthServer, clock: FakeClock) -> None:
    provider = signing(server, clock, "EdDSA")
    assert provider.token
    provider.invalidate_cache()
    assert provider.token
    first, second = sent_assertions(server)
    assert first != second
    jtis = [jwt.decode(a, options={"verify_signature": False})["jti"] for a in (first, second)]
    assert jtis[0] != jtis[1]
    assert (server.assertions_verified, server.assertions_replayed) == (2, 0)


def test_a_retried_attempt_sends_a_new_assertion(
    server: LocalOAuthServer, clock: FakeClock
) -> None:
    server.fail_next(2, 503)
    provider = signing(server, clock, "RS256")
    assert provider.token
    assertions = sent_assertions(server)
    assert len(assertions) == 3
    assert len(set(assertions)) == 3
    jtis = {jwt.decode(a, options={"verify_signature": False})["jti"] for a in assertions}
    assert len(jtis) == 3
    assert len(clock.slept) == 2  # waited on the fake clock, never slept
    assert (server.tokens_issued, server.assertions_verified, server.assertions_replayed) == (
        1,
        1,
        0,
    )


def test_a_captured_assertion_is_refused_as_a_replay(
    server: LocalOAuthServer, clock: FakeClock
) -> None:
    """What the new assertion per request avoids: the server refuses one sent twice."""
    assert signing(server, clock).token
    record = server.last_token_request
    assert record is not None
    again = requests.post(
        server.token_url, data={k: v[0] for k, v in record.form.items()}, timeout=10
    )
    assert again.status_code == 401
    assert again.json()["error_description"] == "assertion replayed"
    assert server.assertions_replayed == 1


# -- client_secret_jwt and public clients -------------------------------------------------------


def test_client_secret_jwt_signs_hs256_over_the_secret(
    server: LocalOAuthServer, clock: FakeClock
) -> None:
    provider = OAuthTokenProvider(
        server.url,
        "app",
        LONG_SECRET,
        token_url=server.token_url,
        client_auth="client_secret_jwt",
        clock=clock,
    )
    assert provider.token
    assert server.assertions_verified == 1
    record = server.last_token_request
    assert record is not None
    assert record.client_auth == "client_secret_jwt"
    assert "client_secret" not in record.form
    assert "authorization" not in record.headers
    assertion = record.form["client_assertion"][0]
    assert jwt.get_unverified_header(assertion)["alg"] == "HS256"
    claims = jwt.decode(
        assertion,
        LONG_SECRET,
        algorithms=["HS256"],
        audience=server.token_url,
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["iss"] == claims["sub"] == "app"
    assert LONG_SECRET not in repr(provider)


def test_client_secret_jwt_refuses_a_secret_shorter_than_32_bytes(
    server: LocalOAuthServer, clock: FakeClock
) -> None:
    short = "CANARY-7f3a-short-secret"  # 24 bytes
    server.clients = {"app": short}
    provider = OAuthTokenProvider(
        server.url,
        "app",
        short,
        token_url=server.token_url,
        client_auth="client_secret_jwt",
        clock=clock,
    )
    error = refused(provider, ConfigurationError)
    assert "32 bytes" in str(error)
    assert_no_leak(reachable_text(error), short)
    assert server.token_requests == 0


def test_a_public_client_sends_only_its_id(server: LocalOAuthServer, clock: FakeClock) -> None:
    server.respond_next(200, b'{"access_token": "public-token", "expires_in": 60}')
    provider = OAuthTokenProvider(
        server.url, "public", token_url=server.token_url, client_auth="none", clock=clock
    )
    assert provider.token == "public-token"
    record = server.last_token_request
    assert record is not None
    assert record.form == {"grant_type": ["client_credentials"], "client_id": ["public"]}
    assert "authorization" not in record.headers


# -- bad keys ---------------------------------------------------------------------------------


def _pem(key: Any, encryption: Any = None) -> str:
    return str(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            encryption or serialization.NoEncryption(),
        ).decode("ascii")
    )


CANARY_PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "CANARY7f3aNotAKeyButItLooksLikeOneAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
    "-----END PRIVATE KEY-----\n"
)


def _bad_keys() -> dict[str, tuple[str, str | None, str]]:
    """name -> (PEM, assertion_algorithm, what the message says)."""
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # fast at 1024
    encrypted = _pem(
        ec.generate_private_key(ec.SECP256R1()),
        serialization.BestAvailableEncryption(b"CANARY-7f3a-password"),
    )
    return {
        "not-a-pem": (CANARY_PEM, None, "is not a PEM private key"),
        "not-pem-at-all": ("CANARY7f3a just some text", None, "is not a PEM private key"),
        "encrypted": (encrypted, None, "encrypted with a password"),
        "rsa-1024": (_pem(small), None, "1024-bit RSA key"),
        "p-384": (_pem(ec.generate_private_key(ec.SECP384R1())), None, "secp384r1"),
        "es256-with-rsa": (KEYS["RS256"].private_pem, "ES256", "'ES256' does not suit"),
        "eddsa-with-p256": (KEYS["ES256"].private_pem, "EdDSA", "'EdDSA' does not suit"),
        "openssh": (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nCANARY7f3aAAAA\n"
            "-----END OPENSSH PRIVATE KEY-----\n",
            None,
            "is an OpenSSH key; convert it to PKCS#8 PEM (ssh-keygen -p -m PKCS8",
        ),
        "public": (KEYS["ES256"].public_pem, None, "is a public key; give the private key"),
        "a-str-reference": (
            "file:/run/keys/CANARY7f3a.pem",
            None,
            "written like a secret reference (file:...), which in Python is taken as the key "
            "itself; to read the key from there, pass SecretReference('file:...')",
        ),
    }


BAD_KEYS = _bad_keys()


@pytest.mark.parametrize("case", sorted(BAD_KEYS))
def test_a_bad_key_is_a_clear_configuration_error(
    server: LocalOAuthServer,
    clock: FakeClock,
    case: str,
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    pem, algorithm, said = BAD_KEYS[case]
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        provider = signing(server, clock, "ES256", private_key=pem, assertion_algorithm=algorithm)
    # Only a str written like a reference is warned about (it is used as the key itself).
    expected = ["private_key 'file:...' is a str"] if case == "a-str-reference" else []
    assert [w for w in expected if any(w in str(m.message) for m in warned)] == expected
    assert len(warned) == len(expected)
    error = refused(provider, ConfigurationError)
    assert "private_key" in str(error) or "assertion_algorithm" in str(error)
    assert said in str(error)
    secrets_ = [pem, "CANARY7f3a"] if "CANARY7f3a" in pem else [pem]
    for text in (reachable_text(error), repr(provider), all_log_text(debug_logs)):
        assert_never_shown(text, *secrets_)
    assert server.token_requests == 0


def test_a_bad_key_behind_a_reference_names_the_reference(
    server: LocalOAuthServer, clock: FakeClock, tmp_path: Path
) -> None:
    path = tmp_path / "key.pem"
    path.write_text(CANARY_PEM)
    reference = SecretReference(f"file:{path}", setting="credentials.oauth.private_key")
    error = refused(signing(server, clock, "ES256", private_key=reference), ConfigurationError)
    assert str(error).startswith(
        f"private_key 'file:{path}' (credentials.oauth.private_key) is not a PEM private key"
    )
    assert_never_shown(reachable_text(error), CANARY_PEM, "CANARY7f3a")


# -- a federated token file as the client assertion ------------------------------------------


def test_a_federated_token_file_is_read_again_for_every_request(
    server: LocalOAuthServer, clock: FakeClock, tmp_path: Path
) -> None:
    path = tmp_path / "azure-identity-token"
    first = federated_token(clock, lifetime=600)
    path.write_text(first + "\n")
    provider = federated(server, clock, path)
    assert provider.token
    assert sent_assertions(server) == [first]
    record = server.last_token_request
    assert record is not None
    assert record.client_auth == "federated"
    assert record.form["client_id"] == [FEDERATED]
    assert record.form["client_assertion_type"] == [ASSERTION_TYPE]

    # An hour later the first token has expired and the kubelet has written a new one.
    clock.advance(3600)
    second = federated_token(clock, lifetime=600)
    path.write_text(second)
    assert provider.token
    assert sent_assertions(server) == [first, second]
    assert (server.tokens_issued, server.assertions_verified) == (2, 2)


def test_a_rotated_file_is_used_even_before_the_old_token_expires(
    server: LocalOAuthServer, clock: FakeClock, tmp_path: Path
) -> None:
    path = tmp_path / "token"
    path.write_text(federated_token(clock))
    provider = federated(server, clock, path)
    assert provider.token
    rotated = federated_token(clock)
    path.write_text(rotated)
    provider.invalidate_cache()
    assert provider.token
    assert sent_assertions(server)[-1] == rotated


def test_an_expired_token_in_the_file_makes_no_request(
    server: LocalOAuthServer, clock: FakeClock, tmp_path: Path
) -> None:
    path = tmp_path / "token"
    stale = federated_token(clock, lifetime=-120)
    path.write_text(stale)
    error = refused(federated(server, clock, path), AssertionSourceError)
    assert str(path) in str(error)
    assert "expired" in str(error)
    assert_no_leak(reachable_text(error), stale)
    assert server.token_requests == 0


# -- what the server's refusal says ------------------------------------------------------------


def test_a_refused_signed_assertion_hints_at_key_audience_and_clock(
    make_server: Callable[..., LocalOAuthServer], clock: FakeClock
) -> None:
    server = make_server(assertion_audience="issuer")
    error = refused(signing(server, clock, key_id="k1"))
    assert error.error == "invalid_client"
    message = str(error)
    for words in ("private_key", "key_id", "assertion_audience", "clock"):
        assert words in message


def test_a_refused_federated_token_hints_at_the_federated_credential(
    make_server: Callable[..., LocalOAuthServer], clock: FakeClock, tmp_path: Path
) -> None:
    server = make_server(federated_audience="api://SomethingElse")
    path = tmp_path / "token"
    path.write_text(federated_token(clock))
    error = refused(federated(server, clock, path))
    assert error.error == "invalid_client"
    assert "audience is wrong" in str(error)
    assert "federated credential" in str(error)
    assert "private_key" not in str(error)


def test_a_refused_client_secret_jwt_hints_at_the_secret(
    make_server: Callable[..., LocalOAuthServer], clock: FakeClock
) -> None:
    server = make_server(clients={"app": LONG_SECRET[::-1]})
    provider = OAuthTokenProvider(
        server.url,
        "app",
        LONG_SECRET,
        token_url=server.token_url,
        client_auth="client_secret_jwt",
        clock=clock,
    )
    error = refused(provider)
    assert "client_secret" in str(error)
    assert_no_leak(reachable_text(error), LONG_SECRET)


# -- the canary: no key, assertion or federated token anywhere --------------------------------


class EchoingServer(LocalOAuthServer):
    """Refuses every token request, quoting the client assertion and the whole request
    body back (a hostile or careless server): whatever the client sent is in the answer."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self.assertions: list[str] = []  # as received

    def handle(self, request: _Handler, body: bytes) -> None:
        if request.path.startswith(TOKEN_PATH):
            text = body.decode("utf-8", "replace")
            assertion = urllib.parse.parse_qs(text).get("client_assertion", [""])[0]
            self.assertions.append(assertion)
            described = f"bad request: {assertion} in {text}"
            request.respond_json(401, {"error": "invalid_client", "error_description": described})
        else:
            super().handle(request, body)


@pytest.mark.parametrize("algorithm", ["RS256", "EdDSA"])
def test_a_signed_assertion_and_its_key_never_show(
    make_server: Callable[..., LocalOAuthServer],
    clock: FakeClock,
    algorithm: str,
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    server = make_server()
    provider = signing(server, clock, algorithm, key_id="k1")
    assert provider.token
    echoing = make_server(EchoingServer)
    refusing = signing(echoing, clock, algorithm)
    error = refused(refusing)
    assert "bad request" in str(error)  # the server's text is quoted, the assertion redacted
    assert len(echoing.assertions) == 1
    sent = [*sent_assertions(server), *echoing.assertions]
    shown = [repr(provider), repr(refusing), reachable_text(error), all_log_text(debug_logs)]
    for text in shown:
        assert_never_shown(text, KEYS[algorithm].private_pem, *sent)


def test_a_federated_token_never_shows(
    make_server: Callable[..., LocalOAuthServer],
    clock: FakeClock,
    tmp_path: Path,
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "token"
    token = federated_token(clock)
    path.write_text(token)
    server = make_server()
    provider = federated(server, clock, path)
    assert provider.token
    echoing = make_server(EchoingServer)
    error = refused(federated(echoing, clock, path))
    assert "bad request" in str(error)
    assert echoing.assertions == [token]
    for text in (repr(provider), reachable_text(error), all_log_text(debug_logs)):
        assert_never_shown(text, token)


# -- what a shared cache may keep --------------------------------------------------------


def test_the_private_key_is_part_of_the_cache_key(
    server: LocalOAuthServer, clock: FakeClock, tmp_path: Path
) -> None:
    """Only who holds the key finds its tokens in a shared cache, as with a secret: the
    client id alone is public."""
    cache = FileTokenCache(tmp_path / "cache")
    holder = signing(server, clock, "ES256", cache=cache)
    again = signing(server, clock, "ES256", cache=cache)
    other_key = key_pair("ES256").private_pem
    another = signing(server, clock, "ES256", cache=cache, private_key=other_key)
    assert another._cache_identity() == holder._cache_identity()  # the same client
    assert holder.cache_key() is not None
    assert holder.cache_key() == again.cache_key()
    assert another.cache_key() != holder.cache_key()


@pytest.mark.parametrize("exchange", [False, True])
def test_a_federated_clients_token_is_never_put_in_a_shared_cache(
    server: LocalOAuthServer, clock: FakeClock, tmp_path: Path, exchange: bool
) -> None:
    """Every pod has the same projected path: it does not say which workload's token it
    holds, so a token got with it stays in the process, whatever the grant (also a
    token exchange by such a client)."""
    path = tmp_path / "token"
    path.write_text(federated_token(clock))
    other = OAuthTokenProvider(server.url, "app", LONG_SECRET, token_url=server.token_url)
    grant = {"grant_type": "token_exchange", "subject_token": ProviderSource(other)}
    with pytest.raises(ConfigurationError) as refused:
        OAuthTokenProvider(
            server.url,
            FEDERATED,
            token_url=server.token_url,
            client_auth="private_key_jwt",
            assertion=f"file:{path}",
            cache=FileTokenCache(tmp_path / "cache"),
            **(grant if exchange else {}),
        )
    assert str(refused.value) == (
        f"a token got with the client assertion from file {path} may differ from one "
        "process to the next, so a FileTokenCache cannot share it: remove the cache setting"
    )
    assert federated(server, clock, path).cache_key() is None


def test_a_lost_answer_is_retried_with_a_new_assertion(
    server: LocalOAuthServer, clock: FakeClock
) -> None:
    """A signed request is repeatable: its next attempt carries a new assertion."""
    server.drop_next(1)
    provider = signing(server, clock, "ES256")
    assert provider.token
    assertions = sent_assertions(server)
    assert len(assertions) == 2
    assert assertions[0] != assertions[1]
    assert server.assertions_replayed == 0


def test_a_client_without_a_secret_is_told_how_to_do_without_one(
    server: LocalOAuthServer, clock: FakeClock
) -> None:
    """Someone who removed client_secret and forgot client_auth: the hint names the way
    to authenticate without a secret, not a secret to check."""
    provider = OAuthTokenProvider(
        server.url, "svc-ES256", token_url=server.token_url, clock=clock, retry=fast_retry(clock)
    )
    error = refused(provider)
    assert str(error).endswith(
        "; the client sent no secret: set client_secret, or authenticate without one "
        "(client_auth = 'private_key_jwt' with private_key or assertion)"
    )


def test_a_mistyped_assertion_audience_is_quoted_with_a_suggestion() -> None:
    with pytest.raises(ConfigurationError) as info:
        OAuthTokenProvider(
            "api.example.com",
            "svc",
            token_url="https://login.example.com/token",
            client_auth="private_key_jwt",
            private_key=KEYS["ES256"].private_pem,
            assertion_audience="Issuer",
        )
    assert str(info.value).endswith("got 'Issuer' (did you mean 'issuer'?)")


class ForeignIssuer(LocalOAuthServer):
    """A host whose metadata names another server's issuer: an assertion signed for
    that issuer could be replayed there (a mix-up)."""

    def _metadata(self) -> dict[str, object]:
        return {**super()._metadata(), "issuer": "https://login.victim.example/realms/prod"}


def test_an_issuer_of_another_host_is_never_an_assertions_audience(
    make_server: Callable[..., LocalOAuthServer],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG", logger="tokenprovider")
    server = make_server(ForeignIssuer)
    provider = signing(server, clock, "ES256", assertion_audience="issuer")
    error = refused(provider, DiscoveryError)
    assert "names none of" in str(error)
    assert "an issuer must be a URL of the host that publishes it" in str(error)
    assert server.token_requests == 0
    assert any("ignoring the issuer" in record.getMessage() for record in caplog.records)


def test_the_issuer_check_compares_effective_ports() -> None:
    """``https://login.example.com:443`` is the host ``login.example.com``'s own URL."""
    host = Host("Login.Example.com")
    where = "https://login.example.com/.well-known/openid-configuration"
    for same in ("https://login.example.com:443/x", "https://LOGIN.example.com"):
        assert _issuer(same, host, where) == same
    for other in ("https://login.example.com:8443", "http://login.example.com"):
        assert _issuer(other, host, where) is None
    assert _issuer("http://127.0.0.1:80/", Host("127.0.0.1", "http"), where) is not None


class FlakyDiscovery(LocalOAuthServer):
    """Its metadata answers 503 once, as a busy server may."""

    failed = False

    def handle(self, request: Any, body: bytes) -> None:
        if request.path.startswith("/.well-known/") and not self.failed:
            self.failed = True
            request.respond_json(503, {"error": "temporarily_unavailable"})
            return
        super().handle(request, body)


def test_a_signed_client_retries_discovery_as_any_client_does(
    make_server: Callable[..., LocalOAuthServer], clock: FakeClock
) -> None:
    """Only the signed POST is one attempt a call (each retry signs anew); discovery's
    GETs keep the policy's retries."""
    server = make_server(FlakyDiscovery)
    provider = signing(server, clock, "ES256", token_url=None)
    assert provider.token
    assert server.failed
    assert server.assertions_verified == 1


class Minting(AssertionSource):
    """A source that hands out a new federated token on every read, as a signer of
    one-use assertions would."""

    description = "a minting source"

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.reads = 0

    def read(self, audience: str | None) -> str:
        self.reads += 1
        return federated_token(self.clock)


def test_a_federated_assertion_is_read_again_for_each_attempt(
    server: LocalOAuthServer, clock: FakeClock
) -> None:
    source = Minting(clock)
    server.fail_next(1, 503)
    provider = OAuthTokenProvider(
        server.url,
        FEDERATED,
        token_url=server.token_url,
        client_auth="private_key_jwt",
        assertion=source,
        clock=clock,
        retry=fast_retry(clock),
    )
    assert provider.token
    assert source.reads == 2
    first, second = sent_assertions(server)
    assert first != second


def test_a_persons_client_without_a_secret_is_not_told_to_sign() -> None:
    """A person's login cannot use client assertions: its hint does not offer them."""
    service = ClientAuthentication("basic", "svc", wall_time=time.time)
    person = ClientAuthentication("basic", "cli", wall_time=time.time, person=True)
    assert "private_key_jwt" in service.refused_hint(sent_secret=False)
    assert person.refused_hint(sent_secret=False) == (
        "the client sent no secret: register it at the server as a public client, "
        "or set client_secret"
    )
