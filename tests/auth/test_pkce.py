"""PKCE for mailed links (momento.auth.pkce, migration 0014): the real Supabase client in its
"pkce" flow against a real HTTP server, then every refusal over the ASGI app."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from supabase_auth import AsyncGoTrueClient

from momento.mail import SmtpMailer
from momento.services import Services
from tests.auth.conftest import Inbox, Mail, client_for, serve_live, services_with
from tests.auth.helpers import API, PASSWORD, add_user, bearer, code, scalar

REDIRECT = "http://app.test/auth/callback"


def verifier() -> str:
    return secrets.token_urlsafe(48)  # 64 unreserved characters


def s256(value: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(value.encode()).digest()).rstrip(b"=").decode()


def pkce(value: str, method: str = "s256") -> dict[str, str]:
    challenge = s256(value) if method.lower() == "s256" else value
    return {"code_challenge": challenge, "code_challenge_method": method}


def link_path(mail: Mail) -> str:
    """The mailed link's path and query, to follow against any base URL."""
    parts = urlsplit(mail.link)
    return f"{parts.path}?{parts.query}"


def code_of(r: httpx.Response) -> str:
    """The code a followed PKCE link redirects with, in the query (not the fragment)."""
    assert r.status_code == 303, r.text
    location = urlsplit(r.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    assert location.fragment == ""
    [value] = parse_qs(location.query)["code"]
    return value


async def exchange(client: httpx.AsyncClient, auth_code: str, code_verifier: str) -> httpx.Response:
    return await client.post(
        "/auth/v1/token",
        params={"grant_type": "pkce"},
        json={"auth_code": auth_code, "code_verifier": code_verifier},
        headers=API,
    )


@pytest.fixture
def confirm_services(services: Services, smtp_url: str) -> Services:
    return services_with(
        services,
        SmtpMailer(smtp_url, services.settings.mail_from),
        smtp_url=smtp_url,
        email_confirm=True,
        redirect_allow_list=["http://app.test/**"],
    )


@pytest.fixture
async def gotrue(confirm_services: Services) -> AsyncIterator[tuple[AsyncGoTrueClient, str]]:
    async with serve_live(confirm_services) as url:
        client = AsyncGoTrueClient(
            url=url, auto_refresh_token=False, persist_session=True, flow_type="pkce"
        )
        try:
            yield client, url
        finally:
            await client.close()


# --- the real client ----------------------------------------------------------------------


async def test_signup_confirmation_with_the_supabase_client(
    gotrue: tuple[AsyncGoTrueClient, str], inbox: Inbox, services: Services
) -> None:
    client, url = gotrue
    signed_up = await client.sign_up(
        {
            "email": "ana@example.com",
            "password": PASSWORD,
            "options": {"email_redirect_to": REDIRECT},
        }
    )
    assert signed_up.session is None  # confirmation first
    [mail] = inbox.to("ana@example.com")
    assert parse_qs(urlsplit(mail.link).query)["token"][0].startswith("pkce_")

    async with httpx.AsyncClient() as browser:
        followed = await browser.get(url.removesuffix("/auth/v1") + link_path(mail))
    auth_code = code_of(followed)
    assert await scalar(services, "SELECT count(*) FROM auth.sessions") == 0

    exchanged = await client.exchange_code_for_session({"auth_code": auth_code})
    assert exchanged.session is not None
    assert exchanged.user is not None
    assert exchanged.user.email == "ana@example.com"
    assert exchanged.user.email_confirmed_at is not None
    got = await client.get_user()
    assert got is not None
    assert got.user.id == exchanged.user.id
    assert await scalar(services, "SELECT count(*) FROM auth.flow_state") == 0


async def test_password_reset_with_the_supabase_client(
    gotrue: tuple[AsyncGoTrueClient, str], inbox: Inbox, services: Services
) -> None:
    client, url = gotrue
    await add_user(services, "ana@example.com")
    await client.reset_password_for_email("ana@example.com", {"redirect_to": REDIRECT})
    [mail] = inbox.to("ana@example.com")
    async with httpx.AsyncClient() as browser:
        followed = await browser.get(url.removesuffix("/auth/v1") + link_path(mail))
    exchanged = await client.exchange_code_for_session({"auth_code": code_of(followed)})
    assert exchanged.session is not None
    claims = services.tokens.verify(exchanged.session.access_token)
    assert [a["method"] for a in claims["amr"]] == ["recovery"]
    updated = await client.update_user({"password": "a brand new secret"})
    assert updated.user.email == "ana@example.com"


# --- the protocol, over the ASGI app ------------------------------------------------------


@pytest.fixture
async def app(confirm_services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(confirm_services) as c:
        yield c


async def mailed_code(
    app: httpx.AsyncClient, services: Services, inbox: Inbox, code_verifier: str, **extra: str
) -> str:
    """A recovery link for ana requested with the challenge of `code_verifier`, followed."""
    if await scalar(services, "SELECT count(*) FROM auth.users") == 0:
        await add_user(services, "ana@example.com")
    inbox.mails.clear()
    r = await app.post(
        "/auth/v1/recover",
        params={"redirect_to": REDIRECT},
        json={"email": "ana@example.com", **pkce(code_verifier, **extra)},
        headers=API,
    )
    assert r.status_code == 200, r.text
    [mail] = inbox.mails
    return code_of(await app.get(mail.link))


async def sessions(services: Services) -> int:
    return int(await scalar(services, "SELECT count(*) FROM auth.sessions"))


@pytest.mark.parametrize("method", ["s256", "plain", "S256"])
async def test_the_code_with_its_verifier_is_a_session(
    app: httpx.AsyncClient, services: Services, inbox: Inbox, method: str
) -> None:
    v = verifier()
    auth_code = await mailed_code(app, services, inbox, v, method=method)
    r = await exchange(app, auth_code, v)
    assert r.status_code == 200, r.text
    session = r.json()
    assert session["user"]["email"] == "ana@example.com"
    assert (await app.get("/auth/v1/user", headers=bearer(session))).status_code == 200


async def test_a_wrong_verifier_is_refused_and_does_not_spend_the_code(
    app: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    v = verifier()
    auth_code = await mailed_code(app, services, inbox, v)
    r = await exchange(app, auth_code, verifier())
    assert (r.status_code, code(r)) == (403, "bad_code_verifier")
    assert await sessions(services) == 0
    assert (await exchange(app, auth_code, v)).status_code == 200


async def test_a_code_is_used_once(
    app: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    v = verifier()
    auth_code = await mailed_code(app, services, inbox, v)
    assert (await exchange(app, auth_code, v)).status_code == 200
    r = await exchange(app, auth_code, v)
    assert (r.status_code, code(r)) == (404, "flow_state_not_found")
    assert await sessions(services) == 1


async def test_an_expired_code_is_refused(
    app: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    v = verifier()
    auth_code = await mailed_code(app, services, inbox, v)
    async with services.db.privileged() as conn:
        await conn.execute(
            "UPDATE auth.flow_state SET auth_code_issued_at = now() - interval '6 minutes'"
        )
    r = await exchange(app, auth_code, v)
    assert (r.status_code, code(r)) == (403, "flow_state_expired")
    assert await sessions(services) == 0


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({}, 400, "validation_failed"),
        ({"auth_code": str(uuid.uuid4())}, 400, "validation_failed"),
        ({"code_verifier": "v" * 50}, 400, "validation_failed"),
        ({"auth_code": str(uuid.uuid4()), "code_verifier": "short"}, 400, "validation_failed"),
        (
            {"auth_code": str(uuid.uuid4()), "code_verifier": "v" * 43 + "!"},
            400,
            "validation_failed",
        ),
        ({"auth_code": str(uuid.uuid4()), "code_verifier": "v" * 50}, 404, "flow_state_not_found"),
        ({"auth_code": "not-a-code", "code_verifier": "v" * 50}, 404, "flow_state_not_found"),
    ],
)
async def test_bad_exchanges_are_refused(
    app: httpx.AsyncClient, services: Services, body: dict[str, Any], status: int, error: str
) -> None:
    r = await app.post("/auth/v1/token", params={"grant_type": "pkce"}, json=body, headers=API)
    assert (r.status_code, code(r)) == (status, error)
    assert await sessions(services) == 0


@pytest.mark.parametrize(
    "challenge",
    [
        {"code_challenge": s256("x" * 50)},
        {"code_challenge_method": "s256"},
        {"code_challenge": s256("x" * 50), "code_challenge_method": "md5"},
        {"code_challenge": "too-short", "code_challenge_method": "plain"},
        {"code_challenge": "x" * 129, "code_challenge_method": "plain"},
    ],
)
async def test_malformed_challenges_are_refused_before_anything_is_stored(
    app: httpx.AsyncClient, services: Services, inbox: Inbox, challenge: dict[str, str]
) -> None:
    r = await app.post(
        "/auth/v1/signup",
        json={"email": "bo@example.com", "password": PASSWORD, **challenge},
        headers=API,
    )
    assert (r.status_code, code(r)) == (400, "validation_failed")
    await add_user(services, "ana@example.com")
    r = await app.post(
        "/auth/v1/recover", json={"email": "ana@example.com", **challenge}, headers=API
    )
    assert (r.status_code, code(r)) == (400, "validation_failed")
    assert await scalar(services, "SELECT count(*) FROM auth.users") == 1
    assert await scalar(services, "SELECT count(*) FROM auth.flow_state") == 0
    assert inbox.mails == []


async def test_a_spent_or_forged_pkce_link_answers_in_the_query(
    app: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    v = verifier()
    await mailed_code(app, services, inbox, v)
    [mail] = inbox.mails
    for link in (mail.link, mail.link.replace("token=pkce_", "token=pkce_0")):
        r = await app.get(link)
        assert r.status_code == 303
        location = urlsplit(r.headers["location"])
        assert location.fragment == ""
        query = parse_qs(location.query)
        assert query["error"] == ["access_denied"]
        assert query["error_code"] == ["otp_expired"]


async def test_a_pkce_prefix_on_a_link_without_a_flow_state_is_refused(
    app: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    """A link mailed without PKCE, its token given the prefix: verified, but no code without a
    challenge behind it, and the token is not spent."""
    await add_user(services, "ana@example.com")
    r = await app.post(
        "/auth/v1/recover",
        params={"redirect_to": REDIRECT},
        json={"email": "ana@example.com"},
        headers=API,
    )
    assert r.status_code == 200
    [mail] = inbox.mails
    r = await app.get(mail.link.replace("token=", "token=pkce_"))
    assert r.status_code == 303
    assert parse_qs(urlsplit(r.headers["location"]).query)["error_code"] == ["flow_state_not_found"]
    r = await app.get(mail.link)  # the plain link still works
    assert "access_token=" in urlsplit(r.headers["location"]).fragment


async def test_the_code_in_the_mail_still_signs_in_directly(
    app: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    """POST /verify (the 6-digit code typed in the app) needs no verifier, as on GoTrue; the
    link's flow state goes with the token."""
    await add_user(services, "ana@example.com")
    r = await app.post(
        "/auth/v1/recover", json={"email": "ana@example.com", **pkce(verifier())}, headers=API
    )
    assert r.status_code == 200
    [mail] = inbox.mails
    r = await app.post(
        "/auth/v1/verify",
        json={"type": "recovery", "email": "ana@example.com", "token": mail.otp},
        headers=API,
    )
    assert r.status_code == 200, r.text
    assert r.json()["access_token"]
    assert await scalar(services, "SELECT count(*) FROM auth.flow_state") == 0


async def test_an_email_change_link_with_pkce(
    app: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    await add_user(services, "ana@example.com")
    r = await app.post(
        "/auth/v1/token",
        params={"grant_type": "password"},
        json={"email": "ana@example.com", "password": PASSWORD},
        headers=API,
    )
    session = r.json()
    v = verifier()
    r = await app.put(
        "/auth/v1/user",
        params={"redirect_to": REDIRECT},
        json={"email": "ana@new.example", **pkce(v)},
        headers=bearer(session),
    )
    assert r.status_code == 200, r.text
    [mail] = inbox.to("ana@new.example")
    [current] = inbox.to("ana@example.com")
    # The first of the two links (secure email change) says so in the query, with no code.
    first = await app.get(mail.link)
    assert first.status_code == 303
    query = parse_qs(urlsplit(first.headers["location"]).query)
    assert query["message"][0].startswith("Confirmation link accepted")
    assert "code" not in query
    r = await exchange(app, code_of(await app.get(current.link)), v)
    assert r.status_code == 200, r.text
    assert r.json()["user"]["email"] == "ana@new.example"


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ("banned_until = now() + interval '1 day'", 400, "user_banned"),
        # GoTrue answers user_not_found with 403 everywhere (this was a 404).
        ("deleted_at = now()", 403, "user_not_found"),
    ],
)
async def test_a_code_of_an_account_since_banned_or_deleted_is_refused(
    app: httpx.AsyncClient, services: Services, inbox: Inbox, change: str, status: int, error: str
) -> None:
    v = verifier()
    auth_code = await mailed_code(app, services, inbox, v)
    async with services.db.privileged() as conn:
        await conn.execute(f"UPDATE auth.users SET {change}")
    r = await exchange(app, auth_code, v)
    assert (r.status_code, code(r)) == (status, error)
    assert await sessions(services) == 0
