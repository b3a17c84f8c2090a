"""A workload without a client secret: its client assertion is a Kubernetes projected
service-account token, read again from its file for every token request.

In a pod (or with Azure workload identity) the kubelet writes a short-lived token signed
by the cluster into a projected volume and renews it underneath the process, swapping the
``..data`` link to a fresh directory. A program that reads the file once fails when that
first token expires; ``client_auth="private_key_jwt"`` with ``assertion="file:PATH"``
reads it on every token request, through the links, and checks its expiry before sending
it. In a pod the provider is simply::

    OAuthTokenProvider("api.example.com", "reporter",
                       token_url="https://login.example.com/oauth2/token",
                       client_auth="private_key_jwt",
                       assertion="file:/var/run/secrets/azure/tokens/azure-identity-token")

Here the program plays the kubelet itself (a temporary directory, a token signed with a
local "cluster" key), the authorization server is a `LocalOAuthServer` on 127.0.0.1 that
trusts that cluster as the client's federated credential, and a `FakeClock` lets an hour
pass at once.

Needs: ``tokenprovider[jwt]`` (PyJWT and cryptography).
Run: ``python examples/kubernetes_token_file.py``
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import jwt
import requests

from tokenprovider import AssertionSourceError, OAuthTokenProvider
from tokenprovider.testing import FakeClock, KeyPair, LocalOAuthServer, key_pair

CLUSTER = "https://kubernetes.default.svc"  # the cluster's service-account issuer
SERVICE_ACCOUNT = "system:serviceaccount:prod:reporter"
AUDIENCE = "api://AzureADTokenExchange"  # the projected volume's audience
TOKEN_LIFETIME = 3600  # seconds: a projected token's usual life


class Kubelet:
    """Writes the projected volume as the kubelet's atomic writer does:
    ``token -> ..data/token`` and ``..data -> ..TIMESTAMP``, swapped in one rename."""

    def __init__(self, volume: Path, cluster_key: KeyPair, clock: FakeClock) -> None:
        self.volume, self.key, self.clock = volume, cluster_key, clock
        self.written: list[str] = []

    def write_token(self) -> None:
        now = int(self.clock.time())
        claims = {"iss": CLUSTER, "sub": SERVICE_ACCOUNT, "aud": [AUDIENCE],
                  "iat": now, "nbf": now, "exp": now + TOKEN_LIFETIME}  # fmt: skip
        token = jwt.encode(claims, self.key.private_pem, algorithm="RS256")
        fresh = self.volume / f"..{now}"
        fresh.mkdir()
        (fresh / "token").write_text(token)
        data = self.volume / "..data"
        old = data.resolve() if data.is_symlink() else None
        (self.volume / "..data_tmp").symlink_to(fresh.name)
        os.replace(self.volume / "..data_tmp", data)  # readers see the old token or the new
        if old is not None:
            shutil.rmtree(old)
        if not (self.volume / "token").is_symlink():
            (self.volume / "token").symlink_to("..data/token")
        self.written.append(token)


def main() -> None:
    clock = FakeClock(wall=1_800_000_000.0)
    cluster_key = key_pair("RS256")
    with (
        tempfile.TemporaryDirectory() as volume,
        LocalOAuthServer(
            clients={},  # no client secrets at all
            federated_clients={"reporter": (CLUSTER, SERVICE_ACCOUNT)},
            trusted_issuers={CLUSTER: cluster_key.public_pem},
            federated_audience=AUDIENCE,
            token_lifetime=600,  # access tokens live 10 minutes
            clock=clock.monotonic,
            wall_clock=clock.time,
        ) as server,
    ):
        kubelet = Kubelet(Path(volume), cluster_key, clock)
        kubelet.write_token()  # the pod starts
        provider = OAuthTokenProvider(
            server.url,
            "reporter",
            token_url=server.token_url,
            client_auth="private_key_jwt",
            assertion=f"file:{volume}/token",
            clock=clock,
        )

        def call_api(when: str) -> None:
            """Call the API, and say which of the kubelet's tokens the token request sent."""
            answer = requests.get(server.resource_url, auth=provider, timeout=10)
            record = server.last_token_request
            assert record is not None
            sent = kubelet.written.index(record.form["client_assertion"][0]) + 1
            print(f"{when}: API answered {answer.status_code}, client assertion: token {sent}")

        call_api("first call")

        clock.advance(0.8 * TOKEN_LIFETIME)  # the kubelet renews at 80% of the token's life
        kubelet.write_token()
        print("kubelet renewed the token file (..data now links to a new directory)")
        clock.advance(0.3 * TOKEN_LIFETIME)  # token 1 has expired, and so has the access token
        call_api("after token 1 expired")

        clock.advance(TOKEN_LIFETIME)  # the kubelet stopped: token 2 expires unrenewed
        before = server.token_requests
        try:
            call_api("after the kubelet stopped")
        except AssertionSourceError as exc:
            message = str(exc)
            print(f"after the kubelet stopped: {type(exc).__name__}:")
            print("  " + message.replace(volume, "VOLUME"))
            print(f"  names the file: {'yes' if volume in message else 'no'}")
            print(f"  shows the token: {'yes' if kubelet.written[-1] in message else 'no'}")
        print(f"  token requests sent with the expired token: {server.token_requests - before}")
        print(f"federated assertions verified by the server: {server.assertions_verified}")


if __name__ == "__main__":
    main()
