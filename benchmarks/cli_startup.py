"""Start-up time of ``tokenprovider config show`` beside the interpreter's own start-up.

Each command runs RUNS times in a fresh process, with HOME and the XDG directories in a
temporary folder holding a small user file; the median and the fastest wall times are
printed side by side, with the budget (150 ms for ``config show``).

Run: ``make bench`` (or ``.venv/bin/python benchmarks/cli_startup.py``).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 21
BUDGET_MS = 150.0
USER_FILE = """\
[credentials]
domain = "api.example.com"
[credentials.oauth]
token_url = "https://login.example.com/oauth2/token"
client_id = "reporting"
client_secret = "env:REPORTING_SECRET"
scopes = ["read"]
"""


def _times(argv: list[str], env: dict[str, str], cwd: str) -> list[float]:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(argv, env=env, cwd=cwd, check=True, capture_output=True)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    with tempfile.TemporaryDirectory() as home:
        config = Path(home, ".config", "tokenprovider")
        config.mkdir(parents=True)
        (config / "config.toml").write_text(USER_FILE, encoding="utf-8")
        (config / "config.toml").chmod(0o600)
        env = {
            key: value for key, value in os.environ.items() if not key.startswith("TOKENPROVIDER_")
        }
        env.update(HOME=home, XDG_CONFIG_HOME=str(config.parent), XDG_CONFIG_DIRS=home)
        cases = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "python -c 'import tomllib'": [sys.executable, "-c", "import tomllib"],
            "tokenprovider --version": [sys.executable, "-m", "tokenprovider", "--version"],
            "tokenprovider config show": [sys.executable, "-m", "tokenprovider", "config", "show"],
        }
        print(f"{'command':<30} {'median ms':>10} {'fastest ms':>11}")
        for name, argv in cases.items():
            times = _times(argv, env, home)
            print(f"{name:<30} {statistics.median(times):>10.1f} {min(times):>11.1f}")
        print(f"budget for config show: {BUDGET_MS:.0f} ms ({RUNS} runs each)")


if __name__ == "__main__":
    main()
