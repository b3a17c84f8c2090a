"""The configuration's ``cache`` and ``cache_key`` settings, turned into a `TokenCache`.

`cache_setting` checks their form alone (nothing built, nothing read, boto3 not
imported), for ``config set``; `cache_from_setting` checks the same, then builds the
cache, which for DynamoDB needs boto3 and a region on this machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from tokenprovider.errors import ConfigurationError
from tokenprovider.secret_refs import SecretReference, is_reference, mistyped_prefix

if TYPE_CHECKING:
    from tokenprovider.caches.base import TokenCache

#: What ``cache =`` accepts, for messages and docs.
FORMS = ('"memory"', '"file"', '"file:DIRECTORY"', '"dynamodb:TABLE"')
#: ``cache_key = "derive"``: the key is derived (names no secret).
DERIVE = "derive"


def cache_key_problem(key: object) -> str | None:
    """Why ``key`` cannot be a ``cache_key`` value, or None if it can: it must be a secret
    reference (to the key) or `DERIVE`. Never quotes the value."""
    if isinstance(key, str) and (is_reference(key) or key == DERIVE):
        return None
    mistyped = mistyped_prefix(key)
    return (f"{mistyped}; cache_key " if mistyped else "") + (
        "must be a secret reference (env:, file:, aws-secretsmanager:, aws-ssm:) "
        f'to 32 base64-encoded bytes, or "{DERIVE}"'
    )


class CacheSetting(NamedTuple):
    """A ``cache`` value taken apart: ``kind`` ("memory", "file" or "dynamodb") and its
    ``argument`` (the directory or the table; empty for the default directory)."""

    kind: str
    argument: str


def cache_setting(spec: str, key: str | SecretReference | None = None) -> CacheSetting:
    """``spec`` (a ``cache`` value) taken apart, if its form is right with ``key`` (a
    reference to the encryption key, ``"derive"`` or None); nothing is built, read or
    imported (see the module docs)."""
    kind, _, argument = spec.partition(":")
    if kind == "memory" and not argument:
        if key is not None:
            raise ConfigurationError(
                'cache_key needs cache = "file" or "dynamodb:TABLE"; the memory cache '
                "never leaves the process, so it is not encrypted"
            )
        return CacheSetting(kind, argument)
    if kind == "file":
        if "\x00" in argument:
            raise ConfigurationError(
                f"{spec!r}: the directory holds a NUL character, so it is not a usable path"
            )
        return CacheSetting(kind, argument)
    if kind == "dynamodb" and argument:
        from tokenprovider.caches.dynamodb import check_table_name  # noqa: PLC0415 - no boto3

        check_table_name(argument)
        return CacheSetting(kind, argument)
    from tokenprovider._suggest import did_you_mean  # noqa: PLC0415 - error path only

    hint = did_you_mean(kind, ("memory", "file", "dynamodb"))
    raise ConfigurationError(f"must be one of {', '.join(FORMS)}, got {spec!r}{hint}")


def cache_from_setting(
    spec: str, key: str | SecretReference | None = None, *, base_dir: Path | None = None
) -> TokenCache:
    """The cache ``spec`` names: ``memory`` (the process-wide default), ``file``,
    ``file:DIRECTORY`` (relative to ``base_dir``) or ``dynamodb:TABLE``; ``key`` is a
    secret reference to the encryption key, or ``"derive"``."""
    kind, argument = cache_setting(spec, key)
    if kind == "memory":
        from tokenprovider.caches.memory import default_cache  # noqa: PLC0415

        return default_cache()
    if kind == "file":
        from tokenprovider._private_files import expand_user  # noqa: PLC0415
        from tokenprovider.caches.file import FileTokenCache  # noqa: PLC0415

        directory = None
        if argument:
            try:
                directory = expand_user(argument)
            except ValueError as exc:
                raise ConfigurationError(f"{spec!r}: {exc}") from None
            if not directory.is_absolute():
                directory = (base_dir or Path.cwd()) / directory
        return FileTokenCache(directory, key=key)
    from tokenprovider import _aws as aws  # noqa: PLC0415
    from tokenprovider.caches.dynamodb import DynamoDBTokenCache  # noqa: PLC0415

    # Checked now, so that a cache that cannot work is a configuration error, not a
    # warning at every fetch: boto3, a region (there is no region setting here, so the
    # cache's message naming region= would mislead).
    needed_by = f"cache = {spec!r}"
    aws.require_aws(needed_by)
    region = aws.require_region(None, needed_by=needed_by)
    return DynamoDBTokenCache(argument, key=key, region=region)
