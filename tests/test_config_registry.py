"""The provider registry: in-code registration, and entry-point plugins loaded lazily.

Plugins are fake installed distributions (a ``NAME-1.0.dist-info`` directory) written to
``tmp_path`` and put on ``sys.path``; each test reads them with a fresh `Registry`, so the
global registry never sees them.
"""

from __future__ import annotations

import inspect
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import tokenprovider.config
from conftest import CANARY_SECRET, assert_no_leak
from tokenprovider import (
    CachedTokenProvider,
    ConfigurationError,
    Host,
    JWTTokenProvider,
    OAuthTokenProvider,
    PluginError,
    SecretReference,
    TokenProvider,
    load_provider,
    parse_credentials_config,
    register_provider,
)
from tokenprovider.config.build import build_provider
from tokenprovider.config.params import parameters
from tokenprovider.config.reference import setting_keys
from tokenprovider.config.registry import ENTRY_POINT_GROUP, Registry, registry
from tokenprovider.core.clock import Clock
from tokenprovider.core.refresh_settings import RefreshSettings, Unpack
from tokenprovider.providers.tds import TDSTokenProvider

HOST = "api.example.com"
NAME = "cfgtest_vault"


class VaultTokenProvider(CachedTokenProvider):
    """A custom provider with typed settings; ``**kwargs`` go to CachedTokenProvider."""

    def __init__(
        self,
        host: Host | str,
        role: str,
        *,
        ttl: int = 60,
        renewable: bool = False,
        policies: list[str] | None = None,
        data_dir: Path | None = None,
        api_token: str | SecretReference | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(host, **kwargs)
        self.role = role
        self.ttl = ttl
        self.renewable = renewable
        self.policies = policies
        self.data_dir = data_dir
        self._api_token = api_token

    def _request_token(self) -> tuple[str, float]:
        return f"vault-{self.role}", self._wall_time() + self.ttl


class FussyTokenProvider(TokenProvider):
    """A provider whose constructor refuses its settings, quoting the secret."""

    def __init__(self, host: Host | str, password: str) -> None:
        super().__init__(host)
        raise ValueError(f"password {password} is too weak")

    @property
    def token(self) -> str:
        return "never"


class NotAProvider:
    """Has the shape of a provider but does not subclass TokenProvider."""

    def __init__(self, host: str) -> None:
        self.host = host


@pytest.fixture
def vault() -> Iterator[type[VaultTokenProvider]]:
    decorated = register_provider(NAME)(VaultTokenProvider)
    yield decorated
    registry.unregister(NAME)


@pytest.fixture
def fussy() -> Iterator[None]:
    register_provider("cfgtest_fussy")(FussyTokenProvider)
    yield
    registry.unregister("cfgtest_fussy")


def vault_config(**settings: Any) -> dict[str, Any]:
    return {"credentials": {"domain": HOST, NAME: {"role": "reader", **settings}}}


# --- in-code registration -------------------------------------------------------------


def test_registry_instance_lives_in_its_module_not_the_package() -> None:
    """The package does not export a name that its ``registry`` submodule would shadow."""
    assert "registry" not in tokenprovider.config.__all__
    assert isinstance(registry, Registry)
    assert tokenprovider.config.registry.registry is registry


def test_register_provider_returns_the_class_and_registers_it(
    vault: type[VaultTokenProvider],
) -> None:
    assert vault is VaultTokenProvider
    assert NAME in registry.names()
    assert registry.get(NAME) is VaultTokenProvider
    assert "registered in code" in registry.describe(NAME)
    assert "VaultTokenProvider" in registry.describe(NAME)


def test_registered_provider_is_usable_from_config(vault: type[VaultTokenProvider]) -> None:
    provider = parse_credentials_config(
        vault_config(
            ttl="30",
            renewable="true",
            policies="read,write",
            data_dir="~/vault",
            clock_skew="5",  # through **kwargs to CachedTokenProvider
            refresh_ahead=20,
            failure_cooldown=1.5,
        )
    )
    assert isinstance(provider, VaultTokenProvider)
    assert provider.role == "reader"
    assert provider.ttl == 30
    assert provider.renewable is True
    assert provider.policies == ["read", "write"]
    assert provider.data_dir == Path("~/vault").expanduser()
    assert provider.clock_skew == 5.0
    assert provider.refresh_ahead == 20.0
    assert provider.failure_cooldown == 1.5
    assert provider.token == "vault-reader"


def test_registered_provider_from_environment_variables(
    vault: type[VaultTokenProvider], tmp_path: Path
) -> None:
    work = tmp_path / "work"
    (work / ".git").mkdir(parents=True)
    prefix = f"TOKENPROVIDER_CREDENTIALS__{NAME.upper()}__"
    env = {
        "XDG_CONFIG_HOME": str(tmp_path / "home"),
        "XDG_CONFIG_DIRS": str(tmp_path / "etc"),
        "TOKENPROVIDER_CREDENTIALS__DOMAIN": HOST,
        prefix + "ROLE": "writer",
        prefix + "RENEWABLE": "false",
        prefix + "TTL": "45",
        prefix + "POLICIES": "a, b",
        prefix + "CLOCK_SKEW": "3",
    }
    provider = load_provider(env=env, cwd=work)
    assert isinstance(provider, VaultTokenProvider)
    assert (provider.role, provider.renewable, provider.ttl) == ("writer", False, 45)
    assert provider.policies == ["a", "b"]
    assert provider.clock_skew == 3.0

    env[prefix + "RENEWABLE"] = "maybe"
    with pytest.raises(ConfigurationError) as info:
        load_provider(env=env, cwd=work)
    message = str(info.value)
    assert f"credentials.{NAME}.renewable" in message
    assert "bool" in message
    assert f"environment variable {prefix}RENEWABLE" in message


@pytest.mark.parametrize(
    ("settings", "fragments"),
    [
        ({"tll": 5}, (f"credentials.{NAME}.tll", "did you mean 'ttl'")),
        ({"clock_skwe": 5}, (f"credentials.{NAME}.clock_skwe", "did you mean 'clock_skew'")),
        ({"clock": "system"}, (f"credentials.{NAME}.clock", "cannot be set")),
        ({"ttl": 1.5}, (f"credentials.{NAME}.ttl", "int")),
        ({"role": None}, (f"credentials.{NAME}.role", "str")),
    ],
    ids=["typo", "typo-in-kwargs", "clock", "float-for-int", "none"],
)
def test_registered_provider_settings_are_checked(
    vault: type[VaultTokenProvider], settings: dict[str, Any], fragments: tuple[str, ...]
) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_credentials_config(vault_config(**settings))
    for fragment in fragments:
        assert fragment in str(info.value)


def test_registered_provider_missing_required_setting(vault: type[VaultTokenProvider]) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_credentials_config({"credentials": {"domain": HOST, NAME: {"ttl": 5}}})
    assert f"credentials.{NAME}" in str(info.value)
    assert "role (str)" in str(info.value)


def test_registered_provider_secret_is_masked(vault: type[VaultTokenProvider]) -> None:
    provider = parse_credentials_config(vault_config(api_token=CANARY_SECRET))
    assert "api_token=<set>" in repr(provider)
    assert_no_leak(repr(provider), CANARY_SECRET)
    with pytest.raises(ConfigurationError) as info:
        parse_credentials_config(vault_config(api_token=[CANARY_SECRET]))
    assert f"credentials.{NAME}.api_token" in str(info.value)
    assert_no_leak(str(info.value), CANARY_SECRET)


def test_constructor_error_names_the_class_and_hides_the_secret(fussy: None) -> None:
    config = {"credentials": {"domain": HOST, "cfgtest_fussy": {"password": CANARY_SECRET}}}
    with pytest.raises(ConfigurationError) as info:
        parse_credentials_config(config)
    message = str(info.value)
    assert "credentials.cfgtest_fussy" in message
    assert "FussyTokenProvider" in message
    assert "too weak" in message
    assert_no_leak(message, CANARY_SECRET)


@pytest.mark.parametrize(
    "cls",
    [
        NotAProvider,
        len,
        "tokenprovider.providers.oauth:OAuthTokenProvider",
        OAuthTokenProvider(HOST, "c"),
    ],
    ids=["plain-class", "function", "string", "instance"],
)
def test_registering_a_non_provider_names_both(cls: Any) -> None:
    with pytest.raises(PluginError) as info:
        register_provider("cfgtest_bad")(cls)
    message = str(info.value)
    assert "'cfgtest_bad'" in message
    assert "not a TokenProvider" in message
    shown = getattr(cls, "__qualname__", None) or repr(cls)
    assert shown in message or repr(cls) in message
    assert "cfgtest_bad" not in registry.names()


@pytest.mark.parametrize(
    ("name", "holder"),
    [("oauth", "OAuthTokenProvider"), ("jwt", "JWTTokenProvider")],
)
def test_registering_a_built_in_name_names_both(name: str, holder: str) -> None:
    builtin = registry.get(name)
    with pytest.raises(PluginError) as info:
        register_provider(name)(VaultTokenProvider)
    message = str(info.value)
    assert f"'{name}'" in message
    assert "VaultTokenProvider" in message
    assert holder in message
    assert "built in" in message
    assert registry.get(name) is builtin  # nothing was overridden
    expected = OAuthTokenProvider if name == "oauth" else JWTTokenProvider
    assert builtin is expected


def test_registering_a_name_taken_in_code_names_both(vault: type[VaultTokenProvider]) -> None:
    class OtherVault(VaultTokenProvider):
        pass

    with pytest.raises(PluginError) as info:
        register_provider(NAME)(OtherVault)
    message = str(info.value)
    assert "OtherVault" in message
    assert "VaultTokenProvider" in message
    assert registry.get(NAME) is VaultTokenProvider


def test_registering_the_same_class_twice_is_allowed(vault: type[VaultTokenProvider]) -> None:
    assert register_provider(NAME)(VaultTokenProvider) is VaultTokenProvider
    assert registry.get(NAME) is VaultTokenProvider


@pytest.mark.parametrize(
    "name", ["", "Vault", "9lives", "my-provider", "my provider", "vault!", "_vault", None, 5]
)
def test_bad_names_are_refused(name: Any) -> None:
    with pytest.raises(PluginError) as info:
        register_provider(name)(VaultTokenProvider)
    assert repr(name) in str(info.value)
    assert "VaultTokenProvider" in str(info.value)
    assert name not in registry.names()


def test_unregister_removes_an_in_code_provider() -> None:
    register_provider(NAME)(VaultTokenProvider)
    try:
        assert NAME in registry.names()
    finally:
        registry.unregister(NAME)
    assert NAME not in registry.names()
    assert registry.get(NAME) is None
    with pytest.raises(ConfigurationError) as info:
        parse_credentials_config(vault_config())
    assert f"no provider '{NAME}'" in str(info.value)
    # the name is free again
    register_provider(NAME)(VaultTokenProvider)
    registry.unregister(NAME)


def test_unregister_leaves_built_ins_and_ignores_unknown_names() -> None:
    registry.unregister("oauth")
    registry.unregister("cfgtest_never_registered")
    assert registry.get("oauth") is OAuthTokenProvider
    assert {"jwt", "oauth"} <= set(registry.names())


# --- entry-point plugins ----------------------------------------------------------------

PROVIDER_MODULE = """
from tokenprovider import CachedTokenProvider


class PluginTokenProvider(CachedTokenProvider):
    def __init__(self, host, region: str, *, retries: int = 1, **kwargs):
        super().__init__(host, **kwargs)
        self.region = region
        self.retries = retries

    def _request_token(self):
        return "plugin-" + self.region, self._wall_time() + 60


class NotAProvider:
    pass
"""

MakePlugin = Callable[..., str]


@pytest.fixture
def make_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakePlugin]:
    """Write a fake installed distribution; return the name of its (unimported) module."""
    monkeypatch.syspath_prepend(str(tmp_path))
    modules: list[str] = []

    def make(
        dist: str, entries: dict[str, str], source: str = PROVIDER_MODULE, *, module: str = ""
    ) -> str:
        module = module or f"cfgtest_plugin_{uuid.uuid4().hex[:12]}"
        modules.append(module)
        info = tmp_path / f"{dist.replace('-', '_')}-1.0.dist-info"  # escaped, as pip names it
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        lines = [f"[{ENTRY_POINT_GROUP}]"]
        lines += [f"{name} = {target.format(module=module)}" for name, target in entries.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        (tmp_path / f"{module}.py").write_text(source)
        return module

    yield make
    for module in modules:
        sys.modules.pop(module, None)


def test_plugin_is_imported_only_when_its_name_is_asked(make_plugin: MakePlugin) -> None:
    module = make_plugin("cfgtest-lazy", {"cfgtest_lazy": "{module}:PluginTokenProvider"})
    fresh = Registry()
    assert "cfgtest_lazy" in fresh.names()
    assert {"jwt", "oauth"} <= set(fresh.names())
    assert "cfgtest-lazy 1.0" in fresh.describe("cfgtest_lazy")
    assert "cfgtest_lazy" in fresh
    assert module not in sys.modules
    cls = fresh.get("cfgtest_lazy")
    assert module in sys.modules
    assert cls is sys.modules[module].PluginTokenProvider
    assert fresh.get("cfgtest_lazy") is cls  # cached


def test_plugin_provider_is_usable_from_config(make_plugin: MakePlugin) -> None:
    make_plugin("cfgtest-cfg", {"cfgtest_cfg": "{module}:PluginTokenProvider"})
    section = {"domain": HOST, "cfgtest_cfg": {"region": "eu", "retries": "3", "clock_skew": 4}}
    provider = build_provider(section, providers=Registry())
    assert type(provider).__name__ == "PluginTokenProvider"
    assert provider.region == "eu"  # type: ignore[attr-defined]
    assert provider.retries == 3  # type: ignore[attr-defined]
    assert provider.clock_skew == 4.0  # type: ignore[attr-defined]
    assert provider.token == "plugin-eu"


def test_plugin_claiming_a_built_in_name_names_both(make_plugin: MakePlugin) -> None:
    module = make_plugin("cfgtest-thief", {"oauth": "{module}:PluginTokenProvider"})
    fresh = Registry()
    assert "oauth" in fresh.names()  # listing does not fail
    with pytest.raises(PluginError) as info:
        fresh.get("oauth")
    message = str(info.value)
    assert "'oauth'" in message
    assert "built in" in message
    assert "OAuthTokenProvider" in message
    assert "cfgtest-thief 1.0" in message
    assert module not in sys.modules
    assert fresh.get("jwt") is JWTTokenProvider  # other names still work
    with pytest.raises(PluginError):
        build_provider({"domain": HOST, "oauth": {"client_id": "c"}}, providers=fresh)


def test_plugin_name_claimed_by_two_packages_names_both(make_plugin: MakePlugin) -> None:
    make_plugin("cfgtest-one", {"cfgtest_twice": "{module}:PluginTokenProvider"})
    make_plugin("cfgtest-two", {"cfgtest_twice": "{module}:PluginTokenProvider"})
    with pytest.raises(PluginError) as info:
        Registry().get("cfgtest_twice")
    assert "cfgtest-one 1.0" in str(info.value)
    assert "cfgtest-two 1.0" in str(info.value)


def test_code_registration_of_a_plugin_name_names_both(make_plugin: MakePlugin) -> None:
    make_plugin("cfgtest-owner", {"cfgtest_owned": "{module}:PluginTokenProvider"})
    fresh = Registry()
    with pytest.raises(PluginError) as info:
        fresh.register("cfgtest_owned", VaultTokenProvider)
    message = str(info.value)
    assert "VaultTokenProvider" in message
    assert "cfgtest-owner 1.0" in message


def test_plugin_that_is_not_a_provider_is_refused(make_plugin: MakePlugin) -> None:
    make_plugin("cfgtest-notprov", {"cfgtest_notprov": "{module}:NotAProvider"})
    fresh = Registry()
    with pytest.raises(PluginError) as info:
        fresh.get("cfgtest_notprov")
    message = str(info.value)
    assert "'cfgtest_notprov'" in message
    assert "cfgtest-notprov 1.0" in message
    assert "NotAProvider" in message
    assert "not a TokenProvider" in message


@pytest.mark.parametrize(
    ("target", "source", "cause"),
    [
        ("{module}:PluginTokenProvider", "raise ImportError('needs libvault')\n", "needs libvault"),
        ("{module}:PluginTokenProvider", "1 / 0\n", "ZeroDivisionError"),
        ("{module}:Missing", PROVIDER_MODULE, "Missing"),
        ("cfgtest_no_such_module:PluginTokenProvider", "", "cfgtest_no_such_module"),
    ],
    ids=["import-error", "error-on-import", "missing-attribute", "missing-module"],
)
def test_plugin_that_fails_to_load_is_a_plugin_error(
    make_plugin: MakePlugin, target: str, source: str, cause: str
) -> None:
    make_plugin("cfgtest-broken", {"cfgtest_broken": target}, source)
    fresh = Registry()
    assert "cfgtest_broken" in fresh.names()
    with pytest.raises(PluginError) as info:
        fresh.get("cfgtest_broken")
    message = str(info.value)
    assert "'cfgtest_broken'" in message
    assert "cfgtest-broken 1.0" in message
    assert "failed to load" in message
    assert cause in message
    with pytest.raises(PluginError):
        build_provider({"domain": HOST, "cfgtest_broken": {"region": "x"}}, providers=fresh)


def test_broken_plugin_does_not_break_other_providers(make_plugin: MakePlugin) -> None:
    make_plugin("cfgtest-broken", {"cfgtest_broken": "{module}:X"}, "raise ImportError('no')\n")
    fresh = Registry()
    provider = build_provider({"domain": HOST, "oauth": {"client_id": "c"}}, providers=fresh)
    assert isinstance(provider, OAuthTokenProvider)
    # an unknown key looks at every provider's settings; the broken plugin is skipped
    with pytest.raises(ConfigurationError) as info:
        build_provider({"domain": HOST, "client_id": "c"}, providers=fresh)
    assert not isinstance(info.value, PluginError)
    assert "credentials.client_id" in str(info.value)
    assert "[credentials.NAME]" in str(info.value)


def test_custom_group_and_built_ins() -> None:
    fresh = Registry({"only": "tokenprovider.providers.jwt:JWTTokenProvider"}, "cfgtest.none")
    assert fresh.names() == ["only"]
    assert fresh.get("only") is JWTTokenProvider
    assert fresh.get("oauth") is None
    assert fresh.describe("oauth") == "unknown"


# --- the shared refresh settings, declared once ---------------------------------------


class TeamTokenProvider(CachedTokenProvider):
    """A custom provider that passes the shared settings through as ``**settings``."""

    def __init__(self, host: Host | str, team: str, **settings: Unpack[RefreshSettings]) -> None:
        super().__init__(host, **settings)
        self.team = team

    def _request_token(self) -> tuple[str, float]:
        return f"team-{self.team}", self._wall_time() + 600


#: How the configuration sees the shared settings, (type, default, configurable), as when
#: each provider declared them; ``cache`` is no provider setting (it has its section key).
SHARED = {
    "clock_skew": (float | None, None, True),
    "refresh_ahead": (float | None, None, True),
    "failure_cooldown": (float | None, None, True),
    "clock": (Clock | None, None, False),
}


@pytest.mark.parametrize(
    "cls", [CachedTokenProvider, OAuthTokenProvider, TDSTokenProvider, TeamTokenProvider]
)
def test_the_refresh_settings_are_declared_once(cls: type[CachedTokenProvider]) -> None:
    own = inspect.signature(cls.__init__).parameters
    assert not set(own) & set(RefreshSettings.__annotations__)  # none declared again
    assert list(own.values())[-1].kind is inspect.Parameter.VAR_KEYWORD
    found = parameters(cls)
    assert {
        name: (p.annotation, p.default, p.configurable)
        for name, p in found.items()
        if name in RefreshSettings.__annotations__
    } == SHARED
    assert not any(found[name].required for name in SHARED)
    assert list(found)[-len(SHARED) :] == list(SHARED)  # after the provider's own


def test_a_provider_passing_settings_through_is_configured_like_the_built_ins() -> None:
    register_provider("cfgtest_team")(TeamTokenProvider)
    try:
        assert setting_keys(TeamTokenProvider) == {
            "team",
            "clock_skew",
            "refresh_ahead",
            "failure_cooldown",
        }
        section = {"domain": HOST, "cfgtest_team": {"team": "ops", "refresh_ahead": 60}}
        provider = build_provider(section)
        assert isinstance(provider, TeamTokenProvider)
        assert provider.refresh_ahead == 60.0
        section["cfgtest_team"] = {"team": "ops", "refresh_ahed": 60}
        with pytest.raises(ConfigurationError, match="refresh_ahead"):  # did you mean
            build_provider(section)
    finally:
        registry.unregister("cfgtest_team")


@pytest.mark.parametrize("cls", [OAuthTokenProvider, TDSTokenProvider, TeamTokenProvider])
def test_an_unknown_keyword_is_still_a_type_error(cls: type[CachedTokenProvider]) -> None:
    with pytest.raises(
        TypeError, match=r"__init__\(\) got an unexpected keyword argument 'clock_skw'"
    ):
        cls(HOST, "client", clock_skw=1.0)  # type: ignore[call-arg]
