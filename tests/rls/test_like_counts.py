"""photos.like_count (migration 0013): kept equal to the photo's rows in photo_likes by the
triggers, whoever writes them and however many rows a statement touches; users cannot
write it (nor the blurhash); it is read with its photo, under the photos policy."""

from __future__ import annotations

from typing import LiteralString
from uuid import UUID, uuid4

import pytest
from psycopg import errors

from tests.rls.conftest import Conn, World, add_like, as_role, as_user, fetch

LIKE = "INSERT INTO photo_likes (photo_id, user_id) VALUES (%s, %s) ON CONFLICT DO NOTHING"
UNLIKE = "DELETE FROM photo_likes WHERE photo_id = %s AND user_id = %s"


async def counts(db: Conn) -> dict[UUID, tuple[int, int]]:
    """Every photo's (like_count, actual number of likes), as the owner of the tables, also
    from inside an `as_role` block (the savepoint's RESET ROLE ends with it)."""
    async with db.transaction(force_rollback=True):
        await db.execute("RESET ROLE")
        rows = await fetch(
            db,
            "SELECT p.id, p.like_count,"
            " (SELECT count(*) FROM photo_likes l WHERE l.photo_id = p.id) AS actual"
            " FROM photos p",
        )
    return {r["id"]: (r["like_count"], r["actual"]) for r in rows}


async def assert_consistent(db: Conn) -> dict[UUID, int]:
    found = await counts(db)
    assert all(kept == actual for kept, actual in found.values()), found
    return {photo: kept for photo, (kept, _) in found.items()}


async def test_likes_and_unlikes_of_users_keep_the_count(db: Conn, world: World) -> None:
    photo = world.photos["after.alice.uploaded"]
    async with as_role(db, world.bob) as c:
        await c.execute(LIKE, (photo, world.bob))
        await c.execute(LIKE, (photo, world.bob))  # idempotent: counted once
        async with as_role(db, world.alice) as d:
            await d.execute(LIKE, (photo, world.alice))
            assert (await assert_consistent(db))[photo] == 2
        assert (await assert_consistent(db))[photo] == 1
        await c.execute(UNLIKE, (photo, world.bob))
        await c.execute(UNLIKE, (photo, world.bob))  # nothing left to remove
        assert (await assert_consistent(db))[photo] == 0


async def test_statements_touching_many_likes_keep_every_count(db: Conn, world: World) -> None:
    a, b, c = (
        world.photos[k]
        for k in ("after.alice.uploaded", "after.bob.uploaded", "after.dave.uploaded")
    )
    await db.execute(
        "INSERT INTO photo_likes (photo_id, user_id)"
        " SELECT p, u FROM unnest(%s::uuid[]) p, unnest(%s::uuid[]) u",
        ([a, b, c], [world.alice, world.bob, world.dave]),
    )
    assert {k: v for k, v in (await assert_consistent(db)).items() if v} == {a: 3, b: 3, c: 3}
    # One user's likes all at once (what an account deletion does).
    await db.execute("DELETE FROM photo_likes WHERE user_id = %s", (world.bob,))
    assert {k: v for k, v in (await assert_consistent(db)).items() if v} == {a: 2, b: 2, c: 2}
    # Moving a like to another photo (only the owner of the tables can).
    d = world.photos["after.alice.flagged"]
    await db.execute(
        "UPDATE photo_likes SET photo_id = %s WHERE photo_id = %s AND user_id = %s",
        (d, a, world.alice),
    )
    assert {k: v for k, v in (await assert_consistent(db)).items() if v} == {a: 1, b: 2, c: 2, d: 1}
    await db.execute("UPDATE photo_likes SET created_at = created_at - interval '1 day'")
    assert {k: v for k, v in (await assert_consistent(db)).items() if v} == {a: 1, b: 2, c: 2, d: 1}


async def test_deleting_a_liked_photo_leaves_the_others_counts(db: Conn, world: World) -> None:
    a, b = world.photos["after.alice.uploaded"], world.photos["after.bob.uploaded"]
    for user in (world.bob, world.dave):
        await add_like(db, a, user)
        await add_like(db, b, user)
    await db.execute("DELETE FROM photos WHERE id = %s", (a,))
    after = await assert_consistent(db)
    assert a not in after
    assert after[b] == 2


async def test_truncate_resets_the_counts(db: Conn, world: World) -> None:
    await add_like(db, world.photos["after.alice.uploaded"], world.bob)
    await db.execute("TRUNCATE photo_likes")
    assert set((await assert_consistent(db)).values()) == {0}


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE photos SET like_count = 1000 WHERE id = %(photo)s",
        "UPDATE photos SET blurhash = 'x' WHERE id = %(photo)s",
        "INSERT INTO photos (id, event_id, user_id, storage_path, like_count)"
        " VALUES (%(new)s, %(event)s, %(user)s,"
        " 'events/' || %(event)s::text || '/' || %(new)s::text, 1000)",
        "INSERT INTO photos (id, event_id, user_id, storage_path, blurhash)"
        " VALUES (%(new)s, %(event)s, %(user)s,"
        " 'events/' || %(event)s::text || '/' || %(new)s::text, 'x')",
    ],
)
async def test_users_cannot_write_the_count_or_the_blurhash(
    db: Conn, world: World, statement: LiteralString
) -> None:
    params = {
        "photo": world.photos["after.alice.uploaded"],
        "new": uuid4(),
        "event": world.after,
        "user": world.alice,
    }
    async with as_role(db, world.alice) as c:
        with pytest.raises(errors.InsufficientPrivilege):
            await c.execute(statement, params)


async def test_the_count_is_read_with_its_photo_only(db: Conn, world: World) -> None:
    hidden = world.photos["before.alice.uploaded"]  # before the reveal: alice's own
    await add_like(db, hidden, world.alice)
    query = "SELECT like_count FROM photos WHERE id = %s"
    assert await as_user(db, world.alice, query, (hidden,)) == [{"like_count": 1}]
    assert await as_user(db, world.bob, query, (hidden,)) == []
    assert await as_user(db, world.carol, query, (hidden,)) == []
