"""What the library says: short secrets redacted without garbling messages, wording by
status class, construction warnings, and one report per failed fetch in the logs."""

from __future__ import annotations

import base64
import json
import logging
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import urllib3

from conftest import CANARY_SECRET, REGION, assert_no_leak, closed_port
from tokenprovider import (
    ConfigurationError,
    OAuthError,
    OAuthTokenProvider,
    SecretReference,
    TDSError,
    TokenEndpointError,
    TokenRequestError,
    parse_credentials_config,
)
from tokenprovider._masking import SHORT_SECRET, built_from_configuration, redact, secret_forms
from tokenprovider.config.build import build_named
from tokenprovider.config.loading import load
from tokenprovider.config.registry import register_provider, registry
from tokenprovider.providers.tds import TDSTokenProvider
from tokenprovider.retry import RetryPolicy
from tokenprovider.testing.clock import FakeClock
from tokenprovider.testing.oauth_server import LocalOAuthServer
from tokenprovider.testing.tds_dispenser import LocalTokenDispenser, fake_session

#: Short secrets that occur inside the words of a connection error (``could not reach``,
#: ``attempts at most``, ``ConnectionError: connection refused``): redacting them there
#: would garble the message.
INSIDE_WORDS = ["s", "e", "ch", "ost", "ttem", "onne", "efu"]
SHORT = ["s", "ab", "abc"]


def quiet(*args: Any, **kwargs: Any) -> OAuthTokenProvider:
    """An OAuthTokenProvider built without showing its construction warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return OAuthTokenProvider(*args, **kwargs)


def no_wait(clock: FakeClock, **settings: Any) -> RetryPolicy:
    return RetryPolicy(sleep=clock.sleep, monotonic=clock.monotonic, **settings)


def error_of(provider: OAuthTokenProvider) -> str:
    with pytest.raises(TokenRequestError) as info:
        _ = provider.token
    return str(info.value)


# -- short secrets ---------------------------------------------------------------------------


def refused_connection_error(secret: str, port: int, clock: FakeClock) -> str:
    url = f"http://127.0.0.1:{port}/token"
    provider = quiet(
        f"http://127.0.0.1:{port}", "reporting", secret, token_url=url, retry=no_wait(clock)
    )
    return error_of(provider)


@pytest.mark.parametrize("secret", INSIDE_WORDS)
def test_a_short_secret_does_not_garble_a_connection_error(
    secret: str, fake_clock: FakeClock
) -> None:
    port = closed_port()
    message = refused_connection_error(secret, port, fake_clock)
    assert message == (
        f"could not reach the token endpoint http://127.0.0.1:{port}/token "
        "(4 attempts at most, within 30s): ConnectionError: connection refused"
    )
    assert message == refused_connection_error(CANARY_SECRET, port, fake_clock)


@pytest.mark.parametrize("secret", [*SHORT, "a/b", "a b"])
def test_a_short_secret_standing_alone_in_server_text_is_redacted(secret: str) -> None:
    echoed = (
        f"client_secret={quote_plus(secret)}&grant_type=client_credentials, "
        f'{{"client_secret": {json.dumps(secret)}}}, path /{quote(secret, safe="")}/'
    )
    body = json.dumps({"error": "invalid_client", "error_description": echoed})
    with LocalOAuthServer(clients={"client": secret}) as server:
        server.respond_next(401, body.encode())
        provider = quiet(server.url, "client", secret, token_url=server.token_url)
        with pytest.raises(OAuthError) as info:
            _ = provider.token
    description = info.value.error_description
    assert description == (
        'client_secret=***&grant_type=client_credentials, {"client_secret": "***"}, path /***/'
    )
    assert "invalid_client" in str(info.value)


def test_a_short_secret_inside_a_longer_run_is_left_alone() -> None:
    text = "host 127.0.0.1 x-request-id abc%2F s.example.com"
    for secret in ("s", "1", "x", "request", "2F", "abc", "example"):
        assert redact(text, secret_forms([secret])) == text


@pytest.mark.parametrize("secret", ["/", " ", "=", ":", "('", "//:"])
def test_a_short_secret_of_punctuation_only_garbles_nothing(secret: str) -> None:
    text = "POST https://login.example.com:443/oauth2/token (a=b, 'c') failed"
    assert redact(text, secret_forms([secret])) == text


def test_a_secret_of_normal_length_is_redacted_everywhere_in_every_form() -> None:
    basic = base64.b64encode(f"client:{CANARY_SECRET}".encode()).decode()
    forms = secret_forms([CANARY_SECRET, basic])
    text = (
        f"x{CANARY_SECRET}y {quote(CANARY_SECRET, safe='')} Basic {basic} "
        f'"{json.dumps(CANARY_SECRET)[1:-1]}" {CANARY_SECRET[:-1]}'
    )
    redacted = redact(text, forms)
    assert redacted == f'x***y *** Basic *** "***" {CANARY_SECRET[:-1]}'
    assert len(CANARY_SECRET) >= SHORT_SECRET


def test_the_canary_echoed_inside_words_by_the_server_is_redacted(
    oauth_server: LocalOAuthServer,
) -> None:
    oauth_server.clients = {"client": CANARY_SECRET}
    body = json.dumps({"error": "invalid_client", "error_description": f"no{CANARY_SECRET}pe"})
    oauth_server.respond_next(401, body.encode())
    provider = OAuthTokenProvider(
        oauth_server.url, "client", CANARY_SECRET, token_url=oauth_server.token_url
    )
    with pytest.raises(OAuthError) as info:
        _ = provider.token
    assert info.value.error_description == "no***pe"
    assert_no_leak(str(info.value), CANARY_SECRET)


def test_an_extra_params_secret_echoed_by_the_server_is_redacted(
    oauth_server: LocalOAuthServer,
) -> None:
    """A SAML assertion (or any extra parameter but the public ones) is as secret as the
    client secret; ``resource`` may be quoted."""
    oauth_server.clients = {"client": "client-secret-long-enough"}
    assertion = f"eyJ.{CANARY_SECRET}.sig"
    said = f"bad assertion {assertion} for resource api://reports"
    body = json.dumps({"error": "invalid_grant", "error_description": said})
    oauth_server.respond_next(400, body.encode())
    provider = OAuthTokenProvider(
        oauth_server.url,
        "client",
        "client-secret-long-enough",
        token_url=oauth_server.token_url,
        extra_params={"saml_assertion": assertion, "resource": "api://reports"},
    )
    with pytest.raises(OAuthError) as info:
        _ = provider.token
    assert info.value.error_description == "bad assertion *** for resource api://reports"
    assert_no_leak(str(info.value), CANARY_SECRET)


# -- construction warnings -------------------------------------------------------------------


@pytest.mark.parametrize("secret", ["s", "ab", "abc", "x" * (SHORT_SECRET - 1)])
def test_a_short_client_secret_warns_once_at_construction(secret: str) -> None:
    with pytest.warns(UserWarning, match=f"client_secret is shorter than {SHORT_SECRET}") as got:
        OAuthTokenProvider("api.example.com", "c", secret, token_url="https://l.example.com/t")
    assert len(got) == 1
    assert got[0].filename == __file__  # it points at the code that built the provider
    assert f"'{secret}'" not in str(got[0].message)


def test_a_short_secret_from_configuration_warns_pointing_at_the_caller() -> None:
    config = {
        "credentials": {
            "domain": "api.example.com",
            "oauth": {"client_id": "c", "client_secret": "abc", "token_url": "https://l.ex/t"},
        }
    }
    with pytest.warns(UserWarning, match="shorter than") as got:
        parse_credentials_config(config)
    assert [w.filename for w in got] == [__file__]


@pytest.mark.parametrize(
    "secret", ["x" * SHORT_SECRET, CANARY_SECRET, SecretReference("env:SOME_SECRET"), None]
)
def test_a_long_or_referenced_secret_does_not_warn(secret: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        OAuthTokenProvider("api.example.com", "c", secret, token_url="https://l.example.com/t")


@pytest.mark.usefixtures("clean_aws")
def test_a_short_edl_password_warns_at_construction() -> None:
    with pytest.warns(UserWarning, match="edl_pass is shorter than") as got:
        TDSTokenProvider(
            "cmr.example.com",
            "myclient",
            action="edl",
            edl_user="user",
            edl_pass="pw",
            cmr_env="SIT",
            lambda_arn="arn:aws:lambda:us-west-2:123456789012:function:tds",
            boto3_session=fake_session(REGION),
        )
    assert len(got) == 1


@pytest.mark.parametrize(
    ("secret", "shown"),
    [
        ("env:REPORTING_SECRET", "env:..."),  # it may be the secret: nothing beyond the prefix
        (f"env:{CANARY_SECRET}", "env:..."),
        (f"file:/run/secrets/{CANARY_SECRET}", "file:..."),
        (f"aws-secretsmanager:{CANARY_SECRET}#password", "aws-secretsmanager:..."),
        (f"aws-ssm:/service/{CANARY_SECRET}", "aws-ssm:..."),
    ],
)
def test_a_str_secret_written_as_a_reference_warns_that_it_is_literal(
    secret: str, shown: str
) -> None:
    with pytest.warns(UserWarning, match="used as the literal secret") as got:
        OAuthTokenProvider("api.example.com", "c", secret, token_url="https://l.example.com/t")
    assert len(got) == 1
    message = str(got[0].message)
    assert f"SecretReference('{shown}')" in message
    assert_no_leak(message, CANARY_SECRET)
    assert got[0].filename == __file__


def test_a_literal_written_on_purpose_in_configuration_does_not_warn() -> None:
    config = {
        "credentials": {
            "domain": "api.example.com",
            "oauth": {
                "client_id": "c",
                "client_secret": "literal:env:NOT_A_REFERENCE",
                "token_url": "https://login.example.com/token",
            },
        }
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parse_credentials_config(config)


class PluginOAuthProvider(OAuthTokenProvider):
    """A plugin's subclass, defined outside tokenprovider: its frame is not the package's."""

    def __init__(self, host: Any, client_id: str, client_secret: Any = None, **kw: Any) -> None:
        super().__init__(host, client_id, client_secret, **kw)


@pytest.fixture
def plugin_provider() -> Iterator[str]:
    register_provider("msgtest_plugin")(PluginOAuthProvider)
    yield "msgtest_plugin"
    registry.unregister("msgtest_plugin")


def test_a_plugin_built_from_configuration_gets_no_literal_reference_warning(
    plugin_provider: str,
) -> None:
    config = {
        "credentials": {
            "domain": "api.example.com",
            plugin_provider: {
                "client_id": "c",
                "client_secret": "literal:env:X",
                "token_url": "https://login.example.com/token",
            },
        }
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        provider = parse_credentials_config(config)

    assert provider._client_secret == "env:X"  # type: ignore[attr-defined]
    with pytest.warns(UserWarning, match="used as the literal secret"):
        PluginOAuthProvider("api.example.com", "c", "env:X", token_url="https://l.example.com/t")
    with pytest.warns(UserWarning, match="used as the literal secret"):
        OAuthTokenProvider("api.example.com", "c", "env:X", token_url="https://l.example.com/t")


def test_the_configuration_mark_is_per_thread() -> None:
    """While one thread builds from configuration, code in another still warns."""
    inside, done = threading.Event(), threading.Event()

    def build() -> None:
        with built_from_configuration(lambda name: name):
            inside.set()
            done.wait(10)

    thread = threading.Thread(target=build)
    thread.start()
    try:
        assert inside.wait(10)
        with pytest.warns(UserWarning, match="used as the literal secret"):
            OAuthTokenProvider("api.example.com", "c", "env:X", token_url="https://l.ex/t")
    finally:
        done.set()
        thread.join(10)


def test_a_short_secret_from_a_file_names_the_setting_and_its_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[credentials]\ndomain = "api.example.com"\n[credentials.oauth]\nclient_id = "c"\n'
        'token_url = "https://login.example.com/t"\nclient_secret = "abc"\n'
    )
    config.chmod(0o600)
    loaded = load(env={}, cwd=tmp_path, explicit=config)

    with pytest.warns(UserWarning, match="shorter than") as got:
        build_named(loaded.data["credentials"], ("credentials",), loaded.origin)

    (warning,) = got
    assert str(warning.message).startswith(
        f"OAuthTokenProvider: credentials.oauth.client_secret (from {config}, line 6) is "
        "shorter than"
    )
    assert warning.filename == __file__
    assert "'abc'" not in str(warning.message)


def test_a_str_secret_written_as_a_reference_is_sent_as_it_is() -> None:
    literal = "env:REPORTING_SECRET"
    with LocalOAuthServer(clients={"client": literal}) as server:
        provider = quiet(server.url, "client", literal, token_url=server.token_url)
        assert provider.token
        assert server.tokens_issued == 1


# -- wording by status class -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "error_type", "wording"),
    [
        (503, b'{"error": "temporarily_unavailable"}', OAuthError, "was unavailable to"),
        (503, b"<h1>busy</h1>", TokenEndpointError, "was unavailable to"),
        (500, b"oops", TokenEndpointError, "was unavailable to"),
        (429, b"slow down", TokenEndpointError, "throttled"),
        (400, b'{"error": "invalid_scope"}', OAuthError, "refused"),
        (403, b"no", TokenEndpointError, "refused"),
    ],
)
def test_the_wording_follows_the_status_class(
    oauth_server: LocalOAuthServer,
    fake_clock: FakeClock,
    status: int,
    body: bytes,
    error_type: type[Exception],
    wording: str,
) -> None:
    oauth_server.clients = {"client": CANARY_SECRET}
    oauth_server.respond_next(status, body, content_type="text/plain", count=3)
    provider = OAuthTokenProvider(
        oauth_server.url,
        "client",
        CANARY_SECRET,
        token_url=oauth_server.token_url,
        retry=no_wait(fake_clock, max_attempts=3),
    )
    with pytest.raises(error_type) as info:
        _ = provider.token
    message = str(info.value)
    assert f"token endpoint {oauth_server.token_url} {wording} client 'client'" in message
    assert f"HTTP {status}" in message
    transient = status >= 429
    assert ("refused" in message) is not transient
    assert ("after retries; try again later" in message) is transient


@pytest.mark.parametrize(
    ("status", "wording"),
    [(503, "was unavailable to"), (429, "throttled"), (403, "refused")],
)
def test_the_dispenser_wording_follows_the_status_class(
    tds: LocalTokenDispenser, status: int, wording: str
) -> None:
    envelope = {"statusCode": status, "body": "try elsewhere"}
    arn = tds.lambda_server.add_function("enveloped", lambda event, context: envelope)
    provider = TDSTokenProvider(
        "cmr.example.com", "myclient", lambda_arn=arn, boto3_session=fake_session(REGION)
    )
    with pytest.raises(TDSError) as info:
        _ = provider.token
    message = str(info.value)
    assert f"{wording} client_id 'myclient' with status {status}: try elsewhere" in message
    assert ("refused" in message) is (status == 403)


@pytest.mark.parametrize(
    ("token_url", "shown"),
    [
        (
            f"https://svc:{CANARY_SECRET}@login.example.com/token",
            "'https://***@login.example.com/token'",
        ),
        (
            f"https:svc:{CANARY_SECRET}@login.example.com/token",
            "'https:***@login.example.com/token'",
        ),
        (
            f"https://login.example.com/token?key={CANARY_SECRET}",
            "'https://login.example.com/token?***'",
        ),
        (
            f"https://login.example.com/token#{CANARY_SECRET}",
            "'https://login.example.com/token#***'",
        ),
        ("https://login.example.com/token?", "'https://login.example.com/token?'"),
        ("https://[::1/token", "'https://[::1/token'"),
        ("ftp://login.example.com/token", "'ftp://login.example.com/token'"),
        ("https://login.example.com:99999/token", "'https://login.example.com:99999/token'"),
        ("http://login.example.com/token", "'http://login.example.com/token'"),
    ],
)
def test_a_refused_token_url_is_quoted_as_given_with_secrets_masked(
    token_url: str, shown: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        OAuthTokenProvider("https://api.example.com", "c", CANARY_SECRET, token_url=token_url)
    message = str(info.value)
    assert message.startswith("token_url ")
    assert shown in message
    assert_no_leak(message, CANARY_SECRET)


# -- retries in the logs ---------------------------------------------------------------------


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every logger's records, at DEBUG."""
    caplog.set_level(logging.DEBUG)
    return caplog


def records(caplog: pytest.LogCaptureFixture, prefix: str, level: int) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name.startswith(prefix) and r.levelno == level
    ]


@pytest.mark.parametrize("failure", ["drop", "503"])
def test_retries_that_succeed_log_no_warning(
    oauth_server: LocalOAuthServer,
    fake_clock: FakeClock,
    all_logs: pytest.LogCaptureFixture,
    failure: str,
) -> None:
    if failure == "drop":
        oauth_server.drop_next(2)
    else:
        oauth_server.fail_next(2, 503)
    provider = quiet(
        oauth_server.url,
        "client",
        "client-secret",
        token_url=oauth_server.token_url,
        retry=no_wait(fake_clock),
    )
    assert provider.token
    assert oauth_server.token_requests == 3
    assert [r for r in all_logs.records if r.levelno >= logging.WARNING] == []
    if failure == "drop":  # urllib3's retry notes are still there, at DEBUG
        retrying = records(all_logs, "urllib3.connectionpool", logging.DEBUG)
        assert len([m for m in retrying if m.startswith("Retrying (PolicyRetry(")]) == 2


def test_a_failed_refresh_is_one_warning_of_ours_and_none_of_urllib3(
    fake_clock: FakeClock, all_logs: pytest.LogCaptureFixture
) -> None:
    with LocalOAuthServer(clients={"client": CANARY_SECRET}, token_lifetime=3600) as server:
        provider = OAuthTokenProvider(
            server.url,
            "client",
            CANARY_SECRET,
            token_url=server.token_url,
            retry=no_wait(fake_clock, max_attempts=4),
            clock=fake_clock,
        )
        token = provider.token
        fake_clock.advance(3600 - 5)  # due, not yet expired
        server.drop_next(100)
        all_logs.clear()
        assert provider.token == token  # served while refreshing fails
        assert server.token_requests == 1 + 4
    assert records(all_logs, "urllib3", logging.WARNING) == []
    ours = records(all_logs, "tokenprovider", logging.WARNING)
    assert len(ours) == 1, ours
    assert "refreshing the token" in ours[0]
    assert_no_leak("\n".join(r.getMessage() for r in all_logs.records), CANARY_SECRET, token)


def test_a_failed_fetch_logs_no_urllib3_warning(
    fake_clock: FakeClock, all_logs: pytest.LogCaptureFixture
) -> None:
    message = refused_connection_error(CANARY_SECRET, closed_port(), fake_clock)
    assert "could not reach the token endpoint" in message
    assert [r for r in all_logs.records if r.levelno >= logging.WARNING] == []


def test_the_applications_own_urllib3_retry_warnings_are_left_alone(
    all_logs: pytest.LogCaptureFixture,
) -> None:
    port = closed_port()
    with urllib3.PoolManager() as pool, pytest.raises(urllib3.exceptions.MaxRetryError):
        pool.request("GET", f"http://127.0.0.1:{port}/", retries=urllib3.Retry(1, backoff_factor=0))
    warned = records(all_logs, "urllib3.connectionpool", logging.WARNING)
    assert len(warned) == 1
    assert warned[0].startswith("Retrying (Retry(")


def test_https_to_a_plain_http_server_says_so(oauth_server: LocalOAuthServer) -> None:
    """A newcomer's first mistake with a local server: the default scheme is https."""
    https_url = oauth_server.token_url.replace("http://", "https://")
    provider = OAuthTokenProvider(
        https_url.rsplit("/", 2)[0],
        "client",
        "client-secret-long-enough",
        token_url=https_url,
        retry=RetryPolicy(max_attempts=1),
    )
    with pytest.raises(TokenRequestError) as info:
        _ = provider.token
    assert 'set scheme = "http"' in str(info.value)
