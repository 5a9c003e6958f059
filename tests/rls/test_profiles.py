"""profiles: any signed-in user reads any profile's public columns; only the owner writes."""

from __future__ import annotations

import pytest
from psycopg import errors

from tests.rls.conftest import Conn, World, as_role, as_user, ids

PUBLIC_COLUMNS = "id, username, display_name, avatar_url, created_at"


async def test_any_user_reads_any_profile(db: Conn, world: World) -> None:
    rows = await as_user(db, world.carol, f"SELECT {PUBLIC_COLUMNS} FROM profiles")
    assert {r["id"] for r in rows} == {world.alice, world.bob, world.carol, world.dave}
    assert {r["username"] for r in rows} == {"alice", "bob", "carol", "dave"}


async def test_anon_reads_no_profile(db: Conn, world: World) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        await as_user(db, None, "SELECT id, username FROM profiles")


@pytest.mark.parametrize(
    "query",
    [
        "SELECT device_token FROM profiles WHERE id = auth.uid()",
        "SELECT * FROM profiles WHERE id = auth.uid()",
        "SELECT id FROM profiles WHERE device_token IS NOT NULL",
        "UPDATE profiles SET display_name = 'x' WHERE id = auth.uid() RETURNING device_token",
    ],
)
async def test_device_token_is_readable_by_no_one(db: Conn, world: World, query: str) -> None:
    await db.execute("UPDATE profiles SET device_token = %s WHERE id = %s", ("ab" * 32, world.bob))
    with pytest.raises(errors.InsufficientPrivilege):
        await as_user(db, world.bob, query)


async def test_owner_updates_own_profile(db: Conn, world: World) -> None:
    async with as_role(db, world.bob) as c:
        updated = await ids(
            c,
            "UPDATE profiles SET display_name = 'Bobby', device_token = %s"
            " WHERE id = %s RETURNING id",
            ("ab" * 32, world.bob),
        )
        assert updated == {world.bob}
        cur = await c.execute("SELECT display_name FROM profiles WHERE id = %s", (world.bob,))
        assert await cur.fetchone() == {"display_name": "Bobby"}


async def test_update_of_another_profile_touches_nothing(db: Conn, world: World) -> None:
    rows = await as_user(
        db,
        world.bob,
        "UPDATE profiles SET display_name = 'Hacked' WHERE id = %s RETURNING id",
        (world.alice,),
    )
    assert rows == []
    rows = await as_user(db, world.bob, "UPDATE profiles SET display_name = 'All' RETURNING id")
    assert [r["id"] for r in rows] == [world.bob]


async def test_anon_updates_nothing(db: Conn, world: World) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        await as_user(db, None, "UPDATE profiles SET display_name = 'x' RETURNING id")


async def test_id_cannot_change(db: Conn, world: World) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        await as_user(
            db, world.bob, "UPDATE profiles SET id = %s WHERE id = %s", (world.dave, world.bob)
        )


async def test_created_at_cannot_change(db: Conn, world: World) -> None:
    """created_at numbers users ("you're user #47"), so it is not the user's to move."""
    with pytest.raises(errors.InsufficientPrivilege):
        await as_user(db, world.bob, "UPDATE profiles SET created_at = now() - interval '9 years'")


@pytest.mark.parametrize("user", ["bob", None])
async def test_insert_is_denied(db: Conn, world: World, user: str | None) -> None:
    newcomer = await db.execute("INSERT INTO auth.users (email) VALUES ('n@x.io') RETURNING id")
    row = await newcomer.fetchone()
    assert row is not None
    await db.execute("DELETE FROM profiles WHERE id = %s", (row["id"],))
    with pytest.raises(errors.InsufficientPrivilege):
        await as_user(
            db,
            getattr(world, user) if user else None,
            "INSERT INTO profiles (id, username) VALUES (%s, 'newcomer')",
            (row["id"],),
        )


@pytest.mark.parametrize("user", ["bob", None])
async def test_delete_is_denied(db: Conn, world: World, user: str | None) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        await as_user(
            db,
            getattr(world, user) if user else None,
            "DELETE FROM profiles WHERE id = %s",
            (world.bob,),
        )
