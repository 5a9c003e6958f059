"""POST /auth/v1/signup."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from momento.auth import users
from momento.auth.errors import AuthError
from momento.auth.shared import ClientInfo
from momento.services import Services
from tests.auth.helpers import API, PASSWORD, TIMESTAMP, add_user, code, scalar
from tests.conftest import app_for


async def signup(client: httpx.AsyncClient, body: Any, **params: str) -> httpx.Response:
    return await client.post("/auth/v1/signup", json=body, params=params, headers=API)


async def test_signup_answers_a_session_and_creates_the_profile(
    client: httpx.AsyncClient, services: Services
) -> None:
    r = await signup(
        client,
        {
            "email": "Ana@Example.com",
            "password": PASSWORD,
            "data": {"username": "Ana.Photos"},
            "gotrue_meta_security": {"captcha_token": None},
            # Without email confirmation a PKCE client gets its session at once, as on GoTrue.
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "s256",
        },
    )
    assert r.status_code == 200, r.text
    session = r.json()
    assert session["token_type"] == "bearer"
    assert session["expires_in"] == services.settings.access_token_ttl
    assert isinstance(session["expires_at"], int)
    assert session["refresh_token"]
    user = session["user"]
    assert user["email"] == "ana@example.com"
    assert user["aud"] == "authenticated"
    assert user["role"] == "authenticated"
    assert user["phone"] == ""
    assert user["app_metadata"] == {"provider": "email", "providers": ["email"]}
    assert user["user_metadata"] == {"username": "ana.photos"}
    # GoTrue's email identity (an empty list is what clients read as "already registered").
    [identity] = user["identities"]
    assert identity["provider"] == "email"
    assert identity["id"] == identity["user_id"] == user["id"]
    assert identity["email"] == "ana@example.com"
    assert identity["identity_data"] == {
        "email": "ana@example.com",
        "email_verified": True,
        "phone_verified": False,
        "sub": user["id"],
    }
    assert identity["identity_id"] != user["id"]
    assert user["is_anonymous"] is False
    for key in ("created_at", "updated_at", "email_confirmed_at", "confirmed_at"):
        assert TIMESTAMP.match(user[key]), (key, user[key])
    # Null timestamps are left out, not sent as null.
    assert "recovery_sent_at" not in user
    assert None not in user.values()

    claims = services.tokens.verify(session["access_token"])
    assert claims["sub"] == user["id"]
    assert claims["role"] == "authenticated"
    assert claims["aud"] == "authenticated"
    assert claims["email"] == "ana@example.com"
    assert claims["amr"][0]["method"] == "password"
    assert (
        await scalar(
            services, "SELECT count(*) FROM auth.sessions WHERE id = %s", claims["session_id"]
        )
        == 1
    )

    assert (
        await scalar(services, "SELECT username FROM public.profiles WHERE id = %s", user["id"])
        == "ana.photos"
    )
    stored = await scalar(
        services, "SELECT encrypted_password FROM auth.users WHERE id = %s", user["id"]
    )
    assert stored.startswith("$argon2id$")
    token_hash = await scalar(services, "SELECT token_hash FROM auth.refresh_tokens")
    assert token_hash != session["refresh_token"]
    assert len(token_hash) == 64


async def test_signup_without_username_gets_a_generated_one(
    client: httpx.AsyncClient, services: Services
) -> None:
    r = await signup(client, {"email": "bo@example.com", "password": PASSWORD})
    assert r.status_code == 200, r.text
    username = await scalar(
        services, "SELECT username FROM public.profiles WHERE id = %s", r.json()["user"]["id"]
    )
    assert username.startswith("user_")


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"email": "not-an-email", "password": PASSWORD}, 400, "validation_failed"),
        ({"email": "a b@example.com", "password": PASSWORD}, 400, "validation_failed"),
        ({"password": PASSWORD}, 400, "validation_failed"),
        ({"email": "x@example.com"}, 400, "validation_failed"),
        ({"email": "x@example.com", "password": ""}, 400, "validation_failed"),
        ({"email": 42, "password": PASSWORD}, 400, "validation_failed"),
        (
            {"email": "x@example.com", "password": PASSWORD, "data": "nope"},
            400,
            "validation_failed",
        ),
        ({"email": "x@example.com", "password": "x" * 300}, 400, "validation_failed"),
        (
            {"email": "x@example.com", "password": PASSWORD, "data": {"username": "ab"}},
            422,
            "validation_failed",
        ),
        (
            {"email": "x@example.com", "password": PASSWORD, "data": {"username": "no spaces"}},
            422,
            "validation_failed",
        ),
        (
            {"email": "x@example.com", "password": PASSWORD, "data": {"username": 7}},
            422,
            "validation_failed",
        ),
        ([1, 2], 400, "bad_json"),
        # ({}: no email, phone or password, is a guest's sign-in: tests/auth/test_anonymous.py)
    ],
)
async def test_signup_refuses_bad_input_and_stores_nothing(
    client: httpx.AsyncClient, services: Services, body: Any, status: int, error: str
) -> None:
    r = await signup(client, body)
    assert r.status_code == status, r.text
    assert code(r) == error
    assert await scalar(services, "SELECT count(*) FROM auth.users") == 0


async def test_malformed_json_is_400(client: httpx.AsyncClient, services: Services) -> None:
    r = await client.post(
        "/auth/v1/signup",
        content=b'{"email": ',
        headers={**API, "Content-Type": "application/json;charset=UTF-8"},
    )
    assert r.status_code == 400
    assert code(r) == "bad_json"


async def test_weak_password_names_the_reason(
    client: httpx.AsyncClient, services: Services
) -> None:
    r = await signup(client, {"email": "w@example.com", "password": "short"})
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "weak_password"
    assert body["weak_password"] == {"reasons": ["length"]}
    assert "8 characters" in body["message"]
    assert await scalar(services, "SELECT count(*) FROM auth.users") == 0


async def test_duplicate_email_is_refused_whatever_its_case(
    client: httpx.AsyncClient, services: Services
) -> None:
    await add_user(services, "dup@example.com")
    r = await signup(client, {"email": "DUP@example.com", "password": "another password"})
    assert r.status_code == 422
    assert code(r) == "user_already_exists"
    assert await scalar(services, "SELECT count(*) FROM auth.users") == 1


async def test_taken_username_is_refused_up_front(
    client: httpx.AsyncClient, services: Services
) -> None:
    await add_user(services, "first@example.com", username="shared")
    r = await signup(
        client,
        {"email": "second@example.com", "password": PASSWORD, "data": {"username": "Shared"}},
    )
    assert r.status_code == 422
    assert code(r) == "username_taken"
    assert await scalar(services, "SELECT count(*) FROM auth.users") == 1


async def test_username_race_is_translated(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two signups passing the check at once: the profile trigger's unique index decides."""

    async def racing(services: Services, username: str) -> None:
        return None

    monkeypatch.setattr(users, "check_username_free", racing)
    await add_user(services, "first@example.com", username="shared")
    with pytest.raises(AuthError) as caught:
        await users.signup(
            services,
            "second@example.com",
            PASSWORD,
            {"username": "shared"},
            None,
            ClientInfo("127.0.0.1"),
        )
    assert (caught.value.status, caught.value.code) == (422, "username_taken")
    assert await scalar(services, "SELECT count(*) FROM auth.users") == 1


async def test_signup_can_be_disabled(services: Services) -> None:
    async with app_for(services, disable_signup=True) as c:
        r = await signup(c, {"email": "n@example.com", "password": PASSWORD})
    assert r.status_code == 422
    assert code(r) == "signup_disabled"
