"""`FileSource`: a token file, read again on every token request.

Kubernetes projected service-account tokens and the Azure workload identity federated
token file are renewed underneath the process (the kubelet's atomic writer swaps
``..data``, a link to a fresh directory); a process that keeps the first content fails
when it expires. So the file is read whole on every read and never cached, through its
symbolic links (``token -> ..data/token`` is the normal layout), and refused if it is not a
regular file (a FIFO cannot hang the read) or is larger than `MAX_TOKEN_BYTES`.
"""

from __future__ import annotations

import os
from pathlib import Path

from tokenprovider._private_files import UnsafeFileError, expand_user, read_regular_file
from tokenprovider.errors import AssertionSourceError, ConfigurationError
from tokenprovider.sources._reading import MAX_TOKEN_BYTES
from tokenprovider.sources.base import AssertionSource


class FileSource(AssertionSource):
    """The token in the file at ``path``, read on every `read`. A relative path is taken
    from ``base_dir`` (the configuration file's directory) or else the working directory
    at construction; ``~`` is expanded."""

    expired_hint = (
        "whatever renews the file (the kubelet, the workload identity webhook) seems to "
        "have stopped: check that it runs and that the path is the projected one"
    )

    def __init__(self, path: str | os.PathLike[str], *, base_dir: Path | None = None) -> None:
        if not isinstance(path, (str, os.PathLike)) or not isinstance(os.fspath(path), str):
            raise ConfigurationError(f"a token file must be a str path, got {type(path).__name__}")
        text = os.fspath(path)
        if not text.strip():
            raise ConfigurationError("a token file needs a path (file:PATH)")
        if "\0" in text:
            raise ConfigurationError("a token file's path must not contain a NUL character")
        try:
            resolved = expand_user(text)
        except ValueError as exc:
            raise ConfigurationError(f"token file {text!r}: {exc}") from None
        if not resolved.is_absolute():
            resolved = (Path.cwd() if base_dir is None else Path(base_dir)) / resolved
        self.path = resolved
        self.description = f"file {resolved}"

    def read(self, audience: str | None) -> str:
        """The file's content, stripped of surrounding whitespace (``audience`` is unused:
        whoever writes the file chose it)."""
        text = _utf8(self._bytes())
        if text is None:
            raise AssertionSourceError(f"{self.description} is not UTF-8 text")
        token = text.strip()
        if not token:
            raise AssertionSourceError(
                f"{self.description} is empty; whatever writes it has not written a token yet"
            )
        return token

    def _bytes(self) -> bytes:
        """The file's bytes; the error is raised outside the handler, so that nothing of
        the `OSError` is chained to it."""
        try:
            # Room for a line end after the longest token (read_assertion checks its size).
            return read_regular_file(self.path, MAX_TOKEN_BYTES + 2, private=False)
        except FileNotFoundError:
            problem = (
                "does not exist; a projected token file is written when the pod starts: "
                "check the projected volume (serviceAccountToken) and the path"
            )
        except UnsafeFileError as exc:
            problem = exc.reason
        except PermissionError:
            problem = (
                "cannot be read: permission denied (check its owner and mode, and the "
                "volume's defaultMode or fsGroup)"
            )
        except OSError as exc:
            problem = f"cannot be read: {exc.strerror or type(exc).__name__}"
        raise AssertionSourceError(f"{self.description} {problem}")


def _utf8(data: bytes) -> str | None:
    """``data`` decoded, or None (the `UnicodeDecodeError`, which holds the bytes, is not
    kept: it would be chained to the error raised for it)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
