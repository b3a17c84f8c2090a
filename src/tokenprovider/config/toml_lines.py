"""Line numbers of keys in a TOML document, so errors can say where a value was set.

`tomllib` gives values but not positions. This scanner reads a document that `tomllib`
has already accepted and records the line of every table header and ``key = value``;
keys inside an inline table share their table's line.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TypeVar

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

Path = tuple[str, ...]
V = TypeVar("V")
_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def key_lines(text: str) -> dict[Path, int]:
    """Map each key path (``("credentials", "oauth", "client_id")``) to its 1-based line."""
    lines: dict[Path, int] = {}
    table: Path = ()
    state = _State()
    for number, line in enumerate(_lines(text), start=1):
        if state.open:
            state.scan(line)
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("["):
            table = _header(stripped)
            lines.setdefault(table, number)
            continue
        key, rest = _split_key(stripped)
        path = table + key
        for depth in range(len(table) + 1, len(path) + 1):
            lines.setdefault(path[:depth], number)
        state.scan(rest)
    return lines


def has_comments(text: str) -> bool:
    """Whether a (valid) TOML document has any comment."""
    state = _State()
    return any(state.scan(line) for line in _lines(text))


def _lines(text: str) -> list[str]:
    """The lines of a TOML document: only LF and CRLF end one (not str.splitlines' NEL,
    U+2028 and others, which may appear in TOML strings and keys)."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def nearest(by_path: Mapping[Path, V], path: Path) -> V | None:
    """The value for ``path``, or for its nearest ancestor that has one (a line, an origin)."""
    for depth in range(len(path), 0, -1):
        found = by_path.get(path[:depth])
        if found is not None:
            return found
    return None


def _header(stripped: str) -> Path:
    inner = stripped[2:] if stripped.startswith("[[") else stripped[1:]
    keys, _ = _parse_keys(inner, stop="]")
    return keys


def _split_key(stripped: str) -> tuple[Path, str]:
    keys, rest = _parse_keys(stripped, stop="=")
    return keys, rest


def _parse_keys(text: str, *, stop: str) -> tuple[Path, str]:
    """Parse a dotted key up to ``stop``; return the keys and the text after ``stop``."""
    keys: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char in " \t.":
            i += 1
        elif char == stop:
            return tuple(keys), text[i + 1 :]
        elif char == '"':
            end = _end_of_basic(text, i + 1)
            keys.append(_basic_key(text[i : end + 1]))
            i = end + 1
        elif char == "'":
            end = text.index("'", i + 1)
            keys.append(text[i + 1 : end])
            i = end + 1
        else:
            start = i
            while i < len(text) and text[i] in _BARE:
                i += 1
            keys.append(text[start:i])
            if i == start:  # not valid TOML; tomllib would have refused it
                i += 1
    return tuple(keys), ""


def _basic_key(quoted_key: str) -> str:
    """The key a TOML basic string (``"a\\U0001F600"``) spells, by TOML's own escapes.

    Raises ValueError for a string TOML refuses (only `parse_key` can meet one).
    """
    try:
        (key,) = tomllib.loads(f"{quoted_key} = 0")
    except (tomllib.TOMLDecodeError, ValueError):
        raise ValueError(f"{quoted_key[:40]!r} is not a TOML quoted key") from None
    return str(key)


def _end_of_basic(text: str, i: int) -> int:
    """Index of the closing quote of a basic string whose content starts at ``i``."""
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i
        i += 1
    return len(text) - 1


class _State:
    """Whether a value continues on the next line (open brackets or multi-line string)."""

    def __init__(self) -> None:
        self.depth = 0
        self.quote: str | None = None

    @property
    def open(self) -> bool:
        return self.depth > 0 or self.quote is not None

    def scan(self, text: str) -> bool:
        """Advance over ``text``; True if it ends in a comment."""
        i = 0
        while i < len(text):
            if self.quote is not None:
                if self.quote == '"""' and text[i] == "\\":
                    i += 2
                    continue
                if text.startswith(self.quote, i):
                    i += 3
                    self.quote = None
                    continue
                i += 1
                continue
            char = text[i]
            if char == "#":
                return True
            if text.startswith('"""', i) or text.startswith("'''", i):
                self.quote = text[i : i + 3]
                i += 3
            elif char == '"':
                i = _end_of_basic(text, i + 1) + 1
            elif char == "'":
                end = text.find("'", i + 1)
                i = len(text) if end < 0 else end + 1
            else:
                if char in "[{":
                    self.depth += 1
                elif char in "]}":
                    self.depth -= 1
                i += 1
        return False


def dotted(path: Path) -> str:
    """``("profiles", "dev", "credentials")`` as the TOML key ``profiles.dev.credentials``."""
    return ".".join(key if key and all(c in _BARE for c in key) else quoted(key) for key in path)


def quoted(text: str) -> str:
    """``text`` as a TOML basic string."""
    escaped = []
    for char in text:
        if char in '"\\':
            escaped.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(char, f"\\u{ord(char):04x}"))
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def parse_key(text: str) -> Path:
    """A dotted key as written on a command line (``credentials.oauth.client_id``)."""
    keys, rest = _parse_keys(text.strip() + "=", stop="=")
    plain = not any(quote in text for quote in "\"'")
    if rest or not keys or not all(keys) or (plain and dotted(keys) != text.strip()):
        raise ValueError(f"{text!r} is not a dotted key like credentials.oauth.client_id")
    return keys
