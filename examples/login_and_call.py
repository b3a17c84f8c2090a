"""A script that logs a person in, then calls an API as them, run after run.

The provider's ``grant_type="authorization_code"`` makes it a person's login: the first
run finds no login (`LoginRequiredError`) and asks for one with ``provider.login()``,
which opens a browser on the server's login page (log in as alice, password
wonderland) and waits on a loopback address for the browser to come back. The tokens
go to the login store; the next run (here, a second provider) finds them there and logs
in no more, and the refresh token renews the access token when it runs out.

Here the authorization server and the API are a `LocalOAuthServer` on 127.0.0.1 and
the store is a temporary directory. In real code the provider is simply::

    OAuthTokenProvider("api.example.com", "my-script", grant_type="authorization_code",
                       token_url="https://login.example.com/oauth2/token", scopes=["read"])

Needs: ``tokenprovider`` and a browser (without one, open the printed address yourself).
Run: ``python examples/login_and_call.py``
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import requests

from tokenprovider import LoginRequiredError, OAuthTokenProvider
from tokenprovider.testing import LocalOAuthServer


def provider_for(server: LocalOAuthServer, store: Path) -> OAuthTokenProvider:
    return OAuthTokenProvider(
        server.url,
        "my-script",
        token_url=server.token_url,
        grant_type="authorization_code",
        scopes=["openid", "read"],
        login_store="file",
        login_store_dir=store,
    )


def run(server: LocalOAuthServer, store: Path) -> None:
    """What the script does each time it runs."""
    provider = provider_for(server, store)
    try:
        answer = requests.get(server.resource_url, auth=provider, timeout=10)
    except LoginRequiredError:  # no login yet, or the server refused the stored one
        print("no login yet: logging in")
        status = provider.login(out=sys.stdout)  # opens the browser, prints the address
        print(f"logged in as {status.account}")
        answer = requests.get(server.resource_url, auth=provider, timeout=10)
    print(f"API answered {answer.status_code}")


def main() -> None:
    with (
        tempfile.TemporaryDirectory() as home,
        LocalOAuthServer(
            public_clients={"my-script": ["http://127.0.0.1/callback"]},
            users={"alice": "wonderland"},
        ) as server,
    ):
        store = Path(home) / "logins"
        print("first run:")
        run(server, store)
        print("second run:")
        run(server, store)
        print(f"logins: {server.authorization_codes_issued}")
        print(f"token requests: {server.token_requests}")


if __name__ == "__main__":
    main()
