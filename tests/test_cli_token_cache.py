"""``tokenprovider token`` and ``header`` reuse their token across runs, and
``tokenprovider cache clear`` forgets it.

Every command runs as a child process (`run_cli`) against a `LocalOAuthServer` (or the
local Token Dispenser stack) on 127.0.0.1, with ``HOME`` and ``XDG_CACHE_HOME`` inside
``tmp_path``: the CLI cache is then ``XDG_CACHE_HOME/tokenprovider/tokens``.
"""

from __future__ import annotations

import base64
import json
import re
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from conftest import CANARY_SECRET, assert_no_leak, run_cli
from tokenprovider import load_provider
from tokenprovider.caches import MemoryTokenCache, default_cache
from tokenprovider.providers.tds import TDSTokenProvider
from tokenprovider.testing.http_recorder import RecordingHTTPServer
from tokenprovider.testing.lambda_server import LambdaContext
from tokenprovider.testing.oauth_server import LocalOAuthServer
from tokenprovider.testing.tds_dispenser import LocalTokenDispenser

CLIENT = "cli-client"
OTHER_CLIENT = "other-client"
CACHE_KEY = base64.b64encode(bytes(range(32))).decode()


@dataclass
class Cli:
    """A sandbox: a config file, a home and a cache home in ``tmp_path``."""

    config: Path
    cwd: Path
    cache_home: Path
    home: Path

    @property
    def cache_dir(self) -> Path:
        """Where the CLI keeps tokens by default."""
        return self.cache_home / "tokenprovider" / "tokens"

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        variables = {"HOME": str(self.home), "XDG_CACHE_HOME": str(self.cache_home)}
        result = run_cli(self.config, *args, cwd=self.cwd, env={**variables, **(env or {})})
        assert_no_leak(result.stdout + result.stderr, CANARY_SECRET)
        assert "Traceback" not in result.stderr, result.stderr
        return result

    def ok(self, *args: str, env: dict[str, str] | None = None) -> str:
        """The output of a run that must succeed, without its last newline."""
        result = self.run(*args, env=env)
        assert result.returncode == 0, result.stderr
        return result.stdout.removesuffix("\n")

    def write(self, text: str) -> None:
        self.config.write_text(text, encoding="utf-8")
        self.config.chmod(0o600)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    cwd = tmp_path / "work"
    (cwd / ".git").mkdir(parents=True)
    home = tmp_path / "home"
    home.mkdir()
    return Cli(tmp_path / "config.toml", cwd, tmp_path / "cache-home", home)


@pytest.fixture
def server() -> Iterator[LocalOAuthServer]:
    with LocalOAuthServer(clients={CLIENT: CANARY_SECRET, OTHER_CLIENT: CANARY_SECRET}) as server:
        yield server


def oauth_table(
    server: LocalOAuthServer,
    path: str = "credentials",
    *,
    client_id: str = CLIENT,
    scopes: tuple[str, ...] = ("read",),
    extra: str = "",
) -> str:
    """A credentials table at ``path`` for an OAuth client of ``server``."""
    host = server.url.split("://", 1)[1]
    return (
        f"[{path}]\n"
        f'domain = "{host}"\n'
        'scheme = "http"\n'
        f"{extra}"
        f"[{path}.oauth]\n"
        f'client_id = "{client_id}"\n'
        f'client_secret = "{CANARY_SECRET}"\n'
        f'token_url = "{server.token_url}"\n'
        f"scopes = {json.dumps(list(scopes))}\n"
        f"[{path}.oauth.retry]\n"
        "max_attempts = 1\n"
    )


def files_in(directory: Path) -> dict[str, int]:
    """Every file in ``directory``, with its permission bits."""
    return {p.name: stat.S_IMODE(p.lstat().st_mode) for p in directory.iterdir()}


def entries(directory: Path) -> list[Path]:
    """The token files of a file cache directory."""
    return sorted(directory.glob("*.json"))


# --- the default cache ---------------------------------------------------------------------


def test_three_runs_make_one_token_request(cli: Cli, server: LocalOAuthServer) -> None:
    cli.write(oauth_table(server))

    first = cli.ok("token")
    header = cli.ok("header")
    document = json.loads(cli.ok("token", "--json"))

    assert server.token_requests == 1
    assert header == f"Authorization: Bearer {first}"
    assert document["token"] == first
    assert server.accepts(f"Bearer {first}")
    assert time.time() + 3000 < document["expires_at"] < time.time() + 3700


def test_the_cli_cache_is_private_and_in_the_user_cache_directory(
    cli: Cli, server: LocalOAuthServer
) -> None:
    cli.write(oauth_table(server))

    token = cli.ok("token")

    assert stat.S_IMODE(cli.cache_dir.lstat().st_mode) == 0o700
    modes = files_in(cli.cache_dir)
    assert modes
    assert set(modes.values()) == {0o600}, modes
    (entry,) = entries(cli.cache_dir)
    assert json.loads(entry.read_text())["token"] == token
    assert not (cli.home / ".cache").exists()  # XDG_CACHE_HOME, through platformdirs


def test_without_xdg_cache_home_the_cache_is_under_home(cli: Cli, server: LocalOAuthServer) -> None:
    cli.write(oauth_table(server))

    cli.ok("token", env={"XDG_CACHE_HOME": ""})
    cli.ok("token", env={"XDG_CACHE_HOME": ""})

    assert server.token_requests == 1
    assert len(entries(cli.home / ".cache" / "tokenprovider" / "tokens")) == 1


def test_no_cache_makes_a_request_every_run_and_writes_nothing(
    cli: Cli, server: LocalOAuthServer
) -> None:
    cli.write(oauth_table(server, extra='cache = "file:profile-tokens"\n'))

    tokens = [
        cli.ok("token", "--no-cache"),
        cli.ok("token", "--no-cache"),
        cli.ok("header", "--no-cache").removeprefix("Authorization: Bearer "),
    ]

    assert server.token_requests == 3
    assert len(set(tokens)) == 3
    assert not cli.cache_dir.exists()
    assert not (cli.config.parent / "profile-tokens").exists()  # the profile's cache too


def test_cache_key_seals_the_cli_cache_and_cache_clear_opens_it(
    cli: Cli, server: LocalOAuthServer
) -> None:
    cli.write(oauth_table(server, extra='cache_key = "env:TP_TEST_CACHE_KEY"\n'))
    key = {"TP_TEST_CACHE_KEY": CACHE_KEY}

    token = cli.ok("token", env=key)
    again = cli.ok("token", env=key)
    (entry,) = entries(cli.cache_dir)
    record = json.loads(entry.read_text())
    cleared = cli.ok("cache", "clear", env=key)
    cli.ok("token", env=key)

    assert again == token
    assert "sealed" in record
    assert "token" not in record
    assert token not in json.dumps(record)
    assert cleared.endswith(f": {entry}")
    assert server.token_requests == 2


def test_a_profile_cache_setting_is_used_instead_of_the_cli_cache(
    cli: Cli, server: LocalOAuthServer
) -> None:
    cli.write(oauth_table(server, extra='cache = "file:profile-tokens"\n'))

    first = cli.ok("token")
    second = cli.ok("token")

    assert first == second
    assert server.token_requests == 1
    assert len(entries(cli.config.parent / "profile-tokens")) == 1
    assert not cli.cache_dir.exists()


def test_profiles_with_other_clients_or_scopes_do_not_share_a_token(
    cli: Cli, server: LocalOAuthServer
) -> None:
    cli.write(
        oauth_table(server)
        + oauth_table(server, "profiles.other.credentials", client_id=OTHER_CLIENT)
        + oauth_table(server, "profiles.writer.credentials", scopes=("read", "write"))
    )
    profiles = [[], ["--profile", "other"], ["--profile", "writer"]]

    first = [cli.ok("token", *profile) for profile in profiles]
    again = [cli.ok("token", *profile) for profile in profiles]

    assert server.token_requests == 3
    assert len(set(first)) == 3
    assert again == first
    records = server.token_request_records
    assert [record.client_id for record in records] == [CLIENT, OTHER_CLIENT, CLIENT]
    assert [record.form["scope"] for record in records] == [["read"], ["read"], ["read write"]]
    assert len(entries(cli.cache_dir)) == 3


def test_the_library_keeps_its_memory_cache(cli: Cli, server: LocalOAuthServer) -> None:
    cli.write(oauth_table(server))

    provider = load_provider(config_file=cli.config, env={}, cwd=cli.cwd)

    assert provider.cache is default_cache()  # type: ignore[attr-defined]


def test_a_run_whose_refresh_fails_prints_the_cached_token_while_it_is_valid(
    cli: Cli, server: LocalOAuthServer
) -> None:
    cli.write(oauth_table(server))
    token = cli.ok("token")
    (entry,) = entries(cli.cache_dir)
    record = json.loads(entry.read_text())
    now = time.time()  # make the entry 34 s into a 40 s life: due, with 6 s left
    record.update(issued_at=now - 34, expires_at=now + 6)
    entry.write_text(json.dumps(record))
    server.fail_next(1000, 503)

    result = cli.run("token")

    assert result.returncode == 0, result.stderr
    assert result.stdout == token + "\n"
    warnings = [line for line in result.stderr.splitlines() if "warning:" in line]
    assert len(warnings) == 1, result.stderr
    assert "using the current token" in warnings[0]
    assert server.token_requests == 2  # the first run, and one failed refresh


# --- cache clear ---------------------------------------------------------------------------


def test_cache_clear_removes_the_token_and_the_next_run_fetches(
    cli: Cli, server: LocalOAuthServer
) -> None:
    cli.write(oauth_table(server))
    first = cli.ok("token")
    (entry,) = entries(cli.cache_dir)

    cleared = cli.ok("cache", "clear")
    second = cli.ok("token")

    assert cleared == (
        f"removed the cached token of profile 'default' (oauth client {CLIENT!r} for "
        f"{server.url}): {entry}"
    )
    assert server.token_requests == 2
    assert second != first
    assert cli.ok("token") == second
    assert server.token_requests == 2


def test_cache_clear_with_nothing_cached_says_so(cli: Cli, server: LocalOAuthServer) -> None:
    cli.write(oauth_table(server))

    before = cli.ok("cache", "clear")
    cli.ok("token")
    cli.ok("cache", "clear")
    after = cli.ok("cache", "clear")

    assert before == f"no cached token of profile 'default' in {cli.cache_dir} (it does not exist)"
    assert after.startswith("no cached token of profile 'default' (oauth client")
    assert after.endswith(f" in {cli.cache_dir}")
    assert server.token_requests == 1


def test_cache_clear_profile_removes_only_that_profile(cli: Cli, server: LocalOAuthServer) -> None:
    cli.write(
        oauth_table(server)
        + oauth_table(server, "profiles.other.credentials", client_id=OTHER_CLIENT)
    )
    default = cli.ok("token")
    other = cli.ok("token", "--profile", "other")

    cleared = cli.ok("cache", "clear", "--profile", "other")

    assert f"of profile 'other' (oauth client {OTHER_CLIENT!r}" in cleared
    assert cli.ok("token") == default
    assert cli.ok("token", "--profile", "other") != other
    assert server.token_requests == 3


def test_cache_clear_uses_the_active_profile_variable(cli: Cli, server: LocalOAuthServer) -> None:
    cli.write(
        oauth_table(server)
        + oauth_table(server, "profiles.other.credentials", client_id=OTHER_CLIENT)
    )
    chosen = {"TOKENPROVIDER_PROFILE": "other"}
    cli.ok("token", env=chosen)

    cleared = cli.ok("cache", "clear", env=chosen)

    assert "of profile 'other'" in cleared
    assert entries(cli.cache_dir) == []


def test_cache_clear_removes_from_the_profile_file_cache(
    cli: Cli, server: LocalOAuthServer
) -> None:
    cli.write(oauth_table(server, extra='cache = "file:profile-tokens"\n'))
    cli.ok("token")
    (entry,) = entries(cli.config.parent / "profile-tokens")

    cleared = cli.ok("cache", "clear")
    cli.ok("token")

    assert cleared.endswith(f": {entry}")
    assert server.token_requests == 2


def test_a_profile_memory_cache_fetches_in_every_run_and_has_nothing_to_clear(
    cli: Cli, server: LocalOAuthServer
) -> None:
    cli.write(oauth_table(server, extra='cache = "memory"\n'))

    cli.ok("token")
    cli.ok("token")
    cleared = cli.ok("cache", "clear")

    assert server.token_requests == 2
    assert not cli.cache_dir.exists()
    assert cleared == "nothing to clear: profile 'default' keeps its token in memory only"


def test_cache_clear_all_empties_the_cli_cache_without_reading_the_config(
    cli: Cli, server: LocalOAuthServer
) -> None:
    cli.write(
        oauth_table(server)
        + oauth_table(server, "profiles.other.credentials", client_id=OTHER_CLIENT)
    )
    cli.ok("token")
    cli.ok("token", "--profile", "other")
    cli.write('[credentials]\ndomain = "no provider here"\n')  # broken: clear --all still works

    cleared = cli.ok("cache", "clear", "--all")

    assert cleared == f"removed 2 cached tokens from {cli.cache_dir}"
    assert entries(cli.cache_dir) == []
    assert "salt" in files_in(cli.cache_dir)  # only tokens go
    assert cli.ok("cache", "clear", "--all") == f"removed 0 cached tokens from {cli.cache_dir}"


def test_cache_clear_all_refuses_a_linked_or_shared_directory_and_deletes_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "someone-elses"
    elsewhere.mkdir()
    token_file = elsewhere / ("a" * 64 + ".json")
    token_file.write_text("{}")
    cli.cache_dir.parent.mkdir(parents=True)
    cli.cache_dir.symlink_to(elsewhere)

    linked = cli.run("cache", "clear", "--all")
    cli.cache_dir.unlink()
    elsewhere.chmod(0o777)
    elsewhere.rename(cli.cache_dir)
    shared = cli.run("cache", "clear", "--all")

    assert linked.returncode == 3, linked.stderr
    assert "symbolic link" in linked.stderr
    assert shared.returncode == 3, shared.stderr
    assert "group or others can write to it" in shared.stderr
    assert (cli.cache_dir / token_file.name).exists()


def test_cache_clear_all_and_profile_together_is_a_usage_error(cli: Cli) -> None:
    result = cli.run("cache", "clear", "--all", "--profile", "x")

    assert result.returncode == 2
    assert "not allowed with argument" in result.stderr


# --- the header line: a cookie for a cookie-style TDS provider -------------------------------


def tds_config(cli: Cli, auth_style: str) -> None:
    cli.write(
        "[credentials]\n"
        'domain = "cmr.example.com"\n'
        "[credentials.tds]\n"
        'client_id = "cliclient"\n'
        'token_dispenser_arn_ssm_key = "/service/token-dispenser/sit"\n'
        f'auth_style = "{auth_style}"\n'
    )


@pytest.mark.parametrize(
    ("auth_style", "line"),
    [
        ("cookie", "Cookie: SMSESSION={token}"),
        ("raw", "Authorization: {token}"),
    ],
)
def test_header_prints_the_line_a_tds_provider_attaches(
    cli: Cli, tds: LocalTokenDispenser, auth_style: str, line: str
) -> None:
    tds_config(cli, auth_style)

    header = cli.ok("header")
    token = cli.ok("token")

    assert header == line.format(token=token)
    assert tds.handler is not None
    assert tds.handler.is_valid(token)
    assert tds.lambda_server.invocation_count() == 1  # the second run used the CLI cache


def test_header_keeps_the_dispensers_cookie_name_across_runs(
    cli: Cli, tds: LocalTokenDispenser
) -> None:
    def mysess(event: Any, context: LambdaContext) -> Any:
        return {"sm_token": "tok-for-mysess", "expires_at": 4e9, "cookiename": "MYSESS"}

    arn = tds.lambda_server.add_function("mysess", mysess)
    cli.write(
        "[credentials]\n"
        'domain = "cmr.example.com"\n'
        "[credentials.tds]\n"
        'client_id = "cliclient"\n'
        f'lambda_arn = "{arn}"\n'
        'auth_style = "cookie"\n'
    )

    first = cli.ok("header")
    second = cli.ok("header")

    assert first == second == "Cookie: MYSESS=tok-for-mysess"
    assert tds.lambda_server.invocation_count() == 1  # the second run used the CLI cache


def test_auth_header_is_what_the_auth_handler_attaches(tds: LocalTokenDispenser) -> None:
    def other_cookie(event: Any, context: LambdaContext) -> Any:
        return {"sm_token": "tok-for-cookie", "expires_at": 4e9, "cookiename": "OTHERSESSION"}

    arn = tds.lambda_server.add_function("other-cookie", other_cookie)
    with RecordingHTTPServer() as site:
        provider = TDSTokenProvider(
            site.url, "cliclient", lambda_arn=arn, auth_style="cookie", cache=MemoryTokenCache()
        )

        name, value = provider.auth_header()
        requests.get(site.url + "/x", auth=provider, timeout=5)

        assert (name, value) == ("Cookie", "OTHERSESSION=tok-for-cookie")
        assert site.requests[0].headers["cookie"] == value
        assert "authorization" not in site.requests[0].headers


def test_a_corrupt_cache_file_is_replaced_with_one_warning_line(
    cli: Cli, server: LocalOAuthServer
) -> None:
    cli.write(oauth_table(server))
    cli.ok("token")
    (entry,) = entries(cli.cache_dir)
    entry.write_text("{garbage")

    result = cli.run("token")

    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "warning:" in line]
    assert len(warnings) == 1, result.stderr
    assert warnings[0].startswith("tokenprovider: warning: ")
    assert server.token_requests == 2


#: What docs/cli.md's sample output shows, and the pattern for this test's value.
_SAMPLE = {
    "/home/me/.cache/tokenprovider/tokens": "(?P<dir>/.+)",
    "3f2a...e1": "[0-9a-f]{16,}",
    "'reporting'": re.escape(repr(CLIENT)),
    "https://api.example.com": "(?P<host>http://127\\.0\\.0\\.1:\\d+)",
}


def _shown_after(prompt: str) -> str:
    """The output line docs/cli.md shows after ``$ PROMPT``, as a pattern in which the
    sample's home directory, token file, client and host stand for this test's."""
    page = (Path(__file__).resolve().parent.parent / "docs" / "cli.md").read_text()
    line = page.split(f"\n$ {prompt}\n", 1)[1].split("\n", 1)[0]
    pattern = re.escape(line)
    for shown, real in _SAMPLE.items():
        pattern = pattern.replace(re.escape(shown), real, 1)
    return pattern


def test_the_cli_page_shows_what_cache_clear_says(cli: Cli, server: LocalOAuthServer) -> None:
    cli.write(
        oauth_table(server)
        + oauth_table(server, "profiles.other.credentials", client_id=OTHER_CLIENT)
    )
    cli.ok("token")
    one = re.fullmatch(_shown_after("tokenprovider cache clear"), cli.ok("cache", "clear"))
    assert one, "docs/cli.md: update the output shown after `tokenprovider cache clear`"
    assert (one["dir"], one["host"]) == (str(cli.cache_dir), server.url)

    cli.ok("token")
    cli.ok("token", "--profile", "other")
    every = re.fullmatch(
        _shown_after("tokenprovider cache clear --all"), cli.ok("cache", "clear", "--all")
    )
    assert every, "docs/cli.md: update the output shown after `tokenprovider cache clear --all`"
    assert every["dir"] == str(cli.cache_dir)
