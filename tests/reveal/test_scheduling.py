"""The reveal job follows the event: deferred on create, moved with release_at, never doubled,
and harmless when it runs for an event that is gone or not due."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from momento.jobs.queue import run_worker
from momento.reveal import scheduling, service
from momento.services import Services
from tests.factories import (
    add_members,
    apns_token,
    create_event,
    create_user,
    iso,
    make_event,
    sql,
    users_with_tokens,
)
from tests.fakes.apns import FakeApns
from tests.reveal.helpers import counts, jobs


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_creating_an_event_schedules_its_reveal(
    services: Services, client: httpx.AsyncClient
) -> None:
    ana = await create_user(services)
    event = await create_event(client, ana)
    [job] = await jobs(services, scheduling.REVEAL_TASK)
    assert job["status"] == "todo"
    assert job["scheduled_at"] == when(event["release_at"])
    assert job["queueing_lock"] == f"reveal:{event['id']}"
    assert job["args"] == {"event_id": event["id"]}


async def test_moving_release_at_reschedules_the_one_job(
    services: Services, client: httpx.AsyncClient
) -> None:
    ana = await create_user(services)
    event = await create_event(client, ana)
    for hours in (30, 40, 20):
        later = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=hours)
        r = await client.patch(
            f"/v1/events/{event['id']}", headers=ana.headers, json={"release_at": iso(later)}
        )
        assert r.status_code == 200, r.text
        waiting = [j for j in await jobs(services, scheduling.REVEAL_TASK) if j["status"] == "todo"]
        assert [j["scheduled_at"] for j in waiting] == [later]
    # Cancelled jobs are deleted: the table holds the one job.
    assert len(await jobs(services, scheduling.REVEAL_TASK)) == 1


async def test_a_name_change_leaves_the_job_alone(
    services: Services, client: httpx.AsyncClient
) -> None:
    ana = await create_user(services)
    event = await create_event(client, ana)
    [before] = await jobs(services, scheduling.REVEAL_TASK)
    r = await client.patch(f"/v1/events/{event['id']}", headers=ana.headers, json={"name": "New"})
    assert r.status_code == 200, r.text
    assert await jobs(services, scheduling.REVEAL_TASK) == [before]


async def test_scheduling_twice_at_once_leaves_one_job(services: Services) -> None:
    ana = await create_user(services)
    event_id = await make_event(services, ana, release_in=timedelta(days=1))
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    await asyncio.gather(
        *(scheduling.schedule_reveal(services.jobs, event_id, at) for _ in range(4))
    )
    waiting = [j for j in await jobs(services, scheduling.REVEAL_TASK) if j["status"] == "todo"]
    assert [j["scheduled_at"] for j in waiting] == [at]


async def test_the_job_of_a_deleted_event_does_nothing(
    pushing: Services, fake_apns: FakeApns, client: httpx.AsyncClient
) -> None:
    ana = await create_user(pushing)
    event = await create_event(client, ana, revealed=True)
    await add_members(pushing, uuid.UUID(event["id"]), await users_with_tokens(pushing, 3))
    r = await client.delete(f"/v1/events/{event['id']}", headers=ana.headers)
    assert r.status_code == 204, r.text
    # The job was due (released an hour ago): the worker runs it now.
    await run_worker(pushing, install_signal_handlers=False, wait=False, concurrency=2)
    assert await jobs(pushing, scheduling.REVEAL_TASK) == []  # ran and succeeded
    assert fake_apns.requests == []
    assert await sql(pushing, "SELECT * FROM momento.reveals") == []
    assert (await service.run_reveal(pushing, uuid.UUID(event["id"]))).outcome == "gone"


async def test_a_job_that_runs_before_release_at_sends_nothing_and_reschedules(
    pushing: Services, fake_apns: FakeApns
) -> None:
    """A job for an old release_at that lost the race with the move to a later one."""
    ana = await create_user(pushing)
    event_id = await make_event(pushing, ana, release_in=timedelta(hours=2))
    await add_members(pushing, event_id, await users_with_tokens(pushing, 2))
    run = await service.run_reveal(pushing, event_id)
    assert run.outcome == "not_due"
    assert fake_apns.requests == []
    [job] = await jobs(pushing, scheduling.REVEAL_TASK)
    [event] = await sql(pushing, "SELECT release_at FROM public.events WHERE id = %s", event_id)
    assert job["status"] == "todo"
    assert job["scheduled_at"] == event["release_at"]


async def test_the_worker_sends_the_reveal_at_release_at(
    pushing: Services, fake_apns: FakeApns, client: httpx.AsyncClient
) -> None:
    ana = await create_user(pushing)
    event = await create_event(client, ana, revealed=True)
    members = await users_with_tokens(pushing, 3)
    await add_members(pushing, uuid.UUID(event["id"]), members)
    await run_worker(pushing, install_signal_handlers=False, wait=False, concurrency=2)
    assert counts(fake_apns) == {apns_token(i): 1 for i in (1, 2, 3)}
    [reveal] = await sql(pushing, "SELECT * FROM momento.reveals")
    assert reveal["finished_at"] is not None
    assert reveal["member_count"] == 4


@pytest.mark.parametrize("crash", [True, False])
async def test_the_safety_net_sends_a_reveal_whose_job_never_came(
    pushing: Services, fake_apns: FakeApns, crash: bool
) -> None:
    """The server died between the event's commit and the defer (no job at all), or the
    reveal's worker died with notifications in flight (rows 'sending' past their lease)."""
    ana = await create_user(pushing)
    event_id = await make_event(pushing, ana, release_in=-timedelta(minutes=10))
    await add_members(pushing, event_id, await users_with_tokens(pushing, 2))
    if crash:
        await sql(pushing, "INSERT INTO momento.reveals (event_id) VALUES (%s)", event_id)
        await sql(
            pushing,
            "INSERT INTO momento.push_deliveries (kind, event_id, user_id, device_token,"
            " updated_at) SELECT 'reveal', %s, p.id, p.device_token, now() - interval '1 hour'"
            " FROM public.profiles p WHERE p.device_token = %s",
            event_id,
            apns_token(1),
        )
    # Not yet due for the net: released a moment ago (its job is about to run).
    recent = await make_event(pushing, ana, release_in=-timedelta(seconds=5))
    assert await service.overdue_reveals(pushing) == [event_id]
    task = pushing.jobs.tasks["reveal:safety_net"]
    await task.defer_async(timestamp=0)
    await run_worker(pushing, install_signal_handlers=False, wait=False, concurrency=1)
    assert counts(fake_apns) == {apns_token(1): 1, apns_token(2): 1}
    assert await service.overdue_reveals(pushing) == []
    assert recent not in await service.overdue_reveals(pushing)


async def test_the_safety_net_leaves_a_reveal_whose_job_waits_to_run_again(
    pushing: Services,
) -> None:
    """A reveal job put back in the queue (APNs away: it runs again later) is not the net's:
    the net would only say "sending an overdue reveal" every minute and find APNs away too."""
    ana = await create_user(pushing)
    event_id = await make_event(pushing, ana, release_in=-timedelta(minutes=10))
    assert await service.overdue_reveals(pushing) == [event_id]
    later = datetime.now(UTC) + timedelta(minutes=5)
    await scheduling.schedule_reveal(pushing.jobs, event_id, later)
    assert await service.overdue_reveals(pushing) == []
