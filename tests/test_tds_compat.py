"""`tokenprovider.compat.tds.get_token`, the drop-in for the Token Dispenser client, end to end.

boto3 → moto's server (SSM, DynamoDB) and boto3 → the local Invoke endpoint → the TDS
handler. The four promises over the original client: importing needs no AWS settings,
the ARN is looked up once, tokens are cached in the process (each still with more than
``minimum_alive_secs`` left, checked with a fake clock shared with the handler), and
failures raise typed errors.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from conftest import REGION, StackFactory, record_issued
from tokenprovider import (
    ConfigurationError,
    DiscoveryError,
    TDSError,
    TokenProviderError,
    TokenRequestError,
)
from tokenprovider import _aws as aws
from tokenprovider.compat import tds as compat
from tokenprovider.testing.clock import FakeClock
from tokenprovider.testing.lambda_server import LambdaContext
from tokenprovider.testing.tds_dispenser import LocalTokenDispenser, fake_session

CLIENT = "compatclient"
TOKEN_FIELDS = {
    "authlevel",
    "cookiename",
    "created_at",
    "expires_at",
    "session_idletimeout",
    "session_maxtimeout",
    "sm_token",
    "ssozone",
    "status",
    "upn",
    "userdn",
}


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fresh_compat() -> Iterator[None]:
    """Every test starts and ends with no cached provider."""
    compat.clear_cache()
    yield
    compat.clear_cache()


@pytest.fixture
def ssm_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every SSM operation get_token's providers make (their sessions come from aws.session)."""
    names: list[str] = []

    def session(
        profile_name: str | None = None, region: str | None = None, *, needed_by: str
    ) -> Any:
        made = fake_session(REGION)
        made.events.register(
            "before-call.ssm.*", lambda event_name, **_: names.append(event_name.split(".")[-1])
        )
        return made

    monkeypatch.setattr(aws, "session", session)
    return names


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """A fake clock for get_token and the providers it builds (share it with the handler)."""
    fake = FakeClock()
    monkeypatch.setattr("tokenprovider.core.cached.SYSTEM_CLOCK", fake)
    monkeypatch.setattr(compat, "SYSTEM_CLOCK", fake)
    return fake


# -- the result -------------------------------------------------------------------------------


def test_get_token_returns_the_token_json_as_a_string(
    tds: LocalTokenDispenser, ssm_calls: list[str]
) -> None:
    result = compat.get_token(CLIENT)

    assert isinstance(result, str)
    document = json.loads(result)
    assert set(document) >= TOKEN_FIELDS
    assert document["cookiename"] == "SMSESSION"
    assert isinstance(document["sm_token"], str)
    assert document["sm_token"]
    assert document["expires_at"] > document["created_at"]
    item = tds.client("dynamodb").get_item(
        TableName=tds.table_name, Key={"client_id": {"S": CLIENT}}, ConsistentRead=True
    )["Item"]
    assert json.loads(item["token"]["S"]) == document  # exactly what the dispenser cached
    assert tds.lambda_server.invocations[0].event["client_id"] == CLIENT


def test_explicit_ssm_key_and_double_encoded_answers(
    make_stack: StackFactory, ssm_calls: list[str]
) -> None:
    tds = make_stack(double_encoded=True)
    tds.publish("uat")  # listing would be ambiguous

    document = json.loads(compat.get_token(CLIENT, 300, tds.ssm_key))

    assert document["sm_token"]
    assert ssm_calls == ["GetParameter"]


# -- import -----------------------------------------------------------------------------------


def test_import_needs_no_aws_settings(clean_aws: dict[str, str], tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        from tokenprovider.compat import tds
        from tokenprovider.compat.tds import get_token
        print("imported", "boto3" in sys.modules, "botocore" in sys.modules)
        for args in [("ab",), ("abc123",)]:
            try:
                get_token(*args)
            except Exception as exc:
                print(type(exc).__name__, "|", exc)
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("AWS_")}
    env.update(clean_aws)

    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "imported False False"
    assert lines[1].startswith("ConfigurationError | client_id 'ab'")
    assert lines[2].startswith("ConfigurationError |")
    assert "AWS_REGION" in lines[2]


# -- the ARN once, tokens cached --------------------------------------------------------------


def test_repeated_calls_make_one_ssm_call_and_one_invoke(
    tds: LocalTokenDispenser, ssm_calls: list[str]
) -> None:
    results = {compat.get_token(CLIENT) for _ in range(20)}

    assert len(results) == 1
    assert ssm_calls == ["GetParametersByPath"]
    assert tds.lambda_server.invocation_count() == 1


def test_concurrent_calls_share_one_lookup_and_one_invoke(
    tds: LocalTokenDispenser, ssm_calls: list[str]
) -> None:
    with ThreadPoolExecutor(8) as pool:
        results = set(pool.map(lambda _: compat.get_token(CLIENT), range(32)))

    assert len(results) == 1
    assert ssm_calls == ["GetParametersByPath"]
    assert tds.lambda_server.invocation_count() == 1


def test_clear_cache_forgets_the_arn_and_the_token(
    tds: LocalTokenDispenser, ssm_calls: list[str]
) -> None:
    first = compat.get_token(CLIENT)
    compat.clear_cache()

    second = compat.get_token(CLIENT)

    assert len(ssm_calls) == 2
    assert tds.lambda_server.invocation_count() == 2
    assert json.loads(second) == json.loads(first)  # the dispenser's cache still holds it


def test_arn_is_looked_up_once_per_process(tds: LocalTokenDispenser, ssm_calls: list[str]) -> None:
    """docs/tds.md: the dispenser's ARN is "looked up once per process"."""
    compat.get_token(CLIENT, 300)
    compat.get_token(CLIENT, 600)
    compat.get_token("otherclient", 300)

    # One token per client id: the 600 s caller shares the 300 s caller's token, which
    # has far more than 600 s left ...
    assert tds.lambda_server.invocation_count("ok") == 2
    assert len(ssm_calls) == 1  # ... but the dispenser is the same one


@pytest.mark.parametrize(("minimum", "step"), [(0, 7), (300, 7), (1800, 29), (3300, 97)])
def test_token_always_has_more_than_minimum_alive_secs_left(
    make_stack: StackFactory,
    ssm_calls: list[str],
    clock: FakeClock,
    minimum: int,
    step: int,
) -> None:
    lifetime, duration = 3600, 2 * 3600
    tds = make_stack(clock=clock, lifetime=lifetime)
    issued = record_issued(tds)

    for _ in range(duration // step):
        document = json.loads(compat.get_token(CLIENT, minimum))
        left = document["expires_at"] - clock.time()
        assert left > minimum, f"a token with {left}s left, asked for more than {minimum}s"
        assert issued[document["sm_token"]] == document["expires_at"]
        clock.advance(step)

    invocations = tds.lambda_server.invocation_count()
    assert invocations == len(issued)  # every invoke got a new token: no spinning
    assert duration / lifetime <= invocations
    assert invocations <= math.ceil(duration / (lifetime - minimum - 60 - step)) + 1
    assert ssm_calls == ["GetParametersByPath"]


# -- typed failures ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("ab",), "client_id"),
        (("bad-client",), "client_id"),
        (("x" * 33,), "client_id"),
        ((CLIENT, -1), "minimum_alive_secs"),
        ((CLIENT, 3301), "minimum_alive_secs"),
        ((CLIENT, "300"), "minimum_alive_secs"),
    ],
)
def test_bad_arguments_are_configuration_errors_before_any_aws_call(
    tds: LocalTokenDispenser, ssm_calls: list[str], args: tuple[Any, ...], named: str
) -> None:
    with pytest.raises(ConfigurationError, match=named):
        compat.get_token(*args)

    assert ssm_calls == []
    assert tds.lambda_server.invocation_count() == 0


def test_no_published_dispenser_is_a_discovery_error(
    tds: LocalTokenDispenser, ssm_calls: list[str]
) -> None:
    tds.client("ssm").delete_parameter(Name=tds.ssm_key)

    with pytest.raises(DiscoveryError, match="no token dispenser"):
        compat.get_token(CLIENT)

    assert tds.lambda_server.invocation_count() == 0


def test_ambiguous_dispensers_are_a_discovery_error(
    tds: LocalTokenDispenser, ssm_calls: list[str]
) -> None:
    other = tds.publish("uat")

    with pytest.raises(DiscoveryError) as info:
        compat.get_token(CLIENT)

    assert tds.ssm_key in str(info.value)
    assert other in str(info.value)
    assert "token_dispenser_arn_ssm_key" in str(info.value)


def test_missing_ssm_key_is_a_discovery_error(tds: LocalTokenDispenser) -> None:
    with pytest.raises(DiscoveryError, match="/service/token-dispenser/nowhere"):
        compat.get_token(CLIENT, 300, "/service/token-dispenser/nowhere")


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"statusCode": 422, "body": "Found more than one tds arn"}, "more than one tds arn"),
        (RuntimeError("dispenser exploded"), "dispenser exploded"),
    ],
    ids=["envelope", "function-error"],
)
def test_service_errors_are_tds_errors_not_tokens(
    tds: LocalTokenDispenser, answer: Any, expected: str
) -> None:
    def handler(event: Any, context: LambdaContext) -> Any:
        if isinstance(answer, Exception):
            raise answer
        return answer

    tds.lambda_server.add_function(tds.function_name, handler)

    with pytest.raises(TDSError, match=expected) as info:
        compat.get_token(CLIENT)

    assert isinstance(info.value, TokenProviderError)


def test_failure_then_recovery(
    make_stack: StackFactory, ssm_calls: list[str], clock: FakeClock
) -> None:
    tds = make_stack(clock=clock)  # the dispenser's clock is ours: its tokens are not expired
    ssm = tds.client("ssm")
    ssm.delete_parameter(Name=tds.ssm_key)
    with pytest.raises(DiscoveryError):
        compat.get_token(CLIENT)
    ssm.put_parameter(Name=tds.ssm_key, Value=tds.arn, Type="String")

    with pytest.raises(TokenRequestError, match="not retrying"):  # a short cool-down ...
        compat.get_token(CLIENT)
    clock.advance(5)
    document = json.loads(compat.get_token(CLIENT))  # ... then it works

    assert document["sm_token"]
    assert ssm_calls == ["GetParametersByPath", "GetParametersByPath"]


def test_the_region_is_resolved_once_per_environment(
    tds: LocalTokenDispenser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resolving a region from a profile builds a boto3 session: not on every call."""
    resolved: list[str] = []
    real = aws.require_region

    def counting(*args: Any, **kwargs: Any) -> str:
        region: str = real(*args, **kwargs)
        resolved.append(region)
        return region

    monkeypatch.setattr(aws, "require_region", counting)
    for _ in range(5):
        compat.get_token(CLIENT)
    compat_calls = len(resolved)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    with pytest.raises(TokenProviderError):
        compat.get_token(CLIENT)  # no dispenser there: the new region was used
    assert compat_calls == 2  # get_token's own, and the one provider's
    assert resolved[-2:] == ["eu-west-1", "eu-west-1"]
