"""The suite's TRUNCATE before each test, now built from the catalog (tests/conftest.py): it
empties every table the hand-kept lists used to name and every other table but the
migrations' bookkeeping, and no migration leaves rows there that a test would lose."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import psycopg
import pytest
from psycopg import sql

from momento.db import embedded
from momento.db import migrate as migrations
from tests.conftest import KEEP_TABLES, TABLES, writable_tables

# The lists this statement replaces, as they stood: tests/conftest.py's (tables named
# without a schema are procrastinate's, in public) and tests/billing/conftest.py's.
SUITE_LIST = {
    "public.procrastinate_jobs",
    "public.procrastinate_periodic_defers",
    "public.procrastinate_workers",
    "auth.users",
    "auth.sessions",
    "auth.refresh_tokens",
    "public.profiles",
    "public.events",
    "public.event_members",
    "public.photos",
    "public.photo_likes",
    "momento.rate_limits",
    "momento.push_deliveries",
    "momento.reveals",
    "momento.announced_photos",
    "momento.file_purges",
}
BILLING_LIST = {
    "momento.revenuecat_events",
    "momento.premium_purchases",
    "momento.host_entitlements",
}


def names(tables: list[tuple[str, str]]) -> set[str]:
    return {f"{schema}.{name}" for schema, name in tables}


async def count(url: str, table: tuple[str, str]) -> int:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*table)))
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
async def fresh_db(pg: embedded.EmbeddedPostgres) -> AsyncIterator[str]:
    """A database of the test cluster with the migrations just applied, dropped afterwards."""
    name = f"clean_{secrets.token_hex(4)}"
    admin = psycopg.conninfo.make_conninfo(pg.url, dbname="postgres")
    async with await psycopg.AsyncConnection.connect(admin, autocommit=True) as conn:
        await conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = psycopg.conninfo.make_conninfo(pg.url, dbname=name)
        await migrations.migrate(url)
        yield url
    finally:
        async with await psycopg.AsyncConnection.connect(admin, autocommit=True) as conn:
            await conn.execute(
                sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name))
            )


async def test_every_table_the_hand_kept_lists_named_is_emptied(database_url: str) -> None:
    emptied = names(writable_tables(database_url))
    assert SUITE_LIST | BILLING_LIST <= emptied
    # And those the lists left to CASCADE or forgot (photo_media, photo_reports, ...).
    assert emptied - SUITE_LIST - BILLING_LIST


async def test_only_the_migrations_bookkeeping_is_kept(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute(TABLES)
        every = {(schema, name) for schema, name in await cur.fetchall()}
    assert every - set(writable_tables(database_url)) == set(KEEP_TABLES)


async def test_migrations_leave_no_rows_but_their_bookkeeping(fresh_db: str) -> None:
    """Nothing a migration inserts (seed rows) is lost to the TRUNCATE."""
    for table in writable_tables(fresh_db):
        assert await count(fresh_db, table) == 0, table
    for table in KEEP_TABLES:
        assert await count(fresh_db, table) == len(migrations.load_migrations())
