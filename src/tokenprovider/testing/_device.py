"""The device authorization grant (RFC 8628) of the local OAuth server.

Not thread-safe on its own: `LocalOAuthServer` calls it under its lock.
"""

from __future__ import annotations

import html
import secrets
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from ._authorization import SCOPE, Grant
from ._pages import Reply, check_user, login_form, page

DEVICE_AUTHORIZATION_PATH = "/oauth2/device_authorization"
VERIFICATION_PATH = "/device"
_USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"  # RFC 8628 §6.1: no vowels, no look-alikes


@dataclass
class _Pending:
    client_id: str
    scopes: list[str]
    user_code: str
    expires_at: float
    interval: float
    last_poll: float | None = None
    state: Literal["pending", "approved", "denied"] = "pending"
    user: str = ""


def _normalise(user_code: str) -> str:
    return "".join(c for c in user_code.upper() if c.isalnum())


class DeviceFlow:
    """Device codes: issued, verified on a page by a person, and polled for."""

    def __init__(
        self, users: Mapping[str, str], clock: Callable[[], float], lifetime: float, interval: float
    ) -> None:
        self.users = users
        self.clock = clock
        self.lifetime = lifetime
        self.interval = interval
        self._by_device: dict[str, _Pending] = {}
        self._by_user: dict[str, str] = {}
        self.slow_downs = 0

    def authorize(
        self, client_id: str, scope: str | None, base_url: str
    ) -> dict[str, object] | str:
        """RFC 8628 §3.2 answer, or an ``invalid_scope`` description."""
        if scope is not None and not SCOPE.fullmatch(scope):
            return "malformed scope"
        device_code = secrets.token_urlsafe(32)
        letters = "".join(secrets.choice(_USER_CODE_ALPHABET) for _ in range(8))
        user_code = f"{letters[:4]}-{letters[4:]}"
        expires_at = self.clock() + self.lifetime
        scopes = (scope or "").split()
        self._by_device[device_code] = _Pending(
            client_id, scopes, user_code, expires_at, self.interval
        )
        self._by_user[_normalise(user_code)] = device_code
        uri = base_url + VERIFICATION_PATH
        return {
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": uri,
            "verification_uri_complete": f"{uri}?user_code={user_code}",
            "expires_in": int(self.lifetime) if self.lifetime >= 1 else self.lifetime,
            "interval": int(self.interval) if self.interval >= 1 else self.interval,
        }

    def poll(self, device_code: str | None, client_id: str) -> Grant | tuple[str, str]:
        """The grant once approved (spent at once), or an RFC 8628 §3.5 (error, description)."""
        pending = self._by_device.get(device_code or "")
        if pending is None or pending.client_id != client_id:
            return "invalid_grant", "unknown device_code"
        now = self.clock()
        if pending.expires_at <= now:
            self._forget(device_code or "")
            return "expired_token", "the device code expired; start again"
        if pending.state == "denied":
            self._forget(device_code or "")
            return "access_denied", "the user denied the request"
        if pending.state == "approved":
            self._forget(device_code or "")
            return Grant(pending.client_id, pending.user, pending.scopes)
        too_soon = pending.last_poll is not None and now - pending.last_poll < pending.interval
        pending.last_poll = now
        if too_soon:
            pending.interval += 5  # RFC 8628 §3.5
            self.slow_downs += 1
            return "slow_down", f"poll at most every {_seconds(pending.interval)} seconds"
        return "authorization_pending", "the user has not answered yet"

    def _forget(self, device_code: str) -> None:
        pending = self._by_device.pop(device_code)
        self._by_user.pop(_normalise(pending.user_code), None)

    def page(self, method: str, query: str, body: bytes) -> Reply:
        """The verification page: GET shows the form, POST records the person's decision."""
        raw = query if method == "GET" else body.decode("utf-8", "replace")
        form = urllib.parse.parse_qs(raw, keep_blank_values=True)
        user_code = form.get("user_code", [""])[0][:64]
        if method != "POST":
            return self._form(user_code)
        device_code = self._by_user.get(_normalise(user_code))
        pending = self._by_device.get(device_code or "")
        if pending is None or pending.state != "pending" or pending.expires_at <= self.clock():
            return self._form(user_code, "Unknown or expired code.", 400)
        user, password = (form.get(k, [None])[0] for k in ("username", "password"))
        decision = form.get("decision", [""])[0]
        if decision == "deny":
            pending.state = "denied"
            return page(200, "Request denied", "<p>You can close this window.</p>")
        if decision != "approve" or not check_user(self.users, user, password):
            return self._form(user_code, "Wrong username or password.", 401)
        pending.state, pending.user = "approved", user or ""
        return page(200, "Device approved", "<p>You can return to your device.</p>")

    @staticmethod
    def _form(user_code: str, message: str = "", status: int = 200) -> Reply:
        field = (
            "<label>Code <input name='user_code' id='user_code' "
            f"value='{html.escape(user_code)}'></label>"
        )
        return page(status, "Connect a device", login_form(VERIFICATION_PATH, {}, message, field))


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
