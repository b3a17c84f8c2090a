"""Shared fixtures: canary secrets and helpers to prove they never leak."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tokenprovider.caches import default_cache
from tokenprovider.testing.lambda_server import LambdaContext
from tokenprovider.testing.moto import MotoServer
from tokenprovider.testing.tds_dispenser import LocalTokenDispenser


@pytest.fixture(autouse=True)
def _fresh_default_cache() -> Iterator[None]:
    """Each test starts with an empty process-wide token cache."""
    default_cache().clear()
    yield
    default_cache().clear()


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


def all_log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured record, formatted with arguments and exception text."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    parts = []
    for record in caplog.records:
        parts.append(formatter.format(record))
        if record.exc_info:
            parts.append(formatter.formatException(record.exc_info))
    return "\n".join(parts)


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
    moto URL, fake keys ``testing``, region ``us-west-2``, no profile, config and
    credential files that do not exist, and no instance metadata lookups. moto's state is
    reset first, so each test starts with no secrets or parameters. Subprocesses inherit
    this environment through ``os.environ``.
    """
    for name in list(os.environ):
        if name.upper().startswith("AWS_") or name.lower() in _PROXY_VARIABLES:
            monkeypatch.delenv(name)
    missing = tmp_path_factory.mktemp("aws") / "missing"
    settings = {
        "AWS_ENDPOINT_URL": moto.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-west-2",
        "AWS_DEFAULT_REGION": "us-west-2",
        "AWS_CONFIG_FILE": str(missing / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(missing / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
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
