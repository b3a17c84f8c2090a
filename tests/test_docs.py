"""The configuration reference cannot drift from the registry or the command line."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from tokenprovider.cli.parser import build_parser as _parser
from tokenprovider.config.reference import DOCS_BEGIN, DOCS_END, markdown
from tokenprovider.config.registry import BUILT_INS, Registry

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _generated_block(text: str) -> str:
    start = text.index(DOCS_BEGIN)
    end = text.index(DOCS_END) + len(DOCS_END)
    return text[start:end]


def test_provider_reference_matches_the_registry() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    assert _generated_block(text) == markdown(), (
        "docs/configuration.md is stale: paste in the output of "
        "python -c 'from tokenprovider.config.reference import markdown; print(markdown())'"
    )


def test_reference_covers_every_built_in_and_setting() -> None:
    block = _generated_block((DOCS / "configuration.md").read_text(encoding="utf-8"))
    registry = Registry(group="tokenprovider.no-plugins")
    for name in BUILT_INS:
        assert f"### `{name}`" in block
        cls = registry.get(name)
        assert cls is not None
    assert "| `client_secret` |" in block
    assert "| `retry.max_attempts` | int | 4 |" in block


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_every_command_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z]+(?: [a-z]+)?)", text, flags=re.MULTILINE))
    commands = _subcommands(_parser())
    expected = {f"config {action}" for action in _subcommands(commands["config"])}
    expected |= {name for name in commands if name != "config"}
    assert expected <= documented, sorted(expected - documented)
