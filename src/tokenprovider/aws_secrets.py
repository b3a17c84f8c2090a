"""Reading secrets from AWS Secrets Manager and SSM Parameter Store (boto3, lazily)."""

from __future__ import annotations

import json

from tokenprovider import aws


class AWSReadError(Exception):
    """Reading a secret from AWS failed; the message never holds a secret value."""


def read_ssm_parameter(name: str) -> str:
    """The value of SSM parameter ``name``, decrypted if it is a SecureString."""
    try:
        response = aws.client("ssm").get_parameter(Name=name, WithDecryption=True)
    except Exception as exc:
        raise _read_error("SSM Parameter Store", exc) from None
    value = response.get("Parameter", {}).get("Value")
    if not isinstance(value, str):
        raise AWSReadError("SSM Parameter Store returned no value")
    return value


def read_secretsmanager(name: str, field: str | None, *, endpoint_url: str | None = None) -> str:
    """Secret ``name``'s string, or its JSON object's ``field``."""
    try:
        client = aws.client("secretsmanager", endpoint_url=endpoint_url)
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


def _read_error(service: str, exc: Exception) -> AWSReadError:
    detail = aws.describe_error(exc)
    if detail is None:
        raise exc
    return AWSReadError(f"{service}: {detail}")
