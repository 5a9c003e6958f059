"""event_members: members see who else is in; memberships come only from join_event() and the
creation trigger; a member leaves by deleting their own row, except the creator."""

from __future__ import annotations

import pytest
from psycopg import errors

from tests.rls.conftest import Conn, World, as_role, as_user, fetch, ids

MEMBERS_OF = "SELECT user_id FROM event_members WHERE event_id = %s"


async def test_members_see_co_members(db: Conn, world: World) -> None:
    for user in (world.alice, world.bob):
        async with as_role(db, user) as c:
            assert await ids(c, MEMBERS_OF, (world.before,)) == {world.alice, world.bob}
            # dave left `after`: he is no longer listed.
            assert await ids(c, MEMBERS_OF, (world.after,)) == {world.alice, world.bob}


async def test_user_sees_only_memberships_of_their_events(db: Conn, world: World) -> None:
    rows = await as_user(db, world.carol, "SELECT event_id, user_id FROM event_members")
    assert rows == [{"event_id": world.other, "user_id": world.carol}]


@pytest.mark.parametrize("user", ["carol", "dave"])
async def test_non_members_see_no_one(db: Conn, world: World, user: str) -> None:
    rows = await as_user(
        db,
        getattr(world, user),
        "SELECT user_id FROM event_members WHERE event_id IN (%s, %s)",
        (world.before, world.after),
    )
    assert rows == []


async def test_members_of_a_deleted_event_are_hidden(db: Conn, world: World) -> None:
    assert await as_user(db, world.bob, MEMBERS_OF, (world.gone,)) == []


async def test_anon_sees_no_membership(db: Conn, world: World) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        await as_user(db, None, "SELECT user_id FROM event_members")


@pytest.mark.parametrize("user", ["carol", "bob", None])
async def test_memberships_cannot_be_inserted_directly(
    db: Conn, world: World, user: str | None
) -> None:
    """Joining goes through join_event(), which checks the code; a direct insert could join
    any event whose id leaked."""
    with pytest.raises(errors.InsufficientPrivilege):
        await as_user(
            db,
            getattr(world, user) if user else None,
            "INSERT INTO event_members (event_id, user_id) VALUES (%s, %s)",
            (world.before, world.carol),
        )


@pytest.mark.parametrize("user", ["alice", "bob", None])
async def test_memberships_cannot_be_updated(db: Conn, world: World, user: str | None) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        await as_user(
            db,
            getattr(world, user) if user else None,
            "UPDATE event_members SET event_id = %s WHERE user_id = %s",
            (world.other, world.bob),
        )


async def test_member_leaves(db: Conn, world: World) -> None:
    async with as_role(db, world.bob) as c:
        left = await fetch(
            c,
            "DELETE FROM event_members WHERE event_id = %s AND user_id = %s RETURNING user_id",
            (world.before, world.bob),
        )
        assert left == [{"user_id": world.bob}]
        # Gone from the event altogether: its row and its members are out of sight.
        assert await ids(c, "SELECT id FROM events") == {world.after}
        assert await fetch(c, MEMBERS_OF, (world.before,)) == []


async def test_member_cannot_remove_someone_else(db: Conn, world: World) -> None:
    rows = await as_user(
        db,
        world.bob,
        "DELETE FROM event_members WHERE event_id = %s AND user_id <> %s RETURNING user_id",
        (world.before, world.bob),
    )
    assert rows == []


async def test_creator_cannot_remove_members(db: Conn, world: World) -> None:
    rows = await as_user(
        db,
        world.alice,
        "DELETE FROM event_members WHERE event_id = %s AND user_id = %s RETURNING user_id",
        (world.before, world.bob),
    )
    assert rows == []


async def test_creator_cannot_leave(db: Conn, world: World) -> None:
    rows = await as_user(
        db,
        world.alice,
        "DELETE FROM event_members WHERE user_id = %s RETURNING event_id",
        (world.alice,),
    )
    assert rows == []


async def test_non_member_deletes_nothing(db: Conn, world: World) -> None:
    rows = await as_user(db, world.carol, "DELETE FROM event_members RETURNING event_id")
    # Her only membership is as creator of `other`, which she cannot leave.
    assert rows == []


async def test_anon_deletes_nothing(db: Conn, world: World) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        await as_user(db, None, "DELETE FROM event_members")
