"""Hostile TOML: nesting, dotted keys and long numbers that tomllib cannot take are our
errors, found before parsing (tomllib would recurse, take seconds and gigabytes, or raise
its own errors). Run in children with time and memory bounds: they hung or died before."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import run_cli, run_python
from tokenprovider.config.toml_shape import MAX_DOTS_PER_LINE, MAX_NESTING, shape_problem

HOSTILE = {
    "nested-arrays": "x = " + "[" * 50_000 + "]" * 50_000 + "\n",
    "nested-inline-tables": "x = " + "{a = " * 20_000 + "1" + "}" * 20_000 + "\n",
    "long-header": "[" + ".".join(["t"] * 30_000) + "]\n",
    "dotted-key": ".".join(["k"] * 30_000) + " = 1\n",
    "long-integer": "x = " + "9" * 4400 + "\n",
}


def _load_in_child(workdir: Path) -> subprocess.CompletedProcess[str]:
    program = (
        "from tokenprovider.config import load_provider\n"
        "from tokenprovider.errors import ConfigurationError\n"
        "try:\n"
        "    load_provider()\n"
        "except ConfigurationError as exc:\n"
        "    print('ConfigurationError:', exc)\n"
    )
    env = {**os.environ, "XDG_CONFIG_HOME": str(workdir / "h"), "XDG_CONFIG_DIRS": ""}
    return run_python("-c", program, timeout=30, cwd=workdir, env=env, memory=1 << 30)


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_project_file_is_a_configuration_error(workdir: Path, text: str) -> None:
    (workdir / ".tokenprovider.toml").write_text(text)
    result = _load_in_child(workdir)
    assert result.stdout.startswith("ConfigurationError: configuration file"), (
        result.stdout + result.stderr[-2000:]
    )
    assert ".tokenprovider.toml" in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name", ["nested-arrays", "dotted-key", "long-integer"])
def test_the_cli_reports_a_hostile_file_in_one_line_with_exit_3(tmp_path: Path, name: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(HOSTILE[name])
    result = run_cli(config, "config", "show", cwd=tmp_path, timeout=30)
    assert result.returncode == 3, result.stderr[-2000:]
    assert len(result.stderr.strip().splitlines()) == 1
    assert str(config) in result.stderr


@pytest.mark.parametrize(
    "text",
    [
        '[credentials]\ndomain = "a.b.c.example.com"\n',
        'x = "' + "." * 500 + '"\n',  # dots in a string
        "x = '" + "[" * 500 + "'\n",  # brackets in a literal string
        'x = """\n' + "{" * 500 + '\n"""\n',  # and in a multi-line one
        "x = 1 # " + "." * 500 + "\n",  # and in a comment
        'x = "\\"' + "." * 500 + '"\n',  # after an escaped quote
        "x = " + "[" * MAX_NESTING + "]" * MAX_NESTING + "\n",
        ".".join(["k"] * (MAX_DOTS_PER_LINE + 1)) + " = 1\n",
    ],
    ids=["domain", "string", "literal", "multiline", "comment", "escape", "at-nesting", "at-dots"],
)
def test_ordinary_documents_pass_the_shape_check(text: str) -> None:
    assert shape_problem(text) is None


def test_the_limits_are_where_they_say() -> None:
    assert shape_problem("x = " + "[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1))
    assert shape_problem(".".join(["k"] * (MAX_DOTS_PER_LINE + 2)) + " = 1")
