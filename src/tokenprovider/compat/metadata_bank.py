"""Drop-in for the Metadata Bank token SDK's ``refresh_token``.

Replace ``getApiTokenEncrypted.refresh_token`` with
``tokenprovider.compat.metadata_bank.refresh_token`` (also as a Lambda handler). It reads
the same environment variables and the same Secrets Manager secret, and returns the token
object with its expiry, but:

- tokens are shared through DynamoDB with a lease, so a fleet of Lambdas that miss
  together makes one token request, not one each;
- they are sealed with AES-256-GCM under a key derived (HKDF-SHA256) from the
  credentials and a per-table salt; a tampered item, or one written under rotated
  credentials, is a miss followed by a fresh fetch, never a failure;
- ``RETRIES`` and ``INTERVAL`` are honoured, only transient failures (timeouts,
  408, 429, 5xx) are retried, every HTTP call has a timeout, ``scope`` is sent only when
  ``SCOPE`` is set, a token is refreshed ahead of its expiry, and ``IS_LOCAL`` must be a
  boolean (``0`` and ``false`` mean AWS).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from tokenprovider._extras import require
from tokenprovider.errors import ConfigurationError, SecretReferenceError

if TYPE_CHECKING:
    from tokenprovider.providers.oauth import OAuthTokenProvider

#: Where LocalStack listens when ``IS_LOCAL`` is true and ``AWS_ENDPOINT_URL`` is unset.
LOCALSTACK_URL = "http://localhost:4566"
DEFAULT_TABLE = "Tokens"
#: What messages about boto3, cryptography or the region name as needing them.
NEEDED_BY = "tokenprovider.compat.metadata_bank.refresh_token()"
#: Longest wait for another container's refresh (seconds; a third of the invocation's
#: time left if shorter), and the least.
WAIT = 5.0
MIN_WAIT = 0.2
#: The original's table keys items by ``Id``.
KEY_ATTRIBUTE = "Id"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})

_lock = threading.Lock()
#: The one provider kept (its settings, a hash of its credentials, the provider).
_kept: dict[str, tuple[Settings, str, OAuthTokenProvider]] = {}


class Settings(NamedTuple):
    """What the environment variables say."""

    secret_name: str
    url: str
    scope: str | None
    table: str
    endpoint_url: str | None
    retries: int | None
    interval_ms: float | None
    #: The AWS region, by `tokenprovider._aws.resolve_region` (None until resolved).
    region: str | None = None


def refresh_token(
    retries: int | Mapping[str, Any] | None = None,
    interval: float | object | None = None,
    should_retry: bool = True,
) -> dict[str, Any]:
    """The current token object: ``access_token``, ``token_type``, ``expires_in``
    (seconds left) and ``expiry`` (epoch milliseconds).

    ``retries`` (attempts) and ``interval`` (milliseconds between attempts, the base of
    an exponential backoff) override ``RETRIES`` and ``INTERVAL``; ``should_retry=False``
    makes one attempt. Called as a Lambda handler, ``(event, context)``, both come from
    the environment.
    """
    from tokenprovider import _aws as aws  # noqa: PLC0415

    context = interval if _is_lambda_context(interval) else None
    if context is not None or isinstance(retries, Mapping):  # (event, context) from Lambda
        retries, interval = None, None
    settings = read_settings(os.environ)
    aws.require_aws(NEEDED_BY)
    require("cryptography", NEEDED_BY)  # the tokens it shares are sealed
    settings = settings._replace(region=aws.require_region(None, needed_by=NEEDED_BY))
    attempts = _attempts(retries, settings.retries, should_retry)
    interval_ms = _interval(interval, settings.interval_ms)
    key, secret = _credentials(settings)
    provider = _provider(settings, key, secret, attempts, interval_ms)
    _bound_wait(provider, context)
    token, expires_at = provider._token_and_expiry()
    assert expires_at is not None  # a fetched token always has an expiry
    now = provider._wall_time()
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": max(0, math.floor(expires_at - now)),
        "expiry": math.floor(expires_at * 1000),
    }


def read_settings(env: Mapping[str, str]) -> Settings:
    """The settings in ``env``; a missing or malformed variable is a `ConfigurationError`
    naming it."""
    missing = [name for name in ("SECRET_NAME", "URL") if not env.get(name, "").strip()]
    if missing:
        raise ConfigurationError(
            f"{' and '.join(missing)} must be set (the Secrets Manager secret holding "
            "consumerKey and consumerSecret, and the token endpoint URL)"
        )
    url = env["URL"].strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"URL must be an http(s) URL of the token endpoint, got {url!r}")
    local = env.get("IS_LOCAL", "").strip().lower()
    if local not in _TRUE | _FALSE:
        raise ConfigurationError(
            f"IS_LOCAL must be true or false (1/0, yes/no), got {env['IS_LOCAL']!r}"
        )
    endpoint = None
    if local in _TRUE:
        endpoint = env.get("AWS_ENDPOINT_URL", "").strip() or LOCALSTACK_URL
    return Settings(
        secret_name=env["SECRET_NAME"].strip(),
        url=url,
        scope=env.get("SCOPE", "").strip() or None,
        table=env.get("TOKEN_TABLE", "").strip() or DEFAULT_TABLE,
        endpoint_url=endpoint,
        retries=_whole("RETRIES", env.get("RETRIES")),
        interval_ms=_milliseconds("INTERVAL", env.get("INTERVAL")),
    )


def _credentials(settings: Settings) -> tuple[str, str]:
    """``consumerKey`` and ``consumerSecret``, from one read of the secret (so both come
    from the same version, even while it is being rotated)."""
    from tokenprovider._aws_secrets import AWSReadError, read_secretsmanager  # noqa: PLC0415

    where = f"the secret {settings.secret_name!r} (SECRET_NAME)"
    try:
        text = read_secretsmanager(
            settings.secret_name,
            None,
            endpoint_url=settings.endpoint_url,
            region=settings.region,
        )
    except AWSReadError as exc:
        raise SecretReferenceError(f"cannot read {where}: {exc}") from None
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise SecretReferenceError(
            f"{where} is not a JSON object with consumerKey and consumerSecret"
        )
    values = []
    for field in ("consumerKey", "consumerSecret"):
        value = document.get(field)
        if not isinstance(value, str) or not value:
            state = "missing" if field not in document else "empty or not a string"
            raise SecretReferenceError(f"{field} in {where} is {state}")
        values.append(value)
    return values[0], values[1]


def _is_lambda_context(value: object) -> bool:
    return hasattr(value, "aws_request_id") or hasattr(value, "get_remaining_time_in_millis")


def _bound_wait(provider: OAuthTokenProvider, context: Any) -> None:
    """Wait for another container's refresh at most a third of this invocation's time
    left, then fetch: a container that died holding the lease must not make every
    later one time out."""
    from tokenprovider.caches.dynamodb import DynamoDBTokenCache  # noqa: PLC0415

    cache = provider.cache
    if not isinstance(cache, DynamoDBTokenCache):  # pragma: no cover - always one here
        return
    wait = WAIT
    if callable(getattr(context, "get_remaining_time_in_millis", None)):
        try:
            left = float(context.get_remaining_time_in_millis()) / 1000
        except (TypeError, ValueError):
            left = math.inf
        wait = max(MIN_WAIT, min(wait, left / 3))
    cache.max_wait = wait


def _provider(
    settings: Settings, key: str, secret: str, attempts: int | None, interval_ms: float | None
) -> OAuthTokenProvider:
    """The provider for these settings and credentials, kept while they stay the same."""
    from tokenprovider.caches.dynamodb import DynamoDBTokenCache  # noqa: PLC0415 - boto3
    from tokenprovider.providers.oauth import OAuthTokenProvider  # noqa: PLC0415
    from tokenprovider.retry import RetryPolicy  # noqa: PLC0415

    tuned = settings._replace(retries=attempts, interval_ms=interval_ms)
    # Only a hash of the credentials is kept to notice that they were rotated.
    fingerprint = hashlib.sha256(f"{key}\0{secret}".encode()).hexdigest()
    with _lock:
        current = _kept.get("provider")
        if current is not None and current[:2] == (tuned, fingerprint):
            return current[2]
        policy = RetryPolicy() if attempts is None else RetryPolicy(max_attempts=attempts)
        if interval_ms is not None:
            policy = RetryPolicy(
                max_attempts=policy.max_attempts,
                backoff_base=interval_ms / 1000,
                backoff_max=max(policy.backoff_max, interval_ms / 1000),
            )
        parts = urlsplit(settings.url)
        provider = OAuthTokenProvider(
            f"{parts.scheme}://{parts.netloc}",
            key,
            secret,
            token_url=settings.url,
            scopes=settings.scope,
            client_auth="basic",
            retry=policy,
            cache=DynamoDBTokenCache(
                settings.table,
                key="derive",
                key_attribute=KEY_ATTRIBUTE,
                endpoint_url=settings.endpoint_url,
                region=settings.region,
            ),
        )
        _kept["provider"] = (tuned, fingerprint, provider)
        return provider


def _attempts(argument: object, from_env: int | None, should_retry: bool) -> int | None:
    if not should_retry:
        return 1
    if argument is None:
        return from_env
    return _whole("retries", argument)


def _interval(argument: object, from_env: float | None) -> float | None:
    if argument is None:
        return from_env
    return _milliseconds("interval", argument)


def _whole(name: str, value: object) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = int(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else 0
    except ValueError:
        number = 0
    if number < 1:
        raise ConfigurationError(f"{name} must be a whole number of attempts >= 1, got {value!r}")
    return number


def _milliseconds(name: str, value: object) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value) if isinstance(value, (str, int, float)) else -1.0
    except ValueError:
        number = -1.0
    if isinstance(value, bool) or not 0 <= number < math.inf:
        raise ConfigurationError(f"{name} must be milliseconds (a number >= 0), got {value!r}")
    return number


def clear_cache() -> None:
    """Forget the provider (its token stays in DynamoDB)."""
    with _lock:
        _kept.clear()
