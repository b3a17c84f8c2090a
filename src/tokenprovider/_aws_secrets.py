"""Reading secrets from AWS Secrets Manager and SSM Parameter Store (boto3, lazily).

The region is `tokenprovider._aws.resolve_region`'s (these references have no region
setting of their own); no region, no boto3 or an endpoint holding a password is an
`AWSReadError` that says so.
"""

from __future__ import annotations

import json
from typing import Any

from tokenprovider import _aws as aws
from tokenprovider.errors import ConfigurationError


class AWSReadError(Exception):
    """Reading a secret from AWS failed; the message never holds a secret value."""


def read_ssm_parameter(name: str) -> str:
    """The value of SSM parameter ``name``, decrypted if it is a SecureString."""
    client = _client("ssm", "SSM Parameter Store")
    try:
        response = client.get_parameter(Name=name, WithDecryption=True)
    except Exception as exc:
        raise _read_error("SSM Parameter Store", exc) from None
    value = response.get("Parameter", {}).get("Value")
    if not isinstance(value, str):
        raise AWSReadError("SSM Parameter Store returned no value")
    return value


def read_secretsmanager(
    name: str,
    field: str | None,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
) -> str:
    """Secret ``name``'s string, or its JSON object's ``field``; ``region`` (if given)
    comes before `tokenprovider._aws.REGION_ORDER`."""
    client = _client("secretsmanager", "AWS Secrets Manager", endpoint_url, region)
    try:
        response = client.get_secret_value(SecretId=name)
    except Exception as exc:
        raise _read_error("AWS Secrets Manager", exc) from None
    text = response.get("SecretString")
    if text is None and isinstance(response.get("SecretBinary"), bytes):
        try:
            text = response["SecretBinary"].decode("utf-8")
        except UnicodeDecodeError:
            raise AWSReadError("the secret is binary and not UTF-8 text") from None
    if not isinstance(text, str):
        raise AWSReadError("the secret has no string value")
    if field is None:
        return text
    try:
        document = json.loads(text)
    except ValueError:
        raise AWSReadError(f"the secret is not JSON, so it has no field {field!r}") from None
    if not isinstance(document, dict):
        raise AWSReadError(f"the secret is not a JSON object, so it has no field {field!r}")
    if field not in document:
        known = ", ".join(sorted(map(str, document))) or "none"
        raise AWSReadError(f"the secret has no field {field!r} (fields: {known})")
    value = document[field]
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise AWSReadError(f"field {field!r} of the secret is not a string")
    return str(value)


def _client(
    service: str, name: str, endpoint_url: str | None = None, region: str | None = None
) -> Any:
    """A client for ``service`` (``name`` in messages); what keeps one from being made
    (no boto3, no region, a password in the endpoint, a missing profile) is an
    `AWSReadError`."""
    try:
        return aws.client(
            service, region=region, endpoint_url=endpoint_url, needed_by=f"reading {name}"
        )
    except ConfigurationError as exc:
        raise AWSReadError(str(exc)) from None
    except Exception as exc:
        raise _read_error(name, exc) from None


def _read_error(service: str, exc: Exception) -> AWSReadError:
    detail = aws.describe_error(exc)
    if detail is None:
        raise exc
    return AWSReadError(f"{service}: {detail}")
