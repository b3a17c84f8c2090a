"""Token caches: in-process (`MemoryTokenCache`), across processes (`FileTokenCache`) and
across hosts (`DynamoDBTokenCache`). The file and DynamoDB caches load on first use."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tokenprovider.caches.base import CacheEntry, CacheKey, TokenCache
from tokenprovider.caches.memory import MemoryTokenCache, default_cache

if TYPE_CHECKING:
    from tokenprovider.caches.dynamodb import DynamoDBTokenCache, create_table
    from tokenprovider.caches.file import FileTokenCache

_HOMES = {
    "DynamoDBTokenCache": "tokenprovider.caches.dynamodb",
    "create_table": "tokenprovider.caches.dynamodb",
    "FileTokenCache": "tokenprovider.caches.file",
}

__all__ = [
    "CacheEntry",
    "CacheKey",
    "DynamoDBTokenCache",
    "FileTokenCache",
    "MemoryTokenCache",
    "TokenCache",
    "create_table",
    "default_cache",
]


def __getattr__(name: str) -> Any:
    module = _HOMES.get(name)
    if module is None:
        raise AttributeError(f"module 'tokenprovider.caches' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
