"""The authorization endpoint of the local OAuth server: code grant with PKCE (S256 only).

RFC 6749 §4.1, RFC 7636 and RFC 8252 §7.3 (a registered loopback redirect URI matches
any port). Not thread-safe on its own: `LocalOAuthServer` calls it under its lock.
"""

from __future__ import annotations

import html
import re
import secrets
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ._pages import Reply, check_user, login_form, page, redirect
from ._pkce import valid_challenge, verifier_matches

AUTHORIZE_PATH = "/oauth2/authorize"
#: What `Authorizer.redeem` answers for a code already spent.
CODE_REUSED = "authorization code was already used"
#: RFC 6749 §3.3 scope: space-separated scope tokens.
SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*")
_LOOPBACK = ("127.0.0.1", "::1")
_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "scope",
    "code_challenge",
    "code_challenge_method",
)


@dataclass(frozen=True)
class Grant:
    """What a person granted: the client, the user and the scopes."""

    client_id: str
    user: str
    scopes: list[str]


@dataclass(frozen=True)
class _Code:
    grant: Grant
    redirect_uri: str
    challenge: str
    expires_at: float


def redirect_allowed(registered: list[str], uri: str) -> bool:
    """Exact match, or a loopback IP literal with any port (RFC 8252 §7.3)."""
    if uri in registered:
        return True
    try:
        asked = urllib.parse.urlsplit(uri)
        asked_port = asked.port
    except ValueError:
        return False
    if asked.scheme != "http" or asked.hostname not in _LOOPBACK or asked.fragment:
        return False
    for known in map(urllib.parse.urlsplit, registered):
        same = (known.scheme, known.hostname, known.path, known.query)
        if same == (asked.scheme, asked.hostname, asked.path, asked.query):
            return asked_port is not None or known.port is None
    return False


def _add_query(uri: str, params: Mapping[str, str]) -> str:
    parts = urllib.parse.urlsplit(uri)
    query = "&".join(q for q in (parts.query, urllib.parse.urlencode(params)) if q)
    return urllib.parse.urlunsplit(parts._replace(query=query))


class Authorizer:
    """Validates authorization requests, shows the form, issues and redeems codes."""

    def __init__(
        self,
        public_clients: Mapping[str, list[str]],
        users: Mapping[str, str],
        clock: Callable[[], float],
        code_lifetime: float,
    ) -> None:
        self.public_clients = public_clients
        self.users = users
        self.clock = clock
        self.code_lifetime = code_lifetime
        self._codes: dict[str, _Code] = {}
        self._spent: set[str] = set()
        self.codes_issued = 0
        self.codes_reused = 0

    def handle(self, method: str, query: str, body: bytes) -> Reply:
        """Answer GET (show the form) or POST (the person's decision)."""
        raw = query if method == "GET" else body.decode("utf-8", "replace")
        form = urllib.parse.parse_qs(raw, keep_blank_values=True)
        if any(len(v) > 1 for k, v in form.items() if k in _PARAMS):
            return page(400, "Invalid request", "<p>A parameter was repeated.</p>")
        params = {k: form[k][0] for k in _PARAMS if k in form}
        client_id = params.get("client_id", "")
        uri = params.get("redirect_uri", "")
        if client_id not in self.public_clients:
            return page(400, "Invalid request", "<p>Unknown client_id.</p>")
        if not redirect_allowed(self.public_clients[client_id], uri):
            return page(400, "Invalid request", "<p>This redirect_uri is not registered.</p>")
        error = self._check(params)
        if error is not None:
            return self._back(params, {"error": error[0], "error_description": error[1]})
        if method != "POST":
            return self._form(params)
        user, password = (form.get(k, [None])[0] for k in ("username", "password"))
        decision = form.get("decision", [""])[0]
        if decision == "deny":
            return self._back(params, {"error": "access_denied"})
        if decision != "approve" or not check_user(self.users, user, password):
            return self._form(params, "Wrong username or password.", 401)
        code = secrets.token_urlsafe(32)
        grant = Grant(client_id, user or "", params.get("scope", "").split())
        expires_at = self.clock() + self.code_lifetime
        self._codes[code] = _Code(grant, uri, params["code_challenge"], expires_at)
        self.codes_issued += 1
        return self._back(params, {"code": code})

    @staticmethod
    def _check(params: Mapping[str, str]) -> tuple[str, str] | None:
        if params.get("response_type") != "code":
            return "unsupported_response_type", "only response_type=code"
        if not params.get("state"):
            return "invalid_request", "state is required"
        if "code_challenge" not in params:
            return "invalid_request", "code_challenge is required (PKCE)"
        if params.get("code_challenge_method") != "S256":
            return "invalid_request", "code_challenge_method must be S256"
        if not valid_challenge(params["code_challenge"]):
            return "invalid_request", "code_challenge is not a base64url SHA-256 digest"
        if "scope" in params and not SCOPE.fullmatch(params["scope"]):
            return "invalid_scope", "malformed scope"
        return None

    def _back(self, params: Mapping[str, str], answer: dict[str, str]) -> Reply:
        if params.get("state"):
            answer["state"] = params["state"]
        return redirect(_add_query(params["redirect_uri"], answer))

    def _form(self, params: Mapping[str, str], message: str = "", status: int = 200) -> Reply:
        scope = params.get("scope") or "(none)"
        intro = (
            f"<p>{html.escape(params['client_id'])} asks for access with scopes "
            f"<code>{html.escape(scope)}</code>.</p>"
        )
        reply = page(status, "Sign in", intro + login_form(AUTHORIZE_PATH, params, message))
        # Browsers apply form-action to the redirect after the post: allow the client's.
        target = urllib.parse.urlsplit(params["redirect_uri"])
        if re.fullmatch(r"[A-Za-z0-9.:\[\]-]+", target.netloc):
            origin = f"{target.scheme}://{target.netloc}"
            reply[3]["Content-Security-Policy"] += f" {origin}"
        return reply

    def redeem(
        self, code: str | None, client_id: str, redirect_uri: str | None, verifier: str | None
    ) -> Grant | str:
        """The grant of a code (spent at once), or why it was refused (a description)."""
        issued = self._codes.pop(code or "", None)
        if issued is None:
            if code in self._spent:
                self.codes_reused += 1
                return CODE_REUSED
            return "unknown authorization code"
        self._spent.add(code or "")
        if issued.expires_at <= self.clock():
            return "authorization code expired"
        if issued.grant.client_id != client_id:
            return "authorization code was issued to another client"
        if issued.redirect_uri != redirect_uri:
            return "redirect_uri does not match the authorization request"
        if not verifier_matches(verifier, issued.challenge):
            return "code_verifier does not match the code_challenge"
        return issued.grant
