"""The assertion grants from the provider's side, against the real verifier of
`LocalOAuthServer` over 127.0.0.1: jwt-bearer (RFC 7523 §2.1) and token exchange
(RFC 8693) with their sources (token files renewed underneath the process, environment
variables, another provider, GitHub Actions OIDC through its local stand-in), the checks of
an exchange's answer, shared cache identity, malformed answers and retries, and the canary:
no assertion or subject token in any repr, error or log record.

The configuration side (profiles, ``config check``, ``config show``, the CLI, plugins) is in
tests/test_assertion_grants_config.py.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests

from conftest import CANARY_SECRET, all_log_text, assert_no_leak, reachable_text
from tokenprovider import (
    ConfigurationError,
    MalformedTokenResponseError,
    OAuthError,
    OAuthTokenProvider,
    RetryPolicy,
)
from tokenprovider.caches import FileTokenCache, MemoryTokenCache
from tokenprovider.errors import AssertionSourceError
from tokenprovider.sources import AssertionSource, ProviderSource
from tokenprovider.testing import FakeClock, LocalGitHubActionsOIDC, LocalOAuthServer, key_pair

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
CLUSTER = "https://kubernetes.default.svc.cluster.local"
WORKLOAD = "system:serviceaccount:prod:reporter"
API = "https://api.example.com"
#: A subject token that is no JWT (and that the server does not know): the canary.
CANARY_SUBJECT = "CANARY-7f3a-subject-token-91c2"

CLUSTER_KEY = key_pair("RS256")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server(clock: FakeClock) -> Iterator[LocalOAuthServer]:
    """A server that trusts the cluster's tokens (its checks on the fake wall clock); the
    client ``app`` (secret: the canary) gets tokens to exchange."""
    with LocalOAuthServer(
        clients={"app": CANARY_SECRET},
        trusted_issuers={CLUSTER: CLUSTER_KEY.public_pem},
        wall_clock=clock.time,
    ) as local:
        yield local


def cluster_token(
    clock: FakeClock, server: LocalOAuthServer, *, sub: str = WORKLOAD, lifetime: float = 600
) -> str:
    """A token the cluster issued (a projected service-account token) for ``server``."""
    now = int(clock.time())
    claims = {
        "iss": CLUSTER,
        "sub": sub,
        "aud": [server.token_url],
        "iat": now,
        "exp": now + int(lifetime),
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, CLUSTER_KEY.private_pem, algorithm="RS256")


def write_token(path: Path, token: str) -> Path:
    path.write_text(token + "\n", encoding="utf-8")
    return path


def make(
    server: LocalOAuthServer, clock: FakeClock, grant_type: str, **settings: Any
) -> OAuthTokenProvider:
    """A provider of ``grant_type`` for the public client ``workload`` (no client
    authentication: the grant is the proof), its waits on ``clock``."""
    settings.setdefault("client_auth", "none")
    settings.setdefault("retry", RetryPolicy(sleep=clock.sleep, monotonic=clock.monotonic))
    return OAuthTokenProvider(
        server.url,
        settings.pop("client_id", "workload"),
        settings.pop("client_secret", None),
        token_url=server.token_url,
        grant_type=grant_type,
        clock=clock,
        **settings,
    )


def form_of(server: LocalOAuthServer, index: int = -1) -> dict[str, str]:
    """The form of a token request, one value per field."""
    record = server.token_request_records[index]
    assert all(len(values) == 1 for values in record.form.values()), record.form
    return {name: values[0] for name, values in record.form.items()}


def works_at_resource(server: LocalOAuthServer, token: str) -> dict[str, Any]:
    answer = requests.get(
        server.resource_url, headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def warnings_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("tokenprovider") and record.levelno >= logging.WARNING
    ]


def token_body(**fields: object) -> bytes:
    return json.dumps(fields).encode()


# -- jwt-bearer with a token file ---------------------------------------------------------


def test_jwt_bearer_sends_the_files_token_as_the_assertion(
    server: LocalOAuthServer, clock: FakeClock, tmp_path: Path
) -> None:
    assertion = cluster_token(clock, server)
    path = write_token(tmp_path / "token", assertion)
    provider = make(
        server,
        clock,
        "jwt_bearer",
        assertion=f"file:{path}",
        scopes=["read", "write"],
        audience=API,
    )

    token = provider.token

    assert form_of(server) == {
        "grant_type": JWT_BEARER,
        "assertion": assertion,
        "scope": "read write",
        "audience": API,
        "client_id": "workload",
    }
    assert works_at_resource(server, token)["client_id"] == WORKLOAD  # the assertion's sub
    assert server.token_requests == 1


def test_jwt_bearer_without_scope_or_audience_sends_neither(
    server: LocalOAuthServer, clock: FakeClock, tmp_path: Path
) -> None:
    path = write_token(tmp_path / "token", cluster_token(clock, server))
    assert make(server, clock, "jwt_bearer", assertion=f"file:{path}").token
    assert set(form_of(server)) == {"grant_type", "assertion", "client_id"}


def kubelet_layout(volume: Path, token: str, generation: str) -> None:
    """What the kubelet's atomic writer does: the token in a new timestamped directory,
    a temporary link to it renamed over ``..data`` (atomic), ``token -> ..data/token``."""
    volume.mkdir(exist_ok=True)
    data = volume / f"..{generation}"
    data.mkdir()
    write_token(data / "token", token)
    temporary = volume / "..data_tmp"
    temporary.symlink_to(data.name)
    os.replace(temporary, volume / "..data")
    if not (volume / "token").is_symlink():
        (volume / "token").symlink_to("..data/token")


def test_a_projected_token_rotated_by_the_kubelet_is_read_again(
    server: LocalOAuthServer, clock: FakeClock, tmp_path: Path
) -> None:
    volume = tmp_path / "serviceaccount"
    first = cluster_token(clock, server, lifetime=3700)
    kubelet_layout(volume, first, "2026_12_01_a")
    provider = make(server, clock, "jwt_bearer", assertion=f"file:{volume / 'token'}")
    assert provider.token
    assert form_of(server)["assertion"] == first

    clock.advance(3601)  # the access token (one hour) has run out; the kubelet renewed
    second = cluster_token(clock, server)
    kubelet_layout(volume, second, "2026_12_01_b")
    assert (volume / "..data").readlink() == Path("..2026_12_01_b")

    assert provider.token
    assert server.token_requests == 2
    assert form_of(server)["assertion"] == second  # the new content, not the first read


def test_a_token_file_rewritten_in_place_is_read_again(
    server: LocalOAuthServer, clock: FakeClock, tmp_path: Path
) -> None:
    path = write_token(tmp_path / "azure-identity-token", cluster_token(clock, server))
    provider = make(server, clock, "jwt_bearer", assertion=f"file:{path}")
    assert provider.token
    second = cluster_token(clock, server, sub="system:serviceaccount:prod:other")
    inode = path.stat().st_ino
    write_token(path, second)
    assert path.stat().st_ino == inode
    provider.invalidate_cache()
    assert works_at_resource(server, provider.token)["client_id"] == (
        "system:serviceaccount:prod:other"
    )
    assert form_of(server)["assertion"] == second


def test_an_expired_token_in_the_file_is_refused_before_any_request(
    server: LocalOAuthServer, clock: FakeClock, tmp_path: Path
) -> None:
    expired = cluster_token(clock, server, lifetime=60)
    path = write_token(tmp_path / "token", expired)
    clock.advance(120)  # the kubelet stopped renewing it
    provider = make(server, clock, "jwt_bearer", assertion=f"file:{path}")

    with pytest.raises(AssertionSourceError) as info:
        _ = provider.token

    message = str(info.value)
    assert str(path) in message
    assert "expired 60 s ago" in message
    assert "kubelet" in message  # what renews the file
    assert server.token_requests == 0
    assert_no_leak(reachable_text(info.value), expired, expired.rpartition(".")[2])


def test_a_missing_token_file_is_an_error_naming_its_path(
    server: LocalOAuthServer, clock: FakeClock, tmp_path: Path
) -> None:
    path = tmp_path / "projected" / "token"
    provider = make(server, clock, "token_exchange", subject_token=f"file:{path}")
    with pytest.raises(AssertionSourceError) as info:
        _ = provider.token
    assert f"file {path} does not exist" in str(info.value)
    assert "projected volume" in str(info.value)
    assert server.token_requests == 0


# -- token exchange -----------------------------------------------------------------------


def test_a_subject_token_from_a_file_is_exchanged_as_a_jwt(
    server: LocalOAuthServer, clock: FakeClock, tmp_path: Path
) -> None:
    subject = cluster_token(clock, server)
    path = write_token(tmp_path / "token", subject)
    provider = make(
        server,
        clock,
        "token_exchange",
        subject_token=f"file:{path}",
        audience=API,
        resource=f"{API}/items",
        scopes="read",
    )
    token = provider.token

    assert provider.subject_token_type == JWT_TYPE
    assert form_of(server) == {
        "grant_type": EXCHANGE,
        "client_id": "workload",
        "subject_token": subject,
        "subject_token_type": JWT_TYPE,
        "audience": API,
        "resource": f"{API}/items",
        "scope": "read",
    }
    (record,) = server.exchanges
    assert (record.subject_token_type, record.subject) == (JWT_TYPE, WORKLOAD)
    assert (record.audience, record.resource, record.scope) == (
        (API,),
        (f"{API}/items",),
        ("read",),
    )
    assert (record.actor, record.actor_token_type) == (None, None)
    assert record.requested_token_type == ACCESS
    assert works_at_resource(server, token)["client_id"] == WORKLOAD


def test_another_providers_token_is_exchanged_as_an_access_token(
    server: LocalOAuthServer, clock: FakeClock
) -> None:
    other = OAuthTokenProvider(server.url, "app", CANARY_SECRET, token_url=server.token_url)
    provider = make(server, clock, "token_exchange", subject_token=ProviderSource(other))
    assert provider.token

    assert provider.subject_token_type == ACCESS
    exchange = form_of(server)
    assert exchange["subject_token"] == other.token  # the other's cached token
    assert exchange["subject_token_type"] == ACCESS
    (record,) = server.exchanges
    assert (record.subject_token_type, record.subject) == (ACCESS, "app")
    grants = [r.form["grant_type"][0] for r in server.token_request_records]
    assert grants == ["client_credentials", EXCHANGE]


def test_an_actor_token_is_sent_with_its_type(
    server: LocalOAuthServer, clock: FakeClock, tmp_path: Path
) -> None:
    subject = write_token(tmp_path / "subject", cluster_token(clock, server))
    actor_token = cluster_token(clock, server, sub="system:serviceaccount:prod:gateway")
    actor = write_token(tmp_path / "actor", actor_token)
    provider = make(
        server,
        clock,
        "token_exchange",
        subject_token=f"file:{subject}",
        actor_token=f"file:{actor}",
    )
    assert provider.token
    assert provider.actor_token_type == JWT_TYPE  # a file's token: a JWT by default
    assert (form_of(server)["actor_token"], form_of(server)["actor_token_type"]) == (
        actor_token,
        JWT_TYPE,
    )
    assert server.exchanges[0].actor == "system:serviceaccount:prod:gateway"

    typed = make(
        server,
        clock,
        "token_exchange",
        subject_token=f"file:{subject}",
        actor_token=f"file:{actor}",
        actor_token_type="id_token",
        cache=MemoryTokenCache(),
    )
    assert typed.token
    assert form_of(server)["actor_token_type"] == ID_TOKEN
    assert server.exchanges[1].actor_token_type == ID_TOKEN


def test_a_requested_jwt_typed_n_a_is_accepted_without_a_warning(
    server: LocalOAuthServer, clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tokenprovider")
    path = write_token(tmp_path / "token", cluster_token(clock, server))
    provider = make(
        server,
        clock,
        "token_exchange",
        subject_token=f"file:{path}",
        requested_token_type="jwt",
        audience=API,
    )
    token = provider.token

    assert form_of(server)["requested_token_type"] == JWT_TYPE
    assert server.exchanges[0].requested_token_type == JWT_TYPE
    claims = jwt.decode(
        token,
        server.public_key_pem,
        ["ES256"],
        audience=API,
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},  # fake clock
    )
    assert claims["sub"] == WORKLOAD
    assert warnings_logged(caplog) == []


def test_a_token_type_other_than_bearer_is_still_warned_about(
    server: LocalOAuthServer, clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The control of the test above: the warning is there to be missed."""
    caplog.set_level(logging.DEBUG, logger="tokenprovider")
    server.exchange_token_type = "PoP"
    path = write_token(tmp_path / "token", cluster_token(clock, server))
    assert make(server, clock, "token_exchange", subject_token=f"file:{path}").token
    (warning,) = warnings_logged(caplog)
    assert "'PoP'" in warning


def test_n_a_for_an_exchanged_access_token_is_accepted(
    server: LocalOAuthServer, clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tokenprovider")
    server.exchange_token_type = "N_A"
    path = write_token(tmp_path / "token", cluster_token(clock, server))
    token = make(server, clock, "token_exchange", subject_token=f"file:{path}").token
    assert works_at_resource(server, token)
    assert warnings_logged(caplog) == []


def test_n_a_from_a_grant_that_is_no_exchange_is_warned_about(
    server: LocalOAuthServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tokenprovider")
    server.respond_next(200, token_body(access_token="t0k", token_type="N_A", expires_in=60))
    provider = OAuthTokenProvider(server.url, "app", CANARY_SECRET, token_url=server.token_url)
    assert provider.token == "t0k"
    (warning,) = warnings_logged(caplog)
    assert "'N_A'" in warning


def test_an_exchange_answer_without_issued_token_type_is_malformed(
    server: LocalOAuthServer, clock: FakeClock, tmp_path: Path
) -> None:
    path = write_token(tmp_path / "token", cluster_token(clock, server))
    server.respond_next(200, token_body(access_token="t0k", token_type="Bearer", expires_in=60))
    provider = make(server, clock, "token_exchange", subject_token=f"file:{path}")
    with pytest.raises(MalformedTokenResponseError) as info:
        _ = provider.token
    assert "without issued_token_type" in str(info.value)
    assert server.token_url in str(info.value)


def test_an_issued_token_type_other_than_requested_is_malformed(
    server: LocalOAuthServer, clock: FakeClock, tmp_path: Path
) -> None:
    path = write_token(tmp_path / "token", cluster_token(clock, server))
    server.respond_next(
        200,
        token_body(
            access_token="t0k", token_type="Bearer", issued_token_type=ACCESS, expires_in=60
        ),
    )
    provider = make(
        server, clock, "token_exchange", subject_token=f"file:{path}", requested_token_type="jwt"
    )
    with pytest.raises(MalformedTokenResponseError) as info:
        _ = provider.token
    message = str(info.value)
    assert f"issued a token of type {ACCESS}" in message
    assert f"requested_token_type is {JWT_TYPE}" in message


def test_an_issued_token_type_is_not_required_to_match_when_none_was_requested(
    server: LocalOAuthServer, clock: FakeClock, tmp_path: Path
) -> None:
    path = write_token(tmp_path / "token", cluster_token(clock, server))
    server.respond_next(
        200,
        token_body(access_token="t0k", token_type="N_A", issued_token_type=ID_TOKEN, expires_in=60),
    )
    assert make(server, clock, "token_exchange", subject_token=f"file:{path}").token == "t0k"


def test_an_invalid_subject_is_invalid_request_with_the_servers_reason(
    server: LocalOAuthServer, clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    path = write_token(tmp_path / "token", CANARY_SUBJECT)
    provider = make(
        server,
        clock,
        "token_exchange",
        subject_token=f"file:{path}",
        subject_token_type="access_token",
    )
    with pytest.raises(OAuthError) as info:
        _ = provider.token
    error = info.value
    assert error.error == "invalid_request"
    assert error.status == 400
    assert "subject_token is not a live access token issued here" in str(error)
    assert server.token_requests == 1  # a client error is not retried
    assert_no_leak(reachable_text(error), CANARY_SUBJECT)
    assert_no_leak(all_log_text(caplog), CANARY_SUBJECT)


def test_a_server_echoing_the_subject_token_is_redacted(
    server: LocalOAuthServer, clock: FakeClock, tmp_path: Path
) -> None:
    path = write_token(tmp_path / "token", CANARY_SUBJECT)
    body = {"error": "invalid_grant", "error_description": f"bad token {CANARY_SUBJECT}"}
    server.respond_next(400, json.dumps(body).encode())
    provider = make(server, clock, "token_exchange", subject_token=f"file:{path}")
    with pytest.raises(OAuthError) as info:
        _ = provider.token
    assert "bad token" in str(info.value)
    assert_no_leak(reachable_text(info.value), CANARY_SUBJECT)


# -- environment variables ----------------------------------------------------------------


def test_an_env_source_is_read_at_each_fetch(
    server: LocalOAuthServer, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI_ID_TOKEN", cluster_token(clock, server, sub="job-1"))
    provider = make(server, clock, "token_exchange", subject_token="env:CI_ID_TOKEN")
    assert provider.token
    monkeypatch.setenv("CI_ID_TOKEN", cluster_token(clock, server, sub="job-2"))
    provider.invalidate_cache()
    assert provider.token
    assert [record.subject for record in server.exchanges] == ["job-1", "job-2"]

    monkeypatch.delenv("CI_ID_TOKEN")
    provider.invalidate_cache()
    with pytest.raises(AssertionSourceError, match="environment variable CI_ID_TOKEN is not set"):
        _ = provider.token
    assert server.token_requests == 2


# -- GitHub Actions OIDC ------------------------------------------------------------------


@pytest.fixture
def actions() -> Iterator[LocalGitHubActionsOIDC]:
    with LocalGitHubActionsOIDC(repository="octo-org/octo-repo") as stand_in:
        yield stand_in


@pytest.fixture
def trusting(actions: LocalGitHubActionsOIDC) -> Iterator[LocalOAuthServer]:
    with LocalOAuthServer(trusted_issuers={actions.issuer: actions.public_key_pem}) as local:
        yield local


def test_jwt_bearer_with_the_github_actions_token(
    actions: LocalGitHubActionsOIDC,
    trusting: LocalOAuthServer,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in actions.environ().items():
        monkeypatch.setenv(name, value)
    provider = OAuthTokenProvider(
        trusting.url,
        "ci",
        token_url=trusting.token_url,
        grant_type="jwt_bearer",
        client_auth="none",
        assertion="github-actions",
        audience=trusting.token_url,  # the aud the server checks in the assertion
    )
    token = provider.token

    assert actions.audiences == [trusting.token_url]
    assert actions.requests == 1
    assert works_at_resource(trusting, token)["client_id"] == actions.subject
    assert_no_leak(repr(provider), actions.request_token)


def test_the_github_actions_source_retries_on_the_providers_policy(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 503 from the Actions endpoint is waited out on the provider's clock, within its
    deadline: no real sleep, no policy of the source's own."""
    with (
        LocalGitHubActionsOIDC(wall_clock=clock.time) as actions,
        LocalOAuthServer(
            trusted_issuers={actions.issuer: actions.public_key_pem}, wall_clock=clock.time
        ) as trusting,
    ):
        for name, value in actions.environ().items():
            monkeypatch.setenv(name, value)
        actions.fail_next(1, status=503)
        provider = make(
            trusting, clock, "jwt_bearer", assertion="github-actions", audience=trusting.token_url
        )
        assert provider.token
        assert actions.requests == 2
        assert len(clock.slept) == 1  # the wait before the second request, on the fake clock


def test_token_exchange_of_the_github_actions_token(
    actions: LocalGitHubActionsOIDC,
    trusting: LocalOAuthServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    for name, value in actions.environ().items():
        monkeypatch.setenv(name, value)
    provider = OAuthTokenProvider(
        trusting.url,
        "ci",
        token_url=trusting.token_url,
        grant_type="token_exchange",
        client_auth="none",
        subject_token="github-actions",
        audience=API,
    )
    assert provider.token

    assert actions.audiences == [API]
    (record,) = trusting.exchanges
    assert (record.subject, record.subject_token_type, record.audience) == (
        actions.subject,
        JWT_TYPE,
        (API,),
    )
    subject = trusting.last_token_request.form["subject_token"][0]  # type: ignore[union-attr]
    assert_no_leak(all_log_text(caplog), subject, actions.request_token)


def test_a_job_without_the_request_token_is_told_the_permission(
    actions: LocalGitHubActionsOIDC,
    trusting: LocalOAuthServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", actions.request_url)
    monkeypatch.delenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", raising=False)
    provider = OAuthTokenProvider(
        trusting.url,
        "ci",
        token_url=trusting.token_url,
        grant_type="token_exchange",
        client_auth="none",
        subject_token="github-actions",
        audience=API,
    )
    with pytest.raises(AssertionSourceError) as info:
        _ = provider.token
    assert "ACTIONS_ID_TOKEN_REQUEST_TOKEN is not set" in str(info.value)
    assert "permissions: id-token: write" in str(info.value)
    assert (actions.requests, trusting.token_requests) == (0, 0)


# -- shared cache identity ----------------------------------------------------------------


def test_a_file_subjects_token_is_never_shared(
    server: LocalOAuthServer, clock: FakeClock, tmp_path: Path
) -> None:
    """Every pod has the same projected path, holding its own service account's token:
    the path does not say whose token it holds, so an exchange of it is never shared."""
    path = write_token(tmp_path / "token", cluster_token(clock, server, sub="alice"))

    def exchange(**cache: Any) -> OAuthTokenProvider:
        return make(
            server, clock, "token_exchange", subject_token=f"file:{path}", audience=API, **cache
        )

    with pytest.raises(ConfigurationError) as refused:
        exchange(cache=FileTokenCache(tmp_path / "cache"))
    assert str(refused.value) == (
        f"a token got with the subject_token from file {path} may differ from one process "
        "to the next, so a FileTokenCache cannot share it: remove the cache setting"
    )
    alice = exchange()
    assert alice.cache_key() is None
    assert works_at_resource(server, alice.token)["client_id"] == "alice"
    write_token(path, cluster_token(clock, server, sub="bob"))  # another workload's now
    bob = exchange()
    assert works_at_resource(server, bob.token)["client_id"] == "bob"
    assert [record.subject for record in server.exchanges] == ["alice", "bob"]


def test_exchanges_of_two_other_providers_tokens_never_share_a_cached_token(
    server: LocalOAuthServer, clock: FakeClock, tmp_path: Path
) -> None:
    """Two clients on one host: their tokens are two subjects, whatever the sources'
    descriptions say."""
    server.clients["app2"] = CANARY_SECRET + "-2"
    directory = tmp_path / "cache"

    def exchange(client_id: str, secret: str) -> OAuthTokenProvider:
        other = OAuthTokenProvider(server.url, client_id, secret, token_url=server.token_url)
        return make(
            server,
            clock,
            "token_exchange",
            subject_token=ProviderSource(other),
            cache=FileTokenCache(directory),
        )

    first, second = exchange("app", CANARY_SECRET), exchange("app2", CANARY_SECRET + "-2")
    assert first.cache_key() != second.cache_key()
    assert works_at_resource(server, first.token)["client_id"] == "app"
    assert works_at_resource(server, second.token)["client_id"] == "app2"
    assert [record.subject for record in server.exchanges] == ["app", "app2"]


def test_an_env_subject_is_never_kept_in_a_shared_cache(
    server: LocalOAuthServer, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two jobs on one machine, one after the other, each with its own token in the
    variable, would share a FileTokenCache: the second would get the first's. Such a
    token is never shared: the cache is refused when the provider is built (the CLI
    then keeps it in memory: tests/test_assertion_grants_config.py)."""
    directory = tmp_path / "cache"

    def job(sub: str) -> OAuthTokenProvider:
        monkeypatch.setenv("CI_ID_TOKEN", cluster_token(clock, server, sub=sub))
        return make(
            server,
            clock,
            "token_exchange",
            subject_token="env:CI_ID_TOKEN",
            cache=FileTokenCache(directory),
        )

    with pytest.raises(ConfigurationError) as refused:
        job("job-1")
    assert str(refused.value) == (
        "a token got with the subject_token from environment variable CI_ID_TOKEN may "
        "differ from one process to the next, so a FileTokenCache cannot share it: "
        "remove the cache setting"
    )
    assert server.token_requests == 0


def test_the_token_types_and_resource_are_part_of_the_identity(
    server: LocalOAuthServer, clock: FakeClock
) -> None:
    other = OAuthTokenProvider(server.url, "app", CANARY_SECRET, token_url=server.token_url)
    subject = ProviderSource(other)  # a subject whose tokens have an identity of their own
    base = make(server, clock, "token_exchange", subject_token=subject)
    variants = [
        make(server, clock, "token_exchange", subject_token=subject, subject_token_type="id_token"),
        make(server, clock, "token_exchange", subject_token=subject, requested_token_type="jwt"),
        make(server, clock, "token_exchange", subject_token=subject, resource=f"{API}/"),
        make(server, clock, "token_exchange", subject_token=subject, actor_token=subject),
        make(server, clock, "jwt_bearer", assertion=subject),
    ]
    keys = {base.cache_key(), *(variant.cache_key() for variant in variants)}
    assert None not in keys
    assert len(keys) == 1 + len(variants)


# -- malformed answers and retries --------------------------------------------------------


@pytest.fixture(params=["jwt_bearer", "token_exchange"])
def grant(
    request: pytest.FixtureRequest, server: LocalOAuthServer, clock: FakeClock, tmp_path: Path
) -> OAuthTokenProvider:
    """A provider of each assertion grant, its assertion or subject in a file."""
    path = f"file:{write_token(tmp_path / 'token', cluster_token(clock, server))}"
    source = "assertion" if request.param == "jwt_bearer" else "subject_token"
    return make(server, clock, request.param, **{source: path})


def sent_token(server: LocalOAuthServer, index: int) -> str:
    form = server.token_request_records[index].form
    return (form.get("assertion") or form["subject_token"])[0]


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"<html>login</html>", "text/html", "with a body that is not a JSON object"),
        (b"[1, 2]", "application/json", "with a body that is not a JSON object"),
        (
            token_body(token_type="Bearer", expires_in=60),
            "application/json",
            "without an access_token",
        ),
    ],
)
def test_a_malformed_answer_is_a_clear_error(
    grant: OAuthTokenProvider,
    server: LocalOAuthServer,
    body: bytes,
    content_type: str,
    expected: str,
) -> None:
    server.respond_next(200, body, content_type)
    with pytest.raises(MalformedTokenResponseError) as info:
        _ = grant.token
    assert expected in str(info.value)
    assert server.token_url in str(info.value)
    assert_no_leak(reachable_text(info.value), sent_token(server, 0))


def test_a_503_is_retried_with_the_assertion_sent_again(
    grant: OAuthTokenProvider, server: LocalOAuthServer, clock: FakeClock
) -> None:
    server.fail_next(1, status=503)
    token = grant.token
    assert server.token_requests == 2
    assert sent_token(server, 0) == sent_token(server, 1)
    assert len(clock.slept) == 1
    assert works_at_resource(server, token)


# -- the canary ---------------------------------------------------------------------------


def test_no_subject_or_assertion_in_a_repr_or_the_debug_log(
    server: LocalOAuthServer, clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    subject = cluster_token(clock, server)
    actor = cluster_token(clock, server, sub="gateway")
    subject_file = write_token(tmp_path / "subject", subject)
    actor_file = write_token(tmp_path / "actor", actor)
    provider = make(
        server,
        clock,
        "token_exchange",
        subject_token=f"file:{subject_file}",
        actor_token=f"file:{actor_file}",
        audience=API,
    )
    assert provider.token
    server.fail_next(1, status=503)
    provider.invalidate_cache()
    assert provider.token
    shown = repr(provider)
    secrets_sent = (subject, actor, subject.rpartition(".")[2], actor.rpartition(".")[2])
    assert_no_leak(shown, *secrets_sent)
    assert_no_leak(repr(provider.subject_token), *secrets_sent)
    assert_no_leak(all_log_text(caplog), *secrets_sent)
    assert any(record.name.startswith("tokenprovider") for record in caplog.records)


def test_a_literal_token_given_as_a_source_is_refused_unquoted(
    server: LocalOAuthServer, clock: FakeClock
) -> None:
    literal = cluster_token(clock, server)
    for setting in ("subject_token", "actor_token"):
        settings = {"subject_token": "env:SUBJECT", setting: literal}
        with pytest.raises(ConfigurationError) as info:
            make(server, clock, "token_exchange", **settings)
        assert "looks like a token itself" in str(info.value)
        assert_no_leak(reachable_text(info.value), literal, literal.rpartition(".")[2])
    with pytest.raises(ConfigurationError) as info:
        make(server, clock, "jwt_bearer", assertion=CANARY_SUBJECT)
    assert_no_leak(reachable_text(info.value), CANARY_SUBJECT)


def test_a_chained_providers_secret_is_part_of_the_cache_key(
    server: LocalOAuthServer, clock: FakeClock, tmp_path: Path
) -> None:
    """A public client exchanging another provider's token: only who holds that
    provider's secret may find the exchanged token in a shared cache."""
    cache = FileTokenCache(tmp_path / "cache")

    def exchange(secret: str) -> OAuthTokenProvider:
        other = OAuthTokenProvider(server.url, "app", secret, token_url=server.token_url)
        return make(
            server, clock, "token_exchange", subject_token=ProviderSource(other), cache=cache
        )

    holder, again, stranger = exchange(CANARY_SECRET), exchange(CANARY_SECRET), exchange("x" * 40)
    assert holder.cache_key() is not None
    assert holder.cache_key() == again.cache_key()
    assert stranger.cache_key() != holder.cache_key()


class Counting(AssertionSource):
    """A subject source that counts its reads."""

    description = "a counting source"

    def __init__(self, token: str) -> None:
        self.token = token
        self.reads = 0

    def read(self, audience: str | None) -> str:
        self.reads += 1
        return self.token


def test_a_grants_source_is_read_again_for_each_attempt(
    server: LocalOAuthServer, clock: FakeClock
) -> None:
    source = Counting(cluster_token(clock, server))
    server.fail_next(2, 503)
    provider = make(server, clock, "jwt_bearer", assertion=source)
    assert provider.token
    assert source.reads == 3
    assert server.token_requests == 3
