"""The troubleshooting and security pages keep up with the code: docs/errors.md has an
entry for every public exception class and says what becomes of every private one, and
every defence in docs/security.md's threat list names tests (and code) that exist."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import tokenprovider
from tokenprovider.errors import TokenProviderError

ROOT = Path(__file__).resolve().parent.parent
ERRORS = ROOT / "docs" / "errors.md"
SECURITY = ROOT / "docs" / "security.md"
SOURCE = ROOT / "src" / "tokenprovider"
TESTS = ROOT / "tests"


def public_modules() -> list[str]:
    """Every module of the package whose dotted name has no ``_private`` part."""
    names = ["tokenprovider"]
    for module in pkgutil.walk_packages(tokenprovider.__path__, "tokenprovider."):
        if not any(part.startswith("_") for part in module.name.split(".")):
            names.append(module.name)
    return names


def public_exception_classes() -> dict[str, type[BaseException]]:
    """Every exception (and warning) class a public module defines under a public name."""
    found: dict[str, type[BaseException]] = {}
    for name in public_modules():
        module = importlib.import_module(name)
        for attribute, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == name
                and not attribute.startswith("_")
            ):
                found[attribute] = value
    return found


CLASSES = public_exception_classes()


def index_rows(text: str) -> dict[str, str]:
    """The rows of errors.md's class table: class name -> the rest of the row."""
    section = text.split("## Every class, and where its entries are", 1)[1].split("\n## ", 1)[0]
    return {
        match[1]: match[2] for match in re.finditer(r"^\| `(\w+)` \|(.*)$", section, re.MULTILINE)
    }


def example_lines(text: str) -> set[str]:
    """The class names that start a line of a ```text block (a message as Python shows it)."""
    names: set[str] = set()
    for block in re.findall(r"^```text\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        names.update(re.findall(r"^(\w+): ", block, re.MULTILINE))
    return names


def test_the_package_has_the_exception_classes_the_page_expects() -> None:
    """The introspection finds what it must (so the tests below cannot pass vacuously)."""
    assert {"TokenProviderError", "OAuthError", "LoginStoreError"} <= set(CLASSES)
    assert "InsecureConfigFileWarning" in CLASSES  # found outside tokenprovider.errors too
    assert not any(name.startswith("_") for name in CLASSES)


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_errors_page_has_a_row_for_every_public_exception_class(name: str) -> None:
    rows = index_rows(ERRORS.read_text(encoding="utf-8"))
    assert name in rows, f"docs/errors.md: add a row for `{name}` ({CLASSES[name].__module__})"
    assert re.search(r"\]\(#[\w-]+\)", rows[name]), f"the row of `{name}` links to no entry"


@pytest.mark.parametrize(
    "name",
    sorted(
        name
        for name, cls in CLASSES.items()
        if issubclass(cls, (TokenProviderError, Warning)) and name != "TokenProviderError"
    ),
)
def test_every_error_users_see_has_a_real_message_on_the_page(name: str) -> None:
    """An error (or warning) the library raises shows up on the page as a message,
    ``Name: text``, in a text block, so searching the page for the message finds it."""
    assert name in example_lines(ERRORS.read_text(encoding="utf-8")), (
        f"docs/errors.md has no message of `{name}` (a line `{name}: ...` in a text block)"
    )


def test_errors_page_rows_name_only_real_classes() -> None:
    rows = index_rows(ERRORS.read_text(encoding="utf-8"))
    assert set(rows) <= set(CLASSES), f"stale rows: {sorted(set(rows) - set(CLASSES))}"


def test_errors_page_links_only_to_its_own_sections() -> None:
    text = ERRORS.read_text(encoding="utf-8")
    headings = {
        re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in text.splitlines()
        if re.match(r"#{2,4} ", line)
    }
    for row in index_rows(text).values():
        for anchor in re.findall(r"\]\(#([\w-]+)\)", row):
            assert anchor in headings, f"docs/errors.md links to #{anchor}, not a section"


# -- docs/security.md ---------------------------------------------------------------------------


def threat_rows() -> list[list[str]]:
    """The body rows of the table under "## Threat list", split into their cells."""
    text = SECURITY.read_text(encoding="utf-8")
    section = text.split("## Threat list", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in re.split(r"(?<!\\)\|", lines[0])[1:-1]]
    assert header == ["threat", "what we do (code)", "enforced by", "what we do not defend against"]
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines[2:]]


def test_the_threat_list_has_its_rows() -> None:
    rows = threat_rows()
    assert len(rows) >= 20
    assert all(len(row) == 4 for row in rows), [row[0] for row in rows if len(row) != 4]


@pytest.mark.parametrize("row", threat_rows(), ids=lambda row: row[0][:40])
def test_each_defence_names_tests_that_exist(row: list[str]) -> None:
    named = re.findall(r"`tests/(test_\w+\.py)::(test_\w+)`", row[2])
    assert named, f"the threat {row[0]!r} names no test (`tests/test_x.py::test_y`)"
    for file, function in named:
        path = TESTS / file
        assert path.is_file(), f"{row[0]!r}: tests/{file} does not exist"
        source = path.read_text(encoding="utf-8")
        assert re.search(rf"^(async )?def {function}\(", source, re.MULTILINE), (
            f"{row[0]!r}: tests/{file} has no test {function}"
        )


@pytest.mark.parametrize("row", threat_rows(), ids=lambda row: row[0][:40])
def test_each_defence_points_at_code_that_exists(row: list[str]) -> None:
    files = re.findall(r"`([\w/]+\.py)`", row[1])
    assert files, f"the threat {row[0]!r} names no code (`core/cached.py`, ...)"
    for file in files:
        assert (SOURCE / file).is_file(), f"{row[0]!r}: src/tokenprovider/{file} does not exist"


def test_every_exception_class_defined_anywhere_is_on_the_page() -> None:
    # The public ones have their rows (above); the private ones, and any other, are in
    # "Exceptions you should never see" with what becomes of them.
    text = ERRORS.read_text(encoding="utf-8")
    never = text.split("## Exceptions you should never see", 1)[1]
    defined = set()
    for path in SOURCE.rglob("*.py"):
        for name, bases in re.findall(r"^class (\w+)\(([^)]*)\)", path.read_text(), re.MULTILINE):
            if re.search(r"Error\b|Exception\b|Warning\b", bases):
                defined.add(name)
    assert len(defined) >= 30
    listed = set(index_rows(text)) | set(re.findall(r"`(\w+)`", never))
    assert sorted(defined - listed) == []
