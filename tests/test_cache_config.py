"""The ``cache`` and ``cache_key`` settings of a ``[credentials]`` table.

Configuration is loaded with ``load_provider(env=..., cwd=...)`` (site and user
directories inside ``tmp_path``) or ``parse_credentials_config``; ``config show`` runs as
``python -m tokenprovider`` in a subprocess. No literal key or client secret may appear
in an error or in ``config show``'s output.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import CANARY_SECRET, assert_no_leak
from tokenprovider import OAuthTokenProvider, load_provider, parse_credentials_config
from tokenprovider.caches import MemoryTokenCache, default_cache
from tokenprovider.caches.dynamodb import DynamoDBTokenCache
from tokenprovider.caches.file import FileTokenCache
from tokenprovider.errors import ConfigurationError
from tokenprovider.testing.oauth_server import LocalOAuthServer

HOST = "api.example.com"
TOKEN_URL = "https://login.example.com/oauth2/token"
#: A well-formed key given literally, which configuration must refuse and never repeat.
LITERAL_KEY = base64.b64encode(b"literal-key-0123456789abcdef-XYZ").decode("ascii")


def section(**settings: Any) -> dict[str, Any]:
    oauth = {"client_id": "reporting", "client_secret": CANARY_SECRET, "token_url": TOKEN_URL}
    return {"credentials": {"domain": HOST, "oauth": oauth, **settings}}


def cache_of(provider: object) -> Any:
    assert isinstance(provider, OAuthTokenProvider)
    return provider.cache


def build(**settings: Any) -> Any:
    return parse_credentials_config(section(**settings))


def config_error(*fragments: str, **settings: Any) -> str:
    with pytest.raises(ConfigurationError) as info:
        build(**settings)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert_no_leak(message, CANARY_SECRET, LITERAL_KEY)
    return message


def toml_text(document: dict[str, Any]) -> str:
    """A tiny TOML writer for these tests' two-level documents (strings only)."""
    lines: list[str] = []

    def table(path: str, values: dict[str, Any]) -> None:
        scalars = {k: v for k, v in values.items() if not isinstance(v, dict)}
        lines.append(f"[{path}]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in scalars.items())
        for key, value in values.items():
            if isinstance(value, dict):
                table(f"{path}.{key}", value)

    for name, values in document.items():
        table(name, values)
    return "\n".join(lines) + "\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


# --- what each setting builds ---------------------------------------------------------------


def test_no_cache_setting_uses_the_process_wide_memory_cache() -> None:
    assert build().cache is default_cache()


def test_memory_cache() -> None:
    cache = build(cache="memory").cache
    assert isinstance(cache, MemoryTokenCache)
    assert cache is default_cache()


def test_file_cache_in_the_default_directory() -> None:
    cache = build(cache="file").cache
    assert isinstance(cache, FileTokenCache)
    assert cache.directory is None
    assert cache.encrypted is False


def test_file_cache_with_an_absolute_directory(tmp_path: Path) -> None:
    cache = build(cache=f"file:{tmp_path / 'tokens'}").cache
    assert isinstance(cache, FileTokenCache)
    assert cache.directory == tmp_path / "tokens"


def test_relative_file_cache_directory_is_relative_to_the_project_file(
    workdir: Path, env: dict[str, str]
) -> None:
    write(workdir / ".tokenprovider.toml", toml_text(section(cache="file:cache/tokens")))
    below = workdir / "src" / "pkg"
    below.mkdir(parents=True)
    cache = cache_of(load_provider(env=env, cwd=below))
    assert isinstance(cache, FileTokenCache)
    assert cache.directory == workdir / "cache" / "tokens"


def test_relative_file_cache_directory_is_relative_to_an_explicit_file(
    tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    explicit = write(tmp_path / "conf" / "app.toml", toml_text(section(cache="file:tokens")))
    cache = cache_of(load_provider(env=env, cwd=workdir, config_file=explicit))
    assert isinstance(cache, FileTokenCache)
    assert cache.directory == tmp_path / "conf" / "tokens"


@pytest.fixture
def aws_region(clean_aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    """No AWS settings but ``AWS_REGION`` (a DynamoDB cache is refused without a region)."""
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    return "eu-central-1"


def test_dynamodb_cache(aws_region: str) -> None:
    cache = build(cache="dynamodb:Tokens").cache
    assert isinstance(cache, DynamoDBTokenCache)
    assert cache.table_name == "Tokens"
    assert cache.region == aws_region
    assert cache.encrypted is False


@pytest.mark.parametrize("spec", ["file", "dynamodb:Tokens"])
@pytest.mark.parametrize("key", ["env:TP_CONFIG_CACHE_KEY", "derive"])
@pytest.mark.usefixtures("aws_region")
def test_cache_key_makes_an_encrypted_cache(spec: str, key: str) -> None:
    cache = build(cache=spec, cache_key=key).cache
    assert isinstance(cache, (FileTokenCache, DynamoDBTokenCache))
    assert cache.encrypted is True
    assert "encrypted" in repr(cache)


def test_cache_and_relative_key_file_work_end_to_end(
    oauth_server: LocalOAuthServer, tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    """``cache = "file:DIR"`` and ``cache_key = "file:KEY"`` both resolve against the
    config file's directory; the token is fetched once, stored sealed, and a second
    provider built from the same file reads it."""
    oauth_server.clients = {"client": CANARY_SECRET}
    key_text = base64.b64encode(os.urandom(32)).decode("ascii")
    write(tmp_path / "conf" / "cache.key", key_text + "\n")
    port = oauth_server.url.rsplit(":", 1)[1]
    document = {
        "credentials": {
            "domain": f"127.0.0.1:{port}",
            "scheme": "http",
            "cache": "file:tokens",
            "cache_key": "file:cache.key",
            "oauth": {
                "client_id": "client",
                "client_secret": CANARY_SECRET,
                "token_url": oauth_server.token_url,
            },
        }
    }
    explicit = write(tmp_path / "conf" / "app.toml", toml_text(document))
    provider = load_provider(env=env, cwd=workdir, config_file=explicit)
    assert isinstance(provider, OAuthTokenProvider)
    token = provider.token

    stored = list((tmp_path / "conf" / "tokens").iterdir())
    assert stored, "nothing was written to the configured directory"
    for path in stored:
        if path.is_file():
            assert_no_leak(path.read_text(errors="replace"), token, CANARY_SECRET, key_text)
    again = load_provider(env=env, cwd=workdir, config_file=explicit)
    assert again.token == token
    assert oauth_server.token_requests == 1


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["redis", "dynamodb:", "memory:x", "", "files", "DynamoDB:T"])
def test_unknown_cache_kind_names_the_setting(spec: str) -> None:
    message = config_error("credentials.cache", cache=spec)
    assert '"dynamodb:TABLE"' in message


def test_bad_dynamodb_table_name_names_the_setting() -> None:
    config_error("credentials.cache", "table_name", cache="dynamodb:ab")


@pytest.mark.parametrize("value", [5, True, ["file"], {"kind": "file"}])
def test_non_string_cache_is_an_error(value: Any) -> None:
    config_error("credentials.cache", "must be a string", cache=value)


def test_cache_key_without_cache_is_an_error() -> None:
    config_error("credentials.cache_key", "cache", cache_key="env:TP_CONFIG_CACHE_KEY")


@pytest.mark.parametrize("spec", ["file", "dynamodb:Tokens"])
def test_literal_cache_key_is_refused_without_echoing_it(spec: str) -> None:
    config_error("credentials.cache_key", "secret reference", cache=spec, cache_key=LITERAL_KEY)


@pytest.mark.parametrize("value", [5, True, ["env:K"]])
def test_non_string_cache_key_is_an_error(value: Any) -> None:
    config_error("credentials.cache_key", cache="file", cache_key=value)


def test_cache_key_with_the_memory_cache_is_an_error() -> None:
    config_error("credentials.cache", "cache_key", cache="memory", cache_key="derive")


def test_cache_on_a_jwt_provider_is_an_error() -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_credentials_config({"credentials": {"domain": HOST, "jwt": "a.b.c", "cache": "file"}})
    assert "credentials.cache" in str(info.value)


def test_error_from_a_file_names_file_and_line(workdir: Path, env: dict[str, str]) -> None:
    project = write(workdir / ".tokenprovider.toml", toml_text(section(cache="redis")))
    with pytest.raises(ConfigurationError) as info:
        load_provider(env=env, cwd=workdir)
    message = str(info.value)
    assert "credentials.cache" in message
    assert str(project) in message
    assert "line 3" in message
    assert_no_leak(message, CANARY_SECRET)


def test_cache_key_reference_that_cannot_be_read_fails_at_the_first_token(
    oauth_server: LocalOAuthServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TP_CONFIG_MISSING_KEY", raising=False)
    oauth_server.clients = {"client": CANARY_SECRET}
    port = oauth_server.url.rsplit(":", 1)[1]
    provider = parse_credentials_config(
        {
            "credentials": {
                "domain": f"127.0.0.1:{port}",
                "scheme": "http",
                "cache": f"file:{tmp_path / 'tokens'}",
                "cache_key": "env:TP_CONFIG_MISSING_KEY",
                "oauth": {
                    "client_id": "client",
                    "client_secret": CANARY_SECRET,
                    "token_url": oauth_server.token_url,
                },
            }
        }
    )
    with pytest.raises(ConfigurationError) as info:
        provider.token  # noqa: B018
    assert "TP_CONFIG_MISSING_KEY" in str(info.value)
    assert_no_leak(str(info.value), CANARY_SECRET)
    assert oauth_server.token_requests == 0


# --- config show ----------------------------------------------------------------------------


def test_config_show_masks_a_literal_cache_key(tmp_path: Path, workdir: Path) -> None:
    document = section(cache="dynamodb:Tokens", cache_key=LITERAL_KEY)
    write(workdir / ".tokenprovider.toml", toml_text(document))
    profile_document = {"profiles": {"ref": section(cache="file", cache_key="env:TP_SHOW_KEY")}}
    write(tmp_path / "home" / "tokenprovider" / "config.toml", toml_text(profile_document))
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("TOKENPROVIDER_", "XDG_"))
    }
    env.update(
        HOME=str(tmp_path / "home"),
        XDG_CONFIG_HOME=str(tmp_path / "home"),
        XDG_CONFIG_DIRS=str(tmp_path / "etc"),
    )
    result = subprocess.run(
        [sys.executable, "-m", "tokenprovider", "config", "show"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=workdir,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert_no_leak(output, LITERAL_KEY, CANARY_SECRET)
    assert 'cache = "dynamodb:Tokens"' in result.stdout
    assert 'cache_key = "<set>"' in result.stdout
    assert "<reference env:TP_SHOW_KEY>" in result.stdout


def test_relative_file_cache_directory_from_a_variable_is_relative_to_cwd(
    workdir: Path, env: dict[str, str]
) -> None:
    """A relative directory set by an environment variable has no file to be relative
    to: it is the working directory load_provider was given (``cwd`` "replaces the
    working directory"), fixed when the configuration is loaded."""
    write(workdir / ".tokenprovider.toml", toml_text(section()))
    variables = {**env, "TOKENPROVIDER_CREDENTIALS__CACHE": "file:rel-tokens"}
    cache = cache_of(load_provider(env=variables, cwd=workdir))
    assert isinstance(cache, FileTokenCache)
    assert cache.directory == workdir / "rel-tokens"
