"""GET and PUT /auth/v1/user."""

from __future__ import annotations

import httpx

from momento.mail import SmtpMailer
from momento.services import Services
from tests.auth.conftest import Inbox, client_for, services_with
from tests.auth.helpers import (
    API,
    PASSWORD,
    TIMESTAMP,
    add_user,
    bearer,
    code,
    login,
    refresh,
    scalar,
    session_for,
)
from tests.factories import create_user


async def test_get_user(client: httpx.AsyncClient, services: Services) -> None:
    user_id = await add_user(services, "ana@example.com", username="ana")
    session = await session_for(client, "ana@example.com")
    r = await client.get("/auth/v1/user", headers=bearer(session))
    assert r.status_code == 200
    user = r.json()
    assert user["id"] == str(user_id)
    assert user["email"] == "ana@example.com"
    assert user["user_metadata"] == {"username": "ana"}
    assert TIMESTAMP.match(user["created_at"])


async def test_get_user_with_a_factory_token(client: httpx.AsyncClient, services: Services) -> None:
    user = await create_user(services)
    r = await client.get("/auth/v1/user", headers={**API, **user.headers})
    assert r.status_code == 200
    assert r.json()["id"] == str(user.id)


async def test_get_user_refusals(client: httpx.AsyncClient, services: Services) -> None:
    r = await client.get("/auth/v1/user", headers=API)
    assert (r.status_code, code(r)) == (401, "no_authorization")
    r = await client.get("/auth/v1/user", headers={**API, "Authorization": "Basic abc"})
    assert (r.status_code, code(r)) == (401, "no_authorization")
    r = await client.get("/auth/v1/user", headers={**API, "Authorization": "Bearer a.b.c"})
    assert (r.status_code, code(r)) == (403, "bad_jwt")

    user = await create_user(services)
    async with services.db.privileged() as conn:
        await conn.execute("DELETE FROM auth.sessions WHERE id = %s", (user.session_id,))
    r = await client.get("/auth/v1/user", headers={**API, **user.headers})
    assert (r.status_code, code(r)) == (403, "session_not_found")

    other = await create_user(services)
    async with services.db.privileged() as conn:
        await conn.execute("UPDATE auth.users SET deleted_at = now() WHERE id = %s", (other.id,))
    r = await client.get("/auth/v1/user", headers={**API, **other.headers})
    assert (r.status_code, code(r)) == (403, "user_not_found")


async def test_expired_access_token_is_bad_jwt(
    client: httpx.AsyncClient, services: Services
) -> None:
    user = await create_user(services)
    token, _ = services.tokens.mint(
        user_id=user.id,
        session_id=user.session_id,
        email=user.email,
        app_metadata={},
        user_metadata={},
        amr=[],
        now=1_000_000,
    )
    r = await client.get("/auth/v1/user", headers={**API, "Authorization": f"Bearer {token}"})
    assert (r.status_code, code(r)) == (403, "bad_jwt")


async def test_update_metadata_merges_and_null_deletes(
    client: httpx.AsyncClient, services: Services
) -> None:
    await add_user(services, "ana@example.com", username="ana")
    session = await session_for(client, "ana@example.com")
    r = await client.put(
        "/auth/v1/user",
        json={"data": {"display": "Ana", "theme": "dark"}},
        headers=bearer(session),
    )
    assert r.status_code == 200, r.text
    assert r.json()["user_metadata"] == {"username": "ana", "display": "Ana", "theme": "dark"}
    r = await client.put("/auth/v1/user", json={"data": {"theme": None}}, headers=bearer(session))
    assert r.json()["user_metadata"] == {"username": "ana", "display": "Ana"}
    stored = await scalar(services, "SELECT raw_user_meta_data FROM auth.users")
    assert stored == {"username": "ana", "display": "Ana"}


async def test_password_change_ends_the_other_sessions(
    client: httpx.AsyncClient, services: Services
) -> None:
    await add_user(services, "ana@example.com")
    here = await session_for(client, "ana@example.com")
    elsewhere = await session_for(client, "ana@example.com")
    r = await client.put(
        "/auth/v1/user", json={"password": "a brand new secret"}, headers=bearer(here)
    )
    assert r.status_code == 200, r.text
    assert (await refresh(client, elsewhere["refresh_token"])).status_code == 400
    assert (await refresh(client, here["refresh_token"])).status_code == 200
    assert (await login(client, "ana@example.com")).status_code == 400
    assert (await login(client, "ana@example.com", "a brand new secret")).status_code == 200


async def test_password_change_refusals_store_nothing(
    client: httpx.AsyncClient, services: Services
) -> None:
    await add_user(services, "ana@example.com")
    session = await session_for(client, "ana@example.com")
    before = await scalar(services, "SELECT encrypted_password FROM auth.users")

    r = await client.put("/auth/v1/user", json={"password": PASSWORD}, headers=bearer(session))
    assert (r.status_code, code(r)) == (422, "same_password")
    r = await client.put("/auth/v1/user", json={"password": "short"}, headers=bearer(session))
    assert (r.status_code, code(r)) == (422, "weak_password")
    assert r.json()["weak_password"]["reasons"] == ["length"]
    r = await client.put("/auth/v1/user", json={"password": 5}, headers=bearer(session))
    assert (r.status_code, code(r)) == (400, "validation_failed")
    r = await client.put("/auth/v1/user", json={"password": "a new password"}, headers=API)
    assert (r.status_code, code(r)) == (401, "no_authorization")

    assert await scalar(services, "SELECT encrypted_password FROM auth.users") == before


async def test_email_change_waits_for_both_addresses(
    mail_client: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    """Even with sign-up confirmation off, an access token alone cannot move the account: the
    new address is taken once the links mailed to it and to the current address are both
    followed (GoTrue's secure email change)."""
    await add_user(services, "ana@example.com")
    await add_user(services, "taken@example.com")
    session = await session_for(mail_client, "ana@example.com")
    r = await mail_client.put(
        "/auth/v1/user", json={"email": "Taken@example.com"}, headers=bearer(session)
    )
    assert (r.status_code, code(r)) == (422, "email_exists")
    r = await mail_client.put(
        "/auth/v1/user", json={"email": "not an email"}, headers=bearer(session)
    )
    assert (r.status_code, code(r)) == (400, "validation_failed")

    r = await mail_client.put(
        "/auth/v1/user", json={"email": "ana2@example.com"}, headers=bearer(session)
    )
    assert r.status_code == 200, r.text
    assert r.json()["email"] == "ana@example.com"
    assert r.json()["new_email"] == "ana2@example.com"
    assert (await login(mail_client, "ana2@example.com")).status_code == 400
    assert (await login(mail_client, "ana@example.com")).status_code == 200
    [to_new] = inbox.to("ana2@example.com")
    [to_current] = inbox.to("ana@example.com")
    assert "ana2@example.com" in to_current.text

    r = await mail_client.post(
        "/auth/v1/verify",
        json={"type": "email_change", "token_hash": to_new.token_hash},
        headers=API,
    )
    assert r.status_code == 200, r.text
    assert r.json()["msg"].startswith("Confirmation link accepted")
    email = "SELECT email FROM auth.users WHERE email <> 'taken@example.com'"
    assert await scalar(services, email) == "ana@example.com"
    # The same link again does nothing more.
    r = await mail_client.post(
        "/auth/v1/verify",
        json={"type": "email_change", "token_hash": to_new.token_hash},
        headers=API,
    )
    assert (r.status_code, code(r)) == (403, "otp_expired")

    r = await mail_client.post(
        "/auth/v1/verify",
        json={"type": "email_change", "token_hash": to_current.token_hash},
        headers=API,
    )
    assert r.status_code == 200, r.text
    assert r.json()["user"]["email"] == "ana2@example.com"
    assert "new_email" not in r.json()["user"]
    assert (await login(mail_client, "ana2@example.com")).status_code == 200
    assert (await login(mail_client, "ana@example.com")).status_code == 400


async def test_email_change_with_confirmation(
    confirm_client: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    await add_user(services, "ana@example.com")
    session = await session_for(confirm_client, "ana@example.com")
    r = await confirm_client.put(
        "/auth/v1/user", json={"email": "new@example.com"}, headers=bearer(session)
    )
    assert r.status_code == 200, r.text
    assert r.json()["email"] == "ana@example.com"
    assert r.json()["new_email"] == "new@example.com"
    [mail] = inbox.to("new@example.com")
    assert "type=email_change" in mail.link
    [current] = inbox.to("ana@example.com")
    assert "type=email_change" in current.link

    # The current address's link first this time (either order works), followed as a link.
    r = await confirm_client.get(current.link)
    assert r.status_code == 303
    assert "message=Confirmation+link+accepted" in r.headers["location"]
    assert "access_token" not in r.headers["location"]
    r = await confirm_client.post(
        "/auth/v1/verify",
        json={"type": "email_change", "token_hash": mail.token_hash},
        headers=API,
    )
    assert r.status_code == 200, r.text
    assert r.json()["user"]["email"] == "new@example.com"
    assert "new_email" not in r.json()["user"]
    assert (await login(confirm_client, "new@example.com")).status_code == 200
    assert r.json()["access_token"]
    assert await scalar(services, "SELECT count(*) FROM auth.flow_state") == 0


async def test_email_change_confirmed_by_the_new_address_alone_when_not_secure(
    services: Services, smtp_url: str, inbox: Inbox
) -> None:
    svc = services_with(
        services, SmtpMailer(smtp_url, services.settings.mail_from), secure_email_change=False
    )
    await add_user(services, "ana@example.com")
    async with client_for(svc) as c:
        session = await session_for(c, "ana@example.com")
        r = await c.put("/auth/v1/user", json={"email": "new@example.com"}, headers=bearer(session))
        assert r.status_code == 200
        assert inbox.to("ana@example.com") == []
        [mail] = inbox.to("new@example.com")
        r = await c.post(
            "/auth/v1/verify",
            json={"type": "email_change", "token_hash": mail.token_hash},
            headers=API,
        )
        assert r.status_code == 200, r.text
        assert r.json()["user"]["email"] == "new@example.com"
