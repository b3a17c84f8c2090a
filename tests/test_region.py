"""The AWS region rule: ``region=`` / ``--region``, then ``AWS_REGION``, then
``AWS_DEFAULT_REGION``, then the AWS profile's region, for every part that calls AWS.

boto3 alone reads only ``AWS_DEFAULT_REGION``. Each test leaves the region in exactly one
place (`only`) and proves it reached the boto3 clients by calling moto's server on
127.0.0.1, whose resources live in one region: an SSM parameter, a secret or a table made
in `REGION` is found only by a client in `REGION`. Where two places are set, the one that
must lose names another region, so a wrong choice fails the call.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from conftest import CANARY_SECRET, REGION, StackFactory, assert_no_leak, make_table, run_cli
from tokenprovider import _aws as aws
from tokenprovider.caches.dynamodb import DynamoDBTokenCache, create_table
from tokenprovider.compat import metadata_bank
from tokenprovider.compat import tds as compat_tds
from tokenprovider.errors import ConfigurationError, SecretReferenceError
from tokenprovider.providers.tds import TDSTokenProvider
from tokenprovider.secret_refs import SecretReference, clear_secret_cache
from tokenprovider.testing.oauth_server import LocalOAuthServer

#: Where nothing was created: a client sent there finds nothing.
ELSEWHERE = "eu-north-1"
SOURCES = ["AWS_REGION", "AWS_DEFAULT_REGION", "profile"]
#: The order every "no region" message states.
ORDER = "AWS_REGION, then AWS_DEFAULT_REGION, then the region of the AWS profile"
HOST = "api.example.com"
CLIENT = "regionclient"


class _NoDefaultSession:
    """Stands in for boto3's default session: the library must never use it (the tests'
    own ``boto3.client`` calls do, and it has a region that would hide a bug)."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the library used boto3's default session ({name})")


@pytest.fixture
def only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """``only(source, region=REGION)`` leaves the region in that one place: ``AWS_REGION``,
    ``AWS_DEFAULT_REGION``, ``profile`` (the default profile of an AWS config file in
    ``tmp_path``, via AWS_CONFIG_FILE), or ``none``. Credentials stay in the environment."""

    def leave(source: str, region: str = REGION) -> None:
        for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            monkeypatch.delenv(name, raising=False)
        config = tmp_path / "aws-config"
        config.write_text(f"[default]\nregion = {region}\n" if source == "profile" else "")
        monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
        if source in ("AWS_REGION", "AWS_DEFAULT_REGION"):
            monkeypatch.setenv(source, region)
        clear_secret_cache()

    yield leave
    clear_secret_cache()


def _forbid_default_session(monkeypatch: pytest.MonkeyPatch) -> None:
    """After the test's own clients are made, the library may not use boto3's default."""
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", _NoDefaultSession())


def _states_the_order(message: str, setting: str | None) -> None:
    assert ORDER in message, message
    if setting is not None:
        assert setting in message, message
        assert message.index(setting) < message.index("AWS_REGION"), message


# -- the rule itself ---------------------------------------------------------------------------


@pytest.mark.usefixtures("clean_aws")
@pytest.mark.parametrize("source", SOURCES)
def test_each_source_alone_gives_the_region(only: Any, source: str) -> None:
    only(source)
    assert aws.resolve_region(None) == REGION


@pytest.mark.usefixtures("clean_aws")
@pytest.mark.parametrize("source", ["explicit", "AWS_REGION", "AWS_DEFAULT_REGION"])
@pytest.mark.parametrize("bad", [" ", "us-west-2 ", "us west 2", "üs-west-2", "US-WEST-2"])
def test_a_region_that_is_not_one_is_a_configuration_error_naming_its_source(
    only: Any, source: str, bad: str
) -> None:
    """Not an error that looks like the service's later (botocore's InvalidRegionError,
    exit 1 in the CLI), nor a blank AWS_REGION taken as set."""
    explicit = None
    if source == "explicit":
        only("none")
        explicit = bad
    else:
        only(source, region=bad)
    with pytest.raises(ConfigurationError, match="is not an AWS region") as info:
        aws.resolve_region(explicit)
    assert ("region setting" if source == "explicit" else source) in str(info.value)


@pytest.mark.usefixtures("clean_aws")
def test_an_empty_region_setting_is_an_error_but_an_empty_variable_is_unset(
    only: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    only("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_REGION", "")  # as a shell's AWS_REGION= leaves it
    assert aws.resolve_region(None) == REGION
    with pytest.raises(ConfigurationError, match="the region setting '' is not an AWS region"):
        aws.resolve_region("")


@pytest.mark.usefixtures("clean_aws")
@pytest.mark.parametrize(
    ("winner", "loser"),
    [
        ("explicit", "AWS_REGION"),
        ("AWS_REGION", "AWS_DEFAULT_REGION"),
        ("AWS_DEFAULT_REGION", "profile"),
    ],
)
def test_the_earlier_source_wins(
    only: Any, monkeypatch: pytest.MonkeyPatch, winner: str, loser: str
) -> None:
    only(loser, ELSEWHERE)
    if winner == "explicit":
        assert aws.resolve_region(REGION) == REGION
    else:
        monkeypatch.setenv(winner, REGION)
        assert aws.resolve_region(None) == REGION


def _session_with_region(only: Any, built_with: str) -> Any:
    """A boto3 session whose region is `REGION`, from ``region_name=`` or (built without
    one) from where `only` leaves it, boto3's own sources: AWS_DEFAULT_REGION, profile."""
    if built_with == "region_name":
        only("none")
        return boto3.session.Session(region_name=REGION)
    only(built_with)
    return boto3.session.Session()


@pytest.mark.usefixtures("clean_aws")
@pytest.mark.parametrize("built_with", ["region_name", "AWS_DEFAULT_REGION", "profile"])
def test_a_boto3_session_passed_in_gives_its_region_as_it_is(
    only: Any, monkeypatch: pytest.MonkeyPatch, built_with: str
) -> None:
    """A session passed in is explicit configuration: its ``region_name``, whether given
    in code or filled by boto3 from AWS_DEFAULT_REGION or its profile, beats AWS_REGION."""
    passed = _session_with_region(only, built_with)
    monkeypatch.setenv("AWS_REGION", ELSEWHERE)
    assert aws.resolve_region(None, passed) == REGION


@pytest.mark.usefixtures("clean_aws")
def test_region_beats_the_region_of_a_boto3_session_passed_in(only: Any) -> None:
    only("AWS_DEFAULT_REGION", ELSEWHERE)
    assert aws.resolve_region(REGION, boto3.session.Session(region_name=ELSEWHERE)) == REGION
    assert aws.resolve_region(REGION, boto3.session.Session()) == REGION


@pytest.mark.usefixtures("clean_aws")
def test_a_boto3_session_without_any_region_leaves_aws_region(
    only: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    only("none")
    passed = boto3.session.Session()
    assert aws.resolve_region(None, passed) is None
    monkeypatch.setenv("AWS_REGION", REGION)
    assert aws.resolve_region(None, passed) == REGION


@pytest.mark.parametrize("built_with", ["region_name", "AWS_DEFAULT_REGION"])
def test_the_parts_use_the_region_of_a_boto3_session_passed_in(
    make_stack: StackFactory, only: Any, monkeypatch: pytest.MonkeyPatch, built_with: str
) -> None:
    make_stack()
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    make_table(dynamodb, "SessionTokens")
    passed = _session_with_region(only, built_with)
    monkeypatch.setenv("AWS_REGION", ELSEWHERE)
    _forbid_default_session(monkeypatch)
    provider = TDSTokenProvider(HOST, CLIENT, boto3_session=passed)
    assert provider.region == REGION
    assert provider.token  # SSM and Lambda in REGION, where the dispenser is
    cache = DynamoDBTokenCache("SessionTokens", boto3_session=passed)
    assert cache.region == REGION
    assert cache.load(cache.key_for({"client_id": CLIENT}, None)) is None
    assert create_table("SessionCreated", boto3_session=passed) is True
    dynamodb.describe_table(TableName="SessionCreated")


@pytest.mark.usefixtures("clean_aws")
def test_a_profile_named_in_code_comes_after_aws_region(
    only: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The session a part builds for ``profile_name=`` is not one passed in: the profile's
    region comes after AWS_REGION and AWS_DEFAULT_REGION."""
    only("none")
    (tmp_path / "aws-config").write_text(f"[profile work]\nregion = {ELSEWHERE}\n")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    assert aws.resolve_region(None, profile_name="work") == REGION
    assert TDSTokenProvider(HOST, CLIENT, profile_name="work").region == REGION
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert aws.resolve_region(None, profile_name="work") == ELSEWHERE


PARTS = {
    "TDSTokenProvider": lambda: TDSTokenProvider(HOST, CLIENT),
    "DynamoDBTokenCache": lambda: DynamoDBTokenCache("Tokens"),
    "create_table()": lambda: create_table("Tokens"),
    "the AWS ssm client": lambda: aws.client("ssm"),
}


@pytest.mark.usefixtures("clean_aws")
@pytest.mark.parametrize("region_from", ["AWS_REGION", "profile"])
@pytest.mark.parametrize("part", sorted(PARTS))
def test_a_profile_that_does_not_exist_is_a_configuration_error_naming_the_part(
    only: Any, monkeypatch: pytest.MonkeyPatch, part: str, region_from: str
) -> None:
    """When built, whether or not the region needed the profile (the DynamoDB cache used
    to find out only at its first fetch, and warn there)."""
    only(region_from)
    monkeypatch.setenv("AWS_PROFILE", "nosuchprofile")
    with pytest.raises(ConfigurationError) as info:
        PARTS[part]()
    message = str(info.value)
    assert message.startswith(f"{part}: ProfileNotFound: "), message
    assert "nosuchprofile" in message


def test_the_cli_names_a_profile_that_does_not_exist(aws_env: str, tmp_path: Path) -> None:
    config = tmp_path / "none.toml"
    config.write_text("")
    args = ("cache", "create-table", "Tokens", "--aws-profile", "nosuchprofile")
    result = run_cli(config, *args, cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    assert result.stderr.strip() == (
        "tokenprovider: error: tokenprovider cache create-table: ProfileNotFound: "
        "The config profile (nosuchprofile) could not be found"
    )


@pytest.mark.usefixtures("clean_aws")
def test_a_named_profile_gives_the_region(
    only: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    only("none")
    (tmp_path / "aws-config").write_text(f"[profile work]\nregion = {REGION}\n")
    monkeypatch.setenv("AWS_PROFILE", "work")
    assert aws.resolve_region(None) == REGION


# -- aws-ssm: and aws-secretsmanager: references -----------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("kind", ["aws-ssm", "aws-secretsmanager"])
def test_a_reference_reads_from_the_region_of_each_source(
    aws_env: str, only: Any, monkeypatch: pytest.MonkeyPatch, source: str, kind: str
) -> None:
    if kind == "aws-ssm":
        boto3.client("ssm").put_parameter(
            Name="/tp/region", Value=CANARY_SECRET, Type="SecureString"
        )
        reference = SecretReference("aws-ssm:/tp/region")
    else:
        boto3.client("secretsmanager").create_secret(
            Name="tp-region", SecretString=json.dumps({"secret": CANARY_SECRET})
        )
        reference = SecretReference("aws-secretsmanager:tp-region#secret")
    _forbid_default_session(monkeypatch)
    only(source)
    assert reference.reveal() == CANARY_SECRET


def test_a_reference_prefers_aws_region_to_aws_default_region(
    aws_env: str, only: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    boto3.client("ssm").put_parameter(Name="/tp/region", Value=CANARY_SECRET, Type="String")
    _forbid_default_session(monkeypatch)
    only("AWS_DEFAULT_REGION", ELSEWHERE)
    monkeypatch.setenv("AWS_REGION", REGION)
    assert SecretReference("aws-ssm:/tp/region").reveal() == CANARY_SECRET


@pytest.mark.parametrize("kind", ["aws-ssm:/tp/region", "aws-secretsmanager:tp-region"])
def test_a_reference_without_a_region_says_where_one_is_looked_for(
    aws_env: str, only: Any, kind: str
) -> None:
    only("none")
    reference = SecretReference(kind, setting="credentials.oauth.client_secret")
    with pytest.raises(SecretReferenceError) as info:
        reference.reveal()
    message = str(info.value)
    assert kind in message
    assert "credentials.oauth.client_secret" in message
    _states_the_order(message, None)


# -- the DynamoDB cache and create_table() -----------------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
def test_the_dynamodb_cache_uses_the_region_of_each_source(
    aws_env: str, only: Any, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    make_table(boto3.client("dynamodb"), "RegionTokens")
    _forbid_default_session(monkeypatch)
    only(source)
    cache = DynamoDBTokenCache("RegionTokens")
    assert cache.region == REGION
    key = cache.key_for({"client_id": CLIENT}, None)  # writes the salt item: a real call
    assert cache.load(key) is None


def test_the_dynamodb_cache_prefers_region_to_the_environment(
    aws_env: str, only: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_table(boto3.client("dynamodb"), "RegionTokens")
    _forbid_default_session(monkeypatch)
    only("AWS_REGION", ELSEWHERE)
    cache = DynamoDBTokenCache("RegionTokens", region=REGION)
    assert cache.load(cache.key_for({"client_id": CLIENT}, None)) is None


def test_the_dynamodb_cache_without_a_region_is_refused_when_built(aws_env: str, only: Any) -> None:
    only("none")
    with pytest.raises(ConfigurationError) as info:
        DynamoDBTokenCache("RegionTokens")
    assert "DynamoDBTokenCache" in str(info.value)
    _states_the_order(str(info.value), "region=")


@pytest.mark.parametrize("source", SOURCES)
def test_create_table_uses_the_region_of_each_source(
    aws_env: str, only: Any, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    client = boto3.client("dynamodb")
    _forbid_default_session(monkeypatch)
    only(source)
    assert create_table("Created") is True
    assert client.describe_table(TableName="Created")["Table"]["TableStatus"] == "ACTIVE"


def test_create_table_without_a_region_names_the_parameter(aws_env: str, only: Any) -> None:
    only("none")
    with pytest.raises(ConfigurationError) as info:
        create_table("Created")
    assert "create_table()" in str(info.value)
    _states_the_order(str(info.value), "region=")


def test_create_table_takes_an_endpoint(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import closed_port  # noqa: PLC0415

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port()}")
    assert create_table("AtEndpoint", endpoint_url=aws_env) is True
    listed = boto3.client("dynamodb", endpoint_url=aws_env).list_tables()["TableNames"]
    assert "AtEndpoint" in listed


def test_create_table_refuses_a_password_in_the_endpoint(aws_env: str) -> None:
    endpoint = f"http://user:{CANARY_SECRET}@127.0.0.1:9"
    with pytest.raises(ConfigurationError, match="user name or password") as info:
        create_table("AtEndpoint", endpoint_url=endpoint)
    assert_no_leak(str(info.value), CANARY_SECRET)


# -- tokenprovider cache create-table ----------------------------------------------------------


@pytest.mark.parametrize("source", ["AWS_REGION", "AWS_DEFAULT_REGION", "profile"])
def test_the_cli_creates_the_table_in_the_region_of_each_source(
    aws_env: str, only: Any, tmp_path: Path, source: str
) -> None:
    only(source)
    config = tmp_path / "none.toml"
    config.write_text("")
    result = run_cli(config, "cache", "create-table", "CliRegion", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"in {REGION}" in result.stdout
    table = boto3.client("dynamodb", region_name=REGION).describe_table(TableName="CliRegion")
    assert table["Table"]["TableStatus"] == "ACTIVE"


def test_the_cli_without_a_region_names_the_option_and_the_order(
    aws_env: str, only: Any, tmp_path: Path
) -> None:
    only("none")
    config = tmp_path / "none.toml"
    config.write_text("")
    result = run_cli(config, "cache", "create-table", "CliRegion", cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tokenprovider: error: tokenprovider cache create-table needs")
    _states_the_order(lines[0], "--region")
    assert "region=" not in lines[0]


def test_the_cli_takes_an_endpoint(aws_env: str, tmp_path: Path) -> None:
    from conftest import closed_port  # noqa: PLC0415

    config = tmp_path / "none.toml"
    config.write_text("")
    dead = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed_port()}"}
    args = ("cache", "create-table", "CliEndpoint", "--endpoint-url", aws_env)
    result = run_cli(config, *args, cwd=tmp_path, env=dead)
    assert result.returncode == 0, result.stderr
    assert "CliEndpoint" in boto3.client("dynamodb").list_tables()["TableNames"]

    secret = f"http://user:{CANARY_SECRET}@127.0.0.1:9"
    refused = run_cli(config, *args[:3], "--endpoint-url", secret, cwd=tmp_path)
    assert refused.returncode == 3
    assert "user name or password" in refused.stderr
    assert_no_leak(refused.stdout + refused.stderr, CANARY_SECRET)


# -- the Token Dispenser provider and get_token ------------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
def test_the_tds_provider_finds_the_dispenser_in_the_region_of_each_source(
    make_stack: StackFactory, only: Any, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    stack = make_stack()
    _forbid_default_session(monkeypatch)
    only(source)
    provider = TDSTokenProvider(HOST, CLIENT)
    assert provider.region == REGION
    assert provider.token  # SSM (the parameter is in REGION only), then Lambda
    assert stack.lambda_server.invocation_count() == 1


def test_the_tds_provider_prefers_region_to_the_environment(
    make_stack: StackFactory, only: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_stack()
    _forbid_default_session(monkeypatch)
    only("AWS_REGION", ELSEWHERE)
    monkeypatch.setenv("AWS_DEFAULT_REGION", ELSEWHERE)
    assert TDSTokenProvider(HOST, CLIENT, region=REGION).token


@pytest.mark.usefixtures("clean_aws")
def test_the_tds_provider_without_a_region_names_the_parameter(only: Any) -> None:
    only("none")
    with pytest.raises(ConfigurationError) as info:
        TDSTokenProvider(HOST, CLIENT)
    assert "TDSTokenProvider" in str(info.value)
    _states_the_order(str(info.value), "region=")


@pytest.mark.parametrize("source", ["AWS_DEFAULT_REGION", "profile"])
def test_get_token_uses_the_region_of_each_source(
    make_stack: StackFactory, only: Any, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    make_stack()
    _forbid_default_session(monkeypatch)
    only(source)
    compat_tds.clear_cache()
    try:
        assert json.loads(compat_tds.get_token(CLIENT))["sm_token"]
    finally:
        compat_tds.clear_cache()


@pytest.mark.usefixtures("clean_aws")
def test_get_token_without_a_region_states_the_order(only: Any) -> None:
    only("none")
    with pytest.raises(ConfigurationError) as info:
        compat_tds.get_token(CLIENT)
    assert "get_token()" in str(info.value)
    _states_the_order(str(info.value), None)
    assert "region=" not in str(info.value)  # get_token has no such parameter


# -- the Metadata Bank drop-in -----------------------------------------------------------------


@pytest.fixture
def metadata_bank_env(
    aws_env: str, oauth_server: LocalOAuthServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LocalOAuthServer]:
    """The drop-in's secret and table in `REGION`, its variables set."""
    oauth_server.clients = {"mbregion": CANARY_SECRET}
    boto3.client("secretsmanager").create_secret(
        Name="mb-region",
        SecretString=json.dumps({"consumerKey": "mbregion", "consumerSecret": CANARY_SECRET}),
    )
    boto3.client("dynamodb").create_table(
        TableName="Tokens",
        AttributeDefinitions=[{"AttributeName": "Id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "Id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for name in ("SCOPE", "INTERVAL", "RETRIES", "IS_LOCAL", "TOKEN_TABLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SECRET_NAME", "mb-region")
    monkeypatch.setenv("URL", oauth_server.token_url)
    metadata_bank.clear_cache()
    yield oauth_server
    metadata_bank.clear_cache()


@pytest.mark.parametrize("source", ["AWS_DEFAULT_REGION", "profile"])
def test_the_metadata_bank_drop_in_uses_the_region_of_each_source(
    metadata_bank_env: LocalOAuthServer, only: Any, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    dynamodb = boto3.client("dynamodb")
    _forbid_default_session(monkeypatch)
    only(source)
    assert metadata_bank.refresh_token()["access_token"]
    assert metadata_bank_env.token_requests == 1
    items = dynamodb.scan(TableName="Tokens")["Items"]
    assert len(items) == 2  # the salt and the sealed token, in REGION


def test_the_metadata_bank_drop_in_without_a_region_states_the_order(
    metadata_bank_env: LocalOAuthServer, only: Any
) -> None:
    only("none")
    with pytest.raises(ConfigurationError) as info:
        metadata_bank.refresh_token()
    assert "refresh_token()" in str(info.value)
    _states_the_order(str(info.value), None)
    assert metadata_bank_env.token_requests == 0
