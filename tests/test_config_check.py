"""A configuration that checks itself: ``config check``, the ``config show`` warning, the
rules ``config set`` and ``config init`` apply before writing, mistyped reference
prefixes and ``literal:``, ``cache_key = "derive"``, and ``config path`` on a file it
cannot read. CLI runs are real child processes (`run_cli`) in a `cli_sandbox`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CANARY_SECRET, assert_no_leak, cli_sandbox, run_cli
from tokenprovider import load_provider
from tokenprovider.config.build import build_named, build_provider
from tokenprovider.config.loading import Origin, load
from tokenprovider.errors import ConfigurationError, SecretReferenceError
from tokenprovider.testing import LocalOAuthServer, RecordingHTTPServer

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class Sandbox:
    """A home, a repository and an environment for the CLI, and the file it reads."""

    def __init__(self, tmp_path: Path) -> None:
        self.home, self.cwd, self.env = cli_sandbox(tmp_path)
        self.config = self.cwd / "config.toml"
        self.user_file = self.home / ".config" / "tokenprovider" / "config.toml"

    def write(self, text: str, path: Path | None = None) -> Path:
        target = path or self.config
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        target.chmod(0o600)
        return target

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = run_cli(self.config, *args, cwd=self.cwd, env={**self.env, **(env or {})})
        assert_no_leak(result.stdout + result.stderr, CANARY_SECRET)
        assert "Traceback" not in result.stderr, result.stderr
        return result


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path)


def line_of(path: Path, text: str) -> int:
    lines = path.read_text().splitlines()
    return next(number for number, line in enumerate(lines, start=1) if text in line)


def problems(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith("problem: ")]


# --- config check ------------------------------------------------------------------------

BROKEN = f"""\
[credentials]
domian = "api.example.com"
[credentials.oauth]
client_idd = "reporting"
client_secret = "{CANARY_SECRET}"
[credentials.oauth.retry]
max_attempts = "three"

[profiles.dev.credentials]
domain = "dev.example.com"
[profiles.dev.credentials.oauht]
client_id = "x"

[profiles.empty]
note = "no credentials"

[profiles.good.credentials]
domain = "good.example.com"
jwt = "env:GOOD_JWT"
"""


def test_check_all_reports_every_problem_with_its_line_and_a_hint(sandbox: Sandbox) -> None:
    config = sandbox.write(BROKEN)

    result = sandbox.run("config", "check", "--all")

    assert result.returncode == 3, result.stderr
    found = problems(result)
    expected = [
        ("profile default: credentials.domian", "domian", "(did you mean 'domain'?)"),
        # A table's problem is reported at its header.
        ("profile default: credentials (", "[credentials]", "has no domain"),
        ("profile default: credentials.oauth.client_idd", "client_idd", "did you mean 'client_id'"),
        (
            "profile default: credentials.oauth.retry.max_attempts",
            "max_attempts",
            "expected int (a whole number), got 'three'",
        ),
        ("profile default: credentials.oauth (", "[credentials.oauth]", "missing required"),
        ("profile dev: profiles.dev.credentials.oauht", "oauht]", "did you mean 'oauth'"),
        ("profile empty: profiles.empty", "[profiles.empty]", "has no credentials"),
    ]
    assert len(found) == len(expected), result.stdout
    for line, (start, key_text, detail) in zip(found, expected, strict=True):
        assert line.startswith(f"problem: {start}"), line
        assert f"(from {config}, line {line_of(config, key_text)})" in line, line
        assert detail in line, line
    assert "ok: profile good (jwt)" in result.stdout
    assert result.stderr.strip().endswith(
        "tokenprovider: error: 7 problems found in profile(s) default, dev, empty"
    )


def test_check_reports_a_bad_type_and_a_bad_host_of_one_profile(sandbox: Sandbox) -> None:
    sandbox.write(
        '[profiles.p.credentials]\ndomain = "api example.com"\n'
        '[profiles.p.credentials.oauth]\nclient_id = "x"\ndefault_expires_in = [1]\n'
    )

    result = sandbox.run("config", "check", "--profile", "p")

    assert result.returncode == 3
    found = problems(result)
    assert len(found) == 2, result.stdout
    assert "profiles.p.credentials.domain" in found[0]
    assert "has no valid domain name" in found[0]
    assert "default_expires_in" in found[1]
    assert "expected float" in found[1]


@pytest.mark.parametrize("given", ["http", "HTTP"])
def test_a_domain_url_whose_scheme_contradicts_scheme_is_refused(
    sandbox: Sandbox, given: str
) -> None:
    """scheme = "https" must not be overridden by domain = "http://..." (the token would
    go over plain http to a host that is not loopback)."""
    sandbox.write(
        f'[credentials]\ndomain = "{given}://api.example.com"\nscheme = "https"\n'
        'jwt = "eyJhbGciOiJub25lIn0.e30."\n'
    )
    checked = sandbox.run("config", "check")
    with pytest.raises(ConfigurationError, match="domain starts with http://"):
        load_provider(config_file=sandbox.config, env=sandbox.env, cwd=sandbox.cwd)

    assert checked.returncode == 3
    assert "credentials.scheme" in problems(checked)[0]


@pytest.mark.parametrize("order", ["scheme first", "domain first"])
def test_set_refuses_a_domain_url_that_contradicts_scheme_in_either_order(
    sandbox: Sandbox, order: str
) -> None:
    steps = [("credentials.scheme", "https"), ("credentials.domain", "http://api.example.com")]
    if order == "domain first":
        steps.reverse()
    first = sandbox.run("config", "set", *steps[0], "--file", str(sandbox.config))
    before = sandbox.config.read_bytes()
    second = sandbox.run("config", "set", *steps[1], "--file", str(sandbox.config))

    assert first.returncode == 0, first.stderr
    assert second.returncode == 3, second.stderr
    assert "domain starts with http://" in second.stderr
    assert sandbox.config.read_bytes() == before


def test_check_reports_an_unknown_top_level_table_and_env_variable_origins(
    sandbox: Sandbox,
) -> None:
    sandbox.write('[credential]\ndomain = "x.example"\n')

    result = sandbox.run(
        "config",
        "check",
        env={
            "TOKENPROVIDER_CREDENTIALS__DOMAIN": "api.example.com",
            "TOKENPROVIDER_CREDENTIALS__OAUTH__CLIENT_ID": "x",
            "TOKENPROVIDER_CREDENTIALS__OAUTH__CLIENT_AUTH": "digest",
        },
    )

    assert result.returncode == 3
    found = problems(result)
    assert len(found) == 2, result.stdout
    assert "credential (from" in found[0]
    assert "did you mean 'credentials'" in found[0]
    assert "environment variable TOKENPROVIDER_CREDENTIALS__OAUTH__CLIENT_AUTH" in found[1]
    assert "'basic' | 'post'" in found[1]


def test_check_reads_no_secret_and_fetches_no_token(sandbox: Sandbox) -> None:
    with LocalOAuthServer(clients={"reporting": CANARY_SECRET}) as server:
        host = server.url.split("://", 1)[1]
        sandbox.write(
            "[credentials]\n"
            f'domain = "{host}"\nscheme = "http"\n'
            "[credentials.oauth]\n"
            'client_id = "reporting"\n'
            'client_secret = "env:TOKENPROVIDER_TEST_UNSET_SECRET"\n'
            f'token_url = "{server.token_url}"\n'
            "[profiles.filed.credentials]\n"
            f'domain = "{host}"\nscheme = "http"\n'
            "[profiles.filed.credentials.oauth]\n"
            'client_id = "reporting"\n'
            'client_secret = "file:no-such.secret"\n'
            f'token_url = "{server.token_url}"\n'
            "[profiles.later.credentials]\n"
            f'domain = "{host}"\nscheme = "http"\n'
            "[profiles.later.credentials.oauth]\n"
            'client_id = "reporting"\n'
            'token_url = "env:TOKENPROVIDER_TEST_UNSET_URL"\n'
        )

        result = sandbox.run(
            "config",
            "check",
            "--all",
            env={"TOKENPROVIDER_TEST_UNSET_SECRET": "", "TOKENPROVIDER_TEST_UNSET_URL": ""},
        )

        assert server.token_requests == 0
        assert server.resource_requests == 0

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["ok: profile default (oauth)", "ok: profile filed (oauth)"]
    assert lines[2].startswith("ok: profile later (oauth; not constructed, since ")
    assert "profiles.later.credentials.oauth.token_url" in lines[2]
    assert result.stderr == ""


def test_check_uses_the_active_profile(sandbox: Sandbox) -> None:
    sandbox.write(
        '[credentials]\ndomain = "a.example"\n'
        '[profiles.ci.credentials]\ndomain = "b.example"\njwt = "env:CI_JWT"\n'
    )

    default = sandbox.run("config", "check")
    ci = sandbox.run("config", "check", env={"TOKENPROVIDER_PROFILE": "ci"})

    assert default.returncode == 3
    assert "names no provider" in problems(default)[0]
    assert ci.returncode == 0, ci.stdout
    assert ci.stdout == "ok: profile ci (jwt)\n"


def test_check_of_nothing_configured_is_an_error(sandbox: Sandbox) -> None:
    sandbox.write("")

    every = sandbox.run("config", "check", "--all")
    default = sandbox.run("config", "check")

    assert every.returncode == 3
    assert "nothing is configured" in every.stderr
    assert default.returncode == 3
    assert "no [credentials] table is configured" in problems(default)[0]


def test_check_of_a_tds_profile_calls_no_aws(sandbox: Sandbox) -> None:
    sandbox.write(
        "[credentials]\n"
        'domain = "cmr.example.com"\n'
        "[credentials.tds]\n"
        'client_id = "podaacsvc"\n'
        'token_dispenser_arn_ssm_key = "/service/token-dispenser/sit"\n'
        'region = "us-west-2"\n'
        "[profiles.noregion.credentials]\n"
        'domain = "cmr.example.com"\n'
        "[profiles.noregion.credentials.tds]\n"
        'client_id = "podaacsvc"\n'
    )
    with RecordingHTTPServer() as aws:
        aws_env = {
            "AWS_ENDPOINT_URL": aws.url,
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": aws.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_CONFIG_FILE": str(sandbox.cwd / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(sandbox.cwd / "no-aws-credentials"),
            "AWS_REGION": "",
            "AWS_DEFAULT_REGION": "",
            "AWS_PROFILE": "",
        }

        result = sandbox.run("config", "check", "--all", env=aws_env)

        assert aws.requests == []

    # No region in this shell is a warning, not a problem (tests/test_config_messages.py).
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok: profile default (tds)" in result.stdout
    assert "ok: profile noregion (tds)" in result.stdout
    assert "warning: profile noregion: profiles.noregion.credentials.tds" in result.stdout


# --- config show -------------------------------------------------------------------------


def test_show_warns_in_one_line_when_the_configuration_would_not_build(
    sandbox: Sandbox,
) -> None:
    sandbox.write(
        f'[credentials.oauth]\nclient_id = "x"\nclient_secret = "{CANARY_SECRET}"\n'
        '[profiles.dev.credentials]\ndomain = "dev.example.com"\njwt = "envv:DEV_JWT"\n'
    )

    result = sandbox.run("config", "show")
    dev = sandbox.run("config", "show", "--profile", "dev")

    assert result.returncode == 0
    assert 'client_id = "x"' in result.stdout
    (warning,) = result.stderr.splitlines()
    assert warning.startswith("tokenprovider: warning: this configuration would not build: ")
    assert "credentials (from" in warning
    assert "has no domain" in warning
    assert "(and 1 more)" in warning
    assert warning.endswith("see: tokenprovider config check --all")
    assert dev.returncode == 0
    (warning,) = dev.stderr.splitlines()
    assert "profiles.dev.credentials.jwt" in warning
    assert "did you mean 'env:'" in warning
    assert "DEV_JWT" not in warning
    assert warning.endswith("see: tokenprovider config check --profile dev")


def test_show_of_a_configuration_that_builds_warns_nothing(sandbox: Sandbox) -> None:
    sandbox.write('[credentials]\ndomain = "a.example"\n[credentials.oauth]\nclient_id = "x"\n')

    result = sandbox.run("config", "show")

    assert result.returncode == 0
    assert result.stderr == ""


# --- config set --------------------------------------------------------------------------

KEPT = """\
# production settings: keep these comments
[credentials]
domain = "api.example.com"  # the API
[credentials.oauth]
client_id = "reporting"
"""


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("credentials.scheme", "ftp", "must be 'https' or 'http', got 'ftp'"),
        ("credentials.domain", "api.example.com/v1", "without a path"),
        ("credentials.domain", "api example.com", "has no valid domain name"),
        ("credentials.domain", "", "non-empty"),
        ("credentials.provider", "oath", "did you mean 'oauth'"),
        ("credentials.cache", "redis", "must be one of"),
        ("credentials.cache_key", "secret", "must be a secret reference"),
        ("credentials.oauth.client_secret", "envv:SECRET", "did you mean 'env:'"),
        ("credentials.oauth.client_secret", "env:BAD NAME", "must name an environment variable"),
        ("profiles.dev.credentials.scheme", "gopher", "got 'gopher'"),
    ],
)
def test_set_refuses_a_bad_value_and_leaves_the_file_as_it_was(
    sandbox: Sandbox, key: str, value: str, expected: str
) -> None:
    sandbox.write(KEPT, sandbox.user_file)
    before = sandbox.user_file.read_bytes()

    result = sandbox.run("config", "set", key, value)

    assert result.returncode == 3
    (line,) = result.stderr.splitlines()
    assert line.startswith("tokenprovider: error: ")
    assert key in line
    assert expected in line
    assert "SECRET" not in line
    assert sandbox.user_file.read_bytes() == before


@pytest.mark.parametrize(
    ("key", "value", "written"),
    [
        ("credentials.scheme", "http", "http"),
        ("credentials.domain", "127.0.0.1:8080", "127.0.0.1:8080"),
        ("credentials.provider", "jwt", "jwt"),
        ("credentials.cache", "file:tokens", "file:tokens"),
        ("credentials.cache_key", "derive", "derive"),
        ("credentials.oauth.client_secret", "literal:vault:x", "literal:vault:x"),
    ],
)
def test_set_accepts_good_values(sandbox: Sandbox, key: str, value: str, written: str) -> None:
    result = sandbox.run("config", "set", key, value)

    assert result.returncode == 0, result.stderr
    document: object = tomllib.loads(sandbox.user_file.read_text())
    for part in key.split("."):
        assert isinstance(document, dict)
        document = document[part]
    assert document == written


def test_set_cache_key_derive_is_not_called_a_literal_secret(sandbox: Sandbox) -> None:
    result = sandbox.run("config", "set", "credentials.cache_key", "derive")
    literal = sandbox.run("config", "set", "credentials.oauth.client_secret", "literal:a:b")

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "literal secret" in literal.stderr


# --- config init -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["default", "DEFAULT"])
def test_init_refuses_the_profile_named_default(sandbox: Sandbox, name: str) -> None:
    result = sandbox.run(
        "config", "init", "--provider", "jwt", "--profile", name, "domain=a.example", "jwt=env:J"
    )

    assert result.returncode == 3
    (line,) = result.stderr.splitlines()
    assert "the default profile is the [credentials] table" in line
    assert "without --profile" in line
    assert not sandbox.user_file.exists()


@pytest.mark.parametrize(
    ("provider", "settings", "profile"),
    [
        ("oauth", ["domain=api.example.com", "client_id=reporting"], None),
        ("jwt", ["domain=api.example.com", "jwt=env:JWT"], None),
        ("oauth", ["domain=d.example", "client_id=x", "client_secret=env:S"], "dev"),
    ],
)
def test_init_writes_what_check_and_show_accept(
    sandbox: Sandbox, provider: str, settings: list[str], profile: str | None
) -> None:
    chosen = ["--profile", profile] if profile else []
    written = sandbox.run("config", "init", "--provider", provider, *chosen, *settings)
    sandbox.config = sandbox.user_file  # --config names the file init wrote

    checked = sandbox.run("config", "check", *chosen)
    shown = sandbox.run("config", "show")

    assert written.returncode == 0, written.stderr
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout == f"ok: profile {profile or 'default'} ({provider})\n"
    assert shown.returncode == 0
    assert shown.stderr == ""


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--provider", "oauth"], "it still needs domain, client_id;"),
        (["--provider", "oauth", "domain=a.example"], "it still needs client_id;"),
        (
            ["--provider", "oauth", "domain=http://api.example.com", "client_id=x"],
            "plain http",
        ),
        (["--provider", "tds", "domain=a.example", "client_id=no"], "3 to 32"),
    ],
)
def test_init_writes_no_table_that_would_not_build(
    sandbox: Sandbox, args: list[str], expected: str
) -> None:
    result = sandbox.run("config", "init", *args, env={"AWS_REGION": "us-west-2"})

    assert result.returncode == 3
    (line,) = result.stderr.splitlines()
    assert "[credentials] was not written" in line
    assert expected in line
    assert not sandbox.user_file.exists()


# --- mistyped reference prefixes and literal: --------------------------------------------


def oauth_section(secret: object) -> dict[str, object]:
    return {"domain": "api.example.com", "oauth": {"client_id": "x", "client_secret": secret}}


def origin_of(path: tuple[str, ...]) -> Origin:
    return Origin("/etc/tokenprovider.toml", 7)


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("envv:REPORTING_SECRET", "(did you mean 'env:'?)"),
        ("ENV:REPORTING_SECRET", "(did you mean 'env:'?)"),
        ("fille:/run/secret", "(did you mean 'file:'?)"),
        ("aws-ssn:/app/secret", "(did you mean 'aws-ssm:'?)"),
        ("literall:vault:x", "(did you mean 'literal:'?)"),
        ("vault:kv/app#secret", ""),
        ("abc123:" + CANARY_SECRET, ""),
        ("a" * 31 + ":" + CANARY_SECRET, ""),
        ("http:" + CANARY_SECRET, ""),
    ],
)
def test_a_secret_with_a_mistyped_prefix_is_an_error_that_quotes_nothing(
    value: str, hint: str
) -> None:
    with pytest.raises(SecretReferenceError) as caught:
        build_provider(oauth_section(value), origin_of=origin_of)

    message = str(caught.value)
    assert message.startswith(
        "credentials.oauth.client_secret (from /etc/tokenprovider.toml, line 7): "
        "starts like a secret reference, but with no known prefix"
    )
    assert hint in message
    assert "literal:" in message
    assert value.partition(":")[2] not in message
    assert value.partition(":")[0] not in message.replace("literal:", "")


@pytest.mark.parametrize(
    ("value", "secret"),
    [
        ("literal:vault:x", "vault:x"),
        ("literal:env:X", "env:X"),
        ("https://vault.example.com/x", "https://vault.example.com/x"),
        ("Abc:def", "Abc:def"),
        ("a:b", "a:b"),
        ("p@ss:word", "p@ss:word"),
        ("1abc:def", "1abc:def"),
        ("a" * 32 + ":x", "a" * 32 + ":x"),
        ("s3cr3t", "s3cr3t"),
        ("x_y:z", "x_y:z"),
    ],
)
@pytest.mark.filterwarnings("ignore::UserWarning")  # short secrets; reference-like strings
def test_literal_secrets_with_colons(value: str, secret: str) -> None:
    provider = build_provider(oauth_section(value))

    assert provider._client_secret == secret  # type: ignore[attr-defined]


def test_non_secret_settings_may_start_with_a_word_and_a_colon() -> None:
    section = oauth_section("s3cr3t-long-enough")
    section["oauth"] = {**section["oauth"], "audience": "urn:example:api"}  # type: ignore[dict-item]

    provider = build_provider(section)

    assert provider.audience == "urn:example:api"  # type: ignore[attr-defined]


def test_a_mistyped_prefix_from_a_variable_names_the_variable(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    name = "TOKENPROVIDER_CREDENTIALS__OAUTH__CLIENT_SECRET"
    env = {
        "XDG_CONFIG_HOME": str(tmp_path / "h"),
        "XDG_CONFIG_DIRS": str(tmp_path / "e"),
        "TOKENPROVIDER_CREDENTIALS__DOMAIN": "api.example.com",
        "TOKENPROVIDER_CREDENTIALS__OAUTH__CLIENT_ID": "x",
        name: "vault:" + CANARY_SECRET,
    }
    loaded = load(env, tmp_path)
    with pytest.raises(SecretReferenceError) as caught:
        build_named(loaded.data["credentials"], ("credentials",), loaded.origin)

    assert f"(from environment variable {name})" in str(caught.value)
    assert CANARY_SECRET not in str(caught.value)


def test_token_with_a_mistyped_prefix_exits_3_before_any_request(sandbox: Sandbox) -> None:
    with LocalOAuthServer(clients={"reporting": CANARY_SECRET}) as server:
        host = server.url.split("://", 1)[1]
        sandbox.write(
            f'[credentials]\ndomain = "{host}"\nscheme = "http"\n[credentials.oauth]\n'
            f'client_id = "reporting"\nclient_secret = "envv:REPORTING_SECRET"\n'
            f'token_url = "{server.token_url}"\n'
        )

        result = sandbox.run("token")

        assert server.token_requests == 0
    assert result.returncode == 3
    assert "did you mean 'env:'" in result.stderr


# --- cache_key = "derive" ----------------------------------------------------------------


def test_cache_key_derive_in_a_readable_file_gets_no_literal_secret_warning(
    sandbox: Sandbox,
) -> None:
    sandbox.write(
        '[credentials]\ndomain = "a.example"\ncache = "file:tokens"\ncache_key = "derive"\n'
        '[credentials.oauth]\nclient_id = "x"\nclient_secret = "env:S"\n'
    )
    sandbox.config.chmod(0o644)

    result = sandbox.run("config", "show")

    assert result.returncode == 0
    assert result.stderr == ""


# --- config path -------------------------------------------------------------------------

WRITE_ONLY = Path("/proc/sys/vm/compact_memory")


def _unreadable(tmp_path: Path) -> Path:
    """A regular file this process cannot open for reading: mode 000 for a user; for root
    (who reads mode 000 files) a write-only procfs file, which no one can open to read."""
    if os.geteuid() != 0:
        target = tmp_path / "unreadable.toml"
        target.write_text("")
        target.chmod(0)
        return target
    try:
        os.close(os.open(WRITE_ONLY, os.O_RDONLY))
    except PermissionError:
        return WRITE_ONLY
    except OSError:
        pass
    pytest.skip(f"{WRITE_ONLY} is not a write-only file here")


def test_path_does_not_say_exists_for_a_file_it_cannot_read(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.config = _unreadable(tmp_path)

    result = sandbox.run("config", "path")

    assert result.returncode == 0, result.stderr
    (row,) = [line for line in result.stdout.splitlines() if line.startswith("  explicit")]
    assert row.endswith(f"{sandbox.config}  (exists, but cannot be read: Permission denied)")


# --- config set runs the check on the file as it would be written -------------------------


@pytest.mark.parametrize(
    "key",
    [
        "profiles.default.credentials.domain",
        "profiles.Default.credentials.domain",
        "profiles.DEFAULT.credentials.oauth.client_id",
    ],
)
def test_set_refuses_a_profile_named_default_in_any_case(sandbox: Sandbox, key: str) -> None:
    sandbox.write(KEPT, sandbox.user_file)
    before = sandbox.user_file.read_bytes()

    result = sandbox.run("config", "set", key, "a.example")

    assert result.returncode == 3
    (line,) = result.stderr.splitlines()
    assert key in line
    assert "the default profile is the [credentials] table" in line
    assert sandbox.user_file.read_bytes() == before


def test_check_reports_a_profile_named_default_in_any_case(sandbox: Sandbox) -> None:
    sandbox.write(
        '[credentials]\ndomain = "a.example"\njwt = "env:J"\n'
        '[profiles.Default.credentials]\ndomain = "b.example"\njwt = "env:J"\n'
    )

    result = sandbox.run("config", "check", "--all")

    assert result.returncode == 3
    (problem,) = problems(result)
    assert "profiles.Default (from" in problem
    assert "may not be named 'Default'" in problem


SECRET_URL = f"http://user:{CANARY_SECRET}@login.example.com/t"


@pytest.mark.parametrize("half_written", [False, True])
@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("credentials.oauth.max_response_bytes", "-1", "max_response_bytes must be a positive"),
        ("credentials.oauth.token_url", "ftp://x", "token_url"),
        ("credentials.oauth.token_url", SECRET_URL, "must not contain a user name or password"),
        ("credentials.oauth.client_secret", "literal:", "with nothing after it"),
        ("credentials.oauth.retry.max_attempts", "0", "max_attempts"),
        ("credentials.scheme", "ftp", "must be 'https' or 'http', got 'ftp'"),
    ],
)
def test_set_refuses_what_the_provider_would_refuse(
    sandbox: Sandbox, key: str, value: str, expected: str, half_written: bool
) -> None:
    """As `config check` would: the provider's own rules, also in a table that has no
    domain and no client_id yet."""
    text = '[credentials.oauth]\naudience = "x"\n' if half_written else KEPT
    sandbox.write(text, sandbox.user_file)
    before = sandbox.user_file.read_bytes()

    result = sandbox.run("config", "set", key, value)

    assert result.returncode == 3, result.stdout + result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"tokenprovider: error: {key} was not set: ")
    assert expected in line
    assert sandbox.user_file.read_bytes() == before


def test_a_half_written_profile_can_be_filled_in_key_by_key(sandbox: Sandbox) -> None:
    steps = [
        ("profiles.dev.credentials.oauth.token_url", "http://127.0.0.1:9/token"),
        ("profiles.dev.credentials.cache_key", "derive"),
        ("profiles.dev.credentials.oauth.client_secret", "env:DEV_SECRET"),
        ("profiles.dev.credentials.scheme", "http"),
        ("profiles.dev.credentials.cache", "file:tokens"),
        ("profiles.dev.credentials.oauth.client_id", "dev"),
        ("profiles.dev.credentials.domain", "127.0.0.1:9"),
    ]
    for key, value in steps:
        result = sandbox.run("config", "set", key, value)
        assert result.returncode == 0, (key, result.stderr)

    sandbox.config = sandbox.user_file
    checked = sandbox.run("config", "check", "--profile", "dev")

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout == "ok: profile dev (oauth)\n"


def test_set_of_a_dynamodb_cache_checks_the_form_not_this_machine(sandbox: Sandbox) -> None:
    """No boto3 and no region here: the file may be for another machine."""
    sandbox.write(KEPT, sandbox.user_file)
    env = {**sandbox.env, "AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_PROFILE": ""}

    def run(value: str) -> subprocess.CompletedProcess[str]:
        return run_cli(
            sandbox.config,
            "config",
            "set",
            "credentials.cache",
            value,
            cwd=sandbox.cwd,
            env=env,
            without=("boto3", "botocore"),
        )

    bad = run("dynamodb:x")
    good = run("dynamodb:tokens")

    assert bad.returncode == 3, bad.stderr
    assert "credentials.cache" in bad.stderr
    assert "DynamoDB table name" in bad.stderr
    assert good.returncode == 0, good.stderr
    assert tomllib.loads(sandbox.user_file.read_text())["credentials"]["cache"] == "dynamodb:tokens"


# --- one wording for show and check -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[credentials]\ndomain = "a.example"\n[credentials.oauht]\nclient_id = "x"\n',
            "credentials.oauht (from {config}, line 3): there is no provider 'oauht' "
            "(did you mean 'oauth'?)",
        ),
        ('[credentials.oauth]\nclient_id = "x"\n', "has no domain; add domain ="),
        (
            '[credentials]\ndomain = "a.example"\nscheme = "ftp"\njwt = "env:J"\n',
            "credentials.scheme (from {config}, line 3): host scheme must be 'https' or 'http'",
        ),
        (
            '[credentials]\ndomain = "a.example"\nclient_id = "x"\njwt = "env:J"\n',
            "provider settings go in the provider's table",
        ),
        (
            '[credentials]\ndomain = "a.example"\n[credentials.oauth]\nclient_idd = "x"\n',
            "credentials.oauth.client_idd (from {config}, line 4): is not a known setting "
            "(did you mean 'client_id'?)",
        ),
        (
            '[credentials]\ndomain = "a.example"\n[credentials.oauth]\nclient_id = "x"\n'
            'client_secret = "literal:"\n',
            "credentials.oauth.client_secret (from {config}, line 5): is 'literal:' with "
            "nothing after it",
        ),
    ],
)
def test_show_warns_in_the_words_of_check(sandbox: Sandbox, text: str, expected: str) -> None:
    sandbox.write(text)
    expected = expected.format(config=sandbox.config)

    shown = sandbox.run("config", "show")
    checked = sandbox.run("config", "check")

    assert expected in shown.stderr, shown.stderr
    assert checked.returncode == 3
    assert any(expected in problem for problem in problems(checked)), checked.stdout


# --- config show masks URL secrets --------------------------------------------------------


@pytest.mark.parametrize(
    ("token_url", "shown"),
    [
        (f"user:{CANARY_SECRET}@l/t", "***@l/t"),
        (f"https://***@l/t?key={CANARY_SECRET}#frag", "https://***@l/t?***"),
        (f"https://l/t#{CANARY_SECRET}", "https://l/t#***"),
        (f"https://u:{CANARY_SECRET}@l/t", "https://***@l/t"),
    ],
)
def test_show_masks_the_secrets_of_a_url_setting(
    sandbox: Sandbox, token_url: str, shown: str
) -> None:
    sandbox.write(
        '[credentials]\ndomain = "a.example"\n[credentials.oauth]\nclient_id = "x"\n'
        f'token_url = "{token_url}"\n'
    )

    result = sandbox.run("config", "show")  # Sandbox.run asserts the canary never shows

    assert result.returncode == 0
    assert f'token_url = "{shown}"' in result.stdout


# --- empty literals and unusable cache paths are configuration errors ----------------------


def test_an_empty_literal_secret_is_an_error_naming_the_setting() -> None:
    with pytest.raises(ConfigurationError) as caught:
        build_provider(oauth_section("literal:"), origin_of=origin_of)

    assert str(caught.value).startswith(
        "credentials.oauth.client_secret (from /etc/tokenprovider.toml, line 7): is 'literal:'"
    )


def test_a_nul_in_a_file_cache_path_is_a_configuration_error(sandbox: Sandbox) -> None:
    section = {**oauth_section("s3cr3t-long-enough"), "cache": "file:\x00x"}
    sandbox.write(
        '[credentials]\ndomain = "a.example"\ncache = "file:\\u0000x"\n'
        '[credentials.oauth]\nclient_id = "x"\n'
    )

    with pytest.raises(ConfigurationError) as caught:
        build_provider(section)
    checked = sandbox.run("config", "check")

    assert str(caught.value).startswith("credentials.cache: ")
    assert "NUL" in str(caught.value)
    assert checked.returncode == 3
    (problem,) = problems(checked)
    assert "credentials.cache (from" in problem
    assert "NUL" in problem


#: A user file that gives the output docs/configuration.md shows for `config check --all`.
_CHECKED_ON_THE_PAGE = """\
# the user file of the configuration page's example
[credentials]

[credentials.oauth]
client_idd = "reporting"
client_secret = "env:REPORTING_SECRET"
token_url = "https://login.example.com/oauth2/token"

[profiles.ci.credentials]
domain = "api.example.com"
jwt = "env:CI_JWT"
"""


def test_the_configuration_page_shows_what_config_check_prints(sandbox: Sandbox) -> None:
    page = (Path(__file__).resolve().parent.parent / "docs" / "configuration.md").read_text()
    block = page.split("\n$ tokenprovider config check --all\n", 1)[1].split("\n```", 1)[0]
    sandbox.config = sandbox.write(_CHECKED_ON_THE_PAGE, sandbox.user_file)
    result = sandbox.run("config", "check", "--all", env={"CI_JWT": "", "REPORTING_SECRET": ""})
    printed = (result.stdout + result.stderr).replace(
        str(sandbox.user_file), "/home/me/.config/tokenprovider/config.toml"
    )
    assert result.returncode == 3
    assert printed.splitlines() == block.splitlines()
