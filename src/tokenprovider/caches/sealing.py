"""Encryption of cached tokens: AES-256-GCM, keyed from a secret reference or derived
from the client's credentials with HKDF-SHA256 and the cache's salt.

`cryptography` (the ``crypto`` extra) is imported only when a cache is given a key.
"""

from __future__ import annotations

import base64
import binascii
import os
import threading
from typing import TYPE_CHECKING, Any

from tokenprovider._extras import require
from tokenprovider.errors import CacheError, ConfigurationError
from tokenprovider.secret_refs import SecretReference, is_reference

if TYPE_CHECKING:
    from tokenprovider.caches.base import CacheKey

#: ``key="derive"``: derive the key from the client's credentials.
DERIVE = "derive"
KEY_BYTES = 32
NONCE_BYTES = 12
_HKDF_INFO = b"tokenprovider token cache v1"


class SealError(Exception):
    """An entry cannot be opened: wrong key, tampered with, or not sealed at all."""


class Sealer:
    """Seals and opens tokens with one AES-256-GCM key; every seal uses a new nonce."""

    def __init__(self, key: bytes) -> None:
        self.__aead = _aesgcm(key)

    def __repr__(self) -> str:
        return "Sealer()"

    def seal(self, plaintext: str, associated: bytes) -> str:
        """Base64 of nonce + ciphertext + tag, bound to ``associated``."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self.__aead.encrypt(nonce, plaintext.encode(), associated)
        return base64.b64encode(nonce + sealed).decode("ascii")

    def open(self, blob: object, associated: bytes) -> str:
        """The plaintext of ``blob``; `SealError` if it was not sealed with this key
        and ``associated``."""
        from cryptography.exceptions import InvalidTag  # noqa: PLC0415

        if not isinstance(blob, str):
            raise SealError("the sealed token is not a string")
        try:
            raw = base64.b64decode(blob, validate=True)
        except (binascii.Error, ValueError):
            raise SealError("the sealed token is not base64") from None
        if len(raw) <= NONCE_BYTES:
            raise SealError("the sealed token is too short")
        try:
            plaintext: bytes = self.__aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated)
        except InvalidTag:
            raise SealError(
                "it does not open with this key (a different or rotated key, or tampering)"
            ) from None
        return plaintext.decode()


class Encryption:
    """A cache's ``key`` setting: a secret reference to 32 base64 bytes, the bytes
    themselves, or ``"derive"``. Revealed or derived on first use, per cache key."""

    def __init__(self, setting: str | bytes | SecretReference, *, owner: str) -> None:
        self.__owner = owner
        self.__derive = setting == DERIVE
        self.__reference: SecretReference | None = None
        self.__fixed: bytes | None = None
        if isinstance(setting, bytes):
            self.__fixed = _checked_length(setting, f"{owner}'s key")
        elif isinstance(setting, SecretReference):
            self.__reference = setting
        elif isinstance(setting, str) and not self.__derive:
            if not is_reference(setting):
                raise ConfigurationError(
                    f"{owner}'s key must be a secret reference (env:, file:, "
                    "aws-secretsmanager:, aws-ssm:) to 32 base64-encoded bytes, or 'derive'; "
                    "a literal key does not belong in code or configuration"
                )
            self.__reference = SecretReference(setting, setting="cache_key")
        elif not isinstance(setting, str):
            raise ConfigurationError(
                f"{owner}'s key must be a secret reference, bytes or 'derive', "
                f"got {type(setting).__name__}"
            )
        _aesgcm_class()  # fail now, not at the first token, if cryptography is missing
        self.__sealers: dict[str, Sealer] = {}
        self.__lock = threading.Lock()

    def __repr__(self) -> str:
        source = "derived" if self.__derive else "referenced" if self.__reference else "given"
        return f"Encryption({source})"

    def sealer(self, key: CacheKey, salt: bytes) -> Sealer:
        """The sealer for entries under ``key``."""
        sealer = self.__sealers.get(key.digest)
        if sealer is None:
            with self.__lock:
                sealer = self.__sealers.get(key.digest)
                if sealer is None:
                    sealer = self.__sealers[key.digest] = Sealer(self.__key_for(key, salt))
        return sealer

    def __key_for(self, key: CacheKey, salt: bytes) -> bytes:
        if self.__fixed is not None:
            return self.__fixed
        if self.__reference is not None:
            text = self.__reference.reveal()
            try:
                raw = base64.b64decode(text.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise CacheError(
                    f"{self.__owner}'s key from {self.__reference.reference} is not base64; "
                    "make one with: openssl rand -base64 32"
                ) from None
            return _checked_length(raw, f"{self.__owner}'s key from {self.__reference.reference}")
        if key.material is None:
            raise CacheError(
                f"{self.__owner} cannot derive a key for {key.label}: it has no client "
                "secret to derive from; give the cache a key reference instead"
            )
        from cryptography.hazmat.primitives import hashes  # noqa: PLC0415
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF  # noqa: PLC0415

        hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=_HKDF_INFO)
        derived: bytes = hkdf.derive(key.material)
        return derived


def _checked_length(key: bytes, what: str) -> bytes:
    if len(key) != KEY_BYTES:
        raise CacheError(
            f"{what} must be {KEY_BYTES} bytes (AES-256), got {len(key)}; "
            "make one with: openssl rand -base64 32"
        )
    return key


def _aesgcm_class() -> Any:
    """cryptography's AESGCM; without the ``crypto`` extra, `MissingExtraError`."""
    aead = require("cryptography.hazmat.primitives.ciphers.aead", "encrypting cached tokens")
    return aead.AESGCM


def _aesgcm(key: bytes) -> Any:
    return _aesgcm_class()(key)
