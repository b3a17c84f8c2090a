"""JWTTokenProvider: serving a static JWT, expiry warnings, malformed tokens, no leaks."""

from __future__ import annotations

import base64
import json
import logging
import pickle
import traceback
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests

from conftest import CANARY_SECRET, all_log_text, assert_no_leak, run_cli
from tokenprovider.errors import ConfigurationError, MalformedTokenError, TokenExpiredError
from tokenprovider.providers.jwt import JWTTokenProvider
from tokenprovider.testing.clock import FakeClock

HOST = "api.example.com"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def segment(value: object) -> str:
    return b64url(json.dumps(value).encode())


HEADER = segment({"alg": "HS256", "typ": "JWT"})
SIGNATURE = b64url(b"signature-ish bytes, never checked")
PAYLOAD = segment({"sub": CANARY_SECRET})
JWT = f"{HEADER}.{PAYLOAD}.{SIGNATURE}"
NOT_UTF8 = b64url(b"\xff" + CANARY_SECRET.encode())


def make_jwt(**claims: object) -> str:
    return f"{HEADER}.{segment({'sub': CANARY_SECRET, **claims})}.{SIGNATURE}"


def misaligned(text: str) -> str:
    """``text`` padded with ``A`` to a length no base64 string can have."""
    return text + "A" * ((1 - len(text)) % 4)


def secrets_of(jwt: str) -> tuple[str, ...]:
    return (jwt, CANARY_SECRET, PAYLOAD, SIGNATURE, *(part for part in jwt.split(".") if part))


def get_request(url: str, **headers: str) -> requests.PreparedRequest:
    return requests.Request("GET", url, headers=headers).prepare()


@pytest.mark.parametrize("given", [JWT, f"  {JWT}\n", f"\t{JWT} "])
def test_token_is_the_stripped_jwt(fake_clock: FakeClock, given: str) -> None:
    provider = JWTTokenProvider(HOST, given, clock=fake_clock)
    assert provider.token == JWT


def test_jwt_without_exp_never_expires(fake_clock: FakeClock, debug_logs) -> None:
    provider = JWTTokenProvider(HOST, JWT, clock=fake_clock)
    assert provider.expires_at is None
    fake_clock.advance(100 * 365 * 86400)
    assert provider.token == JWT
    assert not [r for r in debug_logs.records if r.levelno >= logging.WARNING]


def test_sets_bearer_header_on_its_host(fake_clock: FakeClock) -> None:
    provider = JWTTokenProvider(HOST, JWT, clock=fake_clock)
    request = get_request("https://api.example.com/x")
    assert provider(request) is request
    assert request.headers["Authorization"] == f"Bearer {JWT}"


@pytest.mark.parametrize(
    "url",
    [
        "https://other.example.com/x",
        "http://api.example.com/x",
        "https://api.example.com.evil.net/",
    ],
)
def test_leaves_requests_to_other_hosts_alone(fake_clock: FakeClock, url: str) -> None:
    provider = JWTTokenProvider(HOST, JWT, clock=fake_clock)
    request = provider(get_request(url))
    assert "Authorization" not in request.headers


@pytest.mark.parametrize("name", ["Authorization", "authorization"])
def test_keeps_an_existing_authorization_header(fake_clock: FakeClock, name: str) -> None:
    provider = JWTTokenProvider(HOST, JWT, clock=fake_clock)
    request = provider(get_request("https://api.example.com/x", **{name: "Basic dXNlcjpwdw=="}))
    assert request.headers["Authorization"] == "Basic dXNlcjpwdw=="


def test_no_warning_while_expiry_is_far(fake_clock: FakeClock, debug_logs) -> None:
    exp = int(fake_clock.time()) + 3600
    provider = JWTTokenProvider(HOST, make_jwt(exp=exp), clock=fake_clock)
    assert provider.expires_at == exp
    provider.token  # noqa: B018 - reading the token is the behaviour under test
    fake_clock.advance(3600 - 301)
    provider(get_request("https://api.example.com/x"))
    assert provider.token
    assert not [r for r in debug_logs.records if r.levelno >= logging.WARNING]


def test_warns_once_in_the_last_five_minutes(fake_clock: FakeClock, debug_logs) -> None:
    exp = int(fake_clock.time()) + 3600
    jwt = make_jwt(exp=exp)
    provider = JWTTokenProvider(HOST, jwt, clock=fake_clock)
    fake_clock.advance(3600 - 300)
    assert provider.token == jwt
    assert [r.levelno for r in debug_logs.records] == [logging.WARNING]
    for _ in range(3):
        assert provider.token == jwt
        request = provider(get_request("https://api.example.com/x"))
        assert request.headers["Authorization"] == f"Bearer {jwt}"
    fake_clock.advance(200)
    assert provider.token == jwt

    warnings = [r for r in debug_logs.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert warnings[0].name == "tokenprovider"
    message = warnings[0].getMessage()
    assert "https://api.example.com" in message
    assert datetime.fromtimestamp(exp, timezone.utc).strftime("%Y-%m-%d %H:%M") in message
    assert_no_leak(all_log_text(debug_logs), *secrets_of(jwt))


@pytest.mark.parametrize("after", [0, 1, 86400])
def test_expired_token_raises(fake_clock: FakeClock, debug_logs, after: int) -> None:
    exp = int(fake_clock.time()) + 600
    jwt = make_jwt(exp=exp)
    provider = JWTTokenProvider(HOST, jwt, clock=fake_clock)
    fake_clock.advance(600 + after)
    with pytest.raises(TokenExpiredError) as excinfo:
        provider.token  # noqa: B018
    message = str(excinfo.value)
    assert datetime.fromtimestamp(exp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S") in message
    assert "UTC" in message
    assert "new token" in message
    assert "https://api.example.com" in message
    with pytest.raises(TokenExpiredError):
        provider(get_request("https://api.example.com/x"))
    assert_no_leak(message + all_log_text(debug_logs), *secrets_of(jwt))


@pytest.mark.parametrize(
    "jwt",
    [
        pytest.param(f"{HEADER}.{PAYLOAD}", id="two-parts"),
        pytest.param(f"{HEADER}.{PAYLOAD}.{SIGNATURE}.{SIGNATURE}", id="four-parts"),
        pytest.param(f"{HEADER}.{misaligned(PAYLOAD)}.{SIGNATURE}", id="payload-not-base64"),
        pytest.param(f"{HEADER}.{b64url(CANARY_SECRET.encode())}.{SIGNATURE}", id="not-json"),
        pytest.param(f"{HEADER}.{NOT_UTF8}.{SIGNATURE}", id="not-utf8"),
        pytest.param(f"{HEADER}.{segment([CANARY_SECRET])}.{SIGNATURE}", id="json-list"),
        pytest.param(make_jwt(exp="1800000000"), id="exp-string"),
        pytest.param(make_jwt(exp=True), id="exp-bool"),
        pytest.param(make_jwt(exp=float("nan")), id="exp-nan"),
        pytest.param(make_jwt(exp=10**400), id="exp-huge-int"),
        pytest.param(f"Bearer {JWT}", id="bearer-prefix"),
        pytest.param(f"bearer {JWT}", id="lowercase-bearer-prefix"),
        pytest.param(f".{PAYLOAD}.{SIGNATURE}", id="empty-header"),
        pytest.param(f"{HEADER}..{SIGNATURE}", id="empty-payload"),
        pytest.param(f'"{JWT}"', id="quoted"),
        pytest.param(f"{HEADER}.{PAYLOAD} .{SIGNATURE}", id="inner-space"),
        pytest.param(f"{HEADER}.{PAYLOAD}.{SIGNATURE}\u00e9", id="non-ascii"),
        pytest.param(JWT.encode(), id="bytes"),
        pytest.param(None, id="none"),
    ],
)
def test_malformed_jwt_is_rejected_without_leaking(fake_clock: FakeClock, jwt: object) -> None:
    with pytest.raises(MalformedTokenError) as excinfo:
        JWTTokenProvider(HOST, jwt, clock=fake_clock)  # type: ignore[arg-type]
    assert isinstance(excinfo.value, ConfigurationError)
    message = str(excinfo.value)
    assert "jwt" in message.lower()
    assert "https://api.example.com" in message
    text = jwt.decode() if isinstance(jwt, bytes) else str(jwt)
    assert_no_leak("".join(traceback.format_exception(excinfo.value)), *secrets_of(text))


def test_repr_shows_host_and_set_but_not_the_token(fake_clock: FakeClock) -> None:
    jwt = make_jwt(exp=int(fake_clock.time()) + 3600)
    text = repr(JWTTokenProvider(HOST, jwt, clock=fake_clock))
    assert text.startswith("JWTTokenProvider(")
    assert "Host('api.example.com', scheme='https')" in text
    assert "jwt=<set>" in text
    assert_no_leak(text, *secrets_of(jwt))


def test_cannot_be_pickled(fake_clock: FakeClock) -> None:
    provider = JWTTokenProvider(HOST, JWT, clock=fake_clock)
    with pytest.raises(TypeError, match="credentials") as excinfo:
        pickle.dumps(provider)
    assert_no_leak(str(excinfo.value), *secrets_of(JWT))


@pytest.mark.parametrize("sent", [f"Bearer {JWT}", "Bearer an-older-token"])
def test_401_invalidation_keeps_the_static_token(fake_clock: FakeClock, sent: str) -> None:
    provider = JWTTokenProvider(HOST, JWT, clock=fake_clock)
    provider._invalidate_if_current(sent)
    assert provider.token == JWT
    request = provider(get_request("https://api.example.com/x"))
    assert request.headers["Authorization"] == f"Bearer {JWT}"


@pytest.mark.parametrize("exp", [-1e13, 1e13, -(10**17), 10**17])
def test_expiry_outside_the_calendar_is_shown_in_epoch_seconds(debug_logs, exp: float) -> None:
    # datetime cannot show these instants (years before 1 or after 9999).
    clock = FakeClock(wall=exp - 100) if exp > 0 else FakeClock()
    jwt = make_jwt(exp=exp)
    provider = JWTTokenProvider(HOST, jwt, clock=clock)
    epoch = f"{exp:.0f}"
    if exp > 0:
        assert provider.token == jwt  # warns: 100 s left
        message = debug_logs.records[-1].getMessage()
        assert epoch in message
        assert "https://api.example.com" in message
        clock.advance(200)
    with pytest.raises(TokenExpiredError) as excinfo:
        provider.token  # noqa: B018
    message = str(excinfo.value)
    assert epoch in message
    assert "https://api.example.com" in message
    assert "new token" in message
    assert_no_leak(message + all_log_text(debug_logs), *secrets_of(jwt))


def _nested_payload_jwt(depth: int) -> str:
    payload = b64url(b'{"a":' + b"[" * depth + b"]" * depth + b"}")
    return f"{HEADER}.{payload}.{SIGNATURE}"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"exp": ' + b"9" * 400 + b"}", "exp claim"),
        (b'{"exp": -' + b"9" * 400 + b"}", "exp claim"),
        (b'{"exp": 1e400}', "exp claim"),
        (b'{"exp": NaN}', "not base64url-encoded JSON"),
        (b'{"exp": ' + b"9" * 5000 + b"}", "not base64url-encoded JSON"),
    ],
    ids=["400-digits", "negative-400-digits", "1e400", "nan", "5000-digits"],
)
def test_numbers_no_float_can_hold_are_malformed_tokens(payload: bytes, reason: str) -> None:
    jwt = f"{HEADER}.{b64url(payload)}.{SIGNATURE}"
    with pytest.raises(MalformedTokenError, match=reason):
        JWTTokenProvider(HOST, jwt)


def test_a_payload_nested_100000_deep_is_a_malformed_token() -> None:
    with pytest.raises(MalformedTokenError, match="nested too deeply"):
        JWTTokenProvider(HOST, _nested_payload_jwt(100_000))


def test_the_cli_reports_a_deeply_nested_jwt_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[credentials]\ndomain = "{HOST}"\njwt = "{_nested_payload_jwt(100_000)}"\n')
    config.chmod(0o600)
    result = run_cli(config, "token", cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "nested too deeply" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
