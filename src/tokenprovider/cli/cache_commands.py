"""``tokenprovider cache ...``: set up shared token caches, clear cached tokens."""

from __future__ import annotations

import argparse

from tokenprovider.cli.output import EXIT_OK, out
from tokenprovider.errors import CacheError


def cache_create_table(args: argparse.Namespace) -> int:
    """Create the DynamoDB table for a shared token cache (an existing one is kept)."""
    from tokenprovider import _aws as aws  # noqa: PLC0415
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
    from tokenprovider.caches.file import FileTokenCache  # noqa: PLC0415
    from tokenprovider.cli.token_commands import resolved  # noqa: PLC0415
    from tokenprovider.core.cached import CachedTokenProvider  # noqa: PLC0415

    if args.all:
        cli_cache = FileTokenCache()
        removed = cli_cache.clear()
        plural = "" if removed == 1 else "s"
        out(f"removed {removed} cached token{plural} from {cli_cache.location}")
        return EXIT_OK
    found = resolved(args)
    provider, profile = found.provider, f"profile {found.profile!r}"
    if not isinstance(provider, CachedTokenProvider):
        out(f"nothing to clear: {profile} ({found.provider_name}) fetches no token")
        return EXIT_OK
    cache = provider.cache
    if getattr(provider, "login_command", None) is not None:
        out(
            f"nothing to clear: {profile} is a person's login, kept in "
            f"{provider.login_location()}; tokenprovider logout forgets it"  # type: ignore[attr-defined]
        )
        return EXIT_OK
    if not isinstance(cache, FileTokenCache):
        if not cache.shared:
            out(f"nothing to clear: {profile} keeps its token in memory only")
            return EXIT_OK
        raise CacheError(
            f"cache clear removes tokens from file caches; {profile} uses {cache!r}, "
            "whose tokens expire on their own (or delete its item from the store)"
        )
    directory = cache.location
    if not directory.exists():  # checked first: making the key would create it
        out(f"no cached token of {profile} in {directory} (it does not exist)")
        return EXIT_OK
    key = provider.cache_key()
    if key is None or not cache.remove(key):
        label = "" if key is None else f" ({key.label})"
        out(f"no cached token of {profile}{label} in {directory}")
        return EXIT_OK
    out(f"removed the cached token of {profile} ({key.label}): {cache.path_for(key)}")
    return EXIT_OK
