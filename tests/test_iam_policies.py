"""The least-privilege IAM policies of docs/aws.md are enough, and every action in them is
needed.

The policies are read from the page itself: each ```json block there, named by the
``<!-- iam: NAME -->`` comment on the line before it (a block without a known name fails).
They run against moto's server on 127.0.0.1 with IAM enforcement, in a child process of
this module's own (tests/iam_moto.py: enforcement holds for a whole moto server, so the
suite's shared one stays without it). For each policy, with its placeholders replaced:

- an IAM user holding exactly that policy runs the feature with its own access keys, and
  it works (the DynamoDB cache: two "hosts" share one token request);
- for each action in the policy, a user holding the policy without that action gets our
  error naming the action (`CacheError`, `TokenRequestError`, `SecretReferenceError`); the
  DynamoDB cache never fails a caller, so there it is our warning naming the action, and
  each host then fetches its own token (`NotSharedError` here);
- for each resource the policy names, a user holding it for another one (another name in
  that ARN) fails in the same way.

What moto cannot enforce, so what this does not prove:

- ``kms:Decrypt``: moto's Secrets Manager and SSM never call KMS, so the page's notes on
  customer managed keys are not tested (there is no JSON block for them).
- the ARNs as AWS builds them: moto evaluates statements against the resource ``*`` for
  these services; iam_moto.py gives each request the ARN of the table, parameter, secret
  or function it names, in AWS's documented ARN formats. That the page's ARNs match what
  our code touches is tested; that AWS forms ARNs so is the AWS documentation's word.
- ``lambda:InvokeFunction``: moto calls the Invoke action ``lambda:Invoke``; iam_moto.py
  uses IAM's name. The Invoke is answered by a local Lambda server once moto allows it.
- the refusal as AWS words it: moto answers 403 with an XML ``AccessDenied`` where AWS
  sends ``AccessDeniedException``; both say "not authorized to perform: ACTION", which is
  what the tests look for in our messages.
- the page's prose variants (``ssm:GetParametersByPath`` for discovery, qualified Lambda
  ARNs): only the ```json blocks run here.
- conditions, permission boundaries, SCPs and resource policies: none is involved.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import select
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import warnings_of
from tokenprovider import (
    CacheError,
    DynamoDBTokenCache,
    MemoryTokenCache,
    OAuthTokenProvider,
    SecretReference,
    SecretReferenceError,
    TDSTokenProvider,
    TokenRequestError,
)
from tokenprovider.caches import create_table
from tokenprovider.secret_refs import clear_secret_cache
from tokenprovider.testing import LambdaContext, LocalLambdaServer, LocalOAuthServer

PAGE = Path(__file__).resolve().parent.parent / "docs" / "aws.md"
CHILD = Path(__file__).resolve().parent / "iam_moto.py"
REGION = "us-west-2"
ACCOUNT = "123456789012"  # moto's account
DISPENSER = "token-dispenser"
SSM_KEY = "/service/token-dispenser/iam"
SECRET_NAME = "tokenprovider/iam-reporting"
PARAMETER = "tokenprovider/iam/reporting-secret"
#: What each placeholder of the page stands for here (``TABLE`` is given per test).
PLACEHOLDERS = {
    "REGION": REGION,
    "ACCOUNT_ID": ACCOUNT,
    "DEPLOYMENT": SSM_KEY.rpartition("/")[2],
    "FUNCTION": DISPENSER,
    "SECRET_NAME": SECRET_NAME,
    "PARAMETER_NAME": PARAMETER,
}
_MARKED = re.compile(r"<!-- iam: ([a-z-]+) -->\n```json\n(.*?)\n```", re.DOTALL)
_WORD = re.compile(r"\b[A-Z][A-Z_]{2,}\b")


def documented() -> dict[str, str]:
    """The page's policies by name, as written (placeholders and all)."""
    text = PAGE.read_text(encoding="utf-8")
    found = dict(_MARKED.findall(text))
    assert text.count("```json") == len(found), "a ```json block without <!-- iam: NAME -->"
    return found


def policy(name: str, **names: str) -> dict[str, Any]:
    """The page's policy ``name`` with its placeholders replaced (``names`` first)."""
    text = documented()[name]
    values = {**PLACEHOLDERS, **names}
    unknown = set(_WORD.findall(text)) - set(values)
    assert not unknown, f"docs/aws.md, policy {name}: unknown placeholders {sorted(unknown)}"
    for word, value in values.items():
        text = re.sub(rf"\b{word}\b", value, text)
    document: dict[str, Any] = json.loads(text)
    return document


def actions(document: dict[str, Any]) -> list[str]:
    return [action for statement in document["Statement"] for action in statement["Action"]]


def without(document: dict[str, Any], action: str) -> dict[str, Any]:
    """``document`` with ``action`` taken out (and a statement left with none dropped)."""
    statements = []
    for statement in document["Statement"]:
        kept = [a for a in statement["Action"] if a != action]
        if kept:
            statements.append({**statement, "Action": kept})
    return {**document, "Statement": statements}


# -- the IAM-enforcing moto, and its users ------------------------------------------------------


@dataclass
class IAMMoto:
    """The enforcing moto, and the keys its clients sign with (the administrator's)."""

    url: str
    keys: tuple[str, str]

    def client(self, service: str) -> Any:
        import boto3  # noqa: PLC0415 - only the AWS tests load it

        key, secret = self.keys
        return boto3.session.Session(
            aws_access_key_id=key, aws_secret_access_key=secret, region_name=REGION
        ).client(service, endpoint_url=self.url)

    def user(self, document: dict[str, Any]) -> tuple[str, str]:
        """A new IAM user holding exactly ``document`` (nothing, if it has no statement
        left); its access key id and secret."""
        iam = self.client("iam")
        name = "u" + secrets.token_hex(3)  # short: moto's denial quotes it, messages cut at 300
        iam.create_user(UserName=name)
        if document["Statement"]:
            policy = json.dumps(document)
            iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]


def _dispense(event: Any, context: LambdaContext) -> dict[str, Any]:
    """A dispenser's answer: a fresh token living an hour."""
    now = int(time.time())
    return {"sm_token": secrets.token_urlsafe(24), "expires_at": now + 3600, "created_at": now}


@pytest.fixture(scope="module")
def dispenser() -> Iterator[LocalLambdaServer]:
    with LocalLambdaServer(region=REGION, account=ACCOUNT) as server:
        server.add_function(DISPENSER, _dispense)
        yield server


@pytest.fixture(scope="module")
def iam_moto(dispenser: LocalLambdaServer) -> Iterator[IAMMoto]:
    """The enforcing moto server (resources made by an administrator), then enforcing."""
    child = subprocess.Popen(
        [sys.executable, str(CHILD), dispenser.url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    try:
        assert child.stdout is not None
        started, _, _ = select.select([child.stdout], [], [], 30)
        assert started, "iam_moto.py did not start within 30 s"
        line = child.stdout.readline()  # the child prints its port, or dies (EOF)
        assert line.startswith("port "), f"iam_moto.py did not start: {line!r}"
        url = f"http://127.0.0.1:{int(line.split()[1])}"
        yield _prepared(url, dispenser)
    finally:
        assert child.stdin is not None
        child.stdin.close()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(10)


def _prepared(url: str, dispenser: LocalLambdaServer) -> IAMMoto:
    """An administrator, the resources the features read, and enforcement switched on."""
    anyone = IAMMoto(url, ("testing", "testing"))
    iam = anyone.client("iam")
    iam.create_user(UserName="admin")
    everything = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    iam.put_user_policy(UserName="admin", PolicyName="all", PolicyDocument=json.dumps(everything))
    key = iam.create_access_key(UserName="admin")["AccessKey"]
    moto = IAMMoto(url, (key["AccessKeyId"], key["SecretAccessKey"]))
    ssm = moto.client("ssm")
    ssm.put_parameter(Name=SSM_KEY, Value=dispenser.arn(DISPENSER), Type="String")
    ssm.put_parameter(Name="/" + PARAMETER, Value="client-secret", Type="SecureString")
    secret = json.dumps({"client_secret": "client-secret"})
    moto.client("secretsmanager").create_secret(Name=SECRET_NAME, SecretString=secret)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
    switch = urllib.request.Request(
        f"{url}/moto-api/reset-auth", data=b"0", headers={"Content-Type": "text/plain"}
    )
    with opener.open(switch, timeout=10) as answer:
        answer.read()
    with pytest.raises(Exception, match="InvalidClientTokenId"):  # enforcing from now on
        anyone.client("ssm").get_parameter(Name=SSM_KEY)
    return moto


@pytest.fixture
def as_user(
    iam_moto: IAMMoto, clean_aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[dict[str, Any]], None]]:
    """Make boto3 (as the library uses it) call the enforcing moto as a new user holding
    a policy."""
    clear_secret_cache()

    def become(document: dict[str, Any]) -> None:
        key, secret = iam_moto.user(document)
        for name, value in {
            "AWS_ENDPOINT_URL": iam_moto.url,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": key,
            "AWS_SECRET_ACCESS_KEY": secret,
        }.items():
            monkeypatch.setenv(name, value)

    yield become
    clear_secret_cache()


# -- each feature: run it, and say whether it worked --------------------------------------------


class NotSharedError(Exception):
    """The DynamoDB cache could not be used (it warned, and each host fetched)."""


@dataclass
class Setting:
    """The world one feature runs in."""

    moto: IAMMoto
    oauth: LocalOAuthServer
    dispenser: LocalLambdaServer
    caplog: pytest.LogCaptureFixture
    table: str


def _shared_cache(setting: Setting) -> None:
    """Two hosts (a cache and a provider each) share one token through the table."""
    hosts = [
        OAuthTokenProvider(
            setting.oauth.url,
            "client",
            "client-secret",
            token_url=setting.oauth.token_url,
            cache=DynamoDBTokenCache(setting.table, region=REGION),
        )
        for _ in range(2)
    ]
    tokens = [host.token for host in hosts]
    denied = [w for w in warnings_of(setting.caplog) if "not authorized to perform" in w]
    if denied:
        assert setting.oauth.token_requests == 2, "a host used the table it may not use"
        raise NotSharedError(denied[0])  # the cache only warns: no caller sees an error
    assert warnings_of(setting.caplog) == []
    assert setting.oauth.token_requests == 1
    assert tokens[0] == tokens[1]


def _table_created(setting: Setting) -> None:
    assert create_table(setting.table, region=REGION) is True
    admin = setting.moto.client("dynamodb")
    assert admin.describe_table(TableName=setting.table)["Table"]["TableStatus"] == "ACTIVE"
    ttl = admin.describe_time_to_live(TableName=setting.table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}


def _dispensed(setting: Setting) -> None:
    before = setting.dispenser.invocation_count("ok")
    provider = TDSTokenProvider(
        "cmr.example.com",
        "iamclient",
        token_dispenser_arn_ssm_key=SSM_KEY,
        region=REGION,
        cache=MemoryTokenCache(),
    )
    assert provider.token
    assert provider.function_arn == setting.dispenser.arn(DISPENSER)
    assert setting.dispenser.invocation_count("ok") == before + 1


def _secret_read(reference: str) -> Callable[[Setting], None]:
    def read(setting: Setting) -> None:
        provider = OAuthTokenProvider(
            setting.oauth.url,
            "client",
            SecretReference(reference),
            token_url=setting.oauth.token_url,
            cache=MemoryTokenCache(),
        )
        assert provider.token  # the server knows client "client" by the secret "client-secret"
        assert setting.oauth.token_requests == 1

    return read


@dataclass(frozen=True)
class Feature:
    run: Callable[[Setting], None]
    error: type[Exception]
    needs_table: bool = False  # made by the administrator before the run


FEATURES = {
    "dynamodb-cache": Feature(_shared_cache, NotSharedError, needs_table=True),
    "dynamodb-create-table": Feature(_table_created, CacheError),
    "tds": Feature(_dispensed, TokenRequestError),
    "secretsmanager-reference": Feature(
        _secret_read(f"aws-secretsmanager:{SECRET_NAME}#client_secret"), SecretReferenceError
    ),
    "ssm-reference": Feature(_secret_read(f"aws-ssm:/{PARAMETER}"), SecretReferenceError),
}


@pytest.fixture
def setting(
    iam_moto: IAMMoto,
    dispenser: LocalLambdaServer,
    oauth_server: LocalOAuthServer,
    caplog: pytest.LogCaptureFixture,
) -> Setting:
    caplog.set_level("WARNING", logger="tokenprovider")
    table = "tokens-" + secrets.token_hex(4)
    return Setting(iam_moto, oauth_server, dispenser, caplog, table)


def _start(name: str, setting: Setting) -> Feature:
    feature = FEATURES[name]
    if feature.needs_table:
        setting.moto.client("dynamodb").create_table(
            TableName=setting.table,
            AttributeDefinitions=[{"AttributeName": "cache_key", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "cache_key", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
    return feature


#: Placeholders that name a resource, and another resource of that kind.
ELSEWHERE = {
    "TABLE": "othertable",
    "DEPLOYMENT": "other",
    "FUNCTION": "other-dispenser",
    "SECRET_NAME": "other/secret",
    "PARAMETER_NAME": "other/parameter",
}


def _action_cases() -> list[tuple[str, str]]:
    return [
        (name, action) for name in documented() for action in actions(policy(name, TABLE="tokens"))
    ]


def _resource_cases() -> list[tuple[str, str]]:
    return [
        (name, word)
        for name, text in documented().items()
        for word in ELSEWHERE
        if re.search(rf"\b{word}\b", text)
    ]


# -- the tests ------------------------------------------------------------------------------


def test_the_page_names_exactly_the_tested_features() -> None:
    assert sorted(documented()) == sorted(FEATURES)


@pytest.mark.parametrize("name", sorted(FEATURES))
def test_every_statement_names_its_resources(name: str) -> None:
    """No ``"Resource": "*"`` or ``table/*``: a wildcard is only the secret's ``-??????``."""
    for statement in policy(name, TABLE="tokens")["Statement"]:
        assert statement["Effect"] == "Allow"
        assert isinstance(statement["Action"], list), statement
        assert "*" not in statement["Resource"], statement


@pytest.mark.parametrize("name", sorted(FEATURES))
def test_the_documented_policy_is_enough(
    name: str, setting: Setting, as_user: Callable[[dict[str, Any]], None]
) -> None:
    feature = _start(name, setting)
    as_user(policy(name, TABLE=setting.table))
    feature.run(setting)


@pytest.mark.parametrize(("name", "action"), _action_cases(), ids=lambda v: v)
def test_every_documented_action_is_needed(
    name: str, action: str, setting: Setting, as_user: Callable[[dict[str, Any]], None]
) -> None:
    feature = _start(name, setting)
    as_user(without(policy(name, TABLE=setting.table), action))
    with pytest.raises(feature.error, match=f"not authorized to perform: {action}"):
        feature.run(setting)


@pytest.mark.parametrize(("name", "word"), _resource_cases(), ids=lambda v: v)
def test_the_policy_holds_only_for_its_resources(
    name: str, word: str, setting: Setting, as_user: Callable[[dict[str, Any]], None]
) -> None:
    """The policy written for another resource in place of ``word``'s lets the feature
    do nothing: each of its ARNs is what the code touches, and no wider."""
    feature = _start(name, setting)
    as_user(policy(name, **{"TABLE": setting.table, word: ELSEWHERE[word]}))
    with pytest.raises(feature.error, match="not authorized to perform"):
        feature.run(setting)
