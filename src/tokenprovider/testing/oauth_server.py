"""A real OAuth2 authorization server and protected resource on 127.0.0.1, for tests.

Client credentials, jwt-bearer and token exchange here (the JWT checks in `_assertions`);
the people grants (authorization code with PKCE, device code, refresh tokens with rotation)
in `_authorization`, `_device` and `_refresh_families`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from tokenprovider._extras import require

from ._assertions import (
    ACCESS_TOKEN_TYPE,
    JWT_BEARER_GRANT,
    KEY_ALGORITHMS,
    SECRET_ALGORITHM,
    TOKEN_EXCHANGE_GRANT,
    AssertionAudience,
    RefusedError,
    TokenExchangeRecord,
    Verifier,
)
from ._authorization import AUTHORIZE_PATH, CODE_REUSED, Authorizer, Grant
from ._device import DEVICE_AUTHORIZATION_PATH, VERIFICATION_PATH, DeviceFlow
from ._refresh_families import Family, RefreshFamilies
from .http_recorder import _BackgroundServer, _Handler

WellKnown = Literal["oauth", "openid", "both", "none"]
ClientAuth = Literal["basic", "post", "none", "private_key_jwt", "client_secret_jwt", "federated"]

TOKEN_PATH = "/oauth2/token"
REVOCATION_PATH = "/oauth2/revoke"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_PEOPLE_GRANTS = ("authorization_code", "refresh_token", DEVICE_GRANT)
_OPTIONAL_AUTH_GRANTS = (JWT_BEARER_GRANT, TOKEN_EXCHANGE_GRANT)  # RFC 7523 §3.1, RFC 8693 §2.1
_PEOPLE_PATHS = (AUTHORIZE_PATH, VERIFICATION_PATH, DEVICE_AUTHORIZATION_PATH, REVOCATION_PATH)
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
    family: Family | None = None


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
    """OAuth2 authorization server plus a protected resource, for tests.

    Client credentials for ``clients`` (id -> secret; by default ``client`` with
    ``client-secret``); for the people grants, the public
    clients ``public_clients`` (id -> allowed redirect URIs) and the test ``users``
    (name -> password). ``clock`` (default `time.monotonic`) dates codes and tokens.
    Use ``start()``/``stop()`` or ``with LocalOAuthServer(...) as server:``. The
    client-credentials arguments are plain attributes that may be changed while the server
    runs; ``public_clients`` and ``users`` may be updated in place.

    Signed assertions (all optional, plain attributes too): ``client_keys`` (id -> public
    key PEM) authenticate with ``private_key_jwt``, ``clients`` may also use
    ``client_secret_jwt``, ``federated_clients`` (id -> (issuer, subject)) present a token
    of a ``trusted_issuers`` issuer (issuer -> public key PEM), which also sign jwt-bearer
    assertions and token-exchange subject and actor tokens. ``wall_clock`` (default
    `time.time`) is what their ``exp``, ``iat`` and ``nbf`` are checked against.
    """

    def __init__(
        self,
        *,
        clients: Mapping[str, str] | None = None,
        token_lifetime: float = 3600.0,
        latency: float = 0.0,
        include_expires_in: bool = True,
        well_known: WellKnown = "oauth",
        public_clients: Mapping[str, Iterable[str]] | None = None,
        users: Mapping[str, str] | None = None,
        code_lifetime: float = 60.0,
        device_code_lifetime: float = 600.0,
        device_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        client_keys: Mapping[str, str] | None = None,
        federated_clients: Mapping[str, tuple[str, str]] | None = None,
        trusted_issuers: Mapping[str, str] | None = None,
        assertion_audience: AssertionAudience = "either",
        max_assertion_lifetime: float = 300.0,
        federated_audience: str = "api://AzureADTokenExchange",
        exchange_targets: Collection[str] | None = None,
        exchange_token_type: str | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        if well_known not in _DISCOVERY:
            raise ValueError(f"well_known must be one of {sorted(_DISCOVERY)}")
        # A secret of 8 characters or more, which a provider takes without a warning.
        default = {"client": "client-secret"}
        self.clients: dict[str, str] = default if clients is None else dict(clients)
        self.token_lifetime = token_lifetime
        self.latency = latency
        self.include_expires_in = include_expires_in
        self.well_known: WellKnown = well_known
        self.public_clients = {k: list(v) for k, v in (public_clients or {}).items()}
        self.users = dict(users or {})
        self.clock = clock
        if client_keys or federated_clients or trusted_issuers:
            require("jwt", "LocalOAuthServer's checks of signed assertions")
        self.client_keys = dict(client_keys or {})
        self.federated_clients = dict(federated_clients or {})
        self.trusted_issuers = dict(trusted_issuers or {})
        self.assertion_audience: AssertionAudience = assertion_audience
        self.max_assertion_lifetime = max_assertion_lifetime
        self.federated_audience = federated_audience
        self.exchange_targets = exchange_targets
        self.exchange_token_type = exchange_token_type
        self.wall_clock = wall_clock
        self._verifier = Verifier()
        self._authorizer = Authorizer(self.public_clients, self.users, clock, code_lifetime)
        self._device = DeviceFlow(self.users, clock, device_code_lifetime, device_interval)
        self._families = RefreshFamilies()
        self._signing_key = secrets.token_bytes(32)
        self._code_families: dict[str, Family] = {}
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
            self._families.clear()

    def expire_all(self) -> None:
        """Make every token issued so far expired."""
        now = self.clock()
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
    def authorization_codes_issued(self) -> int:
        """Authorization codes issued by the authorization endpoint."""
        with self._cond:
            return self._authorizer.codes_issued

    @property
    def authorization_codes_reused(self) -> int:
        """Token requests that presented an authorization code already spent."""
        with self._cond:
            return self._authorizer.codes_reused

    @property
    def refresh_tokens_issued(self) -> int:
        """Refresh tokens issued (first ones and rotations)."""
        with self._cond:
            return self._families.issued

    @property
    def refresh_reuse_detected(self) -> int:
        """Token requests that presented an already-rotated refresh token."""
        with self._cond:
            return self._families.reuse_detected

    @property
    def families_revoked(self) -> int:
        """Refresh-token families revoked (by reuse detection or by revocation)."""
        with self._cond:
            return self._families.revoked

    @property
    def device_slow_downs(self) -> int:
        """``slow_down`` answers sent to device-code polls."""
        with self._cond:
            return self._device.slow_downs

    @property
    def assertions_verified(self) -> int:
        """Client assertions accepted (private_key_jwt, client_secret_jwt, federated)."""
        return self._verifier.verified

    @property
    def assertions_replayed(self) -> int:
        """Client assertions refused because their ``jti`` was seen before."""
        return self._verifier.replayed

    @property
    def exchanges(self) -> list[TokenExchangeRecord]:
        """A copy of the token exchanges granted, oldest first."""
        return self._verifier.exchanged()

    @property
    def public_key_pem(self) -> str:
        """The public key (ES256) of the JWTs this server issues by token exchange."""
        return self._verifier.own_key().public_pem

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
            self._authorizer.codes_issued = self._authorizer.codes_reused = 0
            self._families.issued = self._families.reuse_detected = self._families.revoked = 0
            self._device.slow_downs = 0
        self._verifier.reset_counters()

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
        elif url.path in _PEOPLE_PATHS:
            self._people_route(request, url, body)
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

    def _people_route(self, request: _Handler, url: urllib.parse.SplitResult, body: bytes) -> None:
        """The endpoints of the people grants."""
        method = request.command
        if url.path in (AUTHORIZE_PATH, VERIFICATION_PATH) and method in ("GET", "POST"):
            with self._cond:
                if url.path == AUTHORIZE_PATH:
                    reply = self._authorizer.handle(method, url.query, body)
                else:
                    reply = self._device.page(method, url.query, body)
            status, text, content_type, headers = reply
            request.respond(status, text, content_type, headers)
        elif method != "POST":
            self._error(request, 405, "invalid_request", "method not allowed")
        elif url.path == REVOCATION_PATH:
            self._revoke(request, body)
        else:
            self._device_authorization(request, body)

    def _metadata(self) -> dict[str, object]:
        """RFC 8414 metadata; the people grants are listed once there are public clients,
        the assertion methods and grants once keys or trusted issuers are configured."""
        auth_methods = ["client_secret_basic", "client_secret_post"]
        grants = ["client_credentials"]
        endpoint_methods = list(auth_methods)
        metadata: dict[str, object] = {"issuer": self.url, "token_endpoint": self.token_url}
        if self.public_clients:
            grants.extend(_PEOPLE_GRANTS)
            endpoint_methods.append("none")
            metadata.update(
                {
                    "authorization_endpoint": self.url + AUTHORIZE_PATH,
                    "device_authorization_endpoint": self.url + DEVICE_AUTHORIZATION_PATH,
                    "revocation_endpoint": self.url + REVOCATION_PATH,
                    "response_types_supported": ["code"],
                    "code_challenge_methods_supported": ["S256"],
                    "revocation_endpoint_auth_methods_supported": [*auth_methods, "none"],
                }
            )
        if self.client_keys or self.federated_clients or self.trusted_issuers:
            grants.extend(_OPTIONAL_AUTH_GRANTS)
            endpoint_methods.extend(["private_key_jwt", "client_secret_jwt"])
            algorithms = [*KEY_ALGORITHMS, SECRET_ALGORITHM]
            metadata["token_endpoint_auth_signing_alg_values_supported"] = algorithms
        metadata["grant_types_supported"] = grants
        metadata["token_endpoint_auth_methods_supported"] = endpoint_methods
        return metadata

    def _token_endpoint(self, request: _Handler, body: bytes) -> None:
        headers = request.header_dict()
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        uses_basic = scheme.lower() == "basic"
        uses_assertion = "client_assertion" in form or "client_assertion_type" in form
        uses_post = not uses_assertion and ("client_id" in form or "client_secret" in form)
        client_id: str | None = None
        secret: str | None = None
        client_auth: ClientAuth = "none"
        if uses_basic:
            client_auth = "basic"
            client_id, secret = _decode_basic(credentials)
        elif uses_assertion:
            client_auth, client_id = self._verifier.kind(form, self)
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
        elif (uses_basic and (uses_post or uses_assertion)) or (
            uses_assertion and "client_secret" in form
        ):
            self._error(request, 400, "invalid_request", "use only one client authentication")
        elif not uses_assertion and (
            self._is_public(client_id, uses_basic, secret)
            and _first(form, "grant_type") in _PEOPLE_GRANTS
        ):
            self._people_grant(request, client_id or "", form)
        else:
            try:
                self._grant(request, form, uses_assertion, client_id, secret)
            except RefusedError as refused:
                self._error(request, refused.status, refused.error, refused.description)

    def _grant(
        self,
        request: _Handler,
        form: dict[str, list[str]],
        uses_assertion: bool,
        client_id: str | None,
        secret: str | None,
    ) -> None:
        """Client credentials, jwt-bearer and token exchange (the last two need no client
        authentication, but check it when sent)."""
        grant_type = _first(form, "grant_type")
        if uses_assertion:
            client_id = self._verifier.client(form, self)
        elif client_id is None or not self._authenticate(client_id, secret):
            known = (self.clients, self.client_keys, self.federated_clients)
            confidential = any(client_id in names for names in known)
            if grant_type not in _OPTIONAL_AUTH_GRANTS or secret is not None or confidential:
                self._error(
                    request,
                    401,
                    "invalid_client",
                    "client authentication failed",
                    {"WWW-Authenticate": 'Basic realm="local"'},
                )
                return
            client_id = None  # identified at most, not authenticated
        if not grant_type:
            self._error(request, 400, "invalid_request", "missing grant_type")
        elif grant_type == JWT_BEARER_GRANT:
            subject = self._verifier.grant_assertion(form, self)
            request.respond_json(200, self._issue(client_id or subject, form), _NO_STORE)
        elif grant_type == TOKEN_EXCHANGE_GRANT:
            request.respond_json(200, self._exchange(client_id, form), _NO_STORE)
        elif grant_type != "client_credentials" or client_id is None:
            self._error(request, 400, "unsupported_grant_type", "unsupported grant_type")
        else:
            request.respond_json(200, self._issue(client_id, form), _NO_STORE)

    def _exchange(self, client_id: str | None, form: dict[str, list[str]]) -> dict[str, object]:
        """RFC 8693 §2.2.1: an access token, or a JWT signed with `public_key_pem`."""
        record = self._verifier.exchange(form, self, client_id, self._owner_of)
        token = None
        if record.requested_token_type != ACCESS_TOKEN_TYPE:
            token = self._verifier.issue_jwt(self, record, self.token_lifetime)
        payload = self._issue(client_id or record.subject or "", form, token)
        payload["issued_token_type"] = record.requested_token_type
        default = "Bearer" if record.requested_token_type == ACCESS_TOKEN_TYPE else "N_A"
        payload["token_type"] = self.exchange_token_type or default
        return payload

    def _is_public(self, client_id: str | None, uses_basic: bool, secret: str | None) -> bool:
        return not uses_basic and secret is None and client_id in self.public_clients

    def _people_grant(self, request: _Handler, client_id: str, form: dict[str, list[str]]) -> None:
        """The authorization_code, refresh_token and device_code grants of a public client."""
        grant_type = _first(form, "grant_type")
        with self._cond:
            if grant_type == "authorization_code":
                code = _first(form, "code") or ""
                granted: Grant | Family | str | tuple[str, str] = self._authorizer.redeem(
                    code, client_id, _first(form, "redirect_uri"), _first(form, "code_verifier")
                )
                if granted == CODE_REUSED and code in self._code_families:
                    # RFC 6749 §4.1.2: revoke what was issued from a code used twice
                    for token in self._families.revoke(self._code_families.pop(code)):
                        self._tokens.pop(token, None)
                if isinstance(granted, Grant):
                    granted = self._families.start(granted.client_id, granted.user, granted.scopes)
                    self._code_families[code] = granted
            elif grant_type == "refresh_token":
                refresh = _first(form, "refresh_token") or ""
                family, forget = self._families.rotate(refresh, client_id)
                for token in forget:
                    self._tokens.pop(token, None)
                granted = family or "refresh token is invalid, expired or revoked"
            else:
                granted = self._device.poll(_first(form, "device_code"), client_id)
            if isinstance(granted, Grant):
                granted = self._families.start(granted.client_id, granted.user, granted.scopes)
            payload = self._issue_for(granted) if isinstance(granted, Family) else None
        if payload is not None:
            request.respond_json(200, payload, _NO_STORE)
        else:  # answered outside the lock, as the token is
            error = ("invalid_grant", granted) if isinstance(granted, str) else granted
            assert isinstance(error, tuple)
            self._error(request, 400, *error)

    def _issue_for(self, family: Family) -> dict[str, object]:
        """Access token plus the family's current refresh token (under the lock)."""
        token = secrets.token_urlsafe(24)
        lifetime = self.token_lifetime
        issued = _Token(family.client_id, family.scopes, None, self.clock() + lifetime, family)
        self._tokens[token] = issued
        family.access.add(token)
        self._tokens_issued += 1
        payload: dict[str, object] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": int(lifetime) if lifetime >= 1 else lifetime,
            "refresh_token": family.refresh,
        }
        if family.scopes:
            payload["scope"] = " ".join(family.scopes)
        if "openid" in family.scopes:
            payload["id_token"] = self._id_token(family, lifetime)
        return payload

    def _id_token(self, family: Family, lifetime: float) -> str:
        """An OpenID Connect ID token naming the user (HS256, with this server's own key)."""

        def part(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

        now = int(time.time())
        claims = {
            "iss": self.url,
            "sub": family.user,
            "preferred_username": family.user,
            "aud": family.client_id,
            "iat": now,
            "exp": now + int(max(lifetime, 1)),
        }
        signed = part(b'{"alg":"HS256","typ":"JWT"}') + "." + part(json.dumps(claims).encode())
        signature = hmac.new(self._signing_key, signed.encode(), hashlib.sha256).digest()
        return signed + "." + part(signature)

    def _client_of(self, request: _Handler, form: dict[str, list[str]]) -> str | None:
        """The client a revocation or device request authenticates as (public or not)."""
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "basic":
            client_id, secret = _decode_basic(credentials)
        else:
            client_id, secret = _first(form, "client_id"), _first(form, "client_secret")
        if self._is_public(client_id, scheme.lower() == "basic", secret):
            return client_id
        if client_id is not None and self._authenticate(client_id, secret):
            return client_id
        return None

    def _device_authorization(self, request: _Handler, body: bytes) -> None:
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        client_id = self._client_of(request, form)
        if client_id is None or client_id not in self.public_clients:
            self._error(request, 401, "invalid_client", "unknown public client")
            return
        with self._cond:
            answer = self._device.authorize(client_id, _first(form, "scope"), self.url)
        if isinstance(answer, str):
            self._error(request, 400, "invalid_scope", answer)
        else:
            request.respond_json(200, answer, _NO_STORE)

    def _revoke(self, request: _Handler, body: bytes) -> None:
        """RFC 7009: revoke a refresh token (its whole family) or an access token."""
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        client_id = self._client_of(request, form)
        token = _first(form, "token")
        if client_id is None:
            self._error(request, 401, "invalid_client", "client authentication failed")
            return
        if not token:
            self._error(request, 400, "invalid_request", "missing token")
            return
        with self._cond:
            family = self._families.find(token)
            access = self._tokens.get(token)
            if family is None and access is not None and access.client_id == client_id:
                family = access.family
                self._tokens.pop(token)
                if family is not None:
                    family.access.discard(token)
                    family = None
            if family is not None and family.client_id == client_id:
                for forget in self._families.revoke(family):
                    self._tokens.pop(forget, None)
        request.respond(200, b"", "text/plain", _NO_STORE)

    def _authenticate(self, client_id: str, secret: str | None) -> bool:
        expected = self.clients.get(client_id)
        if expected is None or secret is None:
            return False
        return secrets.compare_digest(expected.encode(), secret.encode())

    def _issue(
        self, client_id: str, form: dict[str, list[str]], token: str | None = None
    ) -> dict[str, object]:
        scopes = " ".join(form.get("scope", [])).split()
        audience = _first(form, "audience") or _first(form, "resource")
        lifetime = self.token_lifetime
        token = token or secrets.token_urlsafe(24)
        with self._cond:
            self._tokens[token] = _Token(client_id, scopes, audience, self.clock() + lifetime)
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
        return self._live(token.strip()) if scheme.lower() == "bearer" else None

    def _live(self, token: str) -> _Token | None:
        with self._cond:  # revoke_all() and expire_all() change expires_at under it
            issued = self._tokens.get(token)
            if issued is not None and issued.expires_at <= self.clock():
                return None
            return issued

    def _owner_of(self, token: str) -> str | None:
        """The client of a live access token issued here (a token-exchange subject)."""
        issued = self._live(token)
        return None if issued is None else issued.client_id

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
