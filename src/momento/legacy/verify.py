"""`momento legacy verify`: compare the old deployment with what was imported here.

The source is staged here as the importer stages it (one snapshot, in a transaction rolled
back at the end: nothing is written on either side). What the source holds that the import
rules keep (rows whose references exist at the source) must be here: users (with their
password hash, unless signing in here rehashed it), profiles, events, memberships, photos,
distinct liked pairs; rows imported before and gone at the source since are differences too;
with files, each imported photo's original must be here and readable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, LiteralString

from psycopg import sql

from momento.legacy import importer
from momento.legacy import source as src
from momento.legacy.report import LISTED
from momento.photos.service import DISPLAY, ORIGINAL, THUMB, key

if TYPE_CHECKING:
    from momento.services import Services


@dataclass
class Difference:
    what: str
    count: int
    examples: list[str] = field(default_factory=list)


@dataclass
class Verification:
    source: str
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)  # kind -> (source, here)
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def render(self) -> str:
        lines = [
            f"{self.source} compared with this server:",
            f"  {'':<10} {'source':>10} {'here':>10}",
        ]
        lines += [f"  {k:<10} {a:>10} {b:>10}" for k, (a, b) in self.counts.items()]
        if self.ok:
            lines.append("no difference")
        for d in self.differences:
            more = " ..." if d.count > len(d.examples) else ""
            lines.append(f"DIFFERENCE: {d.count} {d.what}: {', '.join(d.examples)}{more}")
        return "\n".join(lines)


# Source rows the import keeps, per kind: (kind, the source's keys, is one here?, what a
# missing one is). Events count when their creator is at the source; photos and memberships
# when their event counts and their user is at the source.
CHECKS: list[tuple[str, LiteralString, LiteralString, LiteralString]] = [
    (
        "users",
        "SELECT s.id::text AS key FROM s_users s",
        "EXISTS (SELECT 1 FROM auth.users t WHERE t.id = x.key::uuid)",
        "users missing here",
    ),
    (
        "profiles",
        "SELECT s.id::text AS key FROM s_profiles s"
        " WHERE EXISTS (SELECT 1 FROM s_users u WHERE u.id = s.id)",
        "EXISTS (SELECT 1 FROM public.profiles t WHERE t.id = x.key::uuid)",
        "profiles missing here",
    ),
    (
        "events",
        "SELECT s.id::text AS key FROM s_events s"
        " WHERE EXISTS (SELECT 1 FROM s_users u WHERE u.id = s.creator_id)",
        "EXISTS (SELECT 1 FROM public.events t WHERE t.id = x.key::uuid)",
        "events missing here",
    ),
    (
        "members",
        "SELECT s.event_id::text || '/' || s.user_id::text AS key FROM s_members s"
        " WHERE s.event_id IN "
        " (SELECT e.id FROM s_events e"
        " WHERE EXISTS (SELECT 1 FROM s_users u WHERE u.id = e.creator_id))"
        " AND EXISTS (SELECT 1 FROM s_users u WHERE u.id = s.user_id)",
        "EXISTS (SELECT 1 FROM public.event_members t"
        " WHERE t.event_id = split_part(x.key, '/', 1)::uuid"
        " AND t.user_id = split_part(x.key, '/', 2)::uuid)",
        "memberships missing here",
    ),
    (
        "photos",
        "SELECT s.id::text AS key FROM s_photos s WHERE s.event_id IN "
        " (SELECT e.id FROM s_events e"
        " WHERE EXISTS (SELECT 1 FROM s_users u WHERE u.id = e.creator_id))"
        " AND EXISTS (SELECT 1 FROM s_users u WHERE u.id = s.user_id)",
        "EXISTS (SELECT 1 FROM public.photos t JOIN s_photos p ON p.id = t.id"
        " WHERE t.id = x.key::uuid"
        " AND t.event_id = p.event_id AND t.user_id = p.user_id)",
        "photos missing here (or in another event, of another user)",
    ),
    (
        "likes",
        "SELECT s.photo_id::text || '/' || s.user_id::text AS key FROM s_likes s"
        " JOIN s_photos p ON p.id = s.photo_id"
        " WHERE p.event_id IN "
        " (SELECT e.id FROM s_events e"
        " WHERE EXISTS (SELECT 1 FROM s_users u WHERE u.id = e.creator_id))"
        " AND EXISTS (SELECT 1 FROM s_users u WHERE u.id = p.user_id)"
        " AND EXISTS (SELECT 1 FROM s_users u WHERE u.id = s.user_id)",
        "EXISTS (SELECT 1 FROM public.photo_likes t"
        " WHERE t.photo_id = split_part(x.key, '/', 1)::uuid"
        " AND t.user_id = split_part(x.key, '/', 2)::uuid)",
        "liked pairs missing here",
    ),
]

PASSWORDS: LiteralString = """
SELECT count(*) AS n, (array_agg(s.email ORDER BY s.email))[1:%(listed)s] AS keys
FROM s_users s JOIN auth.users t ON t.id = s.id
WHERE t.encrypted_password IS DISTINCT FROM s.encrypted_password
  AND coalesce(t.encrypted_password, '') NOT LIKE '$argon2id$%%'
"""

FILES: LiteralString = """
SELECT f.photo_id, p.storage_path, f.copied_at FROM momento.legacy_files f
JOIN public.photos p ON p.id = f.photo_id ORDER BY f.photo_id
"""


async def verify(services: Services, source_url: str, *, files: bool = False) -> Verification:
    result = Verification(source=src.describe(source_url))
    async with src.snapshot(source_url) as source:
        shape = await src.read_shape(source)
        if shape.state == "not a Momento database":
            raise importer.LegacyError(
                f"{result.source} has no Momento tables (profiles, events, ...)"
            )
        async with services.db.pool.connection() as target, target.transaction(force_rollback=True):
            await target.execute("SET LOCAL statement_timeout = 0")
            await importer.stage_all(source, target, shape, lambda _: None)
            for kind, wanted, present, what in CHECKS:
                cur = await target.execute(
                    sql.SQL(
                        "SELECT count(*) AS n, count(*) FILTER (WHERE {present}) AS here,"
                        " (array_agg(x.key ORDER BY x.key) FILTER (WHERE NOT {present}))"
                        "[1:%(listed)s] AS missing FROM ({wanted}) x"
                    ).format(present=sql.SQL(present), wanted=sql.SQL(wanted)),
                    {"listed": LISTED},
                )
                row = await cur.fetchone()
                assert row is not None
                result.counts[kind] = (int(row["n"]), int(row["here"]))
                if row["n"] != row["here"]:
                    result.differences.append(
                        Difference(what, int(row["n"] - row["here"]), list(row["missing"]))
                    )
                if kind in importer.KEYS:
                    await _gone(target, kind, result)
            if "encrypted_password" in shape.plain("auth", "users"):
                cur = await target.execute(PASSWORDS, {"listed": LISTED})
                row = await cur.fetchone()
                if row and row["n"]:
                    result.differences.append(
                        Difference(
                            "users whose password hash differs", int(row["n"]), list(row["keys"])
                        )
                    )
            if files:
                cur = await target.execute(FILES)
                stored = await cur.fetchall()
    if files:
        await _files(services, stored, result)
    return result


async def _gone(target: Any, stage: str, result: Verification) -> None:
    kind, key = importer.KEYS[stage]
    cur = await target.execute(
        sql.SQL(
            "SELECT count(*) AS n, (array_agg(r.key ORDER BY r.key))[1:%(listed)s] AS keys"
            " FROM momento.legacy_rows r WHERE r.kind = %(kind)s"
            " AND NOT EXISTS (SELECT 1 FROM {stage} s WHERE {key} = r.key)"
        ).format(stage=sql.Identifier(f"s_{stage}"), key=sql.SQL(key)),
        {"kind": kind, "listed": LISTED},
    )
    row = await cur.fetchone()
    if row and row["n"]:
        result.differences.append(
            Difference(
                f"{stage} imported before and gone at the source since",
                int(row["n"]),
                list(row["keys"]),
            )
        )


async def _files(services: Services, stored: list[Any], result: Verification) -> None:
    missing: list[str] = []
    readable = 0
    for row in stored:
        if row["copied_at"] is None:
            missing.append(str(row["photo_id"]))
            continue
        path = row["storage_path"]
        try:
            # The original read whole; the variants there.
            data = await services.storage.read(key(path, ORIGINAL))
            variants = [await services.storage.stat(key(path, n)) for n in (DISPLAY, THUMB)]
        except Exception:  # any failure to read is the difference reported
            missing.append(str(row["photo_id"]))
            continue
        if data and all(variants):
            readable += 1
        else:
            missing.append(str(row["photo_id"]))
    result.counts["files"] = (len(stored), readable)
    if missing:
        result.differences.append(
            Difference("photo files missing or unreadable here", len(missing), missing[:LISTED])
        )
