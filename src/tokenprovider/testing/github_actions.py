"""A stand-in for the GitHub Actions OIDC token endpoint, on 127.0.0.1.

A job with ``permissions: id-token: write`` gets ``ACTIONS_ID_TOKEN_REQUEST_URL`` (a URL
that already has a query, ``?api-version=2.0``) and ``ACTIONS_ID_TOKEN_REQUEST_TOKEN``; a
client GETs the URL with ``&audience=AUD`` added and ``Authorization: bearer TOKEN``, and
gets ``{"count": N, "value": JWT}``: an RS256 ID token naming the repository and ref.
"""

from __future__ import annotations

import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from tokenprovider._extras import require

from .http_recorder import _BackgroundServer, _Handler
from .keys import key_pair

TOKEN_PATH = "/_apis/idtoken"
REQUEST_URL_VARIABLE = "ACTIONS_ID_TOKEN_REQUEST_URL"
REQUEST_TOKEN_VARIABLE = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"


class LocalGitHubActionsOIDC(_BackgroundServer):
    """The Actions ID-token endpoint for one job of ``repository`` at ``ref``.

    Tokens are signed with an RSA key (shared per process, see `key_pair`) whose public half
    is `public_key_pem`; their ``iss`` is `issuer` (this server's URL), ``sub`` is
    ``subject`` (by default ``repo:OWNER/REPO:ref:REF``), and they live ``lifetime``
    seconds of ``wall_clock``. Without ``audience`` the ``aud`` is ``https://github.com/OWNER``.
    """

    def __init__(
        self,
        *,
        repository: str = "octo-org/octo-repo",
        ref: str = "refs/heads/main",
        subject: str | None = None,
        lifetime: float = 300.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        require("jwt", "tokenprovider.testing.LocalGitHubActionsOIDC")  # it signs tokens
        self.repository = repository
        self.ref = ref
        self.subject = subject or f"repo:{repository}:ref:{ref}"
        self.lifetime = lifetime
        self.wall_clock = wall_clock
        self._key = key_pair("RS256")
        self._request_token = secrets.token_urlsafe(32)
        self._lock = threading.Lock()
        self._requests = 0
        self._audiences: list[str | None] = []
        self._failures: list[int] = []

    @property
    def request_url(self) -> str:
        """The ``ACTIONS_ID_TOKEN_REQUEST_URL`` of the job (with ``?api-version=2.0``)."""
        return self.url + TOKEN_PATH + "?api-version=2.0"

    @property
    def request_token(self) -> str:
        """The ``ACTIONS_ID_TOKEN_REQUEST_TOKEN`` of the job (a secret)."""
        return self._request_token

    @property
    def issuer(self) -> str:
        """The ``iss`` of the tokens: this server's URL."""
        return self.url

    @property
    def public_key_pem(self) -> str:
        """The public key that verifies the tokens (RS256)."""
        return self._key.public_pem

    def environ(self) -> dict[str, str]:
        """The two variables a runner sets, for ``monkeypatch.setenv`` or a child's env."""
        return {REQUEST_URL_VARIABLE: self.request_url, REQUEST_TOKEN_VARIABLE: self.request_token}

    @property
    def requests(self) -> int:
        """GET requests to the token path (refused and failed ones included)."""
        with self._lock:
            return self._requests

    @property
    def audiences(self) -> list[str | None]:
        """The ``audience`` each GET asked for (None when absent), in order."""
        with self._lock:
            return list(self._audiences)

    def fail_next(self, count: int, status: int = 503) -> None:
        """Answer the next ``count`` GET requests with ``status`` (before checking the bearer)."""
        with self._lock:
            self._failures.extend([status] * count)

    def handle(self, request: _Handler, body: bytes) -> None:
        """Answer one request; only ``GET`` on the token path gets a token."""
        url = urllib.parse.urlsplit(request.path)
        if url.path != TOKEN_PATH:
            request.respond_json(404, {"message": "Not Found"})
            return
        if request.command != "GET":
            request.respond_json(405, {"message": "use GET"}, {"Allow": "GET"})
            return
        audience = urllib.parse.parse_qs(url.query).get("audience", [None])[0]
        with self._lock:
            self._requests += 1
            self._audiences.append(audience)
            failure = self._failures.pop(0) if self._failures else None
            count = self._requests
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if failure is not None:
            request.respond_json(failure, {"message": "injected failure"})
        elif scheme.lower() != "bearer" or not secrets.compare_digest(
            token.strip().encode(), self._request_token.encode()
        ):
            request.respond_json(401, {"message": "bad or missing bearer token"})
        else:
            request.respond_json(200, {"count": count, "value": self._token(audience)})

    def _token(self, audience: str | None) -> str:
        now = int(self.wall_clock())
        owner = self.repository.partition("/")[0]
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": self.subject,
            "aud": audience if audience is not None else f"https://github.com/{owner}",
            "iat": now,
            "nbf": now,
            "exp": now + int(max(self.lifetime, 1)),
            "jti": secrets.token_urlsafe(16),
            "repository": self.repository,
            "repository_owner": owner,
            "ref": self.ref,
        }
        jwt = require("jwt", "tokenprovider.testing.LocalGitHubActionsOIDC")
        token: str = jwt.encode(claims, self._key.private_pem, algorithm="RS256")
        return token
