"""TDSTokenProvider end to end: boto3 → moto's server (SSM, DynamoDB) and boto3 → the local
Lambda Invoke endpoint → the TDS handler → moto, all over HTTP on 127.0.0.1.

Discovery and the cached or stale ARN, validation before any AWS call, service errors and
malformed answers, throttling, AWS settings, refreshing without spinning (a fake clock
shared with the handler), attaching the token, EDL, configuration and secret hygiene.
AWS calls are counted with botocore events and the Invoke endpoint's record.
"""

from __future__ import annotations

import json
import math
import os
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from conftest import (
    CANARY_SECRET,
    REGION,
    StackFactory,
    all_log_text,
    assert_no_leak,
    record_issued,
)
from tokenprovider import (
    ConfigurationError,
    DiscoveryError,
    MalformedTokenResponseError,
    SecretReference,
    TDSError,
    TokenProviderError,
    TokenRequestError,
    parse_credentials_config,
)
from tokenprovider.caches import MemoryTokenCache
from tokenprovider.caches.file import FileTokenCache
from tokenprovider.providers.tds import TDSTokenProvider
from tokenprovider.testing.clock import FakeClock
from tokenprovider.testing.http_recorder import RecordingHTTPServer
from tokenprovider.testing.lambda_server import LambdaContext
from tokenprovider.testing.moto import MotoServer
from tokenprovider.testing.refresh import wait_for_refresh
from tokenprovider.testing.tds_dispenser import LocalTokenDispenser, fake_session

HOST = "https://cmr.example.com"
CLIENT = "myclient"
SSM_PATH = "/service/token-dispenser"
#: Placed in malformed answers; no error may repeat it.
MARKER = "TOKEN-VALUE-9b2e"


# -- fixtures ---------------------------------------------------------------------------------


class Calls:
    """A boto3 session (fake keys) that records every API call made through it."""

    def __init__(self, region: str | None = REGION) -> None:
        self.session = fake_session(region)
        self.names: list[str] = []
        self.session.events.register("before-call.*.*", self._record)

    def _record(self, event_name: str, **kwargs: Any) -> None:
        self.names.append(event_name.removeprefix("before-call."))

    def count(self, prefix: str) -> int:
        """Calls whose ``service.Operation`` starts with ``prefix``, like ``"ssm"``."""
        return sum(1 for name in self.names if name.startswith(prefix))


@pytest.fixture
def calls() -> Calls:
    return Calls()


def provider(calls: Calls, client_id: str = CLIENT, **kwargs: Any) -> TDSTokenProvider:
    kwargs.setdefault("host", HOST)
    return TDSTokenProvider(client_id=client_id, boto3_session=calls.session, **kwargs)


def outcomes(stack: LocalTokenDispenser) -> list[tuple[str, str]]:
    return [(i.function_name, i.outcome) for i in stack.lambda_server.invocations]


def constant(answer: Any) -> Callable[[Any, LambdaContext], Any]:
    """A Lambda handler that always answers ``answer``."""
    return lambda event, context: answer


def good_document(**fields: Any) -> dict[str, Any]:
    return {
        "sm_token": "tok-" + MARKER,
        "cookiename": "SMSESSION",
        "expires_at": 4_000_000_000,
        "created_at": 3_999_996_400,
        **fields,
    }


# -- discovery --------------------------------------------------------------------------------


def test_explicit_lambda_arn_makes_no_ssm_call(tds: LocalTokenDispenser, calls: Calls) -> None:
    tds.client("ssm").delete_parameter(Name=tds.ssm_key)  # nothing left to discover

    tdp = provider(calls, lambda_arn=tds.arn)

    assert tdp.token
    assert calls.count("ssm") == 0
    assert calls.names == ["lambda.Invoke"]
    assert tds.lambda_server.invocations == [
        (tds.function_name, {"client_id": CLIENT, "minimum_alive_secs": 300}, "ok")
    ]


def test_ssm_key_is_read_directly_even_when_listing_is_ambiguous(
    tds: LocalTokenDispenser, calls: Calls
) -> None:
    uat_arn = tds.lambda_server.add_function("uat-token-dispenser", constant(good_document()))
    uat_key = tds.publish("uat", uat_arn)
    tds.publish("ops")

    tdp = provider(calls, token_dispenser_arn_ssm_key=uat_key)

    assert tdp.token == "tok-" + MARKER
    assert calls.names == ["ssm.GetParameter", "lambda.Invoke"]
    assert outcomes(tds) == [("uat-token-dispenser", "ok")]


def test_missing_ssm_key_is_a_discovery_error(tds: LocalTokenDispenser, calls: Calls) -> None:
    key = f"{SSM_PATH}/nowhere"
    tdp = provider(calls, token_dispenser_arn_ssm_key=key)

    with pytest.raises(DiscoveryError) as info:
        _ = tdp.token

    assert key in str(info.value)
    assert "token_dispenser_arn_ssm_key" in str(info.value)
    assert tds.lambda_server.invocation_count() == 0


def test_ssm_value_that_is_not_an_arn_is_a_discovery_error(
    tds: LocalTokenDispenser, calls: Calls
) -> None:
    tds.client("ssm").put_parameter(
        Name=tds.ssm_key, Value="sit-token-dispenser", Type="String", Overwrite=True
    )

    with pytest.raises(DiscoveryError, match="does not hold a Lambda ARN") as info:
        _ = provider(calls).token

    assert tds.ssm_key in str(info.value)
    assert tds.lambda_server.invocation_count() == 0


@pytest.mark.parametrize(
    "value",
    [
        "arn:aws:lambda:us-west-2:123456789012:function:tds\r\nCRITICAL forged",
        "arn:aws:lambda:us-west-2:123456789012:function:" + "x" * 5000,
        "arn:aws:s3:::a-bucket",
    ],
    ids=["crlf", "huge", "not-lambda"],
)
def test_an_ssm_value_that_is_more_than_an_arn_is_refused_unquoted(
    tds: LocalTokenDispenser, calls: Calls, value: str
) -> None:
    tds.client("ssm").put_parameter(Name=tds.ssm_key, Value=value, Type="String", Overwrite=True)

    with pytest.raises(DiscoveryError, match="does not hold a Lambda ARN") as info:
        _ = provider(calls).token

    assert value not in str(info.value)
    assert "\r" not in str(info.value)
    assert len(str(info.value)) < 400
    assert tds.lambda_server.invocation_count() == 0


def test_listing_finds_a_single_nested_parameter(tds: LocalTokenDispenser, calls: Calls) -> None:
    ssm = tds.client("ssm")
    ssm.delete_parameter(Name=tds.ssm_key)
    ssm.put_parameter(Name=f"{SSM_PATH}/team/deep/sit", Value=tds.arn, Type="String")

    assert provider(calls).token

    assert calls.count("ssm.GetParametersByPath") == 1
    assert calls.names.count("ssm.GetParameter") == 0
    assert outcomes(tds) == [(tds.function_name, "ok")]


def test_ambiguous_listing_names_every_parameter_across_pages(
    tds: LocalTokenDispenser, calls: Calls
) -> None:
    names = [tds.ssm_key]
    names += [tds.publish(f"dep{n:02d}") for n in range(8)]
    names += [tds.publish(f"nested/level/dep{n}") for n in range(4)]  # 13 in all: two pages

    with pytest.raises(DiscoveryError) as info:
        _ = provider(calls).token

    message = str(info.value)
    for name in names:
        assert name in message
    assert "13" in message
    assert "token_dispenser_arn_ssm_key" in message
    assert calls.count("ssm.GetParametersByPath") == 2  # every page was read
    assert tds.lambda_server.invocation_count() == 0


def test_no_published_dispenser_says_none_was_found(tds: LocalTokenDispenser, calls: Calls) -> None:
    tds.client("ssm").delete_parameter(Name=tds.ssm_key)
    tds.client("ssm").put_parameter(Name="/service/other/sit", Value=tds.arn, Type="String")

    with pytest.raises(DiscoveryError) as info:
        _ = provider(calls).token

    assert "no token dispenser" in str(info.value)
    assert SSM_PATH in str(info.value)
    assert "token_dispenser_arn_ssm_key" in str(info.value)
    assert tds.lambda_server.invocation_count() == 0


@pytest.mark.parametrize("use_key", [False, True], ids=["listing", "ssm_key"])
def test_arn_is_looked_up_once(tds: LocalTokenDispenser, calls: Calls, use_key: bool) -> None:
    tdp = provider(calls, token_dispenser_arn_ssm_key=tds.ssm_key if use_key else None)

    tokens = {tdp.token for _ in range(20)}

    assert len(tokens) == 1
    assert calls.count("ssm") == 1
    assert tds.lambda_server.invocation_count() == 1

    for _ in range(3):  # new tokens, same ARN
        tdp.invalidate_cache()
        assert tdp.token
    assert calls.count("ssm") == 1
    assert tds.lambda_server.invocation_count("ok") == 4


# -- a stale ARN ------------------------------------------------------------------------------


@pytest.mark.parametrize("use_key", [False, True], ids=["listing", "ssm_key"])
def test_stale_arn_is_discovered_again_once(
    tds: LocalTokenDispenser, calls: Calls, use_key: bool
) -> None:
    tdp = provider(calls, token_dispenser_arn_ssm_key=tds.ssm_key if use_key else None)
    first = tdp.token
    assert tds.handler is not None
    tds.lambda_server.remove_function(tds.function_name)
    moved = tds.lambda_server.add_function("sit-token-dispenser-v2", tds.handler)
    tds.client("ssm").put_parameter(Name=tds.ssm_key, Value=moved, Type="String", Overwrite=True)
    tdp.invalidate_cache()

    second = tdp.token

    assert second == first  # the dispenser's DynamoDB cache still holds it
    assert outcomes(tds) == [
        (tds.function_name, "ok"),
        (tds.function_name, "not found"),
        ("sit-token-dispenser-v2", "ok"),
    ]
    assert calls.count("ssm") == 2
    for _ in range(3):  # the new ARN is kept
        tdp.invalidate_cache()
        assert tdp.token
    assert calls.count("ssm") == 2
    assert tds.lambda_server.invocations[-1].function_name == "sit-token-dispenser-v2"


def test_stale_arn_still_missing_after_one_lookup_is_a_tds_error(
    tds: LocalTokenDispenser, calls: Calls
) -> None:
    tdp = provider(calls)
    assert tdp.token
    tds.lambda_server.remove_function(tds.function_name)
    tdp.invalidate_cache()

    with pytest.raises(TDSError) as info:
        _ = tdp.token

    assert info.value.error_type == "ResourceNotFoundException"
    assert tds.arn in str(info.value)
    assert "SSM parameter" in str(info.value)
    assert outcomes(tds) == [(tds.function_name, "ok")] + [(tds.function_name, "not found")] * 2
    assert calls.count("ssm") == 2


def test_missing_explicit_lambda_arn_is_a_tds_error(tds: LocalTokenDispenser, calls: Calls) -> None:
    gone = tds.lambda_server.arn("gone")

    with pytest.raises(TDSError) as info:
        _ = provider(calls, lambda_arn=gone).token

    assert info.value.error_type == "ResourceNotFoundException"
    assert gone in str(info.value)
    assert "lambda_arn" in str(info.value)
    assert outcomes(tds) == [("gone", "not found")]
    assert calls.count("ssm") == 0


# -- validation before any AWS call -----------------------------------------------------------


@pytest.mark.parametrize(
    "client_id", ["ab", "abc-def", "a" * 33, "", "abc def", "ébc", "abc\n", None, 12345]
)
def test_bad_client_id_is_refused_before_any_aws_call(
    tds: LocalTokenDispenser, calls: Calls, client_id: Any
) -> None:
    with pytest.raises(ConfigurationError) as info:
        provider(calls, client_id=client_id)

    assert "client_id" in str(info.value)
    assert "^[a-zA-Z0-9]{3,32}$" in str(info.value)
    assert calls.names == []
    assert tds.lambda_server.invocation_count() == 0


@pytest.mark.parametrize("minimum", [-1, 3301, "300", True, 300.0, None])
def test_bad_minimum_alive_secs_is_refused_before_any_aws_call(
    tds: LocalTokenDispenser, calls: Calls, minimum: Any
) -> None:
    with pytest.raises(ConfigurationError) as info:
        provider(calls, minimum_alive_secs=minimum)

    assert "minimum_alive_secs" in str(info.value)
    assert "3300" in str(info.value)
    assert repr(minimum) in str(info.value)
    assert calls.names == []
    assert tds.lambda_server.invocation_count() == 0


def test_boundary_settings_are_accepted(tds: LocalTokenDispenser, calls: Calls) -> None:
    for client_id, minimum in [("abc", 0), ("a" * 32, 3300), ("ABC123xyz", 300)]:
        assert provider(calls, client_id=client_id, minimum_alive_secs=minimum).token
    sent = [(i.event["client_id"], i.outcome) for i in tds.lambda_server.invocations]
    assert sent == [("abc", "ok"), ("a" * 32, "ok"), ("ABC123xyz", "ok")]


# -- what the service answers -----------------------------------------------------------------


def test_function_error_is_a_tds_error_with_the_service_message(
    tds: LocalTokenDispenser, calls: Calls
) -> None:
    def refusing(event: Any, context: LambdaContext) -> Any:
        raise PermissionError(f"client {event['client_id']} is not allowed here")

    arn = tds.lambda_server.add_function("refuser", refusing)

    with pytest.raises(TDSError) as info:
        _ = provider(calls, lambda_arn=arn).token

    assert info.value.error_type == "PermissionError"
    assert f"client {CLIENT} is not allowed here" in str(info.value)
    assert arn in str(info.value)
    assert isinstance(info.value, TokenRequestError)
    assert outcomes(tds) == [("refuser", "error")]  # not retried


@pytest.mark.parametrize(
    ("status", "body", "shown"),
    [
        (422, "Found more than one tds arn for: /service/token-dispenser", "more than one tds"),
        (400, "Invalid client_id", "Invalid client_id"),
        (500, {"error": "dynamodb unavailable"}, "dynamodb unavailable"),
    ],
)
def test_error_envelope_is_a_tds_error_with_its_status(
    tds: LocalTokenDispenser, calls: Calls, status: int, body: Any, shown: str
) -> None:
    arn = tds.lambda_server.add_function("old", constant({"statusCode": status, "body": body}))

    with pytest.raises(TDSError) as info:
        _ = provider(calls, lambda_arn=arn).token

    assert info.value.status_code == status
    assert str(status) in str(info.value)
    assert shown in str(info.value)


def test_success_envelope_is_unwrapped(tds: LocalTokenDispenser, calls: Calls) -> None:
    envelope = {"statusCode": 200, "body": json.dumps(good_document())}
    arn = tds.lambda_server.add_function("old", constant(envelope))

    assert provider(calls, lambda_arn=arn).token == "tok-" + MARKER


def test_double_encoded_answer_is_decoded_twice(make_stack: StackFactory, calls: Calls) -> None:
    tds = make_stack(double_encoded=True)
    tdp = provider(calls)

    token = tdp.token

    raw = (
        tds.client("lambda")
        .invoke(FunctionName=tds.arn, Payload=json.dumps({"client_id": CLIENT}).encode())["Payload"]
        .read()
    )
    assert isinstance(json.loads(raw), str)  # really the old, double-encoded shape
    assert json.loads(json.loads(raw))["sm_token"] == token  # the dispenser's cached token
    assert tdp.token_document()["cookiename"] == "SMSESSION"


@pytest.mark.parametrize(
    "answer",
    [
        "not JSON at all " + MARKER,
        [MARKER, 1],
        '["' + MARKER + '"]',
        {"sm_tokn": MARKER, "expires_at": 4_000_000_000},
        {"sm_token": MARKER},
        {"sm_token": MARKER, "expires_at": "soon"},
        {"sm_token": MARKER, "expires_at": True},
        {"sm_token": 12345, "expires_at": 4_000_000_000, "note": MARKER},
        {"sm_token": "", "expires_at": 4_000_000_000},
        None,
    ],
    ids=[
        "not-json",
        "list",
        "encoded-list",
        "no-sm_token",
        "no-expires_at",
        "text-expires_at",
        "bool-expires_at",
        "number-token",
        "empty-token",
        "null",
    ],
)
def test_malformed_answer_never_shows_its_values(
    tds: LocalTokenDispenser, calls: Calls, answer: Any
) -> None:
    arn = tds.lambda_server.add_function("odd", constant(answer))

    with pytest.raises(MalformedTokenResponseError) as info:
        _ = provider(calls, lambda_arn=arn).token

    text = "".join(traceback.format_exception(info.value))
    assert_no_leak(text, MARKER)
    assert "token dispenser" in str(info.value)


# -- throttling -------------------------------------------------------------------------------


def test_throttled_invoke_is_retried(tds: LocalTokenDispenser, calls: Calls) -> None:
    tdp = provider(calls, lambda_arn=tds.arn)
    tds.lambda_server.throttle_next(1)

    assert tdp.token

    assert outcomes(tds) == [(tds.function_name, "throttled"), (tds.function_name, "ok")]
    assert calls.count("lambda.Invoke") == 1  # one API call, two HTTP attempts


def test_throttling_past_max_attempts_is_a_token_request_error(
    tds: LocalTokenDispenser, calls: Calls
) -> None:
    tdp = provider(calls, lambda_arn=tds.arn, max_attempts=2)
    tds.lambda_server.throttle_next(5)

    with pytest.raises(TokenRequestError) as info:
        _ = tdp.token

    assert not isinstance(info.value, TDSError)
    assert "TooManyRequestsException" in str(info.value)
    # max_attempts is documented as "attempts per AWS call": two attempts, one retry
    assert tds.lambda_server.invocation_count("throttled") == 2


# -- AWS settings -----------------------------------------------------------------------------


@pytest.mark.usefixtures("clean_aws")
@pytest.mark.parametrize("own_session", [True, False])
def test_missing_region_says_how_to_set_it(own_session: bool) -> None:
    session = Calls(region=None).session if own_session else None

    with pytest.raises(ConfigurationError) as info:
        TDSTokenProvider(HOST, CLIENT, boto3_session=session)

    assert "region" in str(info.value)
    assert "AWS_REGION" in str(info.value)


@pytest.mark.usefixtures("clean_aws")
def test_explicit_region_wins_over_a_region_less_session() -> None:
    tdp = TDSTokenProvider(HOST, CLIENT, boto3_session=Calls(region=None).session, region=REGION)
    assert tdp.region == REGION


@pytest.mark.parametrize("explicit_arn", [False, True], ids=["discovery", "lambda_arn"])
def test_missing_credentials_say_how_to_set_them(
    tds: LocalTokenDispenser, monkeypatch: pytest.MonkeyPatch, explicit_arn: bool
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    tdp = TDSTokenProvider(HOST, CLIENT, lambda_arn=tds.arn if explicit_arn else None)

    with pytest.raises(ConfigurationError) as info:
        _ = tdp.token

    assert "credentials" in str(info.value)
    assert "AWS_ACCESS_KEY_ID" in str(info.value) or "AWS_PROFILE" in str(info.value)
    assert tds.lambda_server.invocation_count() == 0


def test_profile_name_gives_region_and_credentials(
    tds: LocalTokenDispenser, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
        monkeypatch.delenv(name)
    assert "AWS_DEFAULT_REGION" not in os.environ
    config = tmp_path / "aws-config"
    config.write_text(
        "[profile tdsprof]\n"
        f"region = {REGION}\n"
        "aws_access_key_id = testing\n"
        "aws_secret_access_key = testing\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))

    tdp = TDSTokenProvider(HOST, CLIENT, profile_name="tdsprof")

    assert tdp.region == REGION
    assert tdp.token
    assert tds.lambda_server.invocation_count("ok") == 1


@pytest.mark.usefixtures("clean_aws")
def test_unknown_profile_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="nosuchprofile"):
        TDSTokenProvider(HOST, CLIENT, profile_name="nosuchprofile", region=REGION)


# -- refreshing without spinning --------------------------------------------------------------


@pytest.mark.parametrize("minimum", [0, 300, 3300])
def test_every_refresh_gets_a_new_token(
    make_stack: StackFactory, calls: Calls, minimum: int
) -> None:
    lifetime, step, duration = 3600, 7, 3 * 3600
    clock = FakeClock()
    tds = make_stack(clock=clock, lifetime=lifetime)
    issued = record_issued(tds)
    tdp = provider(calls, minimum_alive_secs=minimum, lambda_arn=tds.arn, clock=clock)

    seen: list[str] = []
    for _ in range(duration // step):
        for _ in range(5):
            token = tdp.token
            assert clock.time() < issued[token], "a token was served past its expiry"
            if not seen or seen[-1] != token:
                seen.append(token)
        clock.advance(step)

    invocations = tds.lambda_server.invocation_count()
    assert tds.handler is not None
    # every invocation got a token never seen before: no refresh came back empty-handed
    assert invocations == len(issued) == len(seen) == len(set(seen)) == tds.handler.minted
    # and refreshes are rare: about one per lifetime less the refresh margin (<= 300 s)
    assert duration / lifetime <= invocations <= math.ceil(duration / (lifetime - 300 - step)) + 1


@pytest.mark.parametrize("skew", [-25, 25])
def test_no_spin_when_the_dispenser_clock_differs_a_little(
    make_stack: StackFactory, calls: Calls, skew: int
) -> None:
    ours = FakeClock()
    theirs = FakeClock(wall=ours.time() + skew)
    tds = make_stack(clock=theirs)
    issued = record_issued(tds)
    tdp = provider(calls, lambda_arn=tds.arn, clock=ours)

    for _ in range(2 * 3600 // 7):
        for _ in range(3):
            assert theirs.time() < issued[tdp.token]
        wait_for_refresh(tdp)  # a refresh ahead runs in a worker: let it land first
        ours.advance(7)
        theirs.advance(7)

    assert tds.lambda_server.invocation_count() == len(issued) <= 4


# -- attaching the token ----------------------------------------------------------------------


@pytest.fixture
def site() -> Iterator[RecordingHTTPServer]:
    """The protected resource: the provider's host."""
    with RecordingHTTPServer() as server:
        yield server


def site_provider(calls: Calls, site: RecordingHTTPServer, **kwargs: Any) -> TDSTokenProvider:
    return provider(calls, host=site.url, **kwargs)


@pytest.mark.usefixtures("tds")
def test_raw_token_in_authorization_by_default(calls: Calls, site: RecordingHTTPServer) -> None:
    tdp = site_provider(calls, site)

    requests.get(site.url + "/search/granules", auth=tdp, timeout=5).raise_for_status()

    token = tdp.token
    assert site.requests[0].headers["authorization"] == token
    assert not token.startswith("Bearer")
    assert tdp.token_document()["sm_token"] == token


@pytest.mark.usefixtures("tds")
def test_bearer_style(calls: Calls, site: RecordingHTTPServer) -> None:
    tdp = site_provider(calls, site, auth_style="bearer")

    requests.get(site.url + "/x", auth=tdp, timeout=5)

    assert site.requests[0].headers["authorization"] == "Bearer " + tdp.token


@pytest.mark.usefixtures("tds")
@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ({}, "SMSESSION={token}"),
        ({"headers": {"Cookie": "theme=dark"}}, "theme=dark; SMSESSION={token}"),
        ({"headers": {"Cookie": "SMSESSION=mine; theme=dark"}}, "SMSESSION=mine; theme=dark"),
        ({"headers": {"Cookie": "theme=dark; SMSESSION=mine"}}, "theme=dark; SMSESSION=mine"),
        ({"cookies": {"SMSESSION": "mine"}}, "SMSESSION=mine"),
        ({"cookies": {"theme": "dark"}}, "theme=dark; SMSESSION={token}"),
    ],
)
def test_cookie_style(
    calls: Calls, site: RecordingHTTPServer, sent: dict[str, Any], expected: str
) -> None:
    tdp = site_provider(calls, site, auth_style="cookie")

    requests.get(site.url + "/protected", auth=tdp, timeout=5, **sent)

    headers = site.requests[0].headers
    assert headers["cookie"] == expected.format(token=tdp.token)
    assert "authorization" not in headers


def test_cookie_name_comes_from_the_dispenser(
    tds: LocalTokenDispenser, calls: Calls, site: RecordingHTTPServer
) -> None:
    arn = tds.lambda_server.add_function(
        "custom", constant(good_document(cookiename="OTHERSESSION"))
    )
    tdp = site_provider(calls, site, auth_style="cookie", lambda_arn=arn)

    requests.get(site.url + "/protected", auth=tdp, timeout=5)

    assert site.requests[0].headers["cookie"] == f"OTHERSESSION=tok-{MARKER}"


# -- the cookie's name through a shared cache ---------------------------------------------------


def cookie_sharers(
    tds: LocalTokenDispenser, calls: Calls, site: RecordingHTTPServer, directory: Path
) -> tuple[TDSTokenProvider, Callable[[], TDSTokenProvider]]:
    """A cookie-style provider whose dispenser names the cookie ``MYSESS``, and a maker of
    more such providers, each on its own `FileTokenCache` on ``directory`` (as separate
    processes would have)."""
    arn = tds.lambda_server.add_function("mysess", constant(good_document(cookiename="MYSESS")))

    def another() -> TDSTokenProvider:
        cache = FileTokenCache(directory)
        return site_provider(calls, site, auth_style="cookie", lambda_arn=arn, cache=cache)

    return another(), another


def entry_file(directory: Path) -> Path:
    (path,) = directory.glob("*.json")
    return path


def test_the_cookie_name_reaches_another_process_through_a_file_cache(
    tds: LocalTokenDispenser, calls: Calls, site: RecordingHTTPServer, tmp_path: Path
) -> None:
    first, another = cookie_sharers(tds, calls, site, tmp_path / "tokens")
    token = first.token
    second = another()

    requests.get(site.url + "/protected", auth=second, timeout=5)

    assert site.requests[0].headers["cookie"] == f"MYSESS={token}"
    assert second.auth_header() == ("Cookie", f"MYSESS={token}")
    assert second.token_document()["cookiename"] == "MYSESS"
    assert tds.lambda_server.invocation_count() == 1  # the second read the first's token
    record = json.loads(entry_file(tmp_path / "tokens").read_text())
    assert json.loads(record["attributes"]) == {"cookie_name": "MYSESS"}


@pytest.mark.parametrize(
    "attributes",
    [
        '{"cookie_name":"EVIL; Path=/"}',
        '{"cookie_name":"EVIL\\r\\nX-Injected: 1"}',
        '{"cookie_name":""}',
        '{"cookie_name":"' + "E" * 300 + '"}',
        '{"cookie_name":5}',
        '["cookie_name", "EVIL"]',
        "{not json",
        5,
    ],
    ids=["separator", "crlf", "empty", "too-long", "number", "array", "not-json", "not-text"],
)
def test_a_tampered_cookie_name_in_the_cache_is_a_miss_and_never_sent(
    tds: LocalTokenDispenser,
    calls: Calls,
    site: RecordingHTTPServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    attributes: object,
) -> None:
    directory = tmp_path / "tokens"
    first, another = cookie_sharers(tds, calls, site, directory)
    token = first.token
    path = entry_file(directory)
    record = json.loads(path.read_text())
    record["attributes"] = attributes
    path.write_text(json.dumps(record))
    second = another()

    with caplog.at_level("WARNING", logger="tokenprovider"):
        requests.get(site.url + "/protected", auth=second, timeout=5)

    assert site.requests[0].headers["cookie"] == f"MYSESS={token}"
    assert "EVIL" not in repr(site.requests[0].headers)
    assert tds.lambda_server.invocation_count() == 2  # the entry was a miss: fetched anew
    assert "ignoring" in all_log_text(caplog, "tokenprovider")
    assert "EVIL" not in all_log_text(caplog, "tokenprovider")  # refused, never quoted
    rewritten = json.loads(path.read_text())
    assert json.loads(rewritten["attributes"]) == {"cookie_name": "MYSESS"}


def test_an_entry_written_before_entries_carried_attributes_still_reads(
    tds: LocalTokenDispenser, calls: Calls, site: RecordingHTTPServer, tmp_path: Path
) -> None:
    directory = tmp_path / "tokens"
    first, another = cookie_sharers(tds, calls, site, directory)
    token = first.token
    path = entry_file(directory)
    record = json.loads(path.read_text())
    del record["attributes"]
    path.write_text(json.dumps(record))
    second = another()

    assert second.auth_header() == ("Cookie", f"SMSESSION={token}")  # the default name
    assert tds.lambda_server.invocation_count() == 1


@pytest.mark.usefixtures("tds")
@pytest.mark.parametrize("style", ["raw", "bearer", "cookie"])
def test_token_never_goes_to_another_host(
    calls: Calls, site: RecordingHTTPServer, foreign_server: RecordingHTTPServer, style: str
) -> None:
    tdp = site_provider(calls, site, auth_style=style)
    token = tdp.token

    requests.get(foreign_server.url + "/direct", auth=tdp, timeout=5)
    with RecordingHTTPServer(redirect_to=foreign_server.url) as bouncer:
        bouncing = site_provider(calls, bouncer, auth_style=style)
        requests.get(bouncer.url + "/bounce", auth=bouncing, timeout=5)
        assert bouncer.requests  # the token went to its own host ...
        token_on_bouncer = bouncing.token

    paths = [r.path for r in foreign_server.requests]
    assert paths == ["/direct", "/bounce"]  # ... and the redirect was followed
    for request in foreign_server.requests:
        text = repr(request.headers)
        assert_no_leak(text, token, token_on_bouncer)


# -- EDL --------------------------------------------------------------------------------------


def test_edl_action_returns_the_access_token(
    tds: LocalTokenDispenser, calls: Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TDS_TEST_EDL_PASS_A", CANARY_SECRET)
    tdp = provider(
        calls,
        action="edl",
        edl_user="edluser",
        edl_pass=SecretReference("env:TDS_TEST_EDL_PASS_A"),
        cmr_env="UAT",
    )

    token = tdp.token

    assert token.startswith("edl-")
    assert tds.lambda_server.invocations[-1].event == {
        "client_id": CLIENT,
        "minimum_alive_secs": 300,
        "action": "edl",
        "edl_user": "edluser",
        "edl_pass": CANARY_SECRET,
        "cmr_env": "UAT",
    }
    assert_no_leak(repr(tdp), CANARY_SECRET, token)


@pytest.mark.parametrize("missing", ["edl_user", "edl_pass", "cmr_env"])
def test_edl_action_needs_its_settings(
    tds: LocalTokenDispenser, calls: Calls, missing: str
) -> None:
    settings: dict[str, Any] = {"edl_user": "u", "edl_pass": "p", "cmr_env": "UAT"}
    del settings[missing]

    with pytest.raises(ConfigurationError, match=missing):
        provider(calls, action="edl", **settings)

    assert calls.names == []
    assert tds.lambda_server.invocation_count() == 0


@pytest.mark.parametrize(("name", "value"), [("auth_style", "Bearer"), ("action", "launchpad2")])
def test_bad_choices_are_configuration_errors(calls: Calls, name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        provider(calls, **{name: value})


# -- configuration ----------------------------------------------------------------------------


def test_credentials_tds_table(tds: LocalTokenDispenser) -> None:
    tds.publish("uat")  # listing would be ambiguous: the key must be used
    config = {
        "credentials": {
            "domain": "cmr.example.com",
            "tds": {
                "client_id": "cfgclient",
                "token_dispenser_arn_ssm_key": tds.ssm_key,
                "region": REGION,
                "minimum_alive_secs": "120",
                "auth_style": "cookie",
            },
        }
    }

    tdp = parse_credentials_config(config)

    assert isinstance(tdp, TDSTokenProvider)
    assert tdp.minimum_alive_secs == 120
    assert type(tdp.minimum_alive_secs) is int
    assert (tdp.client_id, tdp.region, tdp.auth_style) == ("cfgclient", REGION, "cookie")
    assert tdp.token
    event = tds.lambda_server.invocations[-1].event
    assert event["client_id"] == "cfgclient"
    assert 120 <= event["minimum_alive_secs"] <= 3300


def test_credentials_tds_edl_pass_reference(
    tds: LocalTokenDispenser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TDS_TEST_EDL_PASS_B", CANARY_SECRET)
    config = {
        "credentials": {
            "domain": "cmr.example.com",
            "tds": {
                "client_id": "cfgclient",
                "action": "edl",
                "edl_user": "edluser",
                "edl_pass": "env:TDS_TEST_EDL_PASS_B",
                "cmr_env": "SIT",
            },
        }
    }

    tdp = parse_credentials_config(config)

    assert tdp.token.startswith("edl-")
    assert tds.lambda_server.invocations[-1].event["edl_pass"] == CANARY_SECRET
    assert_no_leak(repr(tdp), CANARY_SECRET)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"client_id": "x"}, "client_id"),
        ({"client_id": "abc", "minimum_alive_secs": "lots"}, "minimum_alive_secs"),
        ({"client_id": "abc", "minimum_alive_secs": 4000}, "minimum_alive_secs"),
        ({}, "client_id"),
    ],
)
def test_bad_credentials_tds_table(
    tds: LocalTokenDispenser, settings: dict[str, Any], named: str
) -> None:
    config = {"credentials": {"domain": "cmr.example.com", "tds": settings}}

    with pytest.raises(ConfigurationError) as info:
        parse_credentials_config(config)

    assert "credentials.tds" in str(info.value)
    assert named in str(info.value)
    assert tds.lambda_server.invocation_count() == 0


# -- secrets ----------------------------------------------------------------------------------


def test_token_is_in_no_repr_log_or_error(
    tds: LocalTokenDispenser,
    calls: Calls,
    site: RecordingHTTPServer,
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    """Every logger at DEBUG (botocore's too), through fetches, refreshes and failures.

    The dispenser here mints without DynamoDB, so no fake-service record holds a token.
    """
    clock = FakeClock()
    issued: list[str] = []

    def minting(event: Any, context: LambdaContext) -> Any:
        issued.append(f"tok{len(issued)}-{MARKER}")
        return good_document(sm_token=issued[-1], expires_at=int(clock.time()) + 3600)

    arn = tds.lambda_server.add_function("minting", minting)
    tdp = site_provider(calls, site, lambda_arn=arn, clock=clock)
    for _ in range(2):
        requests.get(site.url + "/x", auth=tdp, timeout=5)
        tdp.invalidate_cache()
    clock.advance(3500)
    _ = tdp.token  # a refresh ahead of expiry, in a worker ...
    wait_for_refresh(tdp)
    assert tdp.token == issued[-1]  # ... that succeeded
    tds.lambda_server.add_function("minting", constant([MARKER]))
    clock.advance(3450)  # a refresh ahead of expiry that fails and is logged ...
    assert tdp.token == issued[-1]
    wait_for_refresh(tdp)
    clock.advance(200)  # ... and one that must succeed, and raises
    with pytest.raises(MalformedTokenResponseError) as info:
        _ = tdp.token

    assert len(issued) == 3
    assert any(r.levelname == "WARNING" for r in debug_logs.records)  # the failed refresh
    texts = [
        repr(tdp),
        "".join(traceback.format_exception(info.value)),
        all_log_text(debug_logs),
    ]
    for text in texts:
        assert_no_leak(text, *issued, MARKER)


@pytest.mark.parametrize("as_reference", [False, True], ids=["literal", "reference"])
def test_error_text_never_repeats_the_token_or_edl_pass(
    tds: LocalTokenDispenser,
    calls: Calls,
    monkeypatch: pytest.MonkeyPatch,
    debug_logs: pytest.LogCaptureFixture,
    as_reference: bool,
) -> None:
    variable = "TDS_TEST_EDL_PASS_C"
    monkeypatch.setenv(variable, CANARY_SECRET)
    tdp = provider(
        calls,
        action="edl",
        edl_user="edluser",
        edl_pass=SecretReference(f"env:{variable}") if as_reference else CANARY_SECRET,
        cmr_env="UAT",
        failure_cooldown=0,
    )
    token = tdp.token

    def echoing(event: Any, context: LambdaContext) -> Any:  # a service that says too much
        raise ValueError(f"refused {event} while {token} is still cached")

    tds.lambda_server.add_function(tds.function_name, echoing)
    tdp.invalidate_cache()
    with pytest.raises(TDSError) as info:
        _ = tdp.token
    tds.lambda_server.add_function(
        tds.function_name, constant({"statusCode": 401, "body": f"{token} / {CANARY_SECRET}"})
    )
    tdp.invalidate_cache()
    with pytest.raises(TDSError) as envelope:
        _ = tdp.token

    for error in (info.value, envelope.value):
        assert isinstance(error, TokenProviderError)
        assert_no_leak("".join(traceback.format_exception(error)), token, CANARY_SECRET)
    assert "refused" in str(info.value)
    assert_no_leak(repr(tdp), token, CANARY_SECRET)


# -- the plugin fixture and the stack ------------------------------------------------------


@pytest.fixture
def no_moto_state(moto: MotoServer) -> None:
    """Forget moto's resources (its state is per process, shared by every moto server)."""
    moto.reset()


@pytest.mark.usefixtures("no_moto_state")
def test_tds_dispenser_fixture_runs_the_documented_example(
    tds_dispenser: LocalTokenDispenser,
) -> None:
    tdp = TDSTokenProvider("cmr.example.com", "myclient")

    assert tdp.token
    assert tdp.region == tds_dispenser.region
    assert tds_dispenser.lambda_server.invocation_count() == 1


@pytest.mark.usefixtures("clean_aws", "no_moto_state")
def test_a_second_stack_starts_in_the_same_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each stack starts its own moto server, so ``tds_dispenser`` can serve two tests."""
    for _ in range(2):
        with LocalTokenDispenser() as stack:
            for name, value in stack.env.items():
                monkeypatch.setenv(name, value)
            # Both stacks publish the same ARN (moto's account), so keep tokens apart.
            assert TDSTokenProvider(HOST, CLIENT, cache=MemoryTokenCache()).token
            assert stack.lambda_server.invocation_count("ok") == 1
