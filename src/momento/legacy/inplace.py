"""`momento legacy migrate-in-place` and `rollback`: the design document's Phase 1 (1.1 to 1.6)
run on the old (Supabase) database itself, for operators who stay there for now.

One transaction: either the database ends on the new schema with every row accounted for
(checked before the commit), or it is left exactly as it was. Before changing anything, a
backup schema (`momento_legacy_backup`, no rights for anon, authenticated or PUBLIC) gets a
copy of every table whose rows or columns change, the definitions of what is dropped (columns,
their constraints and indexes, the views and policies that use them), and the tables 1.6 drops
are moved there rather than dropped. The document's traps are handled by the importer's rules:
re-runnable (every step is conditional), duplicate memberships merged (earliest joined_at)
before the composite primary key, unknown upload_status set to 'failed' before the check,
missing usernames filled from profiles, objects that use a dropped column recreated only by
rollback (they are dropped, their definitions kept).

`rollback` puts the old schema and rows back from the backup, and refuses (unless forced)
when the migrated tables were written to since, saying which and how many rows would be lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, LiteralString

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from momento.legacy import inspection
from momento.legacy import source as src

BACKUP = "momento_legacy_backup"
KEPT = ("profiles", "events", "event_members", "photos")
RENAMES = {("events", "title"): "name", ("photos", "captured_by_username"): "username"}
ADDED_COLUMNS = [
    ("profiles", "device_token", "text"),
    ("photos", "width", "integer"),
    ("photos", "height", "integer"),
    ("photos", "is_flagged", "boolean DEFAULT false"),
]
INDEXES = [
    ("idx_photo_likes_user", "CREATE INDEX idx_photo_likes_user ON public.photo_likes (user_id)"),
    (
        "idx_photos_event_time",
        "CREATE INDEX idx_photos_event_time ON public.photos (event_id, captured_at)",
    ),
    (
        "idx_photos_pending",
        "CREATE INDEX idx_photos_pending ON public.photos (upload_status)"
        " WHERE upload_status = 'pending'",
    ),
    (
        "idx_events_join_code",
        "CREATE INDEX idx_events_join_code ON public.events (join_code) WHERE NOT is_deleted",
    ),
]


class InPlaceError(Exception):
    """Said in one line; nothing was changed."""


@dataclass
class InPlaceReport:
    database: str
    dry_run: bool = False
    outcome: str = ""
    repairs: dict[str, int] = field(default_factory=dict)
    steps: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def render(self) -> str:
        head = "Plan (dry run, rolled back)" if self.dry_run else "Migrated in place"
        lines = [f"{head}: {self.database}: {self.outcome}"]
        lines += [f"  - {s}" for s in self.steps]
        if self.repairs:
            lines.append("repaired:")
            lines += [f"  {n:>8}  {what}" for what, n in self.repairs.items() if n]
        if self.counts:
            lines.append("rows after (each accounted for):")
            lines += [f"  {t:<16} {n}" for t, n in self.counts.items()]
        return "\n".join(lines)


Conn = psycopg.AsyncConnection[Any]


async def _rows(conn: Conn, query: Any, params: Any = None) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


async def _one(conn: Conn, query: Any, params: Any = None) -> Any:
    rows = await _rows(conn, query, params)
    return next(iter(rows[0].values())) if rows else None


def _t(name: str, schema: str = "public") -> sql.Identifier:
    return sql.Identifier(schema, name)


COLUMN_DEFS: LiteralString = """
SELECT a.attname AS col, format_type(a.atttypid, a.atttypmod) AS type,
       pg_get_expr(d.adbin, d.adrelid) AS default, a.attnotnull AS notnull
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = %(rel)s::regclass AND a.attname = ANY(%(cols)s) AND NOT a.attisdropped
ORDER BY a.attnum
"""

# Constraints and indexes that use a column about to be dropped (they go with it).
COLUMN_OBJECTS: LiteralString = """
SELECT 'constraint' AS kind, c.conname AS name, pg_get_constraintdef(c.oid) AS definition
FROM pg_constraint c
WHERE c.conrelid = %(rel)s::regclass AND c.conkey && (
  SELECT array_agg(attnum) FROM pg_attribute WHERE attrelid = %(rel)s::regclass
      AND attname = ANY(%(cols)s))
UNION ALL
SELECT 'index', i.relname, pg_get_indexdef(x.indexrelid)
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
WHERE x.indrelid = %(rel)s::regclass AND NOT EXISTS (
    SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
  AND x.indkey::int2[] && (
    SELECT array_agg(attnum) FROM pg_attribute WHERE attrelid = %(rel)s::regclass
        AND attname = ANY(%(cols)s))
"""

VIEWS: LiteralString = """
SELECT c.oid::regclass::text AS name, pg_get_viewdef(c.oid) AS definition,
       coalesce(c.relacl::text[], '{}') AS acl
FROM pg_class c WHERE c.oid = %(name)s::regclass
"""

POLICIES: LiteralString = """
SELECT p.policyname AS name, p.tablename AS tbl, p.permissive, p.cmd, p.roles::text[] AS roles,
       p.qual, p.with_check
FROM pg_policies p WHERE p.schemaname = 'public' AND p.policyname = %(name)s
  AND p.tablename = %(tbl)s
"""

GRANTS: LiteralString = """
SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(a.grantee::regrole::text) END
    AS grantee,
       a.privilege_type AS privilege
FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = %(rel)s::regclass
"""

# What a table holds, to tell whether it was written to since the migration.
CHECKSUM: LiteralString = (
    "SELECT count(*) AS n, md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) AS sum"
    " FROM {} t"
)


async def _checksums(conn: Conn) -> dict[str, list[Any]]:
    sums: dict[str, list[Any]] = {}
    for table in (*KEPT, "photo_likes"):
        rows = await _rows(conn, sql.SQL(CHECKSUM).format(_t(table)))
        sums[table] = [int(rows[0]["n"]), rows[0]["sum"]]
    return sums


async def _accounted(conn: Conn, shape: src.Shape) -> dict[str, int]:
    """What the new schema must hold after: every profile, event and photo; a membership per
    distinct pair; a like per distinct liked pair whose photo and user exist."""
    likes = src.likes_select(shape)
    return {
        "profiles": int(await _one(conn, "SELECT count(*) FROM public.profiles")),
        "events": int(await _one(conn, "SELECT count(*) FROM public.events")),
        "event_members": int(
            await _one(
                conn,
                "SELECT count(*) FROM (SELECT DISTINCT event_id, user_id"
                " FROM public.event_members) x",
            )
        ),
        "photos": int(await _one(conn, "SELECT count(*) FROM public.photos")),
        "photo_likes": int(
            await _one(
                conn,
                sql.SQL(
                    "SELECT count(*) FROM ({}) l(photo_id, user_id, c, n)"
                    " WHERE EXISTS (SELECT 1 FROM public.photos p WHERE p.id = l.photo_id)"
                    " AND EXISTS (SELECT 1 FROM auth.users u WHERE u.id = l.user_id)"
                ).format(likes),
            )
        ),
    }


async def migrate(url: str, *, dry_run: bool = False) -> InPlaceReport:
    report = InPlaceReport(database=src.describe(url), dry_run=dry_run)
    async with await psycopg.AsyncConnection.connect(url) as conn:
        async with conn.transaction(force_rollback=dry_run):
            await conn.execute("SET LOCAL lock_timeout = '30s'")
            shape = await src.read_shape(conn)
            if shape.state == "not a Momento database":
                raise InPlaceError(f"{report.database} has no Momento tables")
            if shape.state == "new":
                report.outcome = "already on the new schema: nothing to do"
                return report
            if await _one(conn, "SELECT to_regnamespace(%s) IS NOT NULL", (BACKUP,)):
                raise InPlaceError(
                    f"the schema {BACKUP} already exists (a migration not rolled back?):"
                    " roll back, or drop it once you no longer need it"
                )
            await conn.execute(
                sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
                    sql.SQL(", ").join(_t(t) for t in KEPT)
                )
            )
            expected = await _accounted(conn, shape)
            await _backup(conn, shape, report)
            await _phase1(conn, shape, report)
            after = {
                t: int(await _one(conn, sql.SQL("SELECT count(*) FROM {}").format(_t(t))))
                for t in expected
            }
            if after != expected:
                raise InPlaceError(
                    f"rows not accounted for (expected {expected}, found {after}): nothing changed"
                )
            report.counts = after
            await conn.execute(
                sql.SQL("INSERT INTO {} (report, checksums) VALUES (%s, %s)").format(
                    _t("migration", BACKUP)
                ),
                (
                    Jsonb({"repairs": report.repairs, "steps": report.steps}),
                    Jsonb(await _checksums(conn)),
                ),
            )
            report.outcome = "now on the new schema"
    return report


async def _backup(conn: Conn, shape: src.Shape, report: InPlaceReport) -> None:
    b = sql.Identifier(BACKUP)
    await conn.execute(sql.SQL("CREATE SCHEMA {}").format(b))
    await conn.execute(
        sql.SQL(
            "CREATE TABLE {}.migration (migrated_at timestamptz NOT NULL DEFAULT now(),"
            " report jsonb NOT NULL, checksums jsonb NOT NULL);"
            ' CREATE TABLE {}.columns (tbl text, col text, type text, "default" text,'
            ' "notnull" boolean, renamed_to text);'
            " CREATE TABLE {}.objects (seq serial, kind text, tbl text, name text,"
            " definition text);"
            " CREATE TABLE {}.added (kind text, tbl text, name text)"
        ).format(b, b, b, b)
    )
    for table in (*KEPT, "photo_likes"):
        if shape.has(table):
            await conn.execute(
                sql.SQL("CREATE TABLE {} AS SELECT * FROM {}").format(_t(table, BACKUP), _t(table))
            )
    report.steps.append(f"backup: {BACKUP} holds the rows and definitions this changes")
    # Definitions of the columns dropped or renamed, and of what uses them.
    for table, cols in src.DROPPED_COLUMNS.items():
        present = [c for c in cols if shape.has(table, c)]
        if not present:
            continue
        for d in await _rows(conn, COLUMN_DEFS, {"rel": f"public.{table}", "cols": present}):
            await conn.execute(
                sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s, %s, %s)").format(
                    _t("columns", BACKUP)
                ),
                (
                    table,
                    d["col"],
                    d["type"],
                    d["default"],
                    d["notnull"],
                    RENAMES.get((table, d["col"])),
                ),
            )
        for o in await _rows(conn, COLUMN_OBJECTS, {"rel": f"public.{table}", "cols": present}):
            await _keep(conn, o["kind"], table, o["name"], o["definition"])
    old_check = await _one(
        conn,
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = 'public.photos'::regclass AND conname = 'photos_upload_status_check'",
    )
    if old_check:
        await _keep(conn, "constraint", "photos", "photos_upload_status_check", old_check)
    # Views and policies that use a dropped column or table: dropped, definitions kept.
    for blocker in await inspection.blockers(conn, shape):
        kind, rest = blocker.split(" ", 1)
        if kind == "view":
            name = rest.split(" uses ")[0]
            if await _kept(conn, "view", name):
                continue  # listed once per column it uses, dropped the first time
            for v in await _rows(conn, VIEWS, {"name": name}):
                grants = await _rows(conn, GRANTS, {"rel": v["name"]})
                definition = f"CREATE VIEW {v['name']} AS {v['definition']}" + "".join(
                    f"; GRANT {g['privilege']} ON {v['name']} TO {g['grantee']}" for g in grants
                )
                await _keep(conn, "view", "", v["name"], definition)
                await conn.execute(sql.SQL("DROP VIEW {}").format(sql.SQL(v["name"])))
                report.steps.append(f"dropped view {v['name']} (it used a dropped column)")
        elif kind == "policy":
            name_part, tail = rest.rsplit(" on ", 1)
            name = name_part.strip('"')
            table = tail.split(" uses ")[0].removeprefix("public.")
            if await _kept(conn, "policy", name):
                continue
            for p in await _rows(conn, POLICIES, {"name": name, "tbl": table}):
                definition = (
                    f"CREATE POLICY {sql.Identifier(name).as_string(conn)} ON public.{table}"
                    f" AS {p['permissive']} FOR {p['cmd']} TO {', '.join(p['roles'])}"
                    + (f" USING ({p['qual']})" if p["qual"] else "")
                    + (f" WITH CHECK ({p['with_check']})" if p["with_check"] else "")
                )
                await _keep(conn, "policy", table, name, definition)
                await conn.execute(
                    sql.SQL("DROP POLICY {} ON {}").format(sql.Identifier(name), _t(table))
                )
                report.steps.append(
                    f"dropped policy {name!r} on {table} (it used a dropped column)"
                )


async def _keep(conn: Conn, kind: str, table: str, name: str, definition: str) -> None:
    await conn.execute(
        sql.SQL("INSERT INTO {} (kind, tbl, name, definition) VALUES (%s, %s, %s, %s)").format(
            _t("objects", BACKUP)
        ),
        (kind, table, name, definition),
    )


async def _kept(conn: Conn, kind: str, name: str) -> bool:
    return bool(
        await _one(
            conn,
            sql.SQL("SELECT count(*) FROM {} WHERE kind = %s AND name = %s").format(
                _t("objects", BACKUP)
            ),
            (kind, name),
        )
    )


async def _added(conn: Conn, kind: str, table: str, name: str) -> None:
    await conn.execute(
        sql.SQL("INSERT INTO {} VALUES (%s, %s, %s)").format(_t("added", BACKUP)),
        (kind, table, name),
    )


async def _count(conn: Conn, report: InPlaceReport, what: str, query: Any) -> None:
    cur = await conn.execute(query)
    report.repairs[what] = report.repairs.get(what, 0) + max(cur.rowcount, 0)


async def _phase1(conn: Conn, shape: src.Shape, report: InPlaceReport) -> None:
    # 1.1 photo_likes
    if not shape.has("photo_likes"):
        await conn.execute(
            "CREATE TABLE public.photo_likes ("
            " photo_id uuid NOT NULL REFERENCES public.photos(id) ON DELETE CASCADE,"
            " user_id uuid NOT NULL REFERENCES auth.users(id),"
            " created_at timestamptz DEFAULT now(), PRIMARY KEY (photo_id, user_id))"
        )
        await _added(conn, "table", "photo_likes", "photo_likes")
        report.steps.append("1.1 created photo_likes")
    # 1.2 likes: distinct liked pairs whose photo and user exist, earliest time.
    if shape.has("photo_interactions"):
        await _count(
            conn,
            report,
            "likes copied from photo_interactions (distinct, photo and user present)",
            sql.SQL(
                "INSERT INTO public.photo_likes (photo_id, user_id, created_at)"
                " SELECT l.photo_id, l.user_id, l.created_at"
                " FROM ({}) l(photo_id, user_id, created_at, n)"
                " WHERE EXISTS (SELECT 1 FROM public.photos p WHERE p.id = l.photo_id)"
                " AND EXISTS (SELECT 1 FROM auth.users u WHERE u.id = l.user_id)"
                " ON CONFLICT DO NOTHING"
            ).format(src.likes_select(shape)),
        )
    # 1.3 columns, and the statuses the new check refuses.
    for table, col, type_ in ADDED_COLUMNS:
        if not shape.has(table, col):
            await conn.execute(
                sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
                    _t(table),
                    sql.Identifier(col),
                    sql.SQL(type_),
                )
            )
            await _added(conn, "column", table, col)
    await _count(
        conn,
        report,
        "unknown upload_status set to 'failed'",
        "UPDATE public.photos SET upload_status = 'failed'"
        " WHERE upload_status IS NOT NULL"
        " AND upload_status NOT IN ('pending', 'uploaded', 'failed')",
    )
    await conn.execute(
        "ALTER TABLE public.photos DROP CONSTRAINT IF EXISTS photos_upload_status_check;"
        " ALTER TABLE public.photos ADD CONSTRAINT photos_upload_status_check"
        " CHECK (upload_status IN ('pending', 'uploaded', 'failed'))"
    )
    await _added(conn, "constraint", "photos", "photos_upload_status_check")
    # Usernames of photos, from profiles (else user_<id>), before the rename.
    name_col = shape.first("photos", "username", "captured_by_username")
    if name_col:
        await _count(
            conn,
            report,
            "photo usernames filled from profiles",
            sql.SQL(
                "UPDATE public.photos p SET {c} = coalesce("
                " (SELECT pr.username FROM public.profiles pr WHERE pr.id = p.user_id),"
                " 'user_' || substr(replace(p.user_id::text, '-', ''), 1, 12))"
                " WHERE nullif(btrim(p.{c}), '') IS NULL"
            ).format(c=sql.Identifier(name_col)),
        )
    # 1.4 indexes
    for name, create in INDEXES:
        if not await _one(conn, "SELECT to_regclass(%s) IS NOT NULL", (f"public.{name}",)):
            await conn.execute(create)
            await _added(conn, "index", "", name)
    # Duplicate memberships merged (earliest joined_at kept) before the composite key.
    if shape.has("event_members", "id"):
        await _count(
            conn,
            report,
            "duplicate memberships merged (earliest joined_at kept)",
            "DELETE FROM public.event_members m USING ("
            " SELECT id, row_number() OVER (PARTITION BY event_id, user_id"
            "  ORDER BY joined_at NULLS LAST, id) AS nth FROM public.event_members) d"
            " WHERE d.id = m.id AND d.nth > 1",
        )
    # 1.5 drops and renames (each only if still to do).
    for table, cols in src.DROPPED_COLUMNS.items():
        for col in cols:
            if not shape.has(table, col):
                continue
            renamed = RENAMES.get((table, col))
            if renamed and not shape.has(table, renamed):
                await conn.execute(
                    sql.SQL("ALTER TABLE {} RENAME COLUMN {} TO {}").format(
                        _t(table), sql.Identifier(col), sql.Identifier(renamed)
                    )
                )
            else:
                await conn.execute(
                    sql.SQL("ALTER TABLE {} DROP COLUMN {}").format(_t(table), sql.Identifier(col))
                )
    report.steps.append("1.2-1.5 likes copied, columns added, dropped and renamed")
    if not await _one(
        conn,
        "SELECT count(*) FROM pg_constraint WHERE conrelid = 'public.event_members'::regclass"
        " AND contype = 'p'",
    ):
        # The key makes its columns NOT NULL: what rollback puts back as it was.
        for nullable in await _rows(
            conn,
            "SELECT attname FROM pg_attribute WHERE attrelid = 'public.event_members'::regclass"
            " AND attname IN ('event_id', 'user_id') AND NOT attnotnull",
        ):
            await _added(conn, "notnull", "event_members", nullable["attname"])
        await conn.execute("ALTER TABLE public.event_members ADD PRIMARY KEY (event_id, user_id)")
        await _added(conn, "constraint", "event_members", "event_members_pkey")
    # 1.6 the unused tables, moved into the backup (as they are: rows, keys, indexes).
    for table in src.DROPPED_TABLES:
        if shape.has(table):
            for g in await _rows(conn, GRANTS, {"rel": f"public.{table}"}):
                await _keep(
                    conn,
                    "grant",
                    table,
                    "",
                    f"GRANT {g['privilege']} ON public.{table} TO {g['grantee']}",
                )
            await conn.execute(
                sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(_t(table), sql.Identifier(BACKUP))
            )
    report.steps.append(f"1.6 {', '.join(src.DROPPED_TABLES)} moved into {BACKUP}")
    # Nobody but the owner reaches the backup.
    await conn.execute(
        sql.SQL(
            "REVOKE ALL ON SCHEMA {b} FROM PUBLIC;"
            " REVOKE ALL ON ALL TABLES IN SCHEMA {b} FROM PUBLIC;"
            " REVOKE ALL ON ALL SEQUENCES IN SCHEMA {b} FROM PUBLIC"
        ).format(b=sql.Identifier(BACKUP))
    )
    for role in ("anon", "authenticated"):
        if await _one(conn, "SELECT count(*) FROM pg_roles WHERE rolname = %s", (role,)):
            await conn.execute(
                sql.SQL(
                    "REVOKE ALL ON SCHEMA {b} FROM {r};"
                    " REVOKE ALL ON ALL TABLES IN SCHEMA {b} FROM {r};"
                    " REVOKE ALL ON ALL SEQUENCES IN SCHEMA {b} FROM {r}"
                ).format(b=sql.Identifier(BACKUP), r=sql.Identifier(role))
            )


# --- rollback -------------------------------------------------------------------------------


async def rollback(url: str, *, force: bool = False) -> list[str]:
    """Put the old schema and rows back; returns what was done (and, forced, what was lost)."""
    said: list[str] = []
    async with await psycopg.AsyncConnection.connect(url) as conn, conn.transaction():
        if not await _one(conn, "SELECT to_regclass(%s) IS NOT NULL", (f"{BACKUP}.migration",)):
            raise InPlaceError(f"no backup ({BACKUP}) in this database: nothing to roll back")
        record = (await _rows(conn, sql.SQL("SELECT * FROM {}").format(_t("migration", BACKUP))))[0]
        now = await _checksums(conn)
        written = [
            f"{t}: {record['checksums'][t][0]} rows at the migration, {n} now, and changed since"
            for t, (n, digest) in now.items()
            if record["checksums"].get(t) != [n, digest]
        ]
        if written and not force:
            raise InPlaceError(
                "the migrated tables were written to since the migration "
                f"({record['migrated_at']:%Y-%m-%d %H:%M}); rolling back would lose it: "
                + "; ".join(written)
                + ". Run with --force to roll back anyway."
            )
        said += [f"lost (forced): {w}" for w in written]
        await conn.execute(
            sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
                sql.SQL(", ").join(_t(t) for t in (*KEPT, "photo_likes"))
            )
        )
        await _undo(conn, said)
        await conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(BACKUP)))
        said.append(f"{BACKUP} dropped: the database is as it was before the migration")
    return said


async def _undo(conn: Conn, said: list[str]) -> None:
    bk = sql.Identifier(BACKUP)
    # Undone keys first: a column stays NOT NULL while a primary key holds it.
    added = await _rows(
        conn,
        sql.SQL(
            "SELECT * FROM {}.added ORDER BY CASE kind WHEN 'constraint' THEN 0 WHEN 'index' THEN 1"
            " ELSE 2 END"
        ).format(bk),
    )
    for a in added:
        if a["kind"] == "index":
            await conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(_t(a["name"])))
        elif a["kind"] == "constraint":
            await conn.execute(
                sql.SQL("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}").format(
                    _t(a["tbl"]), sql.Identifier(a["name"])
                )
            )
        elif a["kind"] == "notnull":
            await conn.execute(
                sql.SQL("ALTER TABLE {} ALTER COLUMN {} DROP NOT NULL").format(
                    _t(a["tbl"]), sql.Identifier(a["name"])
                )
            )
        elif a["kind"] == "column":
            await conn.execute(
                sql.SQL("ALTER TABLE {} DROP COLUMN IF EXISTS {}").format(
                    _t(a["tbl"]), sql.Identifier(a["name"])
                )
            )
    if any(a["kind"] == "table" and a["name"] == "photo_likes" for a in added):
        await conn.execute("DROP TABLE public.photo_likes")
    columns = await _rows(conn, sql.SQL("SELECT * FROM {}.columns").format(bk))
    for c in columns:
        if c["renamed_to"]:
            await conn.execute(
                sql.SQL("ALTER TABLE {} RENAME COLUMN {} TO {}").format(
                    _t(c["tbl"]), sql.Identifier(c["renamed_to"]), sql.Identifier(c["col"])
                )
            )
        else:
            await conn.execute(
                sql.SQL("ALTER TABLE {} ADD COLUMN {} {}{}").format(
                    _t(c["tbl"]),
                    sql.Identifier(c["col"]),
                    sql.SQL(c["type"]),
                    sql.SQL(f" DEFAULT {c['default']}" if c["default"] else ""),
                )
            )
    # The rows, from the backup: every column back as it was.
    for table in KEPT:
        cols = [
            r["attname"]
            for r in await _rows(
                conn,
                "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
                " AND NOT attisdropped ORDER BY attnum",
                (f"{BACKUP}.{table}",),
            )
        ]
        listed = sql.SQL(", ").join(map(sql.Identifier, cols))
        if table == "event_members":
            # Keyed by the id Phase 1.5 dropped: the memberships as they were, duplicates too.
            await conn.execute("DELETE FROM public.event_members")
            await conn.execute(
                sql.SQL("INSERT INTO {} ({c}) SELECT {c} FROM {}").format(
                    _t(table), _t(table, BACKUP), c=listed
                )
            )
            continue
        sets = sql.SQL(", ").join(
            sql.SQL("{} = b.{}").format(sql.Identifier(c), sql.Identifier(c))
            for c in cols
            if c != "id"
        )
        await conn.execute(
            sql.SQL("UPDATE {} t SET {} FROM {} b WHERE t.id = b.id").format(
                _t(table), sets, _t(table, BACKUP)
            )
        )
        await conn.execute(
            sql.SQL(
                "DELETE FROM {} t WHERE NOT EXISTS (SELECT 1 FROM {} b WHERE b.id = t.id)"
            ).format(_t(table), _t(table, BACKUP))
        )
        await conn.execute(
            sql.SQL(
                "INSERT INTO {} ({c}) SELECT {c} FROM {} b"
                " WHERE NOT EXISTS (SELECT 1 FROM {} t WHERE t.id = b.id)"
            ).format(_t(table), _t(table, BACKUP), _t(table), c=listed)
        )
    for c in columns:
        if c["notnull"] and not c["renamed_to"]:
            await conn.execute(
                sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET NOT NULL").format(
                    _t(c["tbl"]), sql.Identifier(c["col"])
                )
            )
    if not any(a["kind"] == "table" for a in added) and await _one(
        conn, "SELECT to_regclass(%s) IS NOT NULL", (f"{BACKUP}.photo_likes",)
    ):
        await conn.execute("DELETE FROM public.photo_likes")
        await conn.execute(
            sql.SQL("INSERT INTO public.photo_likes SELECT * FROM {}.photo_likes").format(bk)
        )
    # The tables 1.6 dropped, back where they were, then what used the dropped columns.
    for table in src.DROPPED_TABLES:
        if await _one(conn, "SELECT to_regclass(%s) IS NOT NULL", (f"{BACKUP}.{table}",)):
            await conn.execute(
                sql.SQL("ALTER TABLE {} SET SCHEMA public").format(_t(table, BACKUP))
            )
    objects = await _rows(conn, sql.SQL("SELECT * FROM {}.objects ORDER BY seq").format(bk))
    for o in objects:
        if o["kind"] == "constraint":
            await conn.execute(
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                    _t(o["tbl"]), sql.Identifier(o["name"]), sql.SQL(o["definition"])
                )
            )
        else:  # index, view, policy, grant: their own statements
            await conn.execute(o["definition"])
    said.append(
        f"restored {', '.join(KEPT)}; moved back {', '.join(src.DROPPED_TABLES)};"
        f" recreated {len(objects)} view(s), policies, constraints, indexes and grants"
    )
