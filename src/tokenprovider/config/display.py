"""Showing configuration: secrets masked, as TOML, optionally with each value's origin.

A setting is masked when its name looks secret (`tokenprovider._masking.is_secret_key`),
so a plugin's ``api_key`` or ``password`` is hidden too, and when its declared type takes
a `SecretReference` (`KnownKeys.takes_secret`), so a plugin's ``pin: str |
SecretReference`` is as well: a literal secret shows as ``<set>``, a secret reference as
``<reference env:NAME>`` (where the value comes from, never the value), and a URL's user
name and password as ``***@``.
A key that is not a setting (a typo such as ``client_secrt``) may hold anything, so its
value is masked too and the key is flagged; so is every ``extra_params`` value but those
of a few public parameters (`tokenprovider._masking.PUBLIC_PARAMETERS`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from tokenprovider._masking import (
    SET,
    SOURCE_SETTINGS,
    is_public_parameter,
    is_secret_key,
    is_source_setting,
    masked_url,
    without_userinfo,
)
from tokenprovider.config.known import FREE, UNKNOWN, KnownKeys
from tokenprovider.config.toml_lines import dotted, quoted
from tokenprovider.secret_refs import is_reference

KeyPath = tuple[str, ...]
#: Settings whose values are URLs (`masked_url`).
_URL_SUFFIXES = ("_url", "_uri")
OriginText = Callable[[KeyPath], "str | None"]


def masked(
    value: Any, path: KeyPath = (), known: KnownKeys | None = None
) -> tuple[Any, dict[KeyPath, str]]:
    """``value`` (the configuration at ``path``) with every secret-looking setting, and
    every key that is not a setting, replaced by a placeholder; and a note for each key
    path that is not a setting (``"unknown key (did you mean 'client_secret'?)"``)."""
    notes: dict[KeyPath, str] = {}
    return _mask(value, path, known or KnownKeys(), notes), notes


def _mask(value: Any, path: KeyPath, known: KnownKeys, notes: dict[KeyPath, str]) -> Any:
    if path:
        verdict = known.classify(path, isinstance(value, Mapping))
        if verdict == UNKNOWN:
            notes[path] = _unknown(path, known)
            return _hide(value)
        if verdict == FREE and not isinstance(value, Mapping):
            return _shown(value) if is_public_parameter(path[-1]) else _hide(value)
        if verdict == FREE:
            return _hide(value)
    if isinstance(value, Mapping):
        return {name: _mask(item, (*path, str(name)), known, notes) for name, item in value.items()}
    key = path[-1] if path else ""
    if key in SOURCE_SETTINGS:
        return _shown(value) if _names_a_source(key, value) else _hide(value)
    if is_secret_key(key) or known.takes_secret(path):
        return _hide(value)
    url = key.lower().endswith(_URL_SUFFIXES)
    if isinstance(value, list):
        return [_hide(item) if isinstance(item, Mapping) else _shown(item, url) for item in value]
    return _shown(value, url, bare_host=key == "domain")


def _names_a_source(key: str, value: Any) -> bool:
    """Whether ``value`` names a source of a known scheme (``file:PATH``, a plugin's):
    anything else in a source setting may be a token written there by mistake."""
    if not is_source_setting(key, value):
        return False
    from tokenprovider.sources import source_problem  # noqa: PLC0415 - only for such a key

    return source_problem(value) is None


def _shown(value: Any, url: bool = False, *, bare_host: bool = False) -> Any:
    """A value that may be shown: a URL's user name and password never are (nor a
    domain's, which may be written without a scheme); a ``url`` setting's value is
    shown as `masked_url` shows it."""
    if not isinstance(value, str):
        return value
    return masked_url(value) if url else without_userinfo(value, bare_host=bare_host)


def _hide(value: Any) -> Any:
    """The placeholder for a value that is not shown (each value of a table)."""
    if isinstance(value, Mapping):
        return {name: _hide(item) for name, item in value.items()}
    if is_reference(value):
        return f"<reference {value}>"
    return str(SET)


def _unknown(path: KeyPath, known: KnownKeys) -> str:
    from tokenprovider._suggest import did_you_mean  # noqa: PLC0415

    return "unknown key" + did_you_mean(path[-1], known.candidates(path))


def render(
    data: Mapping[str, Any],
    origin_text: OriginText | None = None,
    notes: Mapping[KeyPath, str] | None = None,
) -> str:
    """``data`` (already masked) as TOML; with ``origin_text``, a comment after each value;
    each of ``notes`` (from `masked`) as a comment after its value or table header."""
    lines: list[str] = []
    _table(data, (), lines, origin_text, notes or {})
    return "\n".join(lines).strip("\n") + "\n"


def _table(
    table: Mapping[str, Any],
    path: KeyPath,
    lines: list[str],
    origin_text: OriginText | None,
    notes: Mapping[KeyPath, str],
) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, Mapping)}
    tables = {k: v for k, v in table.items() if isinstance(v, Mapping)}
    note = notes.get(path)
    if path and (scalars or not tables or note):
        header = f"[{dotted(path)}]"
        lines.extend(["", f"{header}  # {note}" if note else header])
    for key, value in scalars.items():
        line = f"{dotted((key,))} = {_value(value)}"
        origin = origin_text((*path, key)) if origin_text else None
        comment = "; ".join(text for text in (notes.get((*path, key)), origin) if text)
        lines.append(f"{line}  # {comment}" if comment else line)
    for key, value in tables.items():
        _table(value, (*path, key), lines, origin_text, notes)


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
