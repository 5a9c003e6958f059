"""Access tokens: ES256 with a persistent key; anything forged, expired or foreign is refused."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest

from momento.auth import keys
from momento.auth.tokens import TokenService
from momento.errors import InvalidToken


def _service(ttl: int = 60) -> TokenService:
    return TokenService(keys.generate(), "http://testserver/auth/v1", ttl)


def _mint(svc: TokenService, **kw: object) -> str:
    token, _ = svc.mint(
        user_id="6b1f7a4e-2b8e-4d3c-9a51-2f1c3e4d5a6b",
        session_id="0c9d2e4f-1a2b-4c3d-8e9f-a0b1c2d3e4f5",
        email="a@example.com",
        app_metadata={},
        user_metadata={},
        amr=[{"method": "password", "timestamp": 0}],
        **kw,  # type: ignore[arg-type]
    )
    return token


def test_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = keys.load_or_create(tmp_path)
    second = keys.load_or_create(tmp_path)
    assert first.kid == second.kid
    pem = tmp_path / "secrets" / "jwt_es256.pem"
    assert pem.stat().st_mode & 0o777 == 0o600


def test_round_trip_and_claims() -> None:
    svc = _service()
    claims = svc.verify(_mint(svc))
    for name in ("sub", "role", "aud", "exp", "session_id", "iat", "iss", "amr"):
        assert name in claims
    assert claims["role"] == "authenticated"
    header = jwt.get_unverified_header(_mint(svc))
    assert header["alg"] == "ES256"
    assert header["kid"] == svc.key.kid


def test_expired_token_is_refused() -> None:
    svc = _service(ttl=1)
    token = _mint(svc, now=int(time.time()) - 10)
    with pytest.raises(InvalidToken, match="expired"):
        svc.verify(token)


def test_token_from_another_key_is_refused() -> None:
    other = _service()
    with pytest.raises(InvalidToken):
        _service().verify(_mint(other))


def test_tampered_token_is_refused() -> None:
    svc = _service()
    head, _body, sig = _mint(svc).split(".")
    forged = jwt.encode({"sub": "x", "role": "service_role"}, "k" * 64, algorithm="HS256")
    with pytest.raises(InvalidToken):
        svc.verify(".".join([head, forged.split(".")[1], sig]))


def test_alg_none_and_symmetric_tokens_are_refused() -> None:
    svc = _service()
    claims = jwt.decode(_mint(svc), options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]
    with pytest.raises(InvalidToken):
        svc.verify(unsigned)
    hs = jwt.encode(claims, "s" * 64, algorithm="HS256")
    with pytest.raises(InvalidToken):
        svc.verify(hs)


def test_jwks_verifies_a_minted_token() -> None:
    svc = _service()
    (jwk,) = svc.jwks()["keys"]
    public = jwt.PyJWK(jwk).key
    claims = jwt.decode(_mint(svc), public, algorithms=["ES256"], audience="authenticated")
    assert claims["role"] == "authenticated"
    assert "d" not in jwk
