"""tokenprovider.testing: every helper is exported and documented, and the AWS helpers
without the ``testing`` extra fail with an error that says what to install."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

import tokenprovider.testing
from conftest import run_python
from tokenprovider.testing import pytest_plugin

DOCS = Path(__file__).resolve().parent.parent / "docs"
INSTALL = "pip install 'tokenprovider[testing]'"


def test_every_export_resolves_and_is_documented() -> None:
    text = (DOCS / "testing.md").read_text(encoding="utf-8")
    for name in tokenprovider.testing.__all__:
        assert getattr(tokenprovider.testing, name) is not None
        assert f"`{name}`" in text, f"docs/testing.md does not name {name}"


def test_every_helper_the_docs_name_is_exported() -> None:
    text = "\n".join((DOCS / page).read_text(encoding="utf-8") for page in ("testing.md", "tds.md"))
    named = set(re.findall(r"`([A-Z][A-Za-z]+)`", text))
    helpers = {
        name
        for module in (
            "clock",
            "http_recorder",
            "lambda_server",
            "moto",
            "oauth_server",
            "github_actions",
            "keys",
            "_assertions",
        )
        for name, value in inspect.getmembers(
            importlib.import_module(f"tokenprovider.testing.{module}"), inspect.isclass
        )
        if value.__module__.startswith("tokenprovider.testing")
    } | {"LocalTokenDispenser", "TokenDispenserHandler"}
    missing = {name for name in named & helpers if name not in tokenprovider.testing.__all__}
    assert not missing, f"named in the docs but not exported: {sorted(missing)}"


def test_every_fixture_is_documented() -> None:
    text = (DOCS / "testing.md").read_text(encoding="utf-8")
    fixtures = [
        name
        for name, value in vars(pytest_plugin).items()
        if hasattr(value, "_fixture_function_marker")
        or type(value).__name__ == "FixtureFunctionDefinition"
    ]
    assert {"oauth_server", "foreign_server", "fake_clock", "tds_dispenser"} <= set(fixtures)
    for name in fixtures:
        assert f"| `{name}` |" in text, f"the fixture {name} is not in docs/testing.md's table"


def test_the_exports_import_without_moto_or_boto3() -> None:
    program = (
        "from tokenprovider.testing import LocalTokenDispenser, MotoServer, LocalLambdaServer\n"
        "import sys\n"
        "assert 'moto' not in sys.modules and 'boto3' not in sys.modules\n"
    )
    result = run_python("-c", program, timeout=60, without=("moto", "boto3", "botocore"))
    assert result.returncode == 0, result.stderr


_START = """\
from tokenprovider.errors import MissingExtraError
from tokenprovider.testing import {name}
try:
    {name}().start()
except MissingExtraError as exc:
    assert exc.__cause__ is None and exc.__suppress_context__, "no chained import error"
    print(exc)
else:
    raise SystemExit("started without the testing extra")
"""


@pytest.mark.parametrize(
    ("name", "without", "missing"),
    [
        ("MotoServer", ("moto",), "moto"),
        ("LocalTokenDispenser", ("moto",), "moto"),
        ("LocalTokenDispenser", ("boto3", "botocore"), "boto3"),
    ],
)
def test_an_aws_helper_without_the_extra_names_it(
    name: str, without: tuple[str, ...], missing: str
) -> None:
    result = run_python("-c", _START.format(name=name), timeout=60, without=without)
    assert result.returncode == 0, result.stdout + result.stderr
    message = result.stdout.strip()
    assert f"tokenprovider.testing.{name} needs {missing}" in message
    assert message.endswith(INSTALL)


def test_the_tds_dispenser_fixture_without_moto_names_the_extra(tmp_path: Path) -> None:
    (tmp_path / "test_mine.py").write_text("def test_it(tds_dispenser):\n    pass\n")
    result = run_python(
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",  # plugins the test does not need, each seconds to load; ours is loaded as usual
        "no:hypothesispytest",
        "-p",
        "no:anyio",
        "--rootdir",
        str(tmp_path),
        str(tmp_path / "test_mine.py"),
        timeout=60,
        cwd=tmp_path,
        without=("moto",),
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "MissingExtraError: the tds_dispenser fixture needs moto" in result.stdout
    assert INSTALL in result.stdout
    assert "1 error" in result.stdout
