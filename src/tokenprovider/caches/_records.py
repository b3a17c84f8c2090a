"""How a cache entry is written down (a JSON file, a DynamoDB item), sealed when the
cache has a key. A record that cannot be read is a `RecordError`, which caches treat
as a miss."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from tokenprovider._untrusted import UntrustedJSONError, load_json
from tokenprovider.caches.base import NO_ATTRIBUTES, CacheEntry, CacheKey, attributes_problem
from tokenprovider.caches.sealing import Sealer, SealError

FORMAT = "tokenprovider-cache/1"
#: The most characters a record's ``attributes`` field may hold (JSON text); eight
#: attributes at their longest (every character escaped) fit.
ATTRIBUTES_LIMIT = 16 * 1024


class RecordError(Exception):
    """A record is corrupt, foreign, or does not open; the message holds no secret."""


def to_record(key: CacheKey, entry: CacheEntry, sealer: Sealer | None) -> dict[str, Any]:
    """The fields to store for ``entry``; the token is sealed when there is a sealer."""
    record: dict[str, Any] = {
        "format": FORMAT,
        "cache_key": key.digest,
        "expires_at": entry.expires_at,
        "issued_at": entry.issued_at,
        "writer": entry.writer,
        "version": entry.version,
    }
    if entry.attributes:  # only then: an entry without them reads (and opens) as before
        record["attributes"] = json.dumps(
            dict(entry.attributes), sort_keys=True, separators=(",", ":")
        )
    if sealer is None:
        record["token"] = entry.token
    else:
        record["sealed"] = sealer.seal(entry.token, _associated(record))
    return record


def from_record(key: CacheKey, record: Mapping[str, Any], sealer: Sealer | None) -> CacheEntry:
    """The entry in ``record``; `RecordError` if it is not a readable entry for ``key``."""
    if record.get("format") != FORMAT:
        raise RecordError("not a tokenprovider cache entry")
    if record.get("cache_key") != key.digest:
        raise RecordError("it belongs to another cache key")
    expires_at = _number(record, "expires_at")
    issued_at = _number(record, "issued_at")
    writer, version = record.get("writer"), record.get("version")
    if not isinstance(writer, str) or not isinstance(version, str) or not version:
        raise RecordError("writer or version is missing")
    if "\0" in writer or "\0" in version:  # the separator of what a sealed token is bound to
        raise RecordError("writer or version holds a NUL character")
    fields = {**record, "expires_at": expires_at, "issued_at": issued_at}
    if sealer is None:
        if "sealed" in record:
            raise RecordError("the token is encrypted and this cache has no key")
        token = record.get("token")
    else:
        if "token" in record:  # never trust a clear token where tokens are sealed
            raise RecordError("the token is not encrypted, but this cache has a key")
        try:
            token = sealer.open(record.get("sealed"), _associated(fields))
        except SealError as exc:
            raise RecordError(str(exc)) from None
    if not isinstance(token, str) or not token:
        raise RecordError("the token is missing")
    return CacheEntry(token, expires_at, issued_at, writer, version, _attributes(record))


def _attributes(record: Mapping[str, Any]) -> Mapping[str, str]:
    """The record's attributes (JSON text of an object of strings), checked as hostile."""
    text = record.get("attributes")
    if text is None:
        return NO_ATTRIBUTES  # written before entries carried attributes, or none needed
    if not isinstance(text, str) or len(text) > ATTRIBUTES_LIMIT:
        raise RecordError(
            f"its attributes are not JSON text of at most {ATTRIBUTES_LIMIT} characters"
        )
    try:
        attributes = load_json(text)
    except UntrustedJSONError:
        raise RecordError("its attributes are not valid JSON") from None
    problem = attributes_problem(attributes) if isinstance(attributes, dict) else "not an object"
    if problem is not None:
        raise RecordError(f"its attributes cannot be used: {problem}")
    return MappingProxyType(attributes)


def _number(record: Mapping[str, Any], name: str) -> float:
    value: Any = record.get(name)
    try:
        number = float(value)  # DynamoDB gives a Decimal
    except (TypeError, ValueError):
        raise RecordError(f"{name} is not a number") from None
    if isinstance(value, bool) or not math.isfinite(number):
        raise RecordError(f"{name} is not a number")
    return number


def _associated(record: Mapping[str, Any]) -> bytes:
    """What a sealed token is bound to: its key and every other field of its record,
    so it can be neither moved to another key nor given another expiry or attributes.
    (The attributes count only when present, so that older entries still open.)"""
    parts = [
        FORMAT,
        str(record["cache_key"]),
        repr(float(record["expires_at"])),
        repr(float(record["issued_at"])),
        str(record["writer"]),
        str(record["version"]),
    ]
    if "attributes" in record:
        parts.append("attributes=" + str(record["attributes"]))
    return "\0".join(parts).encode()
