"""Rate limits, JWKS, /settings, /health, the two error dialects, and secrets kept out of logs."""

from __future__ import annotations

import jwt
import pytest

from momento.services import Services
from tests.auth.conftest import client_for, services_with
from tests.auth.helpers import API, PASSWORD, add_user, code, login, scalar, session_for
from tests.conftest import app_for

# --- rate limits -------------------------------------------------------------------------


async def test_login_is_limited_per_client_address(services: Services) -> None:
    await add_user(services, "ana@example.com")
    svc = services_with(services, rate_limit_login_per_ip=3)
    async with client_for(svc, "10.0.0.1") as c, client_for(svc, "10.0.0.2") as other:
        for i in range(3):
            assert (await login(c, f"u{i}@example.com", "whatever pw")).status_code == 400
        r = await login(c, "ana@example.com")  # even the right password waits
        assert r.status_code == 429
        assert code(r) == "over_request_rate_limit"
        assert 1 <= int(r.headers["Retry-After"]) <= services.settings.rate_limit_window
        # Another address is not affected.
        assert (await login(other, "ana@example.com")).status_code == 200
    assert await scalar(services, "SELECT count(*) FROM auth.sessions") == 1


async def test_login_is_limited_per_account(services: Services) -> None:
    await add_user(services, "ana@example.com")
    svc = services_with(services, rate_limit_login_per_account=2)
    for ip in ("10.0.0.1", "10.0.0.2"):
        async with client_for(svc, ip) as c:
            assert (await login(c, "ana@example.com", "guess guess")).status_code == 400
    async with client_for(svc, "10.0.0.3") as c:
        r = await login(c, "ANA@example.com", "guess guess")
        assert r.status_code == 429
        assert code(r) == "over_request_rate_limit"
        assert "Retry-After" in r.headers
        assert (await login(c, "bo@example.com", "guess guess")).status_code == 400


async def test_recover_is_limited_per_address_and_account(services: Services) -> None:
    svc = services_with(services, rate_limit_recover_per_ip=2, rate_limit_recover_per_account=1)
    async with client_for(svc, "10.0.0.1") as c:
        for email in ("a@example.com", "b@example.com"):
            r = await c.post("/auth/v1/recover", json={"email": email}, headers=API)
            assert r.status_code == 200
        r = await c.post("/auth/v1/recover", json={"email": "c@example.com"}, headers=API)
        assert (r.status_code, code(r)) == (429, "over_request_rate_limit")
        assert "Retry-After" in r.headers
    async with client_for(svc, "10.0.0.2") as c:
        r = await c.post("/auth/v1/recover", json={"email": "a@example.com"}, headers=API)
        assert (r.status_code, code(r)) == (429, "over_request_rate_limit")


# --- JWKS, settings, health --------------------------------------------------------------


async def test_jwks_verifies_a_minted_token(services: Services) -> None:
    await add_user(services, "ana@example.com")
    async with app_for(services) as c:
        session = await session_for(c, "ana@example.com")
        r = await c.get("/auth/v1/.well-known/jwks.json")
    assert r.status_code == 200
    assert "max-age=600" in r.headers["cache-control"]
    keys = r.json()["keys"]
    assert len(keys) == 1
    assert keys[0]["kty"] == "EC"
    assert "d" not in keys[0]  # public half only

    token = session["access_token"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256"
    assert header["kid"] == keys[0]["kid"]
    key = jwt.PyJWK(keys[0])
    claims = jwt.decode(token, key, algorithms=["ES256"], audience="authenticated")
    assert claims["sub"] == session["user"]["id"]
    assert claims["role"] == "authenticated"
    assert claims["session_id"]
    assert claims["exp"] == session["expires_at"]


async def test_settings_and_health(services: Services) -> None:
    async with app_for(services, email_confirm=True) as c:
        settings = (await c.get("/auth/v1/settings")).json()
        health = (await c.get("/auth/v1/health")).json()
    assert settings["external"]["email"] is True
    assert settings["mailer_autoconfirm"] is False
    assert settings["disable_signup"] is False
    assert set(health) == {"version", "name", "description"}


# --- error dialects ----------------------------------------------------------------------


async def test_errors_in_both_dialects(services: Services) -> None:
    async with app_for(services) as c:
        r = await login(c, "nobody@example.com", "whatever pw")
        assert r.headers["X-Supabase-Api-Version"] == "2024-01-01"
        assert r.json()["code"] == "invalid_credentials"
        assert r.json()["message"] == "Invalid login credentials"

        legacy = await c.post(
            "/auth/v1/token",
            params={"grant_type": "password"},
            json={"email": "nobody@example.com", "password": "whatever pw"},
        )
        assert legacy.status_code == 400
        assert "X-Supabase-Api-Version" not in legacy.headers
        body = legacy.json()
        assert (body["code"], body["error_code"]) == (400, "invalid_credentials")
        assert body["msg"] == "Invalid login credentials"


GARBAGE = (b"\xff\xfe", b"null", b'"text"', b"[]", b"{,}", b'{"email": {"a": 1}}')
ROUTES = (
    ("POST", "/auth/v1/signup"),
    ("POST", "/auth/v1/token?grant_type=password"),
    ("POST", "/auth/v1/token?grant_type=refresh_token"),
    ("POST", "/auth/v1/recover"),
    ("POST", "/auth/v1/verify"),
    ("PUT", "/auth/v1/user"),
)


async def test_garbage_bodies_are_4xx(services: Services) -> None:
    async with app_for(services) as c:
        for method, path in ROUTES:
            for content in GARBAGE:
                r = await c.request(
                    method,
                    path,
                    content=content,
                    headers={**API, "Content-Type": "application/json"},
                )
                assert 400 <= r.status_code < 500, (method, path, content, r.status_code, r.text)


# --- secrets stay out of the logs --------------------------------------------------------


async def test_secrets_do_not_reach_the_logs(
    services: Services, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    await add_user(services, "ana@example.com")
    async with app_for(services, refresh_reuse_interval=0) as c:
        await login(c, "ana@example.com", "the wrong secret")
        session = await session_for(c, "ana@example.com")
        first = session["refresh_token"]
        rotated = await c.post(
            "/auth/v1/token", params={"grant_type": "refresh_token"}, json={"refresh_token": first}
        )
        await c.post(
            "/auth/v1/token",
            params={"grant_type": "refresh_token"},
            json={"refresh_token": rotated.json()["refresh_token"]},
        )
        # Older than the parent of the active token: the reuse is detected (and logged).
        await c.post(
            "/auth/v1/token", params={"grant_type": "refresh_token"}, json={"refresh_token": first}
        )
    out = capsys.readouterr()
    logged = caplog.text + out.out + out.err
    for secret in (PASSWORD, "the wrong secret", first, session["access_token"]):
        assert secret not in logged
