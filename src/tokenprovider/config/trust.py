"""Which source may decide where a credential is sent.

Sources merge key by key, so a project file (``.tokenprovider.toml``, which comes with
whatever repository you work in) holding only ``token_url`` would send your user file's
client secret to the URL it names. The project file is the one source you do not
choose: it may set any setting, but not one that decides where a credential goes
(`is_destination`, or the section's ``domain`` and ``scheme``) in a credentials table
one of whose credentials (`is_credential`) the site or user file set, which are read
wherever you work; nor may it add a profile whose name differs only in case from one of
theirs, which ``--profile NAME`` would pick instead. `redirect_problems` reports each
such setting, naming both sides and the ways to mean it. A value the project file
repeats keeps the earlier file as its origin (`tokenprovider.config.loading.load`), so
it changes nothing, a credential included; sources given for a run (an explicit file,
``TOKENPROVIDER_*`` variables) may combine with any.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tokenprovider._masking import SOURCE_SETTINGS, is_public_parameter, is_secret_key
from tokenprovider.config.known import FREE, SECTION_KEYS, KnownKeys
from tokenprovider.config.loading import ENV_PREFIX, KeyPath, LoadedConfig, leaves, source_name
from tokenprovider.config.locations import EXPLICIT, PROJECT, SITE, USER
from tokenprovider.config.profiles import section
from tokenprovider.config.toml_lines import dotted
from tokenprovider.errors import ConfigurationError

#: Provider settings that decide where credentials go, by the end of their name: a URL
#: (``token_url``, ``revocation_url``...), an AWS function or where its ARN is kept.
_DESTINATION_SUFFIXES = ("_url", "_uri", "_endpoint", "_arn", "_ssm_key")
#: ... and by their name: which AWS region and account (profile) are called.
_DESTINATION_NAMES = frozenset({"url", "uri", "endpoint", "region", "profile_name"})
#: The grants that log a person in: the login kept for such a table, and the one a person
#: makes for its client (the code and verifier), are credentials, sent to its token and
#: revocation URLs. The same as `tokenprovider.providers._person.PERSON_GRANTS` (a test
#: keeps them equal), not imported from there: that module brings in ``tokenprovider.core``
#: (about 2.5 ms), and ``config show``, whose quick check uses this module, imports no
#: provider.
PERSON_GRANTS = ("authorization_code", "device_code")
#: The credentials of a person's login, which no reference in the project file replaces.
_LOGIN_KEYS = frozenset({"grant_type", "client_id"})


def is_destination(key: str) -> bool:
    """Whether a provider setting called ``key`` decides where its credentials are sent."""
    lowered = key.lower()
    return lowered in _DESTINATION_NAMES or lowered.endswith(_DESTINATION_SUFFIXES)


def is_credential(path: KeyPath, value: Any, known: KnownKeys, *, person: bool = False) -> bool:
    """Whether the provider setting at ``path`` holding ``value`` is, or reads, a
    credential: a setting ``config show`` masks (a secret by name or by declared type, a
    value of a free-form table such as ``extra_params``), an assertion source, a grant
    that logs a person in, and, in a table that does (``person``), its ``client_id``:
    the login a person makes belongs to that client."""
    key = path[-1]
    if key == "grant_type":
        return value in PERSON_GRANTS
    if key == "client_id":
        return person
    if known.classify(path, False) == FREE:
        return not is_public_parameter(key)
    return key in SOURCE_SETTINGS or is_secret_key(key) or known.takes_secret(path)


Leaf = tuple[KeyPath, Any]


def redirect_problems(
    loaded: LoadedConfig, path: KeyPath, known: KnownKeys | None = None
) -> list[ConfigurationError]:
    """For the credentials table at ``path``: each setting the project file gives that
    decides where a credential of the site or user file is sent, or a profile of the
    project file's that shadows one of theirs (see the module docs)."""
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
        if not set_by(key_path, project):  # a value it repeats is the earlier file's
            return False
        return not (key_path[-1] == "scheme" and str(value).lower() == "https")

    problems = _shadowed(loaded, path, project, ambient)
    everywhere: list[Leaf] = []  # every table's credentials, for domain and scheme
    for name, settings in table.items():
        if name in SECTION_KEYS:
            continue
        found = leaves(settings, (*path, str(name)))
        person = isinstance(settings, Mapping) and settings.get("grant_type") in PERSON_GRANTS
        credentials = [
            (leaf, value)
            for leaf, value in found
            if set_by(leaf, ambient) and is_credential(leaf, value, known, person=person)
        ]
        everywhere += credentials
        problems += [
            _problem(loaded, leaf, credentials)
            for leaf, value in found
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


def _shadowed(
    loaded: LoadedConfig, path: KeyPath, project: set[str], ambient: set[str]
) -> list[ConfigurationError]:
    """A project file's profile at ``path`` whose name is a site or user file's profile
    but for case (``--profile prod`` picks an exact name before a folded one)."""
    if len(path) != 3 or path[0] != "profiles":
        return []
    mine = loaded.origins.get(path[:2])
    if mine is None or mine.variable or mine.source not in project:
        return []
    problems = []
    for other in loaded.data["profiles"]:
        theirs = loaded.origins.get(("profiles", str(other)))
        if (
            str(other) != path[1]
            and str(other).lower() == path[1].lower()
            and theirs is not None
            and not theirs.variable
            and theirs.source in ambient
        ):
            problems.append(
                ConfigurationError(
                    f"profiles.{path[1]} (from {mine}): a project file may not add a profile "
                    f"named like your own profiles.{other} (from {theirs}) but for case, which "
                    f"it would stand in for. Rename one of them, or trust this project file "
                    f"by naming it: --config {mine.source}"
                )
            )
    return problems


def _sources(loaded: LoadedConfig, *kinds: str) -> set[str]:
    """The origin names of the files of ``kinds`` searched."""
    return {source_name(found.path) for found in loaded.files if found.kind in kinds}


def _problem(
    loaded: LoadedConfig, destination: KeyPath, credentials: list[Leaf]
) -> ConfigurationError:
    def where(key_path: KeyPath) -> str:
        return f"{dotted(key_path)} (from {loaded.origins[key_path]})"

    def described(key_path: KeyPath, value: Any) -> str:
        if key_path[-1] == "grant_type":  # one of PERSON_GRANTS: safe to quote
            article = "an" if str(value)[:1].lower() in "aeiou" else "a"
            return f"the login kept for {where(key_path)}, {article} {value!r} grant,"
        if key_path[-1] == "client_id":
            return f"the login a person makes for {where(key_path)}"
        return where(key_path)

    project = loaded.origins[destination].source
    variable = ENV_PREFIX + "__".join(destination).upper()
    secrets = dict.fromkeys(
        key_path[-1] for key_path, _ in credentials if key_path[-1] not in _LOGIN_KEYS
    )
    too = (
        f"set {', '.join(secrets)} in the project file too (a reference such as env:NAME), "
        if secrets
        else ""
    )
    return ConfigurationError(
        f"{where(destination)}: a project file may not decide where the credentials of "
        f"your own files go, and {', '.join(described(*leaf) for leaf in credentials)} "
        f"would be sent where it says. If you mean it: set {destination[-1]} yourself "
        f"({variable}=..., or in a file named with --config), {too}or trust this project "
        f"file by naming it: --config {project}"
    )
