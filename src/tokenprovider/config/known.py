"""Which keys the configuration knows, for ``config show`` without importing providers.

``config show`` masks the value of every key it does not know, so it must know the
settings of each provider. Reading them from the constructors means importing the
provider modules and evaluating their signatures, about 0.1 s on the ``config show``
start-up budget of 0.15 s; the built-in providers' settings are therefore listed here,
and a test (``tests/test_config_hostile.py``) keeps the list in step with the
constructors. A plugin's settings are read from its class, importing it.

A setting ``NAME.*`` is a free-form table (``extra_params``): its keys are not settings.
"""

from __future__ import annotations

from collections.abc import Callable

KeyPath = tuple[str, ...]

#: Keys of a credentials table that are not a provider.
SECTION_KEYS = ("domain", "scheme", "provider", "cache", "cache_key")

#: Generated from the constructors by `tokenprovider.config.reference.setting_keys`.
BUILT_IN_SETTINGS: dict[str, frozenset[str]] = {
    "jwt": frozenset({"jwt"}),
    "oauth": frozenset(
        {
            "actor_token",
            "actor_token_type",
            "assertion",
            "assertion_algorithm",
            "assertion_audience",
            "assertion_lifetime",
            "audience",
            "authorization_url",
            "client_auth",
            "client_id",
            "client_secret",
            "clock_skew",
            "default_expires_in",
            "device_authorization_url",
            "extra_params",
            "extra_params.*",
            "failure_cooldown",
            "grant_type",
            "key_id",
            "login_store",
            "login_store_dir",
            "login_store_key",
            "max_response_bytes",
            "private_key",
            "redirect_port",
            "refresh_ahead",
            "requested_token_type",
            "resource",
            "retry",
            "retry.backoff_base",
            "retry.backoff_max",
            "retry.deadline",
            "retry.max_attempts",
            "retry.timeout",
            "revocation_url",
            "scopes",
            "subject_token",
            "subject_token_type",
            "token_url",
        }
    ),
    "tds": frozenset(
        {
            "action",
            "auth_style",
            "client_id",
            "clock_skew",
            "cmr_env",
            "edl_pass",
            "edl_user",
            "failure_cooldown",
            "invoke_timeout",
            "lambda_arn",
            "max_attempts",
            "max_response_bytes",
            "minimum_alive_secs",
            "profile_name",
            "refresh_ahead",
            "region",
            "token_dispenser_arn_ssm_key",
        }
    ),
}

#: The verdicts of `KnownKeys.classify`.
KNOWN, UNKNOWN, FREE = "known", "unknown", "free"


def _plugin_settings(name: str) -> frozenset[str] | None:
    """The settings of a provider that is not built in, importing it; None if unknown."""
    from tokenprovider.config.reference import setting_keys  # noqa: PLC0415
    from tokenprovider.config.registry import registry  # noqa: PLC0415
    from tokenprovider.errors import ConfigurationError  # noqa: PLC0415

    try:
        cls = registry.get(name)
    except ConfigurationError:  # a plugin that fails to load: its keys cannot be known
        return None
    return None if cls is None else setting_keys(cls)


class KnownKeys:
    """Says whether a key path in the configuration is a setting."""

    def __init__(
        self, settings_of: Callable[[str], frozenset[str] | None] = _plugin_settings
    ) -> None:
        self._settings_of = settings_of
        self._settings: dict[str, frozenset[KeyPath] | None] = {}

    def settings(self, provider: str) -> frozenset[KeyPath] | None:
        """The settings of ``provider`` as key paths; None if no such provider exists."""
        if provider not in self._settings:
            found = BUILT_IN_SETTINGS.get(provider)
            if found is None:
                found = self._settings_of(provider)
            self._settings[provider] = (
                None if found is None else frozenset(tuple(key.split(".")) for key in found)
            )
        return self._settings[provider]

    def classify(self, path: KeyPath, is_table: bool) -> str:
        """`KNOWN`, `UNKNOWN`, or `FREE` (a key inside a free-form table), for ``path``
        holding a table (``is_table``) or a value."""
        section = _section_length(path)
        if section is None:
            return KNOWN if is_table and _is_structure(path) else UNKNOWN
        rest = path[section:]
        if not rest:
            return KNOWN if is_table else UNKNOWN
        if rest[0] in SECTION_KEYS:
            return KNOWN if len(rest) == 1 else UNKNOWN
        settings = self.settings(rest[0])
        if settings is None:
            return UNKNOWN
        if len(rest) == 1 or rest[1:] in settings:
            return KNOWN
        return FREE if (*rest[1:2], "*") in settings else UNKNOWN

    def candidates(self, path: KeyPath) -> list[str]:
        """The known keys next to ``path``, for a "did you mean"."""
        section = _section_length(path)
        if section is None:
            return ["credentials", "profiles"] if len(path) == 1 else ["credentials"]
        rest = path[section:]
        if len(rest) <= 1:  # a setting of the section (or the section itself, mistyped)
            return [*SECTION_KEYS, *BUILT_IN_SETTINGS]
        settings = self.settings(rest[0]) or frozenset()
        parent = rest[1:-1]
        names = {
            key[len(parent)]
            for key in settings
            if len(key) > len(parent) and key[: len(parent)] == parent
        }
        return sorted(names - {"*"})


def _section_length(path: KeyPath) -> int | None:
    """How many keys of ``path`` name its credentials table (1 or 3), None if outside one."""
    if path[:1] == ("credentials",):
        return 1
    if len(path) >= 3 and path[0] == "profiles" and path[2] == "credentials":
        return 3
    return None


def _is_structure(path: KeyPath) -> bool:
    """Whether ``path`` is ``profiles`` or ``profiles.NAME`` (tables of profiles)."""
    return path == ("profiles",) or (len(path) == 2 and path[0] == "profiles")
