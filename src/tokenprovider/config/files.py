"""The small files anyone may put in our way: configuration files and ``file:`` secret
references, their size limits, and whether one is there.

They are read with `tokenprovider._private_files.read_regular_file` (not ``private``):
checked before they are opened (a device is never opened), opened non-blocking (a FIFO
cannot hang the read), checked again on the descriptor, and read at most ``limit`` + 1
bytes. Only regular files are read. Symbolic links are followed: dotfile managers link
configuration files, and a link to a regular file reads as that file.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The largest configuration file read (site, user, project, ``--config``).
CONFIG_LIMIT = 1024 * 1024
#: The largest file a ``file:`` secret reference may name.
SECRET_LIMIT = 64 * 1024


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
