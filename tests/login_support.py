"""A person, scripted over HTTP: what a browser does with the local server's login pages.

`Instructions` is the ``out`` a login writes to; `approve_in_thread` waits there for the
authorization URL (or the device code), then submits the login form as the person would
and follows the redirect to the loopback listener. The real-browser tests drive Chromium
instead (tests/browser_support.py); these keep the many provider tests fast.
"""

from __future__ import annotations

import io
import re
import threading
import urllib.parse
from pathlib import Path
from typing import Any

import requests

from tokenprovider import OAuthTokenProvider
from tokenprovider.testing import LocalOAuthServer

PASSWORD = "wonderland-canary-pw"
CALLBACK = "http://127.0.0.1/callback"
_URL = re.compile(r"https?://127\.0\.0\.1:\d+/oauth2/authorize\?\S+")
_USER_CODE = re.compile(r"\b([A-Z0-9]{4}-[A-Z0-9]{4})\b")
_VERIFY = re.compile(r"https?://127\.0\.0\.1:\d+/device\b")


class Instructions(io.StringIO):
    """An ``out`` that lets a thread wait for what a login printed."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = threading.Condition()

    def write(self, text: str) -> int:
        with self.changed:
            written = super().write(text)
            self.changed.notify_all()
        return written

    def wait_for(self, pattern: re.Pattern[str], timeout: float = 10.0) -> re.Match[str]:
        """The first match of ``pattern`` in what was printed, once it is there."""
        with self.changed:
            found = self.changed.wait_for(lambda: pattern.search(self.getvalue()), timeout)
        assert found, f"nothing matching {pattern.pattern} was printed: {self.getvalue()!r}"
        return found


def approve(
    url: str, user: str = "alice", password: str = PASSWORD, decision: str = "approve"
) -> requests.Response:
    """Submit the authorization page at ``url`` as ``user`` and follow its redirect;
    the loopback listener's response."""
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    form = {**query, "username": user, "password": password, "decision": decision}
    endpoint = urllib.parse.urlunsplit(parts._replace(query=""))
    answer = requests.post(endpoint, data=form, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return requests.get(answer.headers["Location"], timeout=10)


def approve_device(out: Instructions, user: str = "alice", decision: str = "approve") -> None:
    """Enter the printed user code on the printed verification page as ``user``."""
    code = out.wait_for(_USER_CODE).group(1)
    page = out.wait_for(_VERIFY).group(0)
    form = {"user_code": code, "username": user, "password": PASSWORD, "decision": decision}
    answer = requests.post(page, data=form, timeout=10)
    assert answer.status_code in (200, 403), answer.text


def approve_in_thread(out: Instructions, *, device: bool = False, **how: str) -> threading.Thread:
    """A person who approves the login printed on ``out`` (browser page or device code)."""

    def act() -> None:
        if device:
            approve_device(out, **how)
        else:
            approve(out.wait_for(_URL).group(0), **how)

    thread = threading.Thread(target=act, name="person", daemon=True)
    thread.start()
    return thread


def person(server: LocalOAuthServer, store: Path, **settings: Any) -> OAuthTokenProvider:
    """A provider logging a person in at ``server`` as client "cli", its login kept in
    files in ``store``."""
    return OAuthTokenProvider(
        server.url,
        "cli",
        token_url=server.token_url,
        grant_type="authorization_code",
        scopes=["openid", "read"],
        login_store="file",
        login_store_dir=store,
        **settings,
    )


def logged_in(server: LocalOAuthServer, store: Path) -> OAuthTokenProvider:
    """`person`, once alice has logged in through it (over HTTP)."""
    provider = person(server, store)
    out = Instructions()
    approving = approve_in_thread(out)
    provider.login(open_browser=False, out=out)
    approving.join(10)
    return provider
