"""LocalOAuthServer verifies the JWTs it receives, as a real server does: client assertions
(private_key_jwt, client_secret_jwt, federated), the jwt-bearer grant and token exchange.
Real sockets; the client side is PyJWT and requests, used directly."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
import requests

from tokenprovider.testing import (
    ALGORITHMS,
    FakeClock,
    KeyPair,
    LocalOAuthServer,
    TokenExchangeRecord,
    key_pair,
)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
CLUSTER = "https://kubernetes.default.svc.cluster.local"
WORKLOAD = "system:serviceaccount:prod:reporter"
AZURE = "api://AzureADTokenExchange"
CANARY = "CANARY-7f3a-client-secret-for-hs256-assertions"

KEYS: dict[str, KeyPair] = {algorithm: key_pair(algorithm) for algorithm in ALGORITHMS}
ISSUER_KEY = key_pair("ES256")  # the cluster's (or another IdP's) signing key


@pytest.fixture(scope="module")
def other_keys() -> dict[str, KeyPair]:
    """A second key for every algorithm: a signature that does not match the registered one."""
    rsa = key_pair("RS256", fresh=True)
    return {
        "RS256": rsa,
        "PS256": KeyPair("PS256", rsa.private_pem, rsa.public_pem),
        "ES256": key_pair("ES256"),
        "EdDSA": key_pair("EdDSA"),
    }


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make(clock: FakeClock) -> Iterator[Callable[..., LocalOAuthServer]]:
    started: list[LocalOAuthServer] = []

    def make(**settings: Any) -> LocalOAuthServer:
        settings.setdefault("clients", {"app": CANARY})
        settings.setdefault("client_keys", {f"svc-{a}": KEYS[a].public_pem for a in ALGORITHMS})
        settings.setdefault("federated_clients", {"wi-app": (CLUSTER, WORKLOAD)})
        settings.setdefault("trusted_issuers", {CLUSTER: ISSUER_KEY.public_pem})
        server = LocalOAuthServer(wall_clock=clock.time, clock=clock.monotonic, **settings)
        started.append(server.start())
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def server(make: Callable[..., LocalOAuthServer]) -> LocalOAuthServer:
    return make()


def sign(
    key: KeyPair | str,
    clock: FakeClock,
    *,
    lifetime: float = 60,
    drop: tuple[str, ...] = (),
    headers: dict[str, Any] | None = None,
    **claims: Any,
) -> str:
    """A JWT with iat/exp/jti from the fake wall clock, minus ``drop``, plus ``claims``."""
    now = int(clock.time())
    body = {"iat": now, "exp": now + int(lifetime), "jti": secrets.token_hex(8), **claims}
    for name in drop:
        body.pop(name, None)
    if isinstance(key, str):
        return jwt.encode(body, key, algorithm="HS256", headers=headers)
    return jwt.encode(body, key.private_pem, algorithm=key.algorithm, headers=headers)


def client_assertion(
    server: LocalOAuthServer, clock: FakeClock, client_id: str, key: KeyPair | str, **claims: Any
) -> str:
    claims = {"iss": client_id, "sub": client_id, "aud": server.token_url, **claims}
    return sign(key, clock, **claims)


def post(server: LocalOAuthServer, **form: str) -> requests.Response:
    form.setdefault("grant_type", "client_credentials")
    return requests.post(server.token_url, data=form, timeout=5)


def authenticate(server: LocalOAuthServer, assertion: str, **form: str) -> requests.Response:
    return post(server, client_assertion_type=ASSERTION_TYPE, client_assertion=assertion, **form)


def refused(response: requests.Response, status: int, error: str, description: str) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"error": error, "error_description": description}


def unsigned(claims: dict[str, Any], header: dict[str, Any], secret: bytes = b"") -> str:
    """A JWT built by hand: ``alg: none``, or HMAC over a key PyJWT refuses to misuse."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing = part(json.dumps(header).encode()) + "." + part(json.dumps(claims).encode())
    mac = hmac.new(secret, signing.encode(), hashlib.sha256).digest() if secret else b""
    return signing + "." + part(mac)


# -- private_key_jwt and client_secret_jwt ----------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_private_key_jwt_is_accepted_for_every_algorithm(
    server: LocalOAuthServer, clock: FakeClock, algorithm: str
) -> None:
    client = f"svc-{algorithm}"
    got = authenticate(server, client_assertion(server, clock, client, KEYS[algorithm]))
    assert got.status_code == 200, got.text
    record = server.last_token_request
    assert record is not None
    assert (record.client_auth, record.client_id) == ("private_key_jwt", client)
    assert server.assertions_verified == 1
    resource = requests.get(
        server.resource_url, headers={"Authorization": "Bearer " + got.json()["access_token"]}
    )
    assert resource.json()["client_id"] == client


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_signature_by_another_key_is_refused(
    server: LocalOAuthServer, clock: FakeClock, other_keys: dict[str, KeyPair], algorithm: str
) -> None:
    assertion = client_assertion(server, clock, f"svc-{algorithm}", other_keys[algorithm])
    got = authenticate(server, assertion)
    refused(got, 401, "invalid_client", "client assertion signature is invalid")
    assert server.assertions_verified == 0


@pytest.mark.parametrize(
    ("client", "make_token"),
    [
        ("svc-RS256", lambda c: unsigned(c, {"alg": "none", "typ": "JWT"})),
        (  # HS256 keyed with the public key: the classic algorithm confusion
            "svc-RS256",
            lambda c: unsigned(c, {"alg": "HS256"}, KEYS["RS256"].public_pem.encode()),
        ),
        ("svc-RS256", lambda c: jwt.encode(c, KEYS["ES256"].private_pem, algorithm="ES256")),
        ("svc-ES256", lambda c: jwt.encode(c, KEYS["EdDSA"].private_pem, algorithm="EdDSA")),
        ("app", lambda c: jwt.encode(c, KEYS["RS256"].private_pem, algorithm="RS256")),
        ("app", lambda c: unsigned(c, {"alg": "none"})),
    ],
    ids=[
        "none",
        "hs256-with-public-key",
        "es256-for-rsa",
        "eddsa-for-p256",
        "rs256-for-secret",
        "none-for-secret",
    ],
)
def test_an_algorithm_that_does_not_suit_the_client_is_refused(
    server: LocalOAuthServer, clock: FakeClock, client: str, make_token: Callable[..., str]
) -> None:
    now = int(clock.time())
    claims = {"iss": client, "sub": client, "aud": server.token_url, "iat": now,
              "exp": now + 60, "jti": "j1"}  # fmt: skip
    got = authenticate(server, make_token(claims))
    refused(
        got, 401, "invalid_client", "client assertion algorithm is not accepted for this client"
    )


def test_client_secret_jwt_is_hs256_over_the_secret(
    server: LocalOAuthServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    got = authenticate(server, client_assertion(server, clock, "app", CANARY))
    assert got.status_code == 200, got.text
    record = server.last_token_request
    assert record is not None
    assert record.client_auth == "client_secret_jwt"
    wrong = authenticate(server, client_assertion(server, clock, "app", CANARY + "x"))
    refused(wrong, 401, "invalid_client", "client assertion signature is invalid")
    assert CANARY not in wrong.text
    assert CANARY not in caplog.text
    assert server.assertions_verified == 1


def test_the_client_id_iss_and_sub_must_all_name_the_client(
    server: LocalOAuthServer, clock: FakeClock
) -> None:
    key = KEYS["ES256"]
    good = client_assertion(server, clock, "svc-ES256", key)
    assert authenticate(server, good, client_id="svc-ES256").status_code == 200
    other_iss = client_assertion(server, clock, "svc-ES256", key, iss="someone")
    refused(
        authenticate(server, other_iss),
        401,
        "invalid_client",
        "client assertion iss and sub must both be the client id",
    )
    mismatch = client_assertion(server, clock, "svc-ES256", key)
    refused(
        authenticate(server, mismatch, client_id="svc-RS256"),
        401,
        "invalid_client",
        # svc-RS256's key is RSA: the ES256 assertion is refused before its claims are read
        "client assertion algorithm is not accepted for this client",
    )
    server.client_keys["svc-ES256-too"] = key.public_pem
    refused(
        authenticate(server, mismatch, client_id="svc-ES256-too"),
        401,
        "invalid_client",
        "client_id does not match the client assertion",
    )
    unknown = client_assertion(server, clock, "stranger", key)
    refused(
        authenticate(server, unknown),
        401,
        "invalid_client",
        "client assertion names an unknown client",
    )


@pytest.mark.parametrize(
    ("mode", "target", "accepted"),
    [
        ("token_endpoint", "token", True),
        ("token_endpoint", "issuer", False),
        ("issuer", "issuer", True),
        ("issuer", "token", False),
        ("either", "token", True),
        ("either", "issuer", True),
        ("either", "list", True),
        ("either", "elsewhere", False),
        ("either", "missing", False),
    ],
)
def test_the_audience_the_server_wants(
    make: Callable[..., LocalOAuthServer], clock: FakeClock, mode: str, target: str, accepted: bool
) -> None:
    server = make(assertion_audience=mode)
    aud: Any = {
        "token": server.token_url,
        "issuer": server.url,
        "list": ["https://other.example", server.token_url],
        "elsewhere": "https://login.example.com/oauth2/token",
        "missing": None,
    }[target]
    claims = {"aud": aud} if aud is not None else {}
    assertion = client_assertion(server, clock, "svc-EdDSA", KEYS["EdDSA"], **claims)
    if aud is None:
        assertion = sign(KEYS["EdDSA"], clock, iss="svc-EdDSA", sub="svc-EdDSA")
    got = authenticate(server, assertion)
    if accepted:
        assert got.status_code == 200, got.text
    else:
        refused(got, 401, "invalid_client", "client assertion audience is wrong")


@pytest.mark.parametrize(
    ("change", "description"),
    [
        ({"drop": ("exp",)}, "client assertion has no exp"),
        ({"exp": "soon"}, "client assertion exp is not a number"),
        ({"lifetime": -1}, "client assertion expired"),
        ({"drop": ("iat",)}, "client assertion has no iat"),
        ({"iat_ahead": 61, "lifetime": 120}, "client assertion iat is in the future"),
        ({"lifetime": 301}, "client assertion lifetime is too long"),
        ({"drop": ("jti",)}, "client assertion has no jti"),
        ({"jti": ""}, "client assertion has no jti"),
        ({"nbf_ahead": 120}, "client assertion is not yet valid"),
    ],
)
def test_each_time_and_jti_rule_has_its_own_refusal(
    server: LocalOAuthServer, clock: FakeClock, change: dict[str, Any], description: str
) -> None:
    change = dict(change)
    now = int(clock.time())
    if "iat_ahead" in change:
        change["iat"] = now + change.pop("iat_ahead")
    if "nbf_ahead" in change:
        change["nbf"] = now + change.pop("nbf_ahead")
    assertion = client_assertion(server, clock, "svc-ES256", KEYS["ES256"], **change)
    refused(authenticate(server, assertion), 401, "invalid_client", description)
    # the limits themselves are accepted
    edge = client_assertion(server, clock, "svc-ES256", KEYS["ES256"], lifetime=300)
    assert authenticate(server, edge).status_code == 200
    ahead = client_assertion(server, clock, "svc-ES256", KEYS["ES256"], iat=now + 60, lifetime=120)
    assert authenticate(server, ahead).status_code == 200


def test_the_lifetime_limit_is_a_setting(
    make: Callable[..., LocalOAuthServer], clock: FakeClock
) -> None:
    server = make(max_assertion_lifetime=30)
    assertion = client_assertion(server, clock, "svc-ES256", KEYS["ES256"], lifetime=31)
    refused(
        authenticate(server, assertion),
        401,
        "invalid_client",
        "client assertion lifetime is too long",
    )


def test_the_wall_clock_decides_expiry(server: LocalOAuthServer, clock: FakeClock) -> None:
    first = client_assertion(server, clock, "svc-ES256", KEYS["ES256"], lifetime=60)
    second = client_assertion(server, clock, "svc-ES256", KEYS["ES256"], lifetime=60)
    assert authenticate(server, first).status_code == 200
    clock.jump_wall(61)
    refused(authenticate(server, second), 401, "invalid_client", "client assertion expired")


def test_a_replayed_assertion_is_refused_and_counted(
    server: LocalOAuthServer, clock: FakeClock
) -> None:
    assertion = client_assertion(server, clock, "svc-PS256", KEYS["PS256"], jti="once")
    assert authenticate(server, assertion).status_code == 200
    refused(authenticate(server, assertion), 401, "invalid_client", "assertion replayed")
    same_jti = client_assertion(server, clock, "svc-PS256", KEYS["PS256"], jti="once")
    refused(authenticate(server, same_jti), 401, "invalid_client", "assertion replayed")
    assert (server.assertions_verified, server.assertions_replayed) == (1, 2)
    # jtis belong to one client: another client may use the same one
    other = client_assertion(server, clock, "svc-RS256", KEYS["RS256"], jti="once")
    assert authenticate(server, other).status_code == 200


def test_a_forged_assertion_does_not_burn_its_jti(
    server: LocalOAuthServer, clock: FakeClock, other_keys: dict[str, KeyPair]
) -> None:
    forged = client_assertion(server, clock, "svc-EdDSA", other_keys["EdDSA"], jti="j")
    refused(
        authenticate(server, forged), 401, "invalid_client", "client assertion signature is invalid"
    )
    real = client_assertion(server, clock, "svc-EdDSA", KEYS["EdDSA"], jti="j")
    assert authenticate(server, real).status_code == 200
    assert server.assertions_replayed == 0


@pytest.mark.parametrize(
    ("form", "status", "error", "description"),
    [
        ({"client_assertion": "x.y.z"}, 401, "invalid_client",
         f"client_assertion_type must be {ASSERTION_TYPE}"),
        ({"client_assertion_type": "urn:example:saml", "client_assertion": "x"}, 401,
         "invalid_client", f"client_assertion_type must be {ASSERTION_TYPE}"),
        ({"client_assertion_type": ASSERTION_TYPE}, 401, "invalid_client",
         "missing client_assertion"),
        ({"client_assertion_type": ASSERTION_TYPE, "client_assertion": "not-a-jwt"}, 401,
         "invalid_client", "client assertion is not a well-formed JWT"),
        ({"client_assertion_type": ASSERTION_TYPE, "client_assertion": "x",
          "client_secret": "s"}, 400, "invalid_request", "use only one client authentication"),
    ],
)  # fmt: skip
def test_malformed_client_assertion_requests(
    server: LocalOAuthServer, form: dict[str, str], status: int, error: str, description: str
) -> None:
    refused(post(server, **form), status, error, description)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "assertion",
    [
        b64(b"[" * 100_000) + "." + b64(b"{}") + ".",  # nesting deeper than json can parse
        b64(b'{"alg":"ES256"}') + "." + b64(b'{"sub":"svc-ES256","x":' + b"[" * 100_000) + ".",
        b64(b'"a string"') + "." + b64(b"{}") + ".",
        b64(b'{"alg":"ES256"}') + "." + b64(b"[1, 2]") + ".",
        b64(b'{"alg":"ES256"}') + "." + b64(b"\xff\xfe") + ".",
    ],
    ids=["deep-header", "deep-claims", "string-header", "list-claims", "not-utf8"],
)
def test_hostile_assertions_get_an_answer(server: LocalOAuthServer, assertion: str) -> None:
    refused(
        authenticate(server, assertion, client_id="svc-ES256"),
        401,
        "invalid_client",
        "client assertion is not a well-formed JWT",
    )


def test_a_registered_key_that_is_not_a_public_key_is_named(
    make: Callable[..., LocalOAuthServer], clock: FakeClock
) -> None:
    server = make(client_keys={"svc": "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----"})
    assertion = client_assertion(server, clock, "svc", KEYS["ES256"])
    refused(
        authenticate(server, assertion),
        401,
        "invalid_client",
        "the key registered for the client is not a PEM public key",
    )


def test_basic_and_an_assertion_together_are_refused(
    server: LocalOAuthServer, clock: FakeClock
) -> None:
    assertion = client_assertion(server, clock, "app", CANARY)
    basic = base64.b64encode(f"app:{CANARY}".encode()).decode()
    got = requests.post(
        server.token_url,
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        },
        headers={"Authorization": "Basic " + basic},
        timeout=5,
    )
    refused(got, 400, "invalid_request", "use only one client authentication")


# -- federated client assertions ---------------------------------------------------------------


def federated(clock: FakeClock, **claims: Any) -> str:
    claims = {"iss": CLUSTER, "sub": WORKLOAD, "aud": [AZURE], **claims}
    return sign(ISSUER_KEY, clock, lifetime=3600, **claims)


def test_a_federated_token_authenticates_its_client_until_it_expires(
    server: LocalOAuthServer, clock: FakeClock
) -> None:
    token = federated(clock)
    for _ in range(2):  # the same file content is accepted again, as Azure does
        got = authenticate(server, token, client_id="wi-app")
        assert got.status_code == 200, got.text
    record = server.last_token_request
    assert record is not None
    assert (record.client_auth, record.client_id) == ("federated", "wi-app")
    assert (server.assertions_verified, server.assertions_replayed) == (2, 0)
    clock.jump_wall(3600)
    refused(
        authenticate(server, token, client_id="wi-app"),
        401,
        "invalid_client",
        "federated assertion expired",
    )


@pytest.mark.parametrize(
    ("claims", "key", "description"),
    [
        ({"aud": "api://other"}, ISSUER_KEY, "federated assertion audience is wrong"),
        ({"sub": "system:serviceaccount:prod:other"}, ISSUER_KEY,
         "federated assertion issuer or subject is wrong"),
        ({"iss": "https://elsewhere.example"}, ISSUER_KEY,
         "federated assertion issuer is not trusted"),
        ({}, KEYS["ES256"], "federated assertion signature is invalid"),
        ({}, KEYS["RS256"], "federated assertion algorithm is not accepted for its issuer"),
    ],
)  # fmt: skip
def test_a_bad_federated_token_is_refused(
    server: LocalOAuthServer,
    clock: FakeClock,
    claims: dict[str, Any],
    key: KeyPair,
    description: str,
) -> None:
    claims = {"iss": CLUSTER, "sub": WORKLOAD, "aud": AZURE, **claims}
    token = sign(key, clock, **claims)
    refused(authenticate(server, token, client_id="wi-app"), 401, "invalid_client", description)


def test_the_federated_audience_is_a_setting(
    make: Callable[..., LocalOAuthServer], clock: FakeClock
) -> None:
    server = make(federated_audience="sts.amazonaws.com")
    refused(
        authenticate(server, federated(clock), client_id="wi-app"),
        401,
        "invalid_client",
        "federated assertion audience is wrong",
    )
    good = federated(clock, aud="sts.amazonaws.com")
    assert authenticate(server, good, client_id="wi-app").status_code == 200


# -- the jwt-bearer grant ----------------------------------------------------------------------


def grant_assertion(server: LocalOAuthServer, clock: FakeClock, **claims: Any) -> str:
    claims = {"iss": CLUSTER, "sub": "alice", "aud": server.token_url, **claims}
    return sign(ISSUER_KEY, clock, lifetime=600, **claims)


def test_jwt_bearer_issues_a_usable_token_without_client_authentication(
    server: LocalOAuthServer, clock: FakeClock
) -> None:
    for aud in (server.token_url, server.url):
        got = post(
            server,
            grant_type=JWT_BEARER,
            assertion=grant_assertion(server, clock, aud=aud),
            scope="read write",
        )
        assert got.status_code == 200, got.text
        body = got.json()
        assert body["token_type"] == "Bearer"
        assert body["scope"] == "read write"
        resource = requests.get(
            server.resource_url, headers={"Authorization": "Bearer " + body["access_token"]}
        )
        assert resource.json()["client_id"] == "alice"
    assert server.tokens_issued == 2


def test_jwt_bearer_checks_client_authentication_when_sent(
    server: LocalOAuthServer, clock: FakeClock
) -> None:
    assertion = grant_assertion(server, clock)
    wrong = post(
        server, grant_type=JWT_BEARER, assertion=assertion, client_id="app", client_secret="no"
    )
    refused(wrong, 401, "invalid_client", "client authentication failed")
    identified_only = post(server, grant_type=JWT_BEARER, assertion=assertion, client_id="app")
    refused(identified_only, 401, "invalid_client", "client authentication failed")
    with_key = post(
        server,
        grant_type=JWT_BEARER,
        assertion=assertion,
        client_assertion_type=ASSERTION_TYPE,
        client_assertion=client_assertion(server, clock, "svc-ES256", KEYS["ES256"]),
    )
    assert with_key.status_code == 200, with_key.text
    resource = requests.get(
        server.resource_url,
        headers={"Authorization": "Bearer " + with_key.json()["access_token"]},
    )
    assert resource.json()["client_id"] == "svc-ES256"


@pytest.mark.parametrize(
    ("change", "description"),
    [
        ({"lifetime": -1}, "assertion expired"),
        ({"key": KEYS["ES256"]}, "assertion signature is invalid"),
        ({"iss": "https://unknown.example"}, "assertion issuer is not trusted"),
        ({"aud": "https://login.example.com/oauth2/token"}, "assertion audience is wrong"),
        ({"drop": ("sub",)}, "assertion has no sub"),
        ({"drop": ("exp",)}, "assertion has no exp"),
        ({"raw": ""}, "missing assertion"),
        ({"raw": "garbage"}, "assertion is not a well-formed JWT"),
    ],
)
def test_jwt_bearer_refusals(
    server: LocalOAuthServer, clock: FakeClock, change: dict[str, Any], description: str
) -> None:
    change = dict(change)
    if "raw" in change:
        assertion = change["raw"]
    else:
        key = change.pop("key", ISSUER_KEY)
        claims = {"iss": CLUSTER, "sub": "alice", "aud": server.token_url, **change}
        assertion = sign(key, clock, **claims)
    form = {"assertion": assertion} if assertion else {}
    refused(post(server, grant_type=JWT_BEARER, **form), 400, "invalid_grant", description)
    assert server.tokens_issued == 0


# -- token exchange ----------------------------------------------------------------------------


def client_token(server: LocalOAuthServer) -> str:
    got = post(server, client_id="app", client_secret=CANARY)
    token: str = got.json()["access_token"]
    return token


def exchange(server: LocalOAuthServer, **form: str) -> requests.Response:
    return post(server, grant_type=EXCHANGE, **form)


def test_an_access_token_issued_here_is_exchanged(server: LocalOAuthServer) -> None:
    subject = client_token(server)
    got = exchange(
        server,
        subject_token=subject,
        subject_token_type=ACCESS,
        audience="https://api.example.com",
        resource="https://api.example.com/reports",
        scope="reports",
    )
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["issued_token_type"] == ACCESS
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["access_token"] != subject
    assert server.exchanges == [
        TokenExchangeRecord(
            subject_token_type=ACCESS,
            subject="app",
            actor_token_type=None,
            actor=None,
            audience=("https://api.example.com",),
            resource=("https://api.example.com/reports",),
            requested_token_type=ACCESS,
            scope=("reports",),
            client_id=None,
        )
    ]
    resource = requests.get(
        server.resource_url, headers={"Authorization": "Bearer " + body["access_token"]}
    )
    assert resource.status_code == 200


def test_a_dead_access_token_is_not_exchanged(server: LocalOAuthServer) -> None:
    subject = client_token(server)
    server.expire_all()
    refused(
        exchange(server, subject_token=subject, subject_token_type=ACCESS),
        400,
        "invalid_request",
        "subject_token is not a live access token issued here",
    )
    assert server.exchanges == []


@pytest.mark.parametrize("token_type", [JWT_TYPE, ID_TOKEN])
def test_a_trusted_issuers_jwt_is_exchanged_with_an_actor(
    server: LocalOAuthServer, clock: FakeClock, token_type: str
) -> None:
    subject = sign(ISSUER_KEY, clock, iss=CLUSTER, sub="alice", aud="anyone")
    actor = client_token(server)
    got = exchange(
        server,
        subject_token=subject,
        subject_token_type=token_type,
        actor_token=actor,
        actor_token_type=ACCESS,
        client_id="app",
        client_secret=CANARY,
    )
    assert got.status_code == 200, got.text
    (record,) = server.exchanges
    assert (record.subject_token_type, record.subject) == (token_type, "alice")
    assert (record.actor_token_type, record.actor, record.client_id) == (ACCESS, "app", "app")


@pytest.mark.parametrize(
    ("form", "description"),
    [
        ({}, "missing subject_token"),
        ({"subject_token": "t"}, "missing subject_token_type"),
        ({"subject_token": "t", "subject_token_type": "urn:ietf:params:oauth:token-type:saml2"},
         "subject_token_type is not supported"),
        ({"subject_token": "garbage", "subject_token_type": JWT_TYPE},
         "subject_token is not a well-formed JWT"),
        ({"subject": "expired", "subject_token_type": JWT_TYPE}, "subject_token expired"),
        ({"subject": "forged", "subject_token_type": JWT_TYPE},
         "subject_token signature is invalid"),
        ({"subject": "stranger", "subject_token_type": JWT_TYPE},
         "subject_token issuer is not trusted"),
        ({"subject": "good", "subject_token_type": JWT_TYPE, "actor_token": "a"},
         "missing actor_token_type"),
        ({"subject": "good", "subject_token_type": JWT_TYPE, "actor_token_type": JWT_TYPE},
         "actor_token_type without actor_token"),
        ({"subject": "good", "subject_token_type": JWT_TYPE, "actor_token": "dead",
          "actor_token_type": ACCESS}, "actor_token is not a live access token issued here"),
        ({"subject": "good", "subject_token_type": JWT_TYPE,
          "requested_token_type": "urn:ietf:params:oauth:token-type:saml2"},
         "requested_token_type is not supported"),
    ],
)  # fmt: skip
def test_token_exchange_refusals_are_invalid_request(
    server: LocalOAuthServer, clock: FakeClock, form: dict[str, str], description: str
) -> None:
    form = dict(form)
    subjects = {
        "good": lambda: sign(ISSUER_KEY, clock, iss=CLUSTER, sub="alice"),
        "expired": lambda: sign(ISSUER_KEY, clock, iss=CLUSTER, sub="alice", lifetime=-5),
        "forged": lambda: sign(KEYS["ES256"], clock, iss=CLUSTER, sub="alice"),
        "stranger": lambda: sign(ISSUER_KEY, clock, iss="https://idp.example", sub="alice"),
    }
    if "subject" in form:
        form["subject_token"] = subjects[form.pop("subject")]()
    refused(exchange(server, **form), 400, "invalid_request", description)
    assert server.exchanges == []
    assert server.tokens_issued == 0


def test_a_requested_jwt_is_signed_by_the_server_and_typed_n_a(
    server: LocalOAuthServer, clock: FakeClock
) -> None:
    subject = sign(ISSUER_KEY, clock, iss=CLUSTER, sub="alice")
    actor = sign(ISSUER_KEY, clock, iss=CLUSTER, sub="ci-bot")
    got = exchange(
        server,
        subject_token=subject,
        subject_token_type=JWT_TYPE,
        actor_token=actor,
        actor_token_type=JWT_TYPE,
        requested_token_type=JWT_TYPE,
        audience="https://api.example.com",
    )
    assert got.status_code == 200, got.text
    body = got.json()
    assert (body["issued_token_type"], body["token_type"]) == (JWT_TYPE, "N_A")
    claims = jwt.decode(
        body["access_token"],
        server.public_key_pem,
        algorithms=["ES256"],
        audience="https://api.example.com",
        issuer=server.url,
        options={"verify_iat": False, "verify_exp": False},  # dated by the fake wall clock
    )
    assert claims["sub"] == "alice"
    assert claims["act"] == {"sub": "ci-bot"}
    assert claims["exp"] - claims["iat"] == 3600
    # the issued JWT is trusted here in turn: a chained exchange
    again = exchange(server, subject_token=body["access_token"], subject_token_type=JWT_TYPE)
    assert again.status_code == 200, again.text
    assert server.exchanges[-1].subject == "alice"


def test_the_token_type_of_an_exchange_can_be_forced(
    make: Callable[..., LocalOAuthServer],
) -> None:
    server = make(exchange_token_type="DPoP")
    got = exchange(server, subject_token=client_token(server), subject_token_type=ACCESS)
    assert got.json()["token_type"] == "DPoP"


def test_an_unknown_target_is_invalid_target(make: Callable[..., LocalOAuthServer]) -> None:
    server = make(exchange_targets={"https://api.example.com"})
    subject = client_token(server)
    ok = exchange(
        server, subject_token=subject, subject_token_type=ACCESS, audience="https://api.example.com"
    )
    assert ok.status_code == 200
    got = exchange(
        server, subject_token=subject, subject_token_type=ACCESS, resource="https://evil.example"
    )
    refused(got, 400, "invalid_target", "audience or resource is not a known target")


def test_token_exchange_checks_client_authentication_when_sent(server: LocalOAuthServer) -> None:
    subject = client_token(server)
    wrong = exchange(
        server,
        subject_token=subject,
        subject_token_type=ACCESS,
        client_id="app",
        client_secret="wrong",
    )
    refused(wrong, 401, "invalid_client", "client authentication failed")
    public = exchange(
        server, subject_token=subject, subject_token_type=ACCESS, client_id="public-cli"
    )
    assert public.status_code == 200, public.text
    assert server.exchanges[-1].client_id is None


# -- metadata, unchanged behaviour, secrets ----------------------------------------------------


def test_metadata_lists_the_assertion_methods_algorithms_and_grants(
    server: LocalOAuthServer,
) -> None:
    meta = requests.get(server.url + "/.well-known/oauth-authorization-server", timeout=5).json()
    assert meta["issuer"] == server.url
    assert {"private_key_jwt", "client_secret_jwt", "client_secret_basic"} <= set(
        meta["token_endpoint_auth_methods_supported"]
    )
    assert meta["token_endpoint_auth_signing_alg_values_supported"] == [*ALGORITHMS, "HS256"]
    assert meta["grant_types_supported"] == ["client_credentials", JWT_BEARER, EXCHANGE]


def test_a_server_without_the_new_settings_looks_as_before() -> None:
    with LocalOAuthServer() as plain:
        meta = requests.get(plain.url + "/.well-known/oauth-authorization-server").json()
    assert meta == {
        "issuer": plain.url,
        "token_endpoint": plain.token_url,
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }


def test_unsupported_grants_still_need_client_authentication(server: LocalOAuthServer) -> None:
    refused(
        post(server, grant_type="password"), 401, "invalid_client", "client authentication failed"
    )
    got = post(server, grant_type="password", client_id="app", client_secret=CANARY)
    refused(got, 400, "unsupported_grant_type", "unsupported grant_type")


def test_refusals_never_echo_what_was_sent(
    server: LocalOAuthServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret_claim = "CANARY-7f3a-in-an-assertion"
    sent = [
        client_assertion(server, clock, "svc-ES256", KEYS["EdDSA"], note=secret_claim),
        client_assertion(server, clock, "app", CANARY, note=secret_claim, aud="x"),
    ]
    answers = [authenticate(server, assertion).text for assertion in sent]
    answers.append(exchange(server, subject_token=secret_claim, subject_token_type=ACCESS).text)
    for text in [*answers, caplog.text]:
        assert secret_claim not in text
        assert CANARY not in text
        assert not any(assertion in text for assertion in sent)
    assert "private_pem" not in repr(KEYS["ES256"])
    assert KEYS["ES256"].private_pem not in repr(KEYS["ES256"])


# -- keys ------------------------------------------------------------------------------------


def test_key_pairs() -> None:
    assert KEYS["RS256"].public_pem == key_pair("PS256").public_pem  # one RSA key per process
    assert key_pair("ES256").public_pem != KEYS["ES256"].public_pem
    assert "BEGIN PRIVATE KEY" in KEYS["EdDSA"].private_pem
    assert "BEGIN PUBLIC KEY" in KEYS["EdDSA"].public_pem
    with pytest.raises(ValueError, match="RS256, PS256, ES256, EdDSA"):
        key_pair("HS256")
