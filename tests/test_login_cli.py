"""``tokenprovider login``, ``logout`` and ``status``, run as a person would, against the
local server: the browser, opened through the BROWSER variable, is tests/http_person.py
(the login form submitted over HTTP), and once a real headless Chromium."""

from __future__ import annotations

import json
import os
import pty
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from browser_opener import wait_for
from browser_support import require_browser
from conftest import assert_no_leak, cli_sandbox
from login_support import CALLBACK, PASSWORD, approve
from tokenprovider.testing import LocalOAuthServer

PERSON = Path(__file__).resolve().parent / "http_person.py"
OPENER = Path(__file__).resolve().parent / "browser_opener.py"


@pytest.fixture
def server() -> Iterator[LocalOAuthServer]:
    with LocalOAuthServer(
        public_clients={"cli": [CALLBACK]}, users={"alice": PASSWORD}, device_interval=0.05
    ) as srv:
        yield srv


class Sandbox:
    """A home, a repository, a config naming the server (profile "work"), an environment."""

    def __init__(self, tmp_path: Path, server: LocalOAuthServer) -> None:
        self.home, self.repo, self.env = cli_sandbox(tmp_path)
        self.store = tmp_path / "logins"
        self.record = tmp_path / "opened.txt"
        self.config = tmp_path / "config.toml"
        self.config.write_text(
            "[profiles.work.credentials]\n"
            f'domain = "{server.url.removeprefix("http://")}"\n'
            'scheme = "http"\n'
            "[profiles.work.credentials.oauth]\n"
            'client_id = "cli"\n'
            f'token_url = "{server.token_url}"\n'
            'grant_type = "authorization_code"\n'
            'scopes = ["openid", "read"]\n'
            'login_store = "file"\n'
            f'login_store_dir = "{self.store}"\n'
        )
        self.env["BROWSER"] = f"{sys.executable} {PERSON} %s {self.record}"

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "tokenprovider", "--config", str(self.config), *args]

    def start(self, *args: str) -> subprocess.Popen[str]:
        """The CLI running ARGS, its output piped (for reading as it prints)."""
        return subprocess.Popen(
            self.command(*args),
            cwd=self.repo,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(
        self, *args: str, stdin: int | None = subprocess.DEVNULL
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            cwd=self.repo,
            env=self.env,
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


def stored_tokens(sandbox: Sandbox) -> list[str]:
    values = []
    for path in sandbox.store.glob("*.json"):
        record = json.loads(path.read_text())
        values += [record["refresh_token"], record["access_token"]]
    return values


#: docs/login.md's sample login, and the patterns that stand for this test's values.
_LOGIN_SAMPLE = {
    "https://login.example.com": r"(?P<server>http://127\.0\.0\.1:\d+)",
    "client_id=my-cli&...": r"client_id=cli&\S+",
    "http://127.0.0.1:50817/callback": r"http://127\.0\.0\.1:\d+/callback",
    "as ada to https://api.example.com (client 'my-cli')": (
        r"as alice to (?P<host>http://127\.0\.0\.1:\d+) \(client 'cli'\)"
    ),
    "/home/ada/.local/share/tokenprovider/logins/3f1c…e9.json": r"/\S+/logins/[0-9a-f]{64}\.json",
}


def login_page_sample() -> str:
    """The output docs/login.md shows for ``tokenprovider login``, as a pattern."""
    page = (Path(__file__).resolve().parent.parent / "docs" / "login.md").read_text()
    block = page.split("$ tokenprovider login --profile me\n", 1)[1].split("```", 1)[0]
    pattern = re.escape(block)
    for shown, real in _LOGIN_SAMPLE.items():
        assert re.escape(shown) in pattern, shown
        pattern = pattern.replace(re.escape(shown), real, 1)
    return pattern


def test_login_status_token_logout_as_a_person_runs_them(
    tmp_path: Path, server: LocalOAuthServer
) -> None:
    sandbox = Sandbox(tmp_path, server)
    before = sandbox.run("status", "--profile", "work")
    assert before.returncode == 1
    login = f"tokenprovider --config {sandbox.config} login --profile work"
    assert f"Not logged in (no login is kept in {sandbox.store}/" in before.stdout
    assert f"Log in with: {login}" in before.stdout

    asked = sandbox.run("token", "--profile", "work")
    assert asked.returncode == 1
    assert f"Log in with: {login}" in asked.stderr  # a command that works as it is
    assert not sandbox.record.exists()  # the token path never opens a browser

    logged_in = sandbox.run("login", "--profile", "work")  # no terminal on stdin
    assert logged_in.returncode == 0, logged_in.stderr
    assert "/oauth2/authorize?" in logged_in.stderr  # the URL is printed either way
    assert "Logged in as alice" in logged_in.stdout
    assert f"Tokens are kept in {sandbox.store}" in logged_in.stdout
    assert sandbox.record.read_text() == "/oauth2/authorize\n"  # opened through BROWSER
    shown = re.fullmatch(login_page_sample(), logged_in.stderr + logged_in.stdout)
    assert shown, "docs/login.md: update the output shown after `tokenprovider login`"
    assert shown["server"] == shown["host"] == server.url

    status = sandbox.run("status", "--profile", "work")
    assert status.returncode == 0, status.stderr
    assert "logged in as:   alice" in status.stdout
    assert "scopes:         openid read" in status.stdout
    assert "refresh token:  kept" in status.stdout

    token = sandbox.run("token", "--profile", "work")
    assert token.returncode == 0, token.stderr
    header = sandbox.run("header", "--profile", "work")
    assert header.stdout.strip() == f"Authorization: Bearer {token.stdout.strip()}"
    assert server.token_requests == 1  # the code exchange; token and header read the store

    secrets = stored_tokens(sandbox)
    assert secrets  # the refresh and access tokens
    refresh_secrets = [s for s in secrets if s != token.stdout.strip()]
    for run in (before, asked, logged_in, status, header):
        assert_no_leak(run.stdout + run.stderr, *refresh_secrets)

    cleared = sandbox.run("cache", "clear", "--profile", "work")
    assert cleared.returncode == 0, cleared.stderr
    assert "is a person's login, kept in" in cleared.stdout
    assert "tokenprovider logout" in cleared.stdout

    closed = sandbox.start("status", "--profile", "work")
    assert closed.stdout is not None
    closed.stdout.close()  # the reader went away, as `| head -0` does
    _, err = closed.communicate(timeout=60)
    assert closed.returncode == 141
    assert "Traceback" not in err

    logged_out = sandbox.run("logout", "--profile", "work")
    assert logged_out.returncode == 0, logged_out.stderr
    assert "the server revoked its tokens" in logged_out.stdout
    assert list(sandbox.store.glob("*.json")) == []
    assert sandbox.run("status", "--profile", "work").returncode == 1


def test_login_with_no_browser_prints_the_url_and_opens_nothing(
    tmp_path: Path, server: LocalOAuthServer
) -> None:
    sandbox = Sandbox(tmp_path, server)
    process = sandbox.start("login", "--profile", "work", "--no-browser")
    try:
        assert process.stderr is not None
        url = ""
        for line in process.stderr:  # printed and flushed before waiting
            if "/oauth2/authorize?" in line:
                url = line.strip()
                break
        threading.Thread(target=approve, args=(url,), daemon=True).start()
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "Logged in as alice" in out
    assert not sandbox.record.exists()


def test_device_login_prints_the_code_before_polling(
    tmp_path: Path, server: LocalOAuthServer
) -> None:
    sandbox = Sandbox(tmp_path, server)
    process = sandbox.start("login", "--profile", "work", "--device")
    try:
        assert process.stderr is not None
        seen = ""
        code = None
        for line in process.stderr:
            seen += line
            found = re.search(r"\b([A-Z]{4}-[A-Z]{4})\b", seen)
            if found and "/device" in seen:
                code = found.group(1)
                break
        assert code, seen
        answer = requests.post(
            server.url + "/device",
            data={
                "user_code": code,
                "username": "alice",
                "password": PASSWORD,
                "decision": "approve",
            },
            timeout=10,
        )
        assert answer.status_code == 200
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "Logged in as alice" in out
    assert not sandbox.record.exists()  # the device flow opens no browser


@pytest.mark.parametrize("ci", ["", "true"])
def test_token_on_a_terminal_still_never_prompts(
    tmp_path: Path, server: LocalOAuthServer, ci: str
) -> None:
    sandbox = Sandbox(tmp_path, server)
    sandbox.env["CI"] = ci
    controller, terminal = pty.openpty()
    try:
        asked = sandbox.run("token", "--profile", "work", stdin=terminal)
    finally:
        os.close(terminal)
        os.close(controller)
    assert asked.returncode == 1
    assert f"tokenprovider --config {sandbox.config} login --profile work" in asked.stderr
    assert not sandbox.record.exists()
    assert server.authorization_codes_issued == 0


def test_login_for_a_service_profile_is_refused(tmp_path: Path, server: LocalOAuthServer) -> None:
    sandbox = Sandbox(tmp_path, server)
    sandbox.config.write_text(
        "[credentials]\n"
        f'domain = "{server.url.removeprefix("http://")}"\n'
        'scheme = "http"\n'
        "[credentials.oauth]\n"
        'client_id = "client"\n'
        'client_secret = "secret-value"\n'
        f'token_url = "{server.token_url}"\n'
    )
    refused = sandbox.run("login")
    assert refused.returncode == 3
    assert "needs no login" in refused.stderr
    assert "grant_type" in refused.stderr


def test_login_in_a_real_browser_through_the_cli(tmp_path: Path, server: LocalOAuthServer) -> None:
    require_browser()
    sandbox = Sandbox(tmp_path, server)
    page = tmp_path / "page.txt"
    opener = [sys.executable, str(OPENER), str(page), "alice", PASSWORD]
    sandbox.env["BROWSER"] = " ".join(map(shlex.quote, opener)) + " %s"
    logged_in = sandbox.run("login", "--profile", "work")
    assert logged_in.returncode == 0, logged_in.stderr
    assert "Logged in as alice" in logged_in.stdout
    wait_for(page, timeout=60)  # the browser may still be closing when the command ends
    assert "You are logged in. You can close this window." in page.read_text(encoding="utf-8")
    token = sandbox.run("token", "--profile", "work")
    assert token.returncode == 0, token.stderr
    assert server.token_requests == 1  # the code, exchanged once; token read the store
