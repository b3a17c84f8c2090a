"""Secret references in configuration (issue 3 §4).

``env:``, ``file:``, ``aws-secretsmanager:`` and ``aws-ssm:`` values: how each resolves,
errors that name the reference and setting but never a value, lazy resolution on first
use, the process-wide cache, masking, and boto3 being loaded only for AWS references.
AWS is moto's server on 127.0.0.1 (``aws_env`` in conftest).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from conftest import CANARY_CLIENT, CANARY_SECRET, assert_no_leak
from tokenprovider import (
    ConfigurationError,
    JWTTokenProvider,
    MalformedTokenError,
    OAuthError,
    OAuthTokenProvider,
    SecretReference,
    SecretReferenceError,
    TokenProvider,
    load_provider,
    parse_credentials_config,
    register_provider,
)
from tokenprovider import _aws as tp_aws
from tokenprovider.config.registry import registry
from tokenprovider.core.host import Host
from tokenprovider.secret_refs import clear_secret_cache, is_reference
from tokenprovider.testing.oauth_server import LocalOAuthServer

ENV_NAME = "TP_TEST_SECRET"
SETTING = "credentials.oauth.client_secret"
PLUGIN = "secret_refs_test_plugin"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A clean secret cache, no TOKENPROVIDER_*/TP_TEST_* variables, no real config files."""
    clear_secret_cache()
    for name in list(os.environ):
        if name.startswith(("TOKENPROVIDER_", "TP_TEST_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-home"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "xdg-dirs"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    yield
    clear_secret_cache()


# -- helpers ---------------------------------------------------------------------------------


def _toml(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    path.chmod(0o600)
    return path


def _oauth_config(
    path: Path,
    secret: str,
    *,
    server: LocalOAuthServer | None = None,
) -> Path:
    domain = server.url if server else "https://api.example.com"
    token_url = server.token_url if server else "https://api.example.com/oauth2/token"
    return _write(
        path,
        f"""\
        [credentials]
        domain = {_toml(domain)}

        [credentials.oauth]
        client_id = {_toml(CANARY_CLIENT)}
        client_secret = {_toml(secret)}
        token_url = {_toml(token_url)}
        failure_cooldown = 0
        """,
    )


def _load(config: Path) -> TokenProvider:
    return load_provider(config_file=config, cwd=config.parent)


def _secret_of(provider: TokenProvider) -> SecretReference:
    assert isinstance(provider, OAuthTokenProvider)
    reference = provider._client_secret
    assert isinstance(reference, SecretReference), "client_secret must stay a lazy reference"
    return reference


def _oauth_ref(secret: str) -> SecretReference:
    """The client_secret reference of an OAuth provider built from a dict."""
    config = {
        "credentials": {
            "domain": "api.example.com",
            "oauth": {"client_id": CANARY_CLIENT, "client_secret": secret},
        }
    }
    return _secret_of(parse_credentials_config(config))


def _sent_secret(server: LocalOAuthServer) -> str:
    """The client secret of the last token request (HTTP Basic)."""
    record = server.last_token_request
    assert record is not None
    scheme, _, value = record.headers["authorization"].partition(" ")
    assert scheme == "Basic"
    _, _, secret = base64.b64decode(value).decode().partition(":")
    return urllib.parse.unquote_plus(secret)


def _jwt(lifetime: float = 86400.0) -> str:
    def part(claims: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()

    header = part({"alg": "none", "typ": "JWT"})
    return f"{header}.{part({'sub': 'tests', 'exp': int(time.time() + lifetime)})}.c2ln"


def _error_text(info: pytest.ExceptionInfo[BaseException]) -> str:
    return f"{info.value}\n{info.value!r}"


@pytest.fixture
def oauth_server() -> Iterator[LocalOAuthServer]:
    with LocalOAuthServer(clients={CANARY_CLIENT: CANARY_SECRET}) as server:
        yield server


@pytest.fixture
def count_aws_clients(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The services of every boto3 client tokenprovider creates, in order."""
    calls: list[str] = []
    real = tp_aws.client

    def counting(service: str, **kwargs: Any) -> Any:
        calls.append(service)
        return real(service, **kwargs)

    monkeypatch.setattr(tp_aws, "client", counting)
    return calls


# -- env: ------------------------------------------------------------------------------------


def test_env_reference_resolves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_NAME, CANARY_SECRET)
    reference = _secret_of(_load(_oauth_config(tmp_path / "config.toml", f"env:{ENV_NAME}")))
    assert is_reference(reference.reference)
    assert reference.reference == f"env:{ENV_NAME}"
    assert reference.reveal() == CANARY_SECRET


def test_unset_env_variable_names_reference_and_setting(tmp_path: Path) -> None:
    config = _oauth_config(tmp_path / "config.toml", "env:TP_TEST_UNSET")
    reference = _secret_of(_load(config))  # building does not read the variable
    with pytest.raises(SecretReferenceError) as info:
        reference.reveal()
    text = str(info.value)
    assert "env:TP_TEST_UNSET" in text
    assert SETTING in text
    assert str(config) in text
    assert "not set" in text


def test_empty_env_value_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_NAME, "")
    reference = _secret_of(_load(_oauth_config(tmp_path / "config.toml", f"env:{ENV_NAME}")))
    with pytest.raises(SecretReferenceError, match="empty") as info:
        reference.reveal()
    assert f"env:{ENV_NAME}" in str(info.value)
    assert SETTING in str(info.value)


# -- file: -----------------------------------------------------------------------------------


def test_file_reference_absolute(tmp_path: Path) -> None:
    secret_file = _write(tmp_path / "elsewhere" / "secret.txt", CANARY_SECRET + "\n")
    config = _oauth_config(tmp_path / "conf" / "config.toml", f"file:{secret_file}")
    assert _secret_of(_load(config)).reveal() == CANARY_SECRET


def test_file_reference_relative_to_config_file_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path / "conf" / "secret.txt", "next-to-config\n")
    _write(tmp_path / "secret.txt", "in-working-directory\n")
    config = _oauth_config(tmp_path / "conf" / "config.toml", "file:secret.txt")
    monkeypatch.chdir(tmp_path)
    assert _secret_of(_load(config)).reveal() == "next-to-config"


def test_file_reference_relative_to_config_given_by_relative_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The config file is named relative to the cwd, and the cwd changes before first use."""
    _write(tmp_path / "conf" / "secret.txt", "next-to-config\n")
    _oauth_config(tmp_path / "conf" / "config.toml", "file:secret.txt")
    (tmp_path / "other").mkdir()
    monkeypatch.chdir(tmp_path)
    provider = load_provider(config_file="conf/config.toml", cwd=tmp_path)
    monkeypatch.chdir(tmp_path / "other")  # e.g. a worker that changes directory
    assert _secret_of(provider).reveal() == "next-to-config"


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\n\n"])
def test_file_reference_strips_trailing_newline(tmp_path: Path, ending: str) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_bytes((CANARY_SECRET + ending).encode())
    assert _oauth_ref(f"file:{secret_file}").reveal() == CANARY_SECRET


def test_missing_file_error_names_path(tmp_path: Path) -> None:
    config = _oauth_config(tmp_path / "conf" / "config.toml", "file:nope.txt")
    with pytest.raises(SecretReferenceError) as info:
        _secret_of(_load(config)).reveal()
    text = str(info.value)
    assert str(tmp_path / "conf" / "nope.txt") in text
    assert "file:nope.txt" in text
    assert SETTING in text


def test_directory_error_names_path(tmp_path: Path) -> None:
    (tmp_path / "conf" / "secrets").mkdir(parents=True)
    config = _oauth_config(tmp_path / "conf" / "config.toml", "file:secrets")
    with pytest.raises(SecretReferenceError) as info:
        _secret_of(_load(config)).reveal()
    assert str(tmp_path / "conf" / "secrets") in str(info.value)
    assert "directory" in str(info.value)


@pytest.mark.parametrize("content", [b"", b"\n", b"\r\n"])
def test_empty_file_is_an_error(tmp_path: Path, content: bytes) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_bytes(content)
    with pytest.raises(SecretReferenceError, match="empty"):
        _oauth_ref(f"file:{secret_file}").reveal()


def test_non_utf8_file_error_does_not_quote_content(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret.bin"
    secret_file.write_bytes(CANARY_SECRET.encode() + b"\xff\xfe")
    with pytest.raises(SecretReferenceError) as info:
        _oauth_ref(f"file:{secret_file}").reveal()
    assert str(secret_file) in str(info.value)
    assert_no_leak(_error_text(info), CANARY_SECRET)


# -- AWS -------------------------------------------------------------------------------------


def _create_secret(name: str, value: str) -> None:
    boto3.client("secretsmanager").create_secret(Name=name, SecretString=value)


def test_secretsmanager_json_field(aws_env: str) -> None:
    _create_secret("tp/oauth", json.dumps({"client_secret": CANARY_SECRET, "other": "x"}))
    assert _oauth_ref("aws-secretsmanager:tp/oauth#client_secret").reveal() == CANARY_SECRET


def test_secretsmanager_whole_secret(aws_env: str) -> None:
    _create_secret("tp/plain", CANARY_SECRET)
    assert _oauth_ref("aws-secretsmanager:tp/plain").reveal() == CANARY_SECRET


def test_secretsmanager_missing_field_lists_names_not_values(aws_env: str) -> None:
    _create_secret("tp/oauth", json.dumps({"client_secret": CANARY_SECRET, "other": "v-1234"}))
    with pytest.raises(SecretReferenceError) as info:
        _oauth_ref("aws-secretsmanager:tp/oauth#password").reveal()
    text = str(info.value)
    assert "aws-secretsmanager:tp/oauth#password" in text
    assert "client_secret" in text
    assert "other" in text
    assert_no_leak(_error_text(info), CANARY_SECRET, "v-1234")


def test_secretsmanager_field_of_non_json_secret(aws_env: str) -> None:
    _create_secret("tp/plain", CANARY_SECRET)
    with pytest.raises(SecretReferenceError) as info:
        _oauth_ref("aws-secretsmanager:tp/plain#client_secret").reveal()
    assert "aws-secretsmanager:tp/plain#client_secret" in str(info.value)
    assert_no_leak(_error_text(info), CANARY_SECRET)


def test_secretsmanager_missing_secret_names_reference(tmp_path: Path, aws_env: str) -> None:
    config = _oauth_config(tmp_path / "config.toml", "aws-secretsmanager:tp/absent#key")
    with pytest.raises(SecretReferenceError) as info:
        _secret_of(_load(config)).reveal()
    assert "aws-secretsmanager:tp/absent#key" in str(info.value)
    assert SETTING in str(info.value)


@pytest.mark.parametrize("kind", ["SecureString", "String"])
def test_ssm_parameter(aws_env: str, kind: str) -> None:
    boto3.client("ssm").put_parameter(Name="/tp/secret", Value=CANARY_SECRET, Type=kind)
    assert _oauth_ref("aws-ssm:/tp/secret").reveal() == CANARY_SECRET


def test_ssm_missing_parameter_names_reference(aws_env: str) -> None:
    with pytest.raises(SecretReferenceError) as info:
        _oauth_ref("aws-ssm:/tp/absent").reveal()
    assert "aws-ssm:/tp/absent" in str(info.value)
    assert SETTING in str(info.value)


# -- malformed references fail at build time -------------------------------------------------


@pytest.mark.parametrize(
    "reference",
    [
        "env:",
        "env:BAD-NAME",
        "env: SPACED",
        "file:",
        "aws-ssm:",
        "aws-secretsmanager:",
        "aws-secretsmanager:name#",
        "aws-secretsmanager:#field",
    ],
)
def test_malformed_reference_fails_at_build_time(reference: str) -> None:
    with pytest.raises(SecretReferenceError) as info:
        _oauth_ref(reference)
    assert repr(reference) in str(info.value)
    assert SETTING in str(info.value)


# -- laziness --------------------------------------------------------------------------------


def test_oauth_secret_is_read_on_first_fetch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, oauth_server: LocalOAuthServer
) -> None:
    config = _oauth_config(tmp_path / "config.toml", f"env:{ENV_NAME}", server=oauth_server)
    provider = _load(config)  # the variable is not set yet: building must not read it
    with pytest.raises(SecretReferenceError) as info:
        _ = provider.token
    assert f"env:{ENV_NAME}" in str(info.value)
    assert oauth_server.token_requests == 0, "no request may be sent without the secret"

    monkeypatch.setenv(ENV_NAME, CANARY_SECRET)
    clear_secret_cache()
    assert provider.token
    assert oauth_server.token_requests == 1
    assert _sent_secret(oauth_server) == CANARY_SECRET


def test_jwt_file_is_read_on_first_use(tmp_path: Path) -> None:
    token_file = tmp_path / "conf" / "token.jwt"
    config = _write(
        tmp_path / "conf" / "config.toml",
        """\
        [credentials]
        domain = "api.example.com"
        jwt = "file:token.jwt"
        """,
    )
    provider = _load(config)  # the file does not exist yet
    assert isinstance(provider, JWTTokenProvider)
    assert provider.expires_at is None
    with pytest.raises(SecretReferenceError) as info:
        _ = provider.token
    assert str(token_file) in str(info.value)

    jwt = _jwt()
    token_file.write_text(jwt + "\n", encoding="utf-8")
    clear_secret_cache()
    assert provider.token == jwt
    assert provider.expires_at is not None
    assert_no_leak(repr(provider), jwt)


def test_aws_secret_is_fetched_on_first_token_only(
    tmp_path: Path,
    aws_env: str,
    oauth_server: LocalOAuthServer,
    count_aws_clients: list[str],
) -> None:
    _create_secret("tp/oauth", json.dumps({"client_secret": CANARY_SECRET}))
    reference = "aws-secretsmanager:tp/oauth#client_secret"
    provider = _load(_oauth_config(tmp_path / "config.toml", reference, server=oauth_server))
    assert count_aws_clients == [], "building must not call AWS"
    assert provider.token
    assert count_aws_clients == ["secretsmanager"]
    assert _sent_secret(oauth_server) == CANARY_SECRET


# -- caching ---------------------------------------------------------------------------------


def test_env_value_is_cached_until_cleared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, oauth_server: LocalOAuthServer
) -> None:
    monkeypatch.setenv(ENV_NAME, CANARY_SECRET)
    provider = _load(
        _oauth_config(tmp_path / "config.toml", f"env:{ENV_NAME}", server=oauth_server)
    )
    _ = provider.token
    monkeypatch.setenv(ENV_NAME, "rotated-secret")
    oauth_server.clients[CANARY_CLIENT] = "rotated-secret"

    provider.invalidate_cache()
    with pytest.raises(OAuthError, match="invalid_client"):  # the old secret is refused
        _ = provider.token
    assert _sent_secret(oauth_server) == CANARY_SECRET, "the cached value must still be used"

    clear_secret_cache()
    provider.invalidate_cache()
    assert provider.token
    assert _sent_secret(oauth_server) == "rotated-secret"


def test_file_value_is_cached_until_cleared(tmp_path: Path) -> None:
    secret_file = _write(tmp_path / "secret.txt", "first\n")
    reference = _oauth_ref(f"file:{secret_file}")
    assert reference.reveal() == "first"
    secret_file.write_text("second\n", encoding="utf-8")
    assert reference.reveal() == "first"
    assert _oauth_ref(f"file:{secret_file}").reveal() == "first", "the cache is process-wide"
    clear_secret_cache()
    assert reference.reveal() == "second"


def test_aws_value_is_cached_until_cleared(aws_env: str, count_aws_clients: list[str]) -> None:
    client = boto3.client("secretsmanager")
    client.create_secret(Name="tp/rotating", SecretString="first")
    reference = _oauth_ref("aws-secretsmanager:tp/rotating")
    assert reference.reveal() == "first"
    client.put_secret_value(SecretId="tp/rotating", SecretString="second")
    assert reference.reveal() == "first"
    assert reference.reveal() == "first"
    assert count_aws_clients == ["secretsmanager"]

    clear_secret_cache()
    assert reference.reveal() == "second"
    assert count_aws_clients == ["secretsmanager", "secretsmanager"]


def test_ssm_value_is_cached(aws_env: str, count_aws_clients: list[str]) -> None:
    client = boto3.client("ssm")
    client.put_parameter(Name="/tp/rotating", Value="first", Type="SecureString")
    reference = _oauth_ref("aws-ssm:/tp/rotating")
    assert reference.reveal() == "first"
    client.put_parameter(Name="/tp/rotating", Value="second", Type="SecureString", Overwrite=True)
    assert reference.reveal() == "first"
    assert count_aws_clients == ["ssm"]


# -- masking ---------------------------------------------------------------------------------


def test_secret_reference_repr_shows_only_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_NAME, CANARY_SECRET)
    reference = SecretReference(f"env:{ENV_NAME}", setting="credentials.x")
    assert repr(reference) == f"SecretReference('env:{ENV_NAME}')"
    assert reference.reveal() == CANARY_SECRET
    assert repr(reference) == f"SecretReference('env:{ENV_NAME}')"
    assert_no_leak(str(reference), CANARY_SECRET)


def test_provider_repr_never_shows_referenced_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, oauth_server: LocalOAuthServer
) -> None:
    monkeypatch.setenv(ENV_NAME, CANARY_SECRET)
    provider = _load(
        _oauth_config(tmp_path / "config.toml", f"env:{ENV_NAME}", server=oauth_server)
    )
    assert_no_leak(repr(provider), CANARY_SECRET)
    token = provider.token
    assert_no_leak(f"{provider!r}\n{provider}", CANARY_SECRET, token)


def test_jwt_error_from_reference_does_not_quote_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_NAME, CANARY_SECRET)  # not a JWT
    provider = parse_credentials_config(
        {"credentials": {"domain": "api.example.com", "jwt": f"env:{ENV_NAME}"}}
    )
    with pytest.raises(MalformedTokenError) as info:
        _ = provider.token
    assert_no_leak(f"{_error_text(info)}\n{provider!r}", CANARY_SECRET)


# -- plugin parameters typed plain str are resolved at build time ----------------------------


class _PluginProvider(TokenProvider):
    def __init__(self, host: Host | str, api_key: str, retries: int = 1) -> None:
        super().__init__(host)
        if api_key.startswith("reject:"):
            raise ValueError(f"refusing api_key {api_key}")
        self._api_key = api_key
        self.retries = retries

    @property
    def token(self) -> str:
        return self._api_key


@pytest.fixture
def plugin() -> Iterator[str]:
    """``_PluginProvider`` registered in code for one test."""
    register_provider(PLUGIN)(_PluginProvider)
    try:
        yield PLUGIN
    finally:
        registry.unregister(PLUGIN)


def _plugin_config(settings: dict[str, Any]) -> dict[str, Any]:
    return {"credentials": {"domain": "api.example.com", PLUGIN: settings}}


def test_plain_str_parameter_gets_value_at_build_time(
    plugin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_NAME, CANARY_SECRET)
    provider = parse_credentials_config(_plugin_config({"api_key": f"env:{ENV_NAME}"}))
    assert isinstance(provider, _PluginProvider)
    monkeypatch.setenv(ENV_NAME, "changed-after-build")
    clear_secret_cache()
    assert provider.token == CANARY_SECRET  # a plain str, not a reference
    assert_no_leak(repr(provider), CANARY_SECRET)


def test_plain_str_parameter_unset_variable_fails_at_build_time(plugin: str) -> None:
    with pytest.raises(SecretReferenceError) as info:
        parse_credentials_config(_plugin_config({"api_key": "env:TP_TEST_UNSET"}))
    assert "env:TP_TEST_UNSET" in str(info.value)
    assert f"credentials.{PLUGIN}.api_key" in str(info.value)


def test_plugin_refusal_redacts_resolved_value(
    plugin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_NAME, f"reject:{CANARY_SECRET}")
    with pytest.raises(ConfigurationError) as info:
        parse_credentials_config(_plugin_config({"api_key": f"env:{ENV_NAME}"}))
    assert "refusing api_key" in str(info.value)
    assert_no_leak(_error_text(info), CANARY_SECRET)


def test_conversion_error_of_referenced_value_is_masked(
    plugin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_NAME, CANARY_SECRET)
    settings = {"api_key": "plain", "retries": f"env:{ENV_NAME}"}
    with pytest.raises(ConfigurationError) as info:
        parse_credentials_config(_plugin_config(settings))
    assert f"credentials.{PLUGIN}.retries" in str(info.value)
    assert_no_leak(_error_text(info), CANARY_SECRET)


# -- boto3 is imported only for AWS references -----------------------------------------------


def _run(code: str, env: dict[str, str], cwd: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _child_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("TOKENPROVIDER_", "PYTEST_"))
    }
    env.update(
        HOME=str(tmp_path / "home"),
        XDG_CONFIG_HOME=str(tmp_path / "xdg-home"),
        XDG_CONFIG_DIRS=str(tmp_path / "xdg-dirs"),
        **extra,
    )
    return env


def test_env_and_file_references_do_not_import_boto3(tmp_path: Path) -> None:
    secret_file = _write(tmp_path / "secret.txt", "from-file\n")
    config = _oauth_config(tmp_path / "config.toml", f"env:{ENV_NAME}")
    code = """
        import sys
        import tokenprovider
        from tokenprovider.secret_refs import SecretReference
        provider = tokenprovider.load_provider(config_file=sys.argv[1])
        assert provider._client_secret.reveal() == "from-env"
        assert SecretReference("file:" + sys.argv[2]).reveal() == "from-file"
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("boto3", "botocore")))
    """
    env = _child_env(tmp_path, **{ENV_NAME: "from-env"})
    assert _run(code, env, tmp_path, str(config), str(secret_file)) == "[]"


def test_aws_reference_imports_boto3_only_when_resolved(tmp_path: Path, aws_env: str) -> None:
    boto3.client("ssm").put_parameter(Name="/tp/secret", Value="from-ssm", Type="SecureString")
    config = _oauth_config(tmp_path / "config.toml", "aws-ssm:/tp/secret")
    code = """
        import sys
        import tokenprovider
        provider = tokenprovider.load_provider(config_file=sys.argv[1])
        before = "boto3" in sys.modules
        value = provider._client_secret.reveal()
        print(before, "boto3" in sys.modules, value)
    """
    assert _run(code, _child_env(tmp_path), tmp_path, str(config)) == "False True from-ssm"
