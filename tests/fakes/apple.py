"""A fake of Apple's Sign in with Apple REST API on 127.0.0.1.

    with FakeApple() as apple:
        token = apple.id_token(sub="001.abc", email="ana@example.com", nonce="raw nonce")
        apple.add_code("c1", sub="001.abc")     # an authorization code the app could post
        apple.fail(503, times=1)                  # the next request (any route) answers 503
        ... Settings(apple_url=apple.url, apple_client_ids=[CLIENT_ID], **apple.settings())
        apple.revoked                             # refresh tokens revoked, in order

As Apple does:
- `GET /auth/keys`: a JWKS of the RSA keys identity tokens are signed with (RS256, `kid`);
- `POST /auth/token` (form: client_id, client_secret, code, grant_type=authorization_code):
  the client secret must be an ES256 JWT signed by the team's key (the public half of the .p8
  key this fake made), `kid` its key id, `iss` the team id, `sub` the client id, `aud`
  https://appleid.apple.com, not expired, `exp` at most 6 months after `iat`; else 400
  `{"error": "invalid_client"}`. An unknown or used code is 400 `{"error": "invalid_grant"}`;
  a good one answers access_token, token_type, expires_in, refresh_token and an id_token;
- `POST /auth/revoke` (form: client_id, client_secret, token, token_type_hint): the same client
  check; 200 with an empty body.
Runs uvicorn in a thread, so it answers whatever the test's event loop is doing.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.served import ServedApp

ISSUER = "https://appleid.apple.com"
CLIENT_ID = "app.momento.ios"
WEB_CLIENT_ID = "app.momento.web"
TEAM_ID = "TEAMID1234"
KEY_ID = "KEYID12345"
SIX_MONTHS = 15_777_000


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class FakeApple:
    team_id: str = TEAM_ID
    key_id: str = KEY_ID
    client_ids: tuple[str, ...] = (CLIENT_ID, WEB_CLIENT_ID)
    # code -> (sub, client id)
    codes: dict[str, tuple[str, str]] = field(default_factory=dict)
    # refresh token -> (sub, client id)
    issued: dict[str, tuple[str, str]] = field(default_factory=dict)
    revoked: list[str] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    port: int = 0
    _failures: list[list[int]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _served: ServedApp | None = None

    def __post_init__(self) -> None:
        self.signing_key = _rsa_key()
        self.kid = "apple-" + secrets.token_hex(4)
        # The team's Sign in with Apple key (.p8: PKCS#8 P-256), the server's setting.
        self.p8 = ec.generate_private_key(ec.SECP256R1())
        self.p8_pem = self.p8.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        self._published: list[tuple[str, rsa.RSAPrivateKey]] = [(self.kid, self.signing_key)]

    # --- what the test sets up ---

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def settings(self) -> dict[str, Any]:
        """The server settings that point at this fake, code exchange included."""
        return {
            "apple_url": self.url,
            "apple_client_ids": list(self.client_ids),
            "apple_team_id": self.team_id,
            "apple_key_id": self.key_id,
            "apple_private_key": self.p8_pem,
        }

    def rotate(self) -> str:
        """Publish a new signing key (the old one stays published); returns its kid."""
        key, kid = _rsa_key(), "apple-" + secrets.token_hex(4)
        with self._lock:
            self._published.append((kid, key))
        self.signing_key, self.kid = key, kid
        return kid

    def id_token(
        self,
        *,
        sub: str,
        email: str | None = None,
        nonce: str | None = None,
        aud: str = CLIENT_ID,
        iss: str = ISSUER,
        expires_in: int = 600,
        private_email: bool | str | None = None,
        key: rsa.RSAPrivateKey | None = None,
        kid: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """An identity token as Apple signs it; `nonce` is the raw nonce (its SHA-256 hex goes
        in the token, as the app asks Apple for)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": iss,
            "aud": aud,
            "exp": now + expires_in,
            "iat": now,
            "sub": sub,
            "c_hash": "x",
            "auth_time": now,
            "nonce_supported": True,
        }
        if nonce is not None:
            claims["nonce"] = hashlib.sha256(nonce.encode()).hexdigest()
        if email is not None:
            claims["email"] = email
            claims["email_verified"] = "true"
        if private_email is not None:
            claims["is_private_email"] = private_email
        claims.update(extra or {})
        return jwt.encode(
            claims, key or self.signing_key, algorithm="RS256", headers={"kid": kid or self.kid}
        )

    def add_code(self, code: str, *, sub: str, client_id: str = CLIENT_ID) -> None:
        with self._lock:
            self.codes[code] = (sub, client_id)

    def fail(self, status: int, *, times: int = 1) -> None:
        """Answer the next `times` requests (any route) with `status`."""
        with self._lock:
            self._failures.append([status, times])

    # --- the server ---

    def _failure(self) -> int | None:
        with self._lock:
            if not self._failures:
                return None
            entry = self._failures[0]
            entry[1] -= 1
            if entry[1] <= 0:
                self._failures.pop(0)
            return entry[0]

    def _client_ok(self, form: dict[str, str]) -> bool:
        client_id = form.get("client_id", "")
        if client_id not in self.client_ids:
            return False
        secret = form.get("client_secret", "")
        try:
            header = jwt.get_unverified_header(secret)
            claims = jwt.decode(
                secret,
                self.p8.public_key(),
                algorithms=["ES256"],
                audience=ISSUER,
                issuer=self.team_id,
                options={"require": ["iss", "sub", "aud", "exp", "iat"]},
            )
        except jwt.PyJWTError:
            return False
        return (
            header.get("kid") == self.key_id
            and claims["sub"] == client_id
            and claims["exp"] - claims["iat"] <= SIX_MONTHS
        )

    async def _keys(self, request: Request) -> Response:
        self.requests.append(("keys", {}))
        status = self._failure()
        if status is not None:
            return Response(status_code=status)
        with self._lock:
            published = list(self._published)
        keys = []
        for kid, key in published:
            jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return JSONResponse({"keys": keys})

    async def _token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        self.requests.append(("token", form))
        status = self._failure()
        if status is not None:
            return Response(status_code=status)
        if not self._client_ok(form) or form.get("grant_type") != "authorization_code":
            return JSONResponse({"error": "invalid_client"}, status_code=400)
        with self._lock:
            found = self.codes.pop(form.get("code", ""), None)
        if found is None or found[1] != form["client_id"]:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        sub, client_id = found
        refresh = "r" + secrets.token_hex(16)
        with self._lock:
            self.issued[refresh] = (sub, client_id)
        return JSONResponse(
            {
                "access_token": "a" + secrets.token_hex(16),
                "token_type": "Bearer",
                "expires_in": 3600,
                "refresh_token": refresh,
                "id_token": self.id_token(sub=sub, aud=client_id),
            }
        )

    async def _revoke(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        self.requests.append(("revoke", form))
        status = self._failure()
        if status is not None:
            return Response(status_code=status)
        if not self._client_ok(form):
            return JSONResponse({"error": "invalid_client"}, status_code=400)
        with self._lock:
            self.revoked.append(form.get("token", ""))
        return Response(status_code=200)

    def start(self) -> FakeApple:
        app = Starlette(
            routes=[
                Route("/auth/keys", self._keys),
                Route("/auth/token", self._token, methods=["POST"]),
                Route("/auth/revoke", self._revoke, methods=["POST"]),
            ]
        )
        self._served = ServedApp(app, "Apple")
        self.port = self._served.port
        return self

    def stop(self) -> None:
        if self._served is not None:
            self._served.stop()

    def __enter__(self) -> FakeApple:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
