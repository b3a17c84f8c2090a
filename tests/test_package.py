"""The package looks finished: licence, changelog, metadata, dependency groups, and a
project directory that a ``cache = "file:."`` setting leaves as it was."""

from __future__ import annotations

import re
import stat
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import run_python
from tokenprovider import Host, load_provider
from tokenprovider.errors import CacheError
from tokenprovider.testing import LocalOAuthServer

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
CHANGELOG = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
#: The subsections Keep a Changelog allows under a version.
KINDS = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


def test_the_licence_file_is_the_mit_licence_the_metadata_declares() -> None:
    assert PROJECT["license"] == "MIT"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    assert "Permission is hereby granted, free of charge" in text


def test_the_changelog_keeps_a_changelog() -> None:
    versions = re.findall(r"^## \[([^\]]+)\](.*)$", CHANGELOG, re.MULTILINE)
    assert versions[0] == ("Unreleased", "")
    released = dict(versions[1:])
    assert re.fullmatch(r" - \d{4}-\d{2}-\d{2}", released[PROJECT["version"]])
    kinds = set(re.findall(r"^### (.+)$", CHANGELOG, re.MULTILINE))
    assert kinds <= KINDS, kinds - KINDS
    assert not re.search(r"^#{1,3} (?!\[|Changelog|Added|Changed|Dep|Rem|Fixed|Sec)", CHANGELOG)


def test_the_classifiers_name_the_python_versions_and_the_status() -> None:
    classifiers = set(PROJECT["classifiers"])
    lowest = PROJECT["requires-python"].removeprefix(">=")
    assert f"Programming Language :: Python :: {lowest}" in classifiers
    assert f"Programming Language :: Python :: 3.{sys.version_info.minor}" in classifiers
    assert any(c.startswith("Development Status :: ") for c in classifiers)
    assert any(c.startswith("Operating System :: ") for c in classifiers)
    assert "License :: OSI Approved :: MIT License" not in classifiers  # `license` says it


def test_our_dev_tools_are_a_dependency_group_not_a_public_extra() -> None:
    extras = PROJECT["optional-dependencies"]
    assert set(extras) == {"aws", "crypto", "httpx", "jwt", "keyring", "testing"}
    tools = ("pytest", "ruff", "mypy", "hypothesis", "selenium")
    assert not [r for rs in extras.values() for r in rs if r.startswith(tools)]
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    dev = groups["dependency-groups"]["dev"]
    assert all(any(r.startswith(tool) for r in dev) for tool in tools)
    assert any(r.startswith("moto[server]") for r in extras["testing"])


def test_the_wheel_carries_the_licence_and_metadata(tmp_path: Path) -> None:
    result = run_python(
        "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
        "-w", str(tmp_path), str(ROOT), timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("tokenprovider-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(metadata_name).decode("utf-8")
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "License-Expression: MIT" in metadata
    assert "Classifier: Development Status :: " in metadata
    assert "Provides-Extra: testing" in metadata
    assert "Provides-Extra: dev" not in metadata
    assert not [n for n in names if n.startswith(("tests/", "examples/", "benchmarks/"))]


# --- cache = "file:." leaves the project directory's mode alone ---------------------------


def _project(workdir: Path, server: LocalOAuthServer, mode: int) -> Path:
    host = Host(server.domain, scheme="http")
    (workdir / ".tokenprovider.toml").write_text(
        "[credentials]\n"
        f'domain = "{host.domain}"\n'
        'scheme = "http"\n'
        'cache = "file:."\n'
        "[credentials.oauth]\n"
        f'token_url = "{server.token_url}"\n'
        'client_id = "id"\n'
        'client_secret = "secret-of-the-project"\n',
        encoding="utf-8",
    )
    (workdir / ".tokenprovider.toml").chmod(0o600)
    workdir.chmod(mode)
    return workdir


def test_a_file_cache_in_the_project_directory_keeps_its_mode(
    workdir: Path, env: dict[str, str]
) -> None:
    with LocalOAuthServer(clients={"id": "secret-of-the-project"}) as server:
        _project(workdir, server, 0o755)
        assert load_provider(env=env, cwd=workdir).token
        assert server.token_requests == 1
    assert stat.S_IMODE(workdir.stat().st_mode) == 0o755
    assert list(workdir.glob("*.json")), "the token was not cached in the project directory"


def test_a_group_writable_project_directory_is_refused_and_left_as_it_was(
    workdir: Path, env: dict[str, str]
) -> None:
    with LocalOAuthServer(clients={"id": "secret-of-the-project"}) as server:
        _project(workdir, server, 0o775)
        with pytest.raises(CacheError, match=r"mode 0775.*chmod go-w"):
            _ = load_provider(env=env, cwd=workdir).token
        assert server.token_requests == 0
    assert stat.S_IMODE(workdir.stat().st_mode) == 0o775
    assert not list(workdir.glob("*.json"))
