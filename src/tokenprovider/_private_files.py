"""Files read only when they are what they should be, and private files written whole.

Reading: `read_regular_file` (and `open_checked` beneath it) opens a file without
blocking (a FIFO cannot hang the caller), never as a controlling terminal, and reads a
bounded number of bytes (``/dev/zero`` cannot fill memory). A file that is not a regular
file of bounded size is refused with `UnsafeFileError`; a *private* file must also be no
symbolic link (it is never followed), belong to this user and give group and others no
access. The type is checked before the file is opened (a device is never opened) and
again on the descriptor, which must be the file that was checked.

A directory for private files passes `directory_problem`.

Writing: `write_private` writes a temporary file (mode 0600) in the same directory,
flushed to disk, then renamed into place, so a reader sees the old content or the new,
never part of either, even if the writer is killed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from pathlib import Path

from tokenprovider.errors import ConfigurationError

logger = logging.getLogger("tokenprovider")

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_SAFE = (
    getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_BINARY", 0)
)
_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFLNK: "a symbolic link",
}


def file_kind(mode: int) -> str:
    """What a ``st_mode`` that is not a regular file describes, e.g. ``"a FIFO (named pipe)"``."""
    return _KINDS.get(stat.S_IFMT(mode), "a special file")


def size_text(size: int) -> str:
    """``1048576`` as ``"1 MiB"``, ``65536`` as ``"64 KiB"``, ``100`` as ``"100 bytes"``."""
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"


class UnsafeFileError(OSError):
    """A file that must not be used: ``reason`` says why (``"is a FIFO, not a regular
    file"``, ``"is larger than 64 KiB, the limit for this file"``, ...), ``filename`` names
    it."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(f"{os.fspath(path)} {reason}")
        self.filename = os.fspath(path)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.filename} {self.reason}"


def file_problem(info: os.stat_result, *, private: bool, limit: int | None = None) -> str | None:
    """Why a file whose status is ``info`` must not be used (see the module), or None."""
    if stat.S_ISLNK(info.st_mode):
        return "is a symbolic link"
    if not stat.S_ISREG(info.st_mode):
        return f"is {file_kind(info.st_mode)}, not a regular file"
    owner = os.geteuid() if private and hasattr(os, "geteuid") else None
    if owner is not None and info.st_uid != owner:
        return f"belongs to another user (uid {info.st_uid})"
    if owner is not None and stat.S_IMODE(info.st_mode) & 0o077:
        return f"is open to group or others (mode {stat.S_IMODE(info.st_mode):04o})"
    if limit is not None and info.st_size > limit:
        return f"is larger than {size_text(limit)}, the limit for this file"
    return None


def directory_problem(info: os.stat_result, *, owner: str) -> str | None:
    """Why a directory whose `os.lstat` is ``info`` must not hold private files such as
    tokens, or None: it is a symbolic link, not a directory, another user's, or writable by
    group or others. ``owner`` (``"FileTokenCache"``) names what needs it, for the fix."""
    if stat.S_ISLNK(info.st_mode):
        return "it is a symbolic link (give the directory it points to)"
    if not stat.S_ISDIR(info.st_mode):
        return "it is not a directory"
    if not hasattr(os, "geteuid"):
        return None
    if info.st_uid != os.geteuid():
        return (
            f"it belongs to another user (uid {info.st_uid}); give {owner} a directory of your own"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o022:
        return (
            f"group or others can write to it (mode {mode:04o}), so they could plant or "
            "remove token files; remove their write access (chmod go-w) or give "
            f"{owner} a directory only you can write to"
        )
    return None


def open_checked(
    path: str | os.PathLike[str],
    flags: int = os.O_RDONLY,
    *,
    private: bool,
    limit: int | None = None,
    mode: int = 0o600,
) -> int:
    """A descriptor for ``path`` once it has passed `file_problem`.

    Raises `FileNotFoundError` if it is missing, `UnsafeFileError` if it must not be
    used, and other `OSError` as ``os.open`` does. With ``os.O_CREAT`` in ``flags``, a
    missing file is created (exclusively) with ``mode``; a private file is never
    followed through a symbolic link, a shared one (``private=False``) is.
    """
    follow = not private
    for _ in range(2):
        try:
            before: os.stat_result | None = os.stat(path, follow_symlinks=follow)
        except FileNotFoundError:
            if not flags & os.O_CREAT:
                raise
            before = None
        if before is not None and (reason := file_problem(before, private=private, limit=limit)):
            raise UnsafeFileError(path, reason)
        how = flags | _SAFE | (0 if follow else _NOFOLLOW)
        how = how | os.O_EXCL if before is None else how & ~os.O_CREAT
        try:
            descriptor = os.open(path, how, mode)
        except FileExistsError:
            continue  # created by someone else since the check: check it
        try:
            after = os.fstat(descriptor)
            reason = file_problem(after, private=private, limit=limit)
            if before is not None and (after.st_dev, after.st_ino) != (
                before.st_dev,
                before.st_ino,
            ):
                reason = "was replaced while it was being opened"
            if reason:
                raise UnsafeFileError(path, reason)
        except BaseException:
            os.close(descriptor)
            raise
        return descriptor
    raise UnsafeFileError(path, "keeps being replaced while it is being opened")


def read_regular_file(path: str | os.PathLike[str], limit: int, *, private: bool) -> bytes:
    """The bytes of ``path``, at most ``limit`` of them, if it passes `open_checked`.

    Reads no more than ``limit + 1`` bytes, whatever the file claims: a longer file is
    an `UnsafeFileError`, as is anything `open_checked` refuses; a missing file is
    `FileNotFoundError`.
    """
    descriptor = open_checked(path, private=private, limit=limit)
    chunks: list[bytes] = []
    remaining = limit + 1
    try:
        while remaining > 0:
            chunk = os.read(descriptor, min(remaining, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    finally:
        os.close(descriptor)
    if remaining <= 0:
        raise UnsafeFileError(path, f"is larger than {size_text(limit)}, the limit for this file")
    return b"".join(chunks)


def write_private(path: Path, data: bytes, *, overwrite: bool = True) -> bool:
    """Write ``data`` to ``path`` atomically, at mode 0600.

    With ``overwrite=False`` an existing ``path`` is kept: returns False if it was.
    Whatever is at ``path`` (a symbolic link included) is replaced, never followed.
    An `OSError` (a full disk, a read-only file system) names ``path``.
    """
    try:
        return _write(path, data, overwrite)
    except OSError as exc:
        if exc.errno is None:
            raise
        raise OSError(exc.errno, exc.strerror, str(path)) from None


def _write(path: Path, data: bytes, overwrite: bool) -> bool:
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as file:
            # 0600 whatever the umask did; through the descriptor where the OS can.
            os.chmod(descriptor if os.chmod in os.supports_fd else temporary, 0o600)
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        if overwrite:
            os.replace(temporary, path)
        else:
            try:
                os.link(temporary, path)
            except FileExistsError:
                return False
        _sync_directory(path.parent)
        return True
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)  # already renamed, or linked and no longer needed


def _sync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (a power cut after it must not bring the
    old file back: for a rotated refresh token, the spent one); best effort."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


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


def make_lock_file(path: Path, owner: str) -> None:
    """Make ``path`` a private regular file of this user's, replacing anything else
    there (a symbolic link, a FIFO, another user's file), so filelock can open it
    without following a link or blocking; ``owner`` names the cache or store in the
    warning. `OSError` if it cannot be made."""
    for _ in range(3):
        try:
            os.close(open_checked(path, os.O_RDWR | os.O_CREAT, private=True))
        except UnsafeFileError as exc:
            logger.warning("%s: replacing the lock file %s, which %s", owner, path, exc.reason)
            with contextlib.suppress(FileNotFoundError):
                if file_problem(os.lstat(path), private=True) is not None:
                    os.unlink(path)  # still the bad file, not one another process just made
            continue
        return
    raise UnsafeFileError(path, "keeps being replaced")


def user_directory(kind: str, leaf: str) -> Path | None:
    """``leaf`` in this user's ``kind`` ("cache" or "data") directory for tokenprovider
    (platformdirs: ``~/.cache/tokenprovider/LEAF``, ``~/.local/share/tokenprovider/LEAF``
    on Linux); None when this user has no home directory."""
    import platformdirs  # noqa: PLC0415 - only callers that need a default load it

    find = platformdirs.user_cache_dir if kind == "cache" else platformdirs.user_data_dir
    try:
        directory = Path(find("tokenprovider")) / leaf
    except RuntimeError:  # newer platformdirs, when there is no home directory
        return None
    return directory if directory.is_absolute() else None  # older ones leave the "~"


def given_directory(directory: object, what: str) -> Path:
    """``directory`` (a str path, or an `os.PathLike` of one) with ``~`` expanded;
    `ConfigurationError` naming ``what`` (``"FileTokenCache directory"``) otherwise."""
    if not isinstance(directory, (str, os.PathLike)):
        raise ConfigurationError(f"{what} must be a path, got {type(directory).__name__}")
    text = os.fspath(directory)
    if not isinstance(text, str):
        raise ConfigurationError(f"{what} must be a str path, not bytes")
    try:
        return expand_user(text)
    except ValueError as exc:
        raise ConfigurationError(f"{what}: {exc}") from None
