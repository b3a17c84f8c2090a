"""A password in a URL of the configuration never shows: not in `config show` (with or
without origins), not in a build error."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import CANARY_SECRET, assert_no_leak, run_cli
from tokenprovider._masking import without_userinfo
from tokenprovider.config import parse_credentials_config
from tokenprovider.config.display import masked
from tokenprovider.errors import ConfigurationError

CONFIG = f"""
[credentials]
domain = "https://svc:{CANARY_SECRET}@api.example.com"
[credentials.oauth]
client_id = "reporting"
token_url = "https://u:{CANARY_SECRET}/x@login.example.com/token"
scopes = ["https://svc:{CANARY_SECRET}@scope.example.com/read"]

[profiles.bare.credentials]
domain = "svc:{CANARY_SECRET}@api.example.com"
jwt = "env:JWT"
"""


def _config_show(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    config.chmod(0o600)
    return run_cli(config, "config", "show", *args, cwd=tmp_path)


@pytest.mark.parametrize(
    "args", [(), ("--origin",), ("--profile", "bare")], ids=["plain", "origin", "bare-domain"]
)
def test_config_show_masks_user_info_in_urls(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = _config_show(tmp_path, *args)
    assert result.returncode == 0, result.stderr
    assert_no_leak(result.stdout + result.stderr, CANARY_SECRET)
    assert "***@api.example.com" in result.stdout
    if not args:
        assert 'token_url = "https://***@login.example.com/token"' in result.stdout


def test_a_build_error_quoting_a_url_masks_its_user_info() -> None:
    oauth = {"client_id": "c", "max_response_bytes": f"https://u:{CANARY_SECRET}@x"}
    config = {"credentials": {"domain": "api.example.com", "oauth": oauth}}
    with pytest.raises(ConfigurationError, match="max_response_bytes") as info:
        parse_credentials_config(config)
    assert "https://***@x" in str(info.value)
    assert_no_leak(str(info.value), CANARY_SECRET)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://svc:pa/ss@host/x", "https://***@host/x"),
        ("http://user@127.0.0.1:8000", "http://***@127.0.0.1:8000"),
        ("see https://u:p@h and https://h2/", "see https://***@h and https://h2/"),
        ("no url, just me@example.com", "no url, just me@example.com"),
        ("//u:p@evil.example/x", "//***@evil.example/x"),  # a scheme-relative Location
    ],
)
def test_without_userinfo(text: str, shown: str) -> None:
    assert without_userinfo(text) == shown


def test_a_bare_host_loses_its_user_info_too() -> None:
    assert without_userinfo("svc:pw@api.example.com", bare_host=True) == "***@api.example.com"


def test_public_extra_params_are_shown_and_the_rest_masked() -> None:
    oauth = {
        "client_id": "c",
        "extra_params": {
            "requested_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "resource": "https://api.example.com",
            "client_assertion": CANARY_SECRET,
        },
    }
    shown, notes = masked({"credentials": {"domain": "api.example.com", "oauth": oauth}})
    params = shown["credentials"]["oauth"]["extra_params"]
    assert params["requested_token_type"] == "urn:ietf:params:oauth:token-type:jwt"
    assert params["resource"] == "https://api.example.com"
    assert params["client_assertion"] == "<set>"
    assert notes == {}
