"""Fixtures for the row-level security tests: a privileged connection, a small world of
users, events, photos and likes built straight in SQL, and `as_role` to run statements as a
user would.

Every check follows Supabase's pgTAP habit: in one transaction, `SET LOCAL ROLE`, set
`request.jwt.claims`, run the statement, assert, roll back. Denied grants and failed
`WITH CHECK`s raise 42501; rows a `USING` clause filters out simply do not come back.

Nothing here ever commits: each test runs in one transaction on `db`, its world included,
and rolls it back; each check is a savepoint inside it. So the tables are emptied once for
this package instead of before every test (the suite's TRUNCATE costs more than a test).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, LiteralString
from uuid import UUID

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import DictRow, dict_row

from tests.factories import DAY, add_members, add_photo, insert_user, like, make_event

Conn = psycopg.AsyncConnection[DictRow]


@pytest.fixture(scope="package")
async def empty_tables(database_url: str, truncate_tables: sql.Composed) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(truncate_tables)


@pytest.fixture(autouse=True)
def clean_database() -> None:
    """Replaces the suite's TRUNCATE before each test: tests here leave nothing behind."""


@pytest.fixture
async def db(database_url: str, empty_tables: None) -> AsyncIterator[Conn]:
    """A connection as the owner of the tables (RLS does not apply), in a transaction that
    is rolled back at the end of the test."""
    conn = await psycopg.AsyncConnection.connect(
        database_url, autocommit=True, row_factory=dict_row
    )
    try:
        async with conn.transaction(force_rollback=True):
            yield conn
    finally:
        await conn.close()


@asynccontextmanager
async def as_role(conn: Conn, user: UUID | None) -> AsyncIterator[Conn]:
    """A savepoint as `authenticated` with `user`'s claims, or as `anon` for None.

    Always rolled back, so an allowed write in one check never leaks into the next, and
    `SET LOCAL` ends with it.
    """
    async with conn.transaction(force_rollback=True):
        if user is None:
            await conn.execute("SET LOCAL ROLE anon")
            claims: dict[str, str] = {"role": "anon"}
        else:
            await conn.execute("SET LOCAL ROLE authenticated")
            claims = {"sub": str(user), "role": "authenticated"}
        await conn.execute(
            "SELECT set_config('request.jwt.claims', %s, true)", (json.dumps(claims),)
        )
        yield conn


async def fetch(
    conn: Conn, query: LiteralString, params: Sequence[Any] | dict[str, Any] = ()
) -> list[DictRow]:
    cur = await conn.execute(query, params)
    return await cur.fetchall()


async def ids(
    conn: Conn, query: LiteralString, params: Sequence[Any] | dict[str, Any] = ()
) -> set[UUID]:
    """The first column of every row, as a set (for statements returning ids)."""
    cur = await conn.execute(query, params)
    return {next(iter(row.values())) for row in await cur.fetchall()}


async def as_user(
    conn: Conn,
    user: UUID | None,
    query: LiteralString,
    params: Sequence[Any] | dict[str, Any] = (),
) -> list[DictRow]:
    """Run one statement as `user` (None: anon) and return its rows; rolled back."""
    async with as_role(conn, user) as c:
        return await fetch(c, query, params)


# --- Building the world, as the owner (tests/factories.py, on `db`) -------------------------

# tests/rls/test_likes.py likes photos of the world.
add_like = like


# Who sees which of the world's photos (see World below).
VISIBLE = {
    "alice": {
        "before.alice.uploaded",
        "before.alice.pending",
        "after.alice.uploaded",
        "after.alice.pending",
        "after.alice.failed",
        "after.alice.flagged",
        "after.bob.uploaded",
        "after.dave.uploaded",  # dave left, his photo stays in the event
        "gone.alice.uploaded",  # the owner keeps sight of their own photos
    },
    "bob": {
        "before.bob.uploaded",
        "before.bob.pending",
        "before.bob.flagged",
        "after.alice.uploaded",
        "after.bob.uploaded",
        "after.bob.pending",
        "after.dave.uploaded",
        "gone.bob.uploaded",
    },
    "carol": {"other.carol.uploaded"},
    "dave": {"after.dave.uploaded"},
}


@dataclass
class World:
    """Who is where, and which photos exist.

    - alice creates `before` (release tomorrow), `after` (revealed yesterday) and `gone`
      (revealed, then deleted); bob is a member of all three.
    - carol is in none of them; she created `other` (revealed) and has a photo there.
    - dave joined `after`, uploaded a photo, then left.
    Photos are keyed "<event>.<owner>.<state>", state being uploaded, pending, failed or
    flagged (flagged ones are uploaded).
    """

    alice: UUID
    bob: UUID
    carol: UUID
    dave: UUID
    before: UUID
    after: UUID
    gone: UUID
    other: UUID
    photos: dict[str, UUID] = field(default_factory=dict)

    def photo_ids(self, *keys: str) -> set[UUID]:
        return {self.photos[k] for k in keys}

    def photos_of(self, event: str) -> set[UUID]:
        return {v for k, v in self.photos.items() if k.startswith(f"{event}.")}


async def _photo(conn: Conn, w: World, key: str) -> None:
    event_name, owner_name, state = key.split(".")
    event: UUID = getattr(w, event_name)
    owner: UUID = getattr(w, owner_name)
    if state == "flagged":
        w.photos[key] = await add_photo(conn, event, owner, flagged=True)
    else:
        w.photos[key] = await add_photo(conn, event, owner, status=state)


async def world_event(conn: Conn, creator: UUID, name: str, *, revealed: bool) -> UUID:
    """Started two days ago, revealed a day ago or in a day."""
    return await make_event(
        conn, creator, name=name, starts_in=-2 * DAY, release_in=-DAY if revealed else DAY
    )


@pytest.fixture
async def world(db: Conn) -> World:
    alice = await insert_user(db, "alice")
    bob = await insert_user(db, "bob")
    carol = await insert_user(db, "carol")
    dave = await insert_user(db, "dave")
    w = World(
        alice=alice,
        bob=bob,
        carol=carol,
        dave=dave,
        before=await world_event(db, alice, "Before", revealed=False),
        after=await world_event(db, alice, "After", revealed=True),
        gone=await world_event(db, alice, "Gone", revealed=True),
        other=await world_event(db, carol, "Other", revealed=True),
    )
    for event in (w.before, w.after, w.gone):
        await add_members(db, event, [bob])
    await add_members(db, w.after, [dave])
    for key in (
        "before.alice.uploaded",
        "before.alice.pending",
        "before.bob.uploaded",
        "before.bob.pending",
        "before.bob.flagged",
        "after.alice.uploaded",
        "after.alice.pending",
        "after.alice.failed",
        "after.alice.flagged",
        "after.bob.uploaded",
        "after.bob.pending",
        "after.dave.uploaded",
        "gone.alice.uploaded",
        "gone.bob.uploaded",
        "other.carol.uploaded",
    ):
        await _photo(db, w, key)
    await db.execute(
        "DELETE FROM event_members WHERE event_id = %s AND user_id = %s", (w.after, dave)
    )
    await db.execute("UPDATE events SET is_deleted = true WHERE id = %s", (w.gone,))
    return w
