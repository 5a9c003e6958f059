"""Password reset (POST /recover, POST and GET /verify) and email confirmation, over SMTP."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from momento.services import Services
from tests.auth.conftest import Inbox
from tests.auth.helpers import API, PASSWORD, add_user, bearer, code, login, scalar


async def recover(client: httpx.AsyncClient, email: str, **params: str) -> httpx.Response:
    return await client.post("/auth/v1/recover", json={"email": email}, params=params, headers=API)


async def verify(client: httpx.AsyncClient, **body: str) -> httpx.Response:
    return await client.post("/auth/v1/verify", json=body, headers=API)


async def test_recover_answers_the_same_for_known_and_unknown_addresses(
    mail_client: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    await add_user(services, "ana@example.com")
    known = await recover(mail_client, "Ana@Example.com")
    unknown = await recover(mail_client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 200
    assert known.json() == unknown.json() == {}
    assert [m.to for m in inbox.mails] == [["ana@example.com"]]

    mail = inbox.mails[0]
    assert mail.message["Subject"] == "Reset your password"
    assert mail.link.startswith("http://testserver/auth/v1/verify?")
    query = parse_qs(urlsplit(mail.link).query)
    assert query["type"] == ["recovery"]
    assert query["redirect_to"] == ["http://app.test"]
    # Stored as the token hash: keyed HMAC-SHA-224 of address and code, never the code itself.
    stored = await scalar(services, "SELECT recovery_token FROM auth.users")
    assert stored == mail.token_hash
    assert stored == services.tokens.mail_token_hash("ana@example.com", mail.otp)
    # Not GoTrue's plain SHA-224, which anyone knowing the address could make for every code
    # and try without naming the account: that one is refused even with the right code.
    plain = hashlib.sha224(("ana@example.com" + mail.otp).encode()).hexdigest()
    assert plain != stored
    r = await mail_client.post(
        "/auth/v1/verify", json={"type": "recovery", "token_hash": plain}, headers=API
    )
    assert (r.status_code, code(r)) == (403, "otp_expired")


async def test_recover_mails_at_most_once_a_minute(
    mail_client: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    await add_user(services, "ana@example.com")
    assert (await recover(mail_client, "ana@example.com")).status_code == 200
    # A second mail inside the interval is refused as GoTrue does, not silently dropped.
    again = await recover(mail_client, "ana@example.com")
    assert again.status_code == 429
    assert again.json()["code"] == "over_email_send_rate_limit"
    wait = int(again.headers["Retry-After"])
    assert 1 <= wait <= services.settings.email_send_interval
    assert f"after {wait} seconds" in again.json()["message"]
    assert len(inbox.mails) == 1
    # An address without an account still answers 200 {} (nothing mailed, nothing said).
    unknown = await recover(mail_client, "nobody@example.com")
    assert (unknown.status_code, unknown.json()) == (200, {})


async def test_recover_refuses_a_malformed_address(
    mail_client: httpx.AsyncClient, inbox: Inbox
) -> None:
    r = await recover(mail_client, "nope")
    assert (r.status_code, code(r)) == (400, "validation_failed")
    r = await mail_client.post("/auth/v1/recover", content=b"{", headers=API)
    assert (r.status_code, code(r)) == (400, "bad_json")
    assert inbox.mails == []


async def test_recover_then_verify_then_new_password(
    mail_client: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    await add_user(services, "ana@example.com")
    await recover(mail_client, "ana@example.com")
    [mail] = inbox.mails

    r = await verify(mail_client, type="recovery", token_hash=mail.token_hash)
    assert r.status_code == 200, r.text
    session = r.json()
    assert session["user"]["email"] == "ana@example.com"
    assert services.tokens.verify(session["access_token"])["amr"][0]["method"] == "recovery"
    assert await scalar(services, "SELECT recovery_token IS NULL FROM auth.users")

    r = await mail_client.put(
        "/auth/v1/user", json={"password": "my new password"}, headers=bearer(session)
    )
    assert r.status_code == 200, r.text
    assert (await login(mail_client, "ana@example.com")).status_code == 400
    assert (await login(mail_client, "ana@example.com", "my new password")).status_code == 200


async def test_verify_with_email_and_code(
    mail_client: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    await add_user(services, "ana@example.com")
    await recover(mail_client, "ana@example.com")
    [mail] = inbox.mails
    wrong = "000000" if mail.otp != "000000" else "111111"
    r = await verify(mail_client, type="recovery", email="ana@example.com", token=wrong)
    assert (r.status_code, code(r)) == (403, "otp_expired")
    r = await verify(mail_client, type="recovery", email="ANA@example.com", token=mail.otp)
    assert r.status_code == 200, r.text


async def test_codes_are_single_use(
    mail_client: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    await add_user(services, "ana@example.com")
    await recover(mail_client, "ana@example.com")
    [mail] = inbox.mails
    assert (
        await verify(mail_client, type="recovery", token_hash=mail.token_hash)
    ).status_code == 200
    r = await verify(mail_client, type="recovery", token_hash=mail.token_hash)
    assert (r.status_code, code(r)) == (403, "otp_expired")
    assert await scalar(services, "SELECT count(*) FROM auth.sessions") == 1


async def test_expired_codes_are_refused(
    mail_client: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    await add_user(services, "ana@example.com")
    await recover(mail_client, "ana@example.com")
    [mail] = inbox.mails
    async with services.db.privileged() as conn:
        await conn.execute("UPDATE auth.users SET recovery_sent_at = now() - interval '25 hours'")
    r = await verify(mail_client, type="recovery", token_hash=mail.token_hash)
    assert (r.status_code, code(r)) == (403, "otp_expired")
    assert await scalar(services, "SELECT count(*) FROM auth.sessions") == 0
    # A recovery code does not confirm a signup either.
    async with services.db.privileged() as conn:
        await conn.execute("UPDATE auth.users SET recovery_sent_at = now()")
    r = await verify(mail_client, type="signup", token_hash=mail.token_hash)
    assert (r.status_code, code(r)) == (403, "otp_expired")


@pytest.mark.parametrize(
    "body",
    [
        {"type": "recovery"},
        {"type": "recovery", "token": "123456"},
        {"type": "recovery", "token_hash": "abc", "email": "a@example.com"},
        {"type": "sms", "token_hash": "abc"},
        {"token_hash": "abc"},
    ],
)
async def test_verify_refuses_incomplete_requests(
    client: httpx.AsyncClient, body: dict[str, str]
) -> None:
    r = await verify(client, **body)
    assert (r.status_code, code(r)) == (400, "validation_failed")


async def test_mail_link_redirects_with_the_session_in_the_fragment(
    mail_client: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    await add_user(services, "ana@example.com")
    await recover(mail_client, "ana@example.com", redirect_to="http://app.test/reset")
    [mail] = inbox.mails
    assert parse_qs(urlsplit(mail.link).query)["redirect_to"] == ["http://app.test/reset"]

    r = await mail_client.get(mail.link)
    assert r.status_code == 303
    location = urlsplit(r.headers["location"])
    assert (location.scheme, location.netloc, location.path) == ("http", "app.test", "/reset")
    assert location.fragment.endswith("&sb")
    fragment = parse_qs(location.fragment)
    assert fragment["type"] == ["recovery"]
    assert fragment["token_type"] == ["bearer"]
    assert int(fragment["expires_in"][0]) == services.settings.access_token_ttl
    assert int(fragment["expires_at"][0]) > 0
    claims = services.tokens.verify(fragment["access_token"][0])
    r = await mail_client.get(
        "/auth/v1/user", headers=bearer(fragment | {"access_token": fragment["access_token"][0]})
    )
    assert r.json()["id"] == claims["sub"]

    # The link is spent: the second visit lands on the error fragment.
    r = await mail_client.get(mail.link)
    assert r.status_code == 303
    fragment = parse_qs(urlsplit(r.headers["location"]).fragment)
    assert fragment["error"] == ["access_denied"]
    assert fragment["error_code"] == ["otp_expired"]
    assert fragment["error_description"]


async def test_redirects_only_to_allowed_places(
    mail_client: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    await add_user(services, "ana@example.com")
    await recover(mail_client, "ana@example.com", redirect_to="https://evil.example/steal")
    [mail] = inbox.mails
    assert parse_qs(urlsplit(mail.link).query)["redirect_to"] == ["http://app.test"]
    r = await mail_client.get(
        "/auth/v1/verify",
        params={
            "token": mail.token_hash,
            "type": "recovery",
            "redirect_to": "https://evil.example/",
        },
    )
    assert r.status_code == 303
    assert r.headers["location"].startswith("http://app.test#access_token=")


async def test_mail_link_with_missing_parameters(client: httpx.AsyncClient) -> None:
    r = await client.get("/auth/v1/verify", params={"type": "recovery"}, headers=API)
    assert (r.status_code, code(r)) == (400, "validation_failed")
    r = await client.get("/auth/v1/verify", params={"token": "x", "type": "bogus"}, headers=API)
    assert (r.status_code, code(r)) == (400, "validation_failed")


# --- email confirmation ------------------------------------------------------------------


async def test_signup_with_confirmation(
    confirm_client: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    r = await confirm_client.post(
        "/auth/v1/signup",
        json={"email": "ana@example.com", "password": PASSWORD, "data": {"username": "ana"}},
        headers=API,
    )
    assert r.status_code == 200, r.text
    user = r.json()
    assert "access_token" not in user
    assert user["email"] == "ana@example.com"
    assert "email_confirmed_at" not in user
    assert "confirmation_sent_at" in user
    [mail] = inbox.to("ana@example.com")
    assert "type=signup" in mail.link

    r = await login(confirm_client, "ana@example.com")
    assert (r.status_code, code(r)) == (400, "email_not_confirmed")
    assert await scalar(services, "SELECT count(*) FROM auth.sessions") == 0

    r = await confirm_client.post(
        "/auth/v1/verify",
        json={"type": "signup", "email": "ana@example.com", "token": mail.otp},
        headers=API,
    )
    assert r.status_code == 200, r.text
    assert "email_confirmed_at" in r.json()["user"]
    assert (await login(confirm_client, "ana@example.com")).status_code == 200


async def test_signup_again_with_confirmation_on(
    confirm_client: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    """A confirmed address answers a look-alike user; an unconfirmed one gets a new mail."""
    confirmed_id = await add_user(services, "ana@example.com")
    r = await confirm_client.post(
        "/auth/v1/signup", json={"email": "ana@example.com", "password": PASSWORD}, headers=API
    )
    assert r.status_code == 200
    assert r.json()["id"] != str(confirmed_id)
    assert r.json()["identities"] == []
    assert inbox.mails == []

    await add_user(services, "bo@example.com", confirmed=False)
    r = await confirm_client.post(
        "/auth/v1/signup", json={"email": "bo@example.com", "password": PASSWORD}, headers=API
    )
    assert r.status_code == 200
    [mail] = inbox.to("bo@example.com")
    assert (await confirm_client.get(mail.link)).status_code == 303
    assert (await login(confirm_client, "bo@example.com")).status_code == 200
    assert await scalar(services, "SELECT count(*) FROM auth.users") == 2


async def test_mail_failure_on_signup_is_reported(services: Services) -> None:
    from momento.mail import SmtpMailer
    from tests.auth.conftest import client_for, free_port, services_with

    dead = f"smtp://127.0.0.1:{free_port()}"
    svc = services_with(services, SmtpMailer(dead, "x@example.com", 2), email_confirm=True)
    async with client_for(svc) as c:
        r = await c.post(
            "/auth/v1/signup", json={"email": "ana@example.com", "password": PASSWORD}, headers=API
        )
        assert r.status_code == 500
        assert code(r) == "unexpected_failure"
        await add_user(services, "bo@example.com")
        # /recover still answers as for any address.
        r = await c.post("/auth/v1/recover", json={"email": "bo@example.com"}, headers=API)
        assert r.status_code == 200


async def test_without_smtp_the_mail_goes_to_the_log(
    client: httpx.AsyncClient,
    services: Services,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Embedded mode with no SMTP_URL: the reset link is written to the log instead."""
    await add_user(services, "ana@example.com")
    r = await recover(client, "ana@example.com")
    assert r.status_code == 200
    out = capsys.readouterr()
    logged = caplog.text + out.out + out.err
    stored = await scalar(services, "SELECT recovery_token FROM auth.users")
    assert f"token={stored}" in logged


# --- resend --------------------------------------------------------------------------------


async def resend(client: httpx.AsyncClient, **body: str) -> httpx.Response:
    return await client.post("/auth/v1/resend", json=body, headers=API)


async def test_resend_mails_the_signup_confirmation_again(
    confirm_client: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    r = await confirm_client.post(
        "/auth/v1/signup", json={"email": "bo@example.com", "password": PASSWORD}, headers=API
    )
    assert r.status_code == 200
    [first] = inbox.to("bo@example.com")
    # Inside the send interval: GoTrue's 429, nothing mailed.
    r = await resend(confirm_client, type="signup", email="bo@example.com")
    assert (r.status_code, code(r)) == (429, "over_email_send_rate_limit")
    assert int(r.headers["Retry-After"]) >= 1
    async with services.db.privileged() as conn:
        await conn.execute("UPDATE auth.users SET confirmation_sent_at = now() - interval '2 min'")
    r = await resend(confirm_client, type="signup", email="BO@example.com")
    assert (r.status_code, r.json()) == (200, {})
    first_again, second = inbox.to("bo@example.com")
    assert first_again is first
    # Only the newest link confirms.
    assert (await confirm_client.get(first.link)).status_code == 303
    assert await scalar(services, "SELECT email_confirmed_at IS NULL FROM auth.users")
    assert (await confirm_client.get(second.link)).status_code == 303
    assert await scalar(services, "SELECT email_confirmed_at IS NOT NULL FROM auth.users")
    # Confirmed now: a resend answers the same and mails nothing; so does an unknown address.
    for address in ("bo@example.com", "nobody@example.com"):
        r = await resend(confirm_client, type="signup", email=address)
        assert (r.status_code, r.json()) == (200, {})
    assert len(inbox.to("bo@example.com")) == 2
    assert inbox.to("nobody@example.com") == []


async def test_resend_mails_the_email_change_link_again(
    confirm_client: httpx.AsyncClient, services: Services, inbox: Inbox
) -> None:
    await add_user(services, "ana@example.com")
    session = (await login(confirm_client, "ana@example.com", PASSWORD)).json()
    r = await confirm_client.put(
        "/auth/v1/user", json={"email": "ana.new@example.com"}, headers=bearer(session)
    )
    assert r.status_code == 200
    assert len(inbox.to("ana.new@example.com")) == 1
    async with services.db.privileged() as conn:
        await conn.execute("UPDATE auth.users SET email_change_sent_at = now() - interval '2 min'")
    r = await resend(confirm_client, type="email_change", email="ana.new@example.com")
    assert (r.status_code, r.json()) == (200, {})
    [_, again] = inbox.to("ana.new@example.com")
    assert (await confirm_client.get(again.link)).status_code == 303
    # The resent link is the new address's half; the current address confirms the other.
    assert await scalar(services, "SELECT email FROM auth.users") == "ana@example.com"
    [current] = inbox.to("ana@example.com")
    assert (await confirm_client.get(current.link)).status_code == 303
    assert await scalar(services, "SELECT email FROM auth.users") == "ana.new@example.com"


async def test_resend_refuses_what_it_cannot_do(
    mail_client: httpx.AsyncClient, inbox: Inbox
) -> None:
    for body in ({"type": "sms", "email": "a@example.com"}, {"email": "a@example.com"}):
        r = await resend(mail_client, **body)
        assert (r.status_code, code(r)) == (400, "validation_failed"), body
    r = await resend(mail_client, type="signup")
    assert (r.status_code, code(r)) == (400, "validation_failed")
    assert inbox.mails == []
