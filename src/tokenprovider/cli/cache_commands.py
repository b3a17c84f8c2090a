"""``tokenprovider cache ...``: set up shared token caches."""

from __future__ import annotations

import argparse

from tokenprovider.cli.output import EXIT_OK, out


def cache_create_table(args: argparse.Namespace) -> int:
    """Create the DynamoDB table for a shared token cache (an existing one is kept)."""
    from tokenprovider import aws  # noqa: PLC0415 - loads boto3
    from tokenprovider.caches.dynamodb import create_table  # noqa: PLC0415

    session = aws.session(profile_name=args.aws_profile, region=args.region)
    region = args.region or session.region_name
    if create_table(args.name, region=region, boto3_session=session):
        out(f"created DynamoDB table {args.name} in {region}, TTL on attribute 'ttl'")
    else:
        out(f"DynamoDB table {args.name} already exists in {region}; TTL is on")
    out(f'use it with: cache = "dynamodb:{args.name}" in a [credentials] table')
    return EXIT_OK
