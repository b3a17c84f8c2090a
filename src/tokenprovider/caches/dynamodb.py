"""`DynamoDBTokenCache`: tokens shared by every host that can reach one DynamoDB table.

One item per cache key holds the (sealed) token, its expiry, its writer, the entry's
attributes (JSON text, when it has any) and a TTL attribute. Single flight across hosts
is a lease on the same item, taken and released with conditional writes: the item is
rewritten only if it is still exactly as the writer last read it. Waiters poll with
consistent reads, use the holder's token as soon as it appears, and take over a lease once
they have watched it for longer than its ``lease_seconds`` on their own monotonic clock,
or once the holder's deadline is a further ``lease_seconds`` past on theirs: clock
offsets smaller than the lease never end a live one. Only ``GetItem`` and ``PutItem`` are needed.

Items are hostile input: an attribute of a type this cache never writes is damage, and an
item whose ``version`` or ``lease_id`` is damaged is replaced at once, by a write
conditional on that damage. A table that does not answer (a connection failure or a
timeout) is not called again for `CACHE_RETRY_AFTER` seconds, by any operation.
"""

from __future__ import annotations

import contextlib
import logging
import random
import re
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tokenprovider import _aws as aws
from tokenprovider._untrusted import quote
from tokenprovider.caches._records import RecordError, from_record, to_record
from tokenprovider.caches.base import (
    CACHE_RETRY_AFTER,
    CacheEntry,
    CacheKey,
    Hold,
    TokenCache,
    positive_seconds,
    unshared,
    writer_id,
)
from tokenprovider.caches.sealing import Encryption, Sealer
from tokenprovider.core.clock import SYSTEM_CLOCK, Clock
from tokenprovider.errors import CacheError, ConfigurationError
from tokenprovider.secret_refs import SecretReference

logger = logging.getLogger("tokenprovider")

DEFAULT_KEY_ATTRIBUTE = "cache_key"
TTL_ATTRIBUTE = "ttl"
#: Items stay this long past their token's expiry before DynamoDB's TTL removes them.
TTL_GRACE = 3600
_LEASE_FIELDS = ("lease_id", "lease_holder", "lease_seconds", "lease_until")
_SALT_KEY = "tokenprovider#salt"
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_MAX_POLL = 0.5
#: Attributes this cache only ever writes as strings: any other type there is damage.
_TEXT_ONLY = frozenset({"version", "lease_id", "salt", "attributes"})


@dataclass(frozen=True, slots=True)
class _Foreign:
    """An attribute of a type this cache never writes there (``type`` is DynamoDB's
    name for it: ``"M"``, ``"NULL"``...): kept only to match the damage when replacing it."""

    type: str


class DynamoDBTokenCache(TokenCache):
    """Keeps tokens in a DynamoDB table, so a fleet of hosts makes one request per refresh.

    The table's partition key is a string attribute named ``key_attribute``; create one
    with `create_table` or ``tokenprovider cache create-table NAME``. With ``key`` (a
    secret reference to 32 base64 bytes, or ``"derive"``), tokens are stored encrypted.
    A host that finds another refreshing waits up to ``max_wait`` seconds for its token,
    polling every ``poll_interval`` seconds or so. Throttling and transient errors are
    retried by botocore (``max_attempts`` attempts in ``standard`` mode); once a call
    finds the table not answering, no call is made for `CACHE_RETRY_AFTER` seconds
    (measured on ``clock``'s monotonic time). ``endpoint_url`` points the client
    elsewhere (DynamoDB Local, LocalStack); it may not hold a user name or password.

    boto3 and the region are checked when the cache is built: without boto3 that is a
    `MissingExtraError`, without a region (``region``, else `tokenprovider._aws.REGION_ORDER`)
    a `ConfigurationError`.
    """

    def __init__(
        self,
        table_name: str,
        *,
        key: str | bytes | SecretReference | None = None,
        region: str | None = None,
        boto3_session: object | None = None,
        key_attribute: str = DEFAULT_KEY_ATTRIBUTE,
        lease_seconds: float = 30.0,
        max_wait: float | None = None,
        poll_interval: float = 0.1,
        max_attempts: int = aws.MAX_ATTEMPTS,
        endpoint_url: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        check_table_name(table_name)
        if endpoint_url is not None:
            _check_endpoint(endpoint_url)
        if not isinstance(key_attribute, str) or not key_attribute:
            raise ConfigurationError("key_attribute must be a non-empty string")
        for name, value in (("lease_seconds", lease_seconds), ("poll_interval", poll_interval)):
            positive_seconds(name, value)
        if max_wait is not None:
            positive_seconds("max_wait", max_wait)
        aws.check_max_attempts(max_attempts)
        self.__encryption = None if key is None else Encryption(key, owner="DynamoDBTokenCache")
        self.region = aws.require_region(
            region, boto3_session, needed_by="DynamoDBTokenCache", setting="region="
        )
        # Built now, so that a profile that cannot be read is refused now, not at a fetch.
        self.__boto3_session = (
            boto3_session
            if boto3_session is not None
            else aws.session(region=self.region, needed_by="DynamoDBTokenCache")
        )
        self.table_name = table_name
        self.key_attribute = key_attribute
        self.lease_seconds = float(lease_seconds)
        self.max_wait = float(max_wait) if max_wait is not None else 2 * self.lease_seconds
        self.poll_interval = float(poll_interval)
        self.__max_attempts = max_attempts
        self.__endpoint_url = endpoint_url
        self.__client: Any = None
        self.__salt: bytes | None = None
        self.__lock = threading.Lock()
        self.__reported: set[tuple[str, object]] = set()
        self.__monotonic = (clock or SYSTEM_CLOCK).monotonic
        self.__down_until = -float("inf")  # no call before this: the table did not answer

    def __repr__(self) -> str:
        encrypted = ", encrypted" if self.__encryption is not None else ""
        return f"{type(self).__name__}({self.table_name!r}{encrypted})"

    @property
    def encrypted(self) -> bool:
        """Whether tokens are stored encrypted."""
        return self.__encryption is not None

    # -- reading ---------------------------------------------------------------------

    def load(self, key: CacheKey) -> CacheEntry | None:
        """The entry for ``key`` (a consistent read); anything unreadable is None."""
        if self.__down():
            return None
        try:
            item = self.__get(key.digest)
        except ConfigurationError:
            raise
        except Exception as exc:
            if not self.__down():  # else __call has said it
                logger.warning(
                    "DynamoDBTokenCache: cannot read %s from table %s (%s); fetching anew",
                    key.label,
                    self.table_name,
                    aws.describe_error(exc) or type(exc).__name__,
                )
            return None
        return self.__entry(key, item)

    def __entry(self, key: CacheKey, item: Mapping[str, Any] | None) -> CacheEntry | None:
        if item is None or ("token" not in item and "sealed" not in item):
            return None  # no item, or only a lease: nobody has stored a token yet
        try:
            return from_record(key, item, self.__sealer(key))
        except RecordError as exc:
            seen = (key.digest, item.get("version"))
            if seen in self.__reported:
                return None
            self.__reported.add(seen)
            logger.warning(
                "DynamoDBTokenCache: ignoring the item for %s in table %s: %s",
                key.label,
                self.table_name,
                exc,
            )
            return None

    # -- single flight ---------------------------------------------------------------

    @contextlib.contextmanager
    def _hold(self, key: CacheKey, seen: CacheEntry | None) -> Iterator[Hold]:
        if self.__down():
            yield unshared()  # the table did not answer moments ago
            return
        started = time.monotonic()
        first_seen: dict[str, float] = {}  # lease id -> when this host first saw it
        delay = self.poll_interval
        reported = False
        try:
            item = self.__get(key.digest)
        except ConfigurationError:
            raise
        except Exception as exc:
            yield self.__unheld(key, None, exc)
            return
        while True:
            current = self.__entry(key, item)
            if current is not None and (seen is None or current.version != seen.version):
                yield Hold(current, lambda entry: self.__put(key, entry))
                return  # someone refreshed while we looked
            damage = _damage(item)
            if damage and not reported:
                reported = True
                logger.warning(
                    "DynamoDBTokenCache: the item for %s in table %s is damaged (%s); replacing it",
                    key.label,
                    self.table_name,
                    damage,
                )
            lease = None if item is None or damage else item.get("lease_id")
            now = time.monotonic()
            if lease is None or _expired(item or {}, now - first_seen.setdefault(lease, now)):
                if lease is not None:
                    logger.warning(
                        "DynamoDBTokenCache: %s's lease on %s expired; taking over",
                        _holder(item),
                        key.label,
                    )
                mine = secrets.token_hex(8)
                try:
                    taken = self.__take(key.digest, item, mine)
                except Exception as exc:
                    yield self.__unheld(key, current, exc)
                    return
                if taken is not None:
                    yield from self.__holding(key, current, taken, mine)
                    return
            # Whatever happened (a live lease, or a lease we could not take), we wait no
            # longer than max_wait.
            if time.monotonic() - started > self.max_wait:
                yield self.__unheld(key, current, None)
                return
            time.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 1.5, _MAX_POLL)
            try:
                item = self.__get(key.digest)
            except Exception as exc:
                yield self.__unheld(key, current, exc)
                return

    def __holding(
        self, key: CacheKey, current: CacheEntry | None, held_item: dict[str, Any], mine: str
    ) -> Iterator[Hold]:
        stored = False

        def store(entry: CacheEntry) -> None:
            nonlocal stored
            stored = True
            self.__put(key, entry, lease=mine)

        try:
            yield Hold(current, store)
        finally:
            if not stored:  # the fetch failed: let the next host try at once
                released = {k: v for k, v in held_item.items() if k not in _LEASE_FIELDS}
                with contextlib.suppress(Exception):
                    self.__conditional_put(released, lease=mine)

    def __take(
        self, digest: str, item: Mapping[str, Any] | None, mine: str
    ) -> dict[str, Any] | None:
        """Write a lease into the item if it is still as read; the new item, or None if
        another host changed it first."""
        base = {self.key_attribute: digest} if item is None else dict(item)
        taken = {
            **base,
            "lease_id": mine,
            "lease_holder": writer_id(),
            "lease_seconds": self.lease_seconds,
            "lease_until": time.time() + self.lease_seconds,
        }
        # An idle fleet's item may be past its TTL: keep DynamoDB from deleting the lease.
        ttl = taken.get(TTL_ATTRIBUTE)
        soonest = int(time.time()) + TTL_GRACE
        taken[TTL_ATTRIBUTE] = max(int(ttl), soonest) if isinstance(ttl, float) else soonest
        if item is None:
            condition = "attribute_not_exists(#k)"
            names: dict[str, str] = {"#k": self.key_attribute}
            values: dict[str, Any] = {}
        else:
            condition, names, values = _unchanged(item)
        if self.__try_put(taken, condition, names, values):
            return taken
        return None

    def __unheld(self, key: CacheKey, current: CacheEntry | None, error: Exception | None) -> Hold:
        if error is None:
            logger.warning(
                "DynamoDBTokenCache: waited %.0fs for another host to refresh %s; fetching anyway",
                self.max_wait,
                key.label,
            )
        elif not self.__down():  # else __call has said that the table does not answer
            logger.warning(
                "DynamoDBTokenCache: cannot coordinate the refresh of %s through table %s "
                "(%s); fetching without it",
                key.label,
                self.table_name,
                aws.describe_error(error) or type(error).__name__,
            )
        return Hold(current, lambda entry: self.__put(key, entry))

    # -- writing ---------------------------------------------------------------------

    def __put(self, key: CacheKey, entry: CacheEntry, *, lease: str | None = None) -> None:
        if self.__down():
            return  # the table did not answer moments ago; the token is used unshared
        record = to_record(key, entry, self.__sealer(key))
        item = {
            **record,
            self.key_attribute: key.digest,
            TTL_ATTRIBUTE: int(entry.expires_at) + TTL_GRACE,
        }
        if lease is None:
            self.__call("put_item", TableName=self.table_name, Item=_encode(item))
        elif not self.__conditional_put(item, lease=lease):
            logger.info(
                "DynamoDBTokenCache: another host took over the refresh of %s; "
                "not overwriting its entry",
                key.label,
            )

    def __conditional_put(self, item: Mapping[str, Any], *, lease: str) -> bool:
        return self.__try_put(item, "lease_id = :lease", {}, {":lease": lease})

    def __try_put(
        self,
        item: Mapping[str, Any],
        condition: str,
        names: Mapping[str, str],
        values: Mapping[str, Any],
    ) -> bool:
        from botocore.exceptions import ClientError  # noqa: PLC0415

        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "Item": _encode(item),
            "ConditionExpression": condition,
        }
        if names:
            arguments["ExpressionAttributeNames"] = dict(names)
        if values:
            arguments["ExpressionAttributeValues"] = _encode(values)
        try:
            self.__call("put_item", **arguments)
        except ClientError as exc:
            if aws.error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # -- plumbing --------------------------------------------------------------------

    def __get(self, digest: str) -> dict[str, Any] | None:
        answer = self.__call(
            "get_item",
            TableName=self.table_name,
            Key={self.key_attribute: {"S": digest}},
            ConsistentRead=True,
        )
        item = answer.get("Item")
        return None if item is None else _decode(item)

    def __down(self) -> bool:
        """Whether the table failed to answer less than `CACHE_RETRY_AFTER` seconds ago."""
        return self.__monotonic() < self.__down_until

    def __call(self, operation: str, **arguments: Any) -> Any:
        """Call DynamoDB; a missing table or a wrong key schema is a `CacheError`. No
        call is made for `CACHE_RETRY_AFTER` seconds after one found the table not
        answering (a connection failure or a timeout): `ConnectionError` instead."""
        from botocore.exceptions import ClientError, HTTPClientError  # noqa: PLC0415
        from botocore.exceptions import ConnectionError as NoConnection  # noqa: PLC0415

        if self.__down():
            raise ConnectionError(
                f"the DynamoDB table {self.table_name!r} did not answer moments ago; "
                f"it is tried again {CACHE_RETRY_AFTER:.0f}s after that"
            )
        client = self.__dynamodb()
        try:
            return getattr(client, operation)(**arguments)
        except (NoConnection, HTTPClientError) as exc:
            self.__down_until = self.__monotonic() + CACHE_RETRY_AFTER
            logger.warning(
                "DynamoDBTokenCache: table %s does not answer (%s); tokens are fetched "
                "without it for the next %.0fs",
                self.table_name,
                aws.describe_error(exc) or type(exc).__name__,
                CACHE_RETRY_AFTER,
            )
            raise
        except ClientError as exc:
            code = aws.error_code(exc)
            if code == "ResourceNotFoundException":
                endpoint = self.__endpoint_url
                raise CacheError(
                    f"the DynamoDB table {self.table_name!r} does not exist in "
                    f"{self.region}; create it with: tokenprovider cache create-table "
                    f"{self.table_name} --region {self.region}"
                    + (f" --endpoint-url {endpoint}" if endpoint else "")
                ) from None
            if code == "ValidationException" and "key" in str(exc).lower():
                raise CacheError(
                    f"the DynamoDB table {self.table_name!r} does not have a string "
                    f"partition key named {self.key_attribute!r} (and no sort key); "
                    "set key_attribute to its partition key's name"
                ) from None
            raise

    def __dynamodb(self) -> Any:
        client = self.__client
        if client is None:
            with self.__lock:
                if self.__client is None:
                    self.__client = _client(
                        self.__boto3_session,
                        self.region,
                        self.__max_attempts,
                        self.__endpoint_url,
                        "DynamoDBTokenCache",
                    )
                client = self.__client
        return client

    def __sealer(self, key: CacheKey) -> Sealer | None:
        if self.__encryption is None:
            return None
        return self.__encryption.sealer(key, self._salt())

    def _prepare(self, key: CacheKey) -> None:
        self.__sealer(key)

    def _salt(self) -> bytes:
        salt = self.__salt
        if salt is None:
            salt = self.__salt = self.__read_or_create_salt()
        return salt

    def __read_or_create_salt(self) -> bytes:
        names = {"#k": self.key_attribute}
        fresh = {self.key_attribute: _SALT_KEY, "salt": secrets.token_hex(16)}
        self.__try_put(fresh, "attribute_not_exists(#k)", names, {})
        for _ in range(3):
            stored = self.__get(_SALT_KEY) or {}
            salt = _salt_bytes(stored.get("salt"))
            if salt is not None:
                return salt
            # A damaged salt: replace it (only if it is still the damaged one, so every
            # host ends up with the same salt). Cached tokens become misses, no more.
            logger.warning(
                "DynamoDBTokenCache: the salt item in table %s is damaged; replacing it "
                "(cached tokens will be fetched anew)",
                self.table_name,
            )
            values: dict[str, Any] = {}
            condition = _same("#s", ":old", stored.get("salt"), values)
            self.__try_put(
                {**fresh, "salt": secrets.token_hex(16)}, condition, {"#s": "salt"}, values
            )
        raise CacheError(  # pragma: no cover - someone keeps damaging it
            f"the salt item {_SALT_KEY!r} in DynamoDB table {self.table_name!r} keeps being damaged"
        )


def check_table_name(table_name: object) -> None:
    """Raise `ConfigurationError` unless ``table_name`` is a DynamoDB table name."""
    if not isinstance(table_name, str) or not _TABLE_NAME.fullmatch(table_name):
        raise ConfigurationError(
            "table_name must be a DynamoDB table name (3 to 255 of A-Z a-z 0-9 _ . -), "
            f"got {table_name!r}"
        )


def create_table(
    table_name: str,
    *,
    region: str | None = None,
    boto3_session: object | None = None,
    key_attribute: str = DEFAULT_KEY_ATTRIBUTE,
    endpoint_url: str | None = None,
) -> bool:
    """Create a table for `DynamoDBTokenCache` (on-demand billing, TTL on ``ttl``) and
    wait until it is active. Returns False if it already existed (TTL is then enabled
    if it was not). ``region`` and ``endpoint_url`` are as for the cache."""
    if endpoint_url is not None:
        _check_endpoint(endpoint_url)
    needed_by = "create_table()"
    chosen = aws.require_region(region, boto3_session, needed_by=needed_by, setting="region=")
    created = True
    try:
        client = _client(boto3_session, chosen, aws.MAX_ATTEMPTS, endpoint_url, needed_by)
        try:
            client.create_table(
                TableName=table_name,
                AttributeDefinitions=[{"AttributeName": key_attribute, "AttributeType": "S"}],
                KeySchema=[{"AttributeName": key_attribute, "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
            )
        except Exception as exc:
            if aws.error_code(exc) != "ResourceInUseException":
                raise
            created = False
        client.get_waiter("table_exists").wait(TableName=table_name)
        ttl = client.describe_time_to_live(TableName=table_name).get("TimeToLiveDescription", {})
        if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            client.update_time_to_live(
                TableName=table_name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
            )
    except Exception as exc:
        described = aws.describe_error(exc)
        if described is None:
            raise
        raise CacheError(f"cannot create the DynamoDB table {table_name!r}: {described}") from None
    return created


def _client(
    boto3_session: object | None,
    region: str,
    max_attempts: int,
    endpoint_url: str | None,
    needed_by: str,
) -> Any:
    return aws.client(
        "dynamodb",
        boto3_session=boto3_session,
        region=region,
        max_attempts=max_attempts,
        endpoint_url=endpoint_url,
        needed_by=needed_by,
    )


def _unchanged(item: Mapping[str, Any]) -> tuple[str, dict[str, str], dict[str, Any]]:
    """A condition that holds while the item's version and lease are as in ``item``
    (damaged ones included)."""
    names = {"#v": "version", "#l": "lease_id"}
    values: dict[str, Any] = {}
    parts = [
        _same("#v", ":v", item.get("version"), values),
        _same("#l", ":l", item.get("lease_id"), values),
    ]
    return " AND ".join(parts), names, values


def _same(name: str, placeholder: str, value: object, values: dict[str, Any]) -> str:
    """A condition that holds while attribute ``name`` is as read (``value``: absent,
    a string, or damage of some type), adding what it compares with to ``values``."""
    if value is None:
        return f"attribute_not_exists({name})"
    if isinstance(value, _Foreign):
        values[placeholder] = value.type
        return f"attribute_type({name}, {placeholder})"
    values[placeholder] = value
    return f"{name} = {placeholder}"


def _damage(item: Mapping[str, Any] | None) -> str:
    """Which of the item's coordination attributes are damaged, or "" if none is."""
    if item is None:
        return ""
    damaged = (
        f"{name} of type {value.type}"
        for name in ("version", "lease_id")
        if isinstance(value := item.get(name), _Foreign)
    )
    return ", ".join(damaged)


def _holder(item: Mapping[str, Any] | None) -> str:
    holder = None if item is None else item.get("lease_holder")
    return quote(holder, 100) if isinstance(holder, str) else "another host"


def _encode(fields: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The DynamoDB form of ``fields``; damaged attributes are left out (so dropped)."""
    encoded = {}
    for name, value in fields.items():
        if isinstance(value, (bool, _Foreign)) or value is None:
            continue
        if isinstance(value, (int, float)):
            encoded[name] = {"N": repr(value) if isinstance(value, float) else str(value)}
        else:
            encoded[name] = {"S": str(value)}
    return encoded


def _decode(item: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Strings and numbers as such; an attribute of any other type (or a number where
    this cache writes strings) as `_Foreign`, never dropped, so it can be matched."""
    decoded: dict[str, Any] = {}
    for name, value in item.items():
        kind = next(iter(value), "")  # an AttributeValue has exactly one member
        if kind == "S":
            decoded[name] = value["S"]
        elif kind == "N" and name not in _TEXT_ONLY:
            decoded[name] = float(value["N"])
        else:
            decoded[name] = _Foreign(kind)
    return decoded


def _expired(item: Mapping[str, Any], watched: float) -> bool:
    """Whether a lease is dead: watched by this host for longer than its duration, or
    past its holder's deadline by a whole further duration (so that a host arriving
    late need not watch a dead lease for a full term, yet clock offsets smaller than
    the duration never end a live one)."""
    duration = item.get("lease_seconds")
    if not isinstance(duration, float) or not duration > 0:
        return True  # not a lease this version wrote: treat as free
    until = item.get("lease_until")
    late = isinstance(until, float) and time.time() > until + duration
    return watched > duration or late


def _salt_bytes(value: object) -> bytes | None:
    try:
        salt = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        return None
    return salt if len(salt) >= 16 else None


def _check_endpoint(url: object) -> None:
    """Raise `ConfigurationError` unless ``url`` is an http(s) URL with a host and no
    user name or password; a URL that may hold one is never quoted."""
    if isinstance(url, str):
        # Any "@" counts: a password holding "/", "?" or "#" hides it from .username.
        if "@" in url:
            raise ConfigurationError(
                "endpoint_url must not hold a user name or password (the part before '@'); "
                "DynamoDB takes AWS credentials, from boto3's usual settings"
            )
        try:
            parts = urlsplit(url)
        except ValueError:  # e.g. an unclosed "[": refused below
            parts = urlsplit("")
        if parts.scheme in ("http", "https") and parts.hostname:
            return
    raise ConfigurationError(
        "endpoint_url must be an http(s) URL such as http://localhost:8000, "
        f"got {quote(repr(url), 120)}"
    )
