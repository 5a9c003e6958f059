"""Schema migrations: ordered `.sql` files, each applied once, in its own transaction.

Files live in `momento/sql/migrations/NNNN_name.sql` and are never edited once released; a
checksum of each applied file is kept so an edited file is reported instead of silently
ignored. A transaction-level advisory lock serialises concurrent migrators: two servers
starting at once cannot both apply the same file; the second waits, then sees it applied.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql

from momento.db.pool import SESSION_OPTIONS

# Any constant works as long as every migrator uses the same one ("momento" in ASCII).
MIGRATION_LOCK_ID = 0x6D6F6D656E746F

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True)
class MigrationState:
    migration: Migration
    applied_at: datetime | None
    checksum_ok: bool


class MigrationError(Exception):
    """A migration could not be applied."""


def load_migrations() -> list[Migration]:
    folder = resources.files("momento") / "sql" / "migrations"
    found = []
    for entry in folder.iterdir():
        m = _NAME.match(entry.name)
        if m:
            found.append(Migration(m.group(1), m.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda mig: mig.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions in {versions}")
    return found


_BOOKKEEPING = """
CREATE SCHEMA IF NOT EXISTS momento;
CREATE TABLE IF NOT EXISTS momento.schema_migrations (
  version text PRIMARY KEY,
  name text NOT NULL,
  checksum text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);
"""


async def _applied(conn: psycopg.AsyncConnection[Any]) -> dict[str, tuple[str, datetime]]:
    cur = await conn.execute("SELECT to_regclass('momento.schema_migrations') IS NOT NULL")
    row = await cur.fetchone()
    if not row or not _first(row):
        return {}
    cur = await conn.execute("SELECT version, checksum, applied_at FROM momento.schema_migrations")
    out: dict[str, tuple[str, datetime]] = {}
    for r in await cur.fetchall():
        v, c, a = _values(r)
        out[str(v)] = (str(c), a)
    return out


def _first(row: Any) -> Any:
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


def _values(row: Any) -> tuple[Any, ...]:
    return tuple(row.values()) if isinstance(row, dict) else tuple(row)


async def status(url: str, migrations: list[Migration] | None = None) -> list[MigrationState]:
    async with await psycopg.AsyncConnection.connect(
        url, autocommit=True, options=SESSION_OPTIONS
    ) as conn:
        applied = await _applied(conn)
    return [
        MigrationState(
            m,
            applied[m.version][1] if m.version in applied else None,
            m.version not in applied or applied[m.version][0] == m.checksum,
        )
        for m in (load_migrations() if migrations is None else migrations)
    ]


async def migrate(url: str, migrations: list[Migration] | None = None) -> list[Migration]:
    """Apply every pending migration (the package's, unless given); return those applied."""
    done: list[Migration] = []
    async with await psycopg.AsyncConnection.connect(
        url, autocommit=True, options=SESSION_OPTIONS
    ) as conn:
        for mig in load_migrations() if migrations is None else migrations:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_ID,))
                await conn.execute(_BOOKKEEPING)
                applied = await _applied(conn)
                if mig.version in applied:
                    if applied[mig.version][0] != mig.checksum:
                        raise MigrationError(
                            f"migration {mig.version}_{mig.name} was edited after it was applied"
                        )
                    continue
                try:
                    await conn.execute(sql.SQL(mig.sql))
                except psycopg.Error as exc:
                    raise MigrationError(
                        f"migration {mig.version}_{mig.name} failed: {exc}"
                    ) from exc
                await conn.execute(
                    "INSERT INTO momento.schema_migrations (version, name, checksum)"
                    " VALUES (%s, %s, %s)",
                    (mig.version, mig.name, mig.checksum),
                )
                done.append(mig)
    return done
