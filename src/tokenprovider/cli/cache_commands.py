"""``tokenprovider cache ...``: set up shared token caches, clear cached tokens."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from tokenprovider.cli.output import EXIT_OK, out
from tokenprovider.errors import CacheError, ConfigurationError

#: The name of a token file in a `FileTokenCache` directory: the key's digest.
_ENTRY_NAME = re.compile(r"[0-9a-f]{64}\.json")


def cache_create_table(args: argparse.Namespace) -> int:
    """Create the DynamoDB table for a shared token cache (an existing one is kept)."""
    from tokenprovider import aws  # noqa: PLC0415
    from tokenprovider.caches.dynamodb import create_table  # noqa: PLC0415

    command = "tokenprovider cache create-table"
    session = aws.session(args.aws_profile, args.region, needed_by=command)
    region = aws.require_region(
        args.region, profile_name=args.aws_profile, needed_by=command, setting="--region"
    )
    created = create_table(
        args.name, region=region, boto3_session=session, endpoint_url=args.endpoint_url
    )
    if created:
        out(f"created DynamoDB table {args.name} in {region}, TTL on attribute 'ttl'")
    else:
        out(f"DynamoDB table {args.name} already exists in {region}; TTL is on")
    out(f'use it with: cache = "dynamodb:{args.name}" in a [credentials] table')
    return EXIT_OK


def cache_clear(args: argparse.Namespace) -> int:
    """Remove the profile's cached token (with ``--all``, every token the CLI cached)."""
    from tokenprovider.cached import CachedTokenProvider  # noqa: PLC0415
    from tokenprovider.caches.file import FileTokenCache, default_directory  # noqa: PLC0415
    from tokenprovider.cli.token_commands import resolved  # noqa: PLC0415

    if args.all:
        directory = default_directory()
        removed = _remove_entries(directory)
        out(f"removed {removed} cached token{'' if removed == 1 else 's'} from {directory}")
        return EXIT_OK
    found = resolved(args)
    provider, profile = found.provider, f"profile {found.profile!r}"
    if not isinstance(provider, CachedTokenProvider):
        out(f"nothing to clear: {profile} ({found.provider_name}) fetches no token")
        return EXIT_OK
    cache = provider.cache
    if not isinstance(cache, FileTokenCache):
        if not cache.shared:
            out(f"nothing to clear: {profile} keeps its token in memory only")
            return EXIT_OK
        raise CacheError(
            f"cache clear removes tokens from file caches; {profile} uses {cache!r}, "
            "whose tokens expire on their own (or delete its item from the store)"
        )
    directory = cache.directory or default_directory()
    if not directory.exists():
        out(f"no cached token of {profile} in {directory} (it does not exist)")
        return EXIT_OK
    key = cache.key_for(provider._cache_identity() or {}, provider._cache_secret())
    path = cache.path_for(key)
    try:
        path.unlink()
    except FileNotFoundError:
        out(f"no cached token of {profile} ({key.label}) in {directory}")
        return EXIT_OK
    except OSError as exc:
        raise CacheError(f"cannot remove {path}: {exc.strerror or exc}") from None
    out(f"removed the cached token of {profile} ({key.label}): {path}")
    return EXIT_OK


def _remove_entries(directory: Path) -> int:
    """Remove every token file in ``directory`` (not the salt or lock files); how many."""
    from tokenprovider.caches.file import directory_problem  # noqa: PLC0415

    removed = 0
    try:
        problem = directory_problem(os.lstat(directory))
        if problem is not None:  # a link, or a directory others could have filled
            raise CacheError(f"cannot clear {directory}: {problem}")
        with os.scandir(directory) as entries:
            for entry in entries:
                if _ENTRY_NAME.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                    os.unlink(entry.path)
                    removed += 1
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise CacheError(
            f"cannot clear {exc.filename or directory}: {exc.strerror or exc}"
        ) from None
    return removed
