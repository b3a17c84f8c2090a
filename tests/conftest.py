"""Shared fixtures: canary secrets and helpers to prove they never leak."""

from __future__ import annotations

import contextlib
import functools
import http.client
import logging
import os
import socket
import subprocess
import sys
import threading
import traceback
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import ddb_workers
from tokenprovider.caches import default_cache
from tokenprovider.testing.lambda_server import LambdaContext
from tokenprovider.testing.moto import MotoServer

# No test, and no program a test starts, may write into this machine's real OS keyring
# (the login store's default): they see the "no keyring" backend unless they choose one.
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
from tokenprovider.testing.tds_dispenser import LocalTokenDispenser


@pytest.fixture(autouse=True)
def _fresh_default_cache() -> Iterator[None]:
    """Each test starts with an empty process-wide token cache."""
    default_cache().clear()
    yield
    default_cache().clear()


@pytest.fixture(autouse=True)
def _one_botocore_data_loader() -> None:
    """Once botocore is loaded, its sessions share one data loader, as those of
    `tokenprovider.testing.tds_dispenser.fake_session` do: a session of its own parses the
    same service models again (about 0.1 s for each new session's first client)."""
    session = sys.modules.get("botocore.session")
    if session is not None and not hasattr(session.create_loader, "cache_info"):
        session.create_loader = functools.cache(session.create_loader)


#: Distinctive values that must never appear in any repr, log record or error text.
CANARY_SECRET = "canary-SECRET-7f3a9c"
CANARY_CLIENT = "canaryclient"


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Capture every tokenprovider log record at DEBUG."""
    caplog.set_level(logging.DEBUG, logger="tokenprovider")
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A working directory that is the root of a (fake) repository."""
    work = tmp_path / "work"
    (work / ".git").mkdir(parents=True)
    return work


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An environment whose site and user config directories live in ``tmp_path``."""
    return {"XDG_CONFIG_HOME": str(tmp_path / "home"), "XDG_CONFIG_DIRS": str(tmp_path / "etc")}


def assert_no_leak(text: str, *secrets: str) -> None:
    """Fail if any secret occurs in ``text``."""
    for secret in secrets:
        assert secret not in text, f"secret leaked into: {text!r}"


def all_log_text(caplog: pytest.LogCaptureFixture, logger: str | None = None) -> str:
    """Every captured record (with ``logger``, only the records of loggers whose names
    start with it), formatted with arguments and exception text."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    parts = []
    for record in caplog.records:
        if logger is not None and not record.name.startswith(logger):
            continue
        parts.append(formatter.format(record))
        if record.exc_info:
            parts.append(formatter.formatException(record.exc_info))
    return "\n".join(parts)


# -- what an exception holds ----------------------------------------------------------------


def reachable(root: object, limit: int = 100_000) -> Iterator[object]:
    """Every object reachable from ``root``, each once (so cycles end): exception links
    (``__cause__``, ``__context__``, ``args``), attributes (the ``__dict__`` itself and
    slots, so ``.request``, ``.response``, ``.pool``...) and the keys and items of
    containers. Callables (functions, classes, methods) are yielded but not entered. More
    than ``limit`` objects fail the test rather than leave some unchecked."""
    seen: set[int] = set()
    todo = [root]
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if len(seen) > limit:
            pytest.fail(f"more than {limit} objects are reachable from {type(root).__name__}")
        yield obj
        if isinstance(obj, (str, bytes, bytearray, int, float, type(None))) or callable(obj):
            continue
        if isinstance(obj, BaseException):
            todo += [obj.__cause__, obj.__context__, *obj.args]
        if isinstance(obj, dict):
            todo += [*obj.keys(), *obj.values()]
        elif isinstance(obj, (list, tuple, set, frozenset)):
            todo += list(obj)
        attributes = getattr(obj, "__dict__", None)
        if isinstance(attributes, dict):
            todo.append(attributes)
        for klass in type(obj).__mro__:
            for slot in getattr(klass, "__slots__", ()):
                with contextlib.suppress(AttributeError, TypeError):
                    todo.append(getattr(obj, slot))


def reachable_text(error: BaseException) -> str:
    """All the text a logger, traceback or debugger can reach from ``error``: its formatted
    traceback, then for every object `reachable` from it, strings as they are, bytes
    decoded (as UTF-8 and as Latin-1), and the ``repr`` of anything else (and the ``str``
    of exceptions). Check it with `assert_no_leak`."""
    parts = ["".join(traceback.format_exception(error))]
    for obj in reachable(error):
        if isinstance(obj, str):
            parts.append(obj)
        elif isinstance(obj, (bytes, bytearray)):
            parts += [bytes(obj).decode("utf-8", "replace"), bytes(obj).decode("latin-1")]
        else:
            if isinstance(obj, BaseException):
                with contextlib.suppress(Exception):
                    parts.append(str(obj))
            with contextlib.suppress(Exception):
                parts.append(repr(obj))
    return "\n".join(parts)


# -- sockets and child processes ---------------------------------------------------------------


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connections are refused)."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return int(sock.getsockname()[1])


def run_cli(
    config: Path,
    *args: str,
    cwd: Path,
    timeout: float = 60,
    without: tuple[str, ...] = (),
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``tokenprovider --config CONFIG ARGS`` in a child process, with no user or site
    configuration of this machine in the way (see `run_python`); ``env`` adds to (or, with
    an empty value, removes from) this process's environment."""
    merged = {
        **os.environ,
        "XDG_CONFIG_HOME": str(cwd / "xdg-home"),
        "XDG_CONFIG_DIRS": "",
        "XDG_CACHE_HOME": str(cwd / "xdg-cache"),  # the CLI's token cache
    }
    for name, value in (env or {}).items():
        if value:
            merged[name] = value
        else:
            merged.pop(name, None)
    return run_python(
        "-m",
        "tokenprovider",
        "--config",
        str(config),
        *args,
        timeout=timeout,
        env=merged,
        cwd=cwd,
        without=without,
    )


#: Put first in a child's program: top-level modules named in WITHOUT cannot be imported,
#: as if they were not installed (``ModuleNotFoundError``, like a missing extra).
_BLOCK_MODULES = """\
import sys
class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {without!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, _NotInstalled())
"""


def run_python(
    *args: str,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    memory: int | None = None,
    without: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` in a child process with stdin closed and its output captured as
    text; one still running after ``timeout`` seconds is killed and fails the test. With
    ``memory`` (``-c`` programs only), the program first limits its address space to that
    many bytes. With ``without`` (``-c`` or ``-m`` programs), those top-level modules
    cannot be imported, as if not installed: ``without=("boto3", "botocore")``."""
    if without:
        prelude = _BLOCK_MODULES.format(without=set(without))
        if args[0] == "-m":
            module, rest = args[1], args[2:]
            run = f"import runpy; sys.argv = {[module, *rest]!r}\n"
            run += f"runpy.run_module({module!r}, run_name='__main__', alter_sys=True)\n"
            args = ("-c", prelude + run)
        elif args[0] == "-c":
            args = ("-c", prelude + args[1], *args[2:])
        else:
            raise ValueError("without applies to a -c or -m program")
    if memory is not None:
        if args[0] != "-c":
            raise ValueError("memory limits only a -c program")
        limit = f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}))\n"
        args = ("-c", limit + args[1], *args[2:])
    try:
        return subprocess.run(
            [sys.executable, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            env=None if env is None else dict(env),
            cwd=cwd,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the child process was still running after {timeout}s")


def cli_sandbox(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """For running the CLI: a home (with ``.config``) and a repository (with ``.git``) in
    ``tmp_path``, and an environment: this process's without ``TOKENPROVIDER_*`` or
    ``XDG_*`` variables, ``HOME`` and ``XDG_CONFIG_HOME`` in that home."""
    home = tmp_path / "home"
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (home / ".config").mkdir(parents=True)
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("TOKENPROVIDER_", "XDG_"))
    }
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
    return home, repo, env


# -- AWS, faked by moto's server on 127.0.0.1 ------------------------------------------------
#
# `moto_server` runs one moto server for the whole session (it is started only when a test
# asks for it); `aws_env` points boto3 at it for one test and gives that test a clean
# moto state. Tests create their secrets/parameters with boto3 after requesting `aws_env`:
#
#     def test_x(aws_env: str) -> None:
#         boto3.client("ssm").put_parameter(Name="/p", Value="v", Type="SecureString")


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    """moto's server mode on 127.0.0.1 (a free port), for the whole session."""
    with MotoServer() as server:
        yield server


@pytest.fixture(scope="session")
def moto_server(moto: MotoServer) -> str:
    """The endpoint URL of the session's moto server."""
    return moto.url


@pytest.fixture
def aws_env(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """Point boto3 at `moto_server` only, for one test; returns the moto endpoint URL.

    Every ``AWS_*`` variable (and any proxy) is removed, then: ``AWS_ENDPOINT_URL`` = the
    moto URL, fake keys ``testing``, region ``us-west-2`` in ``AWS_REGION`` only (which
    boto3 ignores, so the library's own region rule is what finds it), no profile, config
    and credential files that do not exist, and no instance metadata lookups. A test's own
    ``boto3.client(...)`` calls get the region from boto3's default session, set here;
    the library never uses that session. moto's state is reset first, so each test starts
    with no secrets or parameters. Subprocesses inherit this environment through
    ``os.environ`` (and not the default session).
    """
    import boto3  # noqa: PLC0415 - only the AWS tests load it

    for name in list(os.environ):
        if name.upper().startswith("AWS_") or name.lower() in _PROXY_VARIABLES:
            monkeypatch.delenv(name)
    missing = tmp_path_factory.mktemp("aws") / "missing"
    settings = {
        "AWS_ENDPOINT_URL": moto.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": str(missing / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(missing / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", boto3.session.Session(region_name=REGION))
    moto.reset()
    return moto.url


_PROXY_VARIABLES = frozenset({"http_proxy", "https_proxy", "all_proxy", "no_proxy"})


# -- the Token Dispenser stack on the session's moto server -----------------------------------

REGION = "us-west-2"
StackFactory = Callable[..., LocalTokenDispenser]


@pytest.fixture
def clean_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """No AWS settings: no variables, missing config files, no IMDS; returns those three."""
    for name in list(os.environ):
        if name.upper().startswith("AWS_") or name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    settings = {
        "AWS_CONFIG_FILE": str(tmp_path / "missing" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "missing" / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return settings


@pytest.fixture
def make_stack(
    moto: MotoServer, clean_aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[StackFactory]:
    """Build dispenser stacks on the session's moto server (reset first); sets their ``env``."""
    stacks: list[LocalTokenDispenser] = []

    def make(**settings: Any) -> LocalTokenDispenser:
        moto.reset()
        stack = LocalTokenDispenser(moto=moto, region=REGION, **settings).start()
        stacks.append(stack)
        for name, value in stack.env.items():
            monkeypatch.setenv(name, value)
        return stack

    yield make
    for stack in stacks:
        stack.stop()


@pytest.fixture
def tds(make_stack: StackFactory) -> LocalTokenDispenser:
    """A dispenser stack with default settings."""
    return make_stack()


def record_issued(tds: LocalTokenDispenser) -> dict[str, float]:
    """Wrap the stack's handler; returns ``{sm_token: expires_at}`` for every answer."""
    handler = tds.handler
    assert handler is not None
    issued: dict[str, float] = {}

    def recording(event: Any, context: LambdaContext) -> Any:
        document = handler(event, context)
        issued[document["sm_token"]] = document["expires_at"]
        return document

    tds.lambda_server.add_function(tds.function_name, recording)
    return issued


# -- DynamoDB on the session's moto server ----------------------------------------------------

DYNAMODB_TABLE = ddb_workers.TABLE
SALT_KEY = "tokenprovider#salt"
LEASE_FIELDS = ("lease_id", "lease_holder", "lease_seconds", "lease_until")


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """The library's own log records, at DEBUG (botocore's debug output logs response
    bodies, tokens included, so it is left out)."""
    caplog.set_level(logging.DEBUG, logger="tokenprovider")
    return caplog


def ours(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The records of the ``tokenprovider`` loggers."""
    return [r for r in caplog.records if r.name.startswith("tokenprovider")]


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every ``tokenprovider`` record, formatted with arguments and exception text."""
    return all_log_text(caplog, "tokenprovider")


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The messages of the ``tokenprovider`` loggers' WARNING records."""
    return [r.getMessage() for r in ours(caplog) if r.levelno == logging.WARNING]


def make_table(client: Any, name: str = DYNAMODB_TABLE, key_attribute: str = "cache_key") -> None:
    client.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": key_attribute, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": key_attribute, "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.get_waiter("table_exists").wait(TableName=name)


@pytest.fixture
def dynamodb(aws_env: str) -> Any:
    """A plain boto3 DynamoDB client on moto, with the table `DYNAMODB_TABLE` created."""
    import boto3  # noqa: PLC0415 - only the DynamoDB tests load it

    client = boto3.client("dynamodb")
    make_table(client)
    return client


def token_items(client: Any, key_attribute: str = "cache_key") -> list[dict[str, Any]]:
    """The items of `DYNAMODB_TABLE` but the salt item (a consistent scan)."""
    items: list[dict[str, Any]] = client.scan(TableName=DYNAMODB_TABLE, ConsistentRead=True)[
        "Items"
    ]
    return [item for item in items if item[key_attribute]["S"] != SALT_KEY]


def token_item(client: Any, key_attribute: str = "cache_key") -> dict[str, Any]:
    """The one token item of `DYNAMODB_TABLE`."""
    items = token_items(client, key_attribute)
    assert len(items) == 1, items
    return items[0]


#: What a DynamoDB reply is: status, headers, body.
Reply = tuple[int, dict[str, str], bytes]
_HOP_HEADERS = {"host", "connection", "content-length", "transfer-encoding", "keep-alive"}


class MotoForwarder:
    """An HTTP server on 127.0.0.1 (HTTP/1.0: one connection per request) in front of
    moto at ``upstream``. Every POST goes to `reply`, which forwards it (`forward`);
    subclasses answer some themselves, or (returning None) close without an answer."""

    def __init__(self, upstream: str) -> None:
        parts = urllib.parse.urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.lock = threading.Lock()
        forwarder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                operation = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
                answer = forwarder.reply(operation, self.path, dict(self.headers), body)
                if answer is not None:
                    self.answer(*answer)

            def answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # how long stop() waits for the loop (0.5 s by default)
            daemon=True,
        )
        self.thread.start()

    def reply(
        self, operation: str, path: str, headers: dict[str, str], body: bytes
    ) -> Reply | None:
        """The answer to one DynamoDB ``operation``: here, moto's."""
        return self.forward(path, headers, body)

    def forward(self, path: str, headers: dict[str, str], body: bytes) -> Reply:
        connection = http.client.HTTPConnection(*self.upstream, timeout=10)
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in _HOP_HEADERS}
            connection.request("POST", path, body=body, headers=sent)
            response = connection.getresponse()
            data = response.read()
            kept = {
                k: v
                for k, v in response.getheaders()
                if k.lower() not in _HOP_HEADERS and k.lower() not in ("server", "date")
            }
            return response.status, kept, data
        finally:
            connection.close()

    def stop(self) -> None:
        """Close the server: connections to its port are refused from now on."""
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(10)
