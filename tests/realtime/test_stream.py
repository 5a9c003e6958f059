"""The event stream (issue 15): what members receive, per message type, and nothing more."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import timedelta

from momento.services import Services
from tests.factories import add_members, add_photo, add_report, create_users, like, make_event, sql
from tests.realtime.helpers import instance, status_of, stream


async def test_a_member_before_the_reveal_gets_totals_and_after_it_the_feed_item(
    services: Services,
) -> None:
    host, member, outsider = await create_users(services, 3)
    event = await make_event(services, host, members=[member])
    async with instance(services) as (_, origin):
        assert (await status_of(origin, event, token=outsider.token))[0] == 404
        async with (
            stream(origin, event, token=member.token) as m,
            stream(origin, event, token=host.token) as h,
        ):
            assert m.retry == services.settings.stream_retry_ms
            photo = await add_photo(services, event, host, status="pending")
            await sql(
                services, "UPDATE public.photos SET upload_status = 'uploaded' WHERE id = %s", photo
            )
            got = await m.until("photo_added")
            # Before the reveal: the new total only, nothing of the photo or its uploader.
            assert got.data == {"photo_count": 1}
            assert got.id is not None
            assert int(got.id) > 0
            own = await h.until("photo_added")
            assert own.data["photo"]["id"] == str(photo)  # the uploader sees their own photo
            assert own.data["photo"]["urls"]["display"].startswith("http")

            await sql(
                services,
                "UPDATE public.events SET release_at = now() - interval '1 second',"
                " starts_at = now() - interval '1 day' WHERE id = %s",
                event,
            )
            assert (await m.until("event_updated")).data["event"]["revealed"] is True
            second = await add_photo(services, event, host)
            got = await m.until("photo_added")
            item = got.data["photo"]
            assert item["id"] == str(second)
            assert set(item) == {
                "id", "user_id", "username", "captured_at", "width", "height", "blurhash",
                "like_count", "liked_by_me", "urls",
            }  # fmt: skip
            assert item["user_id"] == str(host.id)
            assert got.data["photo_count"] == 2


async def test_likes_come_as_counts_at_most_twice_a_second_and_the_last_one_arrives(
    services: Services,
) -> None:
    host, *likers = await create_users(services, 12)
    event = await make_event(services, host, revealed=True, members=likers)
    photo = await add_photo(services, event, host)
    async with instance(services) as (_, origin), stream(origin, event, token=host.token) as s:
        for u in likers:
            await like(services, photo, u)
            await asyncio.sleep(0.05)
        got = await s.quiet(2.0)
        counts = [m for m in got if m.event == "like_count"]
        assert counts, got
        assert counts[-1].data == {"photo_id": str(photo), "like_count": len(likers)}
        # ~0.6 s of likes: at most twice a second (plus the trailing read).
        assert len(counts) <= 3
        for a, b in itertools.pairwise(counts):
            assert b.at - a.at >= 0.45
        rows = await sql(
            services,
            "SELECT count(*) AS n FROM momento.changes WHERE kind = 'like_count' AND photo_id = %s",
            photo,
        )
        assert rows[0]["n"] < len(likers)  # not a row (nor a notification) per like


async def test_before_the_reveal_likes_of_others_photos_are_not_sent(services: Services) -> None:
    host, member, other = await create_users(services, 3)
    event = await make_event(services, host, members=[member, other])
    photo = await add_photo(services, event, host)
    async with (
        instance(services) as (_, origin),
        stream(origin, event, token=member.token) as m,
        stream(origin, event, token=host.token) as h,
    ):
        await like(services, photo, other)
        assert (await h.until("like_count")).data["like_count"] == 1  # the owner sees theirs
        assert [x for x in await m.quiet(0.8) if x.event == "like_count"] == []


async def test_hiding_and_deleting_remove_a_photo_with_its_id_only_where_it_was_shown(
    services: Services,
) -> None:
    host, member, reporter = await create_users(services, 3)
    event = await make_event(services, host, revealed=True, members=[member, reporter])
    photo = await add_photo(services, event, member)
    reported = await add_photo(services, event, member)
    await add_report(services, reported, reporter)
    async with (
        instance(services) as (_, origin),
        stream(origin, event, token=host.token) as h,
        stream(origin, event, token=reporter.token) as r,
        stream(origin, event, token=member.token) as owner,
    ):
        await sql(services, "UPDATE public.photos SET is_flagged = true WHERE id = %s", photo)
        got = await h.until("photo_removed")
        assert got.data == {"photo_count": 1, "photo_id": str(photo)}
        # The owner still sees their hidden photo in their feed: the total only.
        assert (await owner.until("photo_removed")).data == {"photo_count": 1}
        # A like on a photo the reporter reported is not theirs to see.
        await like(services, reported, host)
        assert (await h.until("like_count")).data["photo_id"] == str(reported)
        assert [x for x in await r.quiet(0.8) if x.event == "like_count"] == []
        await sql(services, "DELETE FROM public.photos WHERE id = %s", reported)
        assert (await h.until("photo_removed")).data == {
            "photo_count": 0,
            "photo_id": str(reported),
        }


async def test_members_joining_and_leaving_and_the_end_of_a_stream_when_one_leaves(
    services: Services,
) -> None:
    host, member, newcomer = await create_users(services, 3)
    event = await make_event(services, host, members=[member])
    async with (
        instance(services) as (_, origin),
        stream(origin, event, token=host.token) as h,
        stream(origin, event, token=member.token) as m,
    ):
        await add_members(services, event, [newcomer])
        assert (await h.until("member_joined")).data == {
            "user_id": str(newcomer.id),
            "username": newcomer.username,
        }
        await sql(
            services,
            "DELETE FROM public.event_members WHERE event_id = %s AND user_id = %s",
            event,
            member.id,
        )
        end = await m.until("end")
        assert end.data == {"reason": "left"}
        await m.ended()
        assert (await h.until("member_left")).data == {"user_id": str(member.id)}
        # Left: the stream cannot be opened again.
        assert (await status_of(origin, event, token=member.token))[0] == 404


async def test_event_updated_and_deleted(services: Services) -> None:
    host, member = await create_users(services, 2)
    event = await make_event(services, host, members=[member])
    async with (
        instance(services) as (_, origin),
        stream(origin, event, token=member.token) as m,
    ):
        await sql(services, "UPDATE public.events SET name = 'Renamed' WHERE id = %s", event)
        got = await m.until("event_updated")
        assert got.data["event"]["name"] == "Renamed"
        assert set(got.data["event"]) == {"id", "name", "starts_at", "release_at", "revealed"}
        await sql(services, "UPDATE public.events SET is_deleted = true WHERE id = %s", event)
        got = await m.until("event_deleted")
        assert got.data == {"event_id": str(event), "reason": "event_deleted"}
        await m.ended()


async def test_signing_out_ends_that_sessions_stream_only(services: Services) -> None:
    host, member = await create_users(services, 2)
    event = await make_event(services, host, members=[member])
    async with (
        instance(services) as (_, origin),
        stream(origin, event, token=member.token) as m,
        stream(origin, event, token=host.token) as h,
    ):
        await sql(services, "DELETE FROM auth.sessions WHERE id = %s", member.session_id)
        assert (await m.until("end")).data == {"reason": "signed_out"}
        await m.ended()
        assert not h.closed
        # The access token is still unexpired, but its session is gone: no new stream.
        assert (await status_of(origin, event, token=member.token))[0] == 401


async def test_a_stream_ends_at_the_tokens_expiry(services: Services) -> None:
    host = (await create_users(services, 1))[0]
    event = await make_event(services, host)
    token, _ = services.tokens.mint(
        user_id=host.id,
        session_id=host.session_id,
        email=host.email,
        app_metadata={},
        user_metadata={},
        amr=[],
        # Minted as if long ago: it expires in 2 seconds.
        now=int(time.time()) - services.settings.access_token_ttl + 2,
    )
    async with instance(services) as (_, origin), stream(origin, event, token=token) as s:
        end = await s.until("end", wait=5)
        assert end.data == {"reason": "token_expired"}
        await s.ended()


async def test_the_reveal_flips_every_open_stream_within_a_second(services: Services) -> None:
    host, *members = await create_users(services, 4)
    event = await make_event(services, host, members=members, release_in=timedelta(seconds=2))
    release_at = (await sql(services, "SELECT release_at FROM public.events WHERE id = %s", event))[
        0
    ]["release_at"]
    async with instance(services) as (_, a), instance(services) as (_, b):
        async with (
            stream(a, event, token=members[0].token) as s1,
            stream(b, event, token=members[1].token) as s2,
            stream(b, event, token=members[2].token) as s3,
        ):
            for s in (s1, s2, s3):
                got = await s.until("revealed", wait=6)
                assert got.data["event_id"] == str(event)
            now = (await sql(services, "SELECT now() AS t"))[0]["t"]
            # Received within a second of release_at, by the database's clock.
            assert timedelta(0) <= now - release_at < timedelta(seconds=1)


async def test_a_reveal_moved_into_the_past_flips_open_streams_at_once(services: Services) -> None:
    host, member = await create_users(services, 2)
    event = await make_event(services, host, members=[member])
    async with instance(services) as (_, origin), stream(origin, event, token=member.token) as s:
        await sql(
            services,
            "UPDATE public.events SET release_at = now() - interval '1 second' WHERE id = %s",
            event,
        )
        assert (await s.until("revealed", wait=3)).data["event_id"] == str(event)
