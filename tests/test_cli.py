"""The command line, run for real in a subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tokenprovider import __version__


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "error::ResourceWarning"}
    return subprocess.run(
        [sys.executable, "-m", "tokenprovider", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env=env,
        check=False,
    )


def test_demo_runs_every_scene_and_exits_zero() -> None:
    result = run("demo")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "32 simultaneous cold callers       1 token request; HTTP [200]" in out
    assert "0 token requests" in out  # reuse from the cache
    assert "0 HTTP 401s" in out  # refresh ahead of expiry
    assert "two injected 503s" in out
    assert "3 attempts, HTTP 200" in out
    assert "0 carried an Authorization header" in out
    outage = re.search(r"token endpoint down \(HTTP 503\) +(\d+) of (\d+) requests", out)
    assert outage is not None, out
    assert outage[1] == outage[2]  # every request got through while the token was valid
    assert "FAIL" not in out
    assert "demo-secret" not in out + result.stderr


@pytest.mark.parametrize("args", [["--help"], ["demo", "--help"]])
def test_help(args: list[str]) -> None:
    result = run(*args)
    assert result.returncode == 0
    assert "usage: tokenprovider" in result.stdout


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"tokenprovider {__version__}"


@pytest.mark.parametrize("args", [[], ["no-such-command"]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert "usage: tokenprovider" in result.stderr


def test_demo_tds_runs_the_dispenser_flow_and_exits_zero() -> None:
    result = run("demo", "--tds")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for scene in (
        "SSM discovery",
        "dispenser invoked",
        "token on a request",
        "cached token reused",
        "refreshed 250 s before expiry",
    ):
        assert f"[ok  ] {scene}" in out
    assert "50 more requests, 0 invokes, 0 SSM calls" in out
    assert "FAIL" not in out
