"""Guests: GoTrue's anonymous sign-in (POST /signup with no email or phone), the guest adding
an address later (PUT /user), the setting that turns it off, its own rate limit, the JWT claim
row-level security reads, and the real supabase_auth client doing it end to end."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import psycopg
import pytest
from psycopg.rows import dict_row
from supabase_auth import AsyncGoTrueClient

from momento.config import load_settings
from momento.mail import SmtpMailer
from momento.services import Services
from tests.auth.conftest import Inbox, client_for, services_with
from tests.auth.helpers import API, PASSWORD, add_user, bearer, code, login, refresh, scalar
from tests.conftest import app_for
from tests.factories import BASE, add_photos, create_user, make_event, sql

GUEST_IP = "203.0.113.7"


async def sign_in_guest(
    client: httpx.AsyncClient, data: dict[str, Any] | None = None
) -> dict[str, Any]:
    r = await client.post("/auth/v1/signup", json={"data": data or {}}, headers=API)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def claims_of(session: dict[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(
        session["access_token"], options={"verify_signature": False}
    )
    return decoded


async def guest_row(services: Services, user_id: str) -> dict[str, Any]:
    [row] = await sql(
        services,
        "SELECT id, email, email_change, encrypted_password, email_confirmed_at, is_anonymous,"
        " raw_app_meta_data, raw_user_meta_data FROM auth.users WHERE id = %s",
        uuid.UUID(user_id),
    )
    return row


# --- signing in ------------------------------------------------------------------------------


async def test_a_guest_gets_an_anonymous_session(services: Services) -> None:
    async with client_for(services) as c:
        session = await sign_in_guest(c, {"display_name": "Ana at the party"})
        user = session["user"]
        assert user["is_anonymous"] is True
        assert (user["email"], user["phone"]) == ("", "")
        assert user["app_metadata"] == {}  # as GoTrue: a guest has no provider
        assert user["identities"] == []
        assert user["user_metadata"] == {"display_name": "Ana at the party"}
        assert session["refresh_token"]

        claims = claims_of(session)
        assert claims["is_anonymous"] is True
        assert claims["sub"] == user["id"]
        assert claims["role"] == "authenticated"
        assert [a["method"] for a in claims["amr"]] == ["anonymous"]

        # A profile comes with the guest: a generated username, the display name given.
        [profile] = await sql(
            services,
            "SELECT username, display_name FROM public.profiles WHERE id = %s",
            uuid.UUID(user["id"]),
        )
        assert profile["username"].startswith("user_")
        assert profile["display_name"] == "Ana at the party"

        r = await c.get("/auth/v1/user", headers=bearer(session))
        assert r.status_code == 200, r.text
        assert r.json()["is_anonymous"] is True
        # The guest uses the /v1 API with the same token.
        r = await c.get("/v1/me", headers=bearer(session))
        assert r.status_code == 200, r.text
        assert r.json()["display_name"] == "Ana at the party"

        # A refreshed session is still the guest's, and still anonymous.
        r = await refresh(c, session["refresh_token"])
        assert r.status_code == 200, r.text
        again = claims_of(r.json())
        assert again["is_anonymous"] is True
        assert [a["method"] for a in again["amr"]] == ["anonymous"]
        assert r.json()["user"]["id"] == user["id"]


async def test_a_guest_without_data_and_with_a_username(services: Services) -> None:
    async with client_for(services) as c:
        bare = await c.post("/auth/v1/signup", content=b"{}", headers=API)
        assert bare.status_code == 200, bare.text
        assert bare.json()["user"]["user_metadata"] == {}
        named = await sign_in_guest(c, {"username": "Party.Guest"})
        assert named["user"]["user_metadata"] == {"username": "party.guest"}
        name = "SELECT username FROM public.profiles WHERE id = %s"
        assert await scalar(services, name, uuid.UUID(named["user"]["id"])) == "party.guest"

        taken = await c.post("/auth/v1/signup", json={"data": {"username": "party.guest"}})
        assert (taken.status_code, code(taken)) == (422, "username_taken")
        bad = await c.post("/auth/v1/signup", json={"data": {"username": "no spaces"}}, headers=API)
        assert (bad.status_code, code(bad)) == (422, "validation_failed")
        long = await c.post(
            "/auth/v1/signup", json={"data": {"display_name": "x" * 61}}, headers=API
        )
        assert (long.status_code, code(long)) == (422, "validation_failed")
    assert await scalar(services, "SELECT count(*) FROM auth.users") == 2


async def test_guests_off(services: Services) -> None:
    async with app_for(services, anonymous_signins=False) as c:
        r = await c.post("/auth/v1/signup", json={}, headers=API)
        assert (r.status_code, code(r)) == (422, "anonymous_provider_disabled")
        assert r.json()["message"] == "Anonymous sign-ins are disabled"
        legacy = await c.post("/auth/v1/signup", json={"data": {}})
        assert (legacy.json()["code"], legacy.json()["error_code"]) == (
            422,
            "anonymous_provider_disabled",
        )
        # Signups with an address are not concerned.
        r = await c.post(
            "/auth/v1/signup", json={"email": "ana@example.com", "password": PASSWORD}, headers=API
        )
        assert r.status_code == 200, r.text
    async with app_for(services, disable_signup=True) as c:
        r = await c.post("/auth/v1/signup", json={}, headers=API)
        assert (r.status_code, code(r)) == (422, "signup_disabled")
    assert await scalar(services, "SELECT count(*) FROM auth.users WHERE is_anonymous") == 0


def test_guests_are_on_by_default_except_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().anonymous_signins is True  # development
    assert load_settings(env="test").anonymous_signins is True
    monkeypatch.setenv("MOMENTO_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db.example/momento")
    monkeypatch.setenv("JWT_PRIVATE_KEY", "a key")
    monkeypatch.setenv("MOMENTO_PUBLIC_URL", "https://momento.example")
    monkeypatch.setenv("SMTP_URL", "smtp://mail.example:587")
    monkeypatch.setenv("FILES_SIGNING_SECRET", "s" * 40)
    assert load_settings().anonymous_signins is False
    monkeypatch.setenv("MOMENTO_ANONYMOUS_SIGNINS", "true")
    assert load_settings().anonymous_signins is True


async def test_a_venue_of_guests_behind_one_address_is_not_limited_but_a_flood_is(
    services: Services,
) -> None:
    """150 guests behind one NAT address sign in with the default limit; beyond the limit
    (here set to those 150, counted in the same database) the address gets 429."""
    async with client_for(services, GUEST_IP) as c:
        for _ in range(150):
            r = await c.post("/auth/v1/signup", json={}, headers=API)
            assert r.status_code == 200, r.text
    assert await scalar(services, "SELECT count(*) FROM auth.users WHERE is_anonymous") == 150
    assert services.settings.rate_limit_anonymous_per_ip >= 150

    flooded = services_with(services, rate_limit_anonymous_per_ip=150)
    async with client_for(flooded, GUEST_IP) as c:
        for _ in range(3):
            r = await c.post("/auth/v1/signup", json={}, headers=API)
            assert (r.status_code, code(r)) == (429, "over_request_rate_limit")
            assert 0 < int(r.headers["Retry-After"]) <= 3600
    async with client_for(flooded, "198.51.100.1") as c:
        assert (await c.post("/auth/v1/signup", json={}, headers=API)).status_code == 200
    assert await scalar(services, "SELECT count(*) FROM auth.users WHERE is_anonymous") == 151


# --- a guest adds an address -----------------------------------------------------------------


async def _guest_with_data(services: Services, c: httpx.AsyncClient) -> dict[str, Any]:
    """A guest who joined someone's event and uploaded a photo there."""
    session = await sign_in_guest(c, {"display_name": "Guest"})
    host = await create_user(services, "host")
    event = await make_event(services, host, members=[uuid.UUID(session["user"]["id"])])
    session["event"] = event
    await add_photos(services, event, uuid.UUID(session["user"]["id"]), [BASE])
    return session


async def _still_theirs(services: Services, session: dict[str, Any]) -> None:
    uid = uuid.UUID(session["user"]["id"])
    members = "SELECT count(*) FROM public.event_members WHERE event_id = %s AND user_id = %s"
    assert await scalar(services, members, session["event"], uid) == 1
    photos = "SELECT count(*) FROM public.photos WHERE user_id = %s"
    assert await scalar(services, photos, uid) == 1
    profile = "SELECT display_name FROM public.profiles WHERE id = %s"
    assert await scalar(services, profile, uid) == "Guest"


async def test_a_guest_adds_an_address_at_once_without_confirmation(
    mail_client: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    session = await _guest_with_data(services, mail_client)
    r = await mail_client.put(
        "/auth/v1/user",
        json={"email": "Guest@Example.com", "password": PASSWORD},
        headers=bearer(session),
    )
    assert r.status_code == 200, r.text
    user = r.json()
    assert user["id"] == session["user"]["id"]
    assert user["is_anonymous"] is False
    assert user["email"] == "guest@example.com"
    assert user["email_confirmed_at"]
    assert user["app_metadata"] == {"provider": "email", "providers": ["email"]}
    assert [i["provider"] for i in user["identities"]] == ["email"]
    assert "new_email" not in user
    assert inbox.mails == []  # nothing to confirm: confirmation is off

    await _still_theirs(services, session)
    row = await guest_row(services, user["id"])
    assert (row["is_anonymous"], row["email"], row["email_change"]) == (
        False,
        "guest@example.com",
        None,
    )
    # The password came with it: the former guest signs in, the same user.
    signed_in = await login(mail_client, "guest@example.com")
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["user"]["id"] == user["id"]
    assert claims_of(signed_in.json())["is_anonymous"] is False
    # The guest's own session goes on, no longer anonymous once refreshed.
    refreshed = await refresh(mail_client, session["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    assert claims_of(refreshed.json())["is_anonymous"] is False


async def test_a_guest_adds_an_address_then_a_password(services: Services) -> None:
    async with client_for(services) as c:
        session = await sign_in_guest(c)
        r = await c.put("/auth/v1/user", json={"password": PASSWORD}, headers=bearer(session))
        assert (r.status_code, code(r)) == (422, "validation_failed")
        assert "anonymous" in r.json()["message"]
        r = await c.put(
            "/auth/v1/user", json={"email": "guest@example.com"}, headers=bearer(session)
        )
        assert r.status_code == 200, r.text
        assert r.json()["is_anonymous"] is False
        assert (await login(c, "guest@example.com")).status_code == 400  # no password yet
        r = await c.put("/auth/v1/user", json={"password": PASSWORD}, headers=bearer(session))
        assert r.status_code == 200, r.text
        assert (await login(c, "guest@example.com")).status_code == 200


async def test_a_guest_adds_an_address_after_its_link_with_confirmation(
    confirm_client: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    session = await _guest_with_data(services, confirm_client)
    r = await confirm_client.put(
        "/auth/v1/user",
        json={"email": "guest@example.com", "password": PASSWORD},
        headers=bearer(session),
    )
    assert r.status_code == 200, r.text
    assert r.json()["is_anonymous"] is True
    assert r.json()["email"] == ""
    assert r.json()["new_email"] == "guest@example.com"
    row = await guest_row(services, session["user"]["id"])
    assert (row["is_anonymous"], row["email"]) == (True, None)
    assert (await login(confirm_client, "guest@example.com")).status_code == 400
    # One link, to the new address: a guest has no current address to confirm.
    [mail] = inbox.mails
    assert mail.to == ["guest@example.com"]

    r = await confirm_client.post(
        "/auth/v1/verify",
        json={"type": "email_change", "token_hash": mail.token_hash},
        headers=API,
    )
    assert r.status_code == 200, r.text
    user = r.json()["user"]
    assert user["id"] == session["user"]["id"]
    assert user["is_anonymous"] is False
    assert user["email"] == "guest@example.com"
    assert user["app_metadata"] == {"provider": "email", "providers": ["email"]}
    assert user["user_metadata"] == {"display_name": "Guest"}
    assert claims_of(r.json())["is_anonymous"] is False
    await _still_theirs(services, session)
    signed_in = await login(confirm_client, "guest@example.com")
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["user"]["id"] == session["user"]["id"]


@pytest.mark.parametrize("confirm", [False, True])
async def test_an_address_with_an_account_is_refused_and_nothing_changes(
    services: Services, smtp_url: str, inbox: Inbox, confirm: bool
) -> None:
    owner = await add_user(services, "taken@example.com")
    before = await guest_row(services, str(owner))
    mailer = SmtpMailer(smtp_url, services.settings.mail_from)
    svc = services_with(services, mailer, smtp_url=smtp_url, email_confirm=confirm)
    async with client_for(svc) as c:
        session = await _guest_with_data(services, c)
        r = await c.put(
            "/auth/v1/user",
            json={"email": "TAKEN@example.com", "password": "another secret", "data": {"x": 1}},
            headers=bearer(session),
        )
        assert (r.status_code, code(r)) == (422, "email_exists")
        assert (await login(c, "taken@example.com")).json()["user"]["id"] == str(owner)
    guest = await guest_row(services, session["user"]["id"])
    assert guest["is_anonymous"] is True
    assert (guest["email"], guest["email_change"], guest["encrypted_password"]) == (None,) * 3
    assert guest["raw_user_meta_data"] == {"display_name": "Guest"}
    assert await guest_row(services, str(owner)) == before
    await _still_theirs(services, session)
    owners = "SELECT count(*) FROM public.event_members WHERE user_id = %s"
    assert await scalar(services, owners, owner) == 0
    assert inbox.mails == []


async def test_a_guest_password_follows_the_password_rules(services: Services) -> None:
    async with client_for(services) as c:
        session = await sign_in_guest(c)
        r = await c.put(
            "/auth/v1/user",
            json={"email": "guest@example.com", "password": "short"},
            headers=bearer(session),
        )
        assert (r.status_code, code(r)) == (422, "weak_password")
    assert (await guest_row(services, session["user"]["id"]))["is_anonymous"] is True


# --- what the database sees ------------------------------------------------------------------


@pytest.fixture
async def owner_conn(database_url: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    conn = await psycopg.AsyncConnection.connect(
        database_url, autocommit=True, row_factory=dict_row
    )
    try:
        yield conn
    finally:
        await conn.close()


async def test_row_level_security_tells_guests_apart(
    services: Services, owner_conn: psycopg.AsyncConnection[Any]
) -> None:
    """The server runs a guest's requests with the verified claims of their token, where
    `auth.jwt()->>'is_anonymous'` tells them apart: a policy can use it."""
    async with client_for(services) as c:
        guest = await sign_in_guest(c)
    member = await create_user(services, "member")
    guest_claims = services.tokens.verify(guest["access_token"])
    member_claims = services.tokens.verify(member.token)
    probe = (
        "SELECT current_user::text AS role, auth.uid() AS uid,"
        " auth.jwt()->>'is_anonymous' AS anonymous"
    )
    [row] = await services.db.user_fetch(guest_claims, probe, ())
    assert (row["role"], str(row["uid"]), row["anonymous"]) == (
        "authenticated",
        guest["user"]["id"],
        "true",
    )
    [row] = await services.db.user_fetch(member_claims, probe, ())
    assert (row["role"], row["uid"], row["anonymous"]) == ("authenticated", member.id, "false")

    # A policy that keeps guests out, on a table made for the test and rolled back.
    async with owner_conn.transaction(force_rollback=True):
        await owner_conn.execute("CREATE TABLE public.members_only (n int)")
        await owner_conn.execute("INSERT INTO public.members_only VALUES (1)")
        await owner_conn.execute("ALTER TABLE public.members_only ENABLE ROW LEVEL SECURITY")
        await owner_conn.execute("GRANT SELECT ON public.members_only TO authenticated")
        await owner_conn.execute(
            "CREATE POLICY no_guests ON public.members_only FOR SELECT TO authenticated"
            " USING (NOT coalesce((auth.jwt()->>'is_anonymous')::boolean, false))"
        )
        seen = {}
        for who, claims in (("guest", guest_claims), ("member", member_claims)):
            async with owner_conn.transaction(force_rollback=True):
                await owner_conn.execute("SET LOCAL ROLE authenticated")
                await owner_conn.execute(
                    "SELECT set_config('request.jwt.claims', %s, true)", (json.dumps(claims),)
                )
                cur = await owner_conn.execute("SELECT count(*) AS n FROM public.members_only")
                counted = await cur.fetchone()
                assert counted is not None
                seen[who] = counted["n"]
        assert seen == {"guest": 0, "member": 1}


# --- the real client -------------------------------------------------------------------------


async def test_supabase_client_signs_in_a_guest_and_converts_it(
    live_url: str, services: Services
) -> None:
    client = AsyncGoTrueClient(url=live_url, auto_refresh_token=False, persist_session=True)
    try:
        signed = await client.sign_in_anonymously({"options": {"data": {"display_name": "G"}}})
        assert signed.user is not None
        assert signed.session is not None
        assert signed.user.is_anonymous is True
        assert signed.user.user_metadata == {"display_name": "G"}
        guest_id = signed.user.id

        updated = await client.update_user({"email": "guest@example.com", "password": PASSWORD})
        assert updated.user.id == guest_id
        assert updated.user.is_anonymous is False
        assert updated.user.email == "guest@example.com"

        refreshed = await client.refresh_session()
        assert refreshed.session is not None
        assert claims_of({"access_token": refreshed.session.access_token})["is_anonymous"] is False
        await client.sign_out()

        again = await client.sign_in_with_password(
            {"email": "guest@example.com", "password": PASSWORD}
        )
        assert again.user is not None
        assert again.user.id == guest_id
        assert again.user.is_anonymous is False
    finally:
        await client.close()
    anonymous = "SELECT is_anonymous FROM auth.users WHERE id = %s"
    assert await scalar(services, anonymous, uuid.UUID(guest_id)) is False
