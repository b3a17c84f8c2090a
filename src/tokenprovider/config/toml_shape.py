"""A cheap look at a TOML document's shape before `tomllib` parses it.

`tomllib` recurses once per level of nesting (arrays, inline tables), so a document nested
tens of thousands deep raises `RecursionError`, and it handles a dotted key in time that
grows with the square of its parts, so a 60 KB key of 30,000 parts takes seconds and
gigabytes. A configuration file may come from a cloned repository: these are refused
first, by a scan that skips strings and comments and counts only what matters.
"""

from __future__ import annotations

import re

#: The deepest nesting of arrays and inline tables a configuration file may have.
MAX_NESTING = 32
#: The most dots (key separators, or decimal points) one line may hold outside strings.
MAX_DOTS_PER_LINE = 100

_SPECIAL = re.compile(r'"""|\'\'\'|["\'\\#\n\[\]{}.]')
_CLOSERS = {'"': '"', "'": "'", '"""': '"""', "'''": "'''"}


def shape_problem(text: str) -> str | None:
    """Why ``text`` is refused before parsing (nested or dotted too deeply), or None."""
    depth = dots = 0
    line = 1
    inside: str | None = None  # the opening quotes of the string we are in, or "#"
    position = 0
    while (match := _SPECIAL.search(text, position)) is not None:
        token = match.group()
        position = match.end()
        if token == "\n":
            line += 1
            dots = 0
            if inside in ('"', "'", "#"):
                inside = None
        elif inside is not None:
            inside, skip = _within(inside, token)
            position += skip
        elif token in _CLOSERS or token == "#":
            inside = token
        elif token in "[{":
            depth += 1
            if depth > MAX_NESTING:
                return f"nests arrays or tables more than {MAX_NESTING} deep (line {line})"
        elif token in "]}":
            depth = max(0, depth - 1)
        elif token == ".":
            dots += 1
            if dots > MAX_DOTS_PER_LINE:
                return f"has a key of more than {MAX_DOTS_PER_LINE} dotted parts (line {line})"
    return None


def _within(inside: str, token: str) -> tuple[str | None, int]:
    """Inside a string or comment that opened with ``inside``: what is open after
    ``token``, and how many characters to skip (an escaped one)."""
    if inside == "#":
        return inside, 0
    if token == "\\" and inside in ('"', '"""'):
        return inside, 1
    return (None if token == _CLOSERS[inside] else inside), 0
