"""The one function deciding what a subscriber receives (momento.realtime.policy) agrees with
the row-level security policies, over random states: membership, reveal time, hides,
reports, likes, pending and failed uploads, deleted events and photos.

For each state, and each user, the feed read as that user (momento.feed_page, under the
policies) is compared with what `decide` lets through for every message type, from the
details the hub reads: a photo (and its like count) only when the feed shows it, as the feed
shows it; a photo id removed only to whom the feed showed it; nothing at all to a non-member.
Seeded, so a failure replays.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from momento.events.errors import EventNotFound
from momento.identity import CurrentUser
from momento.photos.feed import feed_page
from momento.realtime.hub import Hub
from momento.realtime.policy import Change, Viewer, decide, sees_event
from momento.services import Services
from tests.factories import TestUser, add_photo, add_report, create_users, like, make_event, sql

SEEDS = range(24)
KINDS = [
    "member_joined",
    "member_left",
    "photo_added",
    "like_count",
    "event_updated",
    "revealed",
    "photo_removed",
]


@dataclass
class State:
    event: uuid.UUID
    users: list[TestUser]
    members: set[uuid.UUID]
    photos: list[uuid.UUID]


async def random_state(services: Services, rng: random.Random) -> State:
    users = await create_users(services, 4)
    creator = users[0]
    others = users[1:]
    members = [u for u in others if rng.random() < 0.7]
    release_in = timedelta(hours=rng.choice([-1, 1]))
    event = await make_event(services, creator, members=members, release_in=release_in)
    uploaders = [creator, *members] or [creator]
    photos = []
    for _ in range(rng.randint(1, 5)):
        owner = rng.choice(uploaders)
        status = rng.choice(["uploaded", "uploaded", "uploaded", "pending", "failed"])
        photo = await add_photo(services, event, owner, status=status, flagged=rng.random() < 0.25)
        photos.append(photo)
        for u in users:
            if rng.random() < 0.2:
                await add_report(services, photo, u)
            if rng.random() < 0.3:
                await like(services, photo, u)
    # Some members leave after uploading (their photos stay); sometimes the event is deleted.
    for u in members:
        if rng.random() < 0.2:
            await sql(
                services,
                "DELETE FROM public.event_members WHERE event_id = %s AND user_id = %s",
                event,
                u.id,
            )
    if rng.random() < 0.1:
        await sql(services, "UPDATE public.events SET is_deleted = true WHERE id = %s", event)
    rows = await sql(
        services, "SELECT user_id FROM public.event_members WHERE event_id = %s", event
    )
    return State(event, users, {r["user_id"] for r in rows}, photos)


def final(end: bool, data: dict[str, Any]) -> bool:
    return end and set(data) <= {"reason", "event_id"}


async def feed_of(services: Services, user: TestUser, event: uuid.UUID) -> dict[str, Any] | None:
    """The feed as the user reads it (None: the event is not theirs to see)."""
    try:
        body, _ = await feed_page(
            services, CurrentUser(user.id, user.claims, user.token), event, 100, None
        )
    except EventNotFound:
        return None
    data: dict[str, Any] = orjson.loads(body)
    return data


@pytest.mark.parametrize("seed", SEEDS)
async def test_decide_agrees_with_the_policies(services: Services, seed: int) -> None:
    rng = random.Random(seed)
    state = await random_state(services, rng)
    hub = Hub()
    hub.services = services
    events = await hub._events([state.event])
    event = events[state.event]
    photos = await hub._photos(state.photos, likers=True)
    now = datetime.now(UTC)
    for user in state.users:
        viewer = Viewer(user.id, member=user.id in state.members)
        feed = await feed_of(services, user, state.event)
        assert sees_event(viewer, event) == (feed is not None), (seed, user.id)
        shown = {item["id"]: item for item in (feed or {}).get("items", [])}
        for kind in KINDS:
            for photo_id in state.photos if kind in ("photo_added", "like_count") else [None]:
                photo = photos.get(photo_id) if photo_id else None
                change = Change(1, now, state.event, kind, photo_id, state.users[1].id)
                out = decide(change, viewer, event, photo, "someone")
                if feed is None:
                    # Nothing for a non-member (or of a deleted event) but the final word
                    # that closes a stream: why, and of which event.
                    assert out is None or final(out.end, out.data), (seed, kind, user.id)
                    continue
                if kind == "like_count":
                    if str(photo_id) in shown:
                        assert out is not None
                        assert out.data["like_count"] == shown[str(photo_id)]["like_count"]
                    else:
                        assert out is None, (seed, user.id, photo_id)
                elif kind == "photo_added":
                    assert out is not None
                    assert out.data["photo_count"] == feed["total_count"]
                    if str(photo_id) in shown:
                        # Exactly the feed's item (its signed URLs too).
                        message = hub._message(out, 1)
                        item = orjson.loads(message.data)["photo"]
                        assert item == shown[str(photo_id)], (seed, user.id)
                    else:
                        assert "photo" not in out.data, (seed, user.id, photo_id)
                elif kind == "member_left" and change.user_id == user.id:
                    assert out is not None
                    assert out.end
                else:
                    assert out is not None
                    assert "photo" not in out.data
    # Deleting each photo: its id goes only to whom the feed showed it.
    before = {u.id: await feed_of(services, u, state.event) for u in state.users}
    await sql(services, "DELETE FROM public.photos WHERE event_id = %s", state.event)
    rows = await sql(
        services,
        "SELECT id, at, event_id, kind, photo_id, user_id, actor_id, reason, reporters"
        " FROM momento.changes WHERE event_id = %s AND kind = 'photo_removed'",
        state.event,
    )
    event = (await hub._events([state.event]))[state.event]
    for row in rows:
        change = Change(**row)
        for user in state.users:
            feed = before[user.id]
            viewer = Viewer(user.id, member=user.id in state.members)
            out = decide(change, viewer, event, None)
            if feed is None:
                assert out is None or final(out.end, out.data)
                continue
            assert out is not None
            was_shown = any(i["id"] == str(change.photo_id) for i in feed["items"])
            assert ("photo_id" in out.data) == was_shown, (seed, user.id, change.photo_id)
