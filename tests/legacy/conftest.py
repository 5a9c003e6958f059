"""A Supabase-shaped old Momento database for the legacy tests: a database of its own on the
test cluster, with GoTrue's auth tables, Supabase Storage's, the OLD schema and dirty data."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from momento.db import embedded

HERE = Path(__file__).parent
FIXTURES = ("supabase.sql", "old_momento.sql", "dirty_data.sql")


def url_of(pg: embedded.EmbeddedPostgres, database: str) -> str:
    return embedded._with_database(pg.url, database)


async def make_source(pg: embedded.EmbeddedPostgres, *files: str) -> str:
    name = f"legacy_src_{uuid.uuid4().hex[:10]}"
    async with await psycopg.AsyncConnection.connect(pg.url, autocommit=True) as conn:
        await conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = url_of(pg, name)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        for file in files:
            await conn.execute((HERE / file).read_text())
    return url


async def drop_source(pg: embedded.EmbeddedPostgres, url: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    async with await psycopg.AsyncConnection.connect(pg.url, autocommit=True) as conn:
        await conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(str(name)))
        )


@pytest.fixture
async def old_db(pg: embedded.EmbeddedPostgres, database_url: str) -> AsyncIterator[str]:
    """The URL of a fresh old deployment (Supabase-shaped, old schema, dirty data)."""
    url = await make_source(pg, *FIXTURES)
    try:
        yield url
    finally:
        await drop_source(pg, url)


async def source_execute(url: str, statement: str) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(statement)
