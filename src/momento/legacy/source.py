"""The old database: a read-only connection in one REPEATABLE READ snapshot, what shape its
schema has (old, new, partly migrated), and the SELECTs that read it in the importer's terms."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

# What Phase 1.5 drops (or renames) per table, and what 1.6 drops: their presence marks the
# old schema.
DROPPED_COLUMNS: dict[str, tuple[str, ...]] = {
    "profiles": ("first_name", "last_name", "is_premium", "total_events_joined", "updated_at"),
    "events": (
        "is_private",
        "is_corporate",
        "max_photos_per_user",
        "location_name",
        "location_lat",
        "location_lng",
        "description",
        "member_count",
        "photo_count",
        "is_revealed",
        "reveal_job_scheduled",
        "ends_at",
        "title",
    ),
    "photos": ("device_type", "file_size", "is_revealed", "reactions", "captured_by_username"),
    "event_members": ("id", "invited_by", "role"),
}
DROPPED_TABLES = ("user_keepsakes", "keepsakes", "user_reveal_progress", "photo_interactions")
APP_TABLES = ("profiles", "events", "event_members", "photos", "photo_likes", *DROPPED_TABLES)

COLUMNS = """
SELECT n.nspname AS schema, c.relname AS table, a.attname AS column, a.attgenerated <> ''
    AS generated
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname IN ('public', 'auth', 'storage') AND c.relkind IN ('r', 'p', 'v')
  AND a.attnum > 0 AND NOT a.attisdropped
"""


def describe(url: str) -> str:
    """host:port/database of a connection URL: what reports and logs name (never a password)."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "(the source)"
    host = str(info.get("host") or "localhost")
    if host.startswith("/"):
        host = "local socket"
    return f"{host}:{info.get('port') or 5432}/{info.get('dbname') or ''}"


@dataclass
class Shape:
    """The tables and columns the source has (public, auth, storage), generated columns apart."""

    columns: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    generated: set[tuple[str, str, str]] = field(default_factory=set)

    def has(self, table: str, column: str | None = None, schema: str = "public") -> bool:
        cols = self.columns.get((schema, table))
        if cols is None:
            return False
        return column is None or column in cols

    def plain(self, schema: str, table: str) -> list[str]:
        """The columns that hold data (not generated)."""
        return [
            c
            for c in self.columns.get((schema, table), [])
            if (schema, table, c) not in self.generated
        ]

    def markers(self) -> list[tuple[str, bool]]:
        """(what, still old?) for every change Phase 1 makes."""
        found: list[tuple[str, bool]] = [("table photo_likes exists", not self.has("photo_likes"))]
        found += [(f"table {t} dropped", self.has(t)) for t in DROPPED_TABLES]
        for table, cols in DROPPED_COLUMNS.items():
            for col in cols:
                found.append((f"{table}.{col} dropped or renamed", self.has(table, col)))
        found += [
            ("profiles.device_token added", not self.has("profiles", "device_token")),
            ("photos.width/height added", not self.has("photos", "width")),
            ("photos.is_flagged added", not self.has("photos", "is_flagged")),
        ]
        return found

    @property
    def state(self) -> str:
        """'old', 'new' or 'partly migrated' (some of Phase 1 done); 'not momento' without it."""
        if not all(self.has(t) for t in ("profiles", "events", "event_members", "photos")):
            return "not a Momento database"
        old = [still for _, still in self.markers()]
        if all(old):
            return "old"
        if not any(old):
            return "new"
        return "partly migrated"

    def first(self, table: str, *candidates: str) -> str | None:
        return next((c for c in candidates if self.has(table, c)), None)


async def read_shape(conn: psycopg.AsyncConnection[Any]) -> Shape:
    shape = Shape()
    cur = await conn.execute(COLUMNS)
    for row in await cur.fetchall():
        schema, table, column, generated = row
        shape.columns.setdefault((schema, table), []).append(column)
        if generated:
            shape.generated.add((schema, table, column))
    return shape


@asynccontextmanager
async def snapshot(url: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A connection to the source inside one REPEATABLE READ, READ ONLY transaction: every read
    of a run sees the same instant, and nothing can be written there. Rolled back at the end."""
    conn = await psycopg.AsyncConnection.connect(url, autocommit=False)
    try:
        await conn.set_isolation_level(psycopg.IsolationLevel.REPEATABLE_READ)
        await conn.set_read_only(True)
        await conn.execute("SET LOCAL statement_timeout = 0")
        # The likes are grouped per photo and user there: millions of rows, hashed in memory.
        await conn.execute("SET LOCAL work_mem = '256MB'")
        yield conn
    finally:
        await conn.rollback()
        await conn.close()


async def fetch(conn: psycopg.AsyncConnection[Any], query: Any) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query)
        return await cur.fetchall()


def _col(shape: Shape, table: str, alias: str, cast: str, *candidates: str) -> sql.Composable:
    """The first of `candidates` the source has, cast; NULL when it has none."""
    found = shape.first(table, *candidates)
    if found is None:
        return sql.SQL("NULL::{}").format(sql.SQL(cast))
    return sql.SQL("{}.{}::{}").format(sql.Identifier(alias), sql.Identifier(found), sql.SQL(cast))


def _digested(inner: sql.Composable) -> sql.Composed:
    return sql.SQL("SELECT x.*, md5(x::text) AS digest FROM ({}) x").format(inner)


def users_select(shape: Shape, columns: list[str]) -> sql.Composed:
    cols = sql.SQL(", ").join(sql.SQL("u.{}").format(sql.Identifier(c)) for c in columns)
    return _digested(sql.SQL("SELECT {} FROM auth.users u").format(cols))


def identities_select(columns: list[str]) -> sql.Composed:
    cols = sql.SQL(", ").join(sql.SQL("i.{}").format(sql.Identifier(c)) for c in columns)
    return sql.SQL("SELECT {} FROM auth.identities i").format(cols)


def profiles_select(shape: Shape) -> sql.Composed:
    if shape.has("profiles", "first_name") and shape.has("profiles", "last_name"):
        # An old profile without a display name shows its first and last names.
        display = sql.SQL(
            "coalesce(nullif(btrim(p.display_name), ''),"
            " nullif(btrim(concat_ws(' ', p.first_name, p.last_name)), ''))"
        )
    else:
        display = sql.SQL("p.display_name")
    return _digested(
        sql.SQL(
            "SELECT p.id::uuid, p.username::text, {display}::text, {avatar}, {token}, {created}"
            " FROM public.profiles p"
        ).format(
            display=display,
            avatar=_col(shape, "profiles", "p", "text", "avatar_url"),
            token=_col(shape, "profiles", "p", "text", "device_token"),
            created=_col(shape, "profiles", "p", "timestamptz", "created_at"),
        )
    )


def events_select(shape: Shape) -> sql.Composed:
    return _digested(
        sql.SQL(
            "SELECT e.id::uuid, {name}, e.join_code::text, e.creator_id::uuid,"
            " {starts}, {release}, {ends}, {premium}, {deleted}, {created} FROM public.events e"
        ).format(
            name=_col(shape, "events", "e", "text", "name", "title"),
            starts=_col(shape, "events", "e", "timestamptz", "starts_at"),
            release=_col(shape, "events", "e", "timestamptz", "release_at"),
            ends=_col(shape, "events", "e", "timestamptz", "ends_at"),
            premium=_col(shape, "events", "e", "boolean", "is_premium"),
            deleted=_col(shape, "events", "e", "boolean", "is_deleted"),
            created=_col(shape, "events", "e", "timestamptz", "created_at"),
        )
    )


def members_select(shape: Shape) -> sql.Composed:
    # Duplicates are merged here, keeping the earliest joined_at; `copies` counts them.
    return _digested(
        sql.SQL(
            "SELECT m.event_id::uuid, m.user_id::uuid, min({joined}) AS joined_at,"
            " count(*)::int AS copies FROM public.event_members m"
            " WHERE m.event_id IS NOT NULL AND m.user_id IS NOT NULL GROUP BY 1, 2"
        ).format(joined=_col(shape, "event_members", "m", "timestamptz", "joined_at"))
    )


def photos_select(shape: Shape) -> sql.Composed:
    return _digested(
        sql.SQL(
            "SELECT p.id::uuid, p.event_id::uuid, p.user_id::uuid, p.storage_path::text,"
            " {captured}, {username}, {status}, {width}, {height}, {flagged}"
            " FROM public.photos p"
        ).format(
            captured=_col(shape, "photos", "p", "timestamptz", "captured_at"),
            username=_col(shape, "photos", "p", "text", "username", "captured_by_username"),
            status=_col(shape, "photos", "p", "text", "upload_status"),
            width=_col(shape, "photos", "p", "integer", "width"),
            height=_col(shape, "photos", "p", "integer", "height"),
            flagged=_col(shape, "photos", "p", "boolean", "is_flagged"),
        )
    )


def likes_select(shape: Shape) -> sql.Composed:
    """Distinct liked pairs (Phase 1.2: photo_interactions with status 'liked', and photo_likes
    where the source has it), the earliest time kept; `copies` counts the rows behind a pair."""
    parts: list[sql.Composable] = []
    if shape.has("photo_interactions"):
        parts.append(
            sql.SQL(
                "SELECT photo_id::uuid, user_id::uuid, {created} AS created_at"
                " FROM public.photo_interactions i WHERE i.status = 'liked'"
            ).format(created=_col(shape, "photo_interactions", "i", "timestamptz", "created_at"))
        )
    if shape.has("photo_likes"):
        parts.append(
            sql.SQL(
                "SELECT photo_id::uuid, user_id::uuid, {created} AS created_at"
                " FROM public.photo_likes i"
            ).format(created=_col(shape, "photo_likes", "i", "timestamptz", "created_at"))
        )
    if not parts:
        return sql.SQL("SELECT NULL::uuid, NULL::uuid, NULL::timestamptz, 0 WHERE false").format()
    return sql.SQL(
        "SELECT photo_id, user_id, min(created_at), count(*)::int FROM ({}) l"
        " WHERE photo_id IS NOT NULL AND user_id IS NOT NULL GROUP BY 1, 2"
    ).format(sql.SQL(" UNION ALL ").join(parts))
