"""Access tokens: short-lived ES256 JWTs in GoTrue's claim layout.

Verification is on every API request, so verified tokens are cached until they expire: an
ECDSA verify costs far more than the rest of a feed request's Python work.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections import OrderedDict
from typing import Any

import jwt

from momento.auth.keys import SigningKey
from momento.errors import InvalidToken

AUDIENCE = "authenticated"


class TokenService:
    def __init__(self, key: SigningKey, issuer: str, ttl: int, cache_size: int = 10_000) -> None:
        self.key = key
        self.issuer = issuer
        self.ttl = ttl
        self._public = key.private.public_key()
        # The key refresh tokens are derived with (see `child_refresh_token`), from the signing
        # key, so it needs no setting of its own and changes when that key does.
        secret = key.private.private_numbers().private_value.to_bytes(32, "big")
        self._refresh_key = hashlib.sha256(b"momento refresh token child v1\x00" + secret).digest()
        self._mail_key = hashlib.sha256(b"momento mailed code v1\x00" + secret).digest()
        self._cache: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._cache_size = cache_size

    def child_refresh_token(self, parent: str) -> str:
        """The refresh token that rotating `parent` issues: an HMAC of it under a key only the
        server holds, so it can be given again to whoever presents `parent` (an app that lost
        the answer to its refresh) without storing any token in the clear. Nobody without
        both `parent` and the server's key can compute it; it looks like any other token."""
        digest = hmac.new(self._refresh_key, parent.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def mail_token_hash(self, email: str, otp: str) -> str:
        """The `token_hash` of a mailed code: GoTrue's is the plain SHA-224 of the address and
        the code, which anyone who knows the address can make for every code and try without
        naming the account (so no per-account cap holds). Keyed with a server secret, a guess
        needs the address and the code, and the per-account cap on wrong codes applies.
        Clients never compute it: they copy it from the mail's link."""
        return hmac.new(self._mail_key, (email + otp).encode(), hashlib.sha224).hexdigest()

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.public_jwk]}

    def mint(
        self,
        *,
        user_id: uuid.UUID | str,
        session_id: uuid.UUID | str,
        email: str | None,
        app_metadata: dict[str, Any],
        user_metadata: dict[str, Any],
        amr: list[dict[str, Any]],
        is_anonymous: bool = False,
        now: int | None = None,
    ) -> tuple[str, int]:
        """Return a signed access token and its expiry (epoch seconds)."""
        iat = int(time.time()) if now is None else now
        exp = iat + self.ttl
        claims = {
            "iss": self.issuer,
            "sub": str(user_id),
            "aud": AUDIENCE,
            "exp": exp,
            "iat": iat,
            "email": email or "",
            "phone": "",
            "app_metadata": app_metadata,
            "user_metadata": user_metadata,
            "role": "authenticated",
            "aal": "aal1",
            "amr": amr,
            "session_id": str(session_id),
            "is_anonymous": is_anonymous,
        }
        token = jwt.encode(
            claims, self.key.private, algorithm="ES256", headers={"kid": self.key.kid}
        )
        return token, exp

    def verify(self, token: str) -> dict[str, Any]:
        """Return the claims of a valid token, or raise InvalidToken."""
        cached = self._cache.get(token)
        now = time.time()
        if cached is not None:
            if cached["exp"] > now:
                return cached
            self._cache.pop(token, None)
            raise InvalidToken("The access token has expired.")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._public,
                algorithms=["ES256"],
                audience=AUDIENCE,
                issuer=self.issuer,
                options={"require": ["exp", "sub", "aud", "role", "session_id"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("The access token has expired.") from None
        except jwt.PyJWTError:
            raise InvalidToken() from None
        if claims.get("role") != "authenticated":
            raise InvalidToken("The access token is not a user token.")
        try:
            uuid.UUID(str(claims["sub"]))
        except ValueError:
            raise InvalidToken() from None
        self._cache[token] = claims
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return claims

    def forget(self, token: str) -> None:
        self._cache.pop(token, None)
