"""boto3 clients with bounded timeouts and standard retries, and plain-words AWS errors.

boto3 is imported here, only when something needs AWS. Endpoints follow boto3's own
settings (``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_<SERVICE>``), as do region and
credentials (``AWS_REGION``, ``AWS_PROFILE``, ...).
"""

from __future__ import annotations

from typing import Any

from tokenprovider import untrusted
from tokenprovider.errors import ConfigurationError

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
MAX_ATTEMPTS = 4


def check_max_attempts(value: object) -> None:
    """Raise `ConfigurationError` unless ``value`` is a whole number of attempts >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"max_attempts must be a whole number >= 1, got {value!r}")


def session(profile_name: str | None = None, region: str | None = None) -> Any:
    """A new boto3 session (boto3's usual region and credential chain)."""
    import boto3  # noqa: PLC0415 - optional dependency, loaded on use

    return boto3.session.Session(profile_name=profile_name, region_name=region)


def client(
    service: str,
    *,
    boto3_session: Any = None,
    region: str | None = None,
    connect_timeout: float = CONNECT_TIMEOUT,
    read_timeout: float = READ_TIMEOUT,
    max_attempts: int = MAX_ATTEMPTS,
    endpoint_url: str | None = None,
) -> Any:
    """A boto3 client for ``service`` with timeouts and botocore's ``standard`` retries;
    ``endpoint_url`` overrides boto3's endpoint settings."""
    from botocore.config import Config  # noqa: PLC0415 - optional dependency, loaded on use

    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"mode": "standard", "total_max_attempts": max_attempts},
    )
    chosen = boto3_session if boto3_session is not None else session()
    made = chosen.client(service, region_name=region, config=config, endpoint_url=endpoint_url)
    # The endpoint may come from AWS_ENDPOINT_URL(_SERVICE) or the AWS config as well, and
    # botocore quotes it in its connection errors: it must hold no password.
    endpoint = made.meta.endpoint_url
    if isinstance(endpoint, str) and "@" in endpoint:
        service_id = str(made.meta.service_model.service_id)  # "Secrets Manager"
        variable = "AWS_ENDPOINT_URL_" + service_id.upper().replace(" ", "_").replace("-", "_")
        raise ConfigurationError(
            f"the {service} endpoint (endpoint_url, {variable}, AWS_ENDPOINT_URL or the AWS "
            "config's endpoint_url) must not hold a user name or password (the part before "
            "'@'); AWS takes credentials from boto3's usual settings"
        )
    return made


def describe_error(exc: BaseException, *, quoted: bool = True) -> str | None:
    """A short description of a botocore failure, or None if ``exc`` is not one.

    What the service said (and botocore's text, which quotes URLs) is server text: it is
    cut short with control characters escaped, unless ``quoted`` is false for a caller
    that redacts secrets from it first and quotes it then.
    """
    from botocore import exceptions  # noqa: PLC0415

    if isinstance(exc, exceptions.ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "error")
        message = error.get("Message") or ""
        text = f"{code}: {message}".rstrip(": ")
    elif isinstance(exc, exceptions.NoRegionError):
        return "no AWS region is configured (set AWS_REGION or a region setting)"
    elif isinstance(exc, exceptions.NoCredentialsError):
        return "no AWS credentials were found (set AWS_PROFILE or AWS_ACCESS_KEY_ID)"
    elif isinstance(exc, exceptions.BotoCoreError):
        text = f"{type(exc).__name__}: {exc}"
    else:
        return None
    return untrusted.quote(text) if quoted else text


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of ``exc`` (botocore's class name if it has none), or None."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return type(exc).__name__ if type(exc).__module__.startswith("botocore") else None
