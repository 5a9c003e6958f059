"""The reveal against the fake APNs: every member's device gets one notification, whatever
retries, races and crashes happen; each APNs answer is recorded and acted on."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from momento.analytics.client import DistinctId, NoAnalytics
from momento.push.apns import ApnsConfig, ApnsSender, Notification, SendResult
from momento.reveal import service
from momento.services import Services
from tests.conftest import SenderFactory, with_sender
from tests.factories import (
    add_members,
    apns_token,
    create_user,
    device_token_of,
    make_event,
    set_device_token,
    sql,
    users_with_tokens,
)
from tests.fakes.apns import FakeApns
from tests.reveal.helpers import counts, ledger


class Recorded(NoAnalytics):
    def __init__(self) -> None:
        self.captured: list[tuple[str, str, dict[str, Any]]] = []

    def capture(
        self, distinct_id: DistinctId, event: str, properties: Mapping[str, Any] | None = None
    ) -> None:
        self.captured.append((str(distinct_id), event, dict(properties or {})))


async def revealed_event(services: Services, members: int) -> tuple[uuid.UUID, uuid.UUID]:
    """A revealed event: its creator (no device token) and `members` members with tokens
    apns_token(1)..apns_token(members). Returns (event id, creator id)."""
    creator = await create_user(services)
    event_id = await make_event(
        services, creator, name="Beach party", release_in=-timedelta(minutes=5)
    )
    await add_members(services, event_id, await users_with_tokens(services, members))
    return event_id, creator.id


async def test_every_member_with_a_token_gets_one_notification(
    pushing: Services, fake_apns: FakeApns
) -> None:
    analytics = Recorded()
    svc = dataclasses.replace(pushing, analytics=analytics)
    event_id, creator = await revealed_event(svc, 5)
    no_token = await create_user(svc)
    await add_members(svc, event_id, [no_token])
    run = await service.run_reveal(svc, event_id)
    assert (run.outcome, run.claimed, run.delivered) == ("sent", 5, 5)
    assert counts(fake_apns) == {apns_token(i): 1 for i in range(1, 6)}
    request = fake_apns.requests[0]
    assert request.json() == {
        "aps": {
            "alert": {"title": "Beach party", "body": "Your photos are ready to reveal!"},
            "sound": "default",
            "thread-id": str(event_id),
        },
        "event_id": str(event_id),
        "type": "reveal",
    }
    assert request.headers["apns-collapse-id"] == f"reveal-{event_id}"
    assert request.headers["apns-push-type"] == "alert"
    assert {r["status"] for r in await ledger(svc)} == {"delivered"}
    assert all(r["apns_id"] for r in await ledger(svc))
    [reveal] = await sql(svc, "SELECT * FROM momento.reveals")
    assert reveal["finished_at"] is not None
    assert (reveal["member_count"], reveal["photo_count"]) == (7, 0)
    assert analytics.captured == [
        (
            str(creator),
            "reveal_sent",
            {"event_id": str(event_id), "member_count": 7, "photo_count": 0},
        )
    ]


async def test_a_retried_job_sends_nothing_twice(pushing: Services, fake_apns: FakeApns) -> None:
    analytics = Recorded()
    svc = dataclasses.replace(pushing, analytics=analytics)
    event_id, _ = await revealed_event(svc, 3)
    await service.run_reveal(svc, event_id)
    again = await service.run_reveal(svc, event_id)
    assert (again.claimed, again.finished) == (0, False)
    assert counts(fake_apns) == {apns_token(i): 1 for i in (1, 2, 3)}
    assert len(analytics.captured) == 1


async def test_a_member_who_joins_after_a_run_gets_it_from_the_next(
    pushing: Services, fake_apns: FakeApns
) -> None:
    """A retry after a partial run sends what the first did not: here, a device registered
    in between (the ledger is per device, not per event)."""
    event_id, _ = await revealed_event(pushing, 2)
    await service.run_reveal(pushing, event_id)
    [late] = await users_with_tokens(pushing, 1, first=9)
    await add_members(pushing, event_id, [late])
    run = await service.run_reveal(pushing, event_id)
    assert run.claimed == 1
    assert counts(fake_apns) == {apns_token(1): 1, apns_token(2): 1, apns_token(9): 1}


async def test_two_workers_racing_send_each_notification_once(
    services: Services, fake_apns: FakeApns, new_sender: SenderFactory
) -> None:
    first = await with_sender(services, new_sender())
    second = await with_sender(services, new_sender())
    event_id, _ = await revealed_event(services, 40)
    runs = await asyncio.gather(
        service.run_reveal(first, event_id),
        service.run_reveal(second, event_id),
        service.run_reveal(first, event_id),
    )
    assert sum(r.claimed for r in runs) == 40
    assert counts(fake_apns) == {apns_token(i): 1 for i in range(1, 41)}
    assert sum(r.finished for r in runs) == 1
    assert {r["status"] for r in await ledger(services)} == {"delivered"}


async def test_a_crash_mid_job_resends_only_the_unanswered_once(
    pushing: Services, fake_apns: FakeApns
) -> None:
    """The worker died after claiming: rows of 3 devices stayed 'sending'. Fresh ones may still
    be in flight (another worker): left alone. Past the lease: sent again, once."""
    event_id, _ = await revealed_event(pushing, 4)
    await sql(pushing, "INSERT INTO momento.reveals (event_id) VALUES (%s)", event_id)
    claimed = """
    INSERT INTO momento.push_deliveries (kind, event_id, user_id, device_token, status,
      updated_at)
    SELECT 'reveal', %s, p.id, p.device_token, %s, now() - %s::interval
    FROM public.profiles p WHERE p.device_token = %s
    """
    await sql(pushing, claimed, event_id, "delivered", timedelta(minutes=9), apns_token(1))
    await sql(pushing, claimed, event_id, "sending", timedelta(minutes=9), apns_token(2))
    await sql(pushing, claimed, event_id, "sending", timedelta(seconds=5), apns_token(3))
    run = await service.run_reveal(pushing, event_id)
    # apns_token(2): stale, resent; apns_token(4): never claimed; apns_token(3): in flight
    # elsewhere.
    assert counts(fake_apns) == {apns_token(2): 1, apns_token(4): 1}
    assert not run.finished
    rows = {r["device_token"]: r for r in await ledger(pushing)}
    assert rows[apns_token(2)]["attempts"] == 2
    assert rows[apns_token(3)]["status"] == "sending"
    # The other worker never answers: once its lease is over, the next run sends it.
    await sql(
        pushing,
        "UPDATE momento.push_deliveries SET updated_at = now() - interval '6 minutes'"
        " WHERE device_token = %s",
        apns_token(3),
    )
    run = await service.run_reveal(pushing, event_id)
    assert run.finished
    assert counts(fake_apns) == {apns_token(2): 1, apns_token(3): 1, apns_token(4): 1}
    again = await service.run_reveal(pushing, event_id)
    assert again.claimed == 0
    assert (
        fake_apns.requests_for(apns_token(2))[0].headers["apns-collapse-id"] == f"reveal-{event_id}"
    )


async def test_apns_answers(pushing: Services, fake_apns: FakeApns) -> None:
    event_id, _ = await revealed_event(pushing, 6)
    fake_apns.fail(apns_token(1), "Unregistered")  # 410: the app was removed
    fake_apns.fail(apns_token(2), "BadDeviceToken")  # 400: not a token of this environment
    fake_apns.fail(apns_token(3), "TooManyRequests", times=2)  # 429, 429, then 200
    fake_apns.fail(apns_token(4), "InternalServerError", times=1)  # 500, then 200
    fake_apns.fail(apns_token(5), "TopicDisallowed")  # another 400: our bug, recorded
    run = await service.run_reveal(pushing, event_id)
    assert (run.delivered, run.invalid_token, run.failed) == (3, 2, 1)
    rows = {r["device_token"]: r for r in await ledger(pushing)}
    assert {t: r["status"] for t, r in rows.items()} == {
        apns_token(1): "invalid_token",
        apns_token(2): "invalid_token",
        apns_token(3): "delivered",
        apns_token(4): "delivered",
        apns_token(5): "failed",
        apns_token(6): "delivered",
    }
    assert rows[apns_token(1)]["reason"] == "Unregistered"
    assert rows[apns_token(5)]["reason"] == "TopicDisallowed"
    assert len(fake_apns.requests_for(apns_token(3))) == 3
    assert len(fake_apns.requests_for(apns_token(4))) == 2
    assert len(fake_apns.requests_for(apns_token(5))) == 1
    tokens = await sql(
        pushing,
        "SELECT p.device_token FROM public.event_members m JOIN public.profiles p"
        " ON p.id = m.user_id WHERE m.event_id = %s AND p.device_token IS NOT NULL",
        event_id,
    )
    # The invalid tokens are cleared from their profiles; the others stay.
    assert sorted(r["device_token"] for r in tokens) == [apns_token(i) for i in (3, 4, 5, 6)]
    # Nothing is sent again: failures are recorded, not retried by the next run.
    before = len(fake_apns.requests)
    assert (await service.run_reveal(pushing, event_id)).claimed == 0
    assert len(fake_apns.requests) == before


async def test_apns_down_is_retried_by_the_next_run(pushing: Services, fake_apns: FakeApns) -> None:
    """429/5xx past the sender's retries: recorded, and the job fails so that procrastinate
    runs it again; that run sends only those."""
    event_id, _ = await revealed_event(pushing, 3)
    fake_apns.fail(apns_token(2), "ServiceUnavailable", times=4)  # the sender's 1 + 3 retries
    run = await service.run_reveal(pushing, event_id)
    assert (run.delivered, run.failed, run.retry_later) == (2, 1, 1)
    [row] = [r for r in await ledger(pushing) if r["device_token"] == apns_token(2)]
    assert (row["status"], row["reason"]) == ("failed", "retry_exhausted: ServiceUnavailable")
    run = await service.run_reveal(pushing, event_id)
    assert (run.claimed, run.delivered, run.retry_later) == (1, 1, 0)
    assert counts(fake_apns) == {apns_token(1): 1, apns_token(2): 5, apns_token(3): 1}


async def test_a_token_replaced_while_sending_is_not_cleared(
    services: Services, fake_apns: FakeApns, new_sender: SenderFactory
) -> None:
    """APNs says the old token is gone, but the app registered a new one meanwhile."""
    event_id, _ = await revealed_event(services, 1)
    fake_apns.fail(apns_token(1), "Unregistered")
    [member] = await sql(
        services, "SELECT id FROM public.profiles WHERE device_token = %s", apns_token(1)
    )
    inner = new_sender()

    class Refreshing:
        async def open(self) -> None:
            await inner.open()

        async def start(self) -> None:
            await inner.start()

        async def close(self) -> None:
            await inner.close()

        async def ready(self) -> None:
            await inner.ready()

        def health(self) -> dict[str, str]:
            return inner.health()

        async def send(self, notification: Notification) -> SendResult:
            return await inner.send(notification)

        async def send_many(self, notifications: Iterable[Notification]) -> list[SendResult]:
            results = await inner.send_many(notifications)
            await set_device_token(services, member["id"], apns_token(77))
            return results

    svc = dataclasses.replace(services, push=Refreshing())
    await svc.push.open()
    run = await service.run_reveal(svc, event_id)
    assert run.invalid_token == 1
    [row] = await sql(
        services, "SELECT device_token FROM public.profiles WHERE id = %s", member["id"]
    )
    assert row["device_token"] == apns_token(77)


async def test_an_expired_provider_token_is_refreshed_mid_reveal(
    services: Services, fake_apns: FakeApns, apns_config: ApnsConfig
) -> None:
    """APNs answers 403 ExpiredProviderToken: one new JWT, the notifications sent again."""
    offset = 0.0

    def clock() -> float:
        return time.time() + offset

    sender = ApnsSender(apns_config, clock=clock)
    svc = await with_sender(services, sender)
    try:
        event_id, _ = await revealed_event(svc, 2)
        await service.run_reveal(svc, event_id)
        assert sender.token.minted == 1
        # Two minutes later, for a fake whose tokens expire after one (Apple: an hour).
        offset = 120.0
        fake_apns.clock = clock
        fake_apns.max_token_age = 60
        creator = await create_user(svc)
        other = await make_event(svc, creator, release_in=-timedelta(minutes=5))
        await add_members(svc, other, await users_with_tokens(svc, 2, first=50))
        run = await service.run_reveal(svc, other)
        assert run.delivered == 2
        assert sender.token.minted == 2
        reasons = sorted(
            str(r.reason)
            for t in (apns_token(50), apns_token(51))
            for r in fake_apns.requests_for(t)
        )
        assert reasons.count("None") == 2
        assert set(reasons) <= {"None", "ExpiredProviderToken"}
        assert "ExpiredProviderToken" in reasons
    finally:
        await sender.close()


async def test_members_without_tokens_are_skipped(pushing: Services, fake_apns: FakeApns) -> None:
    creator = await create_user(pushing)
    event_id = await make_event(pushing, creator, release_in=-timedelta(minutes=5))
    silent = [await create_user(pushing) for _ in range(3)]
    await add_members(pushing, event_id, silent)
    run = await service.run_reveal(pushing, event_id)
    assert (run.claimed, run.finished) == (0, True)
    assert fake_apns.requests == []
    assert await device_token_of(pushing, silent[0]) is None
