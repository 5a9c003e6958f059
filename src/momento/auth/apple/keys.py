"""Apple's identity tokens: the signing keys Apple publishes, and verifying a token with them.

The keys (a JWKS at `{apple_url}/auth/keys`) are fetched with httpx and cached for
`MOMENTO_APPLE_KEYS_TTL`; a token signed with a key id the cache does not know makes one
refetch (Apple rotated its keys), at most once a minute, so a flood of forged key ids cannot
turn into a flood of requests to Apple.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

from momento import logs

log = logs.get("momento.auth.apple")

# Apple's issuers (GoTrue accepts both: provider.IsAppleIssuer).
ISSUERS = ("https://appleid.apple.com", "https://account.apple.com")
# At most one refetch for an unknown key id per this many seconds.
REFETCH_INTERVAL = 60.0
# Clock skew tolerated on `exp` and `iat`.
LEEWAY = 30


class KeysUnavailable(Exception):
    """Apple's keys could not be fetched (and none are cached)."""


class BadToken(Exception):
    """The identity token is not one Apple signed for us, or it expired."""


@dataclass
class _KeySet:
    keys: dict[str, Any]
    fetched: float


@dataclass
class AppleKeys:
    """Apple's public keys by key id, cached per Apple base URL (tests run fakes side by side)."""

    _sets: dict[str, _KeySet] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    async def key(self, base_url: str, kid: str, *, ttl: float, wait: float) -> Any | None:
        """The public key `kid`, or None when Apple does not publish it."""
        cached = self._sets.get(base_url)
        now = time.monotonic()
        if cached is not None and now - cached.fetched < ttl and kid in cached.keys:
            return cached.keys[kid]
        lock = self._locks.setdefault(base_url, asyncio.Lock())
        async with lock:
            cached = self._sets.get(base_url)
            now = time.monotonic()
            fresh = cached is not None and now - cached.fetched < ttl
            if fresh and cached is not None and kid in cached.keys:
                return cached.keys[kid]
            if fresh and cached is not None and now - cached.fetched < REFETCH_INTERVAL:
                return None  # fetched moments ago: the key id is unknown, not new
            try:
                keys = await _fetch(base_url, wait)
            except KeysUnavailable:
                if cached is not None and kid in cached.keys:
                    # Stale but still Apple's: better than refusing every sign-in meanwhile.
                    return cached.keys[kid]
                raise
            self._sets[base_url] = _KeySet(keys, time.monotonic())
            return keys.get(kid)


async def _fetch(base_url: str, wait: float) -> dict[str, Any]:
    try:
        async with httpx.AsyncClient(timeout=wait) as client:
            r = await client.get(f"{base_url}/auth/keys")
        if r.status_code != 200:
            raise KeysUnavailable(f"Apple answered {r.status_code} for its keys")
        jwks = r.json()
        keys: dict[str, Any] = {}
        for jwk in jwks.get("keys", []):
            if jwk.get("kty") == "RSA" and jwk.get("kid"):
                keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm="RS256").key
    except (httpx.HTTPError, ValueError, jwt.PyJWTError, AttributeError) as exc:
        log.warning("apple keys unavailable", error=type(exc).__name__)
        raise KeysUnavailable(str(exc)) from exc
    return keys


def unverified_claims(token: str) -> dict[str, Any]:
    """The token's claims, unchecked (to read its issuer first, as GoTrue does)."""
    try:
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise BadToken("malformed") from exc
    return claims


async def verify(
    keys: AppleKeys,
    token: str,
    *,
    base_url: str,
    audiences: Sequence[str],
    ttl: float,
    wait: float,
) -> dict[str, Any]:
    """The claims of an Apple identity token: RS256 with a key Apple publishes, issued by
    Apple, to one of `audiences`, not expired. Raises BadToken (or KeysUnavailable)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise BadToken("malformed") from exc
    if header.get("alg") != "RS256" or not isinstance(header.get("kid"), str):
        raise BadToken("not RS256 with a key id")
    key = await keys.key(base_url, header["kid"], ttl=ttl, wait=wait)
    if key is None:
        raise BadToken("unknown key id")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=list(audiences),
            issuer=list(ISSUERS),
            leeway=LEEWAY,
            options={"require": ["iss", "sub", "aud", "exp", "iat"]},
        )
    except jwt.InvalidAudienceError as exc:
        raise BadToken("audience") from exc
    except jwt.PyJWTError as exc:
        raise BadToken(type(exc).__name__) from exc
    return claims
