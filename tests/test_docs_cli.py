"""The command reference cannot drift from the parser.

docs/cli.md has a table with one row per command, its first cell the command as typed
(`` `tokenprovider config set KEY VALUE [--user\\|--project\\|--file F]` ``): every
command and option of `build_parser()` must appear there, and nothing else. The options
every command takes (``--config``, ``--debug``, ``--help``) are described once, above the
table. docs/configuration.md lists the commands too (names only).
"""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from tokenprovider.cli.parser import build_parser

DOCS = Path(__file__).resolve().parent.parent / "docs"
COMMON = frozenset({"--config", "--debug", "--help"})


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> set[str]:
    """The long options of ``parser`` (a short one where it has no long form)."""
    found = set()
    for action in parser._actions:
        if not action.option_strings:
            continue
        long = [option for option in action.option_strings if option.startswith("--")]
        found.update(long or action.option_strings)
    return found - COMMON


def parser_commands(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, set[str]]:
    """Every command the parser runs (``"config show"``; ``""`` for the top level, with
    ``--version``), with its options."""
    commands = {prefix: _options(parser)} if prefix == "" else {}
    for name, sub in _subcommands(parser).items():
        path = f"{prefix} {name}".strip()
        if _subcommands(sub):
            commands.update(parser_commands(sub, path))
        else:
            commands[path] = _options(sub)
    return commands


def documented_commands(text: str) -> dict[str, set[str]]:
    """The commands in the rows of ``text``'s tables whose first cell is
    `` `tokenprovider ...` ``, with the options each row names."""
    commands: dict[str, set[str]] = {}
    for cell in re.findall(r"^\| `tokenprovider([^`]*)`", text, flags=re.MULTILINE):
        words = cell.split()
        name = []
        for word in words:
            if not re.fullmatch(r"[a-z][a-z-]*", word):
                break
            name.append(word)
        path = " ".join(name)
        assert path not in commands, f"two rows for {path!r}"
        commands[path] = set(re.findall(r"--[a-z][a-z-]*", cell))
    return commands


def test_docs_cli_lists_every_command_and_option() -> None:
    real = parser_commands(build_parser())
    documented = documented_commands((DOCS / "cli.md").read_text(encoding="utf-8"))
    problems = [
        f"{name or 'tokenprovider'}: not in docs/cli.md" for name in real.keys() - documented
    ]
    problems += [f"{name}: documented, but no such command" for name in documented.keys() - real]
    for name in real.keys() & documented.keys():
        problems += [f"{name} {option}: not documented" for option in real[name] - documented[name]]
        problems += [f"{name} {option}: no such option" for option in documented[name] - real[name]]
    assert not problems, sorted(problems)


def test_the_reader_finds_commands_and_options() -> None:
    text = (
        "| `tokenprovider config set KEY VALUE [--user\\|--file F]` | x |\n"
        "| `tokenprovider --version` | y |\n"
        "| `tokenprovider demo` | z |\n"
    )
    assert documented_commands(text) == {
        "config set": {"--user", "--file"},
        "": {"--version"},
        "demo": set(),
    }
    real = parser_commands(build_parser())
    assert real[""] == {"--version"}
    assert "--origin" in real["config show"]
    assert "--tds" in real["demo"]


def test_configuration_page_names_every_command() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z]+(?: [a-z-]+)?)", text, flags=re.MULTILINE))
    expected = set(parser_commands(build_parser())) - {""}
    assert expected <= documented, sorted(expected - documented)


#: A ``tokenprovider`` command in a shell line: at the start, or after ``;``, ``&&``,
#: ``|`` or ``$(``; its arguments run to the next of those, a redirection or a comment.
_COMMAND = re.compile(r"(?:^|[;&|(]\s*)tokenprovider((?:\s+[^\s;&|)>#]+)*)")
_SHELL = re.compile(r"^```(console|sh|shell|bash)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def shell_commands(text: str) -> list[list[str]]:
    """The arguments of every ``tokenprovider`` command in a page's shell blocks (in a
    ``console`` block, the lines after a ``$`` prompt; the others are output)."""
    found = []
    for block in _SHELL.finditer(text):
        for line in block.group(2).splitlines():
            if block.group(1) == "console" and not line.startswith("$ "):
                continue
            command = line.removeprefix("$ ")
            found += [shlex.split(match.group(1)) for match in _COMMAND.finditer(command)]
    return found


def test_every_command_the_pages_show_is_one_the_parser_takes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    pages = [DOCS.parent / "README.md", *sorted(DOCS.glob("*.md"))]
    shown = [(page.name, args) for page in pages for args in shell_commands(page.read_text())]
    assert len(shown) >= 10
    refused = []
    for page, args in shown:
        try:
            build_parser().parse_args(args)
        except SystemExit:
            refused.append(f"{page}: tokenprovider {shlex.join(args)}")
    capsys.readouterr()
    assert refused == []


def test_the_shell_commands_are_found() -> None:
    text = (
        "```console\n"
        "$ tokenprovider token >/dev/null; tokenprovider header --bogus  # one\n"
        '$ curl -H "$(tokenprovider header)" https://x\n'
        "$ pip install 'tokenprovider[aws]'\n"
        "tokenprovider: error: output, not a command\n"
        "```\n"
    )
    assert shell_commands(text) == [["token"], ["header", "--bogus"], ["header"]]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["header", "--bogus"])
