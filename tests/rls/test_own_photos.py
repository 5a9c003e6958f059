"""A member's own photos (migration 0022): what a former member keeps, leaving through
public.leave_event(), retrying through public.retry_photo(), the events
private.my_photo_event_ids() names, and usernames that follow a rename.

In the world (tests/rls/conftest.py), dave joined `after`, uploaded a photo and left."""

from __future__ import annotations

from uuid import UUID

import pytest
from psycopg import errors

from tests.factories import add_photo, like
from tests.rls.conftest import Conn, World, as_role, as_user, fetch, ids

# --- a former member ------------------------------------------------------------------------


async def test_former_member_reads_and_deletes_only_their_own(db: Conn, world: World) -> None:
    dave_s = world.photos["after.dave.uploaded"]
    async with as_role(db, world.dave) as c:
        assert await ids(c, "SELECT id FROM photos WHERE event_id = %s", (world.after,)) == {dave_s}
        # Media details come with the photo (why an upload failed, for instance).
        assert await ids(c, "SELECT photo_id FROM photo_media") == {dave_s}
        others = world.photos_of("after") - {dave_s}
        cur = await c.execute("DELETE FROM photos WHERE id = ANY(%s) RETURNING id", (list(others),))
        assert await cur.fetchall() == []
        cur = await c.execute("DELETE FROM photos WHERE id = %s RETURNING id", (dave_s,))
        assert await cur.fetchall() == [{"id": dave_s}]


async def test_anon_sees_and_deletes_nothing(db: Conn, world: World) -> None:
    for statement in ("SELECT id FROM photos", "DELETE FROM photos RETURNING id"):
        with pytest.raises(errors.InsufficientPrivilege):
            await as_user(db, None, statement)


# --- private.my_photo_event_ids() -----------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "events"),
    [
        ("alice", {"before", "after"}),  # `gone` is deleted: never named
        ("bob", {"before", "after"}),
        ("carol", {"other"}),
        ("dave", {"after"}),  # left, with a photo there
    ],
)
async def test_events_one_may_ask_about(
    db: Conn, world: World, user: str, events: set[str]
) -> None:
    rows = await as_user(db, getattr(world, user), "SELECT * FROM private.my_photo_event_ids()")
    assert {r["my_photo_event_ids"] for r in rows} == {getattr(world, e) for e in events}


async def test_a_former_member_without_photos_asks_about_nothing(db: Conn, world: World) -> None:
    await db.execute("DELETE FROM photos WHERE user_id = %s", (world.dave,))
    assert await as_user(db, world.dave, "SELECT * FROM private.my_photo_event_ids()") == []


# --- public.leave_event() -------------------------------------------------------------------

LEAVE = "SELECT public.leave_event(%s, %s) AS outcome"


async def _state(db: Conn, world: World) -> dict[str, object]:
    return {
        "members": await fetch(db, "SELECT event_id, user_id FROM event_members ORDER BY 1, 2"),
        "photos": await ids(db, "SELECT id FROM photos"),
        "likes": await fetch(db, "SELECT photo_id, user_id FROM photo_likes ORDER BY 1, 2"),
    }


async def test_leaving_keeping_photos(db: Conn, world: World) -> None:
    await like(db, world.photos["after.alice.uploaded"], world.bob)
    async with as_role(db, world.bob) as c:
        assert await fetch(c, LEAVE, (world.after, False)) == [{"outcome": "left"}]
        assert await ids(c, "SELECT id FROM photos WHERE event_id = %s", (world.after,)) == (
            world.photo_ids("after.bob.uploaded", "after.bob.pending")
        )
        assert await fetch(c, "SELECT 1 FROM events WHERE id = %s", (world.after,)) == []
        assert await fetch(c, LEAVE, (world.after, False)) == [{"outcome": "not_member"}]
        await c.execute("RESET ROLE")  # what is stored now, before the rollback
        assert await ids(
            c, "SELECT photo_id FROM photo_likes WHERE user_id = %s", (world.bob,)
        ) == {world.photos["after.alice.uploaded"]}
        assert await ids(
            c, "SELECT event_id FROM event_members WHERE user_id = %s", (world.bob,)
        ) == {world.before, world.gone}


async def test_leaving_removing_photos(db: Conn, world: World) -> None:
    liked = [world.photos[k] for k in ("after.alice.uploaded", "after.alice.flagged")]
    for photo in liked:  # the flagged one is hidden from bob, yet his like goes too
        await like(db, photo, world.bob)
    await like(db, world.photos["before.alice.uploaded"], world.bob)  # another event's: stays
    await like(db, world.photos["after.bob.uploaded"], world.alice)  # goes with the photo
    async with as_role(db, world.bob) as c:
        assert await fetch(c, LEAVE, (world.after, True)) == [{"outcome": "left"}]
        await c.execute("RESET ROLE")  # what is stored now, before the rollback
        await _check_removed(c, world)


async def _check_removed(db: Conn, world: World) -> None:
    assert not (
        world.photo_ids("after.bob.uploaded", "after.bob.pending")
        & await ids(db, "SELECT id FROM photos")
    )
    assert await ids(db, "SELECT photo_id FROM photo_likes WHERE user_id = %s", (world.bob,)) == {
        world.photos["before.alice.uploaded"]
    }
    assert await ids(db, "SELECT event_id FROM event_members WHERE user_id = %s", (world.bob,)) == {
        world.before,
        world.gone,
    }
    # Their files are recorded for the purge, in the same transaction.
    prefixes = {r["prefix"] for r in await fetch(db, "SELECT prefix FROM momento.file_purges")}
    assert prefixes == {
        f"events/{world.after}/{world.photos[k]}/"
        for k in ("after.bob.uploaded", "after.bob.pending")
    }


@pytest.mark.parametrize(
    ("user", "event", "outcome"),
    [
        ("alice", "after", "creator"),
        ("carol", "after", "not_member"),
        ("dave", "after", "not_member"),  # left already: his photo stays
        ("bob", "gone", "not_member"),  # deleted event
        ("bob", "other", "not_member"),
    ],
)
async def test_refused_leaving_changes_nothing(
    db: Conn, world: World, user: str, event: str, outcome: str
) -> None:
    before = await _state(db, world)
    async with as_role(db, getattr(world, user)) as c:
        assert await fetch(c, LEAVE, (getattr(world, event), True)) == [{"outcome": outcome}]
        await c.execute("RESET ROLE")  # what is stored now, before the rollback
        assert await _state(c, world) == before


async def test_leaving_needs_a_signed_in_caller(db: Conn, world: World) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        await as_user(db, None, LEAVE, (world.after, True))
    # A role with the grant but no claims (no caller) is refused by the function itself.
    async with db.transaction(force_rollback=True):
        await db.execute("SET LOCAL ROLE authenticated")
        with pytest.raises(errors.InsufficientPrivilege):
            await db.execute(LEAVE, (world.after, True))


# --- public.retry_photo() -------------------------------------------------------------------

RETRY = "SELECT public.retry_photo(%s, 'image/png', 4321) AS ok"


async def test_owner_retries_their_failed_photo(db: Conn, world: World) -> None:
    photo = world.photos["after.alice.failed"]
    await db.execute(
        "UPDATE photo_media SET failure_code = 'empty', failure_reason = 'x', byte_size = 0,"
        " processed_at = now() WHERE photo_id = %s",
        (photo,),
    )
    async with as_role(db, world.alice) as c:
        assert await fetch(c, RETRY, (photo,)) == [{"ok": True}]
        rows = await fetch(
            c,
            "SELECT p.upload_status, m.declared_type, m.declared_size, m.failure_code,"
            " m.failure_reason, m.byte_size, m.processed_at"
            " FROM photos p JOIN photo_media m ON m.photo_id = p.id WHERE p.id = %s",
            (photo,),
        )
        assert rows == [
            {
                "upload_status": "pending",
                "declared_type": "image/png",
                "declared_size": 4321,
                "failure_code": None,
                "failure_reason": None,
                "byte_size": None,
                "processed_at": None,
            }
        ]
        # Once pending, not again.
        assert await fetch(c, RETRY, (photo,)) == [{"ok": False}]


@pytest.mark.parametrize(
    ("user", "photo"),
    [
        ("bob", "after.alice.failed"),  # someone else's
        ("alice", "after.alice.uploaded"),  # not failed
        ("alice", "after.alice.pending"),
        ("dave", "after.dave.failed"),  # a former member's own
        ("alice", "gone.alice.failed"),  # a deleted event's
    ],
)
async def test_refused_retries_change_nothing(
    db: Conn, world: World, user: str, photo: str
) -> None:
    if photo not in world.photos:
        event_name, owner_name, _ = photo.split(".")
        world.photos[photo] = await add_photo(
            db, getattr(world, event_name), getattr(world, owner_name), status="failed"
        )
    target: UUID = world.photos[photo]
    query = (
        "SELECT p.upload_status, m.declared_type, m.declared_size FROM photos p"
        " JOIN photo_media m ON m.photo_id = p.id WHERE p.id = %s"
    )
    before = await fetch(db, query, (target,))
    async with as_role(db, getattr(world, user)) as c:
        assert await fetch(c, RETRY, (target,)) == [{"ok": False}]
        await c.execute("RESET ROLE")  # what is stored now, before the rollback
        assert await fetch(c, query, (target,)) == before


async def test_anon_cannot_retry(db: Conn, world: World) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        await as_user(db, None, RETRY, (world.photos["after.alice.failed"],))


# --- usernames ------------------------------------------------------------------------------


async def test_a_rename_updates_the_owners_photos_only(db: Conn, world: World) -> None:
    async with as_role(db, world.bob) as c:
        await c.execute("UPDATE profiles SET username = 'robert' WHERE id = %s", (world.bob,))
        names = await fetch(
            c,
            "SELECT DISTINCT user_id, username FROM photos WHERE user_id IN (%s, %s)"
            " ORDER BY username",
            (world.alice, world.bob),
        )
        assert names == [
            {"user_id": world.alice, "username": "alice"},
            {"user_id": world.bob, "username": "robert"},
        ]
