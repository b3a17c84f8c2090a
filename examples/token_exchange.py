"""Token exchange (RFC 8693): trade this service's token for one meant for a downstream API.

A base provider gets the service's own token (client credentials). A second provider,
``grant_type="token_exchange"``, presents that token as its ``subject_token`` and asks the
authorization server for a token whose audience is ``downstream-api``; the server checks
the subject token, and the exchanged token is what calls the downstream API. Each provider
caches and refreshes its own token: more calls make no more token requests. In
configuration the subject is another profile (``subject_token = "profile:base"``); in code
it is a `ProviderSource`.

Here the authorization server and the API are one `LocalOAuthServer` on 127.0.0.1.

Needs: ``tokenprovider[jwt]`` (the exchanged token is a JWT, decoded here for show).
Run: ``python examples/token_exchange.py``
"""

from __future__ import annotations

import jwt
import requests

from tokenprovider import OAuthTokenProvider
from tokenprovider.sources import ProviderSource
from tokenprovider.testing import LocalOAuthServer


def main() -> None:
    with LocalOAuthServer(
        clients={"reporting": "reporting-example-secret", "gateway": "gateway-example-secret"},
        exchange_targets={"downstream-api"},  # the audiences this server issues tokens for
    ) as server:
        base = OAuthTokenProvider(
            server.url, "reporting", "reporting-example-secret", token_url=server.token_url
        )
        exchanged = OAuthTokenProvider(
            server.url,
            "gateway",  # the client that asks for the exchange
            "gateway-example-secret",
            token_url=server.token_url,
            grant_type="token_exchange",
            subject_token=ProviderSource(base),  # subject_token_type: access_token
            requested_token_type="jwt",
            audience="downstream-api",
        )

        for _ in range(3):
            answer = requests.get(server.resource_url, auth=exchanged, timeout=10)
            print(f"downstream API answered {answer.status_code}")

        claims = jwt.decode(exchanged.token, options={"verify_signature": False})
        print(f"exchanged token: subject {claims['sub']!r}, audience {claims['aud']}")
        record = server.exchanges[0]
        print(f"subject token sent: {record.subject_token_type}")
        print(f"token requests: {server.token_requests} (one for each provider)")


if __name__ == "__main__":
    main()
