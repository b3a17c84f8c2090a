"""PKCE (RFC 7636) checks for the local OAuth server: S256 only."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")


def valid_challenge(challenge: str | None) -> bool:
    """Whether ``challenge`` looks like a base64url SHA-256 digest (43 characters)."""
    return challenge is not None and _CHALLENGE.fullmatch(challenge) is not None


def s256(verifier: str) -> str:
    """The S256 code challenge of ``verifier``."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verifier_matches(verifier: str | None, challenge: str) -> bool:
    """Whether ``verifier`` is well formed and hashes to ``challenge``."""
    if verifier is None or _VERIFIER.fullmatch(verifier) is None:
        return False
    return secrets.compare_digest(s256(verifier), challenge)
