"""Child-process code for the DynamoDBTokenCache tests (importable, as ``spawn`` needs).

Each function builds its own provider and `DynamoDBTokenCache` in the child, as a
separate program on another host would. boto3 reaches the moto server through the
``AWS_*`` variables the child inherits from the test. Results and observations go back
through `multiprocessing` queues.
"""

from __future__ import annotations

import logging
from typing import Any

from tokenprovider import OAuthTokenProvider
from tokenprovider.caches.dynamodb import DynamoDBTokenCache

TABLE = "Tokens"


def lease_watching_session(on_lease: Any) -> Any:
    """A boto3 session whose clients call ``on_lease()`` for every GetItem answer that
    holds only a lease (another host is refreshing, so this one waits)."""
    import boto3  # noqa: PLC0415 - loaded in the child

    session = boto3.session.Session()

    def after_get_item(parsed: Any, **_: Any) -> None:
        item = parsed.get("Item") or {}
        if "lease_id" in item and "token" not in item and "sealed" not in item:
            on_lease()

    session.events.register("after-call.dynamodb.GetItem", after_get_item)
    return session


def build_provider(
    server_url: str, token_url: str, secret: str, *, session: Any = None, **cache: Any
) -> OAuthTokenProvider:
    """An OAuthTokenProvider for client ``client`` on a DynamoDBTokenCache on `TABLE`."""
    dynamodb = DynamoDBTokenCache(TABLE, boto3_session=session, **cache)
    return OAuthTokenProvider(server_url, "client", secret, token_url=token_url, cache=dynamodb)


def token_after_barrier(
    server_url: str, token_url: str, secret: str, barrier: Any, waiting: Any, results: Any
) -> None:
    """Build a cold provider, wait for every sibling at ``barrier``, then get a token.

    Puts one message on ``waiting`` the first time this child sees another's lease, and
    the token on ``results``."""
    seen = False

    def on_lease() -> None:
        nonlocal seen
        if not seen:
            seen = True
            waiting.put("waiting")

    session = lease_watching_session(on_lease)
    provider = build_provider(server_url, token_url, secret, session=session, poll_interval=0.05)
    barrier.wait(60)
    results.put(provider.token)


def fetch_token_until_killed(
    server_url: str, token_url: str, secret: str, lease_seconds: float
) -> None:
    """Ask for a token; the test holds the server's answer and kills this process while
    it holds the lease."""
    provider = build_provider(server_url, token_url, secret, lease_seconds=lease_seconds)
    provider.token  # noqa: B018 - blocks in the token request until killed


def token_and_warnings(
    server_url: str, token_url: str, secret: str, results: Any, cache: dict[str, Any]
) -> None:
    """One token through a provider whose `DynamoDBTokenCache` has ``cache`` settings;
    puts ``(outcome, token or error, warnings logged)`` on ``results``."""
    warnings: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING:
                warnings.append(record.getMessage())

    logging.getLogger("tokenprovider").addHandler(Keep())
    try:
        provider = build_provider(server_url, token_url, secret, **cache)
        results.put(("token", provider.token, warnings))
    except Exception as exc:  # reported to the test
        results.put(("error", f"{type(exc).__name__}: {exc}", warnings))
