"""`momento legacy inspect`: what the old database holds and what would block or lose data.

Read only, in one snapshot (momento.legacy.source); every finding names the rule the import
applies to it (momento.legacy.importer), or what blocks the in-place migration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, LiteralString

import psycopg
from psycopg import sql

from momento.legacy import source as src


@dataclass
class Finding:
    what: str
    count: int
    remedy: str
    examples: list[str] = field(default_factory=list)


@dataclass
class Inspection:
    source: str
    state: str
    pending: list[str] = field(default_factory=list)  # Phase 1 changes not yet made
    counts: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)  # objects that depend on what Phase 1 drops

    def render(self) -> str:
        lines = [f"{self.source}: schema {self.state}"]
        if self.pending and self.state != "old":
            lines.append("Phase 1 changes not made yet:")
            lines += [f"  - {p}" for p in self.pending]
        lines.append("rows:")
        lines += [f"  {t:<28} {n}" for t, n in self.counts.items()]
        found = [f for f in self.findings if f.count]
        lines.append("would be repaired or left out:" if found else "nothing to repair")
        for f in found:
            example = f" (e.g. {', '.join(f.examples)})" if f.examples else ""
            lines.append(f"  {f.count:>8}  {f.what}{example}\n            -> {f.remedy}")
        if self.blockers:
            lines.append("objects that use what Phase 1 drops (block migrate-in-place's drop):")
            lines += [f"  - {b}" for b in self.blockers]
        return "\n".join(lines)


# (schema, table) counted when present.
COUNTED = [("auth", "users"), ("auth", "identities"), ("storage", "objects")] + [
    ("public", t) for t in src.APP_TABLES
]

DEPENDENTS: LiteralString = """
SELECT DISTINCT
  CASE d.classid
    WHEN 'pg_rewrite'::regclass THEN (SELECT 'view ' || r.ev_class::regclass::text
        FROM pg_rewrite r WHERE r.oid = d.objid)
    WHEN 'pg_policy'::regclass THEN (SELECT 'policy ' || quote_ident(p.polname) || ' on '
                                            || p.polrelid::regclass::text
                                     FROM pg_policy p WHERE p.oid = d.objid)
    ELSE pg_describe_object(d.classid, d.objid, d.objsubid)
  END || ' uses ' || c.relname || coalesce('.' || a.attname, '') AS what
FROM pg_depend d
JOIN pg_class c ON c.oid = d.refobjid AND d.refclassid = 'pg_class'::regclass
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.refobjsubid AND d.refobjsubid > 0
WHERE c.relnamespace = 'public'::regnamespace AND d.deptype = 'n'
  AND ((a.attname IS NOT NULL AND (c.relname || '.' || a.attname) = ANY(%(columns)s))
       OR (c.relname = ANY(%(tables)s)))
  -- The policies and constraints of a table Phase 1.6 drops go with it: not blockers.
  AND NOT (d.classid = 'pg_constraint'::regclass AND EXISTS (
    SELECT 1 FROM pg_constraint k WHERE k.oid = d.objid
        AND k.conrelid::regclass::text = ANY(%(qualified)s)))
  AND NOT (d.classid = 'pg_policy'::regclass AND EXISTS (
    SELECT 1 FROM pg_policy k WHERE k.oid = d.objid
        AND k.polrelid::regclass::text = ANY(%(qualified)s)))
ORDER BY 1
"""


def dropped_names(shape: src.Shape) -> tuple[list[str], list[str]]:
    columns = [
        f"{t}.{c}" for t, cols in src.DROPPED_COLUMNS.items() for c in cols if shape.has(t, c)
    ]
    tables = [t for t in src.DROPPED_TABLES if shape.has(t)]
    return columns, tables


async def blockers(conn: psycopg.AsyncConnection[Any], shape: src.Shape) -> list[str]:
    columns, tables = dropped_names(shape)
    cur = await conn.execute(
        DEPENDENTS,
        {
            "columns": columns,
            "tables": tables,
            "qualified": tables + [f"public.{t}" for t in tables],
        },
    )
    return [str(r[0]) for r in await cur.fetchall() if r[0]]


async def _one(
    conn: psycopg.AsyncConnection[Any], query: sql.SQL | sql.Composed
) -> tuple[int, list[str]]:
    """(count, up to 3 examples) of a query returning (n, examples text[])."""
    cur = await conn.execute(query)
    row = await cur.fetchone()
    if row is None:
        return 0, []
    return int(row[0] or 0), [str(x) for x in (row[1] or [])]


def _checks(shape: src.Shape) -> list[tuple[str, sql.SQL | sql.Composed, str]]:
    """(what, query, remedy) for the source's shape; queries give (count, examples)."""
    likes = src.likes_select(shape)
    q = sql.SQL
    checks: list[tuple[str, sql.SQL | sql.Composed, str]] = [
        (
            "duplicate memberships (same event and user)",
            q(
                "SELECT coalesce(sum(n - 1), 0), (array_agg(k))[1:3] FROM ("
                " SELECT m.event_id || '/' || m.user_id AS k, count(*) AS n"
                " FROM public.event_members m"
                " WHERE m.event_id IS NOT NULL AND m.user_id IS NOT NULL"
                " GROUP BY 1 HAVING count(*) > 1) x"
            ),
            "merged, the earliest joined_at kept",
        ),
        (
            "likes pointing to a photo that is gone",
            q(
                "SELECT count(*), (array_agg(l.photo_id::text))[1:3]"
                " FROM ({}) l(photo_id, user_id, c, n)"
                " WHERE NOT EXISTS (SELECT 1 FROM public.photos p WHERE p.id = l.photo_id)"
            ).format(likes),
            "not imported",
        ),
        (
            "likes by a user that is gone",
            q(
                "SELECT count(*), (array_agg(l.user_id::text))[1:3]"
                " FROM ({}) l(photo_id, user_id, c, n)"
                " WHERE NOT EXISTS (SELECT 1 FROM auth.users u WHERE u.id = l.user_id)"
            ).format(likes),
            "not imported",
        ),
        (
            "duplicate likes (same photo and user)",
            q(
                "SELECT coalesce(sum(n - 1), 0), ARRAY[]::text[]"
                " FROM ({}) l(photo_id, user_id, c, n)"
            ).format(likes),
            "one like kept, the earliest time",
        ),
    ]
    if shape.has("photos", "upload_status"):
        checks.append(
            (
                "photos with an upload_status outside pending/uploaded/failed",
                q(
                    "SELECT count(*), (array_agg(DISTINCT upload_status))[1:5] FROM public.photos"
                    " WHERE upload_status IS NOT NULL"
                    " AND upload_status NOT IN ('pending', 'uploaded', 'failed')"
                ),
                "set to 'failed'",
            )
        )
    name_col = shape.first("photos", "username", "captured_by_username")
    if name_col:
        checks.append(
            (
                "photos without a username",
                q(
                    "SELECT count(*), (array_agg(id::text))[1:3] FROM public.photos"
                    " WHERE nullif(btrim({}), '') IS NULL"
                ).format(sql.Identifier(name_col)),
                "filled from the owner's profile",
            )
        )
    checks.append(
        (
            "users without a profile",
            q(
                "SELECT count(*), (array_agg(u.email))[1:3] FROM auth.users u"
                " WHERE NOT EXISTS (SELECT 1 FROM public.profiles p WHERE p.id = u.id)"
            ),
            "given one, username user_<12 hex of the id>",
        )
    )
    checks.append(
        (
            "usernames the current rules refuse ([a-z0-9_.], 3-30, unique case-insensitively)",
            q(
                "SELECT count(*), (array_agg(username))[1:3] FROM public.profiles p"
                " WHERE username IS NULL OR username !~ '^[a-z0-9_.]{3,30}$' OR EXISTS ("
                "  SELECT 1 FROM public.profiles o"
                "  WHERE lower(o.username) = lower(p.username) AND o.id <> p.id"
                "  AND (o.created_at, o.id) < (p.created_at, p.id))"
            ),
            "repaired (lowercased, other characters '_', cut to 30; else user_<id>)",
        )
    )
    title = shape.first("events", "name", "title")
    if title:
        checks.append(
            (
                "event names blank or over 100 characters",
                q(
                    "SELECT count(*), (array_agg(id::text))[1:3] FROM public.events"
                    " WHERE {t} IS NULL OR char_length(btrim({t})) NOT BETWEEN 1 AND 100"
                ).format(t=sql.Identifier(title)),
                "trimmed and cut to 100, blank -> 'Untitled event'",
            )
        )
    checks.append(
        (
            "join codes invalid here (6 of 23456789ABCDEFGHJKMNPQRSTUVWXYZ) or taken twice",
            q(
                "SELECT count(*), (array_agg(join_code))[1:3] FROM public.events e"
                " WHERE join_code IS NULL OR join_code <> upper(btrim(join_code))"
                " OR upper(btrim(join_code)) !~ '^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}$'"
            ),
            "uppercased where that makes them valid, else a new code",
        )
    )
    if shape.has("events", "release_at") and shape.has("events", "starts_at"):
        checks.append(
            (
                "events whose release is missing or not after their start",
                q(
                    "SELECT count(*), (array_agg(id::text))[1:3] FROM public.events"
                    " WHERE release_at IS NULL OR starts_at IS NULL OR release_at <= starts_at"
                ),
                "release from ends_at (else start + 1 day); start moved to 1 hour before release",
            )
        )
    checks.append(
        (
            "events whose creator is gone",
            q(
                "SELECT count(*), (array_agg(id::text))[1:3] FROM public.events e"
                " WHERE NOT EXISTS (SELECT 1 FROM auth.users u WHERE u.id = e.creator_id)"
            ),
            "not imported (nor their photos and members)",
        )
    )
    return checks


async def inspect(source_url: str) -> Inspection:
    async with src.snapshot(source_url) as conn:
        shape = await src.read_shape(conn)
        report = Inspection(source=src.describe(source_url), state=shape.state)
        report.pending = [what for what, still in shape.markers() if still]
        for schema, table in COUNTED:
            if shape.has(table, schema=schema):
                cur = await conn.execute(
                    sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table))
                )
                row = await cur.fetchone()
                report.counts[f"{schema}.{table}"] = int(row[0]) if row else 0
        if report.state == "not a Momento database":
            return report
        for what, query, remedy in _checks(shape):
            n, examples = await _one(conn, query)
            report.findings.append(Finding(what, n, remedy, examples))
        report.blockers = await blockers(conn, shape)
        return report
