"""Which source may decide where a credential goes, and masking by declared type.

A project file (``.tokenprovider.toml``, which comes with a cloned repository) may not
send the secret of your own files anywhere: a collector `LocalOAuthServer` on loopback
plays the address it names, and must never receive a token request. Sources given for
a run (variables, a file named with ``--config``) may redirect, and the collector then
does get the secret, which shows that it would have noticed.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import CANARY_SECRET, assert_no_leak, cli_sandbox, run_python
from tokenprovider import ConfigurationError, OAuthTokenProvider, TokenProvider, load_provider
from tokenprovider.caches import default_cache
from tokenprovider.config.known import BUILT_IN_SECRETS, KnownKeys
from tokenprovider.config.params import parameters
from tokenprovider.config.reference import secret_keys
from tokenprovider.config.registry import ENTRY_POINT_GROUP, Registry
from tokenprovider.config.trust import PERSON_GRANTS, is_destination
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


def test_the_rule_knows_every_destination_and_secret_of_the_built_in_providers() -> None:
    """A new built-in setting that says where credentials go fails this test until it is
    looked at; the secret settings listed for `config show` match the constructors."""
    built_ins = Registry(group="tokenprovider.no-plugins")
    classes = {name: built_ins.get(name) for name in built_ins.names()}
    destinations = {
        name: {key for key in parameters(cls) if is_destination(key)}  # type: ignore[arg-type]
        for name, cls in classes.items()
    }
    assert destinations == {
        "jwt": set(),  # its host only: domain and scheme
        "oauth": {"token_url", "authorization_url", "device_authorization_url", "revocation_url"},
        "tds": {"lambda_arn", "token_dispenser_arn_ssm_key", "region", "profile_name"},
    }
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
