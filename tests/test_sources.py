"""Assertion sources: token files re-read on every read (real files, real symbolic links),
the bound on a read and the checks on its value, another provider's token (the local OAuth
server over 127.0.0.1), plugins (in code and by entry point) and the source settings.
GitHub Actions OIDC is in tests/test_sources_github.py."""

from __future__ import annotations

import base64
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import tokenprovider.sources as sources
from conftest import all_log_text, assert_no_leak, reachable_text, run_python
from tokenprovider import OAuthTokenProvider
from tokenprovider.errors import (
    AssertionSourceError,
    ConfigurationError,
    PluginError,
    TokenRequestError,
)
from tokenprovider.sources import (
    MAX_TOKEN_BYTES,
    SOURCE_ENTRY_POINT_GROUP,
    AssertionSource,
    EnvSource,
    FileSource,
    GitHubActionsSource,
    ProviderSource,
    _plugins,
    read_assertion,
    register_source,
    source_from_setting,
    source_problem,
)
from tokenprovider.testing.oauth_server import LocalOAuthServer

CANARY = "CANARY-7f3a-assertion-e51b"
NOW = 1_800_000_000.0


def b64(data: object) -> str:
    raw = json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwt_shaped(claims: dict[str, object], signature: str = "c2lnbmF0dXJl") -> str:
    """A JWT-shaped token (not validly signed: nothing here verifies it)."""
    return f"{b64({'alg': 'RS256', 'typ': 'JWT'})}.{b64(claims)}.{signature}"


def read(source: AssertionSource, audience: str | None = None) -> str:
    return read_assertion(source, audience, timeout=10.0, wall_time=lambda: NOW)


def read_error(source: AssertionSource, *secrets: str) -> AssertionSourceError:
    with pytest.raises(AssertionSourceError) as info:
        read(source)
    for secret in secrets:
        assert_no_leak(reachable_text(info.value), secret)
    return info.value


# -- files --------------------------------------------------------------------------------


def test_a_file_rewritten_in_place_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("first-token\n")
    source = FileSource(path)
    assert read(source) == "first-token"
    path.write_text("second-token\n")  # same inode, new content
    assert read(source) == "second-token"


def kubelet_layout(directory: Path, token: str, generation: str) -> None:
    """What the kubelet's atomic writer makes: ``token -> ..data/token``, ``..data`` a link
    to a timestamped directory, swapped by renaming a new link over it."""
    directory.mkdir(exist_ok=True)
    data = directory / f"..{generation}"
    data.mkdir()
    (data / "token").write_text(token)
    temporary = directory / "..data_tmp"
    temporary.symlink_to(data.name)
    os.replace(temporary, directory / "..data")
    if not (directory / "token").is_symlink():
        (directory / "token").symlink_to("..data/token")


def test_a_kubernetes_projected_token_is_followed_and_read_again_after_rotation(
    tmp_path: Path,
) -> None:
    volume = tmp_path / "serviceaccount"
    kubelet_layout(volume, "generation-one\n", "2026_12_01_10_00_00.1")
    source = FileSource(volume / "token")
    assert read(source) == "generation-one"
    kubelet_layout(volume, "generation-two\n", "2026_12_01_10_48_00.2")
    assert read(source) == "generation-two"  # the second fetch uses the new content
    assert (volume / "token").is_symlink()


def test_a_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "token"
    os.mkfifo(fifo, 0o600)  # nobody ever writes it: opening it to read would block
    program = textwrap.dedent(
        f"""
        from tokenprovider.sources import FileSource, read_assertion
        from tokenprovider.errors import AssertionSourceError
        try:
            read_assertion(FileSource({str(fifo)!r}), None, timeout=30.0)
        except AssertionSourceError as exc:
            print(exc)
        """
    )
    result = run_python("-c", program, timeout=20)
    assert result.returncode == 0, result.stderr
    assert f"file {fifo} is a FIFO (named pipe), not a regular file" in result.stdout


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"x" * (MAX_TOKEN_BYTES + 3), "is larger than 65538 bytes, the limit for this file"),
        (b"\n  \n", "is empty"),
        (b"", "is empty"),
        (CANARY.encode() + b"\xff\xfe", "is not UTF-8 text"),
    ],
    ids=["too large", "blank", "empty", "not UTF-8"],
)
def test_an_unusable_file_is_an_error_naming_it(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "token"
    path.write_bytes(content)
    error = read_error(FileSource(path), CANARY)
    assert str(error).startswith(f"file {path} {expected}")
    assert error.__cause__ is None
    assert error.__context__ is None


def test_the_longest_token_may_end_with_a_line_end(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_bytes(b"x" * MAX_TOKEN_BYTES + b"\r\n")
    assert read(FileSource(path)) == "x" * MAX_TOKEN_BYTES


def test_a_path_with_a_nul_is_refused() -> None:
    with pytest.raises(ConfigurationError) as info:
        FileSource("/var/run/\0token")
    assert str(info.value) == "a token file's path must not contain a NUL character"


def test_a_missing_file_says_when_it_is_written(tmp_path: Path) -> None:
    path = tmp_path / "absent" / "token"
    error = read_error(FileSource(path))
    assert str(error).startswith(f"file {path} does not exist")
    assert "projected volume" in str(error)


def test_a_directory_is_refused(tmp_path: Path) -> None:
    assert "is a directory, not a regular file" in str(read_error(FileSource(tmp_path)))


def _read_as_nobody(path: Path, answers: multiprocessing.Queue[str]) -> None:
    """In a forked child: give up root, then read ``path`` as a source would."""
    os.setgid(65534)
    os.setuid(65534)
    answers.put(str(read_error(FileSource(path), CANARY)))


def test_an_unreadable_file_says_permission_denied() -> None:
    """Root reads anything, so as root the read runs in a child as ``nobody``."""
    directory = Path(tempfile.mkdtemp())
    try:
        directory.chmod(0o755)
        path = directory / "token"
        path.write_text(CANARY)
        path.chmod(0)
        if os.geteuid() != 0:
            said = str(read_error(FileSource(path), CANARY))
        else:
            fork = multiprocessing.get_context("fork")
            answers: multiprocessing.Queue[str] = fork.Queue()
            child = fork.Process(target=_read_as_nobody, args=(path, answers))
            child.start()
            said = answers.get(timeout=60)
            child.join(timeout=60)
        assert said.startswith(f"file {path} cannot be read: permission denied")
        assert CANARY not in said
    finally:
        shutil.rmtree(directory)


def test_a_relative_path_is_taken_from_base_dir_or_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "token").write_text("from-base-dir")
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "token").write_text("from-cwd")
    monkeypatch.chdir(tmp_path / "work")
    from_cwd = FileSource("token")
    from_base = FileSource("token", base_dir=tmp_path / "config")
    monkeypatch.chdir(tmp_path)  # the working directory at construction counts
    assert read(from_cwd) == "from-cwd"
    assert read(from_base) == "from-base-dir"
    assert from_base.description == f"file {tmp_path / 'config' / 'token'}"


def test_a_tilde_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "token").write_text("at-home")
    assert read(FileSource("~/token")) == "at-home"


@pytest.mark.parametrize("path", ["", "   ", b"/bytes/path", 3])
def test_a_file_source_needs_a_str_path(path: object) -> None:
    with pytest.raises(ConfigurationError):
        FileSource(path)  # type: ignore[arg-type]


def test_a_file_source_shows_its_path_and_never_the_token(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(CANARY)
    source = FileSource(path)
    assert read(source) == CANARY
    assert repr(source) == f"FileSource('file {path}')"


# -- the checks of read_assertion ---------------------------------------------------------


class Fixed(AssertionSource):
    """A source that answers ``value`` (or raises it, if it is an exception)."""

    def __init__(self, value: object, description: str = "fixed source") -> None:
        self.value = value
        self.description = description
        self.audiences: list[str | None] = []

    def read(self, audience: str | None) -> str:
        self.audiences.append(audience)
        if isinstance(self.value, BaseException):
            raise self.value
        return self.value  # type: ignore[return-value]


def test_the_audience_is_passed_and_surrounding_whitespace_stripped() -> None:
    source = Fixed("  token-value\r\n")
    assert read_assertion(source, "api://aud", timeout=5.0) == "token-value"
    assert source.audiences == ["api://aud"]


def test_an_expired_jwt_is_refused_naming_the_source_and_what_renews_it(tmp_path: Path) -> None:
    path = tmp_path / "token"
    token = jwt_shaped({"sub": CANARY, "exp": NOW - 90})
    path.write_text(token + "\n")
    error = read_error(FileSource(path), CANARY, token)
    assert str(error) == (
        f"the token from file {path} expired 90 s ago (at 2027-01-15 07:58:30 UTC); whatever "
        "renews the file (the kubelet, the workload identity webhook) seems to have stopped: "
        "check that it runs and that the path is the projected one"
    )


@pytest.mark.parametrize(
    "token",
    [
        jwt_shaped({"sub": "x"}),  # a JWT without exp
        jwt_shaped({"sub": "x", "exp": NOW + 60}),  # not yet expired
        jwt_shaped({"sub": "x", "exp": "yesterday"}),  # exp is not a number: not ours to judge
        "opaque-token-1234",  # not a JWT
        "a.b.c",  # three segments that are not base64url JSON
    ],
)
def test_tokens_that_are_not_known_to_be_expired_pass(token: str) -> None:
    assert read(Fixed(token)) == token


def test_an_expired_unsecured_jwt_is_refused_with_the_default_hint() -> None:
    token = jwt_shaped({"exp": NOW - 60}, signature="")
    error = read_error(Fixed(token))
    assert str(error).endswith(
        "expired 60 s ago (at 2027-01-15 07:59:00 UTC); check the source and this machine's clock"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "fixed source gave None, not a str token"),
        (b"bytes-token", "fixed source gave a bytes, not a str token"),
        ("", "fixed source gave an empty token"),
        (" \n", "fixed source gave an empty token"),
        (f"{CANARY} more", "a space, control or non-ASCII character (at position 26)"),
        (f"{CANARY}\x00", "a space, control or non-ASCII character (at position 26)"),
        (f"{CANARY}é", "a space, control or non-ASCII character (at position 26)"),
        ("x" * (MAX_TOKEN_BYTES + 1), f"more than the {MAX_TOKEN_BYTES} allowed"),
    ],
)
def test_a_value_that_is_no_usable_token_is_refused(value: object, expected: str) -> None:
    error = read_error(Fixed(value), CANARY)
    assert expected in str(error)


def test_the_longest_token_allowed_passes() -> None:
    assert len(read(Fixed("x" * MAX_TOKEN_BYTES))) == MAX_TOKEN_BYTES


class Waiting(AssertionSource):
    description = "slow source"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.finished = threading.Event()

    def read(self, audience: str | None) -> str:
        self.release.wait(30)
        self.finished.set()
        return CANARY


def test_a_slow_source_is_cut_short_naming_it_and_the_bound() -> None:
    source = Waiting()
    try:
        with pytest.raises(AssertionSourceError) as info:
            read_assertion(source, None, timeout=0.2)
        assert str(info.value).startswith("slow source gave no token within 0.2 s")
        assert not source.finished.is_set()
    finally:
        source.release.set()
    assert source.finished.wait(10)  # the worker ends; its result is dropped


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), True, "5"])
def test_the_timeout_must_be_positive(timeout: object) -> None:
    with pytest.raises(ConfigurationError):
        read_assertion(Fixed("t"), None, timeout=timeout)  # type: ignore[arg-type]


def test_a_failing_source_is_named_without_its_message(
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    def fail() -> None:
        raise KeyError(CANARY)

    try:
        fail()
    except KeyError as inner:
        thrown = ValueError(f"{CANARY}: bad token {CANARY}")
        thrown.__context__ = inner  # a chain that also holds the canary
    source = Fixed(thrown, "plugin source")
    error = read_error(source, CANARY)
    assert str(error) == (
        "plugin source failed with ValueError (its message is not shown: it may hold the token)"
    )
    assert error.__cause__ is None
    assert error.__context__ is None
    assert CANARY not in repr(error)
    assert_no_leak(all_log_text(debug_logs), CANARY)


def test_our_own_errors_from_a_source_pass_through() -> None:
    raised = TokenRequestError("the TDS is down")
    with pytest.raises(TokenRequestError) as info:
        read(Fixed(raised))
    assert info.value is raised


def test_a_source_without_a_description_is_named_by_its_class() -> None:
    class Bare(AssertionSource):
        def read(self, audience: str | None) -> str:
            return ""

    error = read_error(Bare())
    assert str(error) == "Bare gave an empty token"
    assert repr(Bare()) == "Bare('Bare')"


# -- another provider's token -------------------------------------------------------------


@pytest.fixture
def oauth(oauth_server: LocalOAuthServer) -> OAuthTokenProvider:
    return OAuthTokenProvider(
        oauth_server.url, "client", "client-secret", token_url=oauth_server.token_url
    )


def test_a_provider_source_reads_the_providers_cached_token(
    oauth: OAuthTokenProvider, oauth_server: LocalOAuthServer
) -> None:
    source = ProviderSource(oauth)
    first = read(source)
    second = read_assertion(source, "other-audience", timeout=10.0)
    assert first == second == oauth.token
    assert oauth_server.token_requests == 1  # the second read is served from its cache
    assert source.description == f"provider OAuthTokenProvider for {oauth.host}"
    assert first not in repr(source)
    named = ProviderSource(oauth, description="profile 'tds'")
    assert repr(named) == "ProviderSource(\"profile 'tds'\")"


def test_a_provider_sources_failure_passes_through(oauth_server: LocalOAuthServer) -> None:
    provider = OAuthTokenProvider(
        oauth_server.url, "client", "wrong-secret", token_url=oauth_server.token_url
    )
    with pytest.raises(TokenRequestError) as info:
        read(ProviderSource(provider))
    assert not isinstance(info.value, AssertionSourceError)


def test_a_profile_is_for_configuration_and_code_is_told_what_to_pass() -> None:
    with pytest.raises(ConfigurationError) as info:
        source_from_setting("profile:other")
    assert "ProviderSource(load_provider('other'))" in str(info.value)


def test_an_env_source_reads_the_variable_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    source = source_from_setting("env:CI_OIDC_TOKEN")
    assert isinstance(source, EnvSource)
    monkeypatch.setenv("CI_OIDC_TOKEN", f"first-{CANARY}")
    assert read(source) == f"first-{CANARY}"
    monkeypatch.setenv("CI_OIDC_TOKEN", "second")
    assert read(source) == "second"
    monkeypatch.setenv("CI_OIDC_TOKEN", "  ")
    assert str(read_error(source)) == "environment variable CI_OIDC_TOKEN is empty"
    monkeypatch.delenv("CI_OIDC_TOKEN")
    assert str(read_error(source)) == "environment variable CI_OIDC_TOKEN is not set"
    assert CANARY not in repr(source)


# -- plugins ------------------------------------------------------------------------------


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A registry made anew, which reads the entry points again."""
    monkeypatch.setattr(_plugins, "_made", [])


class Echo(AssertionSource):
    def __init__(self, rest: str) -> None:
        self.rest = rest
        self.description = f"echo {rest}"

    def read(self, audience: str | None) -> str:
        return f"{self.rest}-{audience}"


def test_a_source_registered_in_code_is_built_from_its_scheme(fresh_registry: None) -> None:
    register_source("echo-test")(Echo)
    source = source_from_setting("echo-test:value:with:colons")
    assert isinstance(source, Echo)
    assert source.rest == "value:with:colons"
    assert read_assertion(source, "aud", timeout=5.0) == "value:with:colons-aud"
    assert source_problem("echo-test:x") is None


@pytest.mark.parametrize(
    ("scheme", "cls", "expected"),
    [
        ("file", Echo, "conflicts with"),
        ("Echo", Echo, "must be lower case letters, digits, _ and -"),
        ("echo-bad", int, "not a AssertionSource subclass"),
    ],
)
def test_a_registration_that_cannot_be_used_is_refused(
    fresh_registry: None, scheme: str, cls: type, expected: str
) -> None:
    with pytest.raises(PluginError, match=expected):
        register_source(scheme)(cls)


SOURCE_PLUGIN = """
from tokenprovider.sources import AssertionSource

class VaultSource(AssertionSource):
    def __init__(self, rest):
        self.path = rest
        self.description = "vault " + rest

    def read(self, audience):
        return "vault-token-for-" + self.path

class Refusing(AssertionSource):
    description = "refusing"

    def __init__(self, rest):
        raise ValueError("no such role " + rest)

    def read(self, audience):
        raise AssertionError("never built")
"""


def install(tmp_path: Path, dist: str, entries: str) -> None:
    """A fake installed distribution ``dist`` with ``entries`` in the sources' group."""
    info = tmp_path / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{SOURCE_ENTRY_POINT_GROUP}]\n{entries}\n")


@pytest.fixture
def source_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_registry: None
) -> Iterator[str]:
    """An installed plugin with two source entry points; the name of its module."""
    module = f"srctest_plugin_{os.getpid()}"
    install(
        tmp_path,
        "srctest-plugin",
        f"vault = {module}:VaultSource\nrefusing = {module}:Refusing",
    )
    (tmp_path / f"{module}.py").write_text(SOURCE_PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield module
    sys.modules.pop(module, None)


def test_an_entry_point_plugin_is_imported_only_when_used(source_plugin: str) -> None:
    assert source_problem("vault:secret/data/ci") is None
    assert source_plugin not in sys.modules  # checking the form imports nothing
    source = source_from_setting("vault:secret/data/ci")
    assert type(source).__name__ == "VaultSource"
    assert read(source) == "vault-token-for-secret/data/ci"


def test_a_plugin_that_refuses_its_value_is_a_configuration_error(source_plugin: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        source_from_setting("refusing:admin")
    message = str(info.value)
    assert "'refusing:...'" in message
    assert "srctest-plugin 1.0" in message
    assert "ValueError: no such role admin" in message


def test_a_plugin_claiming_a_built_in_scheme_is_refused_naming_both(
    source_plugin: str, tmp_path: Path
) -> None:
    install(tmp_path, "srctest-thief", f"file = {source_plugin}:VaultSource")
    _plugins._made.clear()  # read the entry points again
    with pytest.raises(PluginError) as info:
        source_from_setting("file:/var/run/token")
    assert "built in (tokenprovider.sources.file:FileSource)" in str(info.value)
    assert "srctest-thief 1.0" in str(info.value)


# -- settings -----------------------------------------------------------------------------


def test_each_built_in_form_makes_its_source(tmp_path: Path, oauth: OAuthTokenProvider) -> None:
    file_source = source_from_setting(" file:token ", base_dir=tmp_path)
    assert isinstance(file_source, FileSource)
    assert file_source.path == tmp_path / "token"
    assert isinstance(source_from_setting("github-actions"), GitHubActionsSource)
    asked: list[str] = []

    def profile(name: str) -> OAuthTokenProvider:
        asked.append(name)
        return oauth

    from_profile = source_from_setting("profile:tds", profile=profile)
    assert isinstance(from_profile, ProviderSource)
    assert from_profile.description == "profile 'tds'"
    assert asked == ["tds"]
    given = Fixed("t")
    assert source_from_setting(given) is given
    assert source_problem(given) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("github-action", "(did you mean 'github-actions'?)"),
        ("fille:/var/run/token", "(did you mean 'file:'?)"),
        ("profle:tds", "(did you mean 'profile:'?)"),
        ("/var/run/token", "(not shown: it may be a token) must be one of"),
        ("/var/run/token", "(it looks like a path: write file:PATH)"),
        ("canary7f3ax", "(not shown: it may be a token) must be one of"),
        ("vault:TOKEN", "an assertion source 'vault:...' must be one of 'file:PATH', 'env:NAME'"),
        ("Bearer abc", "an assertion source (not shown: it may be a token) must be one of"),
        ("env:", "needs a variable name after 'env:'"),
        ("file:", "assertion source 'file:' needs a path after 'file:'"),
        ("profile:  ", "needs a profile name after 'profile:'"),
        ("github-actions:aud", "write 'github-actions' alone"),
        (42, "must be a str"),
        (None, "must be a str"),
    ],
)
def test_a_setting_of_no_known_form_is_refused_with_a_hint(value: object, expected: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        source_from_setting(value)  # type: ignore[arg-type]
    assert expected in str(info.value)
    assert source_problem(value) == str(info.value)


def test_a_token_given_as_the_setting_is_not_quoted(tmp_path: Path) -> None:
    token = jwt_shaped({"sub": CANARY})
    problem = source_problem(token)
    assert problem is not None
    assert "looks like a token itself" in problem
    assert_no_leak(problem, CANARY, token[:40])
    long_setting = "x" * 5000
    with pytest.raises(ConfigurationError) as info:
        source_from_setting(long_setting + " y")
    assert len(str(info.value)) < 400  # cut short


def test_checking_a_file_form_reads_no_file(tmp_path: Path) -> None:
    assert source_problem(f"file:{tmp_path / 'not-there'}") is None
    assert source_problem("profile:missing") is None
    assert source_problem("github-actions") is None


def test_the_sources_export_what_they_document() -> None:
    assert all(getattr(sources, name) is not None for name in sources.__all__)
    assert SOURCE_ENTRY_POINT_GROUP == "tokenprovider.sources"


@pytest.mark.parametrize("value", ["canary7f3ax", "/canary7f3a/x", ".canary7f3a", "~canary7f3a"])
def test_a_setting_of_no_known_form_is_never_quoted(value: str) -> None:
    """A short opaque token, or one that starts like a path, written where a source
    belongs: the message says what forms are allowed, and shows nothing of it."""
    with pytest.raises(ConfigurationError) as info:
        source_from_setting(value)
    assert "canary7f3a" not in str(info.value)
    with pytest.raises(ConfigurationError) as info:
        source_from_setting(f"sk:{value}")
    assert str(info.value).startswith("an assertion source 'sk:...' must be one of")
    assert "canary7f3a" not in str(info.value)


def test_an_env_source_naming_a_file_says_to_name_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AZURE_FEDERATED_TOKEN_FILE holds the token file's path: sending the path as the
    token would be refused by the server in words that do not say why."""
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text(CANARY)
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", str(token_file))
    error = read_error(EnvSource("AZURE_FEDERATED_TOKEN_FILE"), CANARY)
    assert str(error).startswith(
        "environment variable AZURE_FEDERATED_TOKEN_FILE holds a path, not a token"
    )
    assert "file:$AZURE_FEDERATED_TOKEN_FILE" in str(error)
