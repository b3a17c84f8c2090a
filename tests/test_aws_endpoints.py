"""Every AWS client refuses an endpoint that holds a user name or password: botocore
quotes the endpoint in its connection errors, so the password would reach messages."""

from __future__ import annotations

import pytest

from conftest import CANARY_SECRET, assert_no_leak, reachable_text
from tokenprovider import _aws as aws
from tokenprovider.errors import ConfigurationError
from tokenprovider.providers.tds import TDSTokenProvider
from tokenprovider.secret_refs import SecretReference

ENDPOINT = f"http://user:{CANARY_SECRET}@127.0.0.1:9"
ARN = "arn:aws:lambda:us-west-2:123456789012:function:dispenser"
#: botocore's service-specific endpoint variables (named by service id, not client name).
VARIABLES = {
    "lambda": "AWS_ENDPOINT_URL_LAMBDA",
    "ssm": "AWS_ENDPOINT_URL_SSM",
    "secretsmanager": "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "dynamodb": "AWS_ENDPOINT_URL_DYNAMODB",
}


@pytest.mark.parametrize("service", ["lambda", "ssm", "secretsmanager", "dynamodb"])
@pytest.mark.parametrize("setting", ["argument", "AWS_ENDPOINT_URL", "service variable"])
def test_a_password_in_any_endpoint_setting_is_refused_unquoted(
    aws_env: str, monkeypatch: pytest.MonkeyPatch, service: str, setting: str
) -> None:
    endpoint_url = None
    if setting == "argument":
        endpoint_url = ENDPOINT
    elif setting == "AWS_ENDPOINT_URL":
        monkeypatch.setenv("AWS_ENDPOINT_URL", ENDPOINT)
    else:
        monkeypatch.setenv(VARIABLES[service], ENDPOINT)
    with pytest.raises(ConfigurationError, match="must not hold a user name or password") as info:
        aws.client(service, endpoint_url=endpoint_url)
    assert VARIABLES[service] in str(info.value)
    assert_no_leak(reachable_text(info.value), CANARY_SECRET)


def test_the_tds_provider_refuses_a_password_in_the_lambda_endpoint(
    aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", ENDPOINT)
    provider = TDSTokenProvider("api.example.com", "client01", lambda_arn=ARN)
    with pytest.raises(ConfigurationError, match="lambda endpoint") as info:
        _ = provider.token
    assert_no_leak(reachable_text(info.value) + repr(provider), CANARY_SECRET)


def test_an_aws_ssm_reference_refuses_a_password_in_the_ssm_endpoint(
    aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", ENDPOINT)
    reference = SecretReference("aws-ssm:/tp/secret", setting="credentials.oauth.client_secret")
    with pytest.raises(ConfigurationError) as info:
        reference.reveal()
    assert_no_leak(reachable_text(info.value), CANARY_SECRET)
