"""Every program in examples/ runs, exits 0 and prints what proves it did its job.

Each example runs as a new user would run it (``python examples/NAME.py``), in a child
process with a time bound and a clean environment: no ``TOKENPROVIDER_*``, ``AWS_*``,
``XDG_*`` or proxy variables, and a home in ``tmp_path``, so neither this machine's
configuration nor its AWS credentials play a part. The examples are found by listing the
directory: one without an entry in `EXPECTED` fails, so none can be added untested.
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

import pytest

from conftest import run_python

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

#: Lines each example must print (whole lines, in any order).
EXPECTED: dict[str, tuple[str, ...]] = {
    "requests_oauth.py": (
        "requests.get with auth=provider: 200",
        "after revocation: 200 (history: [<Response [401]>])",
        "token sent to another host: no",
        "token requests: 2",
    ),
    "async_httpx.py": (
        "100 concurrent requests: {200: 100}",
        "token requests after them: 1",
        "after revocation: {200: 100}",
        "requests retried after a 401: 100",
        "token requests in all: 2",
    ),
    "events_metrics.py": (
        "  advisory_backoff:OAuthError: 1",
        "  fetch_started: 3",
        "  fetch_succeeded: 2",
        "  invalidated: 1",
        "  le=0.025: 0",  # the token endpoint takes 50 ms
        "  le=inf: 3",
        "token requests: 3",
    ),
    "custom_provider_plugin.py": (
        "configuration built: SignedTokenProvider (lifetime 600 s)",
        "API calls: 3, distinct tokens sent: 1",
        "tokens signed: 1",
    ),
    "two_profiles.py": (
        "  staging API answered 200",
        "  production API answered 200",
        "token requests to staging: 1",
        "token requests to production: 1",
    ),
    "lambda_tds_consumer.py": (
        "API calls: 5, each with a valid dispenser token: yes",
        "dispenser invocations: 1",
    ),
    "shared_file_cache.py": (
        "processes: 4, exit codes: [0, 0, 0, 0]",
        "distinct tokens among them: 1",
        "token requests: 1",
    ),
    "login_and_call.py": (
        "first run:",
        "no login yet: logging in",
        "logged in as alice",
        "second run:",
        "API answered 200",
        "logins: 1",
        "token requests: 1",
    ),
    "metadata_bank_migration.py": (
        "container 2 got the same token from the table: yes",
        "token readable in the table: no (sealed)",
        "token requests: 1",
    ),
    "kubernetes_token_file.py": (
        "first call: API answered 200, client assertion: token 1",
        "after token 1 expired: API answered 200, client assertion: token 2",  # renewed
        "after the kubelet stopped: AssertionSourceError:",
        "  names the file: yes",
        "  shows the token: no",
        "  token requests sent with the expired token: 0",  # refused before sending
        "federated assertions verified by the server: 2",
    ),
    "token_exchange.py": (
        "downstream API answered 200",
        "exchanged token: subject 'reporting', audience ['downstream-api']",
        "subject token sent: urn:ietf:params:oauth:token-type:access_token",
        "token requests: 2 (one for each provider)",  # three calls, each token cached
    ),
}

#: What a person does for an example, as environment variables: the browser that
#: `webbrowser` opens is tests/http_person.py, which logs alice in.
PERSON = {
    "login_and_call.py": {
        "BROWSER": f"{sys.executable} {Path(__file__).resolve().parent / 'http_person.py'} %s",
        "PERSON_PASSWORD": "wonderland",
    },
}

_PROXIES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


def example_names() -> list[str]:
    return sorted(path.name for path in EXAMPLES.glob("*.py"))


def clean_env(tmp_path: Path) -> dict[str, str]:
    """This process's environment without our, AWS's, XDG's or proxy variables; a home
    (and XDG directories) in ``tmp_path``."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith(("TOKENPROVIDER_", "AWS_", "XDG_"))
        and name.lower() not in _PROXIES
    }
    home = tmp_path / "home"
    home.mkdir()
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_CONFIG_DIRS=str(tmp_path / "etc"),
    )
    return env


def test_examples_exist() -> None:
    assert len(example_names()) >= len(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_expectation_names_an_example(name: str) -> None:
    assert (EXAMPLES / name).is_file(), f"EXPECTED names {name}, which examples/ lacks"


@pytest.mark.parametrize("name", example_names())
def test_example_runs(name: str, tmp_path: Path) -> None:
    if name not in EXPECTED:
        pytest.fail(f"examples/{name} has no entry in EXPECTED in {Path(__file__).name}")
    work = tmp_path / "work"
    work.mkdir()

    env = {**clean_env(tmp_path), **PERSON.get(name, {})}
    result = run_python(str(EXAMPLES / name), timeout=90, env=env, cwd=work)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""  # no warning, no traceback
    printed = result.stdout.splitlines()
    for line in EXPECTED[name]:
        assert line in printed, f"{name} did not print {line!r}:\n{result.stdout}"
    assert list(work.iterdir()) == []  # it left nothing in the working directory


@pytest.mark.parametrize("name", example_names())
def test_example_says_what_it_needs(name: str) -> None:
    source = (EXAMPLES / name).read_text()
    docstring = ast.get_docstring(ast.parse(source)) or ""
    assert "Needs" in docstring, f"{name}: the docstring does not say what it needs"
    assert 'if __name__ == "__main__":' in source  # importable without running


@pytest.mark.parametrize("name", example_names())
def test_example_is_in_the_readme(name: str) -> None:
    assert f"[{name}]({name})" in (EXAMPLES / "README.md").read_text()
