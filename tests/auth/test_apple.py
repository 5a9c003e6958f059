"""Sign in with Apple: the id_token grant against a fake Apple (its JWKS, token and revoke
endpoints on 127.0.0.1), linking by address only when proven by mail, the authorization code
extension, and the revoke after account deletion, run as a real job."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import rsa
from supabase_auth import AsyncGoTrueClient

from momento.auth.apple import client as apple_client
from momento.auth.apple import keys as apple_keys
from momento.auth.apple import tasks as apple_tasks
from momento.config import Environment, Settings, SettingsError, load_settings
from momento.jobs.queue import run_worker
from momento.mail import SmtpMailer
from momento.services import Services
from tests.auth.conftest import Inbox, client_for, serve_live, services_with
from tests.auth.helpers import API, PASSWORD, bearer, code, login, scalar
from tests.fakes.apple import CLIENT_ID, WEB_CLIENT_ID, FakeApple

NONCE = "a raw nonce the app made"
SUB = "001234.0123456789abcdef0123456789abcdef.1234"


@pytest.fixture
def apple() -> Iterator[FakeApple]:
    with FakeApple() as fake:
        yield fake


@pytest.fixture
def asvc(services: Services, apple: FakeApple, smtp_url: str) -> Services:
    """Services with Sign in with Apple pointed at the fake (and mail to the test SMTP)."""
    svc = services_with(
        services,
        SmtpMailer(smtp_url, services.settings.mail_from),
        smtp_url=smtp_url,
        **apple.settings(),
    )
    # A key cache of its own: every test's fake has its own keys.
    return dataclasses.replace(svc, apple_keys=type(services.apple_keys)())


@pytest.fixture
async def aclient(asvc: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(asvc) as c:
        yield c


async def apple_sign_in(
    client: httpx.AsyncClient, token: str, nonce: str | None = NONCE, **extra: Any
) -> httpx.Response:
    body: dict[str, Any] = {"provider": "apple", "id_token": token, **extra}
    if nonce is not None:
        body["nonce"] = nonce
    return await client.post(
        "/auth/v1/token", params={"grant_type": "id_token"}, json=body, headers=API
    )


async def signed_in(client: httpx.AsyncClient, apple: FakeApple, **claims: Any) -> dict[str, Any]:
    claims.setdefault("sub", SUB)
    r = await apple_sign_in(client, apple.id_token(nonce=NONCE, **claims))
    assert r.status_code == 200, r.text
    session: dict[str, Any] = r.json()
    return session


def apple_identities(user: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in user["identities"] if i["provider"] == "apple"]


# --- signing in ------------------------------------------------------------------------------


async def test_first_sign_in_creates_a_confirmed_apple_account(
    aclient: httpx.AsyncClient, apple: FakeApple, asvc: Services
) -> None:
    session = await signed_in(aclient, apple, email="Ana@Example.com")
    user = session["user"]
    assert user["email"] == "ana@example.com"
    assert "email_confirmed_at" in user
    assert user["app_metadata"] == {"provider": "apple", "providers": ["apple"]}
    # Only the apple identity: an Apple account has no email identity (as on GoTrue).
    [identity] = user["identities"]
    assert identity["provider"] == "apple"
    assert identity["id"] == SUB
    assert identity["user_id"] == user["id"]
    uuid.UUID(identity["identity_id"])
    assert identity["identity_data"]["sub"] == SUB
    assert identity["identity_data"]["email"] == "ana@example.com"
    assert identity["identity_data"]["email_verified"] is True
    assert identity["email"] == "ana@example.com"
    for key in ("created_at", "updated_at", "last_sign_in_at"):
        assert identity[key].endswith("Z")
        assert "T" in identity[key]
    claims = asvc.tokens.verify(session["access_token"])
    assert claims["amr"][0]["method"] == "oauth"
    # Refreshed, the session still says it was an Apple sign-in.
    r = await aclient.post(
        "/auth/v1/token",
        params={"grant_type": "refresh_token"},
        json={"refresh_token": session["refresh_token"]},
    )
    assert r.status_code == 200, r.text
    assert asvc.tokens.verify(r.json()["access_token"])["amr"][0]["method"] == "oauth"
    assert claims["app_metadata"]["provider"] == "apple"
    # The profile trigger made a username (Apple sends no name).
    username = await scalar(asvc, "SELECT username FROM public.profiles WHERE id = %s", user["id"])
    assert username.startswith("user_")

    got = await aclient.get("/auth/v1/user", headers=bearer(session))
    assert got.status_code == 200
    assert apple_identities(got.json())[0]["id"] == SUB


async def test_later_sign_ins_find_the_account_by_sub(
    aclient: httpx.AsyncClient, apple: FakeApple, asvc: Services
) -> None:
    first = await signed_in(aclient, apple, email="ana@example.com")
    # Apple sends another address (or none) later: the sub decides, the account keeps its own.
    again = await signed_in(aclient, apple, email="other@example.com")
    assert again["user"]["id"] == first["user"]["id"]
    assert again["user"]["email"] == "ana@example.com"
    third = await signed_in(aclient, apple)
    assert third["user"]["id"] == first["user"]["id"]
    assert await scalar(asvc, "SELECT count(*) FROM auth.users") == 1
    assert await scalar(asvc, "SELECT count(*) FROM auth.identities") == 1


async def test_private_relay_address_is_accepted_and_flagged(
    aclient: httpx.AsyncClient, apple: FakeApple
) -> None:
    relay = "x7k2p9q4rt@privaterelay.appleid.com"
    session = await signed_in(aclient, apple, email=relay, private_email="true")
    assert session["user"]["email"] == relay
    [identity] = apple_identities(session["user"])
    assert identity["identity_data"]["custom_claims"]["is_private_email"] is True


async def test_an_apple_id_without_address_signs_in(
    aclient: httpx.AsyncClient, apple: FakeApple
) -> None:
    session = await signed_in(aclient, apple)
    assert session["user"]["email"] == ""
    assert len(apple_identities(session["user"])) == 1


async def test_the_nonce_is_required_and_checked(
    aclient: httpx.AsyncClient, apple: FakeApple, asvc: Services
) -> None:
    without = await apple_sign_in(aclient, apple.id_token(sub=SUB), nonce=None)
    assert (without.status_code, code(without)) == (400, "invalid_credentials")
    assert "nonce" in without.json()["message"]
    missing = await apple_sign_in(aclient, apple.id_token(sub=SUB, nonce=NONCE), nonce=None)
    assert (missing.status_code, code(missing)) == (400, "invalid_credentials")
    assert missing.json()["message"] == (
        "Passed nonce and nonce in id_token should either both exist or not."
    )
    wrong = await apple_sign_in(aclient, apple.id_token(sub=SUB, nonce=NONCE), nonce="another")
    assert (wrong.status_code, code(wrong)) == (400, "invalid_credentials")
    assert wrong.json()["message"] == "Nonces mismatch"
    assert wrong.json()["error"] == "invalid nonce"
    assert await scalar(asvc, "SELECT count(*) FROM auth.users") == 0


async def test_tokens_apple_did_not_sign_for_us_are_refused(
    aclient: httpx.AsyncClient, apple: FakeApple, asvc: Services
) -> None:
    other_app = await apple_sign_in(aclient, apple.id_token(sub=SUB, nonce=NONCE, aud="com.x"))
    assert (other_app.status_code, code(other_app)) == (400, "invalid_credentials")
    assert other_app.json()["message"] == "Unacceptable audience in id_token: [com.x]"
    expired = await apple_sign_in(aclient, apple.id_token(sub=SUB, nonce=NONCE, expires_in=-120))
    assert (expired.status_code, code(expired)) == (400, "invalid_credentials")
    assert expired.json()["message"] == "Bad ID token"
    # Signed by someone else's key under Apple's key id.
    forged_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = await apple_sign_in(aclient, apple.id_token(sub=SUB, nonce=NONCE, key=forged_key))
    assert (forged.status_code, code(forged)) == (400, "invalid_credentials")
    not_apple = await apple_sign_in(
        aclient, apple.id_token(sub=SUB, nonce=NONCE, iss="https://evil.example")
    )
    assert (not_apple.status_code, code(not_apple)) == (400, "validation_failed")
    assert not_apple.json()["message"] == (
        "Detected ID token issuer is not an Apple ID token issuer"
    )
    garbage = await apple_sign_in(aclient, "not.a.jwt")
    assert (garbage.status_code, code(garbage)) == (400, "validation_failed")
    empty = await apple_sign_in(aclient, "")
    assert (empty.status_code, code(empty)) == (400, "validation_failed")
    # The web services id is one of the client ids: accepted.
    web = await apple_sign_in(aclient, apple.id_token(sub=SUB, nonce=NONCE, aud=WEB_CLIENT_ID))
    assert web.status_code == 200, web.text
    assert await scalar(asvc, "SELECT count(*) FROM auth.users") == 1


async def test_other_providers_and_unconfigured_apple_are_disabled(
    services: Services, apple: FakeApple
) -> None:
    async with client_for(services) as plain:
        r = await apple_sign_in(plain, apple.id_token(sub=SUB, nonce=NONCE))
        assert (r.status_code, code(r)) == (400, "provider_disabled")
        assert r.json()["message"] == 'Provider (issuer "https://appleid.apple.com") is not enabled'
        google = await apple_sign_in(plain, apple.id_token(sub=SUB), provider="google")
        assert (google.status_code, code(google)) == (400, "provider_disabled")
        settings = await plain.get("/auth/v1/settings")
        assert settings.json()["external"]["apple"] is False
    # Legacy dialect too (no version header): GoTrue's error_code.
    async with client_for(services) as plain:
        r = await plain.post(
            "/auth/v1/token",
            params={"grant_type": "id_token"},
            json={"provider": "apple", "id_token": apple.id_token(sub=SUB), "nonce": NONCE},
        )
        assert r.json()["error_code"] == "provider_disabled"


async def test_settings_say_apple_is_enabled(aclient: httpx.AsyncClient) -> None:
    r = await aclient.get("/auth/v1/settings")
    assert r.json()["external"]["apple"] is True


async def test_keys_are_cached_and_refetched_once_for_a_new_key_id(
    aclient: httpx.AsyncClient, apple: FakeApple, asvc: Services
) -> None:
    await signed_in(aclient, apple, sub="s1")
    await signed_in(aclient, apple, sub="s2")
    assert [p for p, _ in apple.requests].count("keys") == 1
    apple.rotate()
    # Right after a fetch, an unknown key id does not make Apple be asked again (a flood of
    # forged key ids cannot become a flood of requests to Apple).
    r = await apple_sign_in(aclient, apple.id_token(sub="s3", nonce=NONCE))
    assert (r.status_code, code(r)) == (400, "invalid_credentials")
    assert [p for p, _ in apple.requests].count("keys") == 1
    # A minute later the new key id is fetched (and cached for the next sign-ins).
    asvc.apple_keys._sets[apple.url].fetched -= apple_keys.REFETCH_INTERVAL + 1
    await signed_in(aclient, apple, sub="s3")
    await signed_in(aclient, apple, sub="s4")
    assert [p for p, _ in apple.requests].count("keys") == 2
    for _ in range(3):
        r = await apple_sign_in(aclient, apple.id_token(sub=SUB, nonce=NONCE, kid="made-up"))
        assert (r.status_code, code(r)) == (400, "invalid_credentials")
    assert [p for p, _ in apple.requests].count("keys") == 2


async def test_apple_keys_down_is_503_with_retry_after(
    aclient: httpx.AsyncClient, apple: FakeApple
) -> None:
    apple.fail(503)
    r = await apple_sign_in(aclient, apple.id_token(sub=SUB, nonce=NONCE))
    assert (r.status_code, code(r)) == (503, "provider_unavailable")
    assert int(r.headers["Retry-After"]) >= 1
    assert (await apple_sign_in(aclient, apple.id_token(sub=SUB, nonce=NONCE))).status_code == 200


# --- linking to an existing account --------------------------------------------------------


async def test_links_to_an_account_whose_address_was_confirmed_by_mail(
    asvc: Services, apple: FakeApple, inbox: Inbox
) -> None:
    confirming = dataclasses.replace(
        asvc, settings=asvc.settings.model_copy(update={"email_confirm": True})
    )
    async with client_for(confirming) as c:
        r = await c.post(
            "/auth/v1/signup", json={"email": "ana@example.com", "password": PASSWORD}, headers=API
        )
        assert r.status_code == 200, r.text
        user_id = r.json()["id"]
        [mail] = inbox.to("ana@example.com")
        followed = await c.get(mail.link.replace("http://testserver", ""))
        assert followed.status_code == 303
        session = await signed_in(c, apple, email="ana@example.com")
    user = session["user"]
    assert user["id"] == user_id
    assert sorted(i["provider"] for i in user["identities"]) == ["apple", "email"]
    assert user["app_metadata"]["provider"] == "email"
    assert sorted(user["app_metadata"]["providers"]) == ["apple", "email"]
    # The password still signs in, into the same account.
    async with client_for(asvc) as c:
        r = await login(c, "ana@example.com")
        assert r.json()["user"]["id"] == user_id


async def test_no_link_to_an_address_nobody_proved(
    aclient: httpx.AsyncClient, apple: FakeApple, asvc: Services
) -> None:
    # The attacker registers the victim's address with a password; with email confirmation
    # off (the default) it is confirmed at once, with no mail.
    r = await aclient.post(
        "/auth/v1/signup", json={"email": "victim@example.com", "password": PASSWORD}, headers=API
    )
    assert r.status_code == 200
    attacker_account = r.json()["user"]["id"]
    # The victim signs in with Apple: refused, nothing linked.
    r = await apple_sign_in(
        aclient, apple.id_token(sub=SUB, nonce=NONCE, email="victim@example.com")
    )
    assert (r.status_code, code(r)) == (422, "email_exists")
    assert "access_token" not in r.json()
    assert await scalar(asvc, "SELECT count(*) FROM auth.identities") == 0
    assert await scalar(asvc, "SELECT count(*) FROM auth.users") == 1
    assert (
        await scalar(
            asvc, "SELECT count(*) FROM auth.sessions WHERE user_id <> %s", attacker_account
        )
        == 0
    )


async def test_an_apple_account_cannot_be_taken_with_a_password(
    aclient: httpx.AsyncClient, apple: FakeApple, asvc: Services
) -> None:
    # The victim signs up with Apple first; the attacker then registers the same address.
    session = await signed_in(aclient, apple, email="victim@example.com")
    r = await aclient.post(
        "/auth/v1/signup", json={"email": "victim@example.com", "password": PASSWORD}, headers=API
    )
    assert (r.status_code, code(r)) == (422, "user_already_exists")
    r = await login(aclient, "victim@example.com")
    assert (r.status_code, code(r)) == (400, "invalid_credentials")
    # A second Apple ID with the same address does not get the account either.
    r = await apple_sign_in(
        aclient, apple.id_token(sub="someone-else", nonce=NONCE, email="victim@example.com")
    )
    assert (r.status_code, code(r)) == (422, "email_exists")
    assert await scalar(asvc, "SELECT count(*) FROM auth.users") == 1
    assert await scalar(asvc, "SELECT user_id FROM auth.identities") == uuid.UUID(
        session["user"]["id"]
    )


async def test_a_password_reset_proves_the_address_and_then_apple_links(
    aclient: httpx.AsyncClient, apple: FakeApple, asvc: Services, inbox: Inbox
) -> None:
    r = await aclient.post(
        "/auth/v1/signup", json={"email": "ana@example.com", "password": PASSWORD}, headers=API
    )
    user_id = r.json()["user"]["id"]
    token = apple.id_token(sub=SUB, nonce=NONCE, email="ana@example.com")
    assert code(await apple_sign_in(aclient, token)) == "email_exists"
    assert (
        await aclient.post("/auth/v1/recover", json={"email": "ana@example.com"})
    ).status_code == 200
    [mail] = inbox.to("ana@example.com")
    r = await aclient.post(
        "/auth/v1/verify",
        json={"type": "recovery", "email": "ana@example.com", "token": mail.otp},
        headers=API,
    )
    assert r.status_code == 200, r.text
    linked = await apple_sign_in(aclient, token)
    assert linked.status_code == 200, linked.text
    assert linked.json()["user"]["id"] == user_id


# --- the authorization code and the revoke on deletion ---------------------------------------


async def test_authorization_code_is_exchanged_and_kept_sealed(
    aclient: httpx.AsyncClient, apple: FakeApple, asvc: Services
) -> None:
    session = await signed_in(aclient, apple, email="ana@example.com")
    apple.add_code("code-1", sub=SUB)
    r = await aclient.post(
        "/v1/me/apple/authorization-code", json={"code": "code-1"}, headers=bearer(session)
    )
    assert r.status_code == 204, r.text
    [refresh] = list(apple.issued)
    user_id = uuid.UUID(session["user"]["id"])
    async with asvc.db.privileged() as conn:
        cur = await conn.execute("SELECT client_id, token FROM auth.apple_tokens")
        row = await cur.fetchone()
    assert row is not None
    assert row["client_id"] == CLIENT_ID
    sealed = bytes(row["token"])
    assert refresh.encode() not in sealed
    key = apple_client.token_key(asvc.settings)
    assert apple_client.unseal(key, user_id, sealed) == refresh
    with pytest.raises(InvalidTag):
        apple_client.unseal(key, uuid.uuid4(), sealed)  # the user id is the associated data
    # Apple got a client secret it accepted (the fake checks its signature and claims).
    [(_path, form)] = [(p, f) for p, f in apple.requests if p == "token"]
    assert form["grant_type"] == "authorization_code"
    assert form["client_id"] == CLIENT_ID


async def test_authorization_code_refusals(
    aclient: httpx.AsyncClient, apple: FakeApple, asvc: Services
) -> None:
    session = await signed_in(aclient, apple, email="ana@example.com")
    h = bearer(session)
    url = "/v1/me/apple/authorization-code"
    r = await aclient.post(url, json={"code": "unknown"}, headers=h)
    assert (r.status_code, r.json()["code"]) == (400, "invalid_authorization_code")
    apple.add_code("theirs", sub="another-apple-id")
    r = await aclient.post(url, json={"code": "theirs"}, headers=h)
    assert (r.status_code, r.json()["code"]) == (422, "apple_identity_mismatch")
    apple.add_code("c2", sub=SUB)
    apple.fail(503)
    r = await aclient.post(url, json={"code": "c2"}, headers=h)
    assert (r.status_code, r.json()["code"]) == (503, "apple_unavailable")
    assert int(r.headers["Retry-After"]) >= 1
    r = await aclient.post(url, json={"code": "c2", "client_id": "com.unknown"}, headers=h)
    assert (r.status_code, r.json()["code"]) == (422, "unknown_client_id")
    r = await aclient.post(url, json={"code": "c2"})
    assert r.status_code == 401
    assert await scalar(asvc, "SELECT count(*) FROM auth.apple_tokens") == 0

    # A password account has no Apple identity.
    await aclient.post(
        "/auth/v1/signup", json={"email": "bo@example.com", "password": PASSWORD}, headers=API
    )
    bo = (await login(aclient, "bo@example.com")).json()
    r = await aclient.post(url, json={"code": "c2"}, headers=bearer(bo))
    assert (r.status_code, r.json()["code"]) == (422, "no_apple_identity")


async def test_authorization_code_needs_the_key_configured(
    services: Services, apple: FakeApple
) -> None:
    svc = services_with(services, apple_url=apple.url, apple_client_ids=[CLIENT_ID])
    async with client_for(svc) as c:
        session = await signed_in(c, apple)
        r = await c.post(
            "/v1/me/apple/authorization-code", json={"code": "x"}, headers=bearer(session)
        )
    assert (r.status_code, r.json()["code"]) == (503, "apple_not_configured")


async def jobs(svc: Services) -> list[dict[str, Any]]:
    async with svc.db.privileged() as conn:
        cur = await conn.execute(
            "SELECT id, status::text AS status, attempts, args, queueing_lock"
            " FROM procrastinate_jobs WHERE task_name = 'auth:revoke_apple_token' ORDER BY id"
        )
        return list(await cur.fetchall())


async def test_deleting_the_account_revokes_the_token_even_while_apple_is_down(
    aclient: httpx.AsyncClient, apple: FakeApple, asvc: Services
) -> None:
    session = await signed_in(aclient, apple, email="ana@example.com")
    apple.add_code("code-1", sub=SUB)
    r = await aclient.post(
        "/v1/me/apple/authorization-code", json={"code": "code-1"}, headers=bearer(session)
    )
    assert r.status_code == 204
    [refresh] = list(apple.issued)
    user_id = session["user"]["id"]

    apple.fail(503, times=1)
    r = await aclient.delete("/v1/me", headers=bearer(session))
    assert r.status_code == 204
    # Queued in the deletion's transaction, with the user id only.
    [job] = await jobs(asvc)
    assert job["args"] == {"user_id": user_id}
    assert refresh not in str(job)
    assert await scalar(asvc, "SELECT count(*) FROM auth.apple_tokens") == 1

    await run_worker(asvc, install_signal_handlers=False, wait=False, concurrency=1)
    [job] = await jobs(asvc)
    assert (job["status"], job["attempts"]) == ("todo", 1)  # Apple answered 503: retried later
    assert apple.revoked == []
    assert await scalar(asvc, "SELECT count(*) FROM auth.apple_tokens") == 1

    async with asvc.db.privileged() as conn:
        await conn.execute(
            "UPDATE procrastinate_jobs SET scheduled_at = now() WHERE id = %s", (job["id"],)
        )
    await run_worker(asvc, install_signal_handlers=False, wait=False, concurrency=1)
    assert apple.revoked == [refresh]
    [(_, form)] = [(p, f) for p, f in apple.requests if p == "revoke" and f.get("token")][-1:]
    assert form["token_type_hint"] == "refresh_token"
    assert form["client_id"] == CLIENT_ID
    assert await scalar(asvc, "SELECT count(*) FROM auth.apple_tokens") == 0
    assert await jobs(asvc) == []


async def test_an_account_without_apple_token_queues_nothing(
    aclient: httpx.AsyncClient, apple: FakeApple, asvc: Services
) -> None:
    session = await signed_in(aclient, apple, email="ana@example.com")
    assert (await aclient.delete("/v1/me", headers=bearer(session))).status_code == 204
    assert await jobs(asvc) == []
    assert await scalar(asvc, "SELECT count(*) FROM auth.identities") == 0


async def test_the_sweep_queues_the_revoke_of_tokens_left_behind(
    aclient: httpx.AsyncClient, apple: FakeApple, asvc: Services
) -> None:
    session = await signed_in(aclient, apple, email="ana@example.com")
    apple.add_code("code-1", sub=SUB)
    await aclient.post(
        "/v1/me/apple/authorization-code", json={"code": "code-1"}, headers=bearer(session)
    )
    await aclient.delete("/v1/me", headers=bearer(session))
    # The job gave up (or was lost): only the row is left.
    async with asvc.db.privileged() as conn:
        await conn.execute("DELETE FROM procrastinate_jobs")
    from momento.auth.apple import service

    orphans = await service.orphaned_tokens(asvc)
    assert orphans == [uuid.UUID(session["user"]["id"])]
    assert await apple_tasks.defer_revoke(asvc.jobs, orphans[0]) is True
    assert await apple_tasks.defer_revoke(asvc.jobs, orphans[0]) is False  # one waits already
    assert await service.orphaned_tokens(asvc) == []
    await run_worker(asvc, install_signal_handlers=False, wait=False, concurrency=1)
    assert len(apple.revoked) == 1
    assert await scalar(asvc, "SELECT count(*) FROM auth.apple_tokens") == 0


# --- the real client -------------------------------------------------------------------------


async def test_supabase_client_signs_in_with_apple(asvc: Services, apple: FakeApple) -> None:
    async with serve_live(asvc) as url:
        gotrue = AsyncGoTrueClient(url=url, auto_refresh_token=False, persist_session=True)
        try:
            token = apple.id_token(sub=SUB, nonce=NONCE, email="ana@example.com")
            signed = await gotrue.sign_in_with_id_token(
                {"provider": "apple", "token": token, "nonce": NONCE}
            )
            assert signed.session is not None
            assert signed.user is not None
            assert signed.user.email == "ana@example.com"
            assert signed.user.app_metadata["provider"] == "apple"
            assert signed.user.identities is not None
            [identity] = signed.user.identities
            assert (identity.provider, identity.id) == ("apple", SUB)
            got = await gotrue.get_user()
            assert got is not None
            assert got.user.id == signed.user.id
            refreshed = await gotrue.refresh_session()
            assert refreshed.session is not None
        finally:
            await gotrue.close()


# --- settings --------------------------------------------------------------------------------


def test_client_ids_read_as_a_list_or_comma_separated() -> None:
    assert load_settings(apple_client_ids="a.b, c.d").apple_client_ids == ["a.b", "c.d"]
    assert load_settings(apple_client_ids='["a.b"]').apple_client_ids == ["a.b"]
    plain = load_settings()
    assert plain.apple_client_ids == []
    assert not plain.apple_enabled
    assert not plain.apple_exchange_configured


def test_the_code_exchange_settings_go_together(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as partial:
        load_settings(apple_client_ids="a.b", apple_team_id="T")
    assert "MOMENTO_APPLE_KEY_ID" in str(partial.value)
    key = tmp_path / "AuthKey.p8"
    key.write_text(FakeApple().p8_pem)
    full = load_settings(
        apple_client_ids="a.b", apple_team_id="T", apple_key_id="K", apple_private_key_file=key
    )
    assert full.apple_exchange_configured
    assert full.apple_private_key_pem() == key.read_text()


def test_production_needs_the_token_secret_when_apple_exchange_is_on() -> None:
    base: dict[str, Any] = {
        "env": Environment.production,
        "database_url": "postgresql://db/momento",
        "jwt_private_key": "x",
        "public_url": "https://momento.example",
        "smtp_url": "smtp://mail:587",
        "storage_url": "s3://bucket?endpoint=https://s3.example&region=x",
        "apple_client_ids": "a.b",
        "apple_team_id": "T",
        "apple_key_id": "K",
        "apple_private_key": "pem",
    }
    with pytest.raises(SettingsError) as missing:
        load_settings(**base)
    assert "MOMENTO_APPLE_TOKEN_SECRET" in str(missing.value)
    ok = load_settings(**base, apple_token_secret="s" * 32)
    assert isinstance(ok, Settings)
