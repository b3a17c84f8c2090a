"""The configuration's ``cache`` and ``cache_key`` settings, turned into a `TokenCache`."""

from __future__ import annotations

from pathlib import Path

from tokenprovider.caches.base import TokenCache
from tokenprovider.errors import ConfigurationError
from tokenprovider.secret_refs import SecretReference

#: What ``cache =`` accepts, for messages and docs.
FORMS = ('"memory"', '"file"', '"file:DIRECTORY"', '"dynamodb:TABLE"')


def cache_from_setting(
    spec: str, key: str | SecretReference | None = None, *, base_dir: Path | None = None
) -> TokenCache:
    """The cache ``spec`` names: ``memory`` (the process-wide default), ``file``,
    ``file:DIRECTORY`` (relative to ``base_dir``) or ``dynamodb:TABLE``; ``key`` is a
    secret reference to the encryption key, or ``"derive"``."""
    kind, _, argument = spec.partition(":")
    if kind == "memory" and not argument:
        if key is not None:
            raise ConfigurationError(
                'cache_key needs cache = "file" or "dynamodb:TABLE"; the memory cache '
                "never leaves the process, so it is not encrypted"
            )
        from tokenprovider.caches.memory import default_cache  # noqa: PLC0415

        return default_cache()
    if kind == "file":
        from tokenprovider.caches.file import FileTokenCache  # noqa: PLC0415
        from tokenprovider.private_files import expand_user  # noqa: PLC0415

        directory = None
        if argument:
            try:
                directory = expand_user(argument)
            except ValueError as exc:
                raise ConfigurationError(f"{spec!r}: {exc}") from None
            if not directory.is_absolute():
                directory = (base_dir or Path.cwd()) / directory
        return FileTokenCache(directory, key=key)
    if kind == "dynamodb" and argument:
        from tokenprovider import aws  # noqa: PLC0415
        from tokenprovider.caches.dynamodb import (  # noqa: PLC0415
            DynamoDBTokenCache,
            check_table_name,
        )

        # Checked now, so that a cache that cannot work is a configuration error, not a
        # warning at every fetch: the name, boto3, a region (there is no region setting
        # here, so the cache's message naming region= would mislead).
        check_table_name(argument)
        needed_by = f"cache = {spec!r}"
        aws.require_aws(needed_by)
        region = aws.require_region(None, needed_by=needed_by)
        return DynamoDBTokenCache(argument, key=key, region=region)
    raise ConfigurationError(f"must be one of {', '.join(FORMS)}, got {spec!r}")
