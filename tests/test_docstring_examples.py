"""The examples in docstrings, which the site's API reference shows, run: each module's
under doctest, in a child process with a time bound, a fresh ``HOME`` holding
`USER_CONFIG`, and no ``AWS_*`` or ``TOKENPROVIDER_*`` variables. The public names of
``tokenprovider`` and of the module's package are at hand, as a reader would import them.
An example line that cannot run here is in `NOT_RUN`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"

#: Example lines marked ``# doctest: +SKIP``, with why they cannot run here.
NOT_RUN = {
    "tokenprovider/__init__.py": "requests.get to api.example.com, beyond loopback",
    "tokenprovider/sources/__init__.py": "reads a Kubernetes token file this machine lacks",
}

#: The user's configuration the examples of `load_provider` read.
USER_CONFIG = """\
[credentials]
domain = "api.example.com"
jwt = "env:API_JWT"

[profiles.dispenser.credentials]
domain = "cmr.example.com"

[profiles.dispenser.credentials.tds]
client_id = "myclient"
region = "us-west-2"
"""

#: Runs one module's examples with the public names at hand; prints attempted, failed.
_RUNNER = """
import doctest, importlib, sys
import requests
import tokenprovider
module = importlib.import_module(sys.argv[1])
names = {}
for facade in (tokenprovider, importlib.import_module(sys.argv[2])):
    names.update({name: getattr(facade, name) for name in facade.__all__})
result = doctest.testmod(module, extraglobs={**names, "requests": requests},
                         optionflags=doctest.ELLIPSIS)
print(result.attempted, result.failed)
"""


def modules_with_examples() -> list[str]:
    found = []
    for path in sorted((SRC / "tokenprovider").rglob("*.py")):
        if re.search(r"^\s*>>> ", path.read_text(encoding="utf-8"), flags=re.MULTILINE):
            found.append(path.relative_to(SRC).as_posix())
    return found


def test_the_examples_are_found_and_only_the_listed_ones_are_skipped() -> None:
    found = modules_with_examples()
    assert len(found) >= 6
    skipping = [p for p in found if "doctest: +SKIP" in (SRC / p).read_text(encoding="utf-8")]
    assert skipping == sorted(NOT_RUN)


@pytest.mark.parametrize("path", modules_with_examples())
def test_a_modules_docstring_examples_run(path: str, tmp_path: Path) -> None:
    module = path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    config = tmp_path / ".config" / "tokenprovider" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(USER_CONFIG, encoding="utf-8")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "TOKENPROVIDER_")) and k not in ("HOME", "XDG_CONFIG_HOME")
    }
    env.update(HOME=str(tmp_path), API_JWT="eyJhbGciOiJub25lIn0.e30.", PYTHONWARNINGS="ignore")
    done = subprocess.run(
        [sys.executable, "-c", _RUNNER, module, package],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    attempted, failed = map(int, done.stdout.split()[-2:])
    assert (attempted > 0, failed) == (True, 0), done.stdout + done.stderr
