"""What a newcomer reads when a configuration is wrong: ``config set`` refuses what
``config check`` would report, every message cites the line of the setting it names
(a table's problem its header), a domain with a path is quoted as given, a mistyped
prefix is not also called a literal secret, no AWS region in this shell does not stop a
TDS table being written, an environment variable that picked a provider is named, and
the did-you-means of references, caches and ``--provider``. CLI runs are real child
processes (`run_cli`) in a `cli_sandbox`."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import test_config_check as check
from conftest import CANARY_SECRET
from test_config_check import line_of
from tokenprovider import SecretReference
from tokenprovider.config.build import build_named, check_section
from tokenprovider.config.loading import InsecureConfigFileWarning, load
from tokenprovider.errors import ConfigurationError, SecretReferenceError

#: No AWS settings of this machine, and no region anywhere.
NO_AWS_REGION = {
    "AWS_REGION": "",
    "AWS_DEFAULT_REGION": "",
    "AWS_PROFILE": "",
    "AWS_EC2_METADATA_DISABLED": "true",
}


class Sandbox(check.Sandbox):
    """`test_config_check.Sandbox` with no AWS settings of this machine; commands read
    and write the user file (``config`` is the user file)."""

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path)
        self.env.update(
            AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
            **NO_AWS_REGION,
        )
        self.config = self.user_file

    def write(self, text: str, mode: int = 0o600) -> Path:  # type: ignore[override]
        super().write(text, self.user_file)
        self.user_file.chmod(mode)
        return self.user_file


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path)


# --- 1. config set refuses what check would report ---------------------------------------


def test_set_judges_a_token_url_while_another_key_still_has_a_problem(sandbox: Sandbox) -> None:
    """cache_key may be set before cache; the provider's own rules still judge token_url."""
    before = sandbox.write('[credentials]\ncache_key = "derive"\n').read_bytes()

    result = sandbox.run("config", "set", "credentials.oauth.token_url", "envv:X")

    assert result.returncode == 3, result.stderr
    assert "credentials.oauth.token_url was not set" in result.stderr
    assert "token_url must be an http(s) URL" in result.stderr
    assert sandbox.user_file.read_bytes() == before


@pytest.mark.parametrize(
    ("value", "expected"), [("", "is empty"), ("us west 2", "is not an AWS region")]
)
def test_set_refuses_a_region_check_would_refuse(
    sandbox: Sandbox, value: str, expected: str
) -> None:
    before = sandbox.write(
        '[profiles.cmr.credentials]\ndomain = "cmr.example.com"\n'
        '[profiles.cmr.credentials.tds]\nclient_id = "podaacsvc"\n'
    ).read_bytes()

    result = sandbox.run("config", "set", "profiles.cmr.credentials.tds.region", value)
    # With a region in the shell, an empty one would be passed over: it is refused all the same.
    in_shell = sandbox.run(
        "config",
        "set",
        "profiles.cmr.credentials.tds.region",
        value,
        env={"AWS_REGION": "eu-west-1"},
    )

    for run in (result, in_shell):
        assert run.returncode == 3, run.stderr
        assert "profiles.cmr.credentials.tds.region was not set" in run.stderr
        assert expected in run.stderr
    assert sandbox.user_file.read_bytes() == before


# --- 2. the line of the setting named ------------------------------------------------------


def test_check_cites_the_line_of_the_setting_a_constructor_refuses(sandbox: Sandbox) -> None:
    config = sandbox.write(
        '[credentials]\ndomain = "api.example.com"\n\n'
        '[credentials.oauth]\nclient_id = "x"\ntoken_url = "envv:X"\n\n'
        '[profiles.cmr.credentials]\ndomain = "cmr.example.com"\n'
        '[profiles.cmr.credentials.tds]\nclient_id = "podaacsvc"\nregion = ""\n\n'
        '[profiles.half.credentials]\ndomain = "half.example.com"\n'
        '[profiles.half.credentials.oauth]\nscopes = ["read"]\n'
    )

    result = sandbox.run("config", "check", "--all")

    assert result.returncode == 3
    token_url, region, missing = result.stdout.splitlines()
    assert f"(from {config}, line {line_of(config, 'token_url')})" in token_url
    assert "token_url must be an http(s) URL" in token_url
    assert region.startswith("problem: profile cmr: profiles.cmr.credentials.tds.region (from")
    assert f"line {line_of(config, 'region = ')})" in region
    # A table's own problem is at its header, not at its first key.
    assert f"line {line_of(config, '[profiles.half.credentials.oauth]')})" in missing
    assert "missing required setting(s): client_id" in missing


# --- 3. a domain with a path is quoted as given ---------------------------------------------


def test_a_domain_with_a_path_is_quoted_as_given_and_the_path_named(sandbox: Sandbox) -> None:
    set_result = sandbox.run("config", "set", "credentials.domain", "api.example.com/v1")
    init_result = sandbox.run(
        "config",
        "init",
        "--provider",
        "oauth",
        f"domain=https://api.example.com/v1?key={CANARY_SECRET}",
        "client_id=x",
    )

    assert set_result.returncode == 3
    assert "host 'api.example.com/v1' must be a domain" in set_result.stderr
    assert "drop the path '/v1'" in set_result.stderr
    assert init_result.returncode == 3
    assert "host 'https://api.example.com/v1' must be a domain" in init_result.stderr
    assert "drop the path '/v1' and the query or fragment" in init_result.stderr
    assert not sandbox.user_file.exists()


# --- 4. a mistyped prefix is not a literal secret --------------------------------------------


def test_a_mistyped_prefix_in_a_readable_file_gets_the_error_not_the_chmod_warning(
    sandbox: Sandbox,
) -> None:
    config = sandbox.write(
        '[credentials]\ndomain = "api.example.com"\n'
        '[credentials.oauth]\nclient_id = "x"\nclient_secret = "envv:REPORTING_SECRET"\n',
        mode=0o644,
    )

    result = sandbox.run("token", "--no-cache")
    with warnings.catch_warnings():
        warnings.simplefilter("error", InsecureConfigFileWarning)
        load(env={}, cwd=sandbox.cwd, explicit=config)

    assert result.returncode == 3
    assert "chmod" not in result.stderr
    assert "did you mean 'env:'" in result.stderr


def test_a_literal_secret_in_a_readable_file_still_gets_the_chmod_warning(
    sandbox: Sandbox,
) -> None:
    config = sandbox.write(
        f'[credentials]\ndomain = "api.example.com"\n[credentials.oauth]\nclient_id = "x"\n'
        f'client_secret = "{CANARY_SECRET}"\n',
        mode=0o644,
    )

    with pytest.warns(InsecureConfigFileWarning, match="chmod 600"):
        load(env={}, cwd=sandbox.cwd, explicit=config)


# --- 5. no AWS region in this shell ----------------------------------------------------------


def test_init_writes_a_tds_table_without_a_region_in_this_shell(sandbox: Sandbox) -> None:
    result = sandbox.run(
        "config",
        "init",
        "--provider",
        "tds",
        "--profile",
        "cmr",
        "domain=cmr.example.com",
        "client_id=podaacsvc",
    )

    assert result.returncode == 0, result.stderr
    assert "wrote [profiles.cmr.credentials] with provider tds" in result.stdout
    assert "region = in [profiles.cmr.credentials.tds]" in result.stderr
    assert "tokenprovider config set profiles.cmr.credentials.tds.region VALUE" in result.stderr


def test_check_warns_of_no_region_naming_the_rule_and_a_build_refuses(sandbox: Sandbox) -> None:
    config = sandbox.write(
        '[profiles.cmr.credentials]\ndomain = "cmr.example.com"\n'
        '[profiles.cmr.credentials.tds]\nclient_id = "podaacsvc"\n'
    )

    checked = sandbox.run("config", "check", "--profile", "cmr")
    built = sandbox.run("token", "--profile", "cmr", "--no-cache")
    with_region = sandbox.run(
        "config", "check", "--profile", "cmr", env={"AWS_REGION": "us-west-2"}
    )

    assert checked.returncode == 0, checked.stdout + checked.stderr
    warning, ok = checked.stdout.splitlines()
    assert ok == "ok: profile cmr (tds)"
    assert warning.startswith(
        f"warning: profile cmr: profiles.cmr.credentials.tds (from {config}, line 3): "
    )
    for text in (
        "region = in [profiles.cmr.credentials.tds], then AWS_REGION, then AWS_DEFAULT_REGION, "
        "then the region of the AWS profile",
        "tokenprovider config set profiles.cmr.credentials.tds.region VALUE",
    ):
        assert text in warning
        assert text in built.stderr
    assert "[credentials.tds]" not in warning + built.stderr
    assert built.returncode == 3
    assert with_region.stdout == "ok: profile cmr (tds)\n"


def test_check_section_notes_no_region_and_a_build_names_the_real_table(
    clean_aws: dict[str, str],
) -> None:
    section = {"domain": "cmr.example.com", "tds": {"client_id": "podaacsvc"}}
    path = ("profiles", "cmr", "credentials")

    checked = check_section(section, path)
    with pytest.raises(ConfigurationError) as info:
        build_named(section, path)

    assert checked.problems == []
    (note,) = checked.notes
    assert "region = in [profiles.cmr.credentials.tds]" in note
    assert "region = in [profiles.cmr.credentials.tds]" in str(info.value)
    assert "config set profiles.cmr.credentials.tds.region VALUE" in str(info.value)


# --- 6. the variable that picked the provider --------------------------------------------------


def test_a_provider_picked_by_a_variable_is_blamed_on_the_variable(sandbox: Sandbox) -> None:
    sandbox.write(
        '[credentials]\ndomain = "api.example.com"\n[credentials.oauth]\nclient_id = "x"\n'
    )
    variable = "TOKENPROVIDER_CREDENTIALS__PROVIDER"

    result = sandbox.run("config", "check", env={variable: "jwt"})

    assert result.returncode == 3
    (problem,) = result.stdout.splitlines()
    assert problem.startswith(
        "problem: profile default: credentials.jwt (picked by provider = 'jwt' from "
        f"environment variable {variable}): is missing required setting(s): jwt"
    )
    assert "line" not in problem


# --- 8. did-you-means -----------------------------------------------------------------------


def test_a_secret_reference_in_code_suggests_the_near_prefix() -> None:
    with pytest.raises(SecretReferenceError, match=r"did you mean 'env:'\?"):
        SecretReference("envv:X")
    with pytest.raises(SecretReferenceError) as info:
        SecretReference("nothing-like-it")
    assert "did you mean" not in str(info.value)


def test_a_misspelt_cache_suggests_the_kind(sandbox: Sandbox) -> None:
    sandbox.write(
        '[credentials]\ndomain = "api.example.com"\n[credentials.oauth]\nclient_id = "x"\n'
    )

    result = sandbox.run("config", "set", "credentials.cache", "fiel")
    # Even in a table that names no provider yet.
    sandbox.write('[credentials]\ndomain = "api.example.com"\n')
    bare = sandbox.run("config", "set", "credentials.cache", "dynamo:tokens")

    assert result.returncode == 3
    assert "did you mean 'file'?" in result.stderr
    assert bare.returncode == 3
    assert "did you mean 'dynamodb'?" in bare.stderr


def test_show_of_nothing_points_to_init_and_path(sandbox: Sandbox) -> None:
    sandbox.config = sandbox.cwd / "empty.toml"
    sandbox.config.write_text("")

    result = sandbox.run("config", "show")

    assert result.returncode == 0
    assert "nothing is configured" in result.stdout
    assert "tokenprovider config init --provider NAME" in result.stdout
    assert "tokenprovider config path" in result.stdout


def test_init_with_an_unknown_provider_names_the_flag(sandbox: Sandbox) -> None:
    result = sandbox.run("config", "init", "--provider", "oath", "domain=api.example.com")

    assert result.returncode == 3
    assert result.stderr.startswith(
        "tokenprovider: error: --provider oath: no such provider (did you mean 'oauth'?)"
    )
    assert not sandbox.user_file.exists()
