"""Fresh signing keys for tests: one `KeyPair` per JOSE algorithm the library signs with.

RSA keys take tens of milliseconds to generate, so RS256 and PS256 share one 2048-bit RSA
key per process unless ``fresh=True``; ES256 (P-256) and EdDSA (Ed25519) keys are new on
every call. Needs ``cryptography``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from tokenprovider._extras import require

#: The algorithms `key_pair` makes keys for.
ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")

_rsa_lock = threading.Lock()
_rsa_cache: list[Any] = []


@dataclass(frozen=True)
class KeyPair:
    """A private key (PKCS#8 PEM, hidden from repr) and its public key (SPKI PEM)."""

    algorithm: str
    private_pem: str = field(repr=False)
    public_pem: str


def key_pair(algorithm: str, *, fresh: bool = False) -> KeyPair:
    """A key pair for ``algorithm`` (one of `ALGORITHMS`).

    RS256 and PS256 reuse one RSA key per process (generating one is slow); pass
    ``fresh=True`` for a new one, e.g. to test a key that does not match.
    """
    require("cryptography", "tokenprovider.testing.key_pair")
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa  # noqa: PLC0415

    private: Any
    if algorithm in ("RS256", "PS256"):
        with _rsa_lock:
            if fresh or not _rsa_cache:
                private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                if not _rsa_cache:
                    _rsa_cache.append(private)
            else:
                private = _rsa_cache[0]
    elif algorithm == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    elif algorithm == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
    else:
        raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}")
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    return KeyPair(algorithm, private_pem, public_pem)
