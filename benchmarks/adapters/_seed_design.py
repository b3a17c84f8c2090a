"""The seed's design, rebuilt from its documentation alone (our code, not foundry's).

foundry-dev-tools' "Token provider implementation" page documents its providers: a
`TokenProvider` has a ``host`` and a ``token`` and a ``requests_auth_handler`` that takes a
`requests.PreparedRequest`, modifies it and returns it (a session takes it as its
``auth``); a `CachedTokenProvider` keeps ``_cached`` and ``_valid_until`` with a
``_clock_skew`` of 10, has no lock, and fetches again whenever ``not self._cached or
self._valid_until < time.time() + 10`` (the literal 10 of the documented property, which
``_clock_skew`` does not change); ``_request_token()`` returns the token and its absolute
expiry. The documented OAuth provider is "based on it"; how it asks for a token is not
documented, so `SeedOAuthTokenProvider._request_token` is a plain client-credentials POST:
Basic client authentication, one attempt, an error status raised as `requests.HTTPError`.

foundry-dev-tools itself is not used: it needs 14 more packages here (palantir-oauth-client,
inquirer, rich, websockets and what they need), importing its token providers imports its
whole Foundry client, and its OAuth provider posts to ``HOST/multipass/api/oauth2/token``.
"""

from __future__ import annotations

import time

import requests


class SeedTokenProvider:
    """A host and a token; its handler sets the ``Authorization`` header."""

    def __init__(self, host: str) -> None:
        self.host = host

    @property
    def token(self) -> str:
        raise NotImplementedError

    def requests_auth_handler(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.token}"
        return r


class SeedCachedTokenProvider(SeedTokenProvider):
    """Caches the token of ``_request_token`` as the documented property does."""

    _cached: str | None = None
    _valid_until: float = -1
    _clock_skew: int = 10

    def invalidate_cache(self) -> None:
        self._cached = None
        self._valid_until = -1

    def _request_token(self) -> tuple[str, float]:
        raise NotImplementedError

    @property
    def token(self) -> str:
        if not self._cached or self._valid_until < time.time() + 10:
            self._cached, self._valid_until = self._request_token()
        return self._cached


class SeedOAuthTokenProvider(SeedCachedTokenProvider):
    """Client credentials from ``token_url``."""

    def __init__(self, host: str, client_id: str, client_secret: str, token_url: str) -> None:
        super().__init__(host)
        self._client_id = client_id
        self._client_secret = client_secret
        self._token_url = token_url

    def _request_token(self) -> tuple[str, float]:
        response = requests.post(
            self._token_url,
            data={"grant_type": "client_credentials"},
            auth=(self._client_id, self._client_secret),
            timeout=30,
        )
        response.raise_for_status()
        answer = response.json()
        return answer["access_token"], time.time() + answer["expires_in"]
