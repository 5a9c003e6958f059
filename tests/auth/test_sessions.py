"""POST /token (password and refresh_token grants) and POST /logout."""

from __future__ import annotations

import bcrypt
import httpx
import pytest

from momento.services import Services
from tests.auth.helpers import (
    API,
    PASSWORD,
    add_user,
    bearer,
    code,
    login,
    refresh,
    scalar,
    session_for,
)
from tests.conftest import app_for

# --- password grant ----------------------------------------------------------------------


async def test_password_login(client: httpx.AsyncClient, services: Services) -> None:
    user_id = await add_user(services, "ana@example.com")
    r = await login(client, "ANA@example.com")
    assert r.status_code == 200, r.text
    session = r.json()
    assert session["user"]["id"] == str(user_id)
    assert "last_sign_in_at" in session["user"]
    claims = services.tokens.verify(session["access_token"])
    assert claims["sub"] == str(user_id)
    assert claims["exp"] == session["expires_at"]
    assert await scalar(services, "SELECT count(*) FROM auth.sessions") == 1
    assert await scalar(services, "SELECT count(*) FROM auth.refresh_tokens") == 1


@pytest.mark.parametrize(
    ("email", "password"),
    [("ana@example.com", "wrong password!"), ("nobody@example.com", PASSWORD)],
)
async def test_wrong_password_and_unknown_email_get_the_same_answer(
    client: httpx.AsyncClient, services: Services, email: str, password: str
) -> None:
    await add_user(services, "ana@example.com")
    before = await scalar(services, "SELECT updated_at FROM auth.users")
    r = await login(client, email, password)
    assert r.status_code == 400
    assert r.json()["code"] == "invalid_credentials"
    assert r.json()["message"] == "Invalid login credentials"
    assert await scalar(services, "SELECT count(*) FROM auth.sessions") == 0
    assert await scalar(services, "SELECT updated_at FROM auth.users") == before
    assert await scalar(services, "SELECT last_sign_in_at IS NULL FROM auth.users")


async def test_banned_and_deleted_users_cannot_log_in(
    client: httpx.AsyncClient, services: Services
) -> None:
    banned = await add_user(services, "banned@example.com")
    deleted = await add_user(services, "deleted@example.com")
    async with services.db.privileged() as conn:
        await conn.execute(
            "UPDATE auth.users SET banned_until = now() + interval '1 day' WHERE id = %s",
            (banned,),
        )
        await conn.execute("UPDATE auth.users SET deleted_at = now() WHERE id = %s", (deleted,))
    r = await login(client, "banned@example.com")
    assert (r.status_code, code(r)) == (400, "user_banned")
    r = await login(client, "deleted@example.com")
    assert (r.status_code, code(r)) == (400, "invalid_credentials")
    assert await scalar(services, "SELECT count(*) FROM auth.sessions") == 0


async def test_a_user_without_a_password_cannot_log_in(
    client: httpx.AsyncClient, services: Services
) -> None:
    await add_user(services, "oauth@example.com", password_hash=None)
    r = await login(client, "oauth@example.com")
    assert (r.status_code, code(r)) == (400, "invalid_credentials")


@pytest.mark.parametrize(
    ("params", "body", "error"),
    [
        ({"grant_type": "password"}, {"email": "a@example.com"}, "validation_failed"),
        ({"grant_type": "password"}, {}, "validation_failed"),
        ({"grant_type": "password"}, {"email": ["a"], "password": "x"}, "validation_failed"),
        ({"grant_type": "client_credentials"}, {}, "invalid_credentials"),
        ({}, {"email": "a@example.com", "password": PASSWORD}, "invalid_credentials"),
        ({"grant_type": "refresh_token"}, {}, "validation_failed"),
        ({"grant_type": "refresh_token"}, {"refresh_token": 12}, "validation_failed"),
    ],
)
async def test_token_refuses_bad_requests_with_400(
    client: httpx.AsyncClient, params: dict[str, str], body: dict[str, object], error: str
) -> None:
    r = await client.post("/auth/v1/token", params=params, json=body, headers=API)
    assert r.status_code == 400, r.text
    assert code(r) == error


async def test_bcrypt_hash_from_supabase_logs_in_and_is_rehashed(
    client: httpx.AsyncClient, services: Services
) -> None:
    legacy = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    user_id = await add_user(services, "imported@example.com", password_hash=legacy)
    assert (await login(client, "imported@example.com", "not it at all")).status_code == 400
    assert await scalar(services, "SELECT encrypted_password FROM auth.users") == legacy

    r = await login(client, "imported@example.com")
    assert r.status_code == 200, r.text
    stored = await scalar(
        services, "SELECT encrypted_password FROM auth.users WHERE id = %s", user_id
    )
    assert stored.startswith("$argon2id$")
    assert (await login(client, "imported@example.com")).status_code == 200


# --- refresh grant -----------------------------------------------------------------------


async def test_refresh_rotates_the_token(client: httpx.AsyncClient, services: Services) -> None:
    await add_user(services, "ana@example.com")
    first = await session_for(client, "ana@example.com")
    r = await refresh(client, first["refresh_token"])
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["user"]["email"] == "ana@example.com"
    assert (
        services.tokens.verify(second["access_token"])["session_id"]
        == services.tokens.verify(first["access_token"])["session_id"]
    )
    assert await scalar(services, "SELECT count(*) FROM auth.refresh_tokens WHERE revoked") == 1
    assert await scalar(services, "SELECT count(*) FROM auth.refresh_tokens WHERE NOT revoked") == 1
    # The child knows its parent; the refreshed_at of the session moved.
    assert (
        await scalar(services, "SELECT count(*) FROM auth.refresh_tokens WHERE parent IS NOT NULL")
        == 1
    )
    assert await scalar(services, "SELECT refreshed_at IS NOT NULL FROM auth.sessions")
    third = await refresh(client, second["refresh_token"])
    assert third.status_code == 200


async def test_reuse_within_the_interval_is_accepted(
    client: httpx.AsyncClient, services: Services
) -> None:
    """Two requests of one app racing with the same token both get the same working child
    (GoTrue answers the parent of the active token with the active token)."""
    await add_user(services, "ana@example.com")
    first = await session_for(client, "ana@example.com")
    a = await refresh(client, first["refresh_token"])
    b = await refresh(client, first["refresh_token"])
    assert a.status_code == b.status_code == 200
    assert a.json()["refresh_token"] == b.json()["refresh_token"]
    assert a.json()["access_token"] != first["access_token"]
    c = await refresh(client, a.json()["refresh_token"])
    assert c.status_code == 200
    # Racing one step further inside the interval: the older token still gets a working one.
    d = await refresh(client, first["refresh_token"])
    assert d.status_code == 200
    assert d.json()["refresh_token"] != c.json()["refresh_token"]
    assert (await refresh(client, d.json()["refresh_token"])).status_code == 200
    assert (await refresh(client, c.json()["refresh_token"])).status_code == 200


async def test_a_retried_refresh_gets_the_active_token_at_any_time(services: Services) -> None:
    """An app killed mid-refresh (or whose answer was lost) retries with the token it still
    holds, long after the reuse interval: it gets the token that refresh issued, and the
    session lives on. Only a token older than that is treated as stolen."""
    await add_user(services, "ana@example.com")
    async with app_for(services, refresh_reuse_interval=0) as c:
        session = await session_for(c, "ana@example.com")
        a1 = session["refresh_token"]
        lost = await refresh(c, a1)
        assert lost.status_code == 200
        async with services.db.privileged() as conn:
            await conn.execute("UPDATE auth.refresh_tokens SET updated_at = now() - interval '1 h'")
        retried = await refresh(c, a1)
        assert retried.status_code == 200, retried.text
        a2 = retried.json()["refresh_token"]
        assert a2 == lost.json()["refresh_token"]
        r = await c.get("/auth/v1/user", headers=bearer(retried.json()))
        assert r.status_code == 200
        active = "SELECT count(*) FROM auth.refresh_tokens WHERE NOT revoked"
        assert await scalar(services, active) == 1

        a3 = await refresh(c, a2)
        assert a3.status_code == 200
        # a1 is now older than the parent of the active token: reuse, the session ends.
        r = await refresh(c, a1)
        assert (r.status_code, code(r)) == (400, "refresh_token_already_used")
        r = await refresh(c, a3.json()["refresh_token"])
        assert r.status_code == 400
    assert await scalar(services, "SELECT count(*) FROM auth.sessions") == 0


def test_child_tokens_are_keyed_by_the_signing_key(services: Services) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from momento.auth.keys import SigningKey
    from momento.auth.tokens import TokenService

    other_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    other = TokenService(SigningKey.from_pem(other_pem), "http://x", 60)
    child = services.tokens.child_refresh_token("parent")
    assert child == services.tokens.child_refresh_token("parent")
    assert child != services.tokens.child_refresh_token("parent2")
    assert child != other.child_refresh_token("parent")
    assert len(child) == 43
    assert "parent" not in child


async def test_reuse_after_the_interval_revokes_the_whole_session(
    services: Services,
) -> None:
    await add_user(services, "ana@example.com")
    async with app_for(services, refresh_reuse_interval=0) as c:
        stolen = await session_for(c, "ana@example.com")
        other_device = await session_for(c, "ana@example.com")
        rotated = (await refresh(c, stolen["refresh_token"])).json()
        later = (await refresh(c, rotated["refresh_token"])).json()

        r = await refresh(c, stolen["refresh_token"])
        assert (r.status_code, code(r)) == (400, "refresh_token_already_used")
        # Every token of that session stopped working, and its access tokens with it.
        r = await refresh(c, later["refresh_token"])
        assert r.status_code == 400
        assert code(r) in ("refresh_token_not_found", "refresh_token_already_used")
        r = await c.get("/auth/v1/user", headers=bearer(later))
        assert (r.status_code, code(r)) == (403, "session_not_found")
        # The user's other session is untouched.
        assert (await refresh(c, other_device["refresh_token"])).status_code == 200
    assert await scalar(services, "SELECT count(*) FROM auth.sessions") == 1


async def test_unknown_refresh_token(client: httpx.AsyncClient, services: Services) -> None:
    r = await refresh(client, "never-issued")
    assert (r.status_code, code(r)) == (400, "refresh_token_not_found")


async def test_refresh_of_an_expired_session(client: httpx.AsyncClient, services: Services) -> None:
    await add_user(services, "ana@example.com")
    session = await session_for(client, "ana@example.com")
    async with services.db.privileged() as conn:
        await conn.execute("UPDATE auth.sessions SET not_after = now() - interval '1 second'")
    r = await refresh(client, session["refresh_token"])
    assert (r.status_code, code(r)) == (400, "session_expired")
    assert await scalar(services, "SELECT count(*) FROM auth.sessions") == 0


async def test_refresh_token_unused_for_too_long(
    client: httpx.AsyncClient, services: Services
) -> None:
    await add_user(services, "ana@example.com")
    session = await session_for(client, "ana@example.com")
    async with services.db.privileged() as conn:
        await conn.execute("UPDATE auth.refresh_tokens SET created_at = now() - interval '61 days'")
    r = await refresh(client, session["refresh_token"])
    assert (r.status_code, code(r)) == (400, "session_expired")


async def test_refresh_for_a_banned_user(client: httpx.AsyncClient, services: Services) -> None:
    await add_user(services, "ana@example.com")
    session = await session_for(client, "ana@example.com")
    async with services.db.privileged() as conn:
        await conn.execute("UPDATE auth.users SET banned_until = 'infinity'")
    r = await refresh(client, session["refresh_token"])
    assert (r.status_code, code(r)) == (400, "user_banned")


# --- logout ------------------------------------------------------------------------------


async def _three_sessions(client: httpx.AsyncClient, services: Services) -> list[dict[str, str]]:
    await add_user(services, "ana@example.com")
    await add_user(services, "bo@example.com")
    await session_for(client, "bo@example.com")  # someone else's, never touched
    return [await session_for(client, "ana@example.com") for _ in range(3)]


async def _sessions_of(services: Services, email: str) -> int:
    count: int = await scalar(
        services,
        "SELECT count(*) FROM auth.sessions s JOIN auth.users u ON u.id = s.user_id"
        " WHERE u.email = %s",
        email,
    )
    return count


async def test_logout_local(client: httpx.AsyncClient, services: Services) -> None:
    a, b, _ = await _three_sessions(client, services)
    r = await client.post(
        "/auth/v1/logout",
        params={"scope": "local"},
        headers={**bearer(a), "Content-Type": "application/json;charset=UTF-8"},
    )
    assert r.status_code == 204
    assert r.content == b""
    assert await _sessions_of(services, "ana@example.com") == 2
    assert (await refresh(client, a["refresh_token"])).status_code == 400
    assert (await refresh(client, b["refresh_token"])).status_code == 200
    assert await _sessions_of(services, "bo@example.com") == 1


async def test_logout_others(client: httpx.AsyncClient, services: Services) -> None:
    a, b, c = await _three_sessions(client, services)
    r = await client.post("/auth/v1/logout", params={"scope": "others"}, headers=bearer(a))
    assert r.status_code == 204
    assert await _sessions_of(services, "ana@example.com") == 1
    assert (await refresh(client, b["refresh_token"])).status_code == 400
    assert (await refresh(client, c["refresh_token"])).status_code == 400
    assert (await client.get("/auth/v1/user", headers=bearer(a))).status_code == 200
    assert await _sessions_of(services, "bo@example.com") == 1


async def test_logout_global_is_the_default(client: httpx.AsyncClient, services: Services) -> None:
    a, _, _ = await _three_sessions(client, services)
    r = await client.post("/auth/v1/logout", headers=bearer(a))
    assert r.status_code == 204
    assert await _sessions_of(services, "ana@example.com") == 0
    assert await scalar(services, "SELECT count(*) FROM auth.refresh_tokens") == 1  # bo's
    assert await _sessions_of(services, "bo@example.com") == 1
    # Signed out already: GoTrue's clients count 401/403/404 as done.
    r = await client.post("/auth/v1/logout", headers=bearer(a))
    assert (r.status_code, code(r)) == (403, "session_not_found")


async def test_logout_refusals(client: httpx.AsyncClient, services: Services) -> None:
    await add_user(services, "ana@example.com")
    session = await session_for(client, "ana@example.com")
    r = await client.post(
        "/auth/v1/logout", params={"scope": "everything"}, headers=bearer(session)
    )
    assert (r.status_code, code(r)) == (400, "validation_failed")
    r = await client.post("/auth/v1/logout", headers=API)
    assert (r.status_code, code(r)) == (401, "no_authorization")
    r = await client.post("/auth/v1/logout", headers={**API, "Authorization": "Bearer nope"})
    assert (r.status_code, code(r)) == (403, "bad_jwt")
    assert await scalar(services, "SELECT count(*) FROM auth.sessions") == 1
