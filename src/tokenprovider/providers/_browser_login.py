"""A person's login in a browser: the authorization code grant with PKCE (RFC 7636, S256)
redirected to a loopback listener (RFC 8252). This part gets the code; the caller redeems
it at the token endpoint with the redirect URI and the code verifier."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import urllib.parse
import webbrowser
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from tokenprovider.errors import ConfigurationError
from tokenprovider.providers._loopback import LoopbackListener

#: The name of the thread that opens the browser (`webbrowser.open` may wait for the
#: browser to exit, so it runs beside the listener).
OPENER_THREAD = "tokenprovider-open-browser"
_OURS = frozenset(
    {
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
    }
)


@dataclass(frozen=True)
class AuthorizationCode:
    """An authorization code and what redeeming it takes: the redirect URI it came to and
    the PKCE code verifier (both sent with it to the token endpoint)."""

    code: str = field(repr=False)
    redirect_uri: str
    verifier: str = field(repr=False)


def _pkce_pair() -> tuple[str, str]:
    """A fresh PKCE code verifier (86 unreserved characters) and its S256 challenge."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def browser_login(
    authorization_endpoint: str,
    client_id: str,
    scopes: tuple[str, ...],
    *,
    out: TextIO,
    ports: Sequence[int] | None = None,
    open_browser: bool = True,
    timeout: float = 300.0,
    extra_params: Mapping[str, str] | None = None,
) -> AuthorizationCode:
    """Send the person to ``authorization_endpoint`` and wait for the code to come back.

    Listens on ``http://127.0.0.1:PORT/callback`` (an ephemeral port, or the first free
    one of ``ports``), prints the authorization URL on ``out`` and, with ``open_browser``,
    opens it with `webbrowser` (which honours ``BROWSER``). ``extra_params`` go into the
    authorization request too. `LoginError` when the person refuses, the redirect does
    not match (``state``), the server answers an error, no port is free, or nothing comes
    back within ``timeout`` seconds.
    """
    clash = sorted(_OURS & set(extra_params or {}))
    if clash:
        raise ConfigurationError(
            f"the extra authorization parameters may not set {', '.join(clash)}: "
            "browser_login sets them itself"
        )
    verifier, challenge = _pkce_pair()
    state = secrets.token_urlsafe(32)
    with LoopbackListener(state, ports) as listener:
        params = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": listener.redirect_uri,
            **({"scope": " ".join(scopes)} if scopes else {}),
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **(extra_params or {}),
        }
        parts = urllib.parse.urlsplit(authorization_endpoint)
        query = "&".join(q for q in (parts.query, urllib.parse.urlencode(params)) if q)
        url = urllib.parse.urlunsplit(parts._replace(query=query))
        out.write(
            f"To log in, open this address in a browser on this machine:\n\n    {url}\n\n"
            f"Waiting up to {timeout:g}s for the browser to come back to "
            f"{listener.redirect_uri} ...\n"
        )
        out.flush()
        waiting = threading.Event()
        waiting.set()
        if open_browser:
            threading.Thread(
                target=_open, args=(url, out, waiting), name=OPENER_THREAD, daemon=True
            ).start()
        try:
            code = listener.wait(timeout)
        finally:
            waiting.clear()
    return AuthorizationCode(code, listener.redirect_uri, verifier)


def _open(url: str, out: TextIO, waiting: threading.Event) -> None:
    """Open ``url`` in the person's browser; say so on ``out`` when that is not possible."""
    try:
        opened = webbrowser.open(url)
    except (webbrowser.Error, OSError):
        opened = False
    if not opened and waiting.is_set():
        out.write(
            "No browser could be opened here: open the address above yourself. Without a "
            "browser on this machine, use `tokenprovider login --device`.\n"
        )
        out.flush()
