"""Apple's REST endpoints for Sign in with Apple, and the refresh token's encryption at rest.

- `client_secret`: the ES256 JWT Apple takes as client_secret, signed with the team's Sign in
  with Apple key (.p8): `iss` the team id, `sub` the client id, `aud` https://appleid.apple.com,
  `kid` the key id, `exp` at most 6 months out (5 minutes here: one is made per call).
- `exchange_code`: `POST {apple_url}/auth/token` (grant_type=authorization_code) for the
  refresh token; `revoke`: `POST {apple_url}/auth/revoke` (token_type_hint=refresh_token).
- `seal` / `unseal`: AES-GCM under a key derived (HKDF-SHA256) from MOMENTO_APPLE_TOKEN_SECRET
  (or the secret generated in the data directory), a random 96-bit nonce per token, the user
  id as associated data (a row copied onto another user does not decrypt).

Tokens never go into logs, errors or job arguments: failures are logged by status and
Apple's `error` code only.
"""

from __future__ import annotations

import functools
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from momento import logs
from momento.config import Settings
from momento.storage import secret as generated_secret

log = logs.get("momento.auth.apple")

AUDIENCE = "https://appleid.apple.com"
SECRET_TTL = 300
SECRET_FILE = "apple_tokens.key"  # noqa: S105 (a file name)
_NONCE = 12


class AppleDown(Exception):
    """Apple could not be reached, or answered with a server error."""


class CodeRejected(Exception):
    """Apple refused the authorization code (invalid_grant: used, expired, or not ours)."""


@dataclass(frozen=True)
class Exchanged:
    refresh_token: str
    id_token_claims: dict[str, Any]


def client_secret(settings: Settings, client_id: str, now: int | None = None) -> str:
    iat = int(time.time()) if now is None else now
    pem = settings.apple_private_key_pem()
    assert pem is not None
    assert settings.apple_team_id
    assert settings.apple_key_id
    return jwt.encode(
        {
            "iss": settings.apple_team_id,
            "iat": iat,
            "exp": iat + SECRET_TTL,
            "aud": AUDIENCE,
            "sub": client_id,
        },
        pem,
        algorithm="ES256",
        headers={"kid": settings.apple_key_id},
    )


async def _post(settings: Settings, path: str, form: dict[str, str]) -> httpx.Response:
    try:
        async with httpx.AsyncClient(timeout=settings.apple_timeout) as client:
            r = await client.post(f"{settings.apple_url}{path}", data=form)
    except httpx.HTTPError as exc:
        log.warning("apple unreachable", path=path, error=type(exc).__name__)
        raise AppleDown(type(exc).__name__) from None
    if r.status_code >= 500 or r.status_code == 429:
        log.warning("apple unavailable", path=path, status=r.status_code)
        raise AppleDown(f"status {r.status_code}")
    return r


def _error_code(r: httpx.Response) -> str:
    try:
        body = r.json()
    except ValueError:
        return ""
    value = body.get("error") if isinstance(body, dict) else None
    return value if isinstance(value, str) else ""


async def exchange_code(settings: Settings, client_id: str, code: str) -> Exchanged:
    """The refresh token (and identity claims) Apple gives for the app's authorization code."""
    form = {
        "client_id": client_id,
        "client_secret": client_secret(settings, client_id),
        "code": code,
        "grant_type": "authorization_code",
    }
    r = await _post(settings, "/auth/token", form)
    if r.status_code != 200:
        error = _error_code(r)
        if error == "invalid_grant":
            raise CodeRejected()
        # invalid_client and the like: our configuration is wrong, not the app's code.
        log.error("apple refused the code exchange", status=r.status_code, error=error)
        raise AppleDown(f"status {r.status_code} {error}")
    try:
        body = r.json()
        refresh = body["refresh_token"]
        claims = jwt.decode(body["id_token"], options={"verify_signature": False})
    except (ValueError, KeyError, TypeError, jwt.PyJWTError):
        log.error("apple answered the code exchange with something unreadable")
        raise AppleDown("unreadable answer") from None
    if not isinstance(refresh, str) or not refresh:
        raise AppleDown("no refresh token")
    return Exchanged(refresh, claims)


async def revoke(settings: Settings, client_id: str, refresh_token: str) -> None:
    """Revoke the refresh token at Apple. An `invalid_grant` answer means it is already
    invalid (revoked, or the person removed the app in their Apple ID settings): done too."""
    form = {
        "client_id": client_id,
        "client_secret": client_secret(settings, client_id),
        "token": refresh_token,
        "token_type_hint": "refresh_token",
    }
    r = await _post(settings, "/auth/revoke", form)
    if r.status_code == 200:
        return
    error = _error_code(r)
    if error == "invalid_grant":
        return
    log.error("apple refused the revoke", status=r.status_code, error=error)
    raise AppleDown(f"status {r.status_code} {error}")


# --- at rest ---------------------------------------------------------------------------------


def token_key(settings: Settings) -> bytes:
    """The AES-256 key stored tokens are sealed with."""
    if settings.apple_token_secret:
        source = settings.apple_token_secret.encode()
    else:
        source = generated_secret.load_or_create(Path(settings.data_dir), SECRET_FILE)
    return _derive(source)


@functools.lru_cache(maxsize=8)
def _derive(source: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"momento apple refresh token v1"
    ).derive(source)


def seal(key: bytes, user_id: uuid.UUID, token: str) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(key).encrypt(nonce, token.encode(), user_id.bytes)


def unseal(key: bytes, user_id: uuid.UUID, sealed: bytes) -> str:
    """The token; raises cryptography's InvalidTag if the key or the user id is not the one it
    was sealed with."""
    nonce, box = sealed[:_NONCE], sealed[_NONCE:]
    return AESGCM(key).decrypt(nonce, box, user_id.bytes).decode()
