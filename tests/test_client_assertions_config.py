"""Client assertions configured (issue 14 §1, §4): the private key by reference (``file:``
in code and relative to the configuration file, ``aws-secretsmanager:`` on moto), a
federated token file named in TOML, every refused combination of settings (in code and
in configuration, where the error names the key path), and the CLI (``token``,
``config show``) never printing a private key, an assertion or a federated token.
Real sockets to `LocalOAuthServer` on 127.0.0.1, on real time (configuration takes no
clock); nothing here waits on it.
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from conftest import all_log_text, assert_no_leak, reachable_text
from test_client_assertions import (
    CLUSTER,
    FEDERATED,
    ISSUER_KEY,
    KEYS,
    LONG_SECRET,
    WORKLOAD,
    assert_never_shown,
    federated_token,
    refused,
    sent_assertions,
)
from tokenprovider import (
    ConfigurationError,
    OAuthTokenProvider,
    SecretReference,
    TokenProvider,
    load_provider,
    parse_credentials_config,
)
from tokenprovider.caches import default_cache
from tokenprovider.cli import main
from tokenprovider.secret_refs import clear_secret_cache
from tokenprovider.testing import FakeClock, LocalOAuthServer

KEY = KEYS["ES256"]
CLIENT = "svc"
KEY_FILE = "file:key.pem"  # relative to the configuration file


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A clean secret cache; no TOKENPROVIDER_* variables or real configuration files."""
    clear_secret_cache()
    for name in list(os.environ):
        if name.startswith("TOKENPROVIDER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-home"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "xdg-dirs"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    yield
    clear_secret_cache()


@pytest.fixture
def server() -> Iterator[LocalOAuthServer]:
    with LocalOAuthServer(
        clients={},
        client_keys={CLIENT: KEY.public_pem},
        federated_clients={FEDERATED: (CLUSTER, WORKLOAD)},
        trusted_issuers={CLUSTER: ISSUER_KEY.public_pem},
    ) as running:
        yield running


def now_clock() -> FakeClock:
    """A clock standing at the real time, to date a federated token the server accepts."""
    import time  # noqa: PLC0415

    return FakeClock(wall=time.time())


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def config_file(path: Path, server: LocalOAuthServer, oauth: dict[str, Any]) -> Path:
    """A configuration file for ``server`` whose [credentials.oauth] holds ``oauth``."""
    lines = [f"{name} = {json.dumps(value)}" for name, value in oauth.items()]
    text = textwrap.dedent(
        f"""\
        [credentials]
        domain = {json.dumps(server.url)}

        [credentials.oauth]
        token_url = {json.dumps(server.token_url)}
        """
    )
    return write(path, text + "\n".join(lines) + "\n")


def load(config: Path, cwd: Path) -> TokenProvider:
    return load_provider(config_file=config, cwd=cwd)


# -- the key by reference ----------------------------------------------------------------------


def test_a_key_from_a_file_reference(server: LocalOAuthServer, tmp_path: Path) -> None:
    key_file = write(tmp_path / "keys" / "client.pem", KEY.private_pem)
    provider = OAuthTokenProvider(
        server.url,
        CLIENT,
        token_url=server.token_url,
        client_auth="private_key_jwt",
        private_key=SecretReference(f"file:{key_file}"),
    )
    assert provider.token
    assert server.assertions_verified == 1
    assert_never_shown(repr(provider), KEY.private_pem)


def test_a_key_file_relative_to_the_configuration_file(
    server: LocalOAuthServer, tmp_path: Path
) -> None:
    write(tmp_path / "conf" / "key.pem", KEY.private_pem)
    settings = {
        "client_id": CLIENT,
        "client_auth": "private_key_jwt",
        "private_key": KEY_FILE,
    }
    config = config_file(tmp_path / "conf" / "config.toml", server, settings)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    provider = load(config, elsewhere)
    assert isinstance(provider, OAuthTokenProvider)
    assert provider.token
    assert server.assertions_verified == 1
    assert_never_shown(repr(provider), KEY.private_pem)


def test_a_key_from_secrets_manager(server: LocalOAuthServer, aws_env: str) -> None:
    boto3.client("secretsmanager").create_secret(Name="tp/client-key", SecretString=KEY.private_pem)
    oauth = {
        "client_id": CLIENT,
        "token_url": server.token_url,
        "client_auth": "private_key_jwt",
        "private_key": "aws-secretsmanager:tp/client-key",
        "key_id": "kms-1",
    }
    provider = parse_credentials_config({"credentials": {"domain": server.url, "oauth": oauth}})
    assert provider.token
    assert server.assertions_verified == 1
    assert_never_shown(repr(provider), KEY.private_pem)


def test_a_missing_key_file_names_the_reference_not_a_key(
    server: LocalOAuthServer, tmp_path: Path
) -> None:
    settings = {
        "client_id": CLIENT,
        "client_auth": "private_key_jwt",
        "private_key": "file:gone.pem",
    }
    provider = load(config_file(tmp_path / "config.toml", server, settings), tmp_path)
    error = refused(provider, ConfigurationError)
    assert "gone.pem" in str(error)
    assert "credentials.oauth.private_key" in str(error)
    assert server.token_requests == 0


def test_a_federated_token_file_relative_to_the_configuration_file(
    server: LocalOAuthServer, tmp_path: Path
) -> None:
    clock = now_clock()
    token_file = write(tmp_path / "conf" / "token", federated_token(clock))
    settings = {"client_id": FEDERATED, "client_auth": "private_key_jwt", "assertion": "file:token"}
    provider = load(config_file(tmp_path / "conf" / "config.toml", server, settings), tmp_path)
    assert provider.token
    rotated = write(token_file, federated_token(clock)).read_text()
    provider.invalidate_cache()
    assert provider.token
    assert sent_assertions(server)[-1] == rotated
    assert server.assertions_verified == 2


# -- refused combinations ----------------------------------------------------------------------

KEY_REF = "<private key reference>"
SOURCE = "file:/run/secrets/token"
#: name -> (settings, what the message says, what it says from TOML if it differs).
REFUSED: dict[str, tuple[dict[str, Any], str, str | None]] = {
    "unknown-method": ({"client_auth": "mtls"}, "client_auth must be", "expected 'basic'"),
    "person-with-assertion": (
        {"grant_type": "device_code", "client_auth": "private_key_jwt", "private_key": KEY_REF},
        "a person's login (grant_type 'device_code') authenticates with",
        None,
    ),
    "none-with-secret": (
        {"client_auth": "none", "client_secret": LONG_SECRET},
        "client_auth = 'none' sends no client_secret: remove client_secret",
        None,
    ),
    "key-with-secret": (
        {"client_auth": "private_key_jwt", "private_key": KEY_REF, "client_secret": LONG_SECRET},
        "client_auth = 'private_key_jwt' sends no client_secret",
        None,
    ),
    "secret-jwt-without-secret": (
        {"client_auth": "client_secret_jwt"},
        "signs its assertion with the client_secret: set client_secret",
        None,
    ),
    "secret-jwt-with-key": (
        {"client_auth": "client_secret_jwt", "client_secret": LONG_SECRET, "private_key": KEY_REF},
        "private_key applies to client_auth = 'private_key_jwt', not 'client_secret_jwt'",
        None,
    ),
    "key-jwt-without-key": (
        {"client_auth": "private_key_jwt"},
        "client_auth = 'private_key_jwt' needs private_key",
        None,
    ),
    "key-and-assertion": (
        {"client_auth": "private_key_jwt", "private_key": KEY_REF, "assertion": SOURCE},
        "not both: remove one",
        None,
    ),
    "key-with-basic": (
        {"client_auth": "basic", "private_key": KEY_REF, "key_id": "k1"},
        "private_key, key_id apply to client_auth = 'private_key_jwt'",
        None,
    ),
    "key-id-without-key": (
        {"client_auth": "private_key_jwt", "assertion": SOURCE, "key_id": "k1"},
        "key_id and assertion_algorithm need private_key",
        None,
    ),
    "empty-key-id": (
        {"client_auth": "private_key_jwt", "private_key": KEY_REF, "key_id": ""},
        "key_id must be a short printable string",
        None,
    ),
    "key-id-with-newline": (
        {"client_auth": "private_key_jwt", "private_key": KEY_REF, "key_id": "k\n1"},
        "key_id must be a short printable string",
        None,
    ),
    "unknown-algorithm": (
        {"client_auth": "private_key_jwt", "private_key": KEY_REF, "assertion_algorithm": "HS256"},
        "assertion_algorithm must be",
        "expected 'RS256'",
    ),
    "audience-without-signing": (
        {"client_auth": "basic", "client_secret": LONG_SECRET, "assertion_audience": "issuer"},
        "assertion_audience and assertion_lifetime apply to a signed client assertion",
        None,
    ),
    "lifetime-of-a-federated-token": (
        {"client_auth": "private_key_jwt", "assertion": SOURCE, "assertion_lifetime": 120},
        "assertion_audience and assertion_lifetime apply to a signed client assertion",
        None,
    ),
    "unknown-audience": (
        {"client_auth": "private_key_jwt", "private_key": KEY_REF, "assertion_audience": "aud"},
        "assertion_audience must be 'token_endpoint' or 'issuer' or the URL",
        None,
    ),
    "zero-lifetime": (
        {"client_auth": "private_key_jwt", "private_key": KEY_REF, "assertion_lifetime": 0},
        "assertion_lifetime must be a number of seconds from 1 to 3600",
        None,
    ),
    "long-lifetime": (
        {"client_auth": "private_key_jwt", "private_key": KEY_REF, "assertion_lifetime": 3601},
        "assertion_lifetime must be a number of seconds from 1 to 3600",
        None,
    ),
    "boolean-lifetime": (
        {"client_auth": "private_key_jwt", "private_key": KEY_REF, "assertion_lifetime": True},
        "assertion_lifetime must be a number of seconds from 1 to 3600",
        "expected float",
    ),
    "exchange-settings-elsewhere": (
        {"subject_token": SOURCE, "client_secret": LONG_SECRET},
        "subject_token apply to grant_type = 'token_exchange'",
        None,
    ),
    "exchange-without-subject": (
        {"grant_type": "token_exchange"},
        "grant_type = 'token_exchange' needs subject_token",
        None,
    ),
    "actor-type-without-actor": (
        {"grant_type": "token_exchange", "subject_token": SOURCE, "actor_token_type": "jwt"},
        "actor_token_type needs actor_token",
        None,
    ),
    "jwt-bearer-without-assertion": (
        {"grant_type": "jwt_bearer"},
        "grant_type = 'jwt_bearer' needs assertion",
        None,
    ),
    "assertion-with-basic": (
        {"assertion": SOURCE, "client_secret": LONG_SECRET},
        "assertion is the jwt_bearer grant's assertion, or the client assertion",
        None,
    ),
    "resource-not-a-uri": (
        {"grant_type": "token_exchange", "subject_token": SOURCE, "resource": "api"},
        "resource must be an absolute URI",
        None,
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_each_refused_combination_in_code(case: str) -> None:
    settings, said, _ = REFUSED[case]
    kwargs = {
        name: SecretReference("file:/nonexistent/key.pem") if value == KEY_REF else value
        for name, value in settings.items()
    }
    with pytest.raises(ConfigurationError) as info:
        OAuthTokenProvider("api.example.com", CLIENT, **kwargs)
    assert said in str(info.value)
    assert_no_leak(reachable_text(info.value), LONG_SECRET)


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_each_refused_combination_in_configuration(case: str) -> None:
    settings, said, from_toml = REFUSED[case]
    oauth = {
        "client_id": CLIENT,
        **{name: KEY_FILE if value == KEY_REF else value for name, value in settings.items()},
    }
    with pytest.raises(ConfigurationError) as info:
        parse_credentials_config({"credentials": {"domain": "api.example.com", "oauth": oauth}})
    message = str(info.value)
    assert message.startswith("credentials.oauth")
    assert (from_toml or said) in message
    assert_no_leak(reachable_text(info.value), LONG_SECRET)


@pytest.mark.parametrize(
    ("setting", "value"),
    [("key_id", ""), ("assertion_lifetime", 0), ("assertion_audience", "aud")],
)
def test_a_refused_setting_in_a_file_is_named_with_its_line(
    server: LocalOAuthServer, tmp_path: Path, setting: str, value: object
) -> None:
    oauth = {"client_id": CLIENT, "client_auth": "private_key_jwt", "private_key": KEY_FILE}
    config = config_file(tmp_path / "config.toml", server, {**oauth, setting: value})
    line = 1 + next(
        number
        for number, text in enumerate(config.read_text().splitlines())
        if text.startswith(f"{setting} =")
    )
    with pytest.raises(ConfigurationError) as info:
        load(config, tmp_path)
    message = str(info.value)
    assert setting in message
    assert f"line {line}" in message


# -- the CLI shows no key, assertion or federated token ------------------------------------------


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory that is the root of a (fake) repository, so that no project
    configuration above it is read."""
    work = tmp_path / "repo"
    (work / ".git").mkdir(parents=True)
    monkeypatch.chdir(work)
    return work


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out + err


def test_the_cli_never_prints_the_key_or_the_assertion(
    server: LocalOAuthServer,
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG", logger="tokenprovider")
    write(repo / "key.pem", KEY.private_pem)
    settings = {
        "client_id": CLIENT,
        "client_auth": "private_key_jwt",
        "private_key": KEY_FILE,
    }
    config = config_file(repo / "config.toml", server, settings)

    code, token_output = run(capsys, "--config", str(config), "token", "--no-cache")
    assert code == 0, token_output
    assert server.assertions_verified == 1
    code, shown = run(capsys, "--config", str(config), "config", "show")
    assert code == 0, shown
    assert "private_key_jwt" in shown
    server.assertion_audience = "issuer"  # now refused
    default_cache().clear()  # the first run's token, kept in this process
    code, refusal = run(capsys, "--config", str(config), "token", "--no-cache")
    assert code == 1
    assert "invalid_client" in refusal

    for text in (token_output, shown, refusal, all_log_text(caplog)):
        assert_never_shown(text, KEY.private_pem, *sent_assertions(server))


@pytest.mark.parametrize("written", ["file", "literal"])
def test_the_cli_never_prints_a_federated_token(
    server: LocalOAuthServer,
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    written: str,
) -> None:
    token = federated_token(now_clock())
    write(repo / "token", token)
    # a literal token where a source belongs is a mistake config show must not repeat
    assertion = "file:token" if written == "file" else token
    settings = {"client_id": FEDERATED, "client_auth": "private_key_jwt", "assertion": assertion}
    config = config_file(repo / "config.toml", server, settings)

    code, shown = run(capsys, "--config", str(config), "config", "show")
    assert code == 0, shown
    assert ("file:token" in shown) == (written == "file")
    code, token_output = run(capsys, "--config", str(config), "token", "--no-cache")
    if written == "file":
        assert code == 0, token_output
        assert sent_assertions(server) == [token]
    else:
        assert code == 3, token_output  # not a source: a configuration error
        assert "credentials.oauth" in token_output
        assert server.token_requests == 0
    for text in (shown, token_output):
        assert_never_shown(text, token)
