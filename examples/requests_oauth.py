"""Call an API with `requests`, authenticated by an `OAuthTokenProvider`.

A provider *is* a requests auth: pass it as ``auth=`` or install it on a Session. It
fetches a token on first use (client credentials), reuses it until it is due, sends it
only to its own host, and, when the API answers 401, gets a new token and retries once.

Here the token endpoint and the API are a `LocalOAuthServer` on 127.0.0.1 (its
``/resource`` accepts only tokens it issued), and a `RecordingHTTPServer` plays another
host that must never see the token. In real code the provider is simply::

    OAuthTokenProvider("api.example.com", "reporting", os.environ["REPORTING_SECRET"],
                       token_url="https://login.example.com/oauth2/token")

Needs: tokenprovider only (no extras). Run: ``python examples/requests_oauth.py``
"""

from __future__ import annotations

import requests

from tokenprovider import OAuthTokenProvider
from tokenprovider.testing import LocalOAuthServer, RecordingHTTPServer


def main() -> None:
    with (
        LocalOAuthServer(clients={"reporting": "example-secret"}) as api,
        RecordingHTTPServer() as other,
    ):
        provider = OAuthTokenProvider(
            api.url,  # tokens go only to this scheme, host and port
            client_id="reporting",
            client_secret="example-secret",  # in real code: os.environ[...] or a secret reference
            token_url=api.token_url,  # or leave it out: discovered from /.well-known
            scopes=["read"],
        )

        # 1. One call: the provider fetches a token and attaches it.
        response = requests.get(api.resource_url, auth=provider, timeout=10)
        print(f"requests.get with auth=provider: {response.status_code}")

        # 2. A Session reuses the connection and the token for every call.
        with provider.session() as session:  # a requests.Session with session.auth = provider
            statuses = [session.get(api.resource_url, timeout=10).status_code for _ in range(5)]
            print(f"5 calls on a session: {statuses}")

            # 3. The server revokes the token: the 401 makes one refresh and one retry.
            api.revoke_all()
            retried = session.get(api.resource_url, timeout=10)
            print(f"after revocation: {retried.status_code} (history: {retried.history})")

        # 4. Another host never receives the token.
        requests.get(other.url + "/collect", auth=provider, timeout=10)
        leaked = any("authorization" in r.headers for r in other.requests)
        print(f"token sent to another host: {'yes' if leaked else 'no'}")

        print(f"API calls: {api.resource_requests}, 401s: {api.resource_unauthorized}")
        print(f"token requests: {api.token_requests}")  # 1, plus 1 after the revocation


if __name__ == "__main__":
    main()
