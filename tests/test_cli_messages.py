"""What the command line prints: warnings with the ``tokenprovider: warning:`` prefix (logged
ones too, once, no urllib3 retry noise), ``--debug`` keeping the exit code, and a command's
own usage for an argument it does not know."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest

from conftest import CANARY_SECRET, cli_sandbox, closed_port, run_cli

HOST = "api.example.com"


def segment(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def jwt_expiring_in(seconds: float) -> str:
    header = segment({"alg": "HS256", "typ": "JWT"})
    claims = segment({"sub": CANARY_SECRET, "exp": int(time.time() + seconds)})
    return f"{header}.{claims}.{segment('signature')}"


class Sandbox:
    """A home, a repository and a config file for running the CLI in a child process."""

    def __init__(self, tmp_path: Path, config: str) -> None:
        _, self.repo, self.env = cli_sandbox(tmp_path)
        self.config = self.repo / "config.toml"
        self.config.write_text(config)
        self.config.chmod(0o600)

    def run(self, *args: str) -> tuple[int, str, str]:
        result = run_cli(self.config, *args, cwd=self.repo, env=self.env)
        return result.returncode, result.stdout, result.stderr


def unreachable_oauth(secret: str) -> str:
    """A configuration whose token endpoint refuses connections, retried once at once."""
    port = closed_port()
    return (
        f'[credentials]\ndomain = "127.0.0.1:{port}"\nscheme = "http"\n'
        f'[credentials.oauth]\nclient_id = "reporting"\nclient_secret = "{secret}"\n'
        f'token_url = "http://127.0.0.1:{port}/token"\n'
        "[credentials.oauth.retry]\nmax_attempts = 2\nbackoff_base = 0\n"
    )


def test_a_logged_warning_prints_once_with_the_prefix(tmp_path: Path) -> None:
    jwt = jwt_expiring_in(120)
    sandbox = Sandbox(tmp_path, f'[credentials]\ndomain = "{HOST}"\njwt = "{jwt}"\n')

    code, out, err = sandbox.run("token")

    assert code == 0, err
    assert out.strip() == jwt
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"tokenprovider: warning: the JWT for https://{HOST} expires at ")
    assert jwt not in err
    assert CANARY_SECRET not in err


def test_debug_keeps_full_logging_without_repeating_warnings(tmp_path: Path) -> None:
    jwt = jwt_expiring_in(120)
    sandbox = Sandbox(tmp_path, f'[credentials]\ndomain = "{HOST}"\njwt = "{jwt}"\n')

    code, _, err = sandbox.run("token", "--debug")

    assert code == 0, err
    assert err.count(f"WARNING:tokenprovider:the JWT for https://{HOST} expires at ") == 1, err
    assert "tokenprovider: warning: the JWT" not in err
    assert jwt not in err


@pytest.mark.parametrize("secret", ["s", "x", "ab"])
def test_a_short_secret_warns_and_garbles_no_error(tmp_path: Path, secret: str) -> None:
    sandbox = Sandbox(tmp_path, unreachable_oauth(secret))

    code, out, err = sandbox.run("token")

    assert code == 1, err
    assert out == ""
    warned = [line for line in err.splitlines() if line.startswith("tokenprovider: warning: ")]
    assert len(warned) == 1, err
    assert "credentials.oauth.client_secret (from " in warned[0]  # the setting and its line
    assert "is shorter than 8 characters" in warned[0]
    error = [line for line in err.splitlines() if line.startswith("tokenprovider: error: ")]
    assert len(error) == 1, err
    assert error[0].endswith("within 30s): ConnectionError: connection refused")  # whole
    assert "***" not in error[0]
    assert "Retrying" not in err  # urllib3's per-retry warning stays out
    assert len(err.splitlines()) == 2, err


def test_debug_shows_the_traceback_and_keeps_the_configuration_exit_code(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path, f'[credentials]\ndomain = "{HOST}"\n[credentials.oauth]\n')

    plain = sandbox.run("token")
    debug = sandbox.run("token", "--debug")

    assert plain[0] == debug[0] == 3, debug[2]
    assert "Traceback" not in plain[2]
    assert "Traceback (most recent call last)" in debug[2]
    error = [line for line in plain[2].splitlines() if line.startswith("tokenprovider: error: ")]
    assert len(error) == 1, plain[2]
    assert error[0] in debug[2].splitlines()


def test_debug_keeps_the_authentication_exit_code(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path, unreachable_oauth(CANARY_SECRET))

    code, _, err = sandbox.run("token", "--debug")

    assert code == 1, err
    assert "Traceback (most recent call last)" in err
    assert "tokenprovider: error: could not reach the token endpoint" in err
    assert CANARY_SECRET not in err


@pytest.mark.parametrize(
    "command",
    [
        ["token"],
        ["header"],
        ["providers"],
        ["demo"],
        ["config", "show"],
        ["config", "path"],
        ["config", "set", "credentials.domain", "x.example.com"],
        ["config", "unset", "credentials.domain"],
        ["config", "init", "--provider", "oauth"],
        ["cache", "create-table", "tokens"],
    ],
    ids=" ".join,
)
def test_an_unknown_argument_shows_the_commands_own_usage(
    tmp_path: Path, command: list[str]
) -> None:
    sandbox = Sandbox(tmp_path, "")
    name = " ".join(command[:2]) if command[0] in ("config", "cache") else command[0]

    code, out, err = sandbox.run(*command, "--bogus")

    assert code == 2
    assert out == ""
    assert err.startswith(f"usage: tokenprovider {name} "), err
    assert f"tokenprovider {name}: error: unrecognized arguments: --bogus" in err


def test_an_unknown_argument_before_the_command_shows_the_top_usage(tmp_path: Path) -> None:
    code, _, err = Sandbox(tmp_path, "").run("--bogus", "token")

    assert code == 2
    assert err.startswith("usage: tokenprovider [-h]"), err
    assert "tokenprovider: error: unrecognized arguments: --bogus" in err
