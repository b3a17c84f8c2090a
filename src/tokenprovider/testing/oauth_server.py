"""A real OAuth2 client-credentials authorization server and protected resource on 127.0.0.1."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from .http_recorder import _BackgroundServer, _Handler

WellKnown = Literal["oauth", "openid", "both", "none"]
ClientAuth = Literal["basic", "post", "none"]

TOKEN_PATH = "/oauth2/token"
RESOURCE_PATH = "/resource"
_OAUTH_METADATA = "/.well-known/oauth-authorization-server"
_OPENID_METADATA = "/.well-known/openid-configuration"
_DISCOVERY: dict[str, tuple[str, ...]] = {
    "oauth": (_OAUTH_METADATA,),
    "openid": (_OPENID_METADATA,),
    "both": (_OAUTH_METADATA, _OPENID_METADATA),
    "none": (),
}
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@dataclass(frozen=True)
class TokenRequestRecord:
    """One request received by the token endpoint (header names lower-cased)."""

    headers: dict[str, str]
    form: dict[str, list[str]]
    client_auth: ClientAuth
    client_id: str | None


@dataclass(frozen=True)
class _Canned:
    """A queued response that replaces normal token-endpoint processing."""

    status: int = 0
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    drop: bool = False


@dataclass
class _Token:
    client_id: str
    scopes: list[str]
    audience: str | None
    expires_at: float


def _decode_basic(credentials: str) -> tuple[str | None, str | None]:
    """Decode RFC 6749 §2.3.1 Basic credentials; (None, None) if malformed."""
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return None, None
    return urllib.parse.unquote_plus(client_id), urllib.parse.unquote_plus(secret)


def _first(form: Mapping[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


def _format_retry_after(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


class LocalOAuthServer(_BackgroundServer):
    """OAuth2 token endpoint (client credentials) plus a protected resource, for tests.

    Use ``start()``/``stop()`` or ``with LocalOAuthServer(...) as server:``. The constructor
    arguments are plain attributes that may be changed while the server runs.
    """

    def __init__(
        self,
        *,
        clients: Mapping[str, str] | None = None,
        token_lifetime: float = 3600.0,
        latency: float = 0.0,
        include_expires_in: bool = True,
        well_known: WellKnown = "oauth",
    ) -> None:
        super().__init__()
        if well_known not in _DISCOVERY:
            raise ValueError(f"well_known must be one of {sorted(_DISCOVERY)}")
        self.clients: dict[str, str] = {"client": "secret"} if clients is None else dict(clients)
        self.token_lifetime = token_lifetime
        self.latency = latency
        self.include_expires_in = include_expires_in
        self.well_known: WellKnown = well_known
        self._cond = threading.Condition()
        self._gate = threading.Event()
        self._gate.set()
        self._canned: deque[_Canned] = deque()
        self._tokens: dict[str, _Token] = {}
        self._records: list[TokenRequestRecord] = []
        self._token_requests = self._tokens_issued = 0
        self._resource_requests = self._resource_unauthorized = 0

    @property
    def token_url(self) -> str:
        """URL of the token endpoint."""
        return self.url + TOKEN_PATH

    @property
    def resource_url(self) -> str:
        """URL of the protected resource."""
        return self.url + RESOURCE_PATH

    # -- failure injection -------------------------------------------------------------

    def fail_next(
        self,
        count: int,
        status: int = 503,
        *,
        retry_after: float | None = None,
        body: bytes | None = None,
        content_type: str = "application/json",
    ) -> None:
        """Answer the next ``count`` token requests with ``status`` (and optional Retry-After)."""
        headers: tuple[tuple[str, str], ...] = ()
        if retry_after is not None:
            headers = (("Retry-After", _format_retry_after(retry_after)),)
        if body is None:
            body = json.dumps({"error": "temporarily_unavailable"}).encode()
        self._enqueue(count, _Canned(status, body, content_type, headers))

    def respond_next(
        self, status: int, body: bytes, content_type: str = "application/json", count: int = 1
    ) -> None:
        """Answer the next ``count`` token requests with exactly this raw response."""
        self._enqueue(count, _Canned(status, body, content_type))

    def drop_next(self, count: int = 1) -> None:
        """Close the connection of the next ``count`` token requests without answering."""
        self._enqueue(count, _Canned(drop=True))

    def _enqueue(self, count: int, canned: _Canned) -> None:
        with self._cond:
            self._canned.extend([canned] * count)

    def revoke_all(self) -> None:
        """Invalidate every token issued so far."""
        with self._cond:
            self._tokens.clear()

    def expire_all(self) -> None:
        """Make every token issued so far expired."""
        now = time.monotonic()
        with self._cond:
            for token in self._tokens.values():
                token.expires_at = min(token.expires_at, now)

    def hold_token_requests(self) -> None:
        """Make token requests wait (after being counted) until released."""
        self._gate.clear()

    def release_token_requests(self) -> None:
        """Let all held and future token requests proceed."""
        self._gate.set()

    def stop(self) -> None:
        """Release held requests, then stop serving; safe to call twice."""
        self.release_token_requests()
        super().stop()

    # -- counters and records ------------------------------------------------------------

    @property
    def token_requests(self) -> int:
        """Requests to the token endpoint, including injected failures."""
        with self._cond:
            return self._token_requests

    @property
    def tokens_issued(self) -> int:
        """Access tokens successfully issued."""
        with self._cond:
            return self._tokens_issued

    @property
    def resource_requests(self) -> int:
        """Requests to the protected resource."""
        with self._cond:
            return self._resource_requests

    @property
    def resource_unauthorized(self) -> int:
        """401 responses sent by the protected resource."""
        with self._cond:
            return self._resource_unauthorized

    @property
    def token_request_records(self) -> list[TokenRequestRecord]:
        """A copy of all token requests received."""
        with self._cond:
            return list(self._records)

    @property
    def last_token_request(self) -> TokenRequestRecord | None:
        """The most recent token request, if any."""
        with self._cond:
            return self._records[-1] if self._records else None

    def reset_counters(self) -> None:
        """Zero all counters and forget recorded token requests."""
        with self._cond:
            self._records.clear()
            self._token_requests = self._tokens_issued = 0
            self._resource_requests = self._resource_unauthorized = 0

    def wait_for_token_requests(self, n: int, timeout: float = 10.0) -> bool:
        """Block until at least ``n`` token requests arrived; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._token_requests >= n, timeout)

    # -- request handling ------------------------------------------------------------------

    def handle(self, request: _Handler, body: bytes) -> None:
        """Route one request."""
        url = urllib.parse.urlsplit(request.path)
        is_get = request.command == "GET"
        if url.path == TOKEN_PATH:
            if request.command == "POST":
                self._token_endpoint(request, body)
            else:
                self._error(request, 405, "invalid_request", "use POST", {"Allow": "POST"})
        elif url.path == RESOURCE_PATH or url.path.startswith(RESOURCE_PATH + "/"):
            self._resource(request, url.path)
        elif is_get and url.path in _DISCOVERY.get(self.well_known, ()):
            request.respond_json(200, self._metadata())
        elif is_get and url.path == "/redirect":
            target = urllib.parse.parse_qs(url.query).get("to")
            if target:
                request.respond(302, b"", "text/plain", {"Location": target[0]})
            else:
                self._error(request, 400, "invalid_request", "missing 'to' parameter")
        else:
            request.respond_json(404, {"error": "not_found", "path": url.path})

    def _metadata(self) -> dict[str, object]:
        return {
            "issuer": self.url,
            "token_endpoint": self.token_url,
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }

    def _token_endpoint(self, request: _Handler, body: bytes) -> None:
        headers = request.header_dict()
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        uses_basic = scheme.lower() == "basic"
        uses_post = "client_id" in form or "client_secret" in form
        client_id: str | None = None
        secret: str | None = None
        client_auth: ClientAuth = "none"
        if uses_basic:
            client_auth = "basic"
            client_id, secret = _decode_basic(credentials)
        elif uses_post:
            client_auth = "post"
            client_id, secret = _first(form, "client_id"), _first(form, "client_secret")

        with self._cond:
            self._token_requests += 1
            self._records.append(TokenRequestRecord(headers, form, client_auth, client_id))
            canned = self._canned.popleft() if self._canned else None
            self._cond.notify_all()
        self._gate.wait()
        if self.latency > 0:
            time.sleep(self.latency)

        if canned is not None and canned.drop:
            request.drop()
        elif canned is not None:
            request.respond(canned.status, canned.body, canned.content_type, dict(canned.headers))
        elif uses_basic and uses_post:
            self._error(request, 400, "invalid_request", "use only one client authentication")
        elif client_id is None or not self._authenticate(client_id, secret):
            self._error(
                request,
                401,
                "invalid_client",
                "client authentication failed",
                {"WWW-Authenticate": 'Basic realm="local"'},
            )
        elif not _first(form, "grant_type"):
            self._error(request, 400, "invalid_request", "missing grant_type")
        elif _first(form, "grant_type") != "client_credentials":
            self._error(request, 400, "unsupported_grant_type", "only client_credentials")
        else:
            request.respond_json(200, self._issue(client_id, form), _NO_STORE)

    def _authenticate(self, client_id: str, secret: str | None) -> bool:
        expected = self.clients.get(client_id)
        if expected is None or secret is None:
            return False
        return secrets.compare_digest(expected.encode(), secret.encode())

    def _issue(self, client_id: str, form: dict[str, list[str]]) -> dict[str, object]:
        scopes = " ".join(form.get("scope", [])).split()
        audience = _first(form, "audience") or _first(form, "resource")
        lifetime = self.token_lifetime
        token = secrets.token_urlsafe(24)
        with self._cond:
            self._tokens[token] = _Token(client_id, scopes, audience, time.monotonic() + lifetime)
            self._tokens_issued += 1
        payload: dict[str, object] = {"access_token": token, "token_type": "Bearer"}
        if self.include_expires_in:
            payload["expires_in"] = int(lifetime) if lifetime >= 1 else lifetime
        if scopes:
            payload["scope"] = " ".join(scopes)
        return payload

    def accepts(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` value carries a live bearer token issued here.

        Subclasses use it to protect endpoints of their own, as `/resource` is protected.
        """
        return self._issued(authorization) is not None

    def _issued(self, authorization: str | None) -> _Token | None:
        scheme, _, token = (authorization or "").partition(" ")
        with self._cond:  # revoke_all() and expire_all() change expires_at under it
            issued = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
            if issued is not None and issued.expires_at <= time.monotonic():
                return None
            return issued

    def _resource(self, request: _Handler, path: str) -> None:
        issued = self._issued(request.headers.get("Authorization"))
        with self._cond:
            self._resource_requests += 1
            if issued is None:
                self._resource_unauthorized += 1
        if issued is None:
            request.respond_json(
                401,
                {"error": "invalid_token"},
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        else:
            request.respond_json(
                200, {"client_id": issued.client_id, "scope": issued.scopes, "path": path}
            )

    @staticmethod
    def _error(
        request: _Handler,
        status: int,
        error: str,
        description: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Send an RFC 6749 §5.2 error response."""
        body = {"error": error, "error_description": description}
        request.respond_json(status, body, {**_NO_STORE, **(headers or {})})
