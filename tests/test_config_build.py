"""Configuration to provider: a matrix of good and bad configs, sources, merge and profiles.

Every load goes through ``load_provider(env=..., cwd=...)`` with the XDG directories and
the working directory inside ``tmp_path``, so no real user or site file is ever read.
"""

from __future__ import annotations

import base64
import copy
import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from conftest import CANARY_SECRET, assert_no_leak
from tokenprovider import (
    ConfigurationError,
    InvalidHostError,
    JWTTokenProvider,
    MalformedTokenError,
    OAuthTokenProvider,
    RetryPolicy,
    SecretReference,
    TokenProvider,
    load_provider,
    parse_credentials_config,
)
from tokenprovider.config import InsecureConfigFileWarning
from tokenprovider.secret_refs import clear_secret_cache

HOST = "api.example.com"
TOKEN_URL = "https://login.example.com/oauth2/token"


def _segment(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode("ascii")


JWT = f"{_segment({'alg': 'HS256', 'typ': 'JWT'})}.{_segment({'sub': 'config-test'})}.c2ln"
OTHER_JWT = f"{_segment({'alg': 'HS256'})}.{_segment({'sub': 'other'})}.c2ln"


def credentials(**section: Any) -> dict[str, Any]:
    return {"credentials": section}


def oauth_table(**extra: Any) -> dict[str, Any]:
    return {"client_id": "reporting", "client_secret": CANARY_SECRET, **extra}


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def site_path(tmp_path: Path) -> Path:
    return tmp_path / "etc" / "tokenprovider" / "config.toml"


def user_path(tmp_path: Path) -> Path:
    return tmp_path / "home" / "tokenprovider" / "config.toml"


def load(workdir: Path, env: dict[str, str], **kwargs: Any) -> TokenProvider:
    return load_provider(env=env, cwd=workdir, **kwargs)


def config_error(
    expected: type[Exception], call: Any, *fragments: str, secrets: tuple[str, ...] = ()
) -> str:
    """Run ``call``; check the exception type, that it names each fragment, leaks nothing."""
    with pytest.raises(expected) as info:
        call()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert_no_leak(message, CANARY_SECRET, *secrets)
    return message


# --- good configs -------------------------------------------------------------------


def test_jwt_shorthand_builds_a_jwt_provider() -> None:
    provider = parse_credentials_config(credentials(domain=HOST, jwt=JWT))
    assert isinstance(provider, JWTTokenProvider)
    assert provider.token == JWT
    assert provider.host.url == f"https://{HOST}"


def test_jwt_table_builds_a_jwt_provider() -> None:
    provider = parse_credentials_config(credentials(domain=HOST, jwt={"jwt": JWT}))
    assert isinstance(provider, JWTTokenProvider)
    assert provider.token == JWT


def test_oauth_table_converts_every_kind_of_value() -> None:
    section = oauth_table(
        token_url=TOKEN_URL,
        scopes=["read", "write"],
        client_auth="post",
        audience="reports",
        retry={"max_attempts": 2, "timeout": 1.5, "deadline": "12"},
        extra_params={"resource": "https://api.example.com"},
        default_expires_in=600,
        refresh_ahead="60",
    )
    provider = parse_credentials_config(credentials(domain=HOST, oauth=section))
    assert isinstance(provider, OAuthTokenProvider)
    assert provider.client_id == "reporting"
    assert provider.token_url == TOKEN_URL
    assert tuple(provider.scopes) == ("read", "write")
    assert provider.client_auth == "post"
    assert provider.audience == "reports"
    assert provider.retry == RetryPolicy(max_attempts=2, timeout=1.5, deadline=12.0)
    assert isinstance(provider.retry, RetryPolicy)
    assert provider._extra_params == {"resource": "https://api.example.com"}
    assert provider.default_expires_in == 600.0
    assert provider.refresh_ahead == 60.0


@pytest.mark.parametrize(
    ("given", "expected"), [(5, 5.0), (2.5, 2.5), ("7.5", 7.5), (" 10 ", 10.0), (0, 0.0)]
)
def test_clock_skew_accepts_int_float_and_numeric_string(given: object, expected: float) -> None:
    section = credentials(domain=HOST, oauth=oauth_table(clock_skew=given))
    provider = parse_credentials_config(section)
    assert isinstance(provider, OAuthTokenProvider)
    assert provider.clock_skew == expected
    assert type(provider.clock_skew) is float


def test_secret_reference_is_kept_lazy() -> None:
    section = credentials(
        domain=HOST, oauth=oauth_table(client_secret="env:TOKENPROVIDER_TEST_NEVER_SET")
    )
    provider = parse_credentials_config(section)  # the variable is not needed yet
    assert isinstance(provider, OAuthTokenProvider)
    assert isinstance(provider._client_secret, SecretReference)
    assert provider._client_secret.reference == "env:TOKENPROVIDER_TEST_NEVER_SET"


def test_scheme_http_is_used_for_the_host() -> None:
    provider = parse_credentials_config(credentials(domain=HOST, scheme="http", jwt=JWT))
    assert provider.host.scheme == "http"
    assert provider.host.url == f"http://{HOST}"


@pytest.mark.parametrize(
    ("chosen", "expected"), [("jwt", JWTTokenProvider), ("oauth", OAuthTokenProvider)]
)
def test_provider_key_picks_one_of_two_tables(chosen: str, expected: type) -> None:
    section = credentials(domain=HOST, provider=chosen, jwt={"jwt": JWT}, oauth=oauth_table())
    assert type(parse_credentials_config(section)) is expected


def test_provider_key_with_a_shorthand_entry() -> None:
    section = credentials(domain=HOST, provider="jwt", jwt=JWT, oauth=oauth_table())
    provider = parse_credentials_config(section)
    assert isinstance(provider, JWTTokenProvider)
    assert provider.token == JWT


def test_parse_does_not_mutate_its_input() -> None:
    config = credentials(
        domain=HOST,
        provider="oauth",
        jwt=JWT,
        oauth=oauth_table(
            scopes=["read"], retry={"max_attempts": "3"}, extra_params={"a": "b"}, clock_skew="5"
        ),
    )
    before = copy.deepcopy(config)
    parse_credentials_config(config)
    assert config == before


# --- errors from parse_credentials_config ---------------------------------------------

BAD_CONFIGS: list[tuple[str, dict[str, Any], type[Exception], tuple[str, ...]]] = [
    (
        "missing domain",
        credentials(oauth=oauth_table()),
        ConfigurationError,
        ("credentials", "domain"),
    ),
    (
        "non-string domain",
        credentials(domain=443, oauth=oauth_table()),
        ConfigurationError,
        ("credentials.domain", "string", "integer"),
    ),
    (
        "domain with a path",
        credentials(domain="api.example.com/v1", oauth=oauth_table()),
        InvalidHostError,
        ("credentials.domain", "'api.example.com/v1'", "without a path", "drop the path '/v1'"),
    ),
    (
        "bad scheme",
        credentials(domain=HOST, scheme="ftp", oauth=oauth_table()),
        InvalidHostError,
        ("credentials.scheme", "ftp"),
    ),
    (
        "unknown provider table",
        credentials(domain=HOST, oauht=oauth_table()),
        ConfigurationError,
        ("credentials.oauht", "did you mean 'oauth'", "jwt", "oauth"),
    ),
    (
        "unknown provider picked",
        credentials(domain=HOST, provider="oauht", oauth=oauth_table()),
        ConfigurationError,
        ("credentials.provider", "did you mean 'oauth'", "jwt", "oauth"),
    ),
    (
        "unknown key in provider table",
        credentials(domain=HOST, oauth=oauth_table(scopez=["read"])),
        ConfigurationError,
        ("credentials.oauth.scopez", "did you mean 'scopes'"),
    ),
    (
        "unknown key in nested retry table",
        credentials(domain=HOST, oauth=oauth_table(retry={"max_attemps": 2})),
        ConfigurationError,
        ("credentials.oauth.retry.max_attemps", "did you mean 'max_attempts'"),
    ),
    (
        "unknown key at section level",
        credentials(domain=HOST, colour="blue", oauth=oauth_table()),
        ConfigurationError,
        ("credentials.colour", "not a known setting"),
    ),
    (
        "misspelt section key",
        credentials(domain=HOST, schme="http", oauth=oauth_table()),
        ConfigurationError,
        ("credentials.schme", "did you mean 'scheme'"),
    ),
    (
        "domain inside the provider table",
        credentials(domain=HOST, oauth=oauth_table(domain=HOST)),
        ConfigurationError,
        ("credentials.oauth.domain", "[credentials]"),
    ),
    (
        "missing required parameter",
        credentials(domain=HOST, oauth={"client_secret": CANARY_SECRET}),
        ConfigurationError,
        ("credentials.oauth", "client_id", "str"),
    ),
    (
        "two providers without provider=",
        credentials(domain=HOST, jwt=JWT, oauth=oauth_table()),
        ConfigurationError,
        ("credentials.jwt", "credentials.oauth", "provider ="),
    ),
    (
        "no provider",
        credentials(domain=HOST),
        ConfigurationError,
        ("credentials", "no provider", "jwt", "oauth"),
    ),
    (
        "shorthand for a provider without such a parameter",
        credentials(domain=HOST, oauth="x"),
        ConfigurationError,
        ("credentials.oauth", "shorthand", "[credentials.oauth]"),
    ),
    (
        "parameter that only code can set",
        credentials(domain=HOST, oauth=oauth_table(clock="system")),
        ConfigurationError,
        ("credentials.oauth.clock", "cannot be set"),
    ),
    (
        "non-numeric clock_skew",
        credentials(domain=HOST, oauth=oauth_table(clock_skew="soon")),
        ConfigurationError,
        ("credentials.oauth.clock_skew", "float", "'soon'"),
    ),
    (
        "literal not allowed",
        credentials(domain=HOST, oauth=oauth_table(client_auth="digest")),
        ConfigurationError,
        ("credentials.oauth.client_auth", "'basic'", "'post'"),
    ),
    (
        "scopes of the wrong type",
        credentials(domain=HOST, oauth=oauth_table(scopes=5)),
        ConfigurationError,
        ("credentials.oauth.scopes", "list[str]"),
    ),
    (
        "retry that is not a table",
        credentials(domain=HOST, oauth=oauth_table(retry=3)),
        ConfigurationError,
        ("credentials.oauth.retry", "RetryPolicy"),
    ),
    (
        "non-integer retry count",
        credentials(domain=HOST, oauth=oauth_table(retry={"max_attempts": "many"})),
        ConfigurationError,
        ("credentials.oauth.retry.max_attempts", "int"),
    ),
    (
        "secret of the wrong type is not echoed",
        credentials(domain=HOST, oauth=oauth_table(client_secret=[CANARY_SECRET])),
        ConfigurationError,
        ("credentials.oauth.client_secret", "str", "***"),
    ),
    (
        "jwt of the wrong type is not echoed",
        credentials(domain=HOST, jwt=[CANARY_SECRET]),
        ConfigurationError,
        ("credentials.jwt", "str", "***"),
    ),
    (
        "a jwt that is not a JWT is not echoed",
        credentials(domain=HOST, jwt=CANARY_SECRET),
        MalformedTokenError,
        ("credentials.jwt", "not a JWT"),
    ),
    (
        "credentials that are not a table",
        {"credentials": "api.example.com"},
        ConfigurationError,
        ("credentials", "table"),
    ),
    ("no credentials table", {"profiles": {}}, ConfigurationError, ("[credentials]",)),
]


@pytest.mark.parametrize(
    ("config", "expected", "fragments"),
    [
        pytest.param(config, expected, fragments, id=name)
        for name, config, expected, fragments in BAD_CONFIGS
    ],
)
def test_bad_config_is_a_clear_configuration_error(
    config: dict[str, Any], expected: type[Exception], fragments: tuple[str, ...]
) -> None:
    config_error(expected, lambda: parse_credentials_config(config), *fragments)


@pytest.mark.parametrize(
    "domain",
    [
        "api.example.com/v1",
        "user@api.example.com",
        "api.example.com:0",
        "api.example.com:99999x",
        "api .example.com",
        "  ",
        "[::1",  # urlsplit: "Invalid IPv6 URL"
        "api\uff03example.com",  # fullwidth '#': invalid under NFKC normalization
    ],
)
def test_invalid_domain_is_an_invalid_host_error(domain: str) -> None:
    config_error(
        InvalidHostError,
        lambda: parse_credentials_config(credentials(domain=domain, jwt=JWT)),
        "credentials.domain",
        secrets=(JWT,),
    )


def test_unknown_provider_lists_the_known_names() -> None:
    message = config_error(
        ConfigurationError,
        lambda: parse_credentials_config(credentials(domain=HOST, vault={"role": "x"})),
        "credentials.vault",
        "'vault'",
    )
    known = message.split("known providers: ", 1)[1]
    assert "jwt" in known
    assert "oauth" in known


def test_reference_resolved_for_a_plain_setting_is_not_echoed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOKENPROVIDER_TEST_SKEW_SECRET", CANARY_SECRET)
    clear_secret_cache()
    try:
        section = oauth_table(clock_skew="env:TOKENPROVIDER_TEST_SKEW_SECRET")
        config_error(
            ConfigurationError,
            lambda: parse_credentials_config(credentials(domain=HOST, oauth=section)),
            "credentials.oauth.clock_skew",
            "float",
        )
    finally:
        clear_secret_cache()


# --- sources, lines and variables in errors ------------------------------------------

OAUTH_FILE = """\
# a comment on line 1
[credentials]
domain = "api.example.com"

[credentials.oauth]
client_id = "reporting"
token_url = "https://login.example.com/oauth2/token"
clock_skew = "soon"
"""


def test_bad_value_in_a_file_names_key_type_file_and_line(
    tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    path = write(tmp_path / "explicit.toml", OAUTH_FILE)
    config_error(
        ConfigurationError,
        lambda: load(workdir, env, config_file=path),
        "credentials.oauth.clock_skew",
        "float",
        f"{path}, line 8",
    )


def test_bad_value_in_a_nested_table_names_its_line(
    tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    text = OAUTH_FILE.replace('clock_skew = "soon"', "[credentials.oauth.retry]\ntimeout = true")
    path = write(tmp_path / "explicit.toml", text)
    config_error(
        ConfigurationError,
        lambda: load(workdir, env, config_file=path),
        "credentials.oauth.retry.timeout",
        "float",
        f"{path}, line 9",
    )


def test_secret_of_wrong_type_in_a_file_names_line_but_not_value(
    tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    text = OAUTH_FILE.replace('clock_skew = "soon"', f'client_secret = ["{CANARY_SECRET}"]')
    path = write(tmp_path / "explicit.toml", text)
    config_error(
        ConfigurationError,
        lambda: load(workdir, env, config_file=path),
        "credentials.oauth.client_secret",
        "str",
        f"{path}, line 8",
    )


def test_bad_value_from_a_variable_names_the_variable(
    tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    path = write(tmp_path / "explicit.toml", OAUTH_FILE.replace('clock_skew = "soon"', ""))
    env["TOKENPROVIDER_CREDENTIALS__OAUTH__RETRY__MAX_ATTEMPTS"] = "many"
    config_error(
        ConfigurationError,
        lambda: load(workdir, env, config_file=path),
        "credentials.oauth.retry.max_attempts",
        "int",
        "environment variable TOKENPROVIDER_CREDENTIALS__OAUTH__RETRY__MAX_ATTEMPTS",
    )


def test_two_providers_from_two_files_names_both_files(
    tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    user = write(user_path(tmp_path), f'[credentials]\ndomain = "{HOST}"\njwt = "{JWT}"\n')
    project = write(workdir / ".tokenprovider.toml", '[credentials.oauth]\nclient_id = "x"\n')
    config_error(
        ConfigurationError,
        lambda: load(workdir, env),
        "credentials.jwt",
        "credentials.oauth",
        str(user),
        str(project),
        secrets=(JWT,),
    )


def test_broken_toml_names_the_file_and_line(
    tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    path = write(tmp_path / "broken.toml", f'[credentials]\ndomain = "{HOST}"\noauth = = 1\n')
    config_error(
        ConfigurationError, lambda: load(workdir, env, config_file=path), str(path), "line 3"
    )


def test_broken_user_file_names_the_file(
    tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    path = write(user_path(tmp_path), "[credentials\n")
    config_error(ConfigurationError, lambda: load(workdir, env), str(path), "line 1")


# --- environment variables ------------------------------------------------------------

BOTH_PROVIDERS = f"""\
[credentials]
domain = "{HOST}"
provider = "oauth"

[credentials.oauth]
client_id = "reporting"
token_url = "{TOKEN_URL}"

[credentials.jwt]
jwt = "{JWT}"
"""


def test_provider_is_switched_by_an_environment_variable(
    tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    path = write(tmp_path / "explicit.toml", BOTH_PROVIDERS)
    assert isinstance(load(workdir, env, config_file=path), OAuthTokenProvider)
    env["TOKENPROVIDER_CREDENTIALS__PROVIDER"] = "jwt"
    provider = load(workdir, env, config_file=path)
    assert isinstance(provider, JWTTokenProvider)
    assert provider.token == JWT


def test_variable_picks_a_provider_when_the_file_names_none(
    tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    path = write(tmp_path / "explicit.toml", BOTH_PROVIDERS.replace('provider = "oauth"\n', ""))
    env["TOKENPROVIDER_CREDENTIALS__PROVIDER"] = "oauth"
    assert isinstance(load(workdir, env, config_file=path), OAuthTokenProvider)


def test_variables_alone_configure_a_provider(workdir: Path, env: dict[str, str]) -> None:
    env.update(
        {
            "TOKENPROVIDER_CREDENTIALS__DOMAIN": HOST,
            "TOKENPROVIDER_CREDENTIALS__OAUTH__CLIENT_ID": "reporting",
            "TOKENPROVIDER_CREDENTIALS__OAUTH__CLIENT_SECRET": CANARY_SECRET,
            "TOKENPROVIDER_CREDENTIALS__OAUTH__SCOPES": "read,write",
            "TOKENPROVIDER_CREDENTIALS__OAUTH__CLOCK_SKEW": "2.5",
            "TOKENPROVIDER_CREDENTIALS__OAUTH__CLIENT_AUTH": "post",
            "TOKENPROVIDER_CREDENTIALS__OAUTH__RETRY__MAX_ATTEMPTS": "7",
            "TOKENPROVIDER_CREDENTIALS__OAUTH__EXTRA_PARAMS__RESOURCE": "r",
        }
    )
    provider = load(workdir, env)
    assert isinstance(provider, OAuthTokenProvider)
    assert provider.host.domain == HOST
    assert provider.client_id == "reporting"
    assert list(provider.scopes) == ["read", "write"]
    assert provider.clock_skew == 2.5
    assert provider.client_auth == "post"
    assert provider.retry.max_attempts == 7
    assert provider._extra_params == {"resource": "r"}
    assert_no_leak(repr(provider), CANARY_SECRET)


@pytest.mark.parametrize(
    "variable",
    [
        "TOKENPROVIDER_CREDENTIALS_DOMAIN",  # single underscore
        "TOKENPROVIDER_X",
        "TOKENPROVIDER_CREDENTIALS",
        "TOKENPROVIDER_CREDENTIALS__",
        "TOKENPROVIDER_CREDENTIALS____DOMAIN",
        "TOKENPROVIDER_PROFILES",
    ],
)
def test_variable_that_is_not_a_setting_is_an_error(
    workdir: Path, env: dict[str, str], variable: str
) -> None:
    env[variable] = CANARY_SECRET
    config_error(ConfigurationError, lambda: load(workdir, env), f"environment variable {variable}")


def test_misspelt_control_variable_suggests_the_right_one(
    workdir: Path, env: dict[str, str]
) -> None:
    env["TOKENPROVIDER_PROFIL"] = "dev"
    config_error(
        ConfigurationError,
        lambda: load(workdir, env),
        "TOKENPROVIDER_PROFIL",
        "TOKENPROVIDER_PROFILE",
    )


def test_variables_reach_a_profile(workdir: Path, env: dict[str, str]) -> None:
    env["TOKENPROVIDER_PROFILES__DEV__CREDENTIALS__DOMAIN"] = "dev.example.com"
    env["TOKENPROVIDER_PROFILES__DEV__CREDENTIALS__JWT"] = JWT
    provider = load(workdir, env, profile="dev")
    assert isinstance(provider, JWTTokenProvider)
    assert provider.host.domain == "dev.example.com"


def test_variables_match_a_mixed_case_profile(
    tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    write(
        user_path(tmp_path),
        '[profiles.DevBox.credentials]\ndomain = "devbox.example.com"\n'
        '[profiles.DevBox.credentials.oauth]\nclient_id = "from-file"\n',
    )
    env["TOKENPROVIDER_PROFILES__DEVBOX__CREDENTIALS__DOMAIN"] = "override.example.com"
    env["TOKENPROVIDER_PROFILES__DEVBOX__CREDENTIALS__OAUTH__CLIENT_ID"] = "from-variable"
    provider = load(workdir, env, profile="DevBox")
    assert isinstance(provider, OAuthTokenProvider)
    assert provider.host.domain == "override.example.com"
    assert provider.client_id == "from-variable"


# --- sources and merge ----------------------------------------------------------------

LAYERS = ("site", "user", "project", "explicit", "variable")


@pytest.mark.parametrize("top", range(1, len(LAYERS) + 1), ids=LAYERS)
def test_later_sources_win(tmp_path: Path, workdir: Path, env: dict[str, str], top: int) -> None:
    """Each present layer sets clock_skew to its rank; the highest present one wins."""
    write(
        site_path(tmp_path),
        f'[credentials]\ndomain = "{HOST}"\n[credentials.oauth]\n'
        'client_id = "site"\naudience = "site"\nclock_skew = 1\n',
    )
    kwargs: dict[str, Any] = {}
    if top >= 2:
        write(user_path(tmp_path), "[credentials.oauth]\naudience = 'user'\nclock_skew = 2\n")
    if top >= 3:
        write(workdir / ".tokenprovider.toml", "[credentials.oauth]\nclock_skew = 3\n")
    if top >= 4:
        kwargs["config_file"] = write(tmp_path / "x.toml", "[credentials.oauth]\nclock_skew = 4\n")
    if top >= 5:
        env["TOKENPROVIDER_CREDENTIALS__OAUTH__CLOCK_SKEW"] = "5"
    provider = load(workdir, env, **kwargs)
    assert isinstance(provider, OAuthTokenProvider)
    assert provider.clock_skew == float(top)
    assert provider.client_id == "site"  # lower layers still contribute other keys
    assert provider.audience == ("site" if top == 1 else "user")
    assert provider.host.domain == HOST


def test_another_domain_in_a_later_file_drops_the_earlier_provider_and_secret(
    tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    """A user file's secret is never used for the host a project file names instead."""
    write(
        user_path(tmp_path),
        f'[credentials]\ndomain = "{HOST}"\n[credentials.oauth]\n'
        f'client_id = "reporting"\nclient_secret = "{CANARY_SECRET}"\n',
    )
    project = write(
        workdir / ".tokenprovider.toml", '[credentials]\ndomain = "other.example.com"\n'
    )
    config_error(ConfigurationError, lambda: load(workdir, env), "names no provider", str(project))


def test_another_domain_from_a_variable_starts_the_table_afresh(
    tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    write(
        user_path(tmp_path),
        f'[credentials]\ndomain = "{HOST}"\n[credentials.oauth]\nclient_id = "reporting"\n',
    )
    env["TOKENPROVIDER_CREDENTIALS__DOMAIN"] = "other.example.com"
    env["TOKENPROVIDER_CREDENTIALS__JWT"] = JWT  # only what the variables set remains
    provider = load(workdir, env)
    assert isinstance(provider, JWTTokenProvider)
    assert provider.host.domain == "other.example.com"


def test_the_same_domain_spelled_differently_keeps_the_table(
    tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    write(
        user_path(tmp_path),
        f'[credentials]\ndomain = "{HOST}"\n[credentials.oauth]\nclient_id = "reporting"\n',
    )
    write(workdir / ".tokenprovider.toml", f'[credentials]\ndomain = "{HOST.upper()}/"\n')
    provider = load(workdir, env)
    assert isinstance(provider, OAuthTokenProvider)
    assert provider.client_id == "reporting"


def test_explicit_file_from_tokenprovider_config(
    tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    path = write(tmp_path / "named.toml", f'[credentials]\ndomain = "{HOST}"\njwt = "{JWT}"\n')
    env["TOKENPROVIDER_CONFIG"] = str(path)
    assert isinstance(load(workdir, env), JWTTokenProvider)


def test_config_file_argument_beats_tokenprovider_config(
    tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    from_env = write(
        tmp_path / "env.toml", f'[credentials]\ndomain = "env.example.com"\njwt = "{JWT}"\n'
    )
    argument = write(
        tmp_path / "arg.toml", f'[credentials]\ndomain = "arg.example.com"\njwt = "{JWT}"\n'
    )
    env["TOKENPROVIDER_CONFIG"] = str(from_env)
    assert load(workdir, env, config_file=argument).host.domain == "arg.example.com"


def test_missing_explicit_file_is_an_error(
    tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    missing = tmp_path / "missing.toml"
    write(user_path(tmp_path), f'[credentials]\ndomain = "{HOST}"\njwt = "{JWT}"\n')
    config_error(ConfigurationError, lambda: load(workdir, env, config_file=missing), str(missing))
    env["TOKENPROVIDER_CONFIG"] = str(missing)
    config_error(ConfigurationError, lambda: load(workdir, env), str(missing))


def test_missing_site_and_user_files_are_skipped(workdir: Path, env: dict[str, str]) -> None:
    write(workdir / ".tokenprovider.toml", f'[credentials]\ndomain = "{HOST}"\njwt = "{JWT}"\n')
    assert isinstance(load(workdir, env), JWTTokenProvider)


def test_nothing_configured_is_an_error_naming_the_files_searched(
    tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    config_error(
        ConfigurationError,
        lambda: load(workdir, env),
        "[credentials]",
        str(site_path(tmp_path)),
        str(user_path(tmp_path)),
    )


def test_project_file_is_found_from_a_subdirectory_up_to_the_repository_root(
    workdir: Path, env: dict[str, str]
) -> None:
    write(workdir / ".tokenprovider.toml", f'[credentials]\ndomain = "{HOST}"\njwt = "{JWT}"\n')
    deep = workdir / "src" / "pkg"
    deep.mkdir(parents=True)
    provider = load(deep, env)
    assert isinstance(provider, JWTTokenProvider)
    assert provider.host.domain == HOST


def test_nearest_project_file_wins(workdir: Path, env: dict[str, str]) -> None:
    write(
        workdir / ".tokenprovider.toml",
        f'[credentials]\ndomain = "root.example.com"\njwt = "{JWT}"\n',
    )
    sub = workdir / "sub"
    write(
        sub / ".tokenprovider.toml", f'[credentials]\ndomain = "sub.example.com"\njwt = "{JWT}"\n'
    )
    assert load(sub, env).host.domain == "sub.example.com"


def test_project_file_above_the_repository_root_is_ignored(
    tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    write(tmp_path / ".tokenprovider.toml", f'[credentials]\ndomain = "{HOST}"\njwt = "{JWT}"\n')
    inner = workdir / "sub"
    inner.mkdir()
    config_error(ConfigurationError, lambda: load(inner, env), "[credentials]")
    config_error(ConfigurationError, lambda: load(workdir, env), "[credentials]")


# --- profiles ---------------------------------------------------------------------------

PROFILES = f"""\
[credentials]
domain = "{HOST}"
[credentials.oauth]
client_id = "default-client"
client_secret = "{CANARY_SECRET}"

[profiles.dev.credentials]
domain = "dev.example.com"
[profiles.dev.credentials.oauth]
client_id = "dev-client"

[profiles.staging.credentials]
domain = "staging.example.com"
jwt = "{OTHER_JWT}"
"""


@pytest.fixture
def profiles_file(tmp_path: Path) -> Path:
    return write(tmp_path / "profiles.toml", PROFILES)


def test_default_profile_is_the_credentials_table(
    profiles_file: Path, workdir: Path, env: dict[str, str]
) -> None:
    provider = load(workdir, env, config_file=profiles_file)
    assert isinstance(provider, OAuthTokenProvider)
    assert provider.client_id == "default-client"


def test_profile_selected_by_argument(
    profiles_file: Path, workdir: Path, env: dict[str, str]
) -> None:
    provider = load(workdir, env, profile="staging", config_file=profiles_file)
    assert isinstance(provider, JWTTokenProvider)
    assert provider.host.domain == "staging.example.com"


def test_profile_selected_by_variable_and_argument_wins(
    profiles_file: Path, workdir: Path, env: dict[str, str]
) -> None:
    env["TOKENPROVIDER_PROFILE"] = "staging"
    assert isinstance(load(workdir, env, config_file=profiles_file), JWTTokenProvider)
    provider = load(workdir, env, profile="dev", config_file=profiles_file)
    assert provider.host.domain == "dev.example.com"


def test_profile_does_not_inherit_the_default_secret(
    profiles_file: Path, workdir: Path, env: dict[str, str]
) -> None:
    provider = load(workdir, env, profile="dev", config_file=profiles_file)
    assert isinstance(provider, OAuthTokenProvider)
    assert provider.client_id == "dev-client"
    assert provider._client_secret is None
    assert_no_leak(repr(provider), CANARY_SECRET)


def test_profile_with_only_a_domain_does_not_inherit_the_provider(
    tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    text = PROFILES + '\n[profiles.bare.credentials]\ndomain = "bare.example.com"\n'
    path = write(tmp_path / "profiles.toml", text)
    config_error(
        ConfigurationError,
        lambda: load(workdir, env, profile="bare", config_file=path),
        "profiles.bare.credentials",
        "no provider",
        str(path),
    )


def test_profile_without_a_domain_does_not_inherit_the_host(
    tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    path = write(
        tmp_path / "profiles.toml", PROFILES + f'\n[profiles.nohost.credentials]\njwt = "{JWT}"\n'
    )
    config_error(
        ConfigurationError,
        lambda: load(workdir, env, profile="nohost", config_file=path),
        "profiles.nohost.credentials",
        "domain",
        secrets=(JWT,),
    )


def test_unknown_profile_suggests_a_close_name(
    profiles_file: Path, workdir: Path, env: dict[str, str]
) -> None:
    config_error(
        ConfigurationError,
        lambda: load(workdir, env, profile="stagin", config_file=profiles_file),
        "'stagin'",
        "did you mean 'staging'",
        "dev",
    )


def test_unknown_profile_from_variable_is_an_error(
    profiles_file: Path, workdir: Path, env: dict[str, str]
) -> None:
    env["TOKENPROVIDER_PROFILE"] = "deev"
    config_error(
        ConfigurationError,
        lambda: load(workdir, env, config_file=profiles_file),
        "'deev'",
        "did you mean 'dev'",
    )


def test_profile_named_default_is_an_error(
    tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    text = PROFILES + f'\n[profiles.default.credentials]\ndomain = "{HOST}"\njwt = "{JWT}"\n'
    path = write(tmp_path / "profiles.toml", text)
    config_error(
        ConfigurationError,
        lambda: load(workdir, env, config_file=path),
        "profiles.default",
        str(path),
        secrets=(JWT,),
    )


def test_profile_without_credentials_table_is_an_error(
    tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    path = write(tmp_path / "profiles.toml", PROFILES + '\n[profiles.empty]\ndomain = "x"\n')
    config_error(
        ConfigurationError,
        lambda: load(workdir, env, profile="empty", config_file=path),
        "profiles.empty",
        "credentials",
    )


def test_unknown_top_level_table_is_an_error(
    tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    path = write(tmp_path / "c.toml", PROFILES + '\n[credential]\ndomain = "x"\n')
    config_error(
        ConfigurationError,
        lambda: load(workdir, env, config_file=path),
        "credential",
        "did you mean 'credentials'",
        str(path),
    )


# --- file permissions -------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_literal_secret_in_readable_file_warns(
    tmp_path: Path, workdir: Path, env: dict[str, str], mode: int
) -> None:
    path = write(
        tmp_path / "open.toml",
        OAUTH_FILE.replace('clock_skew = "soon"', f'client_secret = "{CANARY_SECRET}"'),
        mode,
    )
    with pytest.warns(InsecureConfigFileWarning) as record:
        load(workdir, env, config_file=path)
    messages = [str(warning.message) for warning in record]
    assert any(str(path) in m and "chmod 600" in m for m in messages), messages
    for message in messages:
        assert_no_leak(message, CANARY_SECRET)


def test_literal_jwt_in_readable_user_file_warns(
    tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    path = write(user_path(tmp_path), f'[credentials]\ndomain = "{HOST}"\njwt = "{JWT}"\n', 0o644)
    with pytest.warns(InsecureConfigFileWarning, match="chmod 600") as record:
        load(workdir, env)
    assert any(str(path) in str(warning.message) for warning in record)
    assert all(JWT not in str(warning.message) for warning in record)


@pytest.mark.parametrize(
    ("secret", "mode"),
    [
        (CANARY_SECRET, 0o600),
        (CANARY_SECRET, 0o400),
        ("env:TOKENPROVIDER_TEST_NEVER_SET", 0o644),
        ("file:secret.txt", 0o644),
    ],
    ids=["literal-0600", "literal-0400", "env-reference", "file-reference"],
)
def test_private_file_or_secret_reference_gives_no_warning(
    tmp_path: Path, workdir: Path, env: dict[str, str], secret: str, mode: int
) -> None:
    path = write(
        tmp_path / "c.toml",
        OAUTH_FILE.replace('clock_skew = "soon"', f'client_secret = "{secret}"'),
        mode,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", InsecureConfigFileWarning)
        provider = load(workdir, env, config_file=path)
    assert isinstance(provider, OAuthTokenProvider)


def test_readable_file_without_secrets_gives_no_warning(
    tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    path = write(tmp_path / "c.toml", OAUTH_FILE.replace('clock_skew = "soon"', ""), 0o644)
    with warnings.catch_warnings():
        warnings.simplefilter("error", InsecureConfigFileWarning)
        assert isinstance(load(workdir, env, config_file=path), OAuthTokenProvider)


# --- masking ---------------------------------------------------------------------------


def test_repr_of_a_provider_from_config_masks_the_secret(
    tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    text = OAUTH_FILE.replace('clock_skew = "soon"', f'client_secret = "{CANARY_SECRET}"')
    path = write(tmp_path / "c.toml", text)
    for provider in (
        load(workdir, env, config_file=path),
        parse_credentials_config(credentials(domain=HOST, oauth=oauth_table())),
    ):
        text = repr(provider)
        assert "client_secret=<set>" in text
        assert_no_leak(text, CANARY_SECRET)
        assert_no_leak(str(provider), CANARY_SECRET)
