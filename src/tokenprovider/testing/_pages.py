"""Small HTML pages (login and consent forms) for the local OAuth server."""

from __future__ import annotations

import html
import secrets
from collections.abc import Mapping

#: (status, body, content type, headers), sent by `LocalOAuthServer`.
Reply = tuple[int, bytes, str, dict[str, str]]

_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def page(status: int, title: str, body: str) -> Reply:
    """An HTML page; ``body`` is HTML, so escape what goes in it with `html.escape`."""
    text = (
        "<!doctype html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head>\n<body><h1>{html.escape(title)}</h1>\n"
        f"{body}\n</body></html>\n"
    )
    return status, text.encode(), "text/html; charset=utf-8", dict(_HEADERS)


def login_form(action: str, hidden: Mapping[str, str], message: str = "", extra: str = "") -> str:
    """A login and consent form posting ``hidden``, ``extra`` (HTML), user and decision."""
    fields = "".join(
        f"<input type='hidden' name='{html.escape(k)}' value='{html.escape(v)}'>"
        for k, v in hidden.items()
    )
    note = f"<p class='error'>{html.escape(message)}</p>" if message else ""
    return (
        f"{note}<form method='post' action='{html.escape(action)}'>{fields}{extra}"
        "<label>Username <input name='username' id='username' autocomplete='username'></label>"
        "<label>Password <input name='password' id='password' type='password'></label>"
        "<button name='decision' value='approve' id='approve'>Approve</button>"
        "<button name='decision' value='deny' id='deny'>Deny</button></form>"
    )


def check_user(users: Mapping[str, str], name: str | None, password: str | None) -> bool:
    """Whether ``name`` / ``password`` is one of the test users."""
    expected = users.get(name or "")
    if expected is None or password is None:
        return False
    return secrets.compare_digest(expected.encode(), password.encode())


def redirect(location: str) -> Reply:
    """A 302 to ``location``."""
    return 302, b"", "text/plain", {"Location": location, "Cache-Control": "no-store"}
