"""photos: the reveal rule. Before release_at a member sees only their own photos; from
release_at on, every uploaded, unflagged photo of the event too. Only the owner deletes; the
upload status, size and flag are the server's to write."""

from __future__ import annotations

import pytest
from psycopg import errors

from tests.rls.conftest import VISIBLE, Conn, World, as_role, as_user, fetch, ids

# storage_path must follow the layout events/<event>/<photo> (photos_storage_path_layout).
NEW_PHOTO = (
    "INSERT INTO photos (id, event_id, user_id, storage_path)"
    " SELECT v.i, v.e, v.u, 'events/' || v.e || '/' || v.i"
    " FROM (SELECT gen_random_uuid() AS i, %s::uuid AS e, %s::uuid AS u) v"
    " RETURNING id, username, upload_status, is_flagged"
)

# --- SELECT -----------------------------------------------------------------------------


@pytest.mark.parametrize("user", sorted(VISIBLE))
async def test_who_sees_which_photos(db: Conn, world: World, user: str) -> None:
    async with as_role(db, getattr(world, user)) as c:
        seen = await ids(c, "SELECT id FROM photos")
    assert seen == world.photo_ids(*VISIBLE[user])


async def test_before_release_a_member_sees_only_their_own(db: Conn, world: World) -> None:
    async with as_role(db, world.bob) as c:
        seen = await ids(c, "SELECT id FROM photos WHERE event_id = %s", (world.before,))
        assert seen == world.photo_ids(
            "before.bob.uploaded", "before.bob.pending", "before.bob.flagged"
        )
        by_id = await fetch(
            c, "SELECT id FROM photos WHERE id = %s", (world.photos["before.alice.uploaded"],)
        )
        assert by_id == []


async def test_from_release_at_on_the_event_is_revealed(db: Conn, world: World) -> None:
    """The boundary is inclusive: at release_at exactly (the transaction's now()), revealed."""
    query = "SELECT id FROM photos WHERE event_id = %s AND user_id = %s"
    async with db.transaction(force_rollback=True):
        await db.execute(
            "UPDATE events SET release_at = now() + interval '1 millisecond' WHERE id = %s",
            (world.before,),
        )
        async with as_role(db, world.bob) as c:
            assert await fetch(c, query, (world.before, world.alice)) == []
        await db.execute("UPDATE events SET release_at = now() WHERE id = %s", (world.before,))
        async with as_role(db, world.bob) as c:
            assert await ids(c, query, (world.before, world.alice)) == world.photo_ids(
                "before.alice.uploaded"
            )


async def test_after_release_others_unfinished_or_flagged_photos_stay_hidden(
    db: Conn, world: World
) -> None:
    hidden = world.photo_ids("after.alice.pending", "after.alice.failed", "after.alice.flagged")
    rows = await as_user(db, world.bob, "SELECT id FROM photos WHERE id = ANY(%s)", (list(hidden),))
    assert rows == []


@pytest.mark.parametrize("user", ["carol", "dave"])
async def test_non_members_see_nothing_even_after_release(
    db: Conn, world: World, user: str
) -> None:
    rows = await as_user(
        db,
        getattr(world, user),
        "SELECT id FROM photos WHERE event_id = %s AND user_id <> %s",
        (world.after, getattr(world, user)),
    )
    assert rows == []


async def test_deleted_event_shows_only_the_owners_own(db: Conn, world: World) -> None:
    for user, key in ((world.alice, "gone.alice.uploaded"), (world.bob, "gone.bob.uploaded")):
        rows = await as_user(db, user, "SELECT id FROM photos WHERE event_id = %s", (world.gone,))
        assert {r["id"] for r in rows} == world.photo_ids(key)


async def test_the_feed_query_runs_as_a_member(db: Conn, world: World) -> None:
    rows = await as_user(
        db,
        world.bob,
        "SELECT * FROM photos WHERE event_id = %s ORDER BY captured_at LIMIT 20 OFFSET 0",
        (world.after,),
    )
    assert {r["id"] for r in rows} == world.photo_ids(
        "after.alice.uploaded", "after.bob.uploaded", "after.bob.pending", "after.dave.uploaded"
    )


async def test_anon_sees_no_photo(db: Conn, world: World) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        await as_user(db, None, "SELECT id FROM photos")


# --- INSERT -----------------------------------------------------------------------------


async def test_member_adds_a_photo_and_the_username_is_filled_in(db: Conn, world: World) -> None:
    rows = await as_user(db, world.bob, NEW_PHOTO, (world.before, world.bob))
    assert len(rows) == 1
    assert rows[0]["username"] == "bob"
    assert rows[0]["upload_status"] == "pending"
    assert rows[0]["is_flagged"] is False


@pytest.mark.parametrize(
    ("user", "event", "owner"),
    [
        ("carol", "before", "carol"),  # not a member
        ("dave", "after", "dave"),  # left
        ("bob", "gone", "bob"),  # deleted event
        ("bob", "before", "alice"),  # as someone else
        ("bob", "other", "carol"),  # as someone else, elsewhere
    ],
)
async def test_insert_outside_own_events_or_as_someone_else_violates_the_policy(
    db: Conn, world: World, user: str, event: str, owner: str
) -> None:
    with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
        await as_user(
            db, getattr(world, user), NEW_PHOTO, (getattr(world, event), getattr(world, owner))
        )


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("username", "'alice'"),
        ("upload_status", "'uploaded'"),
        ("is_flagged", "false"),
        ("width", "100"),
        ("height", "100"),
    ],
)
async def test_insert_of_server_columns_is_denied(
    db: Conn, world: World, column: str, value: str
) -> None:
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied"):
        await as_user(
            db,
            world.bob,
            "INSERT INTO photos (event_id, user_id, storage_path, "
            + column
            + ") VALUES (%s, %s, 'x.jpg', "
            + value
            + ")",
            (world.before, world.bob),
        )


async def test_anon_adds_no_photo(db: Conn, world: World) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        await as_user(db, None, NEW_PHOTO, (world.before, world.bob))


# --- UPDATE -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "assignment",
    [
        "upload_status = 'uploaded'",
        "is_flagged = false",
        "width = 1",
        "height = 1",
        "storage_path = 'elsewhere.jpg'",
        "username = 'alice'",
        "captured_at = now()",
        "event_id = event_id",
        "user_id = user_id",
    ],
)
async def test_owner_cannot_update_any_column(db: Conn, world: World, assignment: str) -> None:
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied"):
        await as_user(
            db,
            world.bob,
            "UPDATE photos SET " + assignment + " WHERE id = %s",
            (world.photos["before.bob.flagged"],),
        )


async def test_anon_updates_no_photo(db: Conn, world: World) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        await as_user(db, None, "UPDATE photos SET is_flagged = false")


# --- DELETE -----------------------------------------------------------------------------


async def test_owner_deletes_their_photo(db: Conn, world: World) -> None:
    photo = world.photos["after.bob.uploaded"]
    async with as_role(db, world.bob) as c:
        assert await ids(c, "DELETE FROM photos WHERE id = %s RETURNING id", (photo,)) == {photo}
        assert await fetch(c, "SELECT id FROM photos WHERE id = %s", (photo,)) == []


async def test_former_member_can_still_delete_their_photo(db: Conn, world: World) -> None:
    photo = world.photos["after.dave.uploaded"]
    rows = await as_user(db, world.dave, "DELETE FROM photos WHERE id = %s RETURNING id", (photo,))
    assert rows == [{"id": photo}]


@pytest.mark.parametrize(
    ("user", "key"),
    [
        ("bob", "after.alice.uploaded"),  # visible to bob, but not his
        ("alice", "after.bob.uploaded"),  # the event's creator is not the owner either
        ("bob", "before.alice.uploaded"),  # not even visible
        ("carol", "after.alice.uploaded"),  # not a member
    ],
)
async def test_others_delete_nothing(db: Conn, world: World, user: str, key: str) -> None:
    rows = await as_user(
        db,
        getattr(world, user),
        "DELETE FROM photos WHERE id = %s RETURNING id",
        (world.photos[key],),
    )
    assert rows == []


async def test_delete_everything_deletes_only_own(db: Conn, world: World) -> None:
    rows = await as_user(db, world.bob, "DELETE FROM photos RETURNING id")
    assert {r["id"] for r in rows} == {
        v for k, v in world.photos.items() if k.split(".")[1] == "bob"
    }


async def test_anon_deletes_no_photo(db: Conn, world: World) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        await as_user(db, None, "DELETE FROM photos")
