"""Migrations: ordered, each applied once in a transaction, safe under concurrent starts."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import psycopg
import pytest

from momento.db import embedded
from momento.db import migrate as migrations


@pytest.fixture
async def fresh_db(pg: embedded.EmbeddedPostgres) -> AsyncIterator[str]:
    """An empty database in the test cluster, dropped afterwards."""
    name = f"mig_{secrets.token_hex(4)}"
    admin = pg.url.replace("/momento_test?", "/postgres?")
    async with await psycopg.AsyncConnection.connect(admin, autocommit=True) as conn:
        await conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg.url.replace("/momento_test?", f"/{name}?")
    finally:
        async with await psycopg.AsyncConnection.connect(admin, autocommit=True) as conn:
            await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


async def _count(url: str, sql: str) -> int:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute(sql)
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])


def test_migration_files_are_ordered_and_named() -> None:
    found = migrations.load_migrations()
    versions = [m.version for m in found]
    assert versions == sorted(versions)
    assert versions[0] == "0001"
    assert len(set(versions)) == len(versions)


async def test_two_concurrent_migrators_apply_each_file_once(fresh_db: str) -> None:
    first, second = await asyncio.gather(migrations.migrate(fresh_db), migrations.migrate(fresh_db))
    total = len(migrations.load_migrations())
    assert len(first) + len(second) == total
    assert await _count(fresh_db, "SELECT count(*) FROM momento.schema_migrations") == total
    assert await migrations.migrate(fresh_db) == []
    states = await migrations.status(fresh_db)
    assert all(s.applied_at is not None and s.checksum_ok for s in states)


async def test_status_lists_pending_on_empty_database(fresh_db: str) -> None:
    states = await migrations.status(fresh_db)
    assert states
    assert all(s.applied_at is None for s in states)


async def test_failed_migration_leaves_nothing_behind(fresh_db: str) -> None:
    good = migrations.Migration("0001", "good", "CREATE TABLE public.t_good (id int);")
    bad = migrations.Migration(
        "0002", "bad", "CREATE TABLE public.t_bad (id int); SELECT no_such_function();"
    )
    with pytest.raises(migrations.MigrationError, match="0002_bad"):
        await migrations.migrate(fresh_db, [good, bad])
    assert await _count(fresh_db, "SELECT count(*) FROM momento.schema_migrations") == 1
    assert await _count(fresh_db, "SELECT count(*) FROM pg_tables WHERE tablename='t_good'") == 1
    assert await _count(fresh_db, "SELECT count(*) FROM pg_tables WHERE tablename='t_bad'") == 0


async def test_edited_migration_is_reported(fresh_db: str) -> None:
    original = migrations.Migration("0001", "one", "CREATE TABLE public.t_one (id int);")
    await migrations.migrate(fresh_db, [original])
    edited = migrations.Migration("0001", "one", "CREATE TABLE public.t_one (id bigint);")
    with pytest.raises(migrations.MigrationError, match="edited"):
        await migrations.migrate(fresh_db, [edited])
    (state,) = await migrations.status(fresh_db, [edited])
    assert state.applied_at is not None
    assert not state.checksum_ok


async def test_0013_moves_like_counts_and_blurhash_onto_photos(fresh_db: str) -> None:
    """Data stored before 0013 keeps its meaning after it: each photo's count is its likes,
    its blurhash comes over from photo_media, and later likes keep counting."""
    before = [m for m in migrations.load_migrations() if m.version < "0013"]
    await migrations.migrate(fresh_db, before)
    async with await psycopg.AsyncConnection.connect(fresh_db, autocommit=True) as conn:
        cur = await conn.execute(
            "INSERT INTO auth.users (email, raw_user_meta_data)"
            " SELECT format('u%s@example.test', i), jsonb_build_object('username', 'u' || i)"
            " FROM generate_series(1, 3) i RETURNING id"
        )
        ana, bob, cy = [row[0] for row in await cur.fetchall()]
        cur = await conn.execute(
            "INSERT INTO public.events (name, creator_id, starts_at, release_at)"
            " VALUES ('Old', %s, now() - interval '2 days', now() - interval '1 day')"
            " RETURNING id",
            (ana,),
        )
        row = await cur.fetchone()
        assert row is not None
        event = row[0]
        await conn.execute(
            "INSERT INTO public.event_members (event_id, user_id) VALUES (%s, %s), (%s, %s)",
            (event, bob, event, cy),
        )
        cur = await conn.execute(
            "INSERT INTO public.photos (id, event_id, user_id, storage_path, upload_status)"
            " SELECT id, %s, %s, 'events/' || %s::text || '/' || id::text, 'uploaded'"
            " FROM (SELECT gen_random_uuid() AS id FROM generate_series(1, 3)) x RETURNING id",
            (event, ana, event),
        )
        liked_twice, liked_once, not_liked = [row[0] for row in await cur.fetchall()]
        await conn.execute(
            "INSERT INTO public.photo_media (photo_id, declared_type, declared_size, blurhash)"
            " VALUES (%s, 'image/jpeg', 10, 'LEHV6nWB2yk8'), (%s, 'image/jpeg', 10, NULL)",
            (liked_twice, liked_once),
        )
        await conn.execute(
            "INSERT INTO public.photo_likes (photo_id, user_id)"
            " VALUES (%s, %s), (%s, %s), (%s, %s)",
            (liked_twice, bob, liked_twice, cy, liked_once, bob),
        )

    await migrations.migrate(fresh_db)

    async with await psycopg.AsyncConnection.connect(fresh_db, autocommit=True) as conn:
        read = "SELECT id, like_count, blurhash FROM public.photos"
        found = {r[0]: (r[1], r[2]) for r in await (await conn.execute(read)).fetchall()}
        assert found == {
            liked_twice: (2, "LEHV6nWB2yk8"),
            liked_once: (1, None),
            not_liked: (0, None),
        }
        await conn.execute(
            "INSERT INTO public.photo_likes (photo_id, user_id) VALUES (%s, %s)", (not_liked, cy)
        )
        await conn.execute("DELETE FROM public.photo_likes WHERE user_id = %s", (bob,))
        found = {r[0]: (r[1], r[2]) for r in await (await conn.execute(read)).fetchall()}
        assert {k: v[0] for k, v in found.items()} == {liked_twice: 1, liked_once: 0, not_liked: 1}
        cur = await conn.execute(
            "SELECT count(*) FROM information_schema.columns"
            " WHERE table_name = 'photo_media' AND column_name = 'blurhash'"
        )
        assert await cur.fetchone() == (0,)
