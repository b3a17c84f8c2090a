"""Secret references: settings that say where a secret lives instead of holding it.

``env:NAME``, ``file:PATH``, ``aws-secretsmanager:SECRET_NAME#json_field`` and
``aws-ssm:/param/name`` (a SecureString is decrypted). A reference is resolved on first
`SecretReference.reveal` (normally when a token is first needed) and the value is then
cached in memory for the life of the process. Errors name the reference, never a value.
A ``file:`` reference must name a regular file of at most 64 KiB
(`tokenprovider.config.files.SECRET_LIMIT`); a FIFO or a device is refused, never read.

In configuration, a secret setting whose value `looks_like_reference` but names no known
prefix (``envv:NAME``, ``vault:x``) is an error (`mistyped_prefix` says why), not a literal
secret; ``literal:`` before a value takes the rest as it is (``literal:vault:x`` is
``vault:x``); an empty ``literal:`` is an error (`literal_problem`).
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

from tokenprovider.errors import SecretReferenceError

ENV, FILE, SECRETS_MANAGER, SSM = "env:", "file:", "aws-secretsmanager:", "aws-ssm:"
PREFIXES = (ENV, FILE, SECRETS_MANAGER, SSM)
#: In configuration: the rest of the value, taken as it is (``literal:vault:x``).
LITERAL = "literal:"
#: A word and a colon that look like a reference prefix: 2 to 31 letters, digits and ``-``
#: from a letter, not followed by ``//`` (a URL such as ``https://...`` is not a reference).
_PREFIX_LIKE = re.compile(r"([A-Za-z][A-Za-z0-9-]{1,30}):(?!//)")

_cache: dict[tuple[str, str], str] = {}
_lock = threading.Lock()  # held while a reference is resolved (a network call, maybe)


def _fresh_lock_in_child() -> None:
    global _lock  # noqa: PLW0603 - a parent's thread may hold it; the child has no such thread
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_fresh_lock_in_child)


def reference_prefix(text: str) -> str | None:
    """The reference prefix ``text`` starts with (``env:``, ``file:``...), or None."""
    return next((prefix for prefix in PREFIXES if text.startswith(prefix)), None)


def is_reference(value: object) -> bool:
    """Whether ``value`` is a string written as a secret reference."""
    return isinstance(value, str) and value.startswith(PREFIXES)


def is_literal(value: object) -> bool:
    """Whether ``value`` is a string written ``literal:VALUE``."""
    return isinstance(value, str) and value.startswith(LITERAL)


def literal_value(value: str) -> str:
    """``value`` without a leading ``literal:``."""
    return value.removeprefix(LITERAL)


def literal_problem(value: object) -> str | None:
    """Why a value written ``literal:...`` is refused: nothing after the prefix (an empty
    secret is never sent, as an ``env:`` reference to an empty variable is an error)."""
    if value != LITERAL:
        return None
    return (
        f"is {LITERAL!r} with nothing after it, an empty value; write the value after "
        f"{LITERAL} or remove the setting"
    )


def looks_like_reference(value: object) -> bool:
    """Whether ``value`` starts like a secret reference: a lower-case word (``envv:``,
    ``vault:``), or a known prefix in another case (``ENV:``), then a colon not followed by
    ``//``. A secret setting written so but not a reference is a mistake (`mistyped_prefix`)."""
    if not isinstance(value, str):
        return False
    match = _PREFIX_LIKE.match(value)
    if match is None:
        return False
    word = match.group(1)
    return word.islower() or f"{word.lower()}:" in (*PREFIXES, LITERAL)


def mistyped_prefix(value: object) -> str | None:
    """Why a secret setting's ``value`` is refused, if it `looks_like_reference` with a prefix
    that is neither a reference nor ``literal:``; None if it is fine. Never quotes the value
    (a secret may start with a word and a colon)."""
    if is_reference(value) or is_literal(value) or not looks_like_reference(value):
        return None
    hint = _near(value, (*PREFIXES, LITERAL))
    return (
        f"starts like a secret reference, but with no known prefix{hint}; a reference "
        f"starts with {', '.join(PREFIXES)}; for a literal value that starts with a word "
        f"and a colon, write {LITERAL} before it ({LITERAL}WORD:...)"
    )


def _near(value: object, prefixes: tuple[str, ...] = PREFIXES) -> str:
    """`` (did you mean 'env:'?)`` for a ``value`` that starts with a word and a colon
    close to one of ``prefixes``, else an empty string. Quotes only a known prefix."""
    if not isinstance(value, str) or _PREFIX_LIKE.match(value) is None:
        return ""
    from tokenprovider._suggest import did_you_mean  # noqa: PLC0415 - error path only

    return did_you_mean(f"{value.partition(':')[0].lower()}:", prefixes)


class SecretReference:
    """A pointer to a secret, resolved lazily; its repr shows the reference, not the value.

    ``setting`` (for example ``"credentials.oauth.client_secret from config.toml, line 4"``)
    is named in errors. A relative ``file:`` path is taken from ``base_dir`` (the directory
    of the file the setting came from), else from the working directory.
    """

    __slots__ = ("_base_dir", "_kind", "_target", "reference", "setting")

    def __init__(
        self, reference: str, *, base_dir: str | Path | None = None, setting: str | None = None
    ) -> None:
        self.reference = reference
        self.setting = setting
        self._base_dir = str(base_dir) if base_dir is not None else ""
        kind = reference_prefix(reference)
        if kind is None:
            raise self._error(f"must start with one of {', '.join(PREFIXES)}{_near(reference)}")
        self._kind = kind
        self._target = reference[len(kind) :]
        self._check_syntax()

    def _check_syntax(self) -> None:
        target = self._target
        if not target or target != target.strip():
            raise self._error("names nothing (or has surrounding spaces) after the prefix")
        if self._kind == ENV and not target.replace("_", "a").isalnum():
            raise self._error("must name an environment variable: letters, digits and _")
        if self._kind == SECRETS_MANAGER:
            name, _, field = target.partition("#")
            if not name or ("#" in target and not field):
                raise self._error("must be aws-secretsmanager:SECRET_NAME or ...#json_field")

    def reveal(self) -> str:
        """The secret's value (resolved once per process, then served from memory)."""
        key = (self.reference, self._base_dir if self._kind == FILE else "")
        with _lock:
            value = _cache.get(key)
            if value is None:
                value = self._resolve()
                if not value:
                    raise self._error("resolved to an empty value")
                _cache[key] = value
        return value

    def _resolve(self) -> str:
        if self._kind == ENV:
            value = os.environ.get(self._target)
            if value is None:
                raise self._error(f"environment variable {self._target} is not set")
            return value
        if self._kind == FILE:
            return self._read_file()
        # boto3 loads on the first read; without it, AWSReadError names the aws extra.
        from tokenprovider import _aws_secrets as aws_secrets  # noqa: PLC0415

        try:
            if self._kind == SSM:
                return aws_secrets.read_ssm_parameter(self._target)
            name, _, field = self._target.partition("#")
            return aws_secrets.read_secretsmanager(name, field or None)
        except aws_secrets.AWSReadError as exc:
            raise self._error(str(exc)) from None

    def _read_file(self) -> str:
        from tokenprovider._private_files import (  # noqa: PLC0415
            UnsafeFileError,
            expand_user,
            read_regular_file,
        )
        from tokenprovider.config.files import SECRET_LIMIT  # noqa: PLC0415

        path = Path(self._target)
        try:
            path = expand_user(self._target)
            if not path.is_absolute():
                path = Path(self._base_dir or os.getcwd()) / path
            text = read_regular_file(path, SECRET_LIMIT, private=False).decode("utf-8")
        except FileNotFoundError:
            raise self._error(f"file {path} does not exist") from None
        except UnsafeFileError as exc:
            raise self._error(f"file {path} {exc.reason}") from None
        except PermissionError:
            raise self._error(f"file {path} cannot be read (permission denied)") from None
        except UnicodeDecodeError:
            raise self._error(f"file {path} is not UTF-8 text") from None
        except OSError as exc:
            raise self._error(f"file {path} cannot be read ({exc.strerror})") from None
        except ValueError as exc:  # a NUL in the path; ~user unknown
            raise self._error(f"{path!s:.80} is not a usable path ({exc})") from None
        return text.rstrip("\r\n")

    def _error(self, problem: str) -> SecretReferenceError:
        where = f" ({self.setting})" if self.setting else ""
        return SecretReferenceError(f"secret reference {self.reference!r}{where}: {problem}")

    def __repr__(self) -> str:
        return f"SecretReference({self.reference!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretReference):
            return NotImplemented
        return (self.reference, self._base_dir) == (other.reference, other._base_dir)

    def __hash__(self) -> int:
        return hash((self.reference, self._base_dir))


def reveal(value: str | SecretReference) -> str:
    """``value`` itself if it is a plain string, else the referenced secret."""
    return value if isinstance(value, str) else value.reveal()


def clear_secret_cache() -> None:
    """Forget every resolved secret, so the next use reads each reference again."""
    with _lock:
        _cache.clear()
