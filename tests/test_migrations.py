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
