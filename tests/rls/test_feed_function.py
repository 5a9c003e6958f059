"""momento.feed_page and momento.liked_page (migration 0013): each page of the feed and of the
liked list as one call that sets the caller's identity and runs under the policies, callable
by the login role only."""

from __future__ import annotations

import json
from typing import LiteralString
from uuid import UUID, uuid4

import psycopg
import pytest
from psycopg import errors
from psycopg.rows import DictRow, dict_row

from tests.rls.conftest import Conn, World, add_like, as_role, fetch

FEED: LiteralString = (
    "SELECT * FROM momento.feed_page(%s, %s, '0001-01-01 00:00:00+00',"
    " '00000000-0000-0000-0000-000000000000', 100)"
)
LIKED: LiteralString = (
    "SELECT * FROM momento.liked_page(%s, %s, '9999-12-31 00:00:00+00',"
    " 'ffffffff-ffff-ffff-ffff-ffffffffffff', 100)"
)
SIGNATURE = "(text, uuid, timestamptz, uuid, integer)"


def claims(user: UUID) -> str:
    return json.dumps({"sub": str(user), "role": "authenticated"})


async def call(db: Conn, query: LiteralString, user: UUID, event: UUID) -> list[DictRow]:
    """The call in a savepoint rolled back after it: the settings it makes last until the end
    of the (sub)transaction, as in the implicit transaction of the server's single statement."""
    async with db.transaction(force_rollback=True):
        return await fetch(db, query, (claims(user), event))


async def page(db: Conn, user: UUID, event: UUID) -> tuple[list[DictRow], set[UUID]]:
    rows = await call(db, FEED, user, event)
    return rows, {r["id"] for r in rows if r["id"] is not None}


async def test_feed_runs_under_the_policies(db: Conn, world: World) -> None:
    # A non-member gets no row at all (the route's 404).
    assert (await page(db, world.carol, world.after))[0] == []
    assert (await page(db, world.carol, world.before))[0] == []
    # Before the reveal a member sees only their own photos; after it, the event's.
    rows, seen = await page(db, world.bob, world.before)
    assert seen == world.photo_ids("before.bob.uploaded", "before.bob.flagged")
    assert rows[0]["revealed"] is False
    rows, seen = await page(db, world.bob, world.after)
    assert seen == world.photo_ids(
        "after.alice.uploaded", "after.bob.uploaded", "after.dave.uploaded"
    )
    assert rows[0]["revealed"] is True


async def test_feed_auth_uid_is_the_caller(db: Conn, world: World) -> None:
    liked = world.photos["after.alice.uploaded"]
    await add_like(db, liked, world.bob)
    for user, mine in ((world.bob, True), (world.alice, False)):
        rows, _ = await page(db, user, world.after)
        by_id = {r["id"]: r for r in rows}
        assert by_id[liked]["liked_by_me"] is mine
        assert by_id[liked]["like_count"] == 1


async def test_liked_page_is_the_callers_likes_it_may_see(db: Conn, world: World) -> None:
    seen_by_all = world.photos["after.alice.uploaded"]
    bobs = world.photos["after.bob.uploaded"]
    await add_like(db, seen_by_all, world.bob)
    await add_like(db, bobs, world.bob)
    await add_like(db, bobs, world.dave)
    await db.execute(
        "UPDATE photo_likes SET created_at = now() - interval '1 hour'"
        " WHERE photo_id = %s AND user_id = %s",
        (seen_by_all, world.bob),
    )
    rows = await call(db, LIKED, world.bob, world.after)
    # Most recent like first; counts of everyone's likes, never who.
    assert [(r["id"], r["like_count"], r["liked_by_me"]) for r in rows] == [
        (bobs, 2, True),
        (seen_by_all, 1, True),
    ]
    # Alice liked nothing: one row with no photo (an empty page of an event she is in).
    assert [r["id"] for r in await call(db, LIKED, world.alice, world.after)] == [None]
    # A non-member gets no row at all, even for likes they could not have made.
    assert await call(db, LIKED, world.carol, world.after) == []


@pytest.mark.parametrize("query", [FEED, LIKED])
async def test_settings_end_with_the_statement(database_url: str, query: LiteralString) -> None:
    """Run alone (autocommit, as the pool runs it), the role, the claims and the plan mode
    it sets end with the statement's implicit transaction."""
    settings: LiteralString = (
        "SELECT current_user AS u, current_setting('request.jwt.claims', true) AS c,"
        " current_setting('plan_cache_mode') AS m"
    )
    async with await psycopg.AsyncConnection.connect(
        database_url, autocommit=True, row_factory=dict_row
    ) as conn:
        before = await fetch(conn, settings)
        await fetch(conn, query, (claims(uuid4()), uuid4()))
        after = await fetch(conn, settings)
    assert before[0]["u"] == after[0]["u"] != "authenticated"
    assert before[0]["m"] == after[0]["m"] == "auto"
    assert not after[0]["c"]  # '' once the placeholder exists


@pytest.mark.parametrize("role", ["authenticated", "anon", "service_role"])
@pytest.mark.parametrize(("function", "query"), [("feed_page", FEED), ("liked_page", LIKED)])
async def test_user_roles_cannot_call_it(
    db: Conn, world: World, role: str, function: str, query: LiteralString
) -> None:
    if role != "service_role":
        async with as_role(db, world.bob if role == "authenticated" else None) as c:
            with pytest.raises(errors.InsufficientPrivilege):
                await fetch(c, query, (claims(world.alice), world.after))
    granted = await fetch(
        db,
        "SELECT has_function_privilege(%s, %s, 'EXECUTE') AS ok",
        (role, f"momento.{function}{SIGNATURE}"),
    )
    assert granted == [{"ok": False}]
