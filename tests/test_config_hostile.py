"""Hostile configuration files and filesystem faults, and what ``config show`` masks.

Anything that could hang (a FIFO) or eat memory (``/dev/zero``) runs the CLI in a child
process with a timeout (and an address-space limit), so a regression fails instead of
hanging. A full or read-only disk is a real tmpfs when this test may mount one (root
with CAP_SYS_ADMIN), else those tests skip; the ENOSPC test that always runs injects
the error at ``os.fsync``. Devices are made with ``os.mknod`` (root only).
"""

from __future__ import annotations

import contextlib
import errno
import os
import pwd
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import CANARY_SECRET, assert_no_leak, cli_sandbox, run_python
from tokenprovider import ConfigurationError, SecretReference, parse_credentials_config
from tokenprovider.cli import main
from tokenprovider.config.files import CONFIG_LIMIT
from tokenprovider.config.known import BUILT_IN_SETTINGS
from tokenprovider.config.loading import load
from tokenprovider.config.locations import USER, user_file
from tokenprovider.config.reference import setting_keys
from tokenprovider.config.registry import Registry
from tokenprovider.errors import SecretReferenceError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TIMEOUT = 20  # seconds; every command here finishes in well under one
MEMORY_LIMIT = 1 << 30  # bytes of address space for a child that might read /dev/zero
DOMAIN = 'domain = "api.example.com"\n'
OAUTH = '[credentials.oauth]\nclient_id = "me"\ntoken_url = "https://login.example.com/t"\n'
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
root_only = pytest.mark.skipif(not IS_ROOT, reason="needs root (device nodes, chown)")


@dataclass
class Sandbox:
    """A home, a repository and a clean environment for running the CLI."""

    cwd: Path
    env: dict[str, str]
    user_file: Path
    project_file: Path

    def run(
        self, *args: str, env: dict[str, str] | None = None, limit_memory: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """``python -m tokenprovider ARGS``, bounded in time (and, asked, in memory)."""
        code = "import sys; from tokenprovider.cli import main; sys.exit(main(sys.argv[1:]))"
        result = run_python(
            "-c",
            code,
            *args,
            timeout=TIMEOUT,
            env={**self.env, **(env or {})},
            cwd=self.cwd,
            memory=MEMORY_LIMIT if limit_memory else None,
        )
        assert_no_leak(result.stdout + result.stderr, CANARY_SECRET)
        assert "Traceback" not in result.stderr, result.stderr
        return result


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    home, repo, env = cli_sandbox(tmp_path)
    env.update(XDG_CONFIG_DIRS=str(tmp_path / "site"))
    return Sandbox(
        cwd=repo,
        env=env,
        user_file=home / ".config" / "tokenprovider" / "config.toml",
        project_file=repo / ".tokenprovider.toml",
    )


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one line an expected error prints (exit 3)."""
    assert result.returncode == 3, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tokenprovider: error: "), result.stderr
    return lines[0]


# --- reading: regular files of bounded size only -----------------------------------------


@pytest.mark.parametrize("where", ["--config", "TOKENPROVIDER_CONFIG", "user", "project"])
def test_a_fifo_as_a_config_file_is_an_error_naming_it(sandbox: Sandbox, where: str) -> None:
    named = {"user": sandbox.user_file, "project": sandbox.project_file}.get(
        where, sandbox.cwd / "pipe.toml"
    )
    fifo(named)
    args = ["--config", str(named)] if where == "--config" else []
    env = {"TOKENPROVIDER_CONFIG": str(named)} if where == "TOKENPROVIDER_CONFIG" else {}

    line = error_line(sandbox.run("config", "show", *args, env=env))

    assert str(named) in line
    assert "FIFO" in line


def test_config_set_on_a_fifo_user_file_is_an_error(sandbox: Sandbox) -> None:
    fifo(sandbox.user_file)

    line = error_line(sandbox.run("config", "set", "credentials.domain", "api.example.com"))

    assert str(sandbox.user_file) in line
    assert stat.S_ISFIFO(os.lstat(sandbox.user_file).st_mode)


def test_dev_zero_as_a_config_file_is_an_error_not_memory_exhaustion(sandbox: Sandbox) -> None:
    result = sandbox.run("config", "show", "--config", "/dev/zero", limit_memory=True)

    line = error_line(result)
    assert "/dev/zero" in line
    assert "character device" in line


@pytest.mark.parametrize("target", ["fifo", "/dev/zero"])
def test_a_file_reference_to_a_fifo_or_device_is_a_secret_reference_error(
    sandbox: Sandbox, target: str
) -> None:
    path = fifo(sandbox.cwd / "secret.pipe") if target == "fifo" else Path(target)
    write(sandbox.project_file, f'[credentials]\n{DOMAIN}jwt = "file:{path}"\n')

    line = error_line(sandbox.run("token", limit_memory=True))

    assert f"file:{path}" in line
    assert "credentials.jwt" in line
    assert "not a regular file" in line


def test_a_config_file_over_the_limit_is_refused_and_one_at_the_limit_is_read(
    tmp_path: Path,
) -> None:

    body = f'[credentials]\n{DOMAIN}jwt = "x.y.z"\n'
    at_limit = write(tmp_path / "at.toml", body + "#" * (CONFIG_LIMIT - len(body) - 1) + "\n")
    over = write(tmp_path / "over.toml", at_limit.read_text() + "#")
    env = {"XDG_CONFIG_HOME": str(tmp_path / "none"), "XDG_CONFIG_DIRS": str(tmp_path / "none")}

    assert at_limit.stat().st_size == CONFIG_LIMIT
    assert load(env, tmp_path, at_limit).data["credentials"]["domain"] == "api.example.com"
    with pytest.raises(ConfigurationError, match="larger than 1 MiB") as caught:
        load(env, tmp_path, over)
    assert str(over) in str(caught.value)


def test_a_secret_file_over_64_kib_is_refused(tmp_path: Path) -> None:
    at_limit = tmp_path / "at"
    at_limit.write_bytes(CANARY_SECRET.encode() + b"x" * (64 * 1024 - len(CANARY_SECRET)))
    over = tmp_path / "over"
    over.write_bytes(at_limit.read_bytes() + b"x")

    assert SecretReference(f"file:{at_limit}").reveal().startswith(CANARY_SECRET)
    with pytest.raises(SecretReferenceError, match="larger than 64 KiB") as caught:
        SecretReference(f"file:{over}", setting="credentials.jwt").reveal()
    assert "credentials.jwt" in str(caught.value)
    assert_no_leak(str(caught.value), CANARY_SECRET)


def test_a_symlinked_config_file_is_read_but_a_symlink_to_a_fifo_is_not(
    sandbox: Sandbox,
) -> None:
    dotfiles = write(
        sandbox.cwd.parent / "dotfiles" / "tokenprovider.toml", f"[credentials]\n{DOMAIN}"
    )
    sandbox.user_file.parent.mkdir(parents=True)
    sandbox.user_file.symlink_to(dotfiles)
    linked_pipe = sandbox.cwd / "linked.toml"
    linked_pipe.symlink_to(fifo(sandbox.cwd / "real.pipe"))

    shown = sandbox.run("config", "show")
    refused = sandbox.run("config", "show", "--config", str(linked_pipe))

    assert shown.returncode == 0, shown.stderr
    assert 'domain = "api.example.com"' in shown.stdout
    assert "FIFO" in error_line(refused)


def test_config_path_marks_a_file_that_is_not_regular(sandbox: Sandbox) -> None:
    fifo(sandbox.user_file)

    result = sandbox.run("config", "path")

    assert result.returncode == 0, result.stderr
    assert f"{sandbox.user_file}  (a FIFO (named pipe), not a regular file)" in result.stdout


# --- config set --file: only regular files, written through symlinks --------------------


def test_config_set_writes_through_a_symlink_and_keeps_it(sandbox: Sandbox) -> None:
    target = write(sandbox.cwd.parent / "dotfiles" / "config.toml", f"[credentials]\n{DOMAIN}")
    link = sandbox.cwd / "link.toml"
    link.symlink_to(target)

    result = sandbox.run("config", "set", "credentials.scheme", "http", "--file", str(link))

    assert result.returncode == 0, result.stderr
    assert f"in {link}" in result.stdout
    assert link.is_symlink()
    assert os.readlink(link) == str(target)
    written = tomllib.loads(target.read_text())
    assert written == {"credentials": {"domain": "api.example.com", "scheme": "http"}}
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["config.toml"]


def _device(directory: Path) -> Path:
    """A character device like /dev/null (major 1, minor 3), made in ``directory``."""
    node = directory / "null"
    os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    return node


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda d: fifo(d / "pipe"), id="fifo"),
        pytest.param(_device, id="device", marks=root_only),
        pytest.param(lambda d: d, id="directory"),
    ],
)
@pytest.mark.parametrize("command", ["set", "init"])
def test_config_writes_refuse_what_is_not_a_regular_file(
    sandbox: Sandbox, make: Any, command: str
) -> None:
    special = make(_mkdir(sandbox.cwd.parent / "special"))
    before = os.lstat(special)
    args = (
        ["set", "credentials.domain", "api.example.com"]
        if command == "set"
        else ["init", "--provider", "jwt", "domain=api.example.com", "jwt=env:JWT"]
    )

    line = error_line(sandbox.run("config", *args, "--file", str(special)))

    assert f"refusing to write {special}" in line
    assert "not a regular file" in line
    after = os.lstat(special)
    assert (after.st_mode, after.st_ino, after.st_rdev) == (
        before.st_mode,
        before.st_ino,
        before.st_rdev,
    )


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


@root_only
def test_config_set_refuses_a_symlink_to_a_device(sandbox: Sandbox) -> None:
    node = _device(_mkdir(sandbox.cwd.parent / "dev"))
    link = sandbox.cwd / "link.toml"
    link.symlink_to(node)

    line = error_line(
        sandbox.run("config", "set", "credentials.domain", "a.example", "--file", str(link))
    )

    assert "character device" in line
    assert stat.S_ISCHR(os.stat(node).st_mode)
    assert link.is_symlink()


@root_only
def test_config_set_refuses_a_symlink_another_user_planted(sandbox: Sandbox) -> None:
    victim = write(sandbox.cwd.parent / "victim.toml", "# root's file\n")
    link = sandbox.cwd / ".tokenprovider.toml"
    link.symlink_to(victim)
    os.lchown(link, 54321, 54321)

    line = error_line(sandbox.run("config", "set", "credentials.domain", "a.example", "--project"))

    assert "owned by another user (uid 54321)" in line
    assert victim.read_text() == "# root's file\n"


def test_config_set_refuses_a_dangling_symlink(sandbox: Sandbox) -> None:
    link = sandbox.cwd / "link.toml"
    link.symlink_to(sandbox.cwd / "missing.toml")

    line = error_line(
        sandbox.run("config", "set", "credentials.domain", "a.example", "--file", str(link))
    )

    assert "does not exist" in line
    assert not (sandbox.cwd / "missing.toml").exists()


# --- filesystem errors: one line, exit 3 -------------------------------------------------


@contextlib.contextmanager
def tmpfs(path: Path, options: str) -> Iterator[Path]:
    """A tmpfs mounted at ``path``; skips the test where mounting is not permitted."""
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode(errors='replace')}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], timeout=TIMEOUT, check=True)


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A directory on a 16 KiB tmpfs that has been filled up."""
    with tmpfs(tmp_path / "full", "size=16k,mode=0700") as mount:
        with contextlib.suppress(OSError), open(mount / "filler", "wb") as filler:
            while True:
                filler.write(b"x" * 4096)
                filler.flush()
        yield mount


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A read-only tmpfs holding ``config.toml``."""
    with tmpfs(tmp_path / "ro", "size=64k,mode=0700") as mount:
        write(mount / "config.toml", f"[credentials]\n{DOMAIN}")
        remounted = subprocess.run(
            ["mount", "-o", "remount,ro", str(mount)],
            capture_output=True,
            timeout=TIMEOUT,
            check=False,
        )
        if remounted.returncode != 0:
            pytest.skip("cannot remount the tmpfs read-only")
        yield mount


WRITES = {
    "set": ["config", "set", "credentials.domain", "api.example.com", "--file"],
    "init": [
        "config",
        "init",
        "--provider",
        "jwt",
        "domain=a.example",
        "jwt=env:J",
        "--force",
        "--file",
    ],
}


@pytest.mark.parametrize("command", sorted(WRITES))
def test_a_full_disk_is_one_line_and_exit_3(
    sandbox: Sandbox, full_disk: Path, command: str
) -> None:
    target = full_disk / "config.toml"

    line = error_line(sandbox.run(*WRITES[command], str(target)))

    assert f"cannot write {target}: No space left on device" in line
    assert sorted(p.name for p in full_disk.iterdir()) == ["filler"]  # no temporary left


@pytest.mark.parametrize("command", sorted(WRITES))
def test_a_read_only_filesystem_is_one_line_and_exit_3(
    sandbox: Sandbox, read_only: Path, command: str
) -> None:
    for target in (read_only / "config.toml", read_only / "new.toml"):
        line = error_line(sandbox.run(*WRITES[command], str(target)))

        assert f"cannot write {target}: Read-only file system" in line


@pytest.mark.parametrize("command", [*sorted(WRITES), "path"])
def test_a_name_too_long_is_one_line_and_exit_3(sandbox: Sandbox, command: str) -> None:
    target = sandbox.cwd / ("a" * 300) / "config.toml"
    args = ["config", "path", "--config"] if command == "path" else WRITES[command]

    line = error_line(sandbox.run(*args, str(target)))

    assert str(target) in line
    assert "File name too long" in line


def test_enospc_at_fsync_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Where no tmpfs can be mounted, this still covers a full disk (injected at fsync)."""

    def full(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    target = tmp_path / "config.toml"

    code = main(["config", "set", "credentials.domain", "api.example.com", "--file", str(target)])

    assert code == 3
    assert capsys.readouterr().err == (
        f"tokenprovider: error: cannot write {target}: No space left on device\n"
    )
    assert list(tmp_path.iterdir()) == []


# --- the cache setting with ~ -------------------------------------------------------------


def _oauth_with_cache(cache: str) -> dict[str, Any]:
    oauth = {"client_id": "me", "client_secret": CANARY_SECRET, "token_url": "https://a.example/t"}
    return {"credentials": {"domain": "a.example", "cache": cache, "oauth": oauth}}


def test_a_cache_directory_of_an_unknown_user_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_credentials_config(_oauth_with_cache("file:~tokenprovider-no-such-user/x"))

    message = str(caught.value)
    assert message.startswith("credentials.cache: ")
    assert "no user 'tokenprovider-no-such-user'" in message
    assert_no_leak(message, CANARY_SECRET)


@pytest.fixture
def no_home(monkeypatch: pytest.MonkeyPatch) -> None:
    """HOME unset, and no password entry for this user (as in a container run as a bare
    uid), so ``~`` cannot be expanded."""

    def unknown(uid: int) -> Any:
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setattr(pwd, "getpwuid", unknown)


@pytest.mark.usefixtures("no_home")
def test_without_a_home_a_cache_under_tilde_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="HOME is not set") as caught:
        parse_credentials_config(_oauth_with_cache("file:~/tokens"))

    assert str(caught.value).startswith("credentials.cache: ")


@pytest.mark.usefixtures("no_home")
def test_without_a_home_the_other_sources_still_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    explicit = write(tmp_path / "c.toml", f"[credentials]\n{DOMAIN}")
    env = {"XDG_CONFIG_DIRS": str(tmp_path / "site")}

    loaded = load(env, tmp_path, explicit)

    assert loaded.data == {"credentials": {"domain": "api.example.com"}}
    assert USER not in [config_file.kind for config_file in loaded.files]
    with pytest.raises(ConfigurationError, match="set HOME or XDG_CONFIG_HOME"):
        user_file(env)


# --- config show: keys the mask does not know ---------------------------------------------


def test_config_show_masks_and_flags_unknown_keys(sandbox: Sandbox) -> None:
    write(
        sandbox.user_file,
        f"[credentials]\n{DOMAIN}{OAUTH}"
        f'client_secrt = "{CANARY_SECRET}"\n'
        "retry = { max_attempts = 3, bogus = 7 }\n"
        "[credentials.oauth.extra_params]\n"
        f'client_assertion = "{CANARY_SECRET}"\n'
        'resource = "https://api.example.com"\n'
        'Audience = "env:AUDIENCE"\n'
        f'refresh_token = "{CANARY_SECRET}"\n'
        "[credentials.oauht]\n"
        f'client_secret = "{CANARY_SECRET}"\n'
        f'"sec\\u0072et\\U0001F600" = "{CANARY_SECRET}"\n'
        "[profiles.dev]\n"
        f'credential = "{CANARY_SECRET}"\n'
        f'stray = "{CANARY_SECRET}"\n',
    )

    result = sandbox.run("config", "show", "--origin")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()

    def line(prefix: str) -> str:
        return next(text for text in lines if text.startswith(prefix))

    assert line("client_secrt = ").startswith(
        "client_secrt = \"<set>\"  # unknown key (did you mean 'client_secret'?); from "
    )
    assert line("bogus = ").startswith('bogus = "<set>"  # unknown key; from ')
    assert line("max_attempts = ").startswith("max_attempts = 3  # from ")
    assert line("client_assertion = ").startswith('client_assertion = "<set>"  # from ')
    assert line("resource = ").startswith('resource = "https://api.example.com"  # from ')
    assert line("Audience = ").startswith('Audience = "env:AUDIENCE"  # from ')
    assert line("refresh_token = ").startswith('refresh_token = "<set>"  # from ')
    assert line("[credentials.oauht]") == (
        "[credentials.oauht]  # unknown key (did you mean 'oauth'?)"
    )
    assert line('"secret😀" = ').startswith('"secret😀" = "<set>"  # from ')
    assert line("credential = ").startswith('credential = "<set>"  # unknown key')
    assert line("stray = ").startswith('stray = "<set>"  # unknown key')
    shown = tomllib.loads(result.stdout)  # still valid TOML
    assert shown["credentials"]["oauth"]["client_id"] == "me"


def test_the_built_in_settings_list_matches_the_constructors() -> None:
    """`config show` knows the built-in settings without importing the providers."""

    built_ins = Registry(group="tokenprovider.no-plugins")
    found = {name: setting_keys(built_ins.get(name)) for name in built_ins.names()}  # type: ignore[arg-type]

    assert found == BUILT_IN_SETTINGS, (
        "update BUILT_IN_SETTINGS in src/tokenprovider/config/known.py to: "
        + repr({name: sorted(keys) for name, keys in found.items()})
    )


@pytest.mark.parametrize(
    ("given", "named"),
    [
        (None, "None"),
        (3, "an integer"),
        (b"x", "a bytes"),
        (["x"], "an array"),
        (object(), "an object"),
    ],
)
def test_a_document_that_is_not_a_table_is_an_error_naming_what_it_is(
    given: Any, named: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_credentials_config(given)
    assert str(caught.value) == f"the configuration must be a table (a dict), not {named}"
