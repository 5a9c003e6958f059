"""The other pushes: "Someone joined your Momento" to the creator, "New photos added" collapsed
per interval, and the console sender when APNs is not configured."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from momento.jobs.queue import run_worker
from momento.push.apns import ConsoleSender
from momento.reveal import scheduling, service
from momento.services import Services
from tests.factories import (
    TestUser,
    add_members,
    add_photo,
    apns_token,
    create_event,
    create_user,
    join,
    make_event,
    set_device_token,
    sql,
    users_with_tokens,
)
from tests.fakes.apns import FakeApns
from tests.photos.images import plain_jpeg
from tests.reveal.helpers import counts, jobs, ledger


async def test_a_join_notifies_the_creator_once(
    pushing: Services, fake_apns: FakeApns, client: httpx.AsyncClient
) -> None:
    ana = await create_user(pushing)
    await set_device_token(pushing, ana, apns_token(1))
    event = await create_event(client, ana)
    bob, carol = await users_with_tokens(pushing, 2, first=2)
    await join(client, bob, event)
    await join(client, bob, event)  # already a member: no second job
    assert len(await jobs(pushing, scheduling.JOINED_TASK)) == 1
    await run_worker(pushing, install_signal_handlers=False, wait=False, concurrency=2)
    assert counts(fake_apns) == {apns_token(1): 1}
    [request] = fake_apns.requests
    assert request.json()["aps"]["alert"] == {
        "title": "Party",
        "body": "Someone joined your Momento",
    }
    assert request.json()["event_id"] == event["id"]
    assert request.headers["apns-collapse-id"] == f"joined-{event['id']}"
    # A retry of that job sends nothing more; carol's join is a notification of its own.
    run = await service.notify_joined(pushing, uuid.UUID(event["id"]), bob.id)
    assert run.claimed == 0
    await join(client, carol, event)
    await run_worker(pushing, install_signal_handlers=False, wait=False, concurrency=2)
    assert counts(fake_apns) == {apns_token(1): 2}
    refs = sorted(r["ref"] for r in await ledger(pushing, "joined"))
    assert refs == sorted([str(bob.id), str(carol.id)])


async def test_a_creator_without_a_token_gets_nothing(
    pushing: Services, fake_apns: FakeApns, client: httpx.AsyncClient
) -> None:
    ana = await create_user(pushing)
    event = await create_event(client, ana)
    [bob] = await users_with_tokens(pushing, 1)
    await join(client, bob, event)
    await run_worker(pushing, install_signal_handlers=False, wait=False, concurrency=2)
    assert fake_apns.requests == []


async def test_completed_uploads_make_one_new_photos_job(
    services: Services, client: httpx.AsyncClient
) -> None:
    ana = await create_user(services)
    event = await create_event(client, ana)
    for _ in range(3):
        data = plain_jpeg()
        r = await client.post(
            f"/v1/events/{event['id']}/photos",
            headers=ana.headers,
            json={
                "captured_at": datetime.now(UTC).isoformat(),
                "content_type": "image/jpeg",
                "byte_size": len(data),
            },
        )
        assert r.status_code == 201, r.text
        photo_id = r.json()["photo"]["id"]
        upload = r.json()["upload"]
        r = await client.request(
            upload["method"], upload["url"], headers=upload["headers"], content=data
        )
        assert r.status_code == 200, r.text
        r = await client.post(f"/v1/photos/{photo_id}/complete", headers=ana.headers)
        assert r.status_code == 200, r.text
    [job] = await jobs(services, scheduling.NEW_PHOTOS_TASK)
    assert job["queueing_lock"] == f"new-photos:{event['id']}"
    interval = services.settings.push_new_photos_interval
    expected = datetime.now(UTC) + timedelta(seconds=interval)
    assert abs((job["scheduled_at"] - expected).total_seconds()) < 30


async def uploaded(
    services: Services, event_id: uuid.UUID, user: TestUser, ago: timedelta = timedelta(0)
) -> None:
    """A photo of `user` uploaded `ago` before now, as complete_photo leaves it."""
    await add_photo(services, event_id, user, processed_at=datetime.now(UTC) - ago)


async def test_new_photos_go_to_the_others_once_per_batch(
    pushing: Services, fake_apns: FakeApns
) -> None:
    creator = await create_user(pushing)
    event_id = await make_event(pushing, creator, release_in=timedelta(hours=5))
    ana, bob, carol = await users_with_tokens(pushing, 3)
    await add_members(pushing, event_id, [ana, bob, carol])
    await uploaded(pushing, event_id, ana)
    await uploaded(pushing, event_id, ana)
    await uploaded(pushing, event_id, bob)
    run = await service.notify_new_photos(pushing, event_id, "job-1")
    # The uploaders of the batch are not told about their own photos.
    assert counts(fake_apns) == {apns_token(3): 1}
    [request] = fake_apns.requests
    assert request.json()["aps"]["alert"]["body"] == "New photos added"
    assert request.headers["apns-collapse-id"] == f"new-photos-{event_id}"
    # The same job again (a retry): nothing more.
    assert (await service.notify_new_photos(pushing, event_id, "job-1")).claimed == 0
    # The next batch: only photos since the last one count.
    assert (await service.notify_new_photos(pushing, event_id, "job-2")).outcome == "nothing"
    await uploaded(pushing, event_id, carol)
    run = await service.notify_new_photos(pushing, event_id, "job-3")
    assert run.delivered == 2
    assert counts(fake_apns) == {apns_token(1): 1, apns_token(2): 1, apns_token(3): 1}


@pytest.mark.parametrize("release_in", [timedelta(seconds=30), -timedelta(seconds=30)])
async def test_no_new_photos_push_in_the_reveal_minute(
    pushing: Services, fake_apns: FakeApns, release_in: timedelta
) -> None:
    creator = await create_user(pushing)
    event_id = await make_event(pushing, creator, release_in=release_in)
    ana, bob = await users_with_tokens(pushing, 2)
    await add_members(pushing, event_id, [ana, bob])
    await uploaded(pushing, event_id, ana)
    run = await service.notify_new_photos(pushing, event_id, "job-1")
    assert run.outcome == "quiet"
    assert fake_apns.requests == []
    # Put off until the minute after the reveal.
    [job] = await jobs(pushing, scheduling.NEW_PHOTOS_TASK)
    [event] = await sql(pushing, "SELECT release_at FROM public.events WHERE id = %s", event_id)
    assert event["release_at"] + timedelta(seconds=60) <= job["scheduled_at"]
    assert job["scheduled_at"] <= event["release_at"] + timedelta(seconds=62)


async def test_photos_from_before_the_reveal_are_not_announced_after_it(
    pushing: Services, fake_apns: FakeApns
) -> None:
    creator = await create_user(pushing)
    event_id = await make_event(pushing, creator, release_in=-timedelta(minutes=10))
    ana, bob = await users_with_tokens(pushing, 2)
    await add_members(pushing, event_id, [ana, bob])
    await uploaded(pushing, event_id, bob, ago=timedelta(minutes=15))  # before the reveal
    assert (await service.notify_new_photos(pushing, event_id, "job-1")).outcome == "nothing"
    assert fake_apns.requests == []
    await uploaded(pushing, event_id, bob, ago=timedelta(minutes=20))  # before, arriving late
    await uploaded(pushing, event_id, ana, ago=timedelta(minutes=2))  # after the reveal
    run = await service.notify_new_photos(pushing, event_id, "job-2")
    assert run.delivered == 1
    assert counts(fake_apns) == {apns_token(2): 1}  # bob; ana uploaded


async def test_without_apns_the_console_sender_logs_the_reveal(
    services: Services, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    assert isinstance(services.push, ConsoleSender)
    svc = dataclasses.replace(services, push=ConsoleSender())
    creator = await create_user(svc)
    event_id = await make_event(svc, creator, release_in=-timedelta(minutes=5))
    await add_members(svc, event_id, await users_with_tokens(svc, 2))
    run = await service.run_reveal(svc, event_id)
    assert (run.delivered, run.finished) == (2, True)
    out = capsys.readouterr()
    logged = caplog.text + out.out + out.err
    assert logged.count("Your photos are ready to reveal!") == 2
    assert apns_token(1)[:8] in logged
    assert apns_token(1) not in logged
