"""Writing configuration files: ``config set``, ``unset`` and ``init``.

Files are written whole with tomli-w, atomically (a temporary file in the same directory,
then a rename) and with mode 0600. A file that does not parse is never overwritten.
tomli-w cannot keep comments, so a rewritten file loses them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tokenprovider.config.loading import KeyPath, read_toml
from tokenprovider.config.toml_lines import dotted, has_comments
from tokenprovider.errors import ConfigurationError
from tokenprovider.private_files import write_private


def read_for_update(path: Path) -> tuple[dict[str, Any], bool]:
    """The document in ``path`` (empty if absent) and whether it has comments to lose."""
    if not path.exists():
        return {}, False
    try:
        document, text = read_toml(path)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{exc}; refusing to overwrite it, fix it by hand") from None
    return document, has_comments(text)


def write_atomic(path: Path, document: dict[str, Any]) -> None:
    """Replace ``path`` with ``document`` as TOML, atomically, leaving it at mode 0600."""
    import tomli_w  # noqa: PLC0415 - only commands that write need it

    text = tomli_w.dumps(document)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private(path, text.encode("utf-8"))


def set_value(document: dict[str, Any], path: KeyPath, value: Any) -> None:
    """Set ``path`` in ``document``, creating tables; a non-table in the way is an error."""
    table = document
    for depth, key in enumerate(path[:-1]):
        child = table.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigurationError(
                f"cannot set {dotted(path)}: {dotted(path[: depth + 1])} is a value, not a table"
            )
        table = child
    table[path[-1]] = value


def unset_value(document: dict[str, Any], path: KeyPath) -> bool:
    """Remove ``path`` and any tables it leaves empty; False if it was not set."""
    trail = [document]
    for key in path[:-1]:
        child = trail[-1].get(key)
        if not isinstance(child, dict):
            return False
        trail.append(child)
    if path[-1] not in trail[-1]:
        return False
    del trail[-1][path[-1]]
    for depth in range(len(path) - 1, 0, -1):
        if trail[depth]:
            break
        del trail[depth - 1][path[depth - 1]]
    return True
