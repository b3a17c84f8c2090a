"""Writing configuration files: ``config set``, ``unset`` and ``init``.

Files are written whole with tomli-w, atomically (a temporary file in the same directory,
then a rename) and with mode 0600. A file that does not parse is never overwritten.
tomli-w cannot keep comments, so a rewritten file loses them. Only regular files are
written: a symbolic link is written through (its target is replaced, the link kept),
anything else (a device such as ``/dev/null``, a FIFO) is refused.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from tokenprovider._private_files import file_kind, write_private
from tokenprovider.config.files import exists
from tokenprovider.config.loading import KeyPath, read_toml
from tokenprovider.config.toml_lines import dotted, has_comments
from tokenprovider.errors import ConfigurationError

#: How many symbolic links a write follows before it gives up.
_MAX_LINKS = 40


def write_target(path: Path) -> Path:
    """The file a write to ``path`` replaces: ``path`` itself if it is a regular file or
    absent, or the regular file a chain of symbolic links leads to.

    Each link must be owned by this user or by root, so a link someone else planted cannot
    aim a write (as root, say) at another file. Devices, FIFOs, directories, dangling links
    and links of other users are refused with a `ConfigurationError`.
    """
    current = path
    try:
        for _ in range(_MAX_LINKS + 1):
            try:
                status = os.lstat(current)
            except FileNotFoundError:
                if current == path:
                    return path  # a new file
                raise _refuse(
                    path, f"is a symbolic link to {current}, which does not exist"
                ) from None
            if stat.S_ISREG(status.st_mode):
                return current
            if not stat.S_ISLNK(status.st_mode):
                link = "" if current == path else f"is a symbolic link to {current}, which "
                raise _refuse(path, f"{link}is {file_kind(status.st_mode)}, not a regular file")
            if hasattr(os, "geteuid") and status.st_uid not in (os.geteuid(), 0):
                raise _refuse(
                    path,
                    f"is (or leads through) the symbolic link {current}, owned by another "
                    f"user (uid {status.st_uid}); write to the file it names instead",
                )
            current = current.parent / os.readlink(current)
    except OSError as exc:
        raise _filesystem_error(path, exc) from None
    raise _refuse(path, f"leads through more than {_MAX_LINKS} symbolic links")


def _refuse(path: Path, problem: str) -> ConfigurationError:
    return ConfigurationError(f"refusing to write {path}: it {problem}")


def _filesystem_error(path: Path, exc: OSError) -> ConfigurationError:
    return ConfigurationError(f"cannot write {path}: {exc.strerror or exc}")


def read_for_update(path: Path) -> tuple[dict[str, Any], bool]:
    """The document in ``path`` (empty if absent) and whether it has comments to lose.

    ``path`` is the file to be replaced, as `write_target` gives it.
    """
    if not exists(path):
        return {}, False
    try:
        document, text = read_toml(path)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{exc}; refusing to overwrite it, fix it by hand") from None
    return document, has_comments(text)


def write_atomic(path: Path, document: dict[str, Any]) -> None:
    """Replace ``path`` with ``document`` as TOML, atomically, leaving it at mode 0600.

    A filesystem error (read-only, full, a name too long) is a `ConfigurationError`.
    """
    import tomli_w  # noqa: PLC0415 - only commands that write need it

    text = tomli_w.dumps(document)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private(path, text.encode("utf-8"))
    except OSError as exc:
        raise _filesystem_error(path, exc) from None


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
