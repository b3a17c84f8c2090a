"""The shell blocks of README.md and docs/ hold up: ``tokenprovider`` commands are parsed
(`test_docs_cli.py`); here the other commands are run where they can be, or checked
against what they name where running them would leave loopback:

- ``pip install 'tokenprovider[EXTRA]'``: each extra is one ``pyproject.toml`` defines;
- ``make TARGET``: each target is one the Makefile defines (CI runs ``make test``);
- ``openssl``: run in a temporary directory; the key it makes signs a client assertion
  that `LocalOAuthServer` accepts against the public key it writes;
- ``aws dynamodb``: each call is made with boto3 against moto, with the same parameters
  (the AWS CLI's shorthand read here), and the table it makes is the one
  ``create_table`` makes, and one `DynamoDBTokenCache` works with.

Any other command in a shell block fails `test_every_shell_command_is_covered`, but for
`STAND_INS` and programs named ``my-...``, which stand for the reader's own.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

from conftest import CANARY_SECRET
from tokenprovider import OAuthTokenProvider, SecretReference
from tokenprovider.caches import DynamoDBTokenCache, create_table
from tokenprovider.testing.oauth_server import LocalOAuthServer

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_SHELL = re.compile(r"^```(console|sh|shell|bash)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def shell_lines() -> list[tuple[str, str]]:
    """(page, command) for each command line of every shell block: in a ``console`` block
    the lines after a ``$`` prompt, in the others every line; comments dropped."""
    found = []
    for page in PAGES:
        for block in _SHELL.finditer(page.read_text(encoding="utf-8")):
            for line in block.group(2).splitlines():
                if block.group(1) == "console" and not line.startswith("$ "):
                    continue
                command = line.removeprefix("$ ").split("  #")[0].strip()
                if command and not command.startswith("#"):
                    found.append((page.name, command))
    return found


def commands(program: str) -> list[tuple[str, list[str]]]:
    """(page, arguments) of every ``program`` command, the lines split at ``&&`` and ``;``."""
    found = []
    for page, line in shell_lines():
        for part in re.split(r"&&|;", line):
            words = shlex.split(part)
            if words and words[0] == program:
                found.append((page, words[1:]))
    return found


#: Programs the pages show that stand for the reader's own: ``curl`` (its
#: ``$(tokenprovider header)`` is parsed by `test_docs_cli.py`) and ``my-job``-style names.
STAND_INS = ("curl",)


def test_every_shell_command_is_covered() -> None:
    covered = ("tokenprovider", "pip", "make", "openssl", "aws", *STAND_INS)
    others = []
    for page, line in shell_lines():
        for part in re.split(r"&&|;", line):
            words = [w for w in shlex.split(part) if not re.fullmatch(r"[A-Z_]+=.*", w)]
            if words and words[0] not in covered and not words[0].startswith("my-"):
                others.append(f"{page}: {part.strip()}")
    assert others == []


def test_every_extra_pip_is_told_to_install_exists() -> None:
    extras = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    )
    named = []
    for page, args in commands("pip"):
        assert args[0] == "install", (page, args)
        for requirement in args[1:]:
            match = re.fullmatch(r"tokenprovider\[([a-z,]+)\]", requirement)
            assert match, (page, requirement)
            named += [(page, extra) for extra in match.group(1).split(",")]
    assert len(named) >= 4
    assert [(page, extra) for page, extra in named if extra not in extras] == []


def test_every_make_target_the_pages_name_exists() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, flags=re.MULTILINE))
    named = [(page, args[0]) for page, args in commands("make")]
    assert {"demo", "test"} <= {target for _, target in named}
    assert [(page, t) for page, t in named if t not in targets] == []


def test_the_openssl_commands_make_a_key_the_server_accepts(tmp_path: Path) -> None:
    shown = commands("openssl")
    assert len(shown) == 2
    for _, args in shown:
        subprocess.run(
            ["openssl", *args], cwd=tmp_path, check=True, capture_output=True, timeout=60
        )
    public = (tmp_path / "public.pem").read_text()
    with LocalOAuthServer(client_keys={"reporting": public}) as server:
        provider = OAuthTokenProvider(
            server.url,
            "reporting",
            token_url=server.token_url,
            client_auth="private_key_jwt",
            private_key=SecretReference(f"file:{tmp_path / 'key.pem'}"),
        )
        assert provider.token
        assert server.token_requests == 1


def _shorthand(value: str) -> Any:
    """The AWS CLI's shorthand ``Name=value,Name=value`` as a dict (``true``: a bool)."""
    if "=" not in value:
        return value
    pairs = (item.split("=", 1) for item in value.split(","))
    return {key: {"true": True, "false": False}.get(v, v) for key, v in pairs}


#: The parameters that take a list (one shorthand item each, here).
_LISTS = {"AttributeDefinitions", "KeySchema"}


def _boto3_call(args: list[str]) -> tuple[str, str, dict[str, Any]]:
    """``("call" or "wait", operation or waiter, parameters)`` of ``aws dynamodb ARGS``."""
    assert args[0] == "dynamodb", args
    rest = args[1:]
    kind = "wait" if rest[0] == "wait" else "call"
    if kind == "wait":
        rest = rest[1:]
    operation, options = rest[0].replace("-", "_"), rest[1:]
    params: dict[str, Any] = {}
    for name, value in zip(options[::2], options[1::2], strict=True):
        key = "".join(word.title() for word in name.removeprefix("--").split("-"))
        params[key] = [_shorthand(value)] if key in _LISTS else _shorthand(value)
    return kind, operation, params


def _table(client: Any, name: str) -> dict[str, Any]:
    described = client.describe_table(TableName=name)["Table"]
    ttl = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    return {
        "keys": described["KeySchema"],
        "attributes": described["AttributeDefinitions"],
        "billing": described["BillingModeSummary"]["BillingMode"],
        "ttl": (ttl["TimeToLiveStatus"], ttl.get("AttributeName")),
    }


def test_the_aws_cli_commands_make_the_table_create_table_makes(aws_env: str) -> None:
    import boto3  # noqa: PLC0415 - only the AWS tests load it

    client = boto3.client("dynamodb")
    shown = commands("aws")
    assert [page for page, _ in shown] == ["caches.md"] * 3
    for _, args in shown:
        kind, operation, params = _boto3_call(args)
        if kind == "wait":
            client.get_waiter(operation).wait(**params)
        else:
            getattr(client, operation)(**params)
    assert create_table("Reference", endpoint_url=aws_env, region="us-west-2")
    assert _table(client, "Tokens") == _table(client, "Reference")
    assert _table(client, "Tokens")["ttl"] == ("ENABLED", "ttl")
    with LocalOAuthServer(clients={"reporting": CANARY_SECRET}) as server:
        provider = OAuthTokenProvider(
            server.url,
            "reporting",
            CANARY_SECRET,
            token_url=server.token_url,
            cache=DynamoDBTokenCache("Tokens", region="us-west-2", key=os.urandom(32)),
        )
        token = provider.token
    items = client.scan(TableName="Tokens", ConsistentRead=True)["Items"]
    assert len(items) == 2  # the salt item and the token's
    assert token not in str(items)  # sealed


@pytest.mark.parametrize("page", ["README.md", "index.md"])
def test_the_two_commands_are_shown_first_on_the_front_pages(page: str) -> None:
    first = [args for name, args in commands("make") if name == page][:2]
    assert first == [["demo"], ["test"]]
