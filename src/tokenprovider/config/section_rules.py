"""The rules of a credentials table's own keys, shared by the builder (`build`) and
``config show``'s quick check (`check.quick_problems`), so both say the same thing.

Nothing here imports a provider: which names are providers, and which settings they
take, is asked of the caller (``is_provider``, ``names``, ``is_setting``), and the list
of every provider name (``names``) only on an error path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from tokenprovider._suggest import did_you_mean
from tokenprovider._untrusted import a_type
from tokenprovider.config.known import SECTION_KEYS
from tokenprovider.config.toml_lines import dotted
from tokenprovider.errors import ConfigurationError

if TYPE_CHECKING:
    from tokenprovider.core.host import Host

KeyPath = tuple[str, ...]
Names = Callable[[], list[str]]

#: Stands in for a missing domain when only the scheme is checked (see `host_of`).
_NO_DOMAIN = "domain.invalid"


class Problem(NamedTuple):
    """What is wrong (``text``), and the key path it is about (``path``: the key that is
    wrong or missing)."""

    path: KeyPath
    text: str
    #: Where the message says the problem is (``path`` unless a missing key is meant).
    shown: KeyPath | None = None
    #: The error to raise for it (`InvalidHostError` for a host `Host` refuses).
    error: type[ConfigurationError] = ConfigurationError

    @property
    def at(self) -> KeyPath:
        """The key path the message names."""
        return self.path if self.shown is None else self.shown


def kind(value: object) -> str:
    """A TOML-ish name for ``value``'s type, for error messages."""
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string"}
    for klass, name in names.items():
        if type(value) is klass:
            return name
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, (list, tuple)):
        return "an array"
    return a_type(value)


def host_of(section: Mapping[str, Any], path: KeyPath) -> tuple[Host | None, list[Problem]]:
    """The `Host` that ``domain`` and ``scheme`` of the table at ``path`` name, or the
    problems: no domain, a value that is not a string, or one `Host` refuses. Without a
    domain the scheme is still checked, by `Host`'s own rule."""
    from tokenprovider.core.host import Host  # noqa: PLC0415 - light, but only when checking

    scheme = section.get("scheme", "https")
    if not isinstance(scheme, str):
        return None, [Problem((*path, "scheme"), f"must be a string, not {kind(scheme)}")]
    if "domain" not in section:
        problems = [
            Problem(
                (*path, "domain"),
                f'has no domain; add domain = "api.example.com" to [{dotted(path)}] '
                "(the host its tokens may be sent to)",
                shown=path,
            )
        ]
        try:
            Host(_NO_DOMAIN, scheme)
        except ConfigurationError as exc:
            text = str(exc).replace(f" (for {_NO_DOMAIN!r})", "")
            problems.append(Problem((*path, "scheme"), text, error=type(exc)))
        return None, problems
    domain = section["domain"]
    if not isinstance(domain, str):
        return None, [Problem((*path, "domain"), f"must be a string, not {kind(domain)}")]
    given, has_scheme, _ = domain.strip().partition("://")
    if has_scheme and "scheme" in section and given.lower() != scheme.lower():
        return None, [
            Problem(
                (*path, "scheme"),
                f"is {scheme!r} but domain starts with {given.lower()}://; give the scheme "
                "once (a token must not go over http where https was asked for)",
            )
        ]
    try:
        return Host(domain, scheme), []
    except ConfigurationError as exc:
        key = "scheme" if "scheme" in str(exc) and "scheme" in section else "domain"
        return None, [Problem((*path, key), str(exc), error=type(exc))]


def unknown_provider(name: object, path: KeyPath, names: Names) -> Problem:
    """``name`` (at ``path``) names no provider."""
    known = names()
    hint = did_you_mean(name, known) if isinstance(name, str) else ""
    return Problem(
        path,
        f"there is no provider {name!r}{hint}; known providers: {', '.join(known)} "
        "(plugins add more through the 'tokenprovider.providers' entry points)",
    )


def entry_problem(
    key: object,
    value: Any,
    path: KeyPath,
    *,
    is_provider: Callable[[str], bool],
    names: Names,
    is_setting: Callable[[str], bool],
) -> Problem | None:
    """What is wrong with ``key`` in the credentials table at ``path``, which must be one
    of `SECTION_KEYS` or a provider (a table, or a shorthand such as ``jwt = "..."``);
    ``is_setting`` says whether some provider takes a setting of that name."""
    if not isinstance(key, str):
        return Problem(path, f"has a key that is not a string ({kind(key)})")
    if key in SECTION_KEYS or is_provider(key):
        return None
    if isinstance(value, Mapping):
        return unknown_provider(key, (*path, key), names)
    hint = did_you_mean(key, [*SECTION_KEYS, *names()])
    if not hint and is_setting(key):
        hint = f"; provider settings go in the provider's table, like [{dotted(path)}.NAME]"
    return Problem((*path, key), f"is not a known setting{hint}")


def chosen_provider(
    section: Mapping[str, Any],
    path: KeyPath,
    is_provider: Callable[[str], bool],
    names: Names,
    where: Callable[[KeyPath], str],
) -> str | Problem | None:
    """The provider the credentials table at ``path`` picks, or why none is picked; None
    when every entry is unknown (each is then an `entry_problem`). ``where`` names a key
    path (with its origin) in a message."""
    chosen = section.get("provider")
    entries = [key for key in section if key not in SECTION_KEYS]
    if chosen is not None:
        if not isinstance(chosen, str) or not is_provider(chosen):
            return unknown_provider(chosen, (*path, "provider"), names)
        return chosen
    known = [key for key in entries if isinstance(key, str) and is_provider(key)]
    if entries and not known:
        return None
    if not known:
        return Problem(
            path,
            f"names no provider; add a table such as [{dotted((*path, 'oauth'))}] "
            f"(known providers: {', '.join(names())})",
        )
    if len(known) > 1:
        found = "; ".join(where((*path, key)) for key in known)
        return Problem(
            path,
            f"configures {len(known)} providers ({found}); keep one, or pick one "
            f'with provider = "NAME" in [{dotted(path)}]',
        )
    return known[0]


def unknown_setting(key: str, settable: list[str]) -> str:
    """Why ``key``, in a provider's table, is refused: it is not one of ``settable``."""
    if key in ("domain", "scheme"):
        return f"{key} belongs in the [credentials] table, not here"
    hint = did_you_mean(key, settable) or f"; known: {', '.join(settable) or 'none'}"
    return f"is not a known setting{hint}"
