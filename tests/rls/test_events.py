"""events: members read, the creator updates, nobody sets is_premium or is_deleted directly;
delete_event() and join_event() are the only other ways in."""

from __future__ import annotations

from uuid import UUID

import psycopg
import pytest
from psycopg import errors

from tests.rls.conftest import Conn, World, as_role, as_user, fetch, ids

NEW_EVENT = (
    "INSERT INTO events (name, creator_id, starts_at, release_at)"
    " VALUES ('Mine', %s, now(), now() + interval '1 day') RETURNING id, join_code"
)


async def join_code(db: Conn, event: UUID) -> str:
    rows = await fetch(db, "SELECT join_code FROM events WHERE id = %s", (event,))
    code: str = rows[0]["join_code"]
    return code


def who(world: World, user: str | None) -> UUID | None:
    return getattr(world, user) if user else None


# --- SELECT -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "visible"),
    [
        ("alice", {"before", "after"}),  # `gone` is deleted: invisible to its creator too
        ("bob", {"before", "after"}),
        ("carol", {"other"}),
        ("dave", set()),  # left `after`
    ],
)
async def test_members_read_their_events_only(
    db: Conn, world: World, user: str, visible: set[str]
) -> None:
    async with as_role(db, getattr(world, user)) as c:
        seen = await ids(c, "SELECT id FROM events")
    assert seen == {getattr(world, name) for name in visible}


async def test_non_member_sees_nothing_even_by_id_or_code(db: Conn, world: World) -> None:
    code = await join_code(db, world.before)
    rows = await as_user(
        db,
        world.carol,
        "SELECT id FROM events WHERE id = %s OR join_code = %s",
        (world.before, code),
    )
    assert rows == []


async def test_deleted_event_is_invisible(db: Conn, world: World) -> None:
    for user in (world.alice, world.bob):
        assert await as_user(db, user, "SELECT id FROM events WHERE id = %s", (world.gone,)) == []


async def test_anon_reads_no_event(db: Conn, world: World) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        await as_user(db, None, "SELECT id FROM events")


# --- UPDATE -----------------------------------------------------------------------------


async def test_creator_updates_name_and_times(db: Conn, world: World) -> None:
    rows = await as_user(
        db,
        world.alice,
        "UPDATE events SET name = 'Renamed', release_at = release_at + interval '1 hour'"
        " WHERE id = %s RETURNING name",
        (world.before,),
    )
    assert rows == [{"name": "Renamed"}]


@pytest.mark.parametrize("user", ["bob", "carol"])
async def test_non_creator_update_touches_nothing(db: Conn, world: World, user: str) -> None:
    rows = await as_user(
        db,
        getattr(world, user),
        "UPDATE events SET name = 'Mine now' WHERE id IN (%s, %s, %s) RETURNING id",
        (world.before, world.after, world.other),
    )
    # carol may rename her own `other`, nothing else.
    assert {r["id"] for r in rows} == ({world.other} if user == "carol" else set())


async def test_deleted_event_cannot_be_updated(db: Conn, world: World) -> None:
    rows = await as_user(
        db, world.alice, "UPDATE events SET name = 'Back' WHERE id = %s RETURNING id", (world.gone,)
    )
    assert rows == []


@pytest.mark.parametrize("user", ["alice", "bob"])
@pytest.mark.parametrize(
    "assignment",
    [
        "is_premium = true",
        "is_deleted = true",
        "is_deleted = false",
        "creator_id = id",
        "join_code = 'ABCDEF'",
        "created_at = now()",
        "id = gen_random_uuid()",
    ],
)
async def test_protected_columns_are_not_writable(
    db: Conn, world: World, user: str, assignment: str
) -> None:
    """Premium comes from verified purchases, deletion from delete_event(): not from users."""
    with pytest.raises(errors.InsufficientPrivilege):
        await as_user(
            db,
            getattr(world, user),
            "UPDATE events SET " + assignment + " WHERE id = %s",
            (world.before,),
        )


async def test_anon_updates_nothing(db: Conn, world: World) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        await as_user(db, None, "UPDATE events SET name = 'x'")


async def test_release_at_is_locked_once_revealed(db: Conn, world: World) -> None:
    with pytest.raises(psycopg.Error) as caught:
        await as_user(
            db,
            world.alice,
            "UPDATE events SET release_at = now() + interval '1 day' WHERE id = %s",
            (world.after,),
        )
    assert caught.value.sqlstate == "MO001"
    # The name of a revealed event may still change.
    rows = await as_user(
        db,
        world.alice,
        "UPDATE events SET name = 'Later' WHERE id = %s RETURNING id",
        (world.after,),
    )
    assert rows == [{"id": world.after}]


# --- INSERT -----------------------------------------------------------------------------


async def test_user_creates_an_event_as_themselves(db: Conn, world: World) -> None:
    async with as_role(db, world.carol) as c:
        rows = await fetch(c, NEW_EVENT, (world.carol,))
        assert len(rows) == 1
        assert len(rows[0]["join_code"]) == 6
        event = rows[0]["id"]
        # The creator is a member from the start, so the event shows in their list.
        members = await fetch(c, "SELECT user_id FROM event_members WHERE event_id = %s", (event,))
        assert members == [{"user_id": world.carol}]
        flags = await fetch(c, "SELECT is_premium, is_deleted FROM events WHERE id = %s", (event,))
        assert flags == [{"is_premium": False, "is_deleted": False}]


async def test_insert_as_someone_else_violates_the_policy(db: Conn, world: World) -> None:
    with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
        await as_user(db, world.carol, NEW_EVENT, (world.alice,))


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("is_premium", "true"),
        ("is_premium", "false"),
        ("is_deleted", "false"),
        ("join_code", "'ABCDEF'"),
        ("id", "gen_random_uuid()"),
    ],
)
async def test_insert_of_protected_columns_is_denied(
    db: Conn, world: World, column: str, value: str
) -> None:
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied"):
        await as_user(
            db,
            world.carol,
            "INSERT INTO events (name, creator_id, starts_at, release_at, "
            + column
            + ") VALUES ('Mine', %s, now(), now() + interval '1 day', "
            + value
            + ")",
            (world.carol,),
        )


async def test_anon_creates_nothing(db: Conn, world: World) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        await as_user(db, None, NEW_EVENT, (world.carol,))


# --- DELETE -----------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["alice", "bob", None])
async def test_direct_delete_is_denied(db: Conn, world: World, user: str | None) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        await as_user(db, who(world, user), "DELETE FROM events WHERE id = %s", (world.before,))


async def test_delete_event_by_creator_soft_deletes(db: Conn, world: World) -> None:
    async with as_role(db, world.alice) as c:
        assert await fetch(c, "SELECT public.delete_event(%s) AS ok", (world.before,)) == [
            {"ok": True}
        ]
        assert await fetch(c, "SELECT id FROM events WHERE id = %s", (world.before,)) == []
        # Already deleted: nothing more to do.
        assert await fetch(c, "SELECT public.delete_event(%s) AS ok", (world.before,)) == [
            {"ok": False}
        ]
        await c.execute("RESET ROLE")
        rows = await fetch(c, "SELECT is_deleted FROM events WHERE id = %s", (world.before,))
        assert rows == [{"is_deleted": True}]


@pytest.mark.parametrize("user", ["bob", "carol"])
async def test_delete_event_by_anyone_else_changes_nothing(
    db: Conn, world: World, user: str
) -> None:
    async with as_role(db, getattr(world, user)) as c:
        assert await fetch(c, "SELECT public.delete_event(%s) AS ok", (world.before,)) == [
            {"ok": False}
        ]
        await c.execute("RESET ROLE")
        rows = await fetch(c, "SELECT is_deleted FROM events WHERE id = %s", (world.before,))
        assert rows == [{"is_deleted": False}]


# --- join_event ---------------------------------------------------------------------------


async def test_join_by_code_is_case_insensitive_and_idempotent(db: Conn, world: World) -> None:
    code = await join_code(db, world.before)
    async with as_role(db, world.carol) as c:
        first = await fetch(c, "SELECT * FROM public.join_event(%s)", (f"  {code.lower()} ",))
        assert first == [{"event_id": world.before, "joined": True}]
        again = await fetch(c, "SELECT * FROM public.join_event(%s)", (code,))
        assert again == [{"event_id": world.before, "joined": False}]
        assert await ids(c, "SELECT id FROM events") == {world.before, world.other}
        members = await ids(
            c, "SELECT user_id FROM event_members WHERE event_id = %s", (world.before,)
        )
        assert members == {world.alice, world.bob, world.carol}


async def test_join_of_a_member_is_a_no_op(db: Conn, world: World) -> None:
    code = await join_code(db, world.before)
    rows = await as_user(db, world.bob, "SELECT * FROM public.join_event(%s)", (code,))
    assert rows == [{"event_id": world.before, "joined": False}]


async def test_deleted_event_is_not_joinable(db: Conn, world: World) -> None:
    code = await join_code(db, world.gone)
    rows = await as_user(db, world.carol, "SELECT * FROM public.join_event(%s)", (code,))
    assert rows == []


@pytest.mark.parametrize("code", ["ZZZZZZ", "", "abc", "' OR true --"])
async def test_bad_code_joins_nothing(db: Conn, world: World, code: str) -> None:
    async with as_role(db, world.carol) as c:
        assert await fetch(c, "SELECT * FROM public.join_event(%s)", (code,)) == []
        assert await ids(c, "SELECT id FROM events") == {world.other}


async def test_join_without_a_user_is_refused(db: Conn, world: World) -> None:
    """Claims without `sub` (a signed-in role but no user) cannot join anything."""
    code = await join_code(db, world.before)
    async with db.transaction(force_rollback=True):
        await db.execute("SET LOCAL ROLE authenticated")
        with pytest.raises(errors.InsufficientPrivilege):
            await db.execute("SELECT * FROM public.join_event(%s)", (code,))
