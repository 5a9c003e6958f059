"""The asymmetric key that signs access tokens, and its public JWKS.

In embedded mode the key is generated once and kept in `<data dir>/secrets/jwt_es256.pem`
(mode 0600), so tokens survive restarts; in production it comes from `JWT_PRIVATE_KEY`.
The key id is the RFC 7638 thumbprint of the public key, so it changes only with the key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class SigningKey:
    private: ec.EllipticCurvePrivateKey
    kid: str
    public_jwk: dict[str, Any]

    @classmethod
    def from_pem(cls, pem: str | bytes) -> SigningKey:
        data = pem.encode() if isinstance(pem, str) else pem
        key = serialization.load_pem_private_key(data, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError("JWT_PRIVATE_KEY must be an EC P-256 private key in PEM form")
        numbers = key.public_key().public_numbers()
        x = _b64(numbers.x.to_bytes(32, "big"))
        y = _b64(numbers.y.to_bytes(32, "big"))
        # RFC 7638: members in lexicographic order, no whitespace.
        thumb = json.dumps({"crv": "P-256", "kty": "EC", "x": x, "y": y}, separators=(",", ":"))
        kid = _b64(hashlib.sha256(thumb.encode()).digest())[:16]
        jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": x,
            "y": y,
            "kid": kid,
            "alg": "ES256",
            "use": "sig",
            "key_ops": ["verify"],
        }
        return cls(key, kid, jwk)

    def pem(self) -> bytes:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def generate() -> SigningKey:
    return SigningKey.from_pem(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def load_or_create(data_dir: Path) -> SigningKey:
    """The embedded-mode key: read it from the data directory, creating it on first start."""
    folder = data_dir / "secrets"
    path = folder / "jwt_es256.pem"
    if path.exists():
        return SigningKey.from_pem(path.read_bytes())
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = generate()
    tmp = folder / f".jwt_es256.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.pem())
    try:
        # Two processes starting at once: the first link wins, the other reads it.
        os.link(tmp, path)
    except FileExistsError:
        return SigningKey.from_pem(path.read_bytes())
    finally:
        tmp.unlink(missing_ok=True)
    return key
