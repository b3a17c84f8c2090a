"""Without an optional dependency, every path that needs it fails with an error naming
the extra to install (``pip install 'tokenprovider[aws]'``), never a traceback, a store
failure blamed on a cache, or a silent skip.

Each test runs a child process in which boto3 and botocore (or cryptography) cannot be
imported, as if the extra were not installed (``without=`` of `run_python` / `run_cli`).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from conftest import CANARY_SECRET, assert_no_leak, closed_port, run_cli, run_python

AWS = ("boto3", "botocore")
AWS_EXTRA = "pip install 'tokenprovider[aws]'"
CRYPTO_EXTRA = "pip install 'tokenprovider[crypto]'"
#: Settings that would let AWS calls go ahead, so only the missing extra can stop them.
AWS_ENV = {"AWS_REGION": "us-west-2", "AWS_ACCESS_KEY_ID": "testing"}


def _calls(program: str, *, without: tuple[str, ...], tmp_path: Path) -> dict[str, str]:
    """Run ``program`` (which fills ``calls``: name -> a function) in a child without those
    modules; for each call, ``"ErrorType: message"`` (or ``"ok"``)."""
    child = textwrap.dedent(
        """
        import json, os
        calls = {}
        """
    )
    child += textwrap.dedent(program)
    child += textwrap.dedent(
        """
        results = {}
        for name, call in calls.items():
            try:
                call()
            except Exception as exc:
                results[name] = f"{type(exc).__name__}: {exc}"
            else:
                results[name] = "ok"
        print(json.dumps(results))
        """
    )
    import os  # noqa: PLC0415

    env = {**os.environ, **AWS_ENV, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed_port()}"}
    done = run_python("-c", child, timeout=60, env=env, cwd=tmp_path, without=without)
    assert done.returncode == 0, done.stderr
    results: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return results


def test_every_aws_entry_point_names_the_aws_extra(tmp_path: Path) -> None:
    results = _calls(
        """
        from tokenprovider import TDSTokenProvider, _aws as aws
        from tokenprovider.caches.dynamodb import DynamoDBTokenCache, create_table
        from tokenprovider.compat import metadata_bank, tds

        os.environ.update(SECRET_NAME="mb/credentials", URL="https://login.example.com/token")
        calls["TDSTokenProvider"] = lambda: TDSTokenProvider("api.example.com", "client01")
        calls["DynamoDBTokenCache"] = lambda: DynamoDBTokenCache("Tokens")
        calls["create_table()"] = lambda: create_table("Tokens")
        calls["get_token()"] = lambda: tds.get_token("client01")
        calls["refresh_token()"] = lambda: metadata_bank.refresh_token()
        calls["the AWS ssm client"] = lambda: aws.client("ssm")
        calls["resolve_region()"] = lambda: aws.resolve_region(None)
        calls["a session for my tool"] = lambda: aws.session(needed_by="a session for my tool")
        os.environ.pop("AWS_REGION")  # the profile's region needs a boto3 session
        calls["TDSTokenProvider, the region from the profile"] = lambda: TDSTokenProvider(
            "api.example.com", "client01"
        )
        """,
        without=AWS,
        tmp_path=tmp_path,
    )
    for name, outcome in results.items():
        assert outcome.startswith("MissingExtraError: "), (name, outcome)
        assert f"{name.partition(',')[0]} needs boto3" in outcome, (name, outcome)
        assert AWS_EXTRA in outcome, (name, outcome)


@pytest.mark.parametrize(
    "reference", ["aws-ssm:/service/secret", "aws-secretsmanager:service/secret#password"]
)
def test_an_aws_reference_is_a_secret_reference_error_naming_the_extra(
    tmp_path: Path, reference: str
) -> None:
    results = _calls(
        f"""
        from tokenprovider.secret_refs import SecretReference

        reference = SecretReference({reference!r}, setting="credentials.oauth.client_secret")
        calls["reveal"] = reference.reveal
        """,
        without=AWS,
        tmp_path=tmp_path,
    )
    outcome = results["reveal"]
    assert outcome.startswith("SecretReferenceError: "), outcome
    assert reference in outcome
    assert "credentials.oauth.client_secret" in outcome
    assert AWS_EXTRA in outcome


def _config(tmp_path: Path, *, secret: str = CANARY_SECRET, **credentials: str) -> Path:
    """An OAuth profile whose token endpoint refuses connections: a build that went
    through would fail at the fetch (exit 1), so exit 3 means the build refused."""
    lines = ["[credentials]", 'domain = "127.0.0.1"', 'scheme = "http"']
    lines += [f"{key} = {json.dumps(value)}" for key, value in credentials.items()]
    lines += [
        "[credentials.oauth]",
        f'token_url = "http://127.0.0.1:{closed_port()}/token"',
        'client_id = "reporting"',
        f"client_secret = {json.dumps(secret)}",
    ]
    config = tmp_path / "config.toml"
    config.write_text("\n".join(lines) + "\n")
    config.chmod(0o600)
    return config


def _cli(config: Path, *args: str, tmp_path: Path, without: tuple[str, ...] = AWS) -> str:
    """Run the CLI without those modules; expect exit 3 and one error line; return it."""
    env = {**AWS_ENV, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    result = run_cli(config, *args, cwd=tmp_path, without=without, env=env)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 3, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tokenprovider: error: "), result.stderr
    assert_no_leak(result.stdout + result.stderr, CANARY_SECRET)
    return lines[0]


def test_cli_create_table_names_the_aws_extra(tmp_path: Path) -> None:
    config = _config(tmp_path)
    line = _cli(config, "cache", "create-table", "Tokens", tmp_path=tmp_path)
    assert "tokenprovider cache create-table needs boto3" in line
    assert AWS_EXTRA in line


@pytest.mark.parametrize("reference", ["aws-ssm:/service/secret", "aws-secretsmanager:svc#pw"])
def test_cli_token_with_an_aws_reference_names_the_reference_and_the_extra(
    tmp_path: Path, reference: str
) -> None:
    config = _config(tmp_path, secret=reference)
    line = _cli(config, "token", tmp_path=tmp_path)
    assert reference in line
    assert "credentials.oauth.client_secret" in line
    assert AWS_EXTRA in line
    assert "TokenCache" not in line  # not blamed on a cache


def test_a_configured_dynamodb_cache_without_boto3_is_a_configuration_error(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path, cache="dynamodb:Tokens")
    line = _cli(config, "token", tmp_path=tmp_path)
    assert "credentials.cache" in line
    assert "dynamodb:Tokens" in line
    assert AWS_EXTRA in line


def test_encrypted_caches_name_the_crypto_extra(tmp_path: Path) -> None:
    results = _calls(
        f"""
        from tokenprovider.caches.dynamodb import DynamoDBTokenCache
        from tokenprovider.caches.file import FileTokenCache
        from tokenprovider.compat import metadata_bank

        directory = {str(tmp_path / "tokens")!r}
        os.environ.update(SECRET_NAME="mb/credentials", URL="https://login.example.com/token")
        calls["FileTokenCache"] = lambda: FileTokenCache(directory, key="derive")
        calls["DynamoDBTokenCache"] = lambda: DynamoDBTokenCache("Tokens", key="derive")
        calls["refresh_token()"] = lambda: metadata_bank.refresh_token()
        """,
        without=("cryptography",),
        tmp_path=tmp_path,
    )
    for name, outcome in results.items():
        assert outcome.startswith("MissingExtraError: "), (name, outcome)
        assert "needs cryptography" in outcome, (name, outcome)
        assert CRYPTO_EXTRA in outcome, (name, outcome)
    assert "refresh_token() needs cryptography" in results["refresh_token()"]


def test_a_sealed_cache_in_the_configuration_names_the_crypto_extra(tmp_path: Path) -> None:
    config = _config(tmp_path, cache="file", cache_key="derive")
    line = _cli(config, "token", tmp_path=tmp_path, without=("cryptography",))
    assert "credentials.cache" in line
    assert CRYPTO_EXTRA in line


def test_the_profile_used_here_fails_only_at_the_fetch_when_nothing_is_missing(
    tmp_path: Path,
) -> None:
    """The control for the tests above: with every extra, the same profile builds and its
    fetch fails (exit 1), so their exit 3 comes from the missing extra."""
    config = _config(tmp_path)
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    result = run_cli(config, "token", "--no-cache", cwd=tmp_path, env=env)
    assert result.returncode == 1, result.stderr


def test_demo_tds_without_moto_names_the_testing_extra_and_exits_3(tmp_path: Path) -> None:
    result = run_python(
        "-m", "tokenprovider", "demo", "--tds", timeout=60, cwd=tmp_path, without=("moto",)
    )
    assert result.returncode == 3, result.stderr
    assert "pip install 'tokenprovider[testing]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_httpx_auth_without_httpx_names_the_httpx_extra(tmp_path: Path) -> None:
    results = _calls(
        f"""
        from tokenprovider import JWTTokenProvider, OAuthTokenProvider

        oauth = OAuthTokenProvider(
            "api.example.com", "client", {CANARY_SECRET!r}, token_url="https://t.example/"
        )
        calls["OAuthTokenProvider.httpx_auth()"] = oauth.httpx_auth
        jwt = JWTTokenProvider("api.example.com", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln")
        calls["JWTTokenProvider.httpx_auth()"] = jwt.httpx_auth
        calls["requests still works"] = oauth.session
        """,
        without=("httpx",),
        tmp_path=tmp_path,
    )
    assert results.pop("requests still works") == "ok"
    for name, outcome in results.items():
        assert outcome.startswith("MissingExtraError: "), (name, outcome)
        assert "provider.httpx_auth() needs httpx" in outcome, (name, outcome)
        assert "pip install 'tokenprovider[httpx]'" in outcome, (name, outcome)
        assert_no_leak(outcome, CANARY_SECRET)


def test_a_signed_client_assertion_names_the_jwt_extra_when_built(tmp_path: Path) -> None:
    """At construction, so that ``config check`` says so, not the first token request."""
    results = _calls(
        """
        from tokenprovider import OAuthTokenProvider, SecretReference
        from tokenprovider.testing import LocalOAuthServer
        def signed(**settings):
            return lambda: OAuthTokenProvider(
                "api.example.com", "svc", token_url="https://login.example.com/token",
                **settings
            )
        calls["private_key_jwt"] = signed(
            client_auth="private_key_jwt", private_key=SecretReference("env:KEY")
        )
        calls["client_secret_jwt"] = signed(
            client_auth="client_secret_jwt", client_secret=SecretReference("env:SECRET")
        )
        calls["the verifier"] = lambda: LocalOAuthServer(client_keys={"svc": "PEM"})
        """,
        without=("jwt",),
        tmp_path=tmp_path,
    )
    for name in ("private_key_jwt", "client_secret_jwt"):
        assert results[name] == (
            "MissingExtraError: a signed client assertion (client_auth = 'private_key_jwt' "
            "or 'client_secret_jwt') needs jwt, which is not installed: "
            "pip install 'tokenprovider[jwt]'"
        )
    assert results["the verifier"].startswith("MissingExtraError: ")
    assert "pip install 'tokenprovider[jwt]'" in results["the verifier"]
