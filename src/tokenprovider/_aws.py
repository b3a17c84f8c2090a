"""boto3 clients with bounded timeouts and standard retries, the AWS region rule, and
plain-words AWS errors.

boto3 and botocore are loaded here, through `tokenprovider._extras.require`, only when
something needs AWS; without them that is a `MissingExtraError` naming the ``aws`` extra.
Endpoints and credentials follow boto3's own settings (``AWS_ENDPOINT_URL``,
``AWS_ENDPOINT_URL_<SERVICE>``, ``AWS_PROFILE``, ...). The region follows one rule,
`resolve_region`, everywhere: boto3 alone reads ``AWS_DEFAULT_REGION`` but not
``AWS_REGION``, which other SDKs and many runtimes set.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

from tokenprovider import _extras as extras
from tokenprovider import _untrusted as untrusted
from tokenprovider.errors import ConfigurationError

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
MAX_ATTEMPTS = 4
#: The environment variables that name the region, in the order they are read.
REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")
#: Where the region comes from after the explicit setting, first found wins; every
#: "no region" message states this order.
REGION_ORDER = (
    "AWS_REGION, then AWS_DEFAULT_REGION, then the region of the AWS profile "
    "(AWS_PROFILE, else the default profile; ~/.aws/config or AWS_CONFIG_FILE)"
)


def check_max_attempts(value: object) -> None:
    """Raise `ConfigurationError` unless ``value`` is a whole number of attempts >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"max_attempts must be a whole number >= 1, got {value!r}")


def require_aws(needed_by: str) -> None:
    """Raise `MissingExtraError` naming the ``aws`` extra unless boto3 and botocore load."""
    extras.require("boto3", needed_by)
    extras.require("botocore", needed_by)


def session(profile_name: str | None = None, region: str | None = None, *, needed_by: str) -> Any:
    """A new boto3 session (boto3's usual credential chain) for ``needed_by``: without
    boto3 a `MissingExtraError`, and a profile that cannot be read (``profile_name`` or
    ``AWS_PROFILE`` naming no profile) a `ConfigurationError`, each naming ``needed_by``."""
    require_aws(needed_by)
    import boto3  # noqa: PLC0415 - loaded (and checked) just above

    try:
        return boto3.session.Session(profile_name=profile_name, region_name=region)
    except Exception as exc:
        described = describe_error(exc)
        if described is None:
            raise
        raise ConfigurationError(f"{needed_by}: {described}") from None


def resolve_region(
    explicit: str | None,
    boto3_session: Any = None,
    *,
    profile_name: str | None = None,
    needed_by: str = "resolve_region()",
) -> str | None:
    """The AWS region to use, or None if none is set anywhere.

    In order: ``explicit`` (``region=``, ``--region``, ``region =`` in TOML); the
    ``region_name`` of a ``boto3_session`` passed in (configuration given in code, used as
    it is: boto3 filled it from ``AWS_DEFAULT_REGION`` or its profile if it was built
    without one); then `REGION_ORDER`: ``AWS_REGION``, ``AWS_DEFAULT_REGION``, the region
    of the profile ``profile_name`` (else the one boto3 picks), looked up in a new session
    for ``needed_by`` only when no session is passed in.
    """
    if explicit is not None:  # "" too: an empty setting is a mistake, not "unset"
        return _checked_region(explicit, "the region setting")
    if boto3_session is not None:
        carried = boto3_session.region_name
        if carried:
            return _checked_region(carried, "the boto3 session's region")
    for name in REGION_VARIABLES:
        value = os.environ.get(name)
        if value:
            return _checked_region(value, name)
    if boto3_session is not None:
        return None  # it would carry AWS_DEFAULT_REGION or its profile's region
    region = session(profile_name, needed_by=needed_by).region_name
    return _checked_region(region, "the AWS profile's region") if region else None


#: An AWS region's form: lower-case letters and digits in words joined by ``-``.
_REGION_FORM = re.compile(r"[a-z0-9]{1,20}(-[a-z0-9]{1,20}){0,5}")


def _checked_region(region: object, source: str) -> str:
    """``region`` if it has a region's form (``us-west-2``), else `ConfigurationError`
    naming where it came from (a space or a capital would fail later, as an error that
    looks like the service's)."""
    if not isinstance(region, str) or not _REGION_FORM.fullmatch(region):
        raise ConfigurationError(
            f"{source} {untrusted.quote(str(region), 40)!r} is not an AWS region "
            "(like us-west-2: lower-case letters and digits joined by -)"
        )
    return region


def require_region(
    explicit: str | None,
    boto3_session: Any = None,
    *,
    profile_name: str | None = None,
    needed_by: str,
    setting: str | None = None,
) -> str:
    """`resolve_region`'s region; none is `no_region`'s error."""
    chosen = resolve_region(explicit, boto3_session, profile_name=profile_name, needed_by=needed_by)
    if chosen is None:
        raise no_region(needed_by, setting)
    return chosen


def no_region(needed_by: str, setting: str | None = None) -> ConfigurationError:
    """The error for no region: what needs one and where it is looked for, in order,
    starting with ``setting`` (``"region="``, ``"--region"``) if there is one."""
    order = f"{setting}, then {REGION_ORDER}" if setting else REGION_ORDER
    return ConfigurationError(
        f"{needed_by} needs an AWS region and none is set; it is taken from the first of: {order}"
    )


def client(
    service: str,
    *,
    boto3_session: Any = None,
    region: str | None = None,
    connect_timeout: float = CONNECT_TIMEOUT,
    read_timeout: float = READ_TIMEOUT,
    max_attempts: int = MAX_ATTEMPTS,
    endpoint_url: str | None = None,
    needed_by: str | None = None,
) -> Any:
    """A boto3 client for ``service`` with timeouts and botocore's ``standard`` retries, in
    the region `resolve_region` finds (no region: `no_region` for ``needed_by``);
    ``endpoint_url`` overrides boto3's endpoint settings."""
    needed_by = needed_by or f"the AWS {service} client"
    chosen_region = resolve_region(region, boto3_session, needed_by=needed_by)
    if chosen_region is None:
        raise no_region(needed_by)
    chosen = boto3_session if boto3_session is not None else session(needed_by=needed_by)
    from botocore.config import Config  # noqa: PLC0415 - boto3 (checked by session) needs it

    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"mode": "standard", "total_max_attempts": max_attempts},
    )
    made = chosen.client(
        service, region_name=chosen_region, config=config, endpoint_url=endpoint_url
    )
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
    exceptions = sys.modules.get("botocore.exceptions")
    if exceptions is None:
        return None  # botocore is not loaded, so exc is not one of its errors
    if isinstance(exc, exceptions.ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "error")
        message = error.get("Message") or ""
        text = f"{code}: {message}".rstrip(": ")
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
