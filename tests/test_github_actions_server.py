"""The GitHub Actions OIDC stand-in: the runner's two variables, the bearer check, the
audience, tokens a verifier accepts, and injected failures. Real sockets; PyJWT verifies."""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Iterator

import jwt
import pytest
import requests

from tokenprovider.testing import FakeClock, LocalGitHubActionsOIDC, LocalOAuthServer, key_pair


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def actions(clock: FakeClock) -> Iterator[LocalGitHubActionsOIDC]:
    with LocalGitHubActionsOIDC(wall_clock=clock.time) as server:
        yield server


def fetch(
    actions: LocalGitHubActionsOIDC, audience: str | None = None, token: str | None = None
) -> requests.Response:
    url = actions.environ()["ACTIONS_ID_TOKEN_REQUEST_URL"]
    if audience is not None:
        url += "&audience=" + urllib.parse.quote(audience, safe="")
    bearer = actions.environ()["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] if token is None else token
    return requests.get(url, headers={"Authorization": "bearer " + bearer}, timeout=5)


def verify(actions: LocalGitHubActionsOIDC, token: str, audience: str) -> dict[str, object]:
    claims: dict[str, object] = jwt.decode(
        token,
        actions.public_key_pem,
        algorithms=["RS256"],
        audience=audience,
        issuer=actions.issuer,
        options={"verify_iat": False, "verify_nbf": False, "verify_exp": False},
    )
    return claims


def test_the_runner_variables(actions: LocalGitHubActionsOIDC) -> None:
    env = actions.environ()
    assert set(env) == {"ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"}
    url = urllib.parse.urlsplit(env["ACTIONS_ID_TOKEN_REQUEST_URL"])
    assert url.query == "api-version=2.0"
    assert url.hostname == "127.0.0.1"
    assert env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] == actions.request_token
    assert len(actions.request_token) >= 32
    assert actions.request_token not in repr(actions)
    assert actions.issuer == actions.url


def test_a_token_for_the_audience_asked(actions: LocalGitHubActionsOIDC, clock: FakeClock) -> None:
    got = fetch(actions, "api://AzureADTokenExchange")
    assert got.status_code == 200, got.text
    body = got.json()
    assert set(body) == {"count", "value"}
    claims = verify(actions, body["value"], "api://AzureADTokenExchange")
    assert claims["sub"] == "repo:octo-org/octo-repo:ref:refs/heads/main"
    assert (claims["repository"], claims["ref"]) == ("octo-org/octo-repo", "refs/heads/main")
    now = int(clock.time())
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (now, now, now + 300)
    assert jwt.get_unverified_header(body["value"])["alg"] == "RS256"
    assert actions.audiences == ["api://AzureADTokenExchange"]
    assert actions.requests == 1


def test_without_an_audience_the_token_is_for_the_owner(actions: LocalGitHubActionsOIDC) -> None:
    token = fetch(actions).json()["value"]
    assert (
        verify(actions, token, "https://github.com/octo-org")["aud"]
        == "https://github.com/octo-org"
    )
    assert actions.audiences == [None]


def test_each_token_is_new(actions: LocalGitHubActionsOIDC) -> None:
    first, second = (fetch(actions, "a").json()["value"] for _ in range(2))
    assert first != second
    assert verify(actions, first, "a")["jti"] != verify(actions, second, "a")["jti"]


def test_a_token_signed_by_another_key_does_not_verify(actions: LocalGitHubActionsOIDC) -> None:
    token = fetch(actions, "a").json()["value"]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            token,
            key_pair("RS256", fresh=True).public_pem,
            algorithms=["RS256"],
            audience="a",
            options={"verify_iat": False, "verify_nbf": False, "verify_exp": False},
        )


def test_the_settings_shape_the_claims(clock: FakeClock) -> None:
    with LocalGitHubActionsOIDC(
        repository="acme/api", ref="refs/tags/v1", lifetime=60, wall_clock=clock.time
    ) as actions:
        claims = verify(actions, fetch(actions, "x").json()["value"], "x")
        no_audience = verify(actions, fetch(actions).json()["value"], "https://github.com/acme")
    assert claims["sub"] == "repo:acme/api:ref:refs/tags/v1"
    assert claims["repository_owner"] == "acme"
    assert int(str(claims["exp"])) - int(str(claims["iat"])) == 60
    assert no_audience["aud"] == "https://github.com/acme"


@pytest.mark.parametrize(
    "authorization",
    [None, "bearer wrong", "Basic abc", "bearer"],
)
def test_a_missing_or_wrong_bearer_is_401(
    actions: LocalGitHubActionsOIDC, caplog: pytest.LogCaptureFixture, authorization: str | None
) -> None:
    caplog.set_level(logging.DEBUG)
    headers = {} if authorization is None else {"Authorization": authorization}
    got = requests.get(actions.request_url + "&audience=a", headers=headers, timeout=5)
    assert got.status_code == 401
    assert "message" in got.json()
    assert "value" not in got.json()
    assert actions.request_token not in got.text
    assert actions.request_token not in caplog.text
    assert actions.requests == 1


def test_the_bearer_scheme_is_case_insensitive(actions: LocalGitHubActionsOIDC) -> None:
    got = requests.get(
        actions.request_url,
        headers={"Authorization": "Bearer " + actions.request_token},
        timeout=5,
    )
    assert got.status_code == 200


def test_only_get_on_the_token_path(actions: LocalGitHubActionsOIDC) -> None:
    bearer = {"Authorization": "bearer " + actions.request_token}
    posted = requests.post(actions.request_url, headers=bearer, timeout=5)
    assert posted.status_code == 405
    assert posted.headers["Allow"] == "GET"
    elsewhere = requests.get(actions.url + "/other?api-version=2.0", headers=bearer, timeout=5)
    assert elsewhere.status_code == 404
    assert actions.requests == 0


def test_fail_next(actions: LocalGitHubActionsOIDC) -> None:
    actions.fail_next(2)
    actions.fail_next(1, status=500)
    statuses = [fetch(actions, "a").status_code for _ in range(4)]
    assert statuses == [503, 503, 500, 200]
    assert actions.requests == 4
    assert actions.audiences == ["a"] * 4


def test_a_local_oauth_server_trusts_it(actions: LocalGitHubActionsOIDC, clock: FakeClock) -> None:
    """The stand-in's token as a jwt-bearer assertion: the pairing the client tests use."""
    with LocalOAuthServer(
        trusted_issuers={actions.issuer: actions.public_key_pem}, wall_clock=clock.time
    ) as server:
        token = fetch(actions, server.token_url).json()["value"]
        got = requests.post(
            server.token_url,
            data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": token},
            timeout=5,
        )
    assert got.status_code == 200, got.text
