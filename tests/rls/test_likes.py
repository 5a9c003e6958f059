"""photo_likes: a user likes, as themselves, only photos they can see; reads and removes only
their own likes. Counts are photos.like_count (migration 0013), read with the photo under the
photos policy: for visible photos only, without saying who liked."""

from __future__ import annotations

from uuid import UUID

import pytest
from psycopg import errors

from tests.rls.conftest import VISIBLE, Conn, World, add_like, as_role, as_user, fetch

LIKE = "INSERT INTO photo_likes (photo_id, user_id) VALUES (%s, %s) RETURNING photo_id"
COUNTS = "SELECT id AS photo_id, like_count FROM public.photos WHERE id = ANY (%s)"


LIKES = {
    "after.alice.uploaded": ("bob", "dave"),
    "after.bob.uploaded": ("alice",),
    "after.alice.flagged": ("alice", "bob"),
    "before.alice.uploaded": ("alice",),
    "other.carol.uploaded": ("carol",),
}


@pytest.fixture
async def liked(db: Conn, world: World) -> World:
    """The world with LIKES, made as the owner: before dave left or anything was flagged."""
    for key, users in LIKES.items():
        for user in users:
            await add_like(db, world.photos[key], getattr(world, user))
    return world


# --- INSERT -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "key"),
    [
        ("bob", "after.alice.uploaded"),  # revealed
        ("bob", "after.dave.uploaded"),  # revealed, its owner has left
        ("bob", "before.bob.uploaded"),  # own, before the reveal
    ],
)
async def test_user_likes_a_visible_photo(db: Conn, world: World, user: str, key: str) -> None:
    photo = world.photos[key]
    rows = await as_user(db, getattr(world, user), LIKE, (photo, getattr(world, user)))
    assert rows == [{"photo_id": photo}]


async def test_like_upsert_is_idempotent(db: Conn, world: World) -> None:
    photo = world.photos["after.alice.uploaded"]
    upsert = "INSERT INTO photo_likes (photo_id, user_id) VALUES (%s, %s) ON CONFLICT DO NOTHING"
    async with as_role(db, world.bob) as c:
        await c.execute(upsert, (photo, world.bob))
        await c.execute(upsert, (photo, world.bob))
        rows = await fetch(c, "SELECT photo_id FROM photo_likes")
        assert rows == [{"photo_id": photo}]


@pytest.mark.parametrize(
    ("user", "key"),
    [
        ("bob", "before.alice.uploaded"),  # someone else's, before the reveal
        ("bob", "other.carol.uploaded"),  # another event
        ("bob", "after.alice.pending"),  # not uploaded
        ("bob", "after.alice.flagged"),  # flagged
        ("bob", "before.bob.pending"),  # own, but not uploaded
        ("bob", "before.bob.flagged"),  # own, but flagged
        ("bob", "gone.alice.uploaded"),  # deleted event
        ("dave", "after.alice.uploaded"),  # left the event
        ("carol", "after.alice.uploaded"),  # never a member
    ],
)
async def test_like_of_a_photo_out_of_reach_violates_the_policy(
    db: Conn, world: World, user: str, key: str
) -> None:
    who = getattr(world, user)
    with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
        await as_user(db, who, LIKE, (world.photos[key], who))


async def test_like_as_someone_else_violates_the_policy(db: Conn, world: World) -> None:
    with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
        await as_user(db, world.bob, LIKE, (world.photos["after.alice.uploaded"], world.alice))


async def test_like_with_a_chosen_date_is_denied(db: Conn, world: World) -> None:
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied"):
        await as_user(
            db,
            world.bob,
            "INSERT INTO photo_likes (photo_id, user_id, created_at) VALUES (%s, %s, now())",
            (world.photos["after.alice.uploaded"], world.bob),
        )


async def test_anon_likes_nothing(db: Conn, world: World) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        await as_user(db, None, LIKE, (world.photos["after.alice.uploaded"], world.bob))


# --- SELECT -----------------------------------------------------------------------------


async def test_user_reads_only_their_own_likes(db: Conn, liked: World) -> None:
    w = liked
    rows = await as_user(db, w.bob, "SELECT photo_id, user_id FROM photo_likes")
    assert {(r["photo_id"], r["user_id"]) for r in rows} == {
        (w.photos["after.alice.uploaded"], w.bob),
        (w.photos["after.alice.flagged"], w.bob),
    }


async def test_who_liked_a_photo_is_not_readable(db: Conn, liked: World) -> None:
    """Alice sees bob's photo and its count, but not that she is not alone in liking it, nor
    who liked her own photo."""
    w = liked
    async with as_role(db, w.alice) as c:
        rows = await fetch(
            c,
            "SELECT user_id FROM photo_likes WHERE photo_id = %s",
            (w.photos["after.alice.uploaded"],),
        )
        assert rows == []  # bob's and dave's likes of her photo
        rows = await fetch(
            c,
            "SELECT count(*) AS n FROM photo_likes WHERE user_id <> %s",
            (w.alice,),
        )
        assert rows == [{"n": 0}]


async def test_anon_reads_no_like(db: Conn, liked: World) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        await as_user(db, None, "SELECT photo_id FROM photo_likes")


# --- UPDATE and DELETE ----------------------------------------------------------------


async def test_likes_cannot_be_updated(db: Conn, liked: World) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        await as_user(
            db,
            liked.bob,
            "UPDATE photo_likes SET photo_id = %s WHERE user_id = %s",
            (liked.photos["after.bob.uploaded"], liked.bob),
        )


async def test_user_removes_their_like(db: Conn, liked: World) -> None:
    photo = liked.photos["after.alice.uploaded"]
    rows = await as_user(
        db,
        liked.bob,
        "DELETE FROM photo_likes WHERE photo_id = %s AND user_id = %s RETURNING photo_id",
        (photo, liked.bob),
    )
    assert rows == [{"photo_id": photo}]


async def test_user_can_remove_a_like_of_a_photo_since_hidden(db: Conn, liked: World) -> None:
    """Dave left; the like he gave stays his to take back."""
    rows = await as_user(db, liked.dave, "DELETE FROM photo_likes RETURNING photo_id")
    assert rows == [{"photo_id": liked.photos["after.alice.uploaded"]}]


async def test_others_likes_are_not_removable(db: Conn, liked: World) -> None:
    """Not even by the photo's owner."""
    rows = await as_user(
        db,
        liked.alice,
        "DELETE FROM photo_likes WHERE photo_id = %s RETURNING user_id",
        (liked.photos["after.alice.uploaded"],),
    )
    assert rows == []


async def test_anon_removes_no_like(db: Conn, liked: World) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        await as_user(db, None, "DELETE FROM photo_likes")


# --- photos.like_count ------------------------------------------------------------------


def _counts(rows: list[dict[str, object]]) -> dict[object, object]:
    return {r["photo_id"]: r["like_count"] for r in rows}


@pytest.mark.parametrize("user", sorted(VISIBLE))
async def test_like_counts_cover_visible_photos_only(db: Conn, liked: World, user: str) -> None:
    """Counts include everyone's likes (dave's too, though he left), but only for the photos
    the caller can see: the count is read with its photo, under the photos policy."""
    every_photo: list[UUID] = list(liked.photos.values())
    rows = await as_user(db, getattr(liked, user), COUNTS, (every_photo,))
    assert _counts(rows) == {liked.photos[k]: len(LIKES.get(k, ())) for k in VISIBLE[user]}


async def test_like_counts_of_unknown_ids_are_absent(db: Conn, liked: World) -> None:
    rows = await as_user(
        db, liked.bob, COUNTS, ([UUID(int=0), liked.photos["after.alice.uploaded"]],)
    )
    assert _counts(rows) == {liked.photos["after.alice.uploaded"]: 2}


async def test_anon_reads_no_like_count(db: Conn, liked: World) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        await as_user(db, None, COUNTS, (list(liked.photos.values()),))
