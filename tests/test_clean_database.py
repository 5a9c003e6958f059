"""The suite's TRUNCATE before each test, now built from the catalog (tests/conftest.py): it
empties every table the hand-kept lists used to name and every other table but the
migrations' bookkeeping, and no migration leaves rows there that a test would lose."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import psycopg
import pytest
from psycopg.sql import SQL, Composed, Identifier

from momento.db import embedded
from momento.db import migrate as migrations
from momento.jobs.queue import make_app
from momento.services import Services
from tests.conftest import KEEP_TABLES, TABLES, writable_tables
from tests.factories import (
    add_photo,
    add_report,
    apns_token,
    create_users,
    like,
    make_event,
    set_device_token,
    sql,
)

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
        cur = await conn.execute(SQL("SELECT count(*) FROM {}").format(Identifier(*table)))
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
async def fresh_db(pg: embedded.EmbeddedPostgres) -> AsyncIterator[str]:
    """A database of the test cluster with the migrations just applied, dropped afterwards."""
    name = f"clean_{secrets.token_hex(4)}"
    admin = psycopg.conninfo.make_conninfo(pg.url, dbname="postgres")
    async with await psycopg.AsyncConnection.connect(admin, autocommit=True) as conn:
        await conn.execute(SQL("CREATE DATABASE {}").format(Identifier(name)))
    try:
        url = psycopg.conninfo.make_conninfo(pg.url, dbname=name)
        await migrations.migrate(url)
        yield url
    finally:
        async with await psycopg.AsyncConnection.connect(admin, autocommit=True) as conn:
            await conn.execute(SQL("DROP DATABASE {} WITH (FORCE)").format(Identifier(name)))


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


async def test_the_statement_empties_a_database_written_everywhere(
    services: Services, database_url: str, truncate_tables: Composed
) -> None:
    ana, bob = await create_users(services, 2)
    await set_device_token(services, bob, apns_token(1))
    event = await make_event(services, ana, revealed=True, premium=True, members=[bob])
    photo = await add_photo(services, event, bob)
    await add_photo(services, event, ana, status="pending", flagged=True)
    await like(services, photo, ana)
    await add_report(services, photo, ana, reason="spam")
    await sql(services, "INSERT INTO momento.reveals (event_id) VALUES (%s)", event)
    gone = await add_photo(services, event, ana)
    await sql(services, "DELETE FROM public.photos WHERE id = %s", gone)  # a file purge
    # A queue of its own: the session's has seen other tests terminate every backend, and this
    # test is about what the TRUNCATE empties, not about that pool's recovery.
    jobs = make_app(database_url)
    await jobs.open_async()
    try:
        await jobs.configure_task("jobs:retry_stalled").defer_async()
    finally:
        await jobs.close_async()
    written = [t for t in writable_tables(database_url) if await count(database_url, t)]
    assert len(written) >= 14, written

    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(truncate_tables)

    for table in writable_tables(database_url):
        assert await count(database_url, table) == 0, table
