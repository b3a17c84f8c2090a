"""Showing configuration: secrets masked, as TOML, optionally with each value's origin.

Masking is by setting name (`tokenprovider.masking.is_secret_key`), so a plugin's
``api_key`` or ``password`` is hidden too: a literal secret shows as ``<set>``, a secret
reference as ``<reference env:NAME>`` (where the value comes from, never the value).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from tokenprovider.config.toml_lines import dotted, quoted
from tokenprovider.masking import SET, is_secret_key
from tokenprovider.secret_refs import is_reference

KeyPath = tuple[str, ...]
OriginText = Callable[[KeyPath], "str | None"]


def masked(value: Any, key: str = "") -> Any:
    """``value`` with every secret-looking setting replaced by a placeholder."""
    if isinstance(value, Mapping):
        return {name: masked(item, str(name)) for name, item in value.items()}
    if is_secret_key(key):
        if is_reference(value):
            return f"<reference {value}>"
        return str(SET)
    if isinstance(value, list):
        return [masked(item, key) for item in value]
    return value


def render(data: Mapping[str, Any], origin_text: OriginText | None = None) -> str:
    """``data`` (already masked) as TOML; with ``origin_text``, a comment after each value."""
    lines: list[str] = []
    _table(data, (), lines, origin_text)
    return "\n".join(lines).strip("\n") + "\n"


def _table(
    table: Mapping[str, Any], path: KeyPath, lines: list[str], origin_text: OriginText | None
) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, Mapping)}
    tables = {k: v for k, v in table.items() if isinstance(v, Mapping)}
    if path and (scalars or not tables):
        lines.extend(["", f"[{dotted(path)}]"])
    for key, value in scalars.items():
        line = f"{dotted((key,))} = {_value(value)}"
        origin = origin_text((*path, key)) if origin_text else None
        lines.append(f"{line}  # {origin}" if origin else line)
    for key, value in tables.items():
        _table(value, (*path, key), lines, origin_text)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return quoted(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        inner = ", ".join(f"{dotted((str(k),))} = {_value(v)}" for k, v in value.items())
        return "{" + inner + "}"
    return quoted(str(value))  # dates and times print as text
