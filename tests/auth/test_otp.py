"""Signing in by mail (POST /auth/v1/otp, then POST or GET /verify with type magiclink or
email), over SMTP: the protocol over the ASGI app, then the real Supabase client (implicit and
PKCE flows) against a real HTTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from supabase_auth import AsyncGoTrueClient
from supabase_auth.errors import AuthApiError

from momento.mail import SmtpMailer
from momento.services import Services
from tests.auth.conftest import Inbox, client_for, free_port, serve_live, services_with
from tests.auth.helpers import API, PASSWORD, add_user, bearer, code, login, scalar
from tests.auth.test_pkce import REDIRECT, code_of, exchange, link_path, pkce, verifier


def mailing(services: Services, smtp_url: str, **overrides: Any) -> Services:
    return services_with(
        services, SmtpMailer(smtp_url, services.settings.mail_from), smtp_url=smtp_url, **overrides
    )


@pytest.fixture
async def confirm_off(services: Services, smtp_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """Email confirmation off (the default), mail through the test SMTP server."""
    async with client_for(mailing(services, smtp_url)) as c:
        yield c


@pytest.fixture
async def confirm_on(services: Services, smtp_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(mailing(services, smtp_url, email_confirm=True)) as c:
        yield c


async def otp(client: httpx.AsyncClient, email: str | None, **body: Any) -> httpx.Response:
    redirect = body.pop("redirect_to", None)
    params = {"redirect_to": redirect} if redirect else None
    payload = {"email": email, **body} if email is not None else body
    return await client.post("/auth/v1/otp", json=payload, params=params, headers=API)


async def verify(client: httpx.AsyncClient, **body: str) -> httpx.Response:
    return await client.post("/auth/v1/verify", json=body, headers=API)


async def users(services: Services) -> int:
    return int(await scalar(services, "SELECT count(*) FROM auth.users"))


async def sessions(services: Services) -> int:
    return int(await scalar(services, "SELECT count(*) FROM auth.sessions"))


def amr(services: Services, session: dict[str, Any]) -> list[str]:
    claims = services.tokens.verify(session["access_token"])
    return [entry["method"] for entry in claims["amr"]]


# --- an account that exists --------------------------------------------------------------------


async def test_an_account_is_mailed_a_sign_in_link_and_code(
    confirm_off: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    await add_user(services, "ana@example.com")
    r = await otp(confirm_off, "Ana@Example.com", redirect_to="http://app.test/in")
    assert (r.status_code, r.json()) == (200, {})

    [mail] = inbox.mails
    assert mail.to == ["ana@example.com"]
    assert mail.message["Subject"] == "Your sign-in link"
    query = parse_qs(urlsplit(mail.link).query)
    assert query["type"] == ["magiclink"]
    assert query["redirect_to"] == ["http://app.test/in"]
    # The token hash (keyed HMAC-SHA-224 of address and code), stored where GoTrue keeps it.
    expected = services.tokens.mail_token_hash("ana@example.com", mail.otp)
    assert query["token"] == [expected]
    stored = await scalar(services, "SELECT recovery_token FROM auth.users")
    assert stored == expected
    # The mail says the link and the code, and nothing else: no other secret rides along.
    assert mail.text.replace("\r\n", "\n") == (
        f"Follow this link to sign in:\n\n{mail.link}\n\nOr enter this code in the app: "
        f"{mail.otp}\n"
    )
    assert mail.link == (
        f"http://testserver/auth/v1/verify?token={expected}&type=magiclink"
        "&redirect_to=http%3A%2F%2Fapp.test%2Fin"
    )
    assert await sessions(services) == 0


@pytest.mark.parametrize("kind", ["email", "magiclink"])
async def test_the_typed_code_is_a_session(
    confirm_off: httpx.AsyncClient, services: Services, inbox: Inbox, kind: str
) -> None:
    await add_user(services, "ana@example.com")
    await otp(confirm_off, "ana@example.com")
    [mail] = inbox.mails
    wrong = "000000" if mail.otp != "000000" else "111111"
    r = await verify(confirm_off, type=kind, email="ana@example.com", token=wrong)
    assert (r.status_code, code(r)) == (403, "otp_expired")

    r = await verify(confirm_off, type=kind, email="ANA@example.com", token=mail.otp)
    assert r.status_code == 200, r.text
    session = r.json()
    assert session["user"]["email"] == "ana@example.com"
    assert amr(services, session) == ["otp"]
    assert (await confirm_off.get("/auth/v1/user", headers=bearer(session))).status_code == 200
    # A refreshed token still says how the session was signed in.
    r = await confirm_off.post(
        "/auth/v1/token",
        params={"grant_type": "refresh_token"},
        json={"refresh_token": session["refresh_token"]},
        headers=API,
    )
    assert r.status_code == 200, r.text
    assert amr(services, r.json()) == ["otp"]
    # Used once: the same code again is refused and starts no session.
    r = await verify(confirm_off, type=kind, email="ana@example.com", token=mail.otp)
    assert (r.status_code, code(r)) == (403, "otp_expired")
    assert await sessions(services) == 1


async def test_the_token_hash_is_a_session(
    confirm_off: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    await add_user(services, "ana@example.com")
    await otp(confirm_off, "ana@example.com")
    [mail] = inbox.mails
    r = await verify(confirm_off, type="magiclink", token_hash=mail.token_hash)
    assert r.status_code == 200, r.text
    assert amr(services, r.json()) == ["otp"]
    r = await verify(confirm_off, type="magiclink", token_hash=mail.token_hash)
    assert (r.status_code, code(r)) == (403, "otp_expired")


async def test_following_the_link_signs_in(
    confirm_off: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    await add_user(services, "ana@example.com")
    await otp(confirm_off, "ana@example.com", redirect_to="http://app.test/in")
    [mail] = inbox.mails

    r = await confirm_off.get(mail.link)
    assert r.status_code == 303
    location = urlsplit(r.headers["location"])
    assert (location.scheme, location.netloc, location.path) == ("http", "app.test", "/in")
    fragment = parse_qs(location.fragment)
    assert fragment["type"] == ["magiclink"]
    session = {"access_token": fragment["access_token"][0]}
    assert amr(services, session) == ["otp"]
    r = await confirm_off.get("/auth/v1/user", headers=bearer(session))
    assert r.json()["email"] == "ana@example.com"

    # Spent: the second visit lands on GoTrue's error fragment.
    r = await confirm_off.get(mail.link)
    fragment = parse_qs(urlsplit(r.headers["location"]).fragment)
    assert fragment["error_code"] == ["otp_expired"]
    assert await sessions(services) == 1


async def test_an_expired_code_is_refused(
    confirm_off: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    await add_user(services, "ana@example.com")
    await otp(confirm_off, "ana@example.com")
    [mail] = inbox.mails
    ttl = services.settings.otp_ttl
    async with services.db.privileged() as conn:
        await conn.execute(
            "UPDATE auth.users SET recovery_sent_at = now() - make_interval(secs => %s)",
            (ttl + 1,),
        )
    r = await verify(confirm_off, type="email", email="ana@example.com", token=mail.otp)
    assert (r.status_code, code(r)) == (403, "otp_expired")
    r = await confirm_off.get(mail.link)
    assert parse_qs(urlsplit(r.headers["location"]).fragment)["error_code"] == ["otp_expired"]
    assert await sessions(services) == 0


async def test_a_newer_mail_replaces_the_older_code(
    services: Services, smtp_url: str, inbox: Inbox
) -> None:
    await add_user(services, "ana@example.com")
    async with client_for(mailing(services, smtp_url, email_send_interval=0)) as app:
        await otp(app, "ana@example.com")
        await otp(app, "ana@example.com")
        first, second = inbox.mails
        if first.otp != second.otp:
            r = await verify(app, type="email", email="ana@example.com", token=first.otp)
            assert (r.status_code, code(r)) == (403, "otp_expired")
        r = await verify(app, type="email", email="ana@example.com", token=second.otp)
        assert r.status_code == 200, r.text


# --- a new address -----------------------------------------------------------------------------


async def test_a_new_address_gets_a_password_less_account(
    confirm_off: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    r = await otp(confirm_off, "bo@example.com", data={"username": "Bo_1", "display": "Bo"})
    assert (r.status_code, r.json()) == (200, {})
    row = await _user_row(services, "bo@example.com")
    assert row["encrypted_password"] is None
    assert row["raw_user_meta_data"] == {"username": "bo_1", "display": "Bo"}
    # Not confirmed until a mailed code comes back.
    assert row["email_confirmed_at"] is None
    assert await scalar(services, "SELECT username FROM public.profiles") == "bo_1"

    [mail] = inbox.mails
    assert mail.message["Subject"] == "Your sign-in link"
    assert parse_qs(urlsplit(mail.link).query)["type"] == ["magiclink"]
    r = await verify(confirm_off, type="email", email="bo@example.com", token=mail.otp)
    assert r.status_code == 200, r.text
    session = r.json()
    assert session["user"]["email_confirmed_at"]
    assert session["user"]["user_metadata"] == {"username": "bo_1", "display": "Bo"}
    assert (await _user_row(services, "bo@example.com"))["email_confirmed_at"] is not None

    # No password: a password sign-in is refused as any wrong one is.
    r = await login(confirm_off, "bo@example.com", "")
    assert (r.status_code, code(r)) == (400, "validation_failed")
    r = await login(confirm_off, "bo@example.com", PASSWORD)
    assert (r.status_code, code(r)) == (400, "invalid_credentials")
    # One can be set later, and then signs in.
    r = await confirm_off.put("/auth/v1/user", json={"password": PASSWORD}, headers=bearer(session))
    assert r.status_code == 200, r.text
    assert (await login(confirm_off, "bo@example.com", PASSWORD)).status_code == 200


async def test_known_and_new_addresses_get_the_same_answer(
    confirm_off: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    await add_user(services, "ana@example.com")
    known = await otp(confirm_off, "ana@example.com")
    new = await otp(confirm_off, "bo@example.com")
    assert (known.status_code, known.json()) == (new.status_code, new.json()) == (200, {})
    assert known.headers.keys() == new.headers.keys()
    # Both are mailed the same kind of mail (a sign-in link), as GoTrue does.
    assert [m.message["Subject"] for m in inbox.mails] == ["Your sign-in link"] * 2


async def test_with_confirmation_on_a_new_address_is_mailed_the_signup_confirmation(
    confirm_on: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    r = await otp(confirm_on, "bo@example.com")
    assert (r.status_code, r.json()) == (200, {})
    [mail] = inbox.mails
    assert mail.message["Subject"] == "Confirm your signup"
    assert parse_qs(urlsplit(mail.link).query)["type"] == ["signup"]
    stored = await scalar(services, "SELECT confirmation_token FROM auth.users")
    assert stored == mail.token_hash

    # Asked again inside the send interval: GoTrue's 429, not a silent drop.
    again = await otp(confirm_on, "bo@example.com")
    assert (again.status_code, code(again)) == (429, "over_email_send_rate_limit")
    assert len(inbox.mails) == 1

    # Type `email` takes the confirmation's code too (what the clients' verifyOtp sends).
    r = await verify(confirm_on, type="email", email="bo@example.com", token=mail.otp)
    assert r.status_code == 200, r.text
    assert r.json()["user"]["email_confirmed_at"]
    assert amr(services, r.json()) == ["otp"]

    # Confirmed now: the next request is a sign-in link.
    inbox.mails.clear()
    async with services.db.privileged() as conn:
        await conn.execute("UPDATE auth.users SET confirmation_sent_at = NULL")
    assert (await otp(confirm_on, "bo@example.com")).status_code == 200
    [mail] = inbox.mails
    assert mail.message["Subject"] == "Your sign-in link"


async def test_with_confirmation_on_the_confirmation_link_signs_in(
    confirm_on: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    await otp(confirm_on, "bo@example.com")
    [mail] = inbox.mails
    r = await confirm_on.get(mail.link)
    assert r.status_code == 303
    fragment = parse_qs(urlsplit(r.headers["location"]).fragment)
    assert fragment["type"] == ["signup"]
    assert amr(services, {"access_token": fragment["access_token"][0]}) == ["otp"]


async def test_an_unconfirmed_account_is_not_confirmed_by_asking(
    confirm_off: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    """GoTrue, with confirmation off, confirms such an address when a link is asked for; here
    only the code coming back confirms it."""
    await add_user(services, "ana@example.com", confirmed=False)
    assert (await otp(confirm_off, "ana@example.com")).status_code == 200
    assert (await _user_row(services, "ana@example.com"))["email_confirmed_at"] is None
    [mail] = inbox.mails
    assert mail.message["Subject"] == "Your sign-in link"
    r = await verify(confirm_off, type="magiclink", token_hash=mail.token_hash)
    assert r.status_code == 200, r.text
    assert (await _user_row(services, "ana@example.com"))["email_confirmed_at"] is not None


async def test_create_user_false_refuses_an_unknown_address(
    confirm_off: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    r = await otp(confirm_off, "nobody@example.com", create_user=False)
    assert (r.status_code, code(r)) == (422, "otp_disabled")
    assert r.json()["message"] == "Signups not allowed for otp"
    # The legacy dialect (no API version header) says the same.
    legacy = await confirm_off.post(
        "/auth/v1/otp", json={"email": "nobody@example.com", "create_user": False}
    )
    assert legacy.status_code == 422
    assert legacy.json()["error_code"] == "otp_disabled"
    assert legacy.json()["msg"] == "Signups not allowed for otp"
    assert await users(services) == 0
    assert inbox.mails == []

    # An account that exists is mailed as usual.
    await add_user(services, "ana@example.com")
    r = await otp(confirm_off, "ana@example.com", create_user=False)
    assert (r.status_code, r.json()) == (200, {})
    assert len(inbox.mails) == 1


async def test_create_user_null_means_true(
    confirm_off: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    r = await otp(confirm_off, "bo@example.com", create_user=None, data=None)
    assert r.status_code == 200, r.text
    assert await users(services) == 1


async def test_signups_disabled_still_mails_existing_accounts(
    services: Services, smtp_url: str, inbox: Inbox
) -> None:
    await add_user(services, "ana@example.com")
    async with client_for(mailing(services, smtp_url, disable_signup=True)) as app:
        r = await otp(app, "bo@example.com")
        assert (r.status_code, code(r)) == (422, "signup_disabled")
        assert (await otp(app, "ana@example.com")).status_code == 200
    assert [m.to for m in inbox.mails] == [["ana@example.com"]]
    assert await users(services) == 1


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({}, 400, "validation_failed"),
        ({"email": ""}, 400, "validation_failed"),
        ({"email": "not-an-address"}, 400, "validation_failed"),
        ({"email": "ana@example.com", "phone": "+15550100"}, 400, "validation_failed"),
        ({"email": "ana@example.com", "channel": "sms"}, 400, "validation_failed"),
        ({"phone": "+15550100"}, 400, "phone_provider_disabled"),
        ({"email": "ana@example.com", "code_challenge": "x" * 43}, 400, "validation_failed"),
        ({"email": "ana@example.com", "create_user": "maybe"}, 400, "validation_failed"),
        ({"email": "ana@example.com", "data": {"username": "no spaces"}}, 422, "validation_failed"),
    ],
)
async def test_malformed_requests_are_refused(
    confirm_off: httpx.AsyncClient,
    services: Services,
    inbox: Inbox,
    body: dict[str, Any],
    status: int,
    error: str,
) -> None:
    r = await confirm_off.post("/auth/v1/otp", json=body, headers=API)
    assert (r.status_code, code(r)) == (status, error)
    assert await users(services) == 0
    assert inbox.mails == []


async def test_a_taken_username_is_refused(
    confirm_off: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    await add_user(services, "ana@example.com", username="ana")
    r = await otp(confirm_off, "bo@example.com", data={"username": "ANA"})
    assert (r.status_code, code(r)) == (422, "username_taken")
    assert await users(services) == 1
    assert inbox.mails == []


# --- rate limits -------------------------------------------------------------------------------


async def test_one_mail_per_address_per_send_interval(
    confirm_off: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    await add_user(services, "ana@example.com")
    assert (await otp(confirm_off, "ana@example.com")).status_code == 200
    again = await otp(confirm_off, "ana@example.com")
    assert (again.status_code, code(again)) == (429, "over_email_send_rate_limit")
    wait = int(again.headers["Retry-After"])
    assert 1 <= wait <= services.settings.email_send_interval
    assert f"after {wait} seconds" in again.json()["message"]
    # A new account counts from its first mail too.
    assert (await otp(confirm_off, "bo@example.com")).status_code == 200
    again = await otp(confirm_off, "bo@example.com")
    assert (again.status_code, code(again)) == (429, "over_email_send_rate_limit")
    assert len(inbox.mails) == 2


async def test_a_sign_in_link_and_a_password_reset_share_the_interval(
    confirm_off: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    """As GoTrue: both are the account's recovery code, so one waits for the other."""
    await add_user(services, "ana@example.com")
    r = await confirm_off.post("/auth/v1/recover", json={"email": "ana@example.com"}, headers=API)
    assert r.status_code == 200
    again = await otp(confirm_off, "ana@example.com")
    assert (again.status_code, code(again)) == (429, "over_email_send_rate_limit")
    assert len(inbox.mails) == 1


async def test_requests_count_against_the_mail_limits(
    services: Services, smtp_url: str, inbox: Inbox
) -> None:
    await add_user(services, "ana@example.com")
    per_account = services.settings.rate_limit_recover_per_account
    async with client_for(mailing(services, smtp_url, email_send_interval=0)) as app:
        for _ in range(per_account):
            assert (await otp(app, "ana@example.com")).status_code == 200
        r = await otp(app, "ana@example.com")
        assert (r.status_code, code(r)) == (429, "over_request_rate_limit")
    assert len(inbox.mails) == per_account


async def test_asking_about_addresses_is_throttled(
    services: Services, smtp_url: str, inbox: Inbox
) -> None:
    """create_user false says whether an address has an account (as GoTrue's does): it counts
    against the per-client mail limit before anything is looked up."""
    per_ip = services.settings.rate_limit_recover_per_ip
    async with client_for(mailing(services, smtp_url), client_ip="203.0.113.9") as app:
        for i in range(per_ip):
            r = await otp(app, f"guess{i}@example.com", create_user=False)
            assert (r.status_code, code(r)) == (422, "otp_disabled")
        r = await otp(app, "guess-last@example.com", create_user=False)
        assert (r.status_code, code(r)) == (429, "over_request_rate_limit")
    async with client_for(mailing(services, smtp_url), client_ip="203.0.113.10") as other:
        r = await otp(other, "guess-last@example.com", create_user=False)
        assert (r.status_code, code(r)) == (422, "otp_disabled")
    assert inbox.mails == []


async def test_new_accounts_count_against_the_signup_limit(
    services: Services, smtp_url: str, inbox: Inbox
) -> None:
    """An account made by /otp is a signup: it cannot be used to get around that limit."""
    await add_user(services, "ana@example.com")
    async with client_for(mailing(services, smtp_url, rate_limit_signup_per_ip=2)) as app:
        assert (await otp(app, "bo@example.com")).status_code == 200
        assert (await otp(app, "cy@example.com")).status_code == 200
        r = await otp(app, "di@example.com")
        assert (r.status_code, code(r)) == (429, "over_request_rate_limit")
        # Signing in to an account that exists is not a signup.
        assert (await otp(app, "ana@example.com")).status_code == 200
    assert await users(services) == 3
    assert len(inbox.mails) == 3


async def test_a_mail_that_cannot_go_is_said(services: Services) -> None:
    """As GoTrue: 500 unexpected_failure, for a known and a new address alike."""
    await add_user(services, "ana@example.com")
    dead = f"smtp://127.0.0.1:{free_port()}"
    async with client_for(mailing(services, dead)) as app:
        for address in ("ana@example.com", "bo@example.com"):
            r = await otp(app, address)
            assert (r.status_code, code(r)) == (500, "unexpected_failure")


# --- PKCE --------------------------------------------------------------------------------------


async def test_a_pkce_link_redirects_with_a_code_for_the_verifier(
    confirm_off: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    await add_user(services, "ana@example.com")
    v = verifier()
    r = await otp(confirm_off, "ana@example.com", redirect_to=REDIRECT, **pkce(v))
    assert r.status_code == 200, r.text
    [mail] = inbox.mails
    token = parse_qs(urlsplit(mail.link).query)["token"][0]
    assert token == "pkce_" + services.tokens.mail_token_hash("ana@example.com", mail.otp)

    auth_code = code_of(await confirm_off.get(mail.link))
    assert await sessions(services) == 0
    r = await exchange(confirm_off, auth_code, verifier())
    assert (r.status_code, code(r)) == (403, "bad_code_verifier")
    r = await exchange(confirm_off, auth_code, v)
    assert r.status_code == 200, r.text
    assert r.json()["user"]["email"] == "ana@example.com"
    assert amr(services, r.json()) == ["otp"]
    assert await scalar(services, "SELECT count(*) FROM auth.flow_state") == 0


async def test_a_pkce_request_for_a_new_address_too(
    confirm_on: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    v = verifier()
    r = await otp(confirm_on, "bo@example.com", redirect_to=REDIRECT, **pkce(v))
    assert r.status_code == 200, r.text
    [mail] = inbox.mails
    assert parse_qs(urlsplit(mail.link).query)["token"][0].startswith("pkce_")
    r = await exchange(confirm_on, code_of(await confirm_on.get(mail.link)), v)
    assert r.status_code == 200, r.text
    assert r.json()["user"]["email_confirmed_at"]


# --- the real Supabase client ------------------------------------------------------------------


@pytest.fixture
async def live(services: Services, smtp_url: str) -> AsyncIterator[str]:
    async with serve_live(mailing(services, smtp_url)) as url:
        yield url


async def test_supabase_client_signs_in_with_the_mailed_code(
    live: str, services: Services, inbox: Inbox
) -> None:
    client = AsyncGoTrueClient(url=live, auto_refresh_token=False, persist_session=True)
    try:
        sent = await client.sign_in_with_otp(
            {
                "email": "bo@example.com",
                "options": {"email_redirect_to": "http://app.test/in", "data": {"x": 1}},
            }
        )
        assert sent.user is None
        assert sent.session is None
        [mail] = inbox.to("bo@example.com")
        assert parse_qs(urlsplit(mail.link).query)["redirect_to"] == ["http://app.test/in"]

        signed_in = await client.verify_otp(
            {"email": "bo@example.com", "token": mail.otp, "type": "email"}
        )
        assert signed_in.session is not None
        assert signed_in.user is not None
        assert signed_in.user.email == "bo@example.com"
        assert signed_in.user.user_metadata == {"x": 1}
        assert signed_in.user.email_confirmed_at is not None
        got = await client.get_user()
        assert got is not None
        assert got.user.id == signed_in.user.id
        refreshed = await client.refresh_session()
        assert refreshed.session is not None

        # A spent code is the client's AuthApiError with GoTrue's code.
        with pytest.raises(AuthApiError) as spent:
            await client.verify_otp({"email": "bo@example.com", "token": mail.otp, "type": "email"})
        assert (spent.value.status, spent.value.code) == (403, "otp_expired")

        with pytest.raises(AuthApiError) as refused:
            await client.sign_in_with_otp(
                {"email": "nobody@example.com", "options": {"should_create_user": False}}
            )
        assert (refused.value.status, refused.value.code) == (422, "otp_disabled")
    finally:
        await client.close()


async def test_supabase_client_magic_link_in_the_pkce_flow(
    live: str, services: Services, inbox: Inbox
) -> None:
    await add_user(services, "ana@example.com")
    client = AsyncGoTrueClient(
        url=live, auto_refresh_token=False, persist_session=True, flow_type="pkce"
    )
    try:
        await client.sign_in_with_otp(
            {"email": "ana@example.com", "options": {"email_redirect_to": REDIRECT}}
        )
        [mail] = inbox.to("ana@example.com")
        assert parse_qs(urlsplit(mail.link).query)["token"][0].startswith("pkce_")
        async with httpx.AsyncClient() as browser:
            followed = await browser.get(live.removesuffix("/auth/v1") + link_path(mail))
        exchanged = await client.exchange_code_for_session({"auth_code": code_of(followed)})
        assert exchanged.session is not None
        assert exchanged.user is not None
        assert exchanged.user.email == "ana@example.com"
        assert amr(services, {"access_token": exchanged.session.access_token}) == ["otp"]
    finally:
        await client.close()


async def _user_row(services: Services, email: str) -> dict[str, Any]:
    async with services.db.privileged() as conn:
        cur = await conn.execute(
            "SELECT encrypted_password, email_confirmed_at, raw_user_meta_data"
            " FROM auth.users WHERE email = %s",
            (email,),
        )
        row = await cur.fetchone()
    assert row is not None
    return dict(row)
