"""Which source may decide where a credential goes, and masking by declared type.

A project file (``.tokenprovider.toml``, which comes with a cloned repository) may not
send the secret of your own files anywhere: a collector `LocalOAuthServer` on loopback
plays the address it names, and must never receive a token request. Sources given for
a run (variables, a file named with ``--config``) may redirect, and the collector then
does get the secret, which shows that it would have noticed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import CANARY_SECRET, assert_no_leak, cli_sandbox, run_python
from login_support import CALLBACK, PASSWORD
from tokenprovider import ConfigurationError, OAuthTokenProvider, TokenProvider, load_provider
from tokenprovider.caches import default_cache
from tokenprovider.config.known import BUILT_IN_SECRETS, KnownKeys
from tokenprovider.config.params import parameters
from tokenprovider.config.reference import secret_keys
from tokenprovider.config.registry import ENTRY_POINT_GROUP, Registry
from tokenprovider.config.trust import PERSON_GRANTS, is_credential, is_destination
from tokenprovider.providers._person import PERSON_GRANTS as GRANTS_OF_THE_PROVIDER
from tokenprovider.testing import LocalOAuthServer

HOST = "api.example.com"
CLIENT = "reporting"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def user_path(tmp_path: Path) -> Path:
    return tmp_path / "home" / "tokenprovider" / "config.toml"


def load(workdir: Path, env: dict[str, str], **kwargs: Any) -> TokenProvider:
    return load_provider(env=env, cwd=workdir, **kwargs)


def refused(workdir: Path, env: dict[str, str], *fragments: str, **kwargs: Any) -> str:
    """The load's `ConfigurationError`, which names each of ``fragments`` and no secret."""
    with pytest.raises(ConfigurationError) as info:
        load(workdir, env, **kwargs)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert_no_leak(message, CANARY_SECRET)
    return message


def user_oauth(server: LocalOAuthServer) -> str:
    """A user file for ``server`` (loopback, so over http), with the canary secret."""
    return (
        f'[credentials]\ndomain = "{server.url.split("://")[1]}"\nscheme = "http"\n'
        f'[credentials.oauth]\nclient_id = "{CLIENT}"\nclient_secret = "{CANARY_SECRET}"\n'
        f'token_url = "{server.token_url}"\n[credentials.oauth.retry]\nmax_attempts = 1\n'
    )


@pytest.fixture
def servers() -> Any:
    """The user's token endpoint and the collector, both knowing the canary client."""
    with (
        LocalOAuthServer(clients={CLIENT: CANARY_SECRET}) as real,
        LocalOAuthServer(clients={CLIENT: CANARY_SECRET}) as collector,
    ):
        yield real, collector


# --- the project file may not redirect your credentials ---------------------------------


def test_a_project_token_url_never_receives_the_user_files_secret(
    tmp_path: Path, workdir: Path, env: dict[str, str], servers: Any
) -> None:
    real, collector = servers
    user = write(user_path(tmp_path), user_oauth(real))
    project = write(
        workdir / ".tokenprovider.toml",
        f'[credentials.oauth]\ntoken_url = "{collector.token_url}"\n',
    )

    message = refused(
        workdir,
        env,
        f"credentials.oauth.token_url (from {project}, line 2)",
        f"credentials.oauth.client_secret (from {user}, line 6)",
        "TOKENPROVIDER_CREDENTIALS__OAUTH__TOKEN_URL=",
        f"--config {project}",
    )
    assert "env:NAME" in message  # the third way: the project file names its own secret
    assert collector.token_requests == 0

    project.unlink()  # the same user file alone goes where it says
    assert load(workdir, env).token
    assert (real.token_requests, collector.token_requests) == (1, 0)


def test_sources_given_for_the_run_may_redirect(
    tmp_path: Path, workdir: Path, env: dict[str, str], servers: Any
) -> None:
    """A variable, or the project file named with --config, is the user's own choice:
    the collector then gets the secret (so the test above would have seen it)."""
    real, collector = servers
    write(user_path(tmp_path), user_oauth(real))
    project = write(
        workdir / ".tokenprovider.toml",
        f'[credentials.oauth]\ntoken_url = "{collector.token_url}"\n',
    )

    assert load(workdir, env, config_file=project).token
    assert collector.token_requests == 1

    project.unlink()
    default_cache().clear()  # the token just fetched would be served again
    variables = {**env, "TOKENPROVIDER_CREDENTIALS__OAUTH__TOKEN_URL": collector.token_url}
    assert load(workdir, variables).token
    assert (real.token_requests, collector.token_requests) == (0, 2)
    assert collector.last_token_request is not None
    assert collector.last_token_request.client_id == CLIENT


def test_a_project_file_may_direct_the_credentials_it_names(
    tmp_path: Path, workdir: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A project file holding its whole client (the README's form) is used as written,
    and so is one whose secret is given for the run, by a variable (as in CI)."""
    monkeypatch.setenv("TRUST_TEST_SECRET", CANARY_SECRET)
    with LocalOAuthServer(clients={CLIENT: CANARY_SECRET}) as server:
        write(user_path(tmp_path), f'[credentials]\ndomain = "{HOST}"\n')
        project = user_oauth(server).replace(CANARY_SECRET, "env:TRUST_TEST_SECRET")
        write(workdir / ".tokenprovider.toml", project)
        assert load(workdir, env).token

        without_secret = project.replace('client_secret = "env:TRUST_TEST_SECRET"\n', "")
        write(workdir / ".tokenprovider.toml", without_secret)
        default_cache().clear()
        variables = {**env, "TOKENPROVIDER_CREDENTIALS__OAUTH__CLIENT_SECRET": CANARY_SECRET}
        assert load(workdir, variables).token
        assert server.token_requests == 2


def test_a_project_file_repeating_your_values_changes_nothing(
    tmp_path: Path, workdir: Path, env: dict[str, str], servers: Any
) -> None:
    real, collector = servers
    write(user_path(tmp_path), user_oauth(real))
    host = real.url.split("://")[1]
    write(
        workdir / ".tokenprovider.toml",
        f'[credentials]\ndomain = "{host.upper()}/"\nscheme = "http"\n'
        f'[credentials.oauth]\ntoken_url = "{real.token_url}"\nscopes = ["read"]\n',
    )
    provider = load(workdir, env)
    assert isinstance(provider, OAuthTokenProvider)
    assert list(provider.scopes or ()) == ["read"]  # other settings still merge key by key
    assert provider.token
    assert (real.token_requests, collector.token_requests) == (1, 0)


@pytest.mark.parametrize(
    ("user_table", "repeated"),
    [
        ('client_secret = "env:TRUST_TEST_SECRET"\n', 'client_secret = "env:TRUST_TEST_SECRET"'),
        (
            'grant_type = "jwt_bearer"\nassertion = "env:TRUST_TEST_SECRET"\n',
            'assertion = "env:TRUST_TEST_SECRET"',
        ),
        ('grant_type = "device_code"\n', 'grant_type = "device_code"'),
    ],
    ids=["secret reference", "assertion source", "person grant"],
)
def test_a_project_file_repeating_a_credential_keeps_the_guard(
    tmp_path: Path,
    workdir: Path,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    user_table: str,
    repeated: str,
) -> None:
    """A repeat changes nothing: the credential is still the user file's, so the project
    file's ``token_url`` beside it is still refused (the repeat is no way around it)."""
    monkeypatch.setenv("TRUST_TEST_SECRET", CANARY_SECRET)
    with LocalOAuthServer(clients={CLIENT: CANARY_SECRET}) as collector:
        user = write(
            user_path(tmp_path),
            f'[credentials]\ndomain = "{HOST}"\n[credentials.oauth]\n'
            f'client_id = "{CLIENT}"\ntoken_url = "https://login.example.com/t"\n{user_table}',
        )
        write(
            workdir / ".tokenprovider.toml",
            f'[credentials.oauth]\n{repeated}\ntoken_url = "{collector.token_url}"\n',
        )
        key = repeated.split(" = ", maxsplit=1)[0]
        refused(
            workdir, env, f"credentials.oauth.{key} (from {user}", "credentials.oauth.token_url"
        )
        assert collector.token_requests == 0


def test_a_project_file_changing_the_grant_of_your_client_may_not_take_its_login(
    tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    """The login a person makes belongs to the client it is made for: a project file that
    turns your client's device login into a browser one sends its code nowhere new."""
    user = write(
        user_path(tmp_path),
        f'[credentials]\ndomain = "{HOST}"\n[credentials.oauth]\nclient_id = "cli"\n'
        'grant_type = "device_code"\ntoken_url = "https://login.example.com/t"\n',
    )
    write(
        workdir / ".tokenprovider.toml",
        '[credentials.oauth]\ngrant_type = "authorization_code"\n'
        'token_url = "https://elsewhere.example/t"\n',
    )
    refused(
        workdir,
        env,
        f"the login a person makes for credentials.oauth.client_id (from {user}, line 4)",
        "credentials.oauth.token_url",
    )


def test_login_refuses_a_project_token_url_that_repeats_your_grant(tmp_path: Path) -> None:
    """The reported attack: the project file repeats ``grant_type`` and names its own
    ``token_url``; ``tokenprovider login`` opens no browser, and the collector, which would
    receive the code and verifier (and redeem them), gets nothing. Named with --config,
    the same project file is trusted, and the collector then does get the code."""
    home, repo, env = cli_sandbox(tmp_path)
    opened = tmp_path / "opened.txt"
    env["BROWSER"] = f"{sys.executable} {Path(__file__).parent / 'http_person.py'} %s {opened}"
    env["PYTHONPATH"] = str(Path(__file__).parent)
    clients, users = {"cli": [CALLBACK]}, {"alice": PASSWORD}
    with (
        LocalOAuthServer(public_clients=clients, users=users) as real,
        LocalOAuthServer(public_clients=clients, users=users) as collector,
    ):
        user = write(
            home / ".config" / "tokenprovider" / "config.toml",
            f'[credentials]\ndomain = "{real.url.removeprefix("http://")}"\nscheme = "http"\n'
            f'[credentials.oauth]\nclient_id = "cli"\ntoken_url = "{real.token_url}"\n'
            f'authorization_url = "{real.url}/oauth2/authorize"\n'
            'grant_type = "authorization_code"\nscopes = ["openid", "read"]\n'
            f'login_store = "file"\nlogin_store_dir = "{tmp_path / "logins"}"\n',
        )
        project = write(
            repo / ".tokenprovider.toml",
            '[credentials.oauth]\ngrant_type = "authorization_code"\n'
            f'token_url = "{collector.token_url}"\n',
        )

        login = run(("login",), repo, env)
        assert login.returncode == 3
        assert f"credentials.oauth.token_url (from {project}, line 3)" in login.stderr
        assert f"credentials.oauth.grant_type (from {user}, line 8)" in login.stderr
        assert "an 'authorization_code' grant" in login.stderr
        assert not opened.exists()  # refused before any login started
        assert (real.authorization_codes_issued, collector.token_requests) == (0, 0)

        trusted = run(("--config", str(project), "login"), repo, env)
        assert trusted.returncode != 0  # the collector cannot redeem the real server's code
        assert opened.exists()
        assert (real.authorization_codes_issued, collector.token_requests) == (1, 1)


def test_a_project_profile_may_not_stand_in_for_yours_by_case(
    tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    """``--profile prod`` finds your ``[profiles.Prod]``; a project file's own
    ``[profiles.prod]`` would be picked first, so it is refused; the exact name is yours."""
    user = write(
        user_path(tmp_path),
        f'[profiles.Prod.credentials]\ndomain = "{HOST}"\njwt = "env:JWT"\n',
    )
    assert load(workdir, env, profile="prod").host.domain == HOST  # folded to yours
    project = write(
        workdir / ".tokenprovider.toml",
        '[profiles.prod.credentials]\ndomain = "elsewhere.example"\njwt = "env:JWT"\n',
    )
    refused(
        workdir,
        env,
        f"profiles.prod (from {project}",
        f"your own profiles.Prod (from {user}",
        f"--config {project}",
        profile="prod",
    )
    assert load(workdir, env, profile="Prod").host.domain == HOST
    assert load(workdir, env, config_file=project, profile="prod").host.domain == (
        "elsewhere.example"
    )


USER_TABLES = {
    "oauth": f'client_id = "{CLIENT}"\nclient_secret = "{CANARY_SECRET}"\n',
    "private key": 'client_id = "c"\nclient_auth = "private_key_jwt"\nprivate_key = "file:k.pem"\n',
    "source": 'client_id = "c"\ngrant_type = "jwt_bearer"\nassertion = "file:/run/token"\n',
    "login": 'client_id = "c"\ngrant_type = "device_code"\n',
    "tds": 'client_id = "abc"\naction = "edl"\nedl_user = "u"\nedl_pass = "env:P"\ncmr_env = "X"\n',
}


@pytest.mark.parametrize(
    ("kind", "destination", "value", "credential"),
    [
        ("oauth", "token_url", "https://e.example/t", "client_secret"),
        ("oauth", "authorization_url", "https://e.example/a", "client_secret"),
        ("oauth", "device_authorization_url", "https://e.example/d", "client_secret"),
        ("oauth", "revocation_url", "https://e.example/r", "client_secret"),
        ("private key", "token_url", "https://e.example/t", "private_key"),
        ("source", "token_url", "https://e.example/t", "assertion"),
        ("login", "revocation_url", "https://e.example/r", "grant_type"),
        ("tds", "lambda_arn", "arn:aws:lambda:us-east-1:1:function:f", "edl_pass"),
        ("tds", "token_dispenser_arn_ssm_key", "/e", "edl_pass"),
        ("tds", "region", "ap-south-1", "edl_pass"),
        ("tds", "profile_name", "theirs", "edl_pass"),
    ],
)
def test_every_setting_that_decides_where_a_credential_goes_is_guarded(
    tmp_path: Path,
    workdir: Path,
    env: dict[str, str],
    kind: str,
    destination: str,
    value: str,
    credential: str,
) -> None:
    table = "tds" if kind == "tds" else "oauth"
    user = write(
        user_path(tmp_path),
        f'[profiles.p.credentials]\ndomain = "{HOST}"\n'
        f"[profiles.p.credentials.{table}]\n{USER_TABLES[kind]}",
    )
    write(
        workdir / ".tokenprovider.toml",
        f"[profiles.p.credentials.{table}]\n{destination} = '{value}'\n",
    )
    refused(
        workdir,
        env,
        f"profiles.p.credentials.{table}.{destination} (from {workdir / '.tokenprovider.toml'}",
        f"profiles.p.credentials.{table}.{credential} (from {user}",
        profile="p",
    )


def test_the_host_and_its_scheme_are_destinations_too(
    tmp_path: Path, workdir: Path, env: dict[str, str]
) -> None:
    user = write(user_path(tmp_path), f'[credentials]\ndomain = "{HOST}"\njwt = "env:JWT"\n')
    project = write(workdir / ".tokenprovider.toml", '[credentials]\nscheme = "http"\n')
    refused(workdir, env, f"credentials.scheme (from {project}", f"credentials.jwt (from {user}")

    write(project, '[credentials]\nscheme = "HTTPS"\n')  # only ever stricter
    assert load(workdir, env).host.domain == HOST

    write(
        user_path(tmp_path),
        f'[credentials.oauth]\nclient_id = "c"\nclient_secret = "{CANARY_SECRET}"\n',
    )
    write(project, f'[credentials]\ndomain = "{HOST}"\n')  # the user file named no host
    refused(workdir, env, f"credentials.domain (from {project}", "credentials.oauth.client_secret")


#: Every setting of the built-in providers, classified by hand for the rule: where a
#: credential goes, a credential, one in a person's login (`LOGIN`), a table whose values
#: are credentials (`TABLE`), or neither. A new setting fails the test below until it is.
DESTINATION, CREDENTIAL, LOGIN, TABLE, NEITHER = "dest", "cred", "login", "table", "-"
CLASSIFIED = {
    "jwt": {"jwt": CREDENTIAL, "clock": NEITHER},
    "oauth": {
        **dict.fromkeys(
            ("token_url", "authorization_url", "device_authorization_url", "revocation_url"),
            DESTINATION,
        ),
        **dict.fromkeys(
            ("client_secret", "private_key", "login_store_key", "assertion", "subject_token"),
            CREDENTIAL,
        ),
        "actor_token": CREDENTIAL,
        "client_id": LOGIN,
        "grant_type": LOGIN,
        "extra_params": TABLE,
        **dict.fromkeys(
            [
                "scopes",
                "audience",
                "client_auth",
                "key_id",
                "assertion_algorithm",
                "assertion_audience",
                "assertion_lifetime",
                "subject_token_type",
                "actor_token_type",
                "requested_token_type",
                "resource",
                "default_expires_in",
                "retry",
                "max_response_bytes",
                "redirect_port",
                "login_store",
                "login_store_dir",
                "clock_skew",
                "refresh_ahead",
                "failure_cooldown",
                "clock",
            ],
            NEITHER,
        ),
    },
    "tds": {
        **dict.fromkeys(
            ("token_dispenser_arn_ssm_key", "lambda_arn", "region", "profile_name"), DESTINATION
        ),
        "edl_pass": CREDENTIAL,
        **dict.fromkeys(
            [
                "client_id",
                "minimum_alive_secs",
                "auth_style",
                "action",
                "edl_user",
                "cmr_env",
                "invoke_timeout",
                "max_response_bytes",
                "max_attempts",
                "boto3_session",
                "clock_skew",
                "refresh_ahead",
                "failure_cooldown",
                "clock",
            ],
            NEITHER,
        ),
    },
}


def test_the_rule_knows_every_destination_and_secret_of_the_built_in_providers() -> None:
    """Each setting of each built-in provider is classified above, and the rule agrees:
    a new one (an ``issuer``, say) fails this test until someone decides what it is. The
    secret settings listed for `config show` match the constructors."""
    built_ins = Registry(group="tokenprovider.no-plugins")
    classes = {name: built_ins.get(name) for name in built_ins.names()}
    known = KnownKeys()
    settings = {name: set(parameters(cls)) for name, cls in classes.items()}  # type: ignore[arg-type]
    assert settings == {name: set(keys) for name, keys in CLASSIFIED.items()}, (
        "classify each new setting in CLASSIFIED"
    )
    for name, keys in CLASSIFIED.items():
        for key, kind in keys.items():
            path = ("credentials", name, key)
            assert is_destination(key) == (kind == DESTINATION), path
            credential = is_credential(path, "env:X", known)
            assert credential == (kind == CREDENTIAL), path
            if kind == LOGIN:
                assert is_credential(path, "device_code", known, person=True), path
            if kind == TABLE:
                assert is_credential((*path, "client_assertion"), "x", known), path
                assert not is_credential((*path, "audience"), "x", known), path  # public
    found = {name: secret_keys(cls) for name, cls in classes.items()}  # type: ignore[arg-type]
    assert found == BUILT_IN_SECRETS, f"update BUILT_IN_SECRETS in config/known.py to {found!r}"
    assert PERSON_GRANTS == GRANTS_OF_THE_PROVIDER


# --- the CLI --------------------------------------------------------------------------------


def run(args: tuple[str, ...], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = run_python("-m", "tokenprovider", *args, timeout=60, env=env, cwd=cwd)
    assert_no_leak(result.stdout + result.stderr, CANARY_SECRET)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_the_cli_refuses_the_redirect_and_shows_both_origins(tmp_path: Path) -> None:
    home, repo, env = cli_sandbox(tmp_path)
    with LocalOAuthServer(clients={CLIENT: CANARY_SECRET}) as collector:
        user = write(home / ".config" / "tokenprovider" / "config.toml", user_oauth(collector))
        user.write_text(
            user.read_text().replace(collector.token_url, "https://login.example.com/t")
        )
        project = write(
            repo / ".tokenprovider.toml",
            f'[credentials.oauth]\ntoken_url = "{collector.token_url}"\n',
        )

        token = run(("token", "--no-cache"), repo, env)
        check = run(("config", "check"), repo, env)
        show = run(("config", "show", "--origin"), repo, env)
        assert collector.token_requests == 0

    assert token.returncode == 3
    assert "a project file may not decide where" in token.stderr
    assert check.returncode == 3
    problem = check.stdout.splitlines()[0]
    assert problem.startswith("problem: profile default: credentials.oauth.token_url")
    assert f"credentials.oauth.client_secret (from {user}, line 6)" in problem
    assert show.returncode == 0
    lines = show.stdout.splitlines()
    assert f'token_url = "{collector.token_url}"  # from {project}, line 2' in lines
    assert f'client_secret = "<set>"  # from {user}, line 6' in lines
    assert show.stderr.startswith("tokenprovider: warning: this configuration would not build: ")
    assert "credentials.oauth.token_url" in show.stderr


# --- masking follows the declared type ----------------------------------------------------

PLUGIN = '''
from tokenprovider import CachedTokenProvider, SecretReference


class PinPadTokenProvider(CachedTokenProvider):
    """Signs in with a user name and a PIN."""

    def __init__(
        self,
        host,
        user: str,
        pin: str | SecretReference,
        code: int | SecretReference | None = None,
        **kwargs,
    ) -> None:
        super().__init__(host, **kwargs)
        self.user = user
        self._pin = pin
        self._code = code

    def _request_token(self):
        return "pin-token", self._wall_time() + 60
'''


def test_a_plugin_secret_named_like_nothing_secret_is_masked_everywhere(tmp_path: Path) -> None:
    """``pin`` and ``code`` do not look secret; their type says they are."""
    home, repo, env = cli_sandbox(tmp_path)
    plugins = tmp_path / "plugins"
    write(plugins / "trusttest_pinpad.py", PLUGIN)
    info = plugins / "trusttest_pinpad-1.0.dist-info"
    write(info / "METADATA", "Metadata-Version: 2.1\nName: trusttest-pinpad\nVersion: 1.0\n")
    write(
        info / "entry_points.txt",
        f"[{ENTRY_POINT_GROUP}]\npinpad = trusttest_pinpad:PinPadTokenProvider\n",
    )
    env["PYTHONPATH"] = str(plugins)
    user = write(
        home / ".config" / "tokenprovider" / "config.toml",
        f'[credentials]\ndomain = "{HOST}"\n[credentials.pinpad]\nuser = "me"\n'
        f'pin = "{CANARY_SECRET}"\ncode = "{CANARY_SECRET}"\n'
        f'[profiles.ref.credentials]\ndomain = "{HOST}"\n'
        '[profiles.ref.credentials.pinpad]\nuser = "me"\npin = "env:PIN"\n'
        '[profiles.typo.credentials]\ndomain = "api.example.com"\n'
        '[profiles.typo.credentials.pinpad]\nuser = "me"\npin = "envv:PIN"\n',
    )

    user.chmod(0o644)  # others may read its literal secrets: a warning names them
    listed = run(("providers",), repo, env)
    show = run(("config", "show"), repo, env)
    origins = run(("config", "show", "--origin"), repo, env)
    check = run(("config", "check", "--all"), repo, env)
    set_code = run(("config", "set", "credentials.pinpad.code", CANARY_SECRET), repo, env)
    set_pin = run(("config", "set", "credentials.pinpad.pin", "envv:PIN"), repo, env)
    set_literal = run(("config", "set", "credentials.pinpad.pin", CANARY_SECRET), repo, env)

    assert "secret: masked" in next(line for line in listed.stdout.splitlines() if " pin " in line)
    for shown in (show.stdout, origins.stdout):
        lines = shown.splitlines()
        assert sum(line.startswith('pin = "<set>"') for line in lines) == 2  # also envv:PIN
        assert any(line.startswith('code = "<set>"') for line in lines)
        assert any(line.startswith('pin = "<reference env:PIN>"') for line in lines)
        assert any(line.startswith('user = "me"') for line in lines)  # the rest is shown
    assert f"# from {user}, line 5" in origins.stdout
    assert "profiles.typo.credentials.pinpad.pin" in show.stderr  # checked by type, too
    assert "did you mean 'env:'" in show.stderr
    assert check.returncode == 3
    assert "credentials.pinpad.code" in check.stdout
    assert "did you mean 'env:'" in check.stdout
    assert set_code.returncode == 3
    assert "credentials.pinpad.code: expected int" in set_code.stderr
    assert "got the value given" in set_code.stderr
    assert set_pin.returncode == 3
    assert "did you mean 'env:'" in set_pin.stderr
    assert "holds a literal secret (credentials.pinpad.pin, credentials.pinpad.code)" in (
        show.stderr
    )
    assert set_literal.returncode == 0
    assert "credentials.pinpad.pin is stored as a literal secret" in set_literal.stderr


def test_known_keys_say_which_settings_take_a_secret() -> None:
    """Declared secrets of built-in providers, and a plugin's (looked up once), also
    as a shorthand; section keys and other settings are not."""
    looked_up: list[str] = []

    def secrets_of(name: str) -> frozenset[str] | None:
        looked_up.append(name)
        return frozenset({"pin", "nested.key"}) if name == "pinpad" else None

    known = KnownKeys(secrets_of=secrets_of)
    assert known.takes_secret(("credentials", "oauth", "client_secret"))
    assert known.takes_secret(("profiles", "p", "credentials", "tds", "edl_pass"))
    assert known.takes_secret(("credentials", "jwt"))  # the shorthand jwt = "..."
    assert known.takes_secret(("credentials", "pinpad", "pin"))
    assert known.takes_secret(("credentials", "pinpad", "nested", "key"))
    assert not known.takes_secret(("credentials", "pinpad", "user"))
    assert not known.takes_secret(("credentials", "oauth", "token_url"))
    assert not known.takes_secret(("credentials", "cache_key"))  # a section key, by name
    assert not known.takes_secret(("credentials", "nosuch", "pin"))
    assert not known.takes_secret(("other", "pin"))
    assert looked_up == ["pinpad", "nosuch"]
