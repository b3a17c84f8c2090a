"""OAuthTokenProvider against the local OAuth server over real sockets on 127.0.0.1.

Client authentication, the token request form, discovery, retries (waits recorded by a
fake clock, never slept), error bodies, malformed responses, refresh, validation and
secret hygiene. Every provider here uses `CANARY_SECRET` unless a test needs another.
"""

from __future__ import annotations

import base64
import json
import logging
import traceback
import types
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import requests

from conftest import CANARY_SECRET, all_log_text, assert_no_leak
from tokenprovider import (
    ConfigurationError,
    DiscoveryError,
    MalformedTokenResponseError,
    OAuthError,
    OAuthTokenProvider,
    RetryPolicy,
    TokenEndpointError,
    TokenRequestError,
)
from tokenprovider.providers.oauth import DEFAULT_EXPIRES_IN, WELL_KNOWN_PATHS
from tokenprovider.testing.clock import FakeClock
from tokenprovider.testing.oauth_server import LocalOAuthServer
from tokenprovider.testing.refresh import wait_for_refresh

#: A value placed in malformed bodies; no error message may repeat it.
BODY_MARKER = "TOKEN-VALUE-5e1d"


@pytest.fixture
def server(oauth_server: LocalOAuthServer) -> LocalOAuthServer:
    """The local server, with the client's secret set to the canary."""
    oauth_server.clients = {"client": CANARY_SECRET}
    return oauth_server


def fast_retry(clock: FakeClock, **settings: Any) -> RetryPolicy:
    """A policy whose waits advance ``clock`` and are recorded in ``clock.slept``."""
    return RetryPolicy(sleep=clock.sleep, monotonic=clock.monotonic, **settings)


def make(
    server: LocalOAuthServer,
    client_id: str = "client",
    secret: str | None = CANARY_SECRET,
    *,
    discover: bool = False,
    **kwargs: Any,
) -> OAuthTokenProvider:
    token_url = None if discover else server.token_url
    return OAuthTokenProvider(server.url, client_id, secret, token_url=token_url, **kwargs)


def fetch(provider: OAuthTokenProvider) -> str:
    return provider.token


def fetch_error(provider: OAuthTokenProvider, error_type: type[Exception]) -> Any:
    """Fetch, expect ``error_type``, and check that no text of the error holds the secret."""
    with pytest.raises(error_type) as info:
        fetch(provider)
    error = info.value
    for text in (str(error), repr(error), repr(vars(error)), str(error.__cause__)):
        assert_no_leak(text, CANARY_SECRET)
    return error


def token_body(**fields: object) -> bytes:
    return json.dumps(fields).encode()


# -- client authentication and the request form --------------------------------------------


def test_basic_auth_form_urlencodes_id_and_secret(oauth_server):
    client_id, secret = "we:ird +id%41", "p:a+ss w%2Frd"
    oauth_server.clients = {client_id: secret}
    assert fetch(make(oauth_server, client_id, secret, client_auth="basic"))
    assert oauth_server.tokens_issued == 1  # the server decoded both exactly
    record = oauth_server.last_token_request
    assert record is not None
    assert record.client_auth == "basic"
    assert record.client_id == client_id
    scheme, _, encoded = record.headers["authorization"].partition(" ")
    assert scheme == "Basic"
    raw_id, sep, raw_secret = base64.b64decode(encoded).decode().partition(":")
    assert sep
    assert (raw_id, raw_secret) == ("we%3Aird+%2Bid%2541", "p%3Aa%2Bss+w%252Frd")
    assert "client_secret" not in record.form
    assert "client_id" not in record.form


def test_post_auth_sends_id_and_secret_in_body(server):
    assert fetch(make(server, client_auth="post"))
    record = server.last_token_request
    assert record is not None
    assert record.client_auth == "post"
    assert record.form["client_id"] == ["client"]
    assert record.form["client_secret"] == [CANARY_SECRET]
    assert "authorization" not in record.headers


@pytest.mark.parametrize("client_auth", ["basic", "post"])
def test_client_without_secret_sends_only_its_id(server, client_auth):
    server.respond_next(200, token_body(access_token="public-token", expires_in=60))
    assert fetch(make(server, "public", None, client_auth=client_auth)) == "public-token"
    record = server.last_token_request
    assert record is not None
    assert record.form["client_id"] == ["public"]
    assert "client_secret" not in record.form
    assert "authorization" not in record.headers


@pytest.mark.parametrize(
    ("scopes", "sent"),
    [
        (None, None),
        ([], None),
        ("", None),
        (["a", "b"], ["a b"]),
        ("a b", ["a b"]),
        (("x",), ["x"]),
    ],
    ids=["none", "empty-list", "empty-string", "list", "string", "tuple"],
)
def test_scope_is_sent_space_joined_only_when_non_empty(server, scopes, sent):
    fetch(make(server, scopes=scopes))
    record = server.last_token_request
    assert record is not None
    assert record.form.get("scope") == sent
    assert record.form["grant_type"] == ["client_credentials"]


def test_audience_and_extra_params_are_sent(server):
    extra = {"resource": "https://api.example.com", "tenant": "blue"}
    fetch(make(server, audience="urn:api", extra_params=extra))
    record = server.last_token_request
    assert record is not None
    assert record.form["audience"] == ["urn:api"]
    assert record.form["resource"] == ["https://api.example.com"]
    assert record.form["tenant"] == ["blue"]


@pytest.mark.parametrize("key", ["grant_type", "client_id", "client_secret", "scope", "audience"])
def test_extra_params_may_not_set_reserved_fields(server, key):
    with pytest.raises(ConfigurationError, match=rf"extra_params.*\b{key}\b"):
        make(server, extra_params={key: "x", "other": "y"})


# -- discovery -------------------------------------------------------------------------------


@pytest.mark.parametrize("well_known", ["oauth", "openid"])
def test_token_url_is_discovered_once(server, well_known):
    server.well_known = well_known
    provider = make(server, discover=True)
    first = fetch(provider)
    # Without metadata a new discovery would fail, so the second fetch proves the cache.
    server.well_known = "none"
    provider.invalidate_cache()
    second = fetch(provider)
    assert first != second
    assert server.token_requests == 2
    assert server.tokens_issued == 2


def test_discovery_failure_names_both_urls(server):
    server.well_known = "none"
    error = fetch_error(make(server, discover=True), DiscoveryError)
    for path in WELL_KNOWN_PATHS:
        assert f"{server.url}{path} (HTTP 404)" in str(error)
    assert "token_url" in str(error)
    assert server.token_requests == 0


def test_discovery_without_token_endpoint_sends_no_credentials(foreign_server):
    provider = OAuthTokenProvider(foreign_server.url, "client", CANARY_SECRET)
    error = fetch_error(provider, DiscoveryError)
    assert "no token_endpoint" in str(error)
    assert "token_url" in str(error)
    requests_seen = foreign_server.requests
    assert [(r.method, r.path) for r in requests_seen] == [("GET", p) for p in WELL_KNOWN_PATHS]
    for request in requests_seen:
        assert "authorization" not in request.headers
        assert_no_leak(repr(request), CANARY_SECRET)


# -- retries ---------------------------------------------------------------------------------


@pytest.fixture
def jitter_bounds(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, float]]:
    """Make every jittered wait its ceiling; record the (low, high) of each draw."""
    bounds: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        bounds.append((low, high))
        return high

    monkeypatch.setattr(
        "tokenprovider._urllib3_retry.random", types.SimpleNamespace(uniform=uniform)
    )
    return bounds


def inject(server: LocalOAuthServer, failure: str, count: int) -> None:
    """Make the next ``count`` token requests fail: "drop", "html" (a 503 page) or a status."""
    if failure == "drop":
        server.drop_next(count)
    elif failure == "html":
        server.fail_next(count, 503, body=b"<h1>busy</h1>", content_type="text/html")
    else:
        server.fail_next(count, int(failure))


@pytest.mark.parametrize("failure", ["408", "429", "500", "503", "drop"])
def test_transient_failures_are_retried(server, fake_clock, failure):
    inject(server, failure, 2)
    assert fetch(make(server, retry=fast_retry(fake_clock), clock=fake_clock))
    assert server.token_requests == 3
    assert server.tokens_issued == 1


@pytest.mark.parametrize(
    ("failure", "error_type", "status", "fragment"),
    [
        ("503", OAuthError, 503, "temporarily_unavailable [HTTP 503]"),
        ("html", TokenEndpointError, 503, "HTTP 503 Service Unavailable after retries"),
        ("drop", TokenRequestError, None, "could not reach the token endpoint"),
    ],
)
def test_persistent_failure_exhausts_attempts(
    server, fake_clock, failure, error_type, status, fragment
):
    inject(server, failure, 10)
    provider = make(server, retry=fast_retry(fake_clock, max_attempts=3), clock=fake_clock)
    error = fetch_error(provider, error_type)
    assert type(error) is error_type
    assert getattr(error, "status", None) == status
    assert fragment in str(error)
    assert server.token_url in str(error)
    assert server.token_requests == 3


@pytest.mark.parametrize("status", ["400", "401", "403"])
def test_client_errors_are_not_retried(server, fake_clock, status):
    inject(server, status, 1)
    error = fetch_error(make(server, retry=fast_retry(fake_clock), clock=fake_clock), OAuthError)
    assert error.status == int(status)
    assert f"HTTP {status}" in str(error)
    assert server.token_requests == 1
    assert fake_clock.slept == []


def test_retry_after_is_honoured(server, fake_clock):
    server.fail_next(1, 503, retry_after=7)
    assert fetch(make(server, retry=fast_retry(fake_clock), clock=fake_clock))
    assert fake_clock.slept == [7]
    assert server.token_requests == 2


def test_backoff_draws_full_jitter_up_to_a_capped_ceiling(server, fake_clock, jitter_bounds):
    server.fail_next(6, 503)
    policy = fast_retry(fake_clock, max_attempts=7, backoff_base=0.5, backoff_max=3)
    assert fetch(make(server, retry=policy, clock=fake_clock))
    ceilings = [0.5, 1, 2, 3, 3, 3]
    assert jitter_bounds == [(0, ceiling) for ceiling in ceilings]
    assert fake_clock.slept == ceilings
    assert server.token_requests == 7


def test_backoff_waits_are_random_within_bounds(server, fake_clock):
    server.fail_next(11, 503)
    policy = fast_retry(fake_clock, max_attempts=12, backoff_base=1, backoff_max=4)
    assert fetch(make(server, retry=policy, clock=fake_clock))
    ceilings = [1, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4]
    assert len(fake_clock.slept) == len(ceilings)
    assert all(0 <= w <= c for w, c in zip(fake_clock.slept, ceilings, strict=True))
    assert fake_clock.slept != ceilings  # jittered, not the plain exponential
    assert server.token_requests == 12


def test_deadline_stops_retries_after_retry_after(server, fake_clock):
    server.fail_next(10, 503, retry_after=3)
    policy = fast_retry(fake_clock, max_attempts=10, deadline=5)
    error = fetch_error(make(server, retry=policy, clock=fake_clock), TokenEndpointError)
    assert error.status == 503
    # t=0 and t=3 fit; the next Retry-After would end at t=6, past the deadline.
    assert server.token_requests == 2
    assert fake_clock.slept == [3]


@pytest.mark.usefixtures("jitter_bounds")
def test_deadline_stops_retries_after_backoff(server, fake_clock):
    server.drop_next(10)
    policy = fast_retry(fake_clock, max_attempts=10, backoff_base=2, deadline=5)
    fetch_error(make(server, retry=policy, clock=fake_clock), TokenRequestError)
    # Waits of 2 then 4 s: the second would end at t=6, past the deadline.
    assert server.token_requests == 2
    assert fake_clock.slept == [2]


# -- error bodies ----------------------------------------------------------------------------


def test_rfc6749_error_body_becomes_oauth_error(server):
    fields = {"error": "invalid_scope", "error_description": "no such", "error_uri": "https://e"}
    server.respond_next(400, json.dumps(fields).encode())
    error = fetch_error(make(server, scopes=["nope"]), OAuthError)
    assert error.error == "invalid_scope"
    assert (error.error_description, error.error_uri, error.status) == ("no such", "https://e", 400)
    message = str(error)
    assert "invalid_scope" in message
    assert server.token_url in message
    assert "check the scopes setting" in message


def test_secret_echoed_by_server_is_redacted(server):
    echo = f"client secret {CANARY_SECRET} is wrong"
    server.respond_next(401, token_body(error="invalid_client", error_description=echo))
    error = fetch_error(make(server), OAuthError)  # checks str, repr and attributes
    assert error.error_description == "client secret *** is wrong"
    assert "client secret *** is wrong" in str(error)


#: A secret that form-urlencoding, percent-encoding and Basic encoding all change.
ODD_SECRET = f"{CANARY_SECRET} p@ss/w+rd:\u00e9%"


def secret_forms(client_id: str, secret: str) -> dict[str, str]:
    """The forms in which a client's secret goes over the wire (or may be echoed back)."""
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}"
    return {
        "literal": secret,
        "quote_plus": quote_plus(secret),
        "quote": quote(secret),
        "basic": base64.b64encode(pair.encode()).decode("ascii"),
    }


@pytest.mark.parametrize("form", ["literal", "quote_plus", "quote", "basic"])
@pytest.mark.parametrize("client_auth", ["basic", "post"])
def test_encoded_secret_echoed_by_server_is_redacted(oauth_server, form, client_auth):
    oauth_server.clients = {"client": ODD_SECRET}
    forms = secret_forms("client", ODD_SECRET)
    echo = forms[form]
    body = {
        "error": f"invalid_client:{echo}",
        "error_description": f"bad credentials 'Basic {echo}'",
        "error_uri": f"https://errors.example.com/?c={echo}",
    }
    oauth_server.respond_next(401, json.dumps(body).encode())
    provider = make(oauth_server, secret=ODD_SECRET, client_auth=client_auth)
    error = fetch_error(provider, OAuthError)  # also checks the canary
    assert error.error == "invalid_client:***"
    assert error.error_description == "bad credentials 'Basic ***'"
    assert error.error_uri == "https://errors.example.com/?c=***"
    assert "bad credentials 'Basic ***'" in str(error)
    for text in (str(error), repr(error), repr(vars(error))):
        assert_no_leak(text, *forms.values())


def test_encoded_secret_in_connection_error_is_redacted(server, monkeypatch):
    forms = secret_forms("client", ODD_SECRET)

    def post(*args: object, **kwargs: object) -> None:
        raise requests.ConnectionError(f"peer said: {' | '.join(forms.values())}")

    monkeypatch.setattr(requests.Session, "post", post)
    error = fetch_error(make(server, secret=ODD_SECRET), TokenRequestError)
    assert "could not reach the token endpoint" in str(error)
    assert server.token_url in str(error)
    assert "peer said: *** | *** | *** | ***" in str(error)
    assert error.__cause__ is None  # the cause would show the secret in a traceback
    assert_no_leak("".join(traceback.format_exception(error)), *forms.values())


def test_wrong_secret_is_invalid_client_without_retry(server, fake_clock):
    wrong = f"wrong-{CANARY_SECRET}"  # fetch_error checks that the canary does not leak
    provider = make(server, secret=wrong, retry=fast_retry(fake_clock), clock=fake_clock)
    error = fetch_error(provider, OAuthError)
    assert (error.error, error.status) == ("invalid_client", 401)
    assert "check client_id and client_secret" in str(error)
    assert server.token_requests == 1


# -- malformed success responses -------------------------------------------------------------


MISSING = "without an access_token"
NOT_HEADER = "access_token contains characters not allowed in an HTTP header"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (f"<html>{BODY_MARKER}</html>".encode(), "not a JSON object"),
        (json.dumps([BODY_MARKER]).encode(), "not a JSON object"),
        (token_body(token=BODY_MARKER, expires_in=60), MISSING),
        (token_body(access_token="", id_token=BODY_MARKER), MISSING),
        (token_body(access_token=BODY_MARKER, expires_in="soon"), "expires_in='soon'"),
        (token_body(access_token=BODY_MARKER, expires_in=-5), "expires_in=-5"),
        (token_body(access_token=BODY_MARKER, expires_in=True), "expires_in=True"),
        (token_body(access_token=f"{BODY_MARKER}\r\nX-Injected: 1"), NOT_HEADER),
        (token_body(access_token=f"{BODY_MARKER}\n"), NOT_HEADER),
        (token_body(access_token=f"{BODY_MARKER}\x00"), NOT_HEADER),
        (token_body(access_token=f"{BODY_MARKER}\tx"), NOT_HEADER),
        (token_body(access_token=f"{BODY_MARKER}\x7f"), NOT_HEADER),
        (token_body(access_token=f" {BODY_MARKER}"), NOT_HEADER),
        (token_body(access_token=f"{BODY_MARKER} "), NOT_HEADER),
        (token_body(access_token=f"{BODY_MARKER}\u2603"), NOT_HEADER),
    ],
    ids=[
        "not-json",
        "array",
        "missing-token",
        "empty-token",
        "soon",
        "negative",
        "bool",
        "token-crlf",
        "token-lf",
        "token-nul",
        "token-tab",
        "token-del",
        "token-leading-space",
        "token-trailing-space",
        "token-not-latin-1",
    ],
)
def test_malformed_success_response(server, raw, expected):
    server.respond_next(200, raw)  # sent as application/json
    error = fetch_error(make(server), MalformedTokenResponseError)
    assert expected in str(error)
    assert server.token_url in str(error)
    assert BODY_MARKER not in str(error)
    assert server.token_requests == 1


@pytest.mark.parametrize(
    ("sent", "default", "lifetime"),
    [(False, None, DEFAULT_EXPIRES_IN), (False, 120, 120), (True, 120, 600)],
    ids=["default", "custom-default", "sent"],
)
def test_expiry_counts_from_before_the_request(server, fake_clock, sent, default, lifetime):
    server.include_expires_in, server.token_lifetime = sent, 600
    server.fail_next(1, 503, retry_after=5)  # the fake clock moves 5 s during the fetch
    settings = {} if default is None else {"default_expires_in": default}
    provider = make(server, retry=fast_retry(fake_clock), clock=fake_clock, **settings)
    issued = fake_clock.time()
    fetch(provider)
    assert fake_clock.slept == [5]
    assert provider.expires_at == issued + lifetime


# -- refresh ---------------------------------------------------------------------------------


def test_token_is_cached_then_refreshed_in_mandatory_window(server, fake_clock):
    provider = make(server, clock=fake_clock, clock_skew=10, refresh_ahead=300)
    first = fetch(provider)
    assert {fetch(provider) for _ in range(100)} == {first}
    fake_clock.advance(3600 - 301)  # just before the advisory window
    assert fetch(provider) == first
    assert server.token_requests == 1
    fake_clock.advance(296)  # 5 s before expiry: inside the 10 s mandatory window
    second = fetch(provider)
    assert second != first
    assert server.token_requests == 2
    assert fetch(provider) == second


@pytest.mark.parametrize(("token_type", "warns"), [("MAC", True), ("bearer", False)])
def test_non_bearer_token_type_logs_warning(server, caplog, token_type, warns):
    caplog.set_level(logging.WARNING, logger="tokenprovider")
    server.respond_next(200, token_body(access_token="tok", token_type=token_type, expires_in=60))
    assert fetch(make(server)) == "tok"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == int(warns)
    if warns:
        assert "'MAC'" in warnings[0].getMessage()
        assert server.token_url in warnings[0].getMessage()


# -- constructor validation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value", "pattern"),
    [
        ("client_id", "", "client_id"),
        ("grant_type", "password", "grant_type"),
        ("client_auth", "jwt", "client_auth"),
        ("default_expires_in", 0, "default_expires_in"),
        ("default_expires_in", -1, "default_expires_in"),
        ("default_expires_in", True, "default_expires_in"),
        ("default_expires_in", "3600", "default_expires_in"),
        ("scopes", ["a b"], "scopes"),
        ("scopes", [""], "scopes"),
        ("scopes", [1], "scopes"),
        ("token_url", "ftp://login.example.com/token", "token_url"),
        ("token_url", "http://login.example.com/token", "token_url .* plain http"),
    ],
)
def test_invalid_settings_are_refused(setting, value, pattern):
    arguments = {"client_id": "client", "client_secret": CANARY_SECRET, setting: value}
    with pytest.raises(ConfigurationError, match=pattern) as info:
        OAuthTokenProvider("https://api.example.com", **arguments)
    assert_no_leak(str(info.value), CANARY_SECRET)


USERINFO = "must not contain a user name or password; pass credentials as client_id/client_secret"
NO_QUERY = "must not contain a query string or fragment"


@pytest.mark.parametrize(
    ("token_url", "pattern"),
    [
        (f"https://svc:{CANARY_SECRET}@login.example.com/token", USERINFO),
        (f"https://{CANARY_SECRET}@login.example.com/token", USERINFO),
        (f"https://svc:{CANARY_SECRET}@login.example.com/token?key={CANARY_SECRET}", USERINFO),
        (f"https:svc:{CANARY_SECRET}@login.example.com/token", USERINFO),
        (f"ftp://svc:{CANARY_SECRET}@login.example.com/token", USERINFO),
        (f"https://login.example.com/token?key={CANARY_SECRET}", NO_QUERY),
        (f"https://login.example.com/token?{CANARY_SECRET}", NO_QUERY),
        (f"https://login.example.com/token#{CANARY_SECRET}", NO_QUERY),
        ("https://login.example.com/token?", NO_QUERY),
        (f"https://login.example.com:99999/token?k={CANARY_SECRET}", NO_QUERY),
        (f"https://[::1/token?k={CANARY_SECRET}", "token_url is not a valid URL"),
    ],
    ids=[
        "user-and-password",
        "user-only",
        "userinfo-and-query",
        "userinfo-without-slashes",
        "userinfo-other-scheme",
        "query",
        "bare-query-value",
        "fragment",
        "empty-query",
        "query-and-bad-port",
        "unparseable",
    ],
)
def test_token_url_with_credentials_is_refused_without_echoing_them(token_url, pattern):
    with pytest.raises(ConfigurationError) as info:
        OAuthTokenProvider("https://api.example.com", "client", "s", token_url=token_url)
    message = str(info.value)
    assert message.startswith("token_url ")
    assert pattern in message
    assert_no_leak(message + repr(info.value), CANARY_SECRET)


def test_token_url_error_shows_the_url_with_its_query_masked():
    with pytest.raises(ConfigurationError) as info:
        OAuthTokenProvider(
            "https://api.example.com",
            "client",
            token_url=f"https://login.example.com/token?key={CANARY_SECRET}",
        )
    assert "'https://login.example.com/token?***'" in str(info.value)
    assert_no_leak(str(info.value), CANARY_SECRET)


def test_discovered_token_endpoint_with_userinfo_is_refused(server, monkeypatch):
    endpoint = server.token_url.replace("://", f"://svc:{CANARY_SECRET}@")
    monkeypatch.setattr(server, "_metadata", lambda: {"token_endpoint": endpoint})
    provider = make(server, discover=True)
    error = fetch_error(provider, DiscoveryError)  # the server's doing, not a setting
    assert f"token_endpoint from {server.url}{WELL_KNOWN_PATHS[0]}" in str(error)
    assert USERINFO in str(error)
    assert_no_leak(repr(provider), CANARY_SECRET)
    assert server.token_requests == 0


def test_discovered_token_endpoint_may_have_a_query(server, monkeypatch):
    # RFC 6749 §3.2 allows a query in the endpoint; published metadata holds no secret.
    endpoint = f"{server.token_url}?p=policy"
    monkeypatch.setattr(server, "_metadata", lambda: {"token_endpoint": endpoint})
    assert fetch(make(server, discover=True))
    assert server.token_requests == 1


# -- secrets ---------------------------------------------------------------------------------


def test_repr_hides_secret_and_token(server):
    provider = make(server, client_auth="post")
    assert_no_leak(repr(provider), CANARY_SECRET)
    token = fetch(provider)
    assert "client_id='client'" in repr(provider)
    assert "client_secret=<set>" in repr(provider)
    assert_no_leak(repr(provider), CANARY_SECRET, token)


def test_debug_logs_hold_neither_secret_nor_token(server, fake_clock, debug_logs):
    debug_provider = make(server, discover=True, retry=fast_retry(fake_clock), clock=fake_clock)
    server.fail_next(1, 503)
    token = fetch(debug_provider)  # a retried, then succeeding fetch
    fake_clock.advance(3600 - 100)  # into the advisory window
    echo = token_body(error="invalid_client", error_description=f"bad {CANARY_SECRET}")
    server.respond_next(401, echo)
    assert fetch(debug_provider) == token  # the failed refresh keeps the current token
    wait_for_refresh(debug_provider)  # it ran in a worker
    assert fetch(debug_provider) == token
    text = all_log_text(debug_logs)
    assert "discovered token endpoint" in text
    assert "refreshing the token" in text
    assert "invalid_client" in text
    assert_no_leak(text, CANARY_SECRET, token)
    assert server.token_requests == 3
