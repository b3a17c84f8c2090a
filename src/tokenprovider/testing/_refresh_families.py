"""Refresh-token families for the local OAuth server: rotation and reuse detection.

Not thread-safe on its own: `LocalOAuthServer` calls it under its lock.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field


@dataclass
class Family:
    """One grant (a login) and every refresh and access token issued from it."""

    client_id: str
    user: str
    scopes: list[str]
    refresh: str = ""
    access: set[str] = field(default_factory=set)
    spent: set[str] = field(default_factory=set)


class RefreshFamilies:
    """Issue, rotate and revoke refresh tokens; a reused (rotated) one revokes its family."""

    def __init__(self) -> None:
        self._live: dict[str, Family] = {}
        self._spent: dict[str, Family] = {}
        self.revoked = 0
        self.reuse_detected = 0
        self.issued = 0

    def start(self, client_id: str, user: str, scopes: list[str]) -> Family:
        """A new family with its first refresh token."""
        family = Family(client_id, user, scopes)
        self._new_refresh(family)
        return family

    def _new_refresh(self, family: Family) -> None:
        if family.refresh:
            family.spent.add(family.refresh)
            del self._live[family.refresh]
            self._spent[family.refresh] = family
        family.refresh = secrets.token_urlsafe(32)
        self._live[family.refresh] = family
        self.issued += 1

    def rotate(self, refresh: str, client_id: str) -> tuple[Family | None, set[str]]:
        """(family, access tokens to forget): the family rotated, or None if refused.

        Presenting a rotated refresh token revokes the whole family.
        """
        family = self._live.get(refresh)
        if family is not None and family.client_id == client_id:
            self._new_refresh(family)
            return family, set()
        reused = self._spent.get(refresh)
        if reused is not None and reused.client_id == client_id:
            self.reuse_detected += 1
            return None, self.revoke(reused)
        return None, set()

    def find(self, token: str) -> Family | None:
        """The family of a live refresh token."""
        return self._live.get(token)

    def revoke(self, family: Family) -> set[str]:
        """Forget the family's refresh tokens; return its access tokens (to forget)."""
        if self._live.pop(family.refresh, None) is not None:
            self.revoked += 1
        for spent in family.spent:
            self._spent.pop(spent, None)
        access, family.access = family.access, set()
        return access

    def clear(self) -> None:
        """Forget every family (revoke_all)."""
        self._live.clear()
        self._spent.clear()
