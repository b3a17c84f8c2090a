"""Secrets never show: not in repr, str, errors, DEBUG logs or pickles."""

from __future__ import annotations

import json
import pickle
import time
from urllib.parse import quote, quote_plus

import pytest
import requests

from conftest import CANARY_SECRET, all_log_text, assert_no_leak, reachable_text
from tokenprovider import (
    CachedTokenProvider,
    JWTTokenProvider,
    OAuthError,
    OAuthTokenProvider,
    SecretReference,
    TDSTokenProvider,
    TokenProvider,
    TokenProviderError,
)
from tokenprovider._masking import masked_repr, redact, secret_forms, visible_attributes
from tokenprovider.config import parse_credentials_config
from tokenprovider.config.build import build_provider
from tokenprovider.errors import ConfigurationError, SecretReferenceError
from tokenprovider.secret_refs import looks_like_reference, mistyped_prefix
from tokenprovider.testing.oauth_server import LocalOAuthServer
from tokenprovider.testing.tds_dispenser import LocalTokenDispenser, fake_session


@pytest.fixture
def canary_server() -> LocalOAuthServer:
    with LocalOAuthServer(clients={"canary": CANARY_SECRET}) as server:
        yield server  # type: ignore[misc]


def _provider(server: LocalOAuthServer, secret: str = CANARY_SECRET) -> OAuthTokenProvider:
    return OAuthTokenProvider(server.url, "canary", secret, token_url=server.token_url)


def test_full_flow_leaks_nothing_into_debug_logs(
    canary_server: LocalOAuthServer, debug_logs: pytest.LogCaptureFixture
) -> None:
    provider = _provider(canary_server)
    with provider.session() as session:
        assert session.get(canary_server.resource_url).status_code == 200
        first = provider.token
        canary_server.revoke_all()
        assert session.get(canary_server.resource_url).status_code == 200  # 401 → retry
        second = provider.token
    canary_server.fail_next(1, 503)
    provider.invalidate_cache()
    third = provider.token
    texts = [all_log_text(debug_logs), repr(provider), str(provider)]
    assert debug_logs.records, "the flow should have logged at DEBUG"
    for text in texts:
        assert_no_leak(text, CANARY_SECRET, first, second, third)


def test_rejected_secret_error_leaks_nothing(
    canary_server: LocalOAuthServer, debug_logs: pytest.LogCaptureFixture
) -> None:
    provider = _provider(canary_server, secret=CANARY_SECRET + "-wrong")
    with pytest.raises(OAuthError) as info:
        requests.get(canary_server.resource_url, auth=provider, timeout=10)
    error = info.value
    assert error.error == "invalid_client"
    for text in (str(error), repr(error), all_log_text(debug_logs)):
        assert_no_leak(text, CANARY_SECRET)


def test_error_description_echoing_the_secret_is_redacted(
    canary_server: LocalOAuthServer,
) -> None:
    body = f'{{"error": "invalid_request", "error_description": "bad {CANARY_SECRET}"}}'
    canary_server.respond_next(400, body.encode())
    with pytest.raises(OAuthError) as info:
        _ = _provider(canary_server).token
    assert_no_leak(str(info.value), CANARY_SECRET)
    assert_no_leak(str(info.value.error_description), CANARY_SECRET)
    assert "***" in str(info.value)


def test_provider_cannot_be_pickled(canary_server: LocalOAuthServer) -> None:
    provider = _provider(canary_server)
    _ = provider.token
    with pytest.raises(TypeError, match="holds credentials") as info:
        pickle.dumps(provider)
    assert_no_leak(str(info.value), CANARY_SECRET, provider.token)


class Base(CachedTokenProvider):
    def __init__(self) -> None:
        super().__init__("api.example.com")
        self.account = "shown"
        self._password = CANARY_SECRET
        self._unset: str | None = None
        self.__cache = CANARY_SECRET  # hidden: name-mangled to _Base__cache

    def _request_token(self) -> tuple[str, float]:
        return self.__cache, time.time() + 60


class Child(Base):
    def __init__(self) -> None:
        super().__init__()
        self.__extra = CANARY_SECRET  # mangled to _Child__extra


def test_masking_rule_survives_name_mangling_in_subclasses() -> None:
    shown = visible_attributes(Child())
    assert shown["account"] == "shown"
    assert repr(shown["password"]) == "<set>"
    assert repr(shown["unset"]) == "<not set>"
    assert not any("cache" in name or "extra" in name for name in shown)
    text = masked_repr(Child())
    assert text.startswith("Child(host=Host('api.example.com'")
    assert "password=<set>" in text
    assert "unset=<not set>" in text
    assert_no_leak(text, CANARY_SECRET)


def test_provider_internals_are_hidden_from_repr() -> None:
    provider = Child()
    _ = provider.token
    assert set(visible_attributes(provider)) == {
        "host",
        "clock_skew",
        "refresh_ahead",
        "failure_cooldown",
        "account",
        "password",
        "unset",
    }
    assert_no_leak(repr(provider), CANARY_SECRET, provider.token)


def test_failure_from_a_subclass_names_the_provider(debug_logs: pytest.LogCaptureFixture) -> None:
    class Failing(CachedTokenProvider):
        def _request_token(self) -> tuple[str, float]:
            raise ConnectionError("token source unreachable")

    with pytest.raises(TokenProviderError, match="Failing could not get a token") as info:
        _ = Failing("api.example.com").token
    assert "token source unreachable" in str(info.value)


def test_redact_replaces_every_secret() -> None:
    assert redact("a sec1 b sec2 sec1", ["sec1", "sec2", None, ""]) == "a *** b *** ***"


def test_redact_replaces_a_short_secret_only_where_it_stands_alone() -> None:
    assert redact("a s1 b as1b s1.x", ["s1", "abc"]) == "a *** b as1b s1.x"


def test_a_very_short_secret_neither_garbles_nor_reveals_itself_in_errors() -> None:
    config = {
        "credentials": {
            "domain": "api.example.com",
            "oauth": {
                "client_id": "c",
                "client_secret": "s",
                "token_url": "https://login.example.com/token",
                "retry": {"timeout": -1},
            },
        }
    }
    with pytest.raises(ConfigurationError) as info:
        parse_credentials_config(config)
    assert "***" not in str(info.value)
    assert "must be a positive number of seconds" in str(info.value)


def test_secret_forms_cover_every_way_a_server_may_echo_a_secret() -> None:
    secret = 'p/ss wörd"\\x'
    forms = secret_forms([secret, None, ""])
    for form in (
        secret,
        quote(secret),
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        repr(secret)[1:-1],
    ):
        assert form in forms
        assert redact(f"echo <{form}>", forms) == "echo <***>"
    assert forms == sorted(forms, key=len, reverse=True)


# --- what looks like a reference, in configuration -----------------------------------------


@pytest.mark.parametrize(
    ("value", "looks"),
    [
        ("envv:NAME", True),
        ("vault:x", True),
        ("ENV:NAME", True),
        ("File:/run/secret", True),
        ("ab:x", True),
        ("a" * 31 + ":x", True),
        ("a-b1:x", True),
        ("a:x", False),  # a one-letter word
        ("a" * 32 + ":x", False),  # too long to be a prefix
        ("https://vault.example.com", False),
        ("Secret:x", False),  # mixed case, and not a known prefix
        ("1ab:x", False),
        ("x_y:z", False),
        ("p@ss:word", False),
        ("no colon", False),
        (":x", False),
    ],
)
def test_looks_like_reference_boundaries(value: str, looks: bool) -> None:
    assert looks_like_reference(value) is looks
    assert (mistyped_prefix(value) is not None) is looks


@pytest.mark.parametrize("value", ["env:X", "file:/x", "aws-ssm:/p", "literal:vault:x"])
def test_references_and_literals_are_not_mistyped(value: str) -> None:
    assert mistyped_prefix(value) is None


def test_a_mistyped_prefix_error_holds_no_part_of_the_value() -> None:
    section = {"domain": "a.example", "oauth": {"client_id": "x", "client_secret": ""}}
    section["oauth"]["client_secret"] = "vault:" + CANARY_SECRET  # type: ignore[index]
    with pytest.raises(SecretReferenceError) as caught:
        build_provider(section)

    assert_no_leak(reachable_text(caught.value), CANARY_SECRET, "vault")


class Declared(CachedTokenProvider):
    _hidden_attributes = frozenset({"_session_key"})

    def __init__(self) -> None:
        super().__init__("api.example.com")
        self._session_key = CANARY_SECRET  # hidden by declaration, not by mangling
        self._password = CANARY_SECRET

    def _request_token(self) -> tuple[str, float]:
        return self._session_key, time.time() + 60


class DeclaredChild(Declared):
    _hidden_attributes = frozenset({"_child_state"})

    def __init__(self) -> None:
        super().__init__()
        self._child_state = CANARY_SECRET


def test_hidden_attributes_are_declared_along_the_class_hierarchy() -> None:
    provider = DeclaredChild()
    shown = visible_attributes(provider)
    assert "session_key" not in shown
    assert "child_state" not in shown
    assert repr(shown["password"]) == "<set>"  # undeclared private: shown as set
    assert "session_key" not in repr(provider)
    assert_no_leak(repr(provider), CANARY_SECRET)


# --- what each built-in provider shows: pinned, and declared rather than mangled --------

#: What every cached provider shows first, in this order.
CACHED_SHOWN = ["host", "clock_skew", "refresh_ahead", "failure_cooldown"]
SHOWN = {
    JWTTokenProvider: ["host", "expires_at", "jwt"],
    OAuthTokenProvider: [
        *CACHED_SHOWN,
        "client_id",
        "client_secret",
        "token_url",
        "grant_type",
        "scopes",
        "audience",
        "client_auth",
        "extra_params",
        "default_expires_in",
        "retry",
        "max_response_bytes",
    ],
    TDSTokenProvider: [
        *CACHED_SHOWN,
        "client_id",
        "minimum_alive_secs",
        "token_dispenser_arn_ssm_key",
        "lambda_arn",
        "auth_style",
        "action",
        "edl_user",
        "edl_pass",
        "cmr_env",
        "max_response_bytes",
        "region",
    ],
}
#: A JWT whose signature is the canary (``exp`` 4000000000).
CANARY_JWT = f"eyJhbGciOiJub25lIn0.eyJleHAiOjQwMDAwMDAwMDB9.{CANARY_SECRET}"


def _assert_shown_as_before(provider: TokenProvider, **masked: str) -> None:
    """The provider shows exactly its pinned attributes, in order, the private ones
    (``masked``) as set or not set, and no secret."""
    shown = visible_attributes(provider)
    assert list(shown) == SHOWN[type(provider)]
    assert {name: repr(shown[name]) for name in masked} == masked
    assert repr(provider) == masked_repr(provider) == str(provider)
    assert repr(provider).startswith(f"{type(provider).__name__}(host=Host(")
    assert_no_leak(repr(provider), CANARY_SECRET)


def _assert_declared_not_mangled(provider: TokenProvider, *mangled: str) -> None:
    """No attribute of the provider's own class hides by name mangling but ``mangled``."""
    prefix = f"_{type(provider).__name__}__"
    assert sorted(name for name in vars(provider) if name.startswith(prefix)) == [
        prefix + name for name in mangled
    ]


@pytest.mark.parametrize("as_reference", [False, True])
def test_a_jwt_provider_shows_what_it_did(
    as_reference: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRETS_TEST_JWT", CANARY_JWT)
    jwt = SecretReference("env:SECRETS_TEST_JWT") if as_reference else CANARY_JWT
    provider = JWTTokenProvider("api.example.com", jwt)
    _assert_shown_as_before(provider, jwt="<set>")
    assert provider.token == CANARY_JWT
    _assert_shown_as_before(provider, jwt="<set>")
    _assert_declared_not_mangled(provider)


@pytest.mark.parametrize("discover", [False, True])
def test_an_oauth_provider_shows_what_it_did(
    canary_server: LocalOAuthServer, discover: bool
) -> None:
    provider = OAuthTokenProvider(
        canary_server.url,
        "canary",
        CANARY_SECRET,
        token_url=None if discover else canary_server.token_url,
        extra_params={"saml_assertion": CANARY_SECRET},
    )
    _assert_shown_as_before(provider, client_secret="<set>", extra_params="<set>")
    token = provider.token
    _assert_shown_as_before(provider, client_secret="<set>", extra_params="<set>")
    assert visible_attributes(provider)["token_url"] == (None if discover else provider.token_url)
    _assert_declared_not_mangled(provider)
    # Its token endpoint's client holds the revealed secret: its repr shows none of it.
    client = provider._endpoint
    assert "secret" not in visible_attributes(client)
    assert "discovered_url" not in visible_attributes(client)
    assert_no_leak(repr(client), CANARY_SECRET, token)


@pytest.mark.parametrize("action", ["launchpad", "edl"])
def test_a_tds_provider_shows_what_it_did(
    tds: LocalTokenDispenser, action: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRETS_TEST_EDL_PASS", CANARY_SECRET)
    edl = {"edl_user": "edluser", "cmr_env": "UAT"} if action == "edl" else {}
    provider = TDSTokenProvider(
        "cmr.example.com",
        "canaryclient",
        action=action,  # type: ignore[arg-type]
        edl_pass=SecretReference("env:SECRETS_TEST_EDL_PASS") if edl else None,
        lambda_arn=tds.arn,
        boto3_session=fake_session(tds.region),
        **edl,
    )
    edl_pass = "<set>" if edl else "<not set>"
    _assert_shown_as_before(provider, edl_pass=edl_pass)
    token = provider.token
    _assert_shown_as_before(provider, edl_pass=edl_pass)
    _assert_declared_not_mangled(provider)
    # Its dispenser's client holds the session, the token and the revealed password.
    client = provider._dispenser
    assert not {"last", "edl_secret", "session"} & set(visible_attributes(client))
    assert_no_leak(repr(client), CANARY_SECRET, token)


def test_the_engines_internal_records_do_not_show_the_token_in_their_repr() -> None:
    from tokenprovider.transports._rules import Credential  # noqa: PLC0415

    class Canary(CachedTokenProvider):
        def _request_token(self) -> tuple[str, float]:
            return CANARY_SECRET, time.time() + 3600

    provider = Canary("api.example.com")
    assert provider.token == CANARY_SECRET
    engine_state = [value for name, value in vars(provider).items() if "snapshot" in name]
    assert engine_state  # the snapshot the engine keeps
    credential = Credential("header", "Authorization", "Bearer " + CANARY_SECRET)
    assert_no_leak(repr(engine_state) + repr(credential), CANARY_SECRET)
