"""Reading the small files anyone may put in our way: configuration files and ``file:``
secret references.

A file is checked with ``stat`` before it is opened (so a device is never opened), opened
non-blocking (a FIFO cannot hang the read), checked again with ``fstat`` on the open
descriptor (it may have been swapped in between), and read at most ``limit`` + 1 bytes (a
file that grows, or says it is empty as ``/proc`` files do, cannot exhaust memory).
Only regular files are read. Symbolic links are followed: dotfile managers link
configuration files, and a link to a regular file reads as that file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

#: The largest configuration file read (site, user, project, ``--config``).
CONFIG_LIMIT = 1024 * 1024
#: The largest file a ``file:`` secret reference may name.
SECRET_LIMIT = 64 * 1024

_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_BINARY", 0)
)
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISLNK, "a symbolic link"),
)


class FileRefusedError(Exception):
    """A file that exists but is not read: not a regular file, or too large.

    The message completes "FILE ...", e.g. "is a FIFO (named pipe), not a regular file".
    """


def kind(mode: int) -> str:
    """What a ``st_mode`` describes, e.g. ``"a character device"``."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def size_text(size: int) -> str:
    """``1048576`` as ``"1 MiB"``, ``65536`` as ``"64 KiB"``."""
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"


def _check(status: os.stat_result, limit: int) -> None:
    if not stat.S_ISREG(status.st_mode):
        raise FileRefusedError(f"is {kind(status.st_mode)}, not a regular file")
    if status.st_size > limit:
        raise FileRefusedError(f"is larger than {size_text(limit)}, the limit for this file")


def read_limited(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    Raises `FileRefusedError` for anything that is not a regular file or that holds more
    than ``limit`` bytes, and `OSError` (``FileNotFoundError``...) as ``open`` does.
    """
    _check(os.stat(path), limit)
    descriptor = os.open(path, _FLAGS)
    try:
        _check(os.fstat(descriptor), limit)
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(descriptor, min(left, 65536))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(descriptor)
    if left <= 0:
        raise FileRefusedError(f"is larger than {size_text(limit)}, the limit for this file")
    return b"".join(chunks)


def exists(path: Path) -> bool:
    """Whether something is at ``path`` (following links), so that reading it is worth an
    error if it fails; False only when nothing is there (or a link leads nowhere)."""
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except (OSError, ValueError):
        return True  # unreadable, too long, a NUL...: reading it will say why
    return True


def expand_user(text: str) -> Path:
    """``text`` as a path with a leading ``~`` or ``~user`` expanded.

    Raises ValueError saying why when it cannot be: an unknown user, or no home directory
    (``HOME`` unset and no password entry for this user).
    """
    expanded = os.path.expanduser(text)
    if expanded.startswith("~"):
        head = text.replace("\\", "/").split("/", 1)[0]
        if head == "~":
            raise ValueError(
                "~ cannot be expanded: HOME is not set and this user has no home directory "
                "in the password database"
            )
        raise ValueError(f"{head[:40]!r} cannot be expanded: there is no user {head[1:41]!r}")
    return Path(expanded)
