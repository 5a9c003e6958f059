"""The abuse rules: sign-in throttling that never locks the owner out of their own devices, and
caps on wrong mailed codes. Client addresses are set per client (the ASGI transport's client
tuple, what uvicorn gives as `request.client.host`)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from momento.auth import queries as q
from momento.auth.shared import otp_hash
from momento.db import Database
from momento.kit.ratelimit import RateLimiter
from momento.mail import SmtpMailer
from momento.services import Services
from tests.auth.conftest import Inbox, client_for, services_with
from tests.auth.helpers import API, add_user, code, login, scalar

OWNER_HOME = "10.1.0.2"  # where the owner signs in from
ATTACKER = "10.66.0.1"

# Small limits so that each test stays short: 4 attempts per address, 3 per pair, and an
# account ceiling of 2 for unknown addresses.
LIMITS: dict[str, Any] = {
    "rate_limit_login_per_ip": 4,
    "rate_limit_login_per_account_ip": 3,
    "rate_limit_login_per_account": 2,
}


async def guess(c: httpx.AsyncClient, email: str = "ana@example.com") -> int:
    return (await login(c, email, "wrong guess")).status_code


# --- password sign-in --------------------------------------------------------------------------


async def test_a_guesser_does_not_lock_the_owner_out_of_a_known_address(
    services: Services,
) -> None:
    await add_user(services, "ana@example.com")
    svc = services_with(services, **LIMITS)
    async with client_for(svc, OWNER_HOME) as owner, client_for(svc, ATTACKER) as attacker:
        assert (await login(owner, "ana@example.com")).status_code == 200  # the address is known
        # The guesser exhausts the account ceiling (2, the owner's first sign-in counted, from
        # an address not known then), then is refused whatever it sends.
        assert await guess(attacker) == 400
        r = await login(attacker, "ana@example.com")
        assert (r.status_code, code(r)) == (429, "over_request_rate_limit")
        assert 1 <= int(r.headers["Retry-After"]) <= svc.settings.rate_limit_window
        assert await guess(attacker) == 429
        # Meanwhile the owner signs in from home with the right password, more than once.
        for _ in range(2):
            r = await login(owner, "ana@example.com")
            assert r.status_code == 200, r.text
    assert await scalar(services, "SELECT count(*) FROM auth.sessions") == 3


async def test_a_new_address_of_the_owner_is_held_to_the_ceiling_until_it_signs_in(
    services: Services,
) -> None:
    await add_user(services, "ana@example.com")
    svc = services_with(services, **LIMITS)
    async with client_for(svc, ATTACKER) as attacker, client_for(svc, "10.1.0.3") as phone:
        # A new address is counted by the ceiling like any other, before it is exhausted...
        assert await guess(attacker) == 400
        assert (await login(phone, "ana@example.com")).status_code == 200
        # ...and once it signed in it is known: the exhausted ceiling does not refuse it.
        assert await guess(attacker) == 429
        assert (await login(phone, "ana@example.com")).status_code == 200
    async with client_for(svc, "10.1.0.4") as laptop:
        # A new address during the attack waits for the ceiling, right password or not.
        r = await login(laptop, "ana@example.com")
        assert (r.status_code, code(r)) == (429, "over_request_rate_limit")


async def test_a_known_address_keeps_its_own_pair_and_address_limits(services: Services) -> None:
    await add_user(services, "ana@example.com")
    await add_user(services, "bo@example.com")
    svc = services_with(services, **LIMITS)
    async with client_for(svc, OWNER_HOME) as home:
        assert (await login(home, "ana@example.com")).status_code == 200
        # Known, but not unlimited: the pair allows 3 attempts a window.
        assert [await guess(home) for _ in range(3)] == [400, 400, 429]
        # The address's own limit (4) counts every account tried from it.
        r = await login(home, "bo@example.com")
        assert (r.status_code, code(r)) == (429, "over_request_rate_limit")
    async with client_for(svc, "10.1.0.9") as other:
        assert (await login(other, "bo@example.com")).status_code == 200


async def test_an_attack_spread_over_many_addresses_hits_the_account_ceiling(
    services: Services,
) -> None:
    await add_user(services, "ana@example.com")
    svc = services_with(services, **LIMITS)
    for i in range(2):
        async with client_for(svc, f"10.66.1.{i}") as c:
            assert await guess(c) == 400
    for i in range(2, 6):  # every further address is refused, one attempt each
        async with client_for(svc, f"10.66.1.{i}") as c:
            r = await login(c, "ana@example.com")
            assert (r.status_code, code(r)) == (429, "over_request_rate_limit"), i
            # Other accounts are not affected.
            assert await guess(c, f"u{i}@example.com") == 400
    assert await scalar(services, "SELECT count(*) FROM auth.sessions") == 0


@asynccontextmanager
async def second_process(services: Services, **overrides: Any) -> AsyncIterator[Services]:
    """What another API process has: its own connection pool and rate limiter, the same
    database."""
    settings = services.settings.model_copy(update=overrides)
    db = Database(settings.database_url or "", min_size=1, max_size=2, timeout=5.0)
    await db.open()
    try:
        yield dataclasses.replace(
            services, settings=settings, db=db, limiter=RateLimiter(db, settings.rate_limit_window)
        )
    finally:
        await db.close()


async def test_counting_holds_across_api_processes(services: Services) -> None:
    await add_user(services, "ana@example.com")
    limits = {**LIMITS, "rate_limit_login_per_account": 3}
    one = services_with(services, **limits)
    async with second_process(services, **limits) as two:
        async with client_for(one, OWNER_HOME) as home:
            assert (await login(home, "ana@example.com")).status_code == 200
        # Attempts through either process: the ceiling (3, the sign-in above included) is
        # reached between them.
        async with client_for(one, "10.66.2.1") as a:
            assert await guess(a) == 400
        async with client_for(two, "10.66.2.2") as b:
            assert await guess(b) == 400
            assert await guess(b) == 429
        async with client_for(one, "10.66.2.3") as c:
            assert await guess(c) == 429
        # The known address signed in through one process is known to the other.
        async with client_for(two, OWNER_HOME) as home:
            assert (await login(home, "ana@example.com")).status_code == 200


async def test_known_addresses_are_kept_hashed_for_30_days(services: Services) -> None:
    uid = await add_user(services, "ana@example.com")
    svc = services_with(services, **LIMITS)
    async with client_for(svc, OWNER_HOME) as home:
        assert (await login(home, "ana@example.com")).status_code == 200
    stored = await scalar(services, "SELECT address_hash FROM auth.known_addresses")
    assert len(stored) == 32
    assert OWNER_HOME.encode() not in stored
    # Not found by the address alone: the hash is keyed by a server secret.
    found = await scalar(
        services,
        "SELECT count(*) FROM auth.known_addresses WHERE address_hash = sha256(%s::bytea)",
        OWNER_HOME.encode(),
    )
    assert found == 0

    # A sign-in 31 days ago no longer makes the address known...
    async with services.db.privileged() as conn:
        await conn.execute(
            "UPDATE auth.known_addresses SET last_sign_in_at = now() - interval '31 days'"
        )
    async with client_for(svc, ATTACKER) as attacker:
        assert [await guess(attacker) for _ in range(3)] == [400, 429, 429]
    async with client_for(svc, OWNER_HOME) as home:
        assert (await login(home, "ana@example.com")).status_code == 429
    # ...and such rows are what the pruning (run now and then by sign-ins) deletes.
    await add_user(services, "bo@example.com")
    async with client_for(svc, "10.1.0.7") as other:
        assert (await login(other, "bo@example.com")).status_code == 200
    async with services.db.privileged() as conn:
        await conn.execute(q.FORGET_OLD_ADDRESSES, (svc.settings.login_known_address_days,))
    assert await scalar(services, "SELECT count(*) FROM auth.known_addresses") == 1
    assert (
        await scalar(services, "SELECT count(*) FROM auth.known_addresses WHERE user_id = %s", uid)
        == 0
    )


async def test_the_known_address_period_is_a_setting(services: Services) -> None:
    await add_user(services, "ana@example.com")
    svc = services_with(services, login_known_address_days=2, **LIMITS)
    async with client_for(svc, OWNER_HOME) as home:
        assert (await login(home, "ana@example.com")).status_code == 200
    async with services.db.privileged() as conn:
        await conn.execute(
            "UPDATE auth.known_addresses SET last_sign_in_at = now() - interval '3 days'"
        )
    async with client_for(svc, ATTACKER) as attacker:
        assert [await guess(attacker) for _ in range(3)] == [400, 429, 429]
    async with client_for(svc, OWNER_HOME) as home:
        assert (await login(home, "ana@example.com")).status_code == 429


# --- wrong mailed codes ------------------------------------------------------------------------


def mailing(services: Services, smtp_url: str, **overrides: Any) -> Services:
    return services_with(
        services,
        SmtpMailer(smtp_url, services.settings.mail_from),
        smtp_url=smtp_url,
        **overrides,
    )


async def recovery_code(c: httpx.AsyncClient, inbox: Inbox, email: str) -> str:
    r = await c.post("/auth/v1/recover", json={"email": email}, headers=API)
    assert r.status_code == 200, r.text
    return inbox.to(email)[-1].otp


async def verify_otp(c: httpx.AsyncClient, email: str, otp: str) -> httpx.Response:
    return await c.post(
        "/auth/v1/verify",
        json={"type": "recovery", "email": email, "token": otp},
        headers=API,
    )


def wrong(otp: str) -> str:
    return f"{(int(otp) + 1) % 1_000_000:06d}"


async def test_wrong_codes_are_capped_per_account_across_addresses(
    services: Services, smtp_url: str, inbox: Inbox
) -> None:
    await add_user(services, "ana@example.com")
    svc = mailing(services, smtp_url, rate_limit_verify_per_account=3)
    async with client_for(svc, "10.2.0.1") as c:
        otp = await recovery_code(c, inbox, "ana@example.com")
    for i in range(3):
        async with client_for(svc, f"10.66.3.{i}") as c:
            r = await verify_otp(c, "ana@example.com", wrong(otp))
            assert (r.status_code, code(r)) == (403, "otp_expired")
    # Capped: even the right code waits, from any address, until the window passes.
    async with client_for(svc, "10.2.0.1") as c:
        r = await verify_otp(c, "ANA@example.com", otp)
        assert (r.status_code, code(r)) == (429, "over_request_rate_limit")
        retry = int(r.headers["Retry-After"])
        assert svc.settings.rate_limit_window < retry <= svc.settings.rate_limit_verify_window
        # Another account is not capped.
        r = await verify_otp(c, "bo@example.com", "123456")
        assert (r.status_code, code(r)) == (403, "otp_expired")
        # The window passes (moved back by an hour here): the right code is taken.
        async with services.db.privileged() as conn:
            await conn.execute(
                "UPDATE momento.rate_limits SET window_start = window_start - interval '1 hour'"
            )
        r = await verify_otp(c, "ana@example.com", otp)
        assert r.status_code == 200, r.text


async def test_wrong_codes_are_capped_per_address(
    services: Services, smtp_url: str, inbox: Inbox
) -> None:
    await add_user(services, "ana@example.com")
    svc = mailing(services, smtp_url, rate_limit_verify_per_ip=3)
    async with client_for(svc, ATTACKER) as attacker:
        for i in range(3):  # token hashes, which name no account
            r = await attacker.post(
                "/auth/v1/verify",
                json={
                    "type": "recovery",
                    "token_hash": otp_hash(svc, "ana@example.com", f"{i:06d}"),
                },
                headers=API,
            )
            assert (r.status_code, code(r)) == (403, "otp_expired")
        r = await verify_otp(attacker, "bo@example.com", "000000")
        assert (r.status_code, code(r)) == (429, "over_request_rate_limit")
        # A followed link counts too: refused with 429, not redirected.
        r = await attacker.get("/auth/v1/verify", params={"token": "0" * 56, "type": "recovery"})
        assert r.status_code == 429
    async with client_for(svc, "10.2.0.1") as c:
        otp = await recovery_code(c, inbox, "ana@example.com")
        assert (await verify_otp(c, "ana@example.com", otp)).status_code == 200


async def test_correct_codes_do_not_count(services: Services, smtp_url: str, inbox: Inbox) -> None:
    """Guests at an event share the venue's address: their right codes never add up to the cap."""
    emails = [f"guest{i}@example.com" for i in range(4)]
    for email in emails:
        await add_user(services, email)
    svc = mailing(services, smtp_url, rate_limit_verify_per_ip=2, rate_limit_recover_per_ip=10)
    async with client_for(svc, "10.3.0.1") as venue:
        for email in emails:
            otp = await recovery_code(venue, inbox, email)
            r = await verify_otp(venue, email, otp)
            assert r.status_code == 200, r.text
        # Wrong ones still do.
        assert (await verify_otp(venue, emails[0], "000000")).status_code == 403
        assert (await verify_otp(venue, emails[0], "000000")).status_code == 403
        assert (await verify_otp(venue, emails[0], "000000")).status_code == 429


# --- IPv6: a /64 is one address ----------------------------------------------------------------


async def test_an_ipv6_guesser_cannot_escape_by_changing_addresses_in_its_64(
    services: Services,
) -> None:
    svc = services_with(services, rate_limit_verify_per_ip=2)
    for host in ("2001:db8:66::1", "2001:db8:66::2:3"):
        async with client_for(svc, host) as c:
            r = await verify_otp(c, f"{host.replace(':', '')}@example.com", "000000")
            assert (r.status_code, code(r)) == (403, "otp_expired")
    async with client_for(svc, "2001:db8:66:0:ffff::9") as c:
        r = await verify_otp(c, "x@example.com", "000000")
        assert (r.status_code, code(r)) == (429, "over_request_rate_limit")
    async with client_for(svc, "2001:db8:67::1") as c:  # another /64
        r = await verify_otp(c, "x@example.com", "000000")
        assert (r.status_code, code(r)) == (403, "otp_expired")


async def test_a_phone_with_a_new_privacy_address_is_still_known(services: Services) -> None:
    await add_user(services, "ana@example.com")
    svc = services_with(services, **LIMITS)
    for host in ("2001:db8:5::a1", "10.1.0.20"):  # the owner's phone, and home over IPv4
        async with client_for(svc, host) as c:
            assert (await login(c, "ana@example.com")).status_code == 200
    async with client_for(svc, ATTACKER) as attacker:
        assert await guess(attacker) == 429  # the ceiling (2) is spent
    # The next day the phone has another address in the same /64: still the owner's.
    async with client_for(svc, "2001:db8:5::77:b2") as phone:
        assert (await login(phone, "ana@example.com")).status_code == 200
    # An IPv4-mapped IPv6 address is its IPv4 address.
    async with client_for(svc, "::ffff:10.1.0.20") as mapped:
        assert (await login(mapped, "ana@example.com")).status_code == 200
    async with client_for(svc, "2001:db8:6::a1") as elsewhere:
        assert (await login(elsewhere, "ana@example.com")).status_code == 429
