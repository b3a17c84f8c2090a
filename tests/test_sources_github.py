"""GitHubActionsSource against the local stand-in for the Actions ID-token endpoint (and a
tiny scripted server for malformed answers), over real sockets on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator

import jwt
import pytest

from conftest import all_log_text, assert_no_leak, closed_port, reachable_text
from tokenprovider.errors import AssertionSourceError
from tokenprovider.retry import RetryPolicy
from tokenprovider.sources import GitHubActionsSource, read_assertion
from tokenprovider.sources.github_actions import with_audience
from tokenprovider.testing.clock import FakeClock
from tokenprovider.testing.github_actions import TOKEN_PATH, LocalGitHubActionsOIDC
from tokenprovider.testing.http_recorder import _BackgroundServer, _Handler

CANARY = "CANARY-7f3a-request-token-90c2"
URL_VARIABLE = "ACTIONS_ID_TOKEN_REQUEST_URL"
TOKEN_VARIABLE = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"


@pytest.fixture
def actions() -> Iterator[LocalGitHubActionsOIDC]:
    with LocalGitHubActionsOIDC() as server:
        yield server


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def source_for(environ: dict[str, str], clock: FakeClock) -> GitHubActionsSource:
    retry = RetryPolicy(sleep=clock.sleep, monotonic=clock.monotonic)
    return GitHubActionsSource(environ=environ, retry=retry)


def read(source: GitHubActionsSource, audience: str | None = None) -> str:
    return read_assertion(source, audience, timeout=20.0)


def read_error(source: GitHubActionsSource, *secrets: str) -> str:
    with pytest.raises(AssertionSourceError) as info:
        read(source, "api://AzureADTokenExchange")
    for secret in secrets:
        assert_no_leak(reachable_text(info.value), secret)
    return str(info.value)


def test_the_token_is_asked_for_the_audience_with_the_bearer(
    actions: LocalGitHubActionsOIDC, clock: FakeClock
) -> None:
    source = source_for(actions.environ(), clock)
    token = read(source, "api://AzureADTokenExchange")
    claims = jwt.decode(
        token, actions.public_key_pem, algorithms=["RS256"], audience="api://AzureADTokenExchange"
    )
    assert claims["sub"] == "repo:octo-org/octo-repo:ref:refs/heads/main"
    assert actions.audiences == ["api://AzureADTokenExchange"]  # the bearer was accepted
    assert read(source, None)  # no audience: none added
    assert actions.audiences[-1] is None
    assert actions.requests == 2
    assert_no_leak(repr(source), actions.request_token, token)


def test_an_audience_is_added_to_a_url_without_a_query(
    actions: LocalGitHubActionsOIDC, clock: FakeClock
) -> None:
    environ = actions.environ() | {URL_VARIABLE: actions.url + TOKEN_PATH}
    assert read(source_for(environ, clock), "sts.amazonaws.com")
    assert actions.audiences == ["sts.amazonaws.com"]


@pytest.mark.parametrize(
    ("url", "audience", "expected"),
    [
        (
            "https://x.example/_apis/idtoken?api-version=2.0",
            "api://a b&c=d",
            "https://x.example/_apis/idtoken?api-version=2.0&audience=api%3A%2F%2Fa%20b%26c%3Dd",
        ),
        ("http://127.0.0.1:8/t", "aud", "http://127.0.0.1:8/t?audience=aud"),
        ("http://127.0.0.1:8/t?", "aud", "http://127.0.0.1:8/t?audience=aud"),
        ("https://x.example/t?a=1", None, "https://x.example/t?a=1"),
        ("https://x.example/t?a=1", "", "https://x.example/t?a=1"),
    ],
)
def test_the_audience_is_url_encoded_after_the_right_separator(
    url: str, audience: str | None, expected: str
) -> None:
    assert with_audience(url, audience) == expected


def test_the_variables_are_read_at_each_read(
    actions: LocalGitHubActionsOIDC, clock: FakeClock
) -> None:
    environ: dict[str, str] = {}
    source = source_for(environ, clock)
    with pytest.raises(AssertionSourceError):
        read(source)
    environ.update(actions.environ())
    assert read(source)


@pytest.mark.parametrize("missing", [URL_VARIABLE, TOKEN_VARIABLE])
def test_a_missing_variable_is_named_with_the_permission_hint(
    actions: LocalGitHubActionsOIDC, clock: FakeClock, missing: str
) -> None:
    environ = actions.environ()
    environ[missing] = "  "  # set but blank counts as missing
    message = read_error(source_for(environ, clock), actions.request_token)
    assert message.startswith(f"GitHub Actions OIDC (ACTIONS_ID_TOKEN_REQUEST_URL): {missing}")
    assert "is not set" in message
    assert "permissions: id-token: write" in message
    del environ[missing]
    assert "is not set" in read_error(source_for(environ, clock))
    assert actions.requests == 0


def test_a_503_is_retried(actions: LocalGitHubActionsOIDC, clock: FakeClock) -> None:
    actions.fail_next(1, status=503)
    assert read(source_for(actions.environ(), clock), "aud")
    assert actions.requests == 2
    assert len(clock.slept) == 1


def test_a_refused_request_token_is_not_repeated_in_the_error(
    actions: LocalGitHubActionsOIDC, clock: FakeClock, debug_logs: pytest.LogCaptureFixture
) -> None:
    environ = actions.environ() | {TOKEN_VARIABLE: CANARY}
    message = read_error(source_for(environ, clock), CANARY)
    assert "answered HTTP 401" in message
    assert "bad or missing bearer token" in message
    assert "valid only during its job" in message
    assert actions.requests == 1  # a 401 is not retried
    assert_no_leak(all_log_text(debug_logs), CANARY)


class Scripted(_BackgroundServer):
    """Answers every request with ``status`` and ``body``, ``{token}`` replaced by the
    bearer token the request carried (a server that echoes it)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__()
        self.status = status
        self.body = body

    def handle(self, request: _Handler, body: bytes) -> None:
        bearer = request.headers.get("Authorization", "").partition(" ")[2]
        request.respond(self.status, self.body.replace("{token}", bearer).encode())


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, '{"message": "token {token} is not valid"}', "token *** is not valid"),
        (200, "not json {token}", "a body that is not a JSON object"),
        (200, '["{token}"]', "a body that is not a JSON object (not an object)"),
        (200, '{"count": 1}', 'with no "value", not a token'),
        (200, '{"value": 12}', 'with an int as its "value", not a token'),
        (200, '{"value": ["{token}"]}', 'with a list as its "value", not a token'),
    ],
)
def test_a_malformed_answer_is_a_clear_error(
    clock: FakeClock, status: int, body: str, expected: str
) -> None:
    with Scripted(status, body) as server:
        environ = {URL_VARIABLE: server.url + "/idtoken?api-version=2.0", TOKEN_VARIABLE: CANARY}
        message = read_error(source_for(environ, clock), CANARY)
    assert expected in message
    assert f"at {server.url}/idtoken" in message


def test_a_token_in_the_value_is_checked_like_any_source(clock: FakeClock) -> None:
    with Scripted(200, json.dumps({"value": "has a space"})) as server:
        environ = {URL_VARIABLE: server.url + "/t", TOKEN_VARIABLE: CANARY}
        message = read_error(source_for(environ, clock), CANARY)
    assert "a space, control or non-ASCII character" in message


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://example.com/_apis/idtoken", "must be https (http only to a loopback host)"),
        ("ftp://127.0.0.1/x", "must be https"),
        ("https://user:pw@example.com/x", "must not hold a user name or password"),
        ("https:///no-host", "has no host"),
        ("https://[::1/x", "is not a URL"),
    ],
)
def test_a_url_that_must_not_get_the_request_token_is_refused(
    clock: FakeClock, url: str, expected: str
) -> None:
    environ = {URL_VARIABLE: url, TOKEN_VARIABLE: CANARY}
    message = read_error(source_for(environ, clock), CANARY, "pw@")
    assert expected in message


def test_an_unreachable_endpoint_says_what_was_tried(clock: FakeClock) -> None:
    url = f"http://127.0.0.1:{closed_port()}/t"
    environ = {URL_VARIABLE: url, TOKEN_VARIABLE: CANARY}
    message = read_error(source_for(environ, clock), CANARY)
    assert message.startswith(
        f"no token from GitHub Actions OIDC (ACTIONS_ID_TOKEN_REQUEST_URL) at {url}"
    )
    assert "(4 attempts at most, within " in message
