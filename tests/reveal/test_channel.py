"""Push jobs while APNs is down or the sender misconfigured: they wait in the queue without
claiming anything, and each device gets one notification once APNs is back. The ledger's lease
is the setting, and a job finding rows held by a dead worker comes back when the lease ends."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from procrastinate.jobs import Job

from momento.jobs.queue import run_worker
from momento.push.apns import MisconfiguredSender
from momento.reveal import scheduling, service, tasks
from momento.services import Services
from tests.factories import add_members, apns_token, create_user, make_event, sql, users_with_tokens
from tests.fakes.apns import FakeApns
from tests.reveal.helpers import counts, jobs, ledger


async def reveal_job(services: Services, members: int) -> uuid.UUID:
    """A revealed event with `members` members (apns_token(1)..) and its reveal job, due now."""
    creator = await create_user(services)
    event_id = await make_event(services, creator, release_in=-timedelta(seconds=90))
    await add_members(services, event_id, await users_with_tokens(services, members))
    await scheduling.schedule_reveal(
        services.jobs, event_id, datetime.now(UTC) - timedelta(seconds=90)
    )
    return event_id


async def work(services: Services) -> None:
    await run_worker(services, install_signal_handlers=False, wait=False, concurrency=2)


async def due_in(services: Services, task: str) -> float:
    """Seconds until the job of `task` (waiting, not failed) is run again."""
    [job] = await jobs(services, task)
    assert job["status"] == "todo"
    seconds: float = (job["scheduled_at"] - datetime.now(UTC)).total_seconds()
    return seconds


async def make_due(services: Services) -> None:
    """Brings every waiting job's retry forward to now (instead of sleeping through it)."""
    await sql(services, "UPDATE procrastinate_jobs SET scheduled_at = now() WHERE status = 'todo'")


async def test_apns_down_the_reveal_waits_then_each_device_gets_one(
    pushing: Services, fake_apns: FakeApns
) -> None:
    event_id = await reveal_job(pushing, 4)
    await fake_apns.stop()  # APNs unreachable: connections refused
    await work(pushing)
    # Nothing claimed, nothing sent: the job is waiting for its retry, 5 s at first.
    assert await ledger(pushing) == []
    assert fake_apns.requests == []
    assert 3.0 < await due_in(pushing, scheduling.REVEAL_TASK) <= 5.5
    [state] = await sql(pushing, "SELECT attempts FROM procrastinate_jobs")
    assert state["attempts"] == 1

    await make_due(pushing)
    await work(pushing)  # still down: waits longer, still nothing claimed
    assert await ledger(pushing) == []
    assert 7.0 < await due_in(pushing, scheduling.REVEAL_TASK) <= 10.5

    await fake_apns.start()  # back, same address
    await make_due(pushing)
    await work(pushing)
    assert counts(fake_apns) == {apns_token(i): 1 for i in range(1, 5)}
    rows = await ledger(pushing)
    assert {(r["status"], r["attempts"]) for r in rows} == {("delivered", 1)}
    assert await jobs(pushing, scheduling.REVEAL_TASK) == []  # done
    [reveal] = await sql(pushing, "SELECT finished_at FROM momento.reveals")
    assert reveal["finished_at"] is not None
    # Nothing more for anyone, however often it runs.
    assert (await service.run_reveal(pushing, event_id)).claimed == 0
    assert len(fake_apns.requests) == 4


async def test_a_misconfigured_sender_claims_nothing(services: Services) -> None:
    svc = dataclasses.replace(
        services, push=MisconfiguredSender("the APNs key is not a PEM (.p8) private key")
    )
    event_id = await reveal_job(svc, 2)
    with pytest.raises(service.PushChannelDown) as raised:
        await service.run_reveal(svc, event_id)
    assert raised.value.state == "misconfigured"
    [event] = await sql(svc, "SELECT release_at FROM public.events")
    assert raised.value.until == event["release_at"] + service.SAFETY_NET_WINDOW
    await work(svc)
    assert await ledger(svc) == []
    assert await due_in(svc, scheduling.REVEAL_TASK) > 3.0


async def test_joined_and_new_photos_wait_without_claiming(
    pushing: Services, fake_apns: FakeApns
) -> None:
    creator = await create_user(pushing)
    await sql(
        pushing,
        "UPDATE public.profiles SET device_token = %s WHERE id = %s",
        apns_token(1),
        creator.id,
    )
    event_id = await make_event(pushing, creator, release_in=timedelta(hours=2))
    [member] = await users_with_tokens(pushing, 1, first=2)
    await add_members(pushing, event_id, [member])
    await fake_apns.stop()
    with pytest.raises(service.PushChannelDown) as joined:
        await service.notify_joined(pushing, event_id, member.id)
    [row] = await sql(
        pushing, "SELECT joined_at FROM public.event_members WHERE user_id = %s", member.id
    )
    assert joined.value.until == row["joined_at"] + service.NEWS_WINDOW
    with pytest.raises(service.PushChannelDown):
        await service.notify_new_photos(pushing, event_id, "job-1")
    assert await ledger(pushing, "joined") == []
    assert await ledger(pushing, "new_photos") == []
    await fake_apns.start()
    run = await service.notify_joined(pushing, event_id, member.id)
    assert run.delivered == 1
    assert counts(fake_apns) == {apns_token(1): 1}


# --- the lease ---------------------------------------------------------------------------


async def test_rows_held_by_a_dead_worker_are_sent_when_the_lease_ends(
    pushing: Services, fake_apns: FakeApns
) -> None:
    """A worker died after claiming apns_token(2) (killed mid-reveal); the job runs again (here at
    once; in production `jobs:retry_stalled` re-runs it) before the lease is over: it sends
    the rest, and comes back when the lease ends to send apns_token(2), with its apns-id."""
    lease = 2
    svc = dataclasses.replace(
        pushing, settings=pushing.settings.model_copy(update={"push_sending_lease": lease})
    )
    event_id = await reveal_job(svc, 3)
    await sql(svc, "INSERT INTO momento.reveals (event_id) VALUES (%s)", event_id)
    [held] = await sql(
        svc,
        "INSERT INTO momento.push_deliveries (kind, event_id, user_id, device_token)"
        " SELECT 'reveal', %s, p.id, p.device_token FROM public.profiles p"
        " WHERE p.device_token = %s RETURNING user_id",
        event_id,
        apns_token(2),
    )
    await work(svc)
    assert counts(fake_apns) == {apns_token(1): 1, apns_token(3): 1}
    wait = await due_in(svc, scheduling.REVEAL_TASK)
    assert 0 < wait <= lease + tasks.LEASE_MARGIN + 1  # when the lease ends, not minutes
    await asyncio.sleep(wait + 0.2)
    await work(svc)
    assert counts(fake_apns) == {apns_token(1): 1, apns_token(2): 1, apns_token(3): 1}
    [request] = fake_apns.requests_for(apns_token(2))
    assert request.headers["apns-id"] == service.apns_id(
        "reveal", event_id, "", held["user_id"], apns_token(2)
    )
    assert await jobs(svc, scheduling.REVEAL_TASK) == []
    rows = {r["device_token"]: r for r in await ledger(svc)}
    assert rows[apns_token(2)]["attempts"] == 2
    assert {r["status"] for r in rows.values()} == {"delivered"}


async def test_the_lease_is_the_setting(pushing: Services, fake_apns: FakeApns) -> None:
    """A row 'sending' for 10 s: held under the default lease (300 s), stale under 5 s."""
    event_id = await reveal_job(pushing, 1)
    await sql(
        pushing,
        "INSERT INTO momento.push_deliveries (kind, event_id, user_id, device_token, updated_at)"
        " SELECT 'reveal', %s, p.id, p.device_token, now() - interval '10 seconds'"
        " FROM public.profiles p WHERE p.device_token = %s",
        event_id,
        apns_token(1),
    )
    run = await service.run_reveal(pushing, event_id)
    assert (run.claimed, run.elsewhere) == (0, 1)
    assert run.lease_left is not None
    assert 285 < run.lease_left <= 290
    short = dataclasses.replace(
        pushing, settings=pushing.settings.model_copy(update={"push_sending_lease": 5})
    )
    run = await service.run_reveal(short, event_id)
    assert (run.claimed, run.delivered, run.elsewhere) == (1, 1, 0)
    assert counts(fake_apns) == {apns_token(1): 1}


# --- the retry strategy ----------------------------------------------------------------------


def job(attempts: int) -> Job:
    return Job(
        id=1,
        queue="push",
        lock=None,
        queueing_lock=None,
        task_name="reveal:send",
        attempts=attempts,
    )


def wait_of(exception: BaseException, attempts: int) -> float | None:
    decision = tasks.PushRetry().get_retry_decision(exception=exception, job=job(attempts))
    if decision is None:
        return None
    assert decision.retry_at is not None
    return (decision.retry_at - datetime.now(UTC)).total_seconds()


def test_other_failures_wait_30_60_120_240_then_give_up() -> None:
    """As RetryStrategy(max_attempts=5) counted them: retried while job.attempts < 5."""
    waits = [wait_of(RuntimeError("database down"), n) for n in range(6)]
    assert [round(w) if w is not None else None for w in waits] == [30, 60, 120, 240, 240, None]


def test_channel_down_waits_5s_doubling_to_5min_while_news() -> None:
    from momento.push.apns import PushUnavailable

    until = datetime.now(UTC) + timedelta(hours=1)
    down = service.PushChannelDown(PushUnavailable("unavailable", "refused"), until)
    for attempts, ceiling in [(0, 5), (1, 10), (2, 20), (5, 160), (6, 300), (40, 300)]:
        wait = wait_of(down, attempts)
        assert wait is not None
        assert 0.8 * ceiling - 0.1 <= wait <= ceiling + 0.1
    soon = service.PushChannelDown(
        PushUnavailable("unavailable", "refused"), datetime.now(UTC) + timedelta(seconds=30)
    )
    wait = wait_of(soon, 10)
    assert wait is not None
    assert wait <= 30.1  # never past the deadline
    stale = service.PushChannelDown(
        PushUnavailable("misconfigured", "bad key"), datetime.now(UTC) - timedelta(seconds=1)
    )
    assert wait_of(stale, 0) is None  # no longer news: given up


def test_held_rows_come_back_when_the_lease_ends() -> None:
    held = tasks.PushIncomplete(0, 3, 200.2)
    assert wait_of(held, 1) == pytest.approx(202, abs=1)  # not 60 s: nothing to do before
    # Past the run count that other failures have (runs during an outage count in it).
    assert wait_of(held, service.MAX_ATTEMPTS + 3) == pytest.approx(202, abs=1)
    both = tasks.PushIncomplete(1, 3, 200.2)
    assert wait_of(both, 0) == pytest.approx(30, abs=1)
