"""The real Supabase client (PyPI supabase-auth) against a real HTTP server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from supabase_auth import AsyncGoTrueClient
from supabase_auth.errors import AuthApiError, AuthWeakPasswordError
from supabase_auth.types import Session

from momento.mail import SmtpMailer
from momento.services import Services
from tests.auth.conftest import Inbox, serve_live, services_with
from tests.auth.helpers import PASSWORD, add_user, scalar


@pytest.fixture
async def gotrue(live_url: str) -> AsyncIterator[AsyncGoTrueClient]:
    client = AsyncGoTrueClient(url=live_url, auto_refresh_token=False, persist_session=True)
    try:
        yield client
    finally:
        await client.close()


async def test_full_session_lifecycle(gotrue: AsyncGoTrueClient, services: Services) -> None:
    signed_up = await gotrue.sign_up(
        {"email": "ana@example.com", "password": PASSWORD, "options": {"data": {"username": "ana"}}}
    )
    assert signed_up.session is not None
    assert signed_up.user is not None
    assert signed_up.user.email == "ana@example.com"
    assert signed_up.user.user_metadata == {"username": "ana"}

    signed_in = await gotrue.sign_in_with_password(
        {"email": "ana@example.com", "password": PASSWORD}
    )
    assert signed_in.session is not None
    first_refresh = signed_in.session.refresh_token
    assert signed_in.session.expires_at is not None

    refreshed = await gotrue.refresh_session()
    assert refreshed.session is not None
    assert refreshed.session.refresh_token != first_refresh

    got = await gotrue.get_user()
    assert got is not None
    assert got.user.id == signed_up.user.id
    assert got.user.created_at is not None

    updated = await gotrue.update_user({"data": {"display": "Ana"}})
    assert updated.user.user_metadata == {"username": "ana", "display": "Ana"}
    updated = await gotrue.update_user({"password": "a different secret"})
    assert updated.user.id == signed_up.user.id
    # The password change ended the signup's session, not this one.
    assert await scalar(services, "SELECT count(*) FROM auth.sessions") == 1

    claims = await gotrue.get_claims()
    assert claims is not None
    assert claims["claims"]["sub"] == signed_up.user.id

    await gotrue.sign_out()
    assert await gotrue.get_session() is None
    assert await scalar(services, "SELECT count(*) FROM auth.sessions") == 0

    again = await gotrue.sign_in_with_password(
        {"email": "ana@example.com", "password": "a different secret"}
    )
    assert again.session is not None
    await gotrue.sign_out({"scope": "local"})


async def test_client_sees_gotrue_errors(gotrue: AsyncGoTrueClient, services: Services) -> None:
    with pytest.raises(AuthWeakPasswordError) as weak:
        await gotrue.sign_up({"email": "ana@example.com", "password": "short"})
    assert weak.value.reasons == ["length"]
    assert weak.value.status == 422

    await gotrue.sign_up({"email": "ana@example.com", "password": PASSWORD})
    with pytest.raises(AuthApiError) as dup:
        await gotrue.sign_up({"email": "ana@example.com", "password": PASSWORD})
    assert dup.value.code == "user_already_exists"

    with pytest.raises(AuthApiError) as wrong:
        await gotrue.sign_in_with_password({"email": "ana@example.com", "password": "nope nope"})
    assert (wrong.value.status, wrong.value.code) == (400, "invalid_credentials")

    with pytest.raises(AuthApiError) as unknown:
        await gotrue.refresh_session("not-a-token")
    assert str(unknown.value.code) == "refresh_token_not_found"

    await gotrue.reset_password_for_email("nobody@example.com")  # answers as for anyone


# --- parity with the supabase-js scenario (tests/auth/js/scenario.mjs) ----------------------


def mailing_services(services: Services, smtp_url: str, **overrides: Any) -> Services:
    """Mail over the test's SMTP server, a reuse interval of 0 (any retry comes after it)."""
    return services_with(
        services,
        SmtpMailer(smtp_url, services.settings.mail_from),
        smtp_url=smtp_url,
        refresh_reuse_interval=0,
        **overrides,
    )


def new_client(url: str, **options: Any) -> AsyncGoTrueClient:
    return AsyncGoTrueClient(url=url, auto_refresh_token=False, persist_session=True, **options)


@pytest.fixture
async def mailing_url(services: Services, smtp_url: str) -> AsyncIterator[str]:
    async with serve_live(mailing_services(services, smtp_url)) as url:
        yield url


@pytest.fixture
async def clients(mailing_url: str) -> AsyncIterator[Callable[[], AsyncGoTrueClient]]:
    """New clients of the mailing server (each its own session, as separate installs)."""
    made: list[AsyncGoTrueClient] = []

    def make() -> AsyncGoTrueClient:
        made.append(new_client(mailing_url))
        return made[-1]

    try:
        yield make
    finally:
        for c in made:
            await c.close()


async def signed_in(client: AsyncGoTrueClient, email: str, password: str = PASSWORD) -> Session:
    signed = await client.sign_in_with_password({"email": email, "password": password})
    assert signed.session is not None
    return signed.session


async def test_a_retried_refresh_keeps_the_session(
    clients: Callable[[], AsyncGoTrueClient], services: Services
) -> None:
    """Issue 13.1 through the client: the answer to a refresh was lost, the app retries with
    the token it had, past the reuse interval; it gets the active token and stays signed in."""
    await add_user(services, "ana@example.com")
    app = clients()
    first = await signed_in(app, "ana@example.com")
    second = await app.refresh_session()
    assert second.session is not None

    retry = clients()
    retried = await retry.refresh_session(first.refresh_token)
    assert retried.session is not None
    assert retried.session.refresh_token == second.session.refresh_token
    assert (await retry.get_user()) is not None
    got = await app.get_user()
    assert got is not None
    assert got.user.email == "ana@example.com"

    # Two rotations old is reuse: the session ends, as GoTrue's.
    third = await app.refresh_session()
    assert third.session is not None
    with pytest.raises(AuthApiError) as reused:
        await clients().refresh_session(first.refresh_token)
    assert (reused.value.status, reused.value.code) == (400, "refresh_token_already_used")
    with pytest.raises(AuthApiError) as ended:
        await app.refresh_session()
    assert str(ended.value.code) == "refresh_token_not_found"  # not in its Literal


async def test_two_concurrent_refreshes_both_get_a_session(
    clients: Callable[[], AsyncGoTrueClient], services: Services
) -> None:
    await add_user(services, "ana@example.com")
    token = (await signed_in(clients(), "ana@example.com")).refresh_token
    a, b = clients(), clients()
    ra, rb = await asyncio.gather(a.refresh_session(token), b.refresh_session(token))
    assert ra.session is not None
    assert rb.session is not None
    assert ra.session.refresh_token == rb.session.refresh_token
    for c in (a, b):
        got = await c.get_user()
        assert got is not None
        assert got.user.email == "ana@example.com"


async def test_sign_out_scopes(
    clients: Callable[[], AsyncGoTrueClient], services: Services
) -> None:
    await add_user(services, "ana@example.com")
    await add_user(services, "bo@example.com")
    bystander = clients()
    await signed_in(bystander, "bo@example.com")
    a, b, c = clients(), clients(), clients()
    for each in (a, b, c):
        await signed_in(each, "ana@example.com")

    await a.sign_out({"scope": "others"})
    assert await a.get_session() is not None
    assert await a.get_user() is not None
    for other in (b, c):
        with pytest.raises(AuthApiError) as ended:
            await other.refresh_session()
        assert (ended.value.status, ended.value.code) == (400, "refresh_token_not_found")

    d = clients()
    await signed_in(d, "ana@example.com")
    a_session = await a.get_session()
    assert a_session is not None
    await a.sign_out({"scope": "local"})
    assert await a.get_session() is None
    with pytest.raises(AuthApiError):
        await clients().refresh_session(a_session.refresh_token)
    assert await d.get_user() is not None

    e = clients()
    await signed_in(e, "ana@example.com")
    await d.sign_out()  # global, the default
    assert await d.get_session() is None
    with pytest.raises(AuthApiError) as gone:
        await e.refresh_session()
    assert str(gone.value.code) == "refresh_token_not_found"
    # e's session ended elsewhere: the server's 403 session_not_found counts as signed out.
    await e.sign_out()
    assert await e.get_session() is None
    assert await bystander.get_user() is not None
    assert await scalar(services, "SELECT count(*) FROM auth.sessions") == 1


async def test_email_change_with_both_links(
    clients: Callable[[], AsyncGoTrueClient], services: Services, inbox: Inbox
) -> None:
    """The secure email change through the client: the current address's code first (the
    client expects GoTrue's {"msg", "code": "200"} for it), then the new address's link."""
    await add_user(services, "ana@example.com")
    app = clients()
    await signed_in(app, "ana@example.com")
    updated = await app.update_user({"email": "ana2@example.com"})
    assert updated.user.email == "ana@example.com"
    assert updated.user.new_email == "ana2@example.com"
    [to_current] = inbox.to("ana@example.com")
    [to_new] = inbox.to("ana2@example.com")

    half = await clients().verify_otp(
        {"email": "ana@example.com", "token": to_current.otp, "type": "email_change"}
    )
    assert (half.user, half.session) == (None, None)
    got = await app.get_user()
    assert got is not None
    assert got.user.email == "ana@example.com"

    done = await clients().verify_otp({"token_hash": to_new.token_hash, "type": "email_change"})
    assert done.session is not None
    assert done.user is not None
    assert done.user.email == "ana2@example.com"
    assert done.user.new_email is None
    await signed_in(clients(), "ana2@example.com")
    with pytest.raises(AuthApiError) as old:
        await clients().sign_in_with_password({"email": "ana@example.com", "password": PASSWORD})
    assert old.value.code == "invalid_credentials"


async def test_resend_replaces_the_signup_code(
    services: Services, smtp_url: str, inbox: Inbox
) -> None:
    svc = mailing_services(services, smtp_url, email_confirm=True, email_send_interval=0)
    async with serve_live(svc) as url:
        app, other = new_client(url), new_client(url)
        try:
            signed_up = await app.sign_up({"email": "ana@example.com", "password": PASSWORD})
            assert signed_up.session is None
            [old] = inbox.to("ana@example.com")
            await app.resend({"type": "signup", "email": "ana@example.com"})
            _, fresh = inbox.to("ana@example.com")
            assert fresh.otp != old.otp
            with pytest.raises(AuthApiError) as replaced:
                await other.verify_otp(
                    {"email": "ana@example.com", "token": old.otp, "type": "signup"}
                )
            assert (replaced.value.status, replaced.value.code) == (403, "otp_expired")
            confirmed = await app.verify_otp(
                {"email": "ana@example.com", "token": fresh.otp, "type": "signup"}
            )
            assert confirmed.user is not None
            assert confirmed.user.email_confirmed_at is not None
            await signed_in(other, "ana@example.com")
        finally:
            await app.close()
            await other.close()

    # Inside the send interval (60 s by default) a second mail is refused with GoTrue's 429.
    async with serve_live(mailing_services(services, smtp_url, email_confirm=True)) as url:
        app = new_client(url)
        try:
            await app.sign_up({"email": "bo@example.com", "password": PASSWORD})
            with pytest.raises(AuthApiError) as again:
                await app.resend({"type": "signup", "email": "bo@example.com"})
            assert (again.value.status, again.value.code) == (429, "over_email_send_rate_limit")
            assert len(inbox.to("bo@example.com")) == 1
        finally:
            await app.close()


@pytest.mark.parametrize("versioned", [True, False], ids=["2024-01-01", "legacy"])
async def test_error_codes_in_both_api_versions(
    live_url: str, services: Services, versioned: bool
) -> None:
    """The client reads `code` when the answer echoes X-Supabase-Api-Version, else the legacy
    `error_code`. The client always sends the header; the legacy run takes it off each request
    (as clients from before 2024 sent), so the server answers in the legacy dialect."""
    echoed: list[str | None] = []

    async def take_the_version_off(request: httpx.Request) -> None:
        if not versioned:
            del request.headers["X-Supabase-Api-Version"]

    async def note_the_echo(response: httpx.Response) -> None:
        echoed.append(response.headers.get("X-Supabase-Api-Version"))

    http = httpx.AsyncClient(
        event_hooks={"request": [take_the_version_off], "response": [note_the_echo]}
    )
    client = new_client(live_url, http_client=http)
    await add_user(services, "ana@example.com")
    try:
        with pytest.raises(AuthApiError) as wrong:
            await client.sign_in_with_password({"email": "ana@example.com", "password": "nope!!!!"})
        assert (wrong.value.status, wrong.value.code) == (400, "invalid_credentials")
        with pytest.raises(AuthWeakPasswordError) as weak:
            await client.sign_up({"email": "bo@example.com", "password": "short"})
        assert (weak.value.status, weak.value.code, weak.value.reasons) == (
            422,
            "weak_password",
            ["length"],
        )
        with pytest.raises(AuthApiError) as unknown:
            await client.refresh_session("not-a-token")
        assert (unknown.value.status, unknown.value.code) == (400, "refresh_token_not_found")
    finally:
        await client.close()
        await http.aclose()
    assert echoed == ["2024-01-01" if versioned else None] * 3
