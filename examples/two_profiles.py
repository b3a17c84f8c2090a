"""One program, two environments: pick the configuration profile with TOKENPROVIDER_PROFILE.

The program calls ``load_provider()`` and never names a host, a client or a secret; the
configuration file does. ``[credentials]`` is the default profile (staging here) and
``[profiles.production.credentials]`` another one, complete on its own: it never
inherits a provider or a secret from the default. So the same job runs as::

    TOKENPROVIDER_CONFIG=jobs.toml python job.py                                  # staging
    TOKENPROVIDER_CONFIG=jobs.toml TOKENPROVIDER_PROFILE=production python job.py # production

Here both environments are `LocalOAuthServer`s on 127.0.0.1 (each a token endpoint and a
protected ``/resource``), and the file is written to a temporary directory.
``tokenprovider config show --origin`` prints what such a file resolves to, secrets masked.

Needs: tokenprovider only (no extras). Run: ``python examples/two_profiles.py``
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import requests

from tokenprovider import load_provider
from tokenprovider.testing import LocalOAuthServer

CONFIG = """\
[credentials]                          # the default profile: staging
domain = "{staging.domain}"
scheme = "http"                        # loopback only; real APIs use https
[credentials.oauth]
token_url = "{staging.token_url}"
client_id = "reporting-staging"
client_secret = "env:STAGING_SECRET"   # a reference: the secret stays out of the file

[profiles.production.credentials]      # TOKENPROVIDER_PROFILE=production
domain = "{production.domain}"
scheme = "http"
[profiles.production.credentials.oauth]
token_url = "{production.token_url}"
client_id = "reporting"
client_secret = "env:PRODUCTION_SECRET"
scopes = ["read"]
"""


def job(resource_url: str) -> int:
    """What your program does: ask the configuration for a provider, call the API."""
    provider = load_provider()  # reads TOKENPROVIDER_CONFIG and TOKENPROVIDER_PROFILE
    print(f"  provider for {provider.host.url}, client {provider.client_id!r}")
    return requests.get(resource_url, auth=provider, timeout=10).status_code


def main() -> None:
    # Normally set by the deployment (a CI secret, a vault agent...).
    os.environ.setdefault("STAGING_SECRET", "staging-example-secret")
    os.environ.setdefault("PRODUCTION_SECRET", "production-example-secret")
    with (
        LocalOAuthServer(clients={"reporting-staging": os.environ["STAGING_SECRET"]}) as staging,
        LocalOAuthServer(clients={"reporting": os.environ["PRODUCTION_SECRET"]}) as production,
        tempfile.TemporaryDirectory() as directory,
    ):
        config = Path(directory, "jobs.toml")
        config.write_text(CONFIG.format(staging=staging, production=production))
        os.environ["TOKENPROVIDER_CONFIG"] = str(config)

        os.environ.pop("TOKENPROVIDER_PROFILE", None)  # no profile: [credentials]
        print("TOKENPROVIDER_PROFILE unset:")
        print(f"  staging API answered {job(staging.resource_url)}")

        os.environ["TOKENPROVIDER_PROFILE"] = "production"
        print("TOKENPROVIDER_PROFILE=production:")
        print(f"  production API answered {job(production.resource_url)}")

        print(f"token requests to staging: {staging.token_requests}")
        print(f"token requests to production: {production.token_requests}")


if __name__ == "__main__":
    main()
