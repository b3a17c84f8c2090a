"""Settings that name a source: ``"file:PATH"``, ``"env:NAME"``, ``"github-actions"``,
``"profile:NAME"``
or a plugin's ``"SCHEME:VALUE"``, turned into an `AssertionSource` or checked for form."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tokenprovider import _untrusted as untrusted
from tokenprovider.errors import ConfigurationError, TokenProviderError
from tokenprovider.sources._plugins import SCHEME, registry
from tokenprovider.sources.base import AssertionSource
from tokenprovider.sources.environment import EnvSource
from tokenprovider.sources.file import FileSource
from tokenprovider.sources.github_actions import GitHubActionsSource
from tokenprovider.sources.provider import ProviderSource

if TYPE_CHECKING:
    from tokenprovider.core.provider import TokenProvider

FORMS = (
    "'file:PATH', 'env:NAME', 'github-actions', 'profile:NAME' or 'SCHEME:VALUE' of an "
    "installed plugin"
)
_NEEDS = {"file": "a path", "env": "a variable name", "profile": "a profile name"}
#: How much of a setting a message quotes: enough to recognise it, not a whole token.
_SHOWN = 60


def source_from_setting(
    value: str | AssertionSource,
    *,
    base_dir: Path | None = None,
    profile: Callable[[str], TokenProvider] | None = None,
) -> AssertionSource:
    """The source ``value`` names (an `AssertionSource` is returned as is). A relative
    ``file:`` path is taken from ``base_dir``; ``profile`` builds a configured profile's
    provider (configuration passes it; in code, ``profile:`` is refused: pass
    ``ProviderSource(load_provider(NAME))``). Raises `ConfigurationError` naming the value
    and the forms it may take."""
    if isinstance(value, AssertionSource):
        return value
    scheme, rest = _parse(value)
    cls = registry().get(scheme)  # a plugin claiming a built-in scheme fails here
    if cls is FileSource:
        return FileSource(rest, base_dir=base_dir)
    if cls is GitHubActionsSource:
        return GitHubActionsSource()
    if cls is EnvSource:
        return EnvSource(rest)
    if cls is ProviderSource:
        if profile is None:
            raise ConfigurationError(
                f"'profile:{untrusted.quote(rest, _SHOWN)}' names a profile of the "
                "configuration, which only the configuration can build; in code, pass "
                f"ProviderSource(load_provider({rest!r})) or ProviderSource(provider)"
            )
        return ProviderSource(profile(rest), description=f"profile {rest!r}")
    if cls is None:  # pragma: no cover - _parse found the scheme among the names
        raise ConfigurationError(f"assertion source scheme {scheme!r} vanished")
    return _plugin_source(cls, scheme, rest)


def source_problem(value: object) -> str | None:
    """What is wrong with the form of ``value`` as a source, or None; reads no file and
    imports no plugin (`tokenprovider config check`)."""
    if isinstance(value, AssertionSource):
        return None
    try:
        _parse(value)
    except ConfigurationError as exc:
        return str(exc)
    return None


def _parse(value: object) -> tuple[str, str]:
    """The scheme and the text after it; `ConfigurationError` for any other form."""
    if not isinstance(value, str):
        raise ConfigurationError(
            f"an assertion source must be a str ({FORMS}) or an AssertionSource, "
            f"got {type(value).__name__}"
        )
    text = value.strip()
    if text == "github-actions":
        return text, ""
    scheme, colon, rest = text.partition(":")
    if colon and SCHEME.fullmatch(scheme) and scheme in registry().names():
        shown = untrusted.quote(text, _SHOWN)
        if scheme == "github-actions":
            shown = "github-actions:..."
            raise ConfigurationError(
                f"assertion source '{shown}': write 'github-actions' alone (its audience is "
                "the provider's audience)"
            )
        if scheme in _NEEDS:
            rest = rest.strip()
        if not rest:
            need = _NEEDS.get(scheme, "a value")
            raise ConfigurationError(f"assertion source '{shown}' needs {need} after '{scheme}:'")
        return scheme, rest
    raise ConfigurationError(_unknown(text, scheme if colon else None))


def _unknown(text: str, scheme: str | None) -> str:
    if text.startswith("eyJ") or (len(text) > 100 and scheme is None and " " not in text):
        return (
            "an assertion source looks like a token itself rather than where to get one: "
            f"put the token in a file and give 'file:PATH' ({FORMS})"
        )
    from tokenprovider._suggest import did_you_mean  # noqa: PLC0415 - error path only

    # Quoted only as far as it cannot be a token: the word before a colon. A bare word
    # or a path gets a did-you-mean instead, which quotes a known form only.
    if scheme is not None and SCHEME.fullmatch(scheme) and len(scheme) <= 20:
        shown = f"'{scheme}:...'"
    else:
        shown = "(not shown: it may be a token)"
    names = registry().names()
    candidates = [name if name == "github-actions" else f"{name}:" for name in names]
    hint = did_you_mean(text if scheme is None else f"{scheme}:", candidates)
    if not hint and scheme is None and text.startswith(("/", "~", ".")):
        hint = " (it looks like a path: write file:PATH)"
    return f"an assertion source {shown} must be one of {FORMS}{hint}"


def _plugin_source(cls: type[AssertionSource], scheme: str, rest: str) -> AssertionSource:
    """``cls(rest)``; a plugin's failure other than one of ours as a `ConfigurationError`."""
    try:
        return cls(rest)  # type: ignore[call-arg]
    except TokenProviderError:
        raise
    except Exception as exc:
        problem = f"{type(exc).__name__}: {untrusted.quote(exc)}"
    where = registry().describe(scheme)
    raise ConfigurationError(f"assertion source '{scheme}:...' ({where}) refused it: {problem}")
