"""The assertion grants configured in TOML, against `LocalOAuthServer` on 127.0.0.1: a token
exchange chained from another profile (its token cached by that profile), profile loops and
unknown profiles, relative token files, plugin sources, and the CLI run in-process
(``config check``, ``config show``, ``token``), whose output never holds an assertion or a
subject token. The provider in code is in tests/test_assertion_grants.py."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

from conftest import CANARY_SECRET, all_log_text, assert_no_leak, reachable_text, run_python
from tokenprovider import ConfigurationError, OAuthTokenProvider
from tokenprovider.caches import default_cache
from tokenprovider.cli import main
from tokenprovider.config.resolve import resolve
from tokenprovider.sources import AssertionSource, _plugins, register_source
from tokenprovider.testing import LocalOAuthServer, key_pair

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"
CLUSTER = "https://kubernetes.default.svc.cluster.local"
WORKLOAD = "system:serviceaccount:prod:reporter"
API = "https://api.example.com"

CLUSTER_KEY = key_pair("RS256")


@pytest.fixture
def server() -> Iterator[LocalOAuthServer]:
    with LocalOAuthServer(
        clients={"app": CANARY_SECRET}, trusted_issuers={CLUSTER: CLUSTER_KEY.public_pem}
    ) as local:
        yield local


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No configuration of this machine in the way: home, XDG directories and the working
    directory (a repository) in ``tmp_path``; ``APP_SECRET`` holds the canary."""
    for name in list(os.environ):
        if name.startswith(("TOKENPROVIDER_", "XDG_")):
            monkeypatch.delenv(name)
    work = tmp_path / "repo"
    (work / ".git").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "site"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home" / ".cache"))
    monkeypatch.setenv("APP_SECRET", CANARY_SECRET)
    monkeypatch.chdir(work)
    return tmp_path


def cluster_token(server: LocalOAuthServer, sub: str = WORKLOAD, lifetime: int = 600) -> str:
    now = int(time.time())
    claims = {
        "iss": CLUSTER,
        "sub": sub,
        "aud": server.token_url,
        "iat": now,
        "exp": now + lifetime,
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, CLUSTER_KEY.private_pem, algorithm="RS256")


def host_lines(server: LocalOAuthServer) -> str:
    return f'domain = "{server.url.split("://", 1)[1]}"\nscheme = "http"\n'


def oauth_table(
    header: str, server: LocalOAuthServer, grant: str, client_id: str = "workload", **settings: str
) -> str:
    """A credentials table at ``header`` for ``server``, with an oauth provider of ``grant``."""
    lines = [
        f"[{header}]",
        host_lines(server).rstrip("\n"),
        f"[{header}.oauth]",
        f'client_id = "{client_id}"',
        f'token_url = "{server.token_url}"',
        f'grant_type = "{grant}"',
    ]
    if grant != "client_credentials":
        settings.setdefault("client_auth", "none")
    lines += [f'{name} = "{value}"' for name, value in settings.items()]
    return "\n".join(lines) + "\n"


def base_profile(server: LocalOAuthServer) -> str:
    """``[profiles.base]``: client credentials for ``app``, its secret in ``APP_SECRET``."""
    return oauth_table(
        "profiles.base.credentials",
        server,
        "client_credentials",
        client_id="app",
        client_secret="env:APP_SECRET",
    )


def config(home: Path, *tables: str) -> Path:
    path = home / "conf" / "tokenprovider.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text("".join(tables), encoding="utf-8")
    path.chmod(0o600)
    return path


def grants(server: LocalOAuthServer) -> list[str]:
    return [record.form["grant_type"][0] for record in server.token_request_records]


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- a token exchange chained from another profile ----------------------------------------


def test_an_exchange_of_another_profiles_token_reuses_its_cached_token(
    server: LocalOAuthServer, home: Path
) -> None:
    path = config(
        home,
        base_profile(server),
        oauth_table("credentials", server, "token_exchange", subject_token="profile:base"),
    )
    provider = resolve(config_file=path).provider
    assert isinstance(provider, OAuthTokenProvider)
    assert provider.subject_token_type == ACCESS  # another profile's: an access token
    assert provider.token

    (record,) = server.exchanges
    assert (record.subject, record.subject_token_type) == ("app", ACCESS)
    assert grants(server) == ["client_credentials", EXCHANGE]

    provider.invalidate_cache()  # a second exchange, within base's token lifetime
    assert provider.token
    assert grants(server) == ["client_credentials", EXCHANGE, EXCHANGE]
    first, second = (r.form["subject_token"] for r in server.token_request_records[1:])
    assert first == second


def test_a_chain_of_profiles_each_with_its_own_grant(server: LocalOAuthServer, home: Path) -> None:
    """default exchanges middle's token; middle is a jwt-bearer grant whose assertion is a
    token file given relative to the configuration file's directory."""
    path = config(
        home,
        oauth_table("profiles.middle.credentials", server, "jwt_bearer", assertion="file:sa-token"),
        oauth_table("credentials", server, "token_exchange", subject_token="profile:middle"),
    )
    assertion = cluster_token(server)
    (path.parent / "sa-token").write_text(assertion, encoding="utf-8")  # not in the cwd
    assert resolve(config_file=path).provider.token
    assert grants(server) == [JWT_BEARER, EXCHANGE]
    assert server.token_request_records[0].form["assertion"] == [assertion]
    assert server.exchanges[0].subject == WORKLOAD  # the jwt-bearer token's owner


def test_load_provider_with_tokenprovider_config(
    server: LocalOAuthServer, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tokenprovider import load_provider  # noqa: PLC0415

    path = config(
        home,
        base_profile(server),
        oauth_table(
            "profiles.api.credentials",
            server,
            "token_exchange",
            subject_token="profile:base",
            requested_token_type="jwt",
            audience=API,
        ),
    )
    monkeypatch.setenv("TOKENPROVIDER_CONFIG", str(path))
    token = load_provider("api").token
    claims = jwt.decode(token, server.public_key_pem, ["ES256"], audience=API)
    assert claims["sub"] == "app"


def test_config_check_and_set_take_a_profile_source_with_a_shared_cache(
    server: LocalOAuthServer, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another profile's token has that profile's identity, so an exchange of it may be
    kept in a file cache; config set writes a profile: source as it is."""
    path = config(
        home,
        base_profile(server),
        oauth_table("credentials", server, "token_exchange", subject_token="file:x").replace(
            "[credentials.oauth]", 'cache = "file"\n[credentials.oauth]'
        ),
    )
    setting = "credentials.oauth.subject_token"
    code, out, err = cli(capsys, "config", "set", setting, "profile:base", "--file", str(path))
    assert code == 0, out + err
    assert 'subject_token = "profile:base"' in path.read_text(encoding="utf-8")
    code, out, err = cli(capsys, "--config", str(path), "config", "check")
    assert code == 0, out + err
    assert "ok: profile default (oauth)" in out
    provider = resolve(config_file=path).provider
    assert provider.cache.shared
    assert provider.cache_key() is not None
    assert server.token_requests == 0


@pytest.mark.parametrize(
    ("links", "chain"),
    [({"a": "b", "b": "a"}, "a -> b -> a"), ({"a": "a"}, "a -> a")],
)
def test_a_loop_of_profiles_is_refused_naming_it(
    server: LocalOAuthServer, home: Path, links: dict[str, str], chain: str
) -> None:
    tables = [
        oauth_table(
            f"profiles.{name}.credentials", server, "token_exchange", subject_token=f"profile:{to}"
        )
        for name, to in links.items()
    ]
    path = config(home, *tables)
    with pytest.raises(ConfigurationError) as info:
        resolve("a", config_file=path)
    assert chain in str(info.value)
    assert "subject_token" in str(info.value)
    assert server.token_requests == 0


def test_a_loop_through_the_default_profile_is_refused(
    server: LocalOAuthServer, home: Path
) -> None:
    path = config(
        home,
        oauth_table("credentials", server, "token_exchange", subject_token="profile:b"),
        oauth_table(
            "profiles.b.credentials", server, "token_exchange", subject_token="profile:default"
        ),
    )
    with pytest.raises(ConfigurationError, match="default -> b -> default"):
        resolve(config_file=path)


def test_an_unknown_profile_is_named_with_the_configured_ones(
    server: LocalOAuthServer, home: Path
) -> None:
    path = config(
        home,
        base_profile(server),
        oauth_table("credentials", server, "token_exchange", subject_token="profile:bsae"),
    )
    with pytest.raises(ConfigurationError) as info:
        resolve(config_file=path)
    message = str(info.value)
    assert "credentials.oauth.subject_token" in message
    assert "there is no profile 'bsae' (did you mean 'base'?)" in message
    assert "configured profiles: default, base" in message
    assert server.token_requests == 0


def test_a_broken_profile_named_as_a_source_is_reported_with_both_names(
    server: LocalOAuthServer, home: Path
) -> None:
    broken = oauth_table(
        "profiles.base.credentials", server, "client_credentials", client_id="app"
    ).replace('grant_type = "client_credentials"', 'grant_type = "client_credentails"')
    path = config(
        home,
        broken,
        oauth_table("credentials", server, "token_exchange", subject_token="profile:base"),
    )
    with pytest.raises(ConfigurationError) as info:
        resolve(config_file=path)
    message = str(info.value)
    assert "credentials.oauth.subject_token" in message
    assert "profile 'base'" in message
    assert "client_credentails" in message


# -- config check -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("subject_token", "fille:x", "did you mean 'file:'"),
        ("subject_token", "profile:nope", "there is no profile 'nope'"),
        ("actor_token", "github-action", "did you mean 'github-actions'"),
        ("subject_token", "file:", "needs a path after 'file:'"),
    ],
)
def test_config_check_reports_a_bad_source_with_its_key_path(
    server: LocalOAuthServer,
    home: Path,
    capsys: pytest.CaptureFixture[str],
    setting: str,
    value: str,
    expected: str,
) -> None:
    settings = {"subject_token": "file:token", setting: value}
    path = config(
        home, base_profile(server), oauth_table("credentials", server, "token_exchange", **settings)
    )
    code, out, err = cli(capsys, "--config", str(path), "config", "check")
    assert code != 0
    report = out + err
    assert f"credentials.oauth.{setting}" in report
    assert expected in report
    assert server.token_requests == 0


def test_config_check_passes_good_sources_without_reading_them(
    server: LocalOAuthServer, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config(
        home,
        base_profile(server),
        oauth_table(
            "credentials",
            server,
            "token_exchange",
            subject_token="profile:base",
            actor_token="file:not-written-yet",
        ),
        oauth_table(
            "profiles.ci.credentials",
            server,
            "jwt_bearer",
            assertion="github-actions",
            audience=API,
        ),
        oauth_table(
            "profiles.job.credentials", server, "token_exchange", subject_token="env:JOB_TOKEN"
        ),
    )
    code, out, err = cli(capsys, "--config", str(path), "config", "check", "--all")
    assert code == 0, out + err
    assert "ok: profile default (oauth)" in out
    assert "ok: profile ci (oauth)" in out
    assert server.token_requests == 0


@pytest.mark.parametrize(
    ("links", "chain"),
    [({"a": "b", "b": "a"}, "a -> b -> a"), ({"a": "a"}, "a -> a")],
)
def test_config_check_reports_a_loop(
    server: LocalOAuthServer,
    home: Path,
    capsys: pytest.CaptureFixture[str],
    links: dict[str, str],
    chain: str,
) -> None:
    tables = [
        oauth_table(
            f"profiles.{name}.credentials", server, "token_exchange", subject_token=f"profile:{to}"
        )
        for name, to in links.items()
    ]
    path = config(home, *tables)
    code, out, err = cli(capsys, "--config", str(path), "config", "check", "--profile", "a")
    assert code != 0, out + err
    assert chain in out + err
    assert "profiles.a.credentials.oauth.subject_token" in out + err


# -- the CLI never shows a subject token --------------------------------------------------


def test_the_token_command_prints_the_exchanged_token_only(
    server: LocalOAuthServer,
    home: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    subject = cluster_token(server)
    path = config(
        home,
        oauth_table(
            "credentials", server, "token_exchange", subject_token="file:subject.jwt", audience=API
        ),
    )
    (path.parent / "subject.jwt").write_text(subject + "\n", encoding="utf-8")
    code, out, err = cli(capsys, "--config", str(path), "token")
    assert code == 0, err
    issued = out.strip()
    assert server.exchanges[0].subject == WORKLOAD
    assert server.accepts(f"Bearer {issued}")  # the exchanged token, printed as is
    assert_no_leak(out + err, subject, subject.rpartition(".")[2], CANARY_SECRET)
    assert_no_leak(all_log_text(caplog), subject, subject.rpartition(".")[2])

    code, out, err = cli(capsys, "--config", str(path), "token", "--json")
    assert code == 0, err
    # A file's token may be another workload's in another process: not kept on disk.
    assert server.token_requests == 2
    assert not (home / "home" / ".cache" / "tokenprovider").exists()
    assert_no_leak(out + err, subject, subject.rpartition(".")[2])


def test_the_cli_keeps_an_exchange_of_a_variables_token_in_memory_only(
    server: LocalOAuthServer,
    home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A job's token in a variable differs from one job to the next: the CLI's file cache
    is not offered to such an exchange, so the next job's run exchanges its own token."""
    path = config(
        home, oauth_table("credentials", server, "token_exchange", subject_token="env:JOB_TOKEN")
    )
    issued = []
    for job in ("job-1", "job-2"):
        monkeypatch.setenv("JOB_TOKEN", cluster_token(server, sub=job))
        default_cache().clear()  # a new process for each job
        code, out, err = cli(capsys, "--config", str(path), "token")
        assert code == 0, err
        issued.append(out.strip())
    assert [record.subject for record in server.exchanges] == ["job-1", "job-2"]
    assert issued[0] != issued[1]
    assert not (home / "home" / ".cache" / "tokenprovider").exists()  # nothing on disk


def test_the_cli_cache_keeps_apart_exchanges_of_two_different_base_profiles(
    server: LocalOAuthServer, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two projects' files, each ``subject_token = "profile:base"`` for another client:
    the CLI's shared token cache must not hand the second project the first's token."""
    server.clients["app2"] = CANARY_SECRET
    exchange = oauth_table("credentials", server, "token_exchange", subject_token="profile:base")
    first = config(home, base_profile(server), exchange)
    second_dir = home / "other-project"
    second_dir.mkdir()
    second = second_dir / "tokenprovider.toml"
    second.write_text(
        base_profile(server).replace('client_id = "app"', 'client_id = "app2"') + exchange
    )
    second.chmod(0o600)

    printed = []
    for path in (first, second):
        code, out, err = cli(capsys, "--config", str(path), "token")
        assert code == 0, err
        printed.append(out.strip())
    assert [record.subject for record in server.exchanges] == ["app", "app2"]
    assert printed[0] != printed[1]


def test_a_failing_source_in_the_cli_is_named_without_the_token(
    server: LocalOAuthServer, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expired = cluster_token(server, lifetime=-120)
    path = config(
        home,
        oauth_table("credentials", server, "jwt_bearer", assertion="file:expired.jwt"),
    )
    (path.parent / "expired.jwt").write_text(expired, encoding="utf-8")
    code, out, err = cli(capsys, "--config", str(path), "token")
    assert code != 0
    assert "expired.jwt" in err
    assert "expired" in err
    assert out == ""
    assert server.token_requests == 0
    assert_no_leak(out + err, expired, expired.rpartition(".")[2])


def test_config_show_shows_sources_and_hides_a_literal_token(
    server: LocalOAuthServer, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    literal = cluster_token(server)
    path = config(
        home,
        base_profile(server),
        oauth_table(
            "credentials",
            server,
            "token_exchange",
            subject_token="profile:base",
            actor_token="file:/var/run/secrets/tokens/actor",
            subject_token_type="access_token",
        ),
        oauth_table("profiles.oops.credentials", server, "token_exchange", subject_token=literal),
        oauth_table(
            "profiles.oops2.credentials", server, "jwt_bearer", assertion="CANARY-7f3a-plain-token"
        ),
        oauth_table(
            "profiles.oops3.credentials", server, "jwt_bearer", assertion="sk:CANARY-7f3a-colon"
        ),
    )
    code, out, err = cli(capsys, "--config", str(path), "config", "show")
    assert code == 0, err
    assert 'subject_token = "profile:base"' in out
    assert 'actor_token = "file:/var/run/secrets/tokens/actor"' in out
    assert 'subject_token_type = "access_token"' in out
    assert 'client_secret = "<reference env:APP_SECRET>"' in out
    assert 'subject_token = "<set>"' in out  # profile oops: a token written in by mistake
    assert 'assertion = "<set>"' in out
    assert_no_leak(
        out + err,
        literal,
        literal.rpartition(".")[2],
        "CANARY-7f3a-plain-token",
        "CANARY-7f3a-colon",
        CANARY_SECRET,
    )
    assert server.token_requests == 0


# -- a plugin's source --------------------------------------------------------------------


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A registry of source schemes made anew (and dropped after the test)."""
    monkeypatch.setattr(_plugins, "_made", [])


def test_a_plugin_source_named_in_toml_gives_the_subject(
    server: LocalOAuthServer, home: Path, fresh_registry: None, capsys: pytest.CaptureFixture[str]
) -> None:
    made: list[str] = []

    @register_source("myscheme")
    class Vault(AssertionSource):
        """A token minted for the role after the scheme."""

        def __init__(self, role: str) -> None:
            self.role = role
            self.description = f"vault role {role}"

        def read(self, audience: str | None) -> str:
            token = cluster_token(server, sub=f"vault:{self.role}")
            made.append(token)
            return token

    path = config(
        home,
        oauth_table(
            "credentials", server, "token_exchange", subject_token="myscheme:reporter", audience=API
        ),
    )
    code, out, err = cli(capsys, "--config", str(path), "config", "check")
    assert code == 0, out + err

    provider = resolve(config_file=path).provider
    assert isinstance(provider.subject_token, Vault)  # type: ignore[attr-defined]
    assert provider.token
    assert server.exchanges[0].subject == "vault:reporter"
    assert server.exchanges[0].subject_token_type == JWT_TYPE
    assert server.token_request_records[0].form["subject_token"] == made

    code, out, err = cli(capsys, "--config", str(path), "config", "show")
    assert 'subject_token = "myscheme:reporter"' in out
    assert_no_leak(out + err + repr(provider), *made)


def test_a_plugin_scheme_that_is_not_registered_is_reported(
    server: LocalOAuthServer, home: Path, fresh_registry: None
) -> None:
    path = config(
        home, oauth_table("credentials", server, "token_exchange", subject_token="myscheme:x")
    )
    with pytest.raises(ConfigurationError) as info:
        resolve(config_file=path)
    assert "credentials.oauth.subject_token" in str(info.value)
    assert "myscheme:..." in str(info.value)
    assert_no_leak(reachable_text(info.value), CANARY_SECRET)


# -- profile graphs ----------------------------------------------------------------------


def test_a_profile_named_twice_is_built_once(server: LocalOAuthServer, home: Path) -> None:
    """A diamond (default -> left, right; both -> base): one base provider, so one token
    request for base however many name it. Base's token comes from a file, which no two
    providers share: only building it once makes it one request."""
    path = config(
        home,
        oauth_table("profiles.base.credentials", server, "jwt_bearer", assertion="file:base.jwt"),
        *(
            oauth_table(
                f"profiles.{side}.credentials",
                server,
                "token_exchange",
                subject_token="profile:base",
                audience=f"{API}/{side}",
            )
            for side in ("left", "right")
        ),
        oauth_table(
            "credentials",
            server,
            "token_exchange",
            subject_token="profile:left",
            actor_token="profile:right",
        ),
    )
    (path.parent / "base.jwt").write_text(cluster_token(server), encoding="utf-8")
    assert resolve(config_file=path).provider.token
    assert grants(server).count("urn:ietf:params:oauth:grant-type:jwt-bearer") == 1
    assert len(server.exchanges) == 3


def _chain(server: LocalOAuthServer, length: int) -> list[str]:
    """``[credentials]`` -> p1 -> ... -> p<length> -> base, each exchanging the next."""
    names = [f"p{index}" for index in range(1, length + 1)]
    tables = [oauth_table("credentials", server, "token_exchange", subject_token="profile:p1")]
    for name, following in zip(names, [*names[1:], "base"], strict=True):
        header = f"profiles.{name}.credentials"
        tables.append(
            oauth_table(header, server, "token_exchange", subject_token=f"profile:{following}")
        )
    return [base_profile(server), *tables]


def test_a_chain_longer_than_32_profiles_is_refused(
    server: LocalOAuthServer, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config(home, *_chain(server, 40))
    with pytest.raises(ConfigurationError) as info:
        resolve(config_file=path)
    assert "starts a chain of more than 32 profiles, each naming the next" in str(info.value)
    code, out, err = cli(capsys, "--config", str(path), "config", "check")
    assert code != 0
    assert "more than 32 profiles" in out + err
    assert server.token_requests == 0


def test_layered_diamonds_are_walked_once_each(home: Path) -> None:
    """Twenty layers of two profiles, each naming both of the next layer: 2**20 paths,
    forty profiles. In a child with a time bound, as a walk of every path would hang."""
    tables = []
    for layer in range(20):
        for side in ("a", "b"):
            header = (
                "credentials"
                if (layer, side) == (0, "a")
                else f"profiles.l{layer}{side}.credentials"
            )
            lines = [f"[{header}]", 'domain = "api.example.com"', f"[{header}.oauth]"]
            lines += ['client_id = "c"', 'token_url = "https://login.example.com/token"']
            if layer == 19:
                lines += ['client_secret = "env:APP_SECRET"']
            else:
                lines += [
                    'grant_type = "token_exchange"',
                    'client_auth = "none"',
                    f'subject_token = "profile:l{layer + 1}a"',
                    f'actor_token = "profile:l{layer + 1}b"',
                ]
            tables.append("\n".join(lines) + "\n")
    path = config(home, *tables)
    program = (
        "import sys\n"
        "from tokenprovider.config.resolve import resolve\n"
        "resolve(config_file=sys.argv[1])\n"
        "print('built')\n"
    )
    done = run_python("-c", program, str(path), timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "built"


def test_config_check_refuses_a_shared_cache_over_a_file_two_profiles_down(
    server: LocalOAuthServer, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """default (cache = "file") exchanges middle's token, and middle's comes from a file:
    check says what the build would say, not ok."""
    outer = oauth_table("credentials", server, "token_exchange", subject_token="profile:middle")
    path = config(
        home,
        oauth_table("profiles.middle.credentials", server, "jwt_bearer", assertion="file:t.jwt"),
        outer.replace("[credentials.oauth]", 'cache = "file"\n[credentials.oauth]'),
    )
    with pytest.raises(ConfigurationError) as built:
        resolve(config_file=path)
    assert "cannot share it" in str(built.value)
    code, out, err = cli(capsys, "--config", str(path), "config", "check")
    assert code != 0
    assert "cannot share it" in out + err


def test_the_cli_says_a_cache_key_has_nothing_to_seal(
    server: LocalOAuthServer, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = oauth_table("credentials", server, "token_exchange", subject_token="file:t.jwt")
    path = config(
        home, table.replace("[credentials.oauth]", 'cache_key = "derive"\n[credentials.oauth]')
    )
    (path.parent / "t.jwt").write_text(cluster_token(server), encoding="utf-8")
    code, out, err = cli(capsys, "--config", str(path), "token")
    assert (code, out) == (3, "")
    assert "credentials.cache_key: seals the CLI's shared token cache" in err
    assert server.token_requests == 0


def test_a_loop_is_named_from_where_it_starts(server: LocalOAuthServer, home: Path) -> None:
    """default -> a -> b -> a: the loop is a -> b -> a; default only leads to it."""
    path = config(
        home,
        oauth_table("credentials", server, "token_exchange", subject_token="profile:a"),
        oauth_table("profiles.a.credentials", server, "token_exchange", subject_token="profile:b"),
        oauth_table("profiles.b.credentials", server, "token_exchange", subject_token="profile:a"),
    )
    with pytest.raises(ConfigurationError) as info:
        resolve(config_file=path)
    assert "comes back to a profile that needs it (a -> b -> a)" in str(info.value)
    assert "default ->" not in str(info.value)
