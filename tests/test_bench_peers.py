"""benchmarks/peers.py keeps working: a quick run prints its two tables whole, and
tokenprovider's counted targets hold in it (counts only; the seconds are the benchmark's)."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest

from conftest import run_python

PEERS = Path(__file__).resolve().parent.parent / "benchmarks" / "peers.py"
COLUMNS = {
    "requests": [
        "constant header",
        "tokenprovider",
        "seed design",
        "authlib",
        "requests-auth",
        "requests-oauthlib",
    ],
    "httpx.AsyncClient": ["constant header", "tokenprovider", "authlib", "httpx-auth"],
}
ROWS = {"requests": 10, "httpx.AsyncClient": 11}
HOT = re.compile(r"\d+\.\d\d µs \(-?\d+\.\d\dx\)")

Table = dict[str, dict[str, str]]


def tables(output: str) -> tuple[str, dict[str, Table], list[str]]:
    """The header line, each table as row label -> column -> cell, and each table's columns."""
    header, *rest = output.strip().split("\n### ")
    found: dict[str, Table] = {}
    columns: list[str] = []
    for section in rest:
        title, _, body = section.partition("\n")
        lines = [line for line in body.splitlines() if line.startswith("|")]
        names = [cell.strip() for cell in lines[0].strip("|").split("|")][1:]
        columns.append(f"{title}: {', '.join(names)}")
        assert set(lines[1].strip("|").split("|")) == {"---"}
        found[title] = {}
        for line in lines[2:]:
            label, *cells = (cell.strip() for cell in line.strip("|").split("|"))
            assert len(cells) == len(names), line
            found[title][label] = dict(zip(names, cells, strict=True))
    return header, found, columns


@pytest.fixture(scope="module")
def quick() -> tuple[str, dict[str, Table], list[str]]:
    child = run_python(str(PEERS), "--quick", timeout=150)
    assert child.returncode == 0, child.stderr
    assert child.stderr == ""
    return tables(child.stdout)


def row(table: Table, starts: str) -> dict[str, str]:
    (label,) = (label for label in table if label.startswith(starts))
    return table[label]


def test_the_header_names_date_python_cores_and_every_version(quick):
    header, _, _ = quick
    assert re.match(r"\d{4}-\d\d-\d\d · Python 3\.\d+\.\d+ · \d+ cores · ", header)
    names = ("tokenprovider", "requests", "httpx", "requests-auth", "authlib", "httpx-auth")
    for name in (*names, "requests-oauthlib", "oauthlib"):
        assert f"{name} {metadata.version(name)}" in header
    assert "seed design rebuilt from foundry-dev-tools' documentation" in header


def test_two_tables_with_every_library_and_every_row_filled(quick):
    _, found, columns = quick
    assert columns == [f"{title}: {', '.join(names)}" for title, names in COLUMNS.items()]
    for title, table in found.items():
        assert len(table) == ROWS[title]
        for label, cells in table.items():
            for name, cell in cells.items():
                if name == "constant header" and not label.startswith("hot path"):
                    assert cell == "—"
                else:
                    assert cell not in ("", "—"), (title, label, name)


def test_the_hot_path_row_gives_times_and_ratios_to_the_constant_header(quick):
    _, found, _ = quick
    for table in found.values():
        cells = row(table, "hot path")
        assert all(HOT.fullmatch(cell) for cell in cells.values()), cells
        assert cells["constant header"].endswith("(1.00x)")


@pytest.mark.parametrize("title", list(COLUMNS))
def test_tokenprovider_makes_one_token_request_for_a_cold_herd(quick, title):
    _, found, _ = quick
    assert row(found[title], "herd of")["tokenprovider"] == "1"


@pytest.mark.parametrize("title", list(COLUMNS))
def test_tokenprovider_gets_no_401_while_tokens_expire(quick, title):
    _, found, _ = quick
    table = found[title]
    callers = "threads" if title == "requests" else "tasks"
    assert row(table, f"2-s tokens, 8 {callers}: 401s")["tokenprovider"] == "0"
    # meanwhile tokens did roll over, requests were made and none raised
    assert int(row(table, f"2-s tokens, 8 {callers}: token requests")["tokenprovider"]) >= 1
    made = row(table, f"2-s tokens, 8 {callers}: requests made")["tokenprovider"]
    assert re.fullmatch(r"[1-9]\d* \(0\)", made), made


@pytest.mark.parametrize("title", list(COLUMNS))
def test_tokenprovider_first_request_succeeds_after_two_503s(quick, title):
    _, found, _ = quick
    # two 503s, then the token: three token requests, and the request got its 200
    assert row(found[title], "first request after two 503s")["tokenprovider"] == "yes (3)"
