"""Reading the configuration files and environment, and merging them (later wins).

Every value keeps its `Origin` (file and line, or environment variable) so that errors
and ``config show --origin`` can say where it was set.
"""

from __future__ import annotations

import os
import stat
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from tokenprovider._masking import is_secret_key, is_source_setting
from tokenprovider._private_files import UnsafeFileError, read_regular_file
from tokenprovider._suggest import did_you_mean
from tokenprovider.config.files import CONFIG_LIMIT, exists
from tokenprovider.config.known import KnownKeys
from tokenprovider.config.locations import (
    CONFIG_ENV,
    EXPLICIT,
    PROJECT,
    ConfigFile,
    search_path,
)
from tokenprovider.config.toml_lines import key_lines, nearest
from tokenprovider.config.toml_shape import shape_problem
from tokenprovider.errors import ConfigurationError
from tokenprovider.secret_refs import is_reference, mistyped_prefix

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

KeyPath = tuple[str, ...]
T = TypeVar("T", bound=tuple[Any, ...])

ENV_PREFIX = "TOKENPROVIDER_"
PROFILE_ENV = "TOKENPROVIDER_PROFILE"
#: Variables with the prefix that are not settings.
_CONTROL_VARIABLES = frozenset({CONFIG_ENV, PROFILE_ENV})
_SECTIONS = ("credentials", "profiles")


class InsecureConfigFileWarning(UserWarning):
    """A configuration file holding a literal secret can be read by other users."""


class Origin(NamedTuple):
    """Where a value was set: a file (with its line when known) or an environment variable."""

    source: str
    line: int | None = None
    variable: bool = False

    def __str__(self) -> str:
        if self.variable:
            return f"environment variable {self.source}"
        return self.source if self.line is None else f"{self.source}, line {self.line}"

    @property
    def directory(self) -> Path | None:
        """The directory of the file this came from (None for a variable)."""
        return None if self.variable else Path(self.source).parent


class LoadedConfig:
    """The merged configuration with the origin of every value and the files searched.

    A value the project file repeats keeps the earlier file as its origin: the project
    file changed nothing there (`tokenprovider.config.trust` relies on it)."""

    def __init__(
        self, data: dict[str, Any], origins: dict[KeyPath, Origin], files: list[ConfigFile]
    ) -> None:
        self.data = data
        self.origins = origins
        self.files = files

    def origin(self, path: KeyPath) -> Origin | None:
        """The origin of ``path``, or of its nearest ancestor that has one."""
        return nearest(self.origins, path)


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """Parse ``path``; errors name the file and, for bad TOML, the line.

    The file must be a regular file of at most `CONFIG_LIMIT` bytes (see `files`).
    """
    try:
        data = read_regular_file(path, CONFIG_LIMIT, private=False)
        text = data.decode("utf-8").replace("\r\n", "\n")
    except FileNotFoundError:
        raise ConfigurationError(f"configuration file {path} does not exist") from None
    except UnsafeFileError as exc:
        raise ConfigurationError(f"configuration file {path} {exc.reason}") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"configuration file {path} is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigurationError(
            f"configuration file {path} cannot be read ({exc.strerror or exc})"
        ) from None
    except ValueError:  # a NUL in the path
        raise ConfigurationError(f"configuration file {path!r} is not a usable path") from None
    problem = shape_problem(text)
    if problem is not None:
        raise ConfigurationError(f"configuration file {path} {problem}; it is not read")
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"configuration file {path} is not valid TOML: {exc}") from None
    except (ValueError, RecursionError):  # an integer of thousands of digits, say
        raise ConfigurationError(
            f"configuration file {path} holds a value TOML cannot represent here "
            "(such as an integer thousands of digits long)"
        ) from None


def load(
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    explicit: str | os.PathLike[str] | None = None,
) -> LoadedConfig:
    """Read the site, user, project and explicit files, then the environment, and merge."""
    env = os.environ if env is None else env
    files = search_path(env, Path.cwd() if cwd is None else cwd, explicit)
    data: dict[str, Any] = {}
    origins: dict[KeyPath, Origin] = {}
    for config_file in files:
        if config_file.kind != EXPLICIT and not exists(config_file.path):
            continue
        document, text = read_toml(config_file.path)
        lines = key_lines(text)
        source = source_name(config_file.path)
        found = leaves(document, ())
        _check_literal_secrets(config_file.path, found)
        for path, value in _domains_first(found):
            if config_file.kind == PROJECT and _same(path, value_at(data, path, _MISSING), value):
                continue  # a repeat: the value and its origin stay the earlier file's
            _put(data, origins, path, value, Origin(source, nearest(lines, path)))
        for path in _tables(document, ()):
            # A table is where its header (or first dotted key) is, not its first value.
            if path in lines and path in origins:
                origins[path] = Origin(source, lines[path])
    settings = [(path, value, name) for name, path, value in environment_settings(env)]
    for path, value, name in _domains_first(settings):
        _put(data, origins, path, value, Origin(name, variable=True))
    return LoadedConfig(data, origins, files)


def source_name(path: Path) -> str:
    """How an `Origin` names the file at ``path``."""
    return str(path.absolute())


_MISSING = object()


def value_at(data: dict[str, Any], path: KeyPath, missing: Any = None) -> Any:
    """The value at ``path`` in the nested tables ``data``, or ``missing`` if there is none."""
    value: Any = data
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return missing
        value = value[key]
    return value


def _same(path: KeyPath, before: Any, after: Any) -> bool:
    """Whether setting ``path`` from ``before`` to ``after`` changes nothing (a domain
    compared as `_put` compares it)."""
    if path[-1] == "domain":
        return before is not _MISSING and _host_key(before) == _host_key(after)
    return bool(before == after)


def _domains_first(leaves: list[T]) -> list[T]:
    """``leaves`` with each ``domain`` first (it may reset its table; see `_put`)."""
    return sorted(leaves, key=lambda leaf: leaf[0][-1] != "domain")


def _is_section(path: KeyPath) -> bool:
    """Whether ``path`` is a credentials table: ``credentials`` or ``profiles.P.credentials``."""
    return path == ("credentials",) or (
        len(path) == 3 and path[0] == "profiles" and path[2] == "credentials"
    )


def environment_settings(env: Mapping[str, str]) -> list[tuple[str, KeyPath, str]]:
    """``TOKENPROVIDER_CREDENTIALS__OAUTH__CLIENT_ID=x`` as (name, key path, value), sorted."""
    found = []
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or name in _CONTROL_VARIABLES:
            continue
        parts = tuple(part.lower() for part in name[len(ENV_PREFIX) :].split("__"))
        if parts[0] not in _SECTIONS or len(parts) < 2 or not all(parts):
            raise ConfigurationError(_bad_variable(name))
        found.append((name, parts, env[name]))
    return found


def _bad_variable(name: str) -> str:
    message = (
        f"environment variable {name} is not a setting: settings are "
        "TOKENPROVIDER_CREDENTIALS__<PROVIDER>__<KEY> or "
        "TOKENPROVIDER_PROFILES__<PROFILE>__CREDENTIALS__..., with double underscores"
    )
    upper = name.upper()
    if any(upper.startswith(f"{ENV_PREFIX}{section.upper()}") for section in _SECTIONS):
        return message  # a key path with single underscores: the message says it all
    return message + did_you_mean(name, sorted(_CONTROL_VARIABLES))


def leaves(value: Any, path: KeyPath) -> list[tuple[KeyPath, Any]]:
    """Every non-table value under ``path`` (``value`` is what is there) with its key
    path, empty tables kept: of a TOML document, or of a merged credentials table."""
    if isinstance(value, dict) and (value or not path):
        return [leaf for key, item in value.items() for leaf in leaves(item, (*path, key))]
    return [(path, value)]


def _tables(value: Any, path: KeyPath) -> list[KeyPath]:
    """The key path of every table below ``path`` in a TOML document."""
    if not isinstance(value, dict):
        return []
    inner = [table for key, item in value.items() for table in _tables(item, (*path, key))]
    return [path, *inner] if path else inner


def _put(
    data: dict[str, Any],
    origins: dict[KeyPath, Origin],
    path: KeyPath,
    value: Any,
    origin: Origin,
) -> None:
    """Set ``path`` to ``value`` (later wins); a scalar in the way is replaced.

    Setting a different ``domain`` for a credentials table first empties that table.
    """
    table = data
    for depth, given in enumerate(path[:-1]):
        key = _existing_key(table, given) if origin.variable else given
        child = table.get(key)
        if not isinstance(child, dict):
            _forget(origins, (*path[:depth], key))
            child = table[key] = {}
        table = child
        path = (*path[:depth], key, *path[depth + 1 :])
    last = _existing_key(table, path[-1]) if origin.variable else path[-1]
    path = (*path[:-1], last)
    if (
        last == "domain"
        and _is_section(path[:-1])
        and _host_key(table.get(last, value)) != _host_key(value)
    ):
        # Another host: what earlier sources set here belongs to the old one (a secret, a
        # provider), so it is dropped rather than merged, and never sent to the new host.
        table.clear()
        _forget(origins, path[:-1])
        origins[path[:-1]] = origin
    if value == {} and isinstance(table.get(last), dict):  # an empty header adds nothing
        origins.setdefault(path, origin)
        return
    _forget(origins, path)
    table[last] = value
    origins[path] = origin
    for depth in range(1, len(path)):
        origins.setdefault(path[:depth], origin)


def _host_key(domain: Any) -> Any:
    """A domain as compared across sources: case and a trailing slash do not matter."""
    return domain.strip().rstrip("/").lower() if isinstance(domain, str) else domain


def _existing_key(table: dict[str, Any], key: str) -> str:
    """The spelling of ``key`` already in ``table`` (variables are upper case)."""
    if key in table:
        return key
    return next((existing for existing in table if existing.lower() == key), key)


def _forget(origins: dict[KeyPath, Origin], path: KeyPath) -> None:
    for known in [known for known in origins if known[: len(path)] == path]:
        del origins[known]


def is_literal_secret(path: KeyPath, value: Any, known: KnownKeys | None = None) -> bool:
    """Whether ``value``, set at ``path``, is a secret written out in full: the string of
    a setting named like a secret or declared to take one (`KnownKeys.takes_secret`) that
    is not a reference (``cache_key = "derive"`` names no secret), nor a mistyped one
    (``envv:NAME``: an error about it is what the user must see, not advice to protect it).

    Pass ``known`` when testing many values (`_check_literal_secrets` does): without it a
    new `KnownKeys` is made, which looks a plugin's settings up again."""
    if not (path and isinstance(value, str)):
        return False
    if not (is_secret_key(path[-1]) or (known or KnownKeys()).takes_secret(path)):
        return False
    if is_source_setting(path[-1], value):
        return False  # where a token comes from, such as file:PATH
    if is_reference(value) or mistyped_prefix(value) is not None:
        return False
    if path[-1] == "cache_key":
        from tokenprovider.caches._setting import cache_key_problem  # noqa: PLC0415

        return cache_key_problem(value) is not None
    return True


def _check_literal_secrets(path: Path, leaves: list[tuple[KeyPath, Any]]) -> None:
    """Warn if ``path`` holds a literal secret and others may read it."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if not mode & (stat.S_IRWXG | stat.S_IRWXO):
        return
    known = KnownKeys()
    literal = [
        ".".join(key_path)
        for key_path, value in leaves
        if is_literal_secret(key_path, value, known)
    ]
    if literal:
        warnings.warn(
            f"{path} holds a literal secret ({', '.join(literal)}) and can be read by other "
            f"users; run: chmod 600 {path} (or use a secret reference such as env:NAME)",
            InsecureConfigFileWarning,
            stacklevel=3,
        )
