"""100 concurrent httpx requests from asyncio, through one provider.

``provider.httpx_auth()`` is an ``httpx.Auth`` for ``httpx.AsyncClient`` (and
``httpx.Client``). The first requests find no token: they all wait for one fetch, which
runs in a worker thread, so the event loop keeps serving everything else meanwhile. Then
every request reuses the token, and a 401 (the server revokes its tokens) costs one
refresh and one retry per request that got it, however many there were at once.

Here the token endpoint and the API are a `LocalOAuthServer` on 127.0.0.1, which takes
50 ms per token request. In real code the provider is simply::

    OAuthTokenProvider("api.example.com", "reporting", os.environ["REPORTING_SECRET"],
                       token_url="https://login.example.com/oauth2/token")

Needs: ``tokenprovider[httpx]``. Run: ``python examples/async_httpx.py``
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from tokenprovider import OAuthTokenProvider
from tokenprovider.testing import LocalOAuthServer


async def call_api(api: LocalOAuthServer, provider: OAuthTokenProvider) -> None:
    auth = provider.httpx_auth()
    async with httpx.AsyncClient(auth=auth, timeout=10) as client:
        # 1. A cold start: 100 requests at once, one token request.
        answers = await asyncio.gather(*(client.get(api.resource_url) for _ in range(100)))
        print(f"100 concurrent requests: {dict(Counter(r.status_code for r in answers))}")
        print(f"token requests after them: {api.token_requests}")

        # 2. The server revokes its tokens: 100 requests meet a 401, one refresh.
        api.revoke_all()
        answers = await asyncio.gather(*(client.get(api.resource_url) for _ in range(100)))
        print(f"after revocation: {dict(Counter(r.status_code for r in answers))}")
        retried = sum(1 for r in answers if r.history)
        print(f"requests retried after a 401: {retried}")
    print(f"token requests in all: {api.token_requests}")


def main() -> None:
    with LocalOAuthServer(clients={"reporting": "example-secret"}, latency=0.05) as api:
        provider = OAuthTokenProvider(
            api.url, "reporting", "example-secret", token_url=api.token_url
        )
        asyncio.run(call_api(api, provider))


if __name__ == "__main__":
    main()
