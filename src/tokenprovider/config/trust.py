"""Which source may decide where a credential is sent.

Sources merge key by key, so a project file (``.tokenprovider.toml``, which comes with
whatever repository you work in) holding only ``token_url`` would send your user file's
client secret to the URL it names. The project file is the one source you do not
choose: it may set any setting, but not one that decides where a credential goes
(`is_destination`, or the section's ``domain`` and ``scheme``) in a credentials table
one of whose credentials (`is_credential`) comes from the site or user file, which are
read wherever you work. `redirect_problems` reports each such setting, naming both sides
and the ways to mean it. A value the project file repeats changes nothing, and sources
given for a run (an explicit file, ``TOKENPROVIDER_*`` variables) may combine with any.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tokenprovider._masking import SOURCE_SETTINGS, is_public_parameter, is_secret_key
from tokenprovider.config.known import FREE, SECTION_KEYS, KnownKeys
from tokenprovider.config.loading import ENV_PREFIX, KeyPath, LoadedConfig, source_name
from tokenprovider.config.locations import EXPLICIT, PROJECT, SITE, USER
from tokenprovider.config.profiles import section
from tokenprovider.config.toml_lines import dotted
from tokenprovider.errors import ConfigurationError

#: Provider settings that decide where credentials go, by the end of their name: a URL
#: (``token_url``, ``revocation_url``...), an AWS function or where its ARN is kept.
_DESTINATION_SUFFIXES = ("_url", "_uri", "_endpoint", "_arn", "_ssm_key")
#: ... and by their name: which AWS region and account (profile) are called.
_DESTINATION_NAMES = frozenset({"url", "uri", "endpoint", "region", "profile_name"})
#: The grants that log a person in (`tokenprovider.providers._person.PERSON_GRANTS`):
#: the login kept for such a table is a credential, sent to its token and revocation URLs.
PERSON_GRANTS = ("authorization_code", "device_code")


def is_destination(key: str) -> bool:
    """Whether a provider setting called ``key`` decides where its credentials are sent."""
    lowered = key.lower()
    return lowered in _DESTINATION_NAMES or lowered.endswith(_DESTINATION_SUFFIXES)


def is_credential(path: KeyPath, value: Any, known: KnownKeys) -> bool:
    """Whether the provider setting at ``path`` holding ``value`` is, or reads, a
    credential: a setting ``config show`` masks (a secret by name or by declared type, a
    value of a free-form table such as ``extra_params``), an assertion source, or a
    grant that logs a person in."""
    key = path[-1]
    if key == "grant_type":
        return value in PERSON_GRANTS
    if known.classify(path, False) == FREE:
        return not is_public_parameter(key)
    return key in SOURCE_SETTINGS or is_secret_key(key) or known.takes_secret(path)


def redirect_problems(
    loaded: LoadedConfig, path: KeyPath, known: KnownKeys | None = None
) -> list[ConfigurationError]:
    """For the credentials table at ``path``: each setting the project file gives that
    decides where a credential of the site or user file is sent (see the module docs)."""
    project = _sources(loaded, PROJECT) - _sources(loaded, EXPLICIT)  # named: trusted
    table = section(loaded.data, path)
    if not project or not isinstance(table, Mapping):
        return []
    known = known or KnownKeys()
    ambient = _sources(loaded, SITE, USER)

    def set_by(key_path: KeyPath, sources: set[str]) -> bool:
        origin = loaded.origins.get(key_path)
        return origin is not None and not origin.variable and origin.source in sources

    def redirects(key_path: KeyPath, value: Any) -> bool:
        if key_path not in loaded.project_changes or not set_by(key_path, project):
            return False
        return not (key_path[-1] == "scheme" and str(value).lower() == "https")

    problems: list[ConfigurationError] = []
    everywhere: list[KeyPath] = []  # every table's credentials, for domain and scheme
    for name, settings in table.items():
        if name in SECTION_KEYS:
            continue
        leaves = _leaves(settings, (*path, str(name)))
        credentials = [
            leaf
            for leaf, value in leaves
            if set_by(leaf, ambient) and is_credential(leaf, value, known)
        ]
        everywhere += credentials
        problems += [
            _problem(loaded, leaf, credentials)
            for leaf, value in leaves
            if credentials
            and is_destination(leaf[-1])
            and known.classify(leaf, False) != FREE  # a request parameter, not a place
            and redirects(leaf, value)
        ]
    for key in ("domain", "scheme"):
        key_path = (*path, key)
        if everywhere and key in table and redirects(key_path, table[key]):
            problems.insert(0, _problem(loaded, key_path, everywhere))
    return problems


def _leaves(value: Any, path: KeyPath) -> list[tuple[KeyPath, Any]]:
    """Every value under ``path`` (a shorthand's value is its own leaf)."""
    if isinstance(value, Mapping):
        return [leaf for key, item in value.items() for leaf in _leaves(item, (*path, str(key)))]
    return [(path, value)]


def _sources(loaded: LoadedConfig, *kinds: str) -> set[str]:
    """The origin names of the files of ``kinds`` searched."""
    return {source_name(found.path) for found in loaded.files if found.kind in kinds}


def _problem(
    loaded: LoadedConfig, destination: KeyPath, credentials: list[KeyPath]
) -> ConfigurationError:
    def where(key_path: KeyPath) -> str:
        return f"{dotted(key_path)} (from {loaded.origins[key_path]})"

    def what(key_path: KeyPath) -> str:
        if key_path[-1] != "grant_type":
            return where(key_path)
        grant = section(loaded.data, key_path)  # one of PERSON_GRANTS: safe to quote
        return f"the login kept for {where(key_path)}, a {grant!r} grant,"

    project = loaded.origins[destination].source
    variable = ENV_PREFIX + "__".join(destination).upper()
    settings = dict.fromkeys(path[-1] for path in credentials if path[-1] != "grant_type")
    too = (
        f"set {', '.join(settings)} in the project file too (a reference such as env:NAME), "
        if settings
        else ""
    )
    return ConfigurationError(
        f"{where(destination)}: a project file may not decide where the credentials of "
        f"your own files go, and {', '.join(map(what, credentials))} would be sent where "
        f"it says. If you mean it: set {destination[-1]} yourself ({variable}=..., or in "
        f"a file named with --config), {too}or trust this project file by naming it: "
        f"--config {project}"
    )
