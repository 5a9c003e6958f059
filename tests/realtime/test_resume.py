"""Resumption (Last-Event-ID, with and without loss, too old), the listener's reconnect after
a database restart, and the bounded queue of a slow client."""

from __future__ import annotations

import asyncio
import uuid

import psycopg

from momento.realtime.hub import Message, Subscriber
from momento.services import Services
from tests.factories import add_members, add_photo, create_users, heal_pools, make_event, sql
from tests.realtime.helpers import instance, stream


async def test_a_client_reconnecting_to_another_process_gets_what_it_missed(
    services: Services,
) -> None:
    host, member, newcomer = await create_users(services, 3)
    event = await make_event(services, host, revealed=True, members=[member])
    async with instance(services) as (_, a), instance(services) as (_, b):
        async with stream(a, event, token=member.token) as s:
            await sql(services, "UPDATE public.events SET name = 'One' WHERE id = %s", event)
            seen = await s.until("event_updated")
        # Away: a photo, a newcomer, a rename.
        photo = await add_photo(services, event, host)
        await add_members(services, event, [newcomer])
        await sql(services, "UPDATE public.events SET name = 'Two' WHERE id = %s", event)
        assert seen.id is not None
        async with stream(b, event, token=member.token, last_event_id=seen.id) as s:
            got = [await s.next() for _ in range(3)]
            assert [m.event for m in got] == ["photo_added", "member_joined", "event_updated"]
            assert got[0].data["photo"]["id"] == str(photo)
            assert got[2].data["event"]["name"] == "Two"
            ids = [int(m.id or 0) for m in got]
            assert ids == sorted(ids)
            assert ids[0] > int(seen.id)
            # Then live, after what was missed.
            await sql(services, "UPDATE public.events SET name = 'Three' WHERE id = %s", event)
            assert (await s.next()).data["event"]["name"] == "Three"
            last = (await s.quiet(0.1)) or got
        # Nothing missed: nothing replayed.
        async with stream(a, event, token=member.token, last_event_id=str(ids[-1] + 1)) as s:
            assert await s.quiet(0.5) == []
        assert last


async def test_a_client_away_too_long_is_told_to_resync(services: Services) -> None:
    host, member = await create_users(services, 2)
    event = await make_event(services, host, members=[member])
    async with instance(services) as (svc, origin):
        async with stream(origin, event, token=member.token) as s:
            await sql(services, "UPDATE public.events SET name = 'One' WHERE id = %s", event)
            seen = await s.until("event_updated")
        await sql(services, "UPDATE public.events SET name = 'Two' WHERE id = %s", event)
        # Older than MOMENTO_STREAM_RESUME_SECONDS: pruned.
        await sql(services, "UPDATE momento.changes SET at = at - interval '1 hour'")
        await svc.realtime._prune()
        assert seen.id is not None
        async with stream(origin, event, token=member.token, last_event_id=seen.id) as s:
            got = await s.next()
            assert got.event == "resync"
            assert got.data == {"reason": "too_old"}
            # One resync, then live again.
            await sql(services, "UPDATE public.events SET name = 'Three' WHERE id = %s", event)
            assert (await s.next()).event == "event_updated"
        async with stream(origin, event, token=member.token, last_event_id="junk") as s:
            assert (await s.next()).event == "resync"


async def test_a_client_away_at_the_reveal_is_told_on_its_return(services: Services) -> None:
    host, member = await create_users(services, 2)
    event = await make_event(services, host, members=[member])
    async with instance(services) as (_, origin):
        async with stream(origin, event, token=member.token) as s:
            await sql(services, "UPDATE public.events SET name = 'One' WHERE id = %s", event)
            seen = await s.until("event_updated")
        await sql(
            services,
            "UPDATE public.events SET release_at = now() - interval '1 minute' WHERE id = %s",
            event,
        )
        assert seen.id is not None
        async with stream(origin, event, token=member.token, last_event_id=seen.id) as s:
            events = [(await s.next()).event for _ in range(2)]
            assert events == ["event_updated", "revealed"]


TERMINATE = """
SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
WHERE pid <> pg_backend_pid() AND datname = current_database()
  AND backend_type = 'client backend'
"""


async def test_after_a_database_restart_streams_resync_and_new_ones_work(
    services: Services, database_url: str
) -> None:
    host, member = await create_users(services, 2)
    event = await make_event(services, host, members=[member])
    async with instance(services) as (svc, origin):
        async with stream(origin, event, token=member.token) as s:
            async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
                await conn.execute(TERMINATE)
            await heal_pools(services)
            got = await s.until("resync", wait=15)
            assert got.data == {"reason": "reconnected"}
            await s.ended()
        assert svc.realtime is not None
        async with stream(origin, event, token=member.token) as s:
            await sql(services, "UPDATE public.events SET name = 'Back' WHERE id = %s", event)
            assert (await s.until("event_updated", wait=10)).data["event"]["name"] == "Back"


async def test_a_slow_clients_queue_is_bounded_and_it_is_closed_with_resync(
    services: Services,
) -> None:
    host = (await create_users(services, 1))[0]
    event = await make_event(services, host)
    others = await create_users(services, 12)
    async with instance(services, stream_queue_size=8) as (svc, _):
        # A subscriber that never reads, through the real fan-out.
        slow = Subscriber(host.id, None, event, 2e9, svc.settings.stream_queue_size)
        svc.realtime.add(slow, None)
        try:
            await add_members(services, event, others)
            await asyncio.wait_for(slow.ended.wait(), 5)
        finally:
            svc.realtime.remove(slow)
        assert slow.final is not None
        assert slow.final.event == "resync"
        assert slow.queue.empty()  # what was queued is dropped, not kept
    sub = Subscriber(uuid.uuid4(), None, event, 2e9, 8)
    for i in range(8):
        sub.offer(Message(i, "member_joined", "{}"))
    assert sub.final is None
    sub.offer(Message(9, "member_joined", "{}"))
    assert sub.final is not None
    assert sub.final.event == "resync"
