"""The configuration commands of the CLI, run for real in a subprocess.

Each command runs as ``python -m tokenprovider`` with stdin closed, ``HOME`` and the XDG
directories inside ``tmp_path``, no inherited ``TOKENPROVIDER_*`` variables and the
working directory in a throw-away repository. Every run is checked for the canary secret
and (without ``--debug``) for tracebacks. The plugin tests install the throw-away
distribution in ``tests/plugin_package`` into the venv and remove it afterwards.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import CANARY_SECRET, assert_no_leak, cli_sandbox, run_python
from tokenprovider.testing.oauth_server import LocalOAuthServer

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PLUGIN_DIST = "tokenprovider-acme-plugin"
PLUGIN_SOURCE = Path(__file__).parent / "plugin_package"
BROKEN_TOML = '[credentials]\ndomain = "api.example.com"\nclient_id = = "x"\n'


@dataclass
class Cli:
    """A sandbox for running the command line."""

    cwd: Path
    env: dict[str, str]
    site_file: Path
    user_file: Path
    project_file: Path

    def run(
        self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.python("-m", "tokenprovider", *args, env=env, cwd=cwd)

    def python(
        self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = run_python(*args, timeout=60, env={**self.env, **(env or {})}, cwd=cwd or self.cwd)
        assert_no_leak(result.stdout + result.stderr, CANARY_SECRET)
        if "--debug" not in args:
            assert "Traceback" not in result.stderr, result.stderr
        return result


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    home, repo, env = cli_sandbox(tmp_path)
    site = tmp_path / "site"
    env.update(
        XDG_CONFIG_DIRS=f"{site}{os.pathsep}{tmp_path / 'other-site'}",
        PYTHONWARNINGS="error::ResourceWarning",
    )
    return Cli(
        cwd=repo,
        env=env,
        site_file=site / "tokenprovider" / "config.toml",
        user_file=home / ".config" / "tokenprovider" / "config.toml",
        project_file=repo / ".tokenprovider.toml",
    )


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def read(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single line an expected error prints on stderr."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tokenprovider: error: "), result.stderr
    return lines[0]


def line_of(path: Path, text: str) -> int:
    return next(
        number for number, line in enumerate(path.read_text().splitlines(), start=1) if text in line
    )


# --- config path -------------------------------------------------------------------------


def test_config_path_lists_files_in_order(cli: Cli) -> None:
    write(cli.user_file, '[credentials]\ndomain = "api.example.com"\n')
    explicit = write(cli.cwd / "explicit.toml", "")

    result = cli.run("config", "path", "--config", str(explicit))

    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith("  ")]
    assert [row[:2] for row in rows] == [
        ["site", str(cli.site_file)],
        ["user", str(cli.user_file)],
        ["project", str(cli.project_file)],
        ["explicit", str(explicit)],
    ]
    assert [" ".join(row[2:]) for row in rows] == [
        "(not found)",
        "(exists)",
        "(not found)",
        "(exists)",
    ]
    assert "environment variables: none set" in result.stdout


def test_config_path_finds_project_file_above_cwd_and_names_variables(cli: Cli) -> None:
    write(cli.project_file, "")
    sub = cli.cwd / "a" / "b"
    sub.mkdir(parents=True)
    name = "TOKENPROVIDER_CREDENTIALS__DOMAIN"

    result = cli.run("config", "path", cwd=sub, env={name: "api.example.com"})

    assert result.returncode == 0, result.stderr
    assert f"project   {cli.project_file}  (exists)" in result.stdout
    assert "explicit" not in result.stdout
    assert f"environment variables: {name}" in result.stdout


# --- config show -------------------------------------------------------------------------


@pytest.fixture
def layered(cli: Cli) -> Cli:
    """User, project and environment settings, with a literal secret and references."""
    write(
        cli.user_file,
        "[credentials]\n"
        'domain = "api.example.com"\n'
        "[credentials.oauth]\n"
        'client_id = "from-user"\n'
        f'client_secret = "{CANARY_SECRET}"\n'
        "[profiles.dev.credentials]\n"
        'domain = "dev.example.com"\n'
        'jwt = "env:DEV_JWT"\n',
    )
    write(cli.project_file, '[credentials.oauth]\nclient_id = "from-project"\n')
    cli.env["TOKENPROVIDER_CREDENTIALS__OAUTH__AUDIENCE"] = "from-env"
    return cli


def test_config_show_masks_secrets_and_merges_sources(layered: Cli) -> None:
    result = layered.run("config", "show")

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("# active profile: default")
    assert 'client_secret = "<set>"' in out
    assert 'jwt = "<reference env:DEV_JWT>"' in out
    assert 'client_id = "from-project"' in out  # the project file wins over the user file
    assert 'audience = "from-env"' in out  # the environment wins over files
    assert "from-user" not in out
    parsed = tomllib.loads(out)  # the output is valid TOML
    assert parsed["profiles"]["dev"]["credentials"]["domain"] == "dev.example.com"


def test_config_show_origin_notes_file_line_and_variable(layered: Cli) -> None:
    result = layered.run("config", "show", "--origin")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()

    def line(prefix: str) -> str:
        return next(text for text in lines if text.startswith(prefix))

    assert line("client_id = ").endswith(f"# from {layered.project_file}, line 2")
    secret_line = line_of(layered.user_file, "client_secret")
    assert line("client_secret = ") == (
        f'client_secret = "<set>"  # from {layered.user_file}, line {secret_line}'
    )
    assert line("audience = ").endswith(
        "# from environment variable TOKENPROVIDER_CREDENTIALS__OAUTH__AUDIENCE"
    )


def test_config_show_profile_shows_only_that_profile(layered: Cli) -> None:
    result = layered.run("config", "show", "--profile", "dev")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# active profile: dev")
    parsed = tomllib.loads(result.stdout)
    assert parsed == {
        "profiles": {
            "dev": {"credentials": {"domain": "dev.example.com", "jwt": "<reference env:DEV_JWT>"}}
        }
    }


def test_config_show_unknown_profile_is_a_configuration_error(layered: Cli) -> None:
    result = layered.run("config", "show", "--profile", "dve")

    assert result.returncode == 3
    assert "did you mean 'dev'" in error_line(result)


def test_config_show_broken_toml_names_file_and_line(cli: Cli) -> None:
    write(cli.user_file, BROKEN_TOML)

    result = cli.run("config", "show")

    assert result.returncode == 3
    assert result.stdout == ""
    message = error_line(result)
    assert str(cli.user_file) in message
    assert "line 3" in message


def test_debug_shows_the_traceback(cli: Cli) -> None:
    write(cli.user_file, BROKEN_TOML)

    result = cli.run("--debug", "config", "show")

    assert result.returncode != 0
    assert "Traceback (most recent call last)" in result.stderr
    assert "ConfigurationError" in result.stderr


def test_config_show_with_nothing_configured(cli: Cli) -> None:
    result = cli.run("config", "show")

    assert result.returncode == 0, result.stderr
    assert "nothing is configured" in result.stdout


def test_config_show_warns_about_a_readable_literal_secret(cli: Cli) -> None:
    write(
        cli.project_file,
        f'[credentials]\ndomain = "a.example"\njwt = "{CANARY_SECRET}"\n',
        mode=0o644,
    )

    result = cli.run("config", "show")

    assert result.returncode == 0, result.stderr
    assert 'jwt = "<set>"' in result.stdout
    warning = result.stderr.strip()
    assert warning.startswith("tokenprovider: warning: ")
    assert f"chmod 600 {cli.project_file}" in warning
    assert "credentials.jwt" in warning


def test_config_show_imports_neither_boto3_nor_requests_nor_inspect(layered: Cli) -> None:
    code = (
        "import sys; from tokenprovider.cli import main; main(['config','show']); "
        "print('boto3' in sys.modules, 'requests' in sys.modules, 'inspect' in sys.modules)"
    )
    result = layered.python("-c", code)

    assert result.returncode == 0, result.stderr
    assert "<set>" in result.stdout  # it did show the configuration
    assert result.stdout.splitlines()[-1] == "False False False"


# --- config set --------------------------------------------------------------------------


def test_config_set_writes_values_of_the_declared_types_to_the_user_file(cli: Cli) -> None:
    for key, value in [
        ("credentials.domain", "api.example.com"),
        ("credentials.oauth.client_id", "cid"),
        ("credentials.oauth.retry.max_attempts", "3"),
        ("credentials.oauth.scopes", "a,b"),
        ("credentials.oauth.default_expires_in", "90"),
        ("credentials.oauth.client_secret", "env:CLIENT_SECRET"),
    ]:
        result = cli.run("config", "set", key, value)
        assert result.returncode == 0, result.stderr
        assert f"set {key} in {cli.user_file}" in result.stdout

    assert read(cli.user_file) == {
        "credentials": {
            "domain": "api.example.com",
            "oauth": {
                "client_id": "cid",
                "retry": {"max_attempts": 3},
                "scopes": ["a", "b"],
                "default_expires_in": 90.0,
                "client_secret": "env:CLIENT_SECRET",
            },
        }
    }
    written = read(cli.user_file)["credentials"]["oauth"]
    assert type(written["retry"]["max_attempts"]) is int
    assert type(written["default_expires_in"]) is float
    assert stat.S_IMODE(cli.user_file.stat().st_mode) == 0o600


def test_config_set_literal_secret_is_written_but_never_echoed(cli: Cli) -> None:
    result = cli.run("config", "set", "credentials.oauth.client_secret", CANARY_SECRET)

    assert result.returncode == 0, result.stderr
    assert "literal secret" in result.stderr
    assert read(cli.user_file)["credentials"]["oauth"]["client_secret"] == CANARY_SECRET


def test_config_set_project_writes_at_the_repository_root(cli: Cli) -> None:
    sub = cli.cwd / "pkg" / "sub"
    sub.mkdir(parents=True)

    result = cli.run("config", "set", "credentials.domain", "api.example.com", "--project", cwd=sub)

    assert result.returncode == 0, result.stderr
    assert read(cli.project_file) == {"credentials": {"domain": "api.example.com"}}
    assert not cli.user_file.exists()
    assert not (sub / ".tokenprovider.toml").exists()


def test_config_set_file_writes_that_file(cli: Cli) -> None:
    target = cli.cwd / "conf" / "custom.toml"

    result = cli.run("config", "set", "credentials.jwt", "env:JWT", "--file", str(target))

    assert result.returncode == 0, result.stderr
    assert read(target) == {"credentials": {"jwt": "env:JWT"}}
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert not cli.user_file.exists()


def test_config_set_profile_key(cli: Cli) -> None:
    key = "profiles.dev.credentials.oauth.retry.max_attempts"

    result = cli.run("config", "set", key, "5")

    assert result.returncode == 0, result.stderr
    assert read(cli.user_file) == {
        "profiles": {"dev": {"credentials": {"oauth": {"retry": {"max_attempts": 5}}}}}
    }


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("credentials.oauth.client_idd", "x", "did you mean 'client_id'"),
        ("credentails.domain", "x", "did you mean 'credentials'"),
        ("credentials.oauht.client_id", "x", "did you mean 'oauth'"),
        ("credentials.oauth.retry.max_attempt", "3", "did you mean 'max_attempts'"),
        ("credentials.oauth.retry.max_attempts", "three", "expected int"),
    ],
)
def test_config_set_rejects_unknown_keys_and_bad_values(
    cli: Cli, key: str, value: str, expected: str
) -> None:
    result = cli.run("config", "set", key, value)

    assert result.returncode == 3
    message = error_line(result)
    assert expected in message
    assert key in message
    assert not cli.user_file.exists()


def test_config_set_leaves_mode_0600_and_no_temporary_files(cli: Cli) -> None:
    write(cli.user_file, '[credentials]\ndomain = "api.example.com"\n', mode=0o644)

    result = cli.run("config", "set", "credentials.oauth.client_id", "cid")

    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(cli.user_file.stat().st_mode) == 0o600
    assert sorted(p.name for p in cli.user_file.parent.iterdir()) == ["config.toml"]
    assert read(cli.user_file) == {
        "credentials": {"domain": "api.example.com", "oauth": {"client_id": "cid"}}
    }


@pytest.mark.parametrize(
    "args",
    [
        ["set", "credentials.domain", "x"],
        ["unset", "credentials.domain"],
        ["init", "--provider", "oauth", "client_id=x", "domain=api.example.com", "--force"],
    ],
)
def test_config_writes_refuse_an_unparseable_file(cli: Cli, args: list[str]) -> None:
    write(cli.user_file, BROKEN_TOML, mode=0o644)
    before = cli.user_file.read_bytes()

    result = cli.run("config", *args)

    assert result.returncode == 3
    message = error_line(result)
    assert str(cli.user_file) in message
    assert "refusing to overwrite" in message
    assert cli.user_file.read_bytes() == before
    assert stat.S_IMODE(cli.user_file.stat().st_mode) == 0o644
    assert sorted(p.name for p in cli.user_file.parent.iterdir()) == ["config.toml"]


@pytest.mark.parametrize(
    ("text", "has_comments"),
    [
        pytest.param('# my settings\n[credentials]\ndomain = "api.example.com"\n', True, id="line"),
        pytest.param(
            '[credentials]\ndomain = "api.example.com"  # production\n', True, id="trailing"
        ),
        pytest.param('[credentials]\ndomain = "api.example.com"#production\n', True, id="unspaced"),
        pytest.param('[credentials]\ndomain = "api.example.com"\n', False, id="none"),
        pytest.param('[credentials.oauth]\naudience = "team #1"\n', False, id="hash-in-string"),
    ],
)
def test_config_set_notes_dropped_comments(cli: Cli, text: str, has_comments: bool) -> None:
    write(cli.user_file, text)

    result = cli.run("config", "set", "credentials.oauth.client_id", "cid")

    assert result.returncode == 0, result.stderr
    assert "#" not in cli.user_file.read_text().replace("team #1", "")
    if has_comments:
        assert f"comments in {cli.user_file} were not kept" in result.stderr
    else:
        assert result.stderr == ""
    expected = tomllib.loads(text)
    expected.setdefault("credentials", {}).setdefault("oauth", {})["client_id"] = "cid"
    assert read(cli.user_file) == expected


# --- config unset ------------------------------------------------------------------------


def test_config_unset_removes_and_prunes_empty_tables(cli: Cli) -> None:
    write(
        cli.user_file,
        '[credentials]\ndomain = "api.example.com"\n[credentials.oauth.retry]\nmax_attempts = 3\n',
    )

    result = cli.run("config", "unset", "credentials.oauth.retry.max_attempts")

    assert result.returncode == 0, result.stderr
    assert "removed credentials.oauth.retry.max_attempts" in result.stdout
    assert read(cli.user_file) == {"credentials": {"domain": "api.example.com"}}
    assert stat.S_IMODE(cli.user_file.stat().st_mode) == 0o600

    again = cli.run("config", "unset", "credentials.oauth.retry.max_attempts")

    assert again.returncode == 3
    assert "is not set" in error_line(again)


def test_config_unset_in_a_missing_file_is_a_configuration_error(cli: Cli) -> None:
    result = cli.run("config", "unset", "credentials.domain", "--project")

    assert result.returncode == 3
    assert str(cli.project_file) in error_line(result)
    assert not cli.project_file.exists()


# --- config init -------------------------------------------------------------------------


def test_config_init_writes_a_starter_file(cli: Cli) -> None:
    result = cli.run(
        "config", "init", "--provider", "oauth", "client_id=x", "domain=api.example.com"
    )

    assert result.returncode == 0, result.stderr
    assert read(cli.user_file) == {
        "credentials": {"domain": "api.example.com", "oauth": {"client_id": "x"}}
    }
    assert stat.S_IMODE(cli.user_file.stat().st_mode) == 0o600
    assert "still needed" not in result.stdout


def test_config_init_names_what_is_still_needed_and_writes_nothing(cli: Cli) -> None:
    result = cli.run("config", "init", "--provider", "oauth", "retry.max_attempts=2")

    assert result.returncode == 3
    message = error_line(result)
    assert "[credentials] was not written: it still needs domain, client_id" in message
    assert "tokenprovider config init --provider oauth domain=VALUE client_id=VALUE" in message
    assert not cli.user_file.exists()

    jwt = cli.run("config", "init", "--provider", "jwt", "domain=api.example.com", "--project")

    assert jwt.returncode == 3
    assert "it still needs jwt;" in error_line(jwt)
    assert not cli.project_file.exists()


def test_config_init_refuses_to_overwrite_without_force(cli: Cli) -> None:
    original = '[credentials]\ndomain = "old.example.com"\n\n[credentials.jwt]\njwt = "env:J"\n'
    write(cli.user_file, original)

    refused = cli.run("config", "init", "--provider", "oauth", "client_id=x", "domain=new.example")

    assert refused.returncode == 3
    assert "--force" in error_line(refused)
    assert cli.user_file.read_text() == original

    forced = cli.run(
        "config", "init", "--provider", "oauth", "client_id=x", "domain=new.example", "--force"
    )

    assert forced.returncode == 0, forced.stderr
    assert read(cli.user_file) == {
        "credentials": {"domain": "new.example", "oauth": {"client_id": "x"}}
    }


def test_config_init_profile_writes_the_profile_table(cli: Cli) -> None:
    write(cli.user_file, '[credentials]\ndomain = "api.example.com"\njwt = "env:J"\n')

    result = cli.run(
        "config", "init", "--provider", "oauth", "--profile", "dev", "client_id=x", "domain=d.e"
    )

    assert result.returncode == 0, result.stderr
    assert "[profiles.dev.credentials]" in result.stdout
    assert read(cli.user_file) == {
        "credentials": {"domain": "api.example.com", "jwt": "env:J"},
        "profiles": {"dev": {"credentials": {"domain": "d.e", "oauth": {"client_id": "x"}}}},
    }


def test_config_init_unknown_provider_suggests_a_name(cli: Cli) -> None:
    result = cli.run("config", "init", "--provider", "oath")

    assert result.returncode == 3
    message = error_line(result)
    assert "did you mean 'oauth'" in message
    assert not cli.user_file.exists()


# --- token and header against a local OAuth server ---------------------------------------


def oauth_config(server: LocalOAuthServer, secret: str = CANARY_SECRET) -> str:
    host = server.url.split("://", 1)[1]
    return (
        "[credentials]\n"
        f'domain = "{host}"\n'
        'scheme = "http"\n'
        "[credentials.oauth]\n"
        'client_id = "cli-client"\n'
        f'client_secret = "{secret}"\n'
        f'token_url = "{server.token_url}"\n'
        "[credentials.oauth.retry]\n"
        "max_attempts = 1\n"
    )


def test_token_json_and_header(cli: Cli) -> None:
    with LocalOAuthServer(clients={"cli-client": CANARY_SECRET}) as server:
        write(cli.user_file, oauth_config(server))

        plain = cli.run("token", "--no-cache")
        as_json = cli.run("token", "--json", "--no-cache")
        header = cli.run("header", "--no-cache")

        assert server.token_requests == 3  # --no-cache: one per process
        assert server.accepts(f"Bearer {plain.stdout.strip()}")

    assert plain.returncode == 0, plain.stderr
    token = plain.stdout.strip()
    assert plain.stdout == token + "\n"
    assert token

    assert as_json.returncode == 0, as_json.stderr
    document = json.loads(as_json.stdout)
    assert {"token", "provider", "profile", "host", "expires_at"} <= set(document)
    assert document["provider"] == "oauth"
    assert document["profile"] == "default"
    assert document["host"] == server.url
    assert document["token"]
    assert document["token"] != token  # with --no-cache, each process fetches its own
    assert time.time() < document["expires_at"] < time.time() + 24 * 3600

    assert header.returncode == 0, header.stderr
    assert header.stdout.startswith("Authorization: Bearer ")
    assert header.stdout.count("\n") == 1


def test_token_with_a_wrong_secret_exits_1(cli: Cli) -> None:
    with LocalOAuthServer(clients={"cli-client": "the-right-secret"}) as server:
        write(cli.user_file, oauth_config(server))

        result = cli.run("token")

    assert result.returncode == 1
    assert result.stdout == ""
    error_line(result)


def test_token_profile_with_a_file_reference(cli: Cli) -> None:
    with LocalOAuthServer(clients={"cli-client": CANARY_SECRET}) as server:
        profile = oauth_config(server, secret="file:client.secret")
        profile = profile.replace("[credentials", "[profiles.dev.credentials")
        write(cli.user_file, '[credentials]\ndomain = "unused.example"\n' + profile)
        write(cli.user_file.parent / "client.secret", CANARY_SECRET + "\n")

        by_option = cli.run("token", "--profile", "dev", "--json")
        by_variable = cli.run("header", env={"TOKENPROVIDER_PROFILE": "dev"})

        assert server.token_requests == 1  # the second run reuses the CLI's cached token

    assert by_option.returncode == 0, by_option.stderr
    assert json.loads(by_option.stdout)["profile"] == "dev"
    assert by_variable.returncode == 0, by_variable.stderr
    assert by_variable.stdout.startswith("Authorization: Bearer ")


@pytest.mark.parametrize("command", ["token", "header"])
def test_configuration_error_exits_3(cli: Cli, command: str) -> None:
    write(
        cli.user_file, f'[credentials.oauth]\nclient_id = "x"\nclient_secret = "{CANARY_SECRET}"\n'
    )

    result = cli.run(command)

    assert result.returncode == 3
    assert "no domain" in error_line(result)


def test_missing_configuration_exits_3(cli: Cli) -> None:
    result = cli.run("token")

    assert result.returncode == 3
    assert "no [credentials] table" in error_line(result)


# --- help and usage ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["config"],
        ["config", "show"],
        ["config", "path"],
        ["config", "set"],
        ["config", "unset"],
        ["config", "init"],
        ["providers"],
        ["token"],
        ["header"],
        ["demo"],
    ],
)
def test_help_for_every_command(cli: Cli, command: list[str]) -> None:
    result = cli.run(*command, "--help")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: tokenprovider {' '.join(command)}".rstrip())
    assert "exit codes" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["config"],
        ["config", "set"],
        ["config", "set", "credentials.domain"],
        ["config", "unset"],
        ["config", "init"],
        ["config", "frobnicate"],
        ["token", "--bogus"],
        ["config", "set", "credentials.domain", "x", "--user", "--project"],
    ],
)
def test_usage_errors_exit_2(cli: Cli, args: list[str]) -> None:
    result = cli.run(*args)

    assert result.returncode == 2
    assert "usage: tokenprovider" in result.stderr
    assert not cli.user_file.exists()


# --- a plugin provider from a real entry point -------------------------------------------


def pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", *args],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        check=False,
    )


@pytest.fixture(scope="module")
def acme_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Install tests/plugin_package (from a copy) into the venv; uninstall afterwards."""
    copy = tmp_path_factory.mktemp("plugin") / "plugin_package"
    shutil.copytree(
        PLUGIN_SOURCE, copy, ignore=shutil.ignore_patterns("__pycache__", "build", "dist")
    )
    try:
        importlib.metadata.distribution(PLUGIN_DIST)
    except importlib.metadata.PackageNotFoundError:
        pass  # as usual: no pip run needed to remove it
    else:
        pip("uninstall", "-y", PLUGIN_DIST)  # a previous run left it installed
    installed = pip(
        "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index", str(copy)
    )
    if installed.returncode != 0:
        pytest.fail(f"cannot install {PLUGIN_DIST}:\n{installed.stdout}{installed.stderr}")
    try:
        yield
    finally:
        removed = pip("uninstall", "-y", PLUGIN_DIST)
        assert removed.returncode == 0, removed.stderr


def acme_token(api_key: str, lifetime: int) -> str:
    return f"acme-{lifetime}-{hashlib.sha256(api_key.encode()).hexdigest()[:12]}"


@pytest.mark.usefixtures("acme_plugin")
def test_providers_lists_builtins_and_the_plugin(cli: Cli) -> None:
    result = cli.run("providers")

    assert result.returncode == 0, result.stderr
    blocks = {
        block.split(":", 1)[0]: block.splitlines() for block in result.stdout.strip().split("\n\n")
    }
    assert {"jwt", "oauth", "acme"} <= set(blocks)

    def row(provider: str, key: str) -> list[str]:
        return next(line.split(None, 2) for line in blocks[provider] if line.split()[0] == key)

    assert blocks["acme"][0].startswith("acme: AcmeTokenProvider, from the plugin in package ")
    assert PLUGIN_DIST in blocks["acme"][0]
    assert row("acme", "api_key")[1:] == ["str", "required; secret: masked"]
    assert row("acme", "lifetime")[1:] == ["int", "60"]
    assert row("acme", "clock_skew")[1:] == ["float", "10.0"]  # through **kwargs
    assert row("jwt", "jwt")[1:2] == ["str"]
    assert row("jwt", "jwt")[2].startswith("required; secret: masked")
    assert row("oauth", "client_id")[1:] == ["str", "required"]
    assert row("oauth", "retry.max_attempts")[1:] == ["int", "4"]
    assert row("oauth", "default_expires_in")[1:] == ["float", "3600.0"]


@pytest.mark.usefixtures("acme_plugin")
def test_plugin_provider_builds_from_config_and_is_masked(cli: Cli) -> None:
    write(
        cli.user_file,
        '[credentials]\ndomain = "api.example.com"\n'
        '[credentials.acme]\napi_key = "env:ACME_KEY"\nlifetime = "30"\n',
    )
    cli.env["ACME_KEY"] = CANARY_SECRET

    token = cli.run("token")
    as_json = cli.run("token", "--json")
    shown = cli.run("config", "show")

    assert token.returncode == 0, token.stderr
    assert token.stdout == acme_token(CANARY_SECRET, 30) + "\n"
    assert as_json.returncode == 0, as_json.stderr
    document = json.loads(as_json.stdout)
    assert document["provider"] == "acme"
    assert document["host"] == "https://api.example.com"
    assert 0 < document["expires_at"] - time.time() <= 30
    assert shown.returncode == 0, shown.stderr
    assert 'api_key = "<reference env:ACME_KEY>"' in shown.stdout
    assert 'lifetime = "30"' in shown.stdout


@pytest.mark.usefixtures("acme_plugin")
def test_plugin_literal_key_is_masked_and_unknown_setting_suggests(cli: Cli) -> None:
    write(
        cli.user_file,
        '[credentials]\ndomain = "api.example.com"\n'
        f'[credentials.acme]\napi_key = "{CANARY_SECRET}"\n',
    )

    shown = cli.run("config", "show")
    bad = cli.run("config", "set", "credentials.acme.lifetim", "5")
    good = cli.run("config", "set", "credentials.acme.lifetime", "5")

    assert shown.returncode == 0, shown.stderr
    assert 'api_key = "<set>"' in shown.stdout
    assert bad.returncode == 3
    assert "did you mean 'lifetime'" in error_line(bad)
    assert good.returncode == 0, good.stderr
    assert read(cli.user_file)["credentials"]["acme"]["lifetime"] == 5
