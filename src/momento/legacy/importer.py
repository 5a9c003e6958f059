"""`momento legacy import`: copy an old deployment's rows into this server, by stated rules.

The source is read in one REPEATABLE READ, READ ONLY snapshot (momento.legacy.source) and never
written. Each table streams from it with COPY into a temporary staging table here, then one
INSERT ... SELECT applies the rules; every stage runs in ONE transaction on this server, so a
failure anywhere leaves nothing of the run visible and a re-run starts it again. --dry-run runs
the same transaction and rolls it back: the report is the one a real run would print.

Re-runs: momento.legacy_rows keeps each imported row's source key and a digest of it; only rows
not in it are imported, those whose digest changed or that are gone at the source are listed in
the report and left as they are here. Likes (5 per photo and more) are not kept there: a pair
is new when its photo is new, or when it was liked at the source after the previous snapshot.

The repair rules (the README's "Moving from Supabase" lists them):
- memberships: duplicates merged, the earliest joined_at kept; an event's creator who was not
  a member becomes one (this server's rule), joined at the event's creation;
- photos: an upload_status outside pending/uploaded/failed becomes 'failed' (none: 'pending');
  the username comes from the owner's profile (this server's trigger), filled where it was
  missing; the storage path becomes this server's events/<event>/<photo>;
- usernames: lowercased, characters outside [a-z0-9_.] become '_', cut to 30; shorter than 3
  or taken (case-insensitively, the earliest profile keeps it) -> user_<12 hex of the id>;
- a display name is cut to 60 characters (blank: none); an avatar URL over 2048 characters,
  a device token that is not hex, are dropped;
- event names: trimmed, cut to 100 characters, blank -> 'Untitled event'; a join code that
  is not 6 characters of this server's alphabet once uppercased, or taken -> a new code;
  no release time -> ends_at (else the start + 1 day); a release not after the start -> the
  start moved to 1 hour before the release;
- rows pointing at what is missing (a like of a photo or by a user that is gone, a photo or
  membership of an event or user not imported) are not imported, counted by reason;
- a user whose email (case-insensitively) or id is already taken here is not imported (nor
  anything that depends on them), counted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, LiteralString

import psycopg
from psycopg import sql

from momento import logs
from momento.legacy import source as src
from momento.legacy.report import LISTED, Listing, Report

if TYPE_CHECKING:
    from momento.services import Services

log = logs.get("momento.legacy")

# Held for the transaction: two imports at once would both see the same rows as new.
LOCK = "SELECT pg_advisory_xact_lock(hashtext('momento.legacy.import'))"

Progress = Callable[[str], None]

TARGET_COLUMNS: LiteralString = """
SELECT column_name, is_nullable = 'NO' AS required, column_default, is_generated = 'ALWAYS'
    AS generated
FROM information_schema.columns WHERE table_schema = %s AND table_name = %s
ORDER BY ordinal_position
"""

STAGES: dict[str, LiteralString] = {
    "profiles": "CREATE TEMP TABLE s_profiles (id uuid, username text, display_name text,"
    " avatar_url text, device_token text, created_at timestamptz, digest text) ON COMMIT DROP",
    "events": "CREATE TEMP TABLE s_events (id uuid, name text, join_code text, creator_id uuid,"
    " starts_at timestamptz, release_at timestamptz, ends_at timestamptz, is_premium boolean,"
    " is_deleted boolean, created_at timestamptz, digest text) ON COMMIT DROP",
    "members": "CREATE TEMP TABLE s_members (event_id uuid, user_id uuid, joined_at timestamptz,"
    " copies int, digest text) ON COMMIT DROP",
    "photos": "CREATE TEMP TABLE s_photos (id uuid, event_id uuid, user_id uuid, storage_path text,"
    " captured_at timestamptz, username text, upload_status text, width int, height int,"
    " is_flagged boolean, digest text) ON COMMIT DROP",
    "likes": "CREATE TEMP TABLE s_likes (photo_id uuid, user_id uuid, created_at timestamptz,"
    " copies int) ON COMMIT DROP",
}

# The source key of a staged row, as momento.legacy_rows keeps it.
KEYS: dict[str, tuple[str, LiteralString]] = {
    "users": ("user", "s.id::text"),
    "profiles": ("profile", "s.id::text"),
    "events": ("event", "s.id::text"),
    "members": ("member", "s.event_id::text || '/' || s.user_id::text"),
    "photos": ("photo", "s.id::text"),
}


async def copy_between(
    source: psycopg.AsyncConnection[Any],
    query: sql.Composable,
    target: psycopg.AsyncConnection[Any],
    table: str,
) -> None:
    """Stream the rows of `query` (source) into `table` (target) with COPY, text format."""
    async with source.cursor().copy(sql.SQL("COPY ({}) TO STDOUT").format(query)) as out:
        async with target.cursor().copy(
            sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(table))
        ) as into:
            async for chunk in out:
                await into.write(chunk)


async def _value(conn: psycopg.AsyncConnection[Any], query: Any, params: Any = None) -> Any:
    cur = await conn.execute(query, params)
    row = await cur.fetchone()
    assert row is not None
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


async def _counts(
    conn: psycopg.AsyncConnection[Any], query: Any, params: Any = None
) -> dict[str, int]:
    cur = await conn.execute(query, params)
    row = await cur.fetchone()
    assert row is not None
    return {k: int(v or 0) for k, v in dict(row).items()}


async def auth_columns(
    target: psycopg.AsyncConnection[Any], shape: src.Shape, table: str
) -> tuple[list[str], dict[str, str]]:
    """The columns of auth.<table> both sides have (generated ones apart), and for those this
    server requires, the default that stands in for a NULL at the source."""
    cur = await target.execute(TARGET_COLUMNS, ("auth", table))
    rows = await cur.fetchall()
    theirs = set(shape.plain("auth", table))
    cols = [r["column_name"] for r in rows if not r["generated"] and r["column_name"] in theirs]
    defaults = {
        r["column_name"]: r["column_default"]
        for r in rows
        if r["required"] and r["column_default"] and r["column_name"] in cols
    }
    return cols, defaults


async def stage_users(
    source: psycopg.AsyncConnection[Any], target: psycopg.AsyncConnection[Any], shape: src.Shape
) -> tuple[list[str], dict[str, str], list[str]]:
    cols, defaults = await auth_columns(target, shape, "users")
    if "id" not in cols:
        raise LegacyError("the source has no auth.users table: is it a Supabase database?")
    listed = sql.SQL(", ").join(map(sql.Identifier, cols))
    await target.execute(
        sql.SQL(
            "CREATE TEMP TABLE s_users ON COMMIT DROP AS SELECT {} FROM auth.users WITH NO DATA"
        ).format(listed)
    )
    await target.execute("ALTER TABLE s_users ADD COLUMN digest text")
    await copy_between(source, src.users_select(shape, cols), target, "s_users")
    icols, _ = await auth_columns(target, shape, "identities")
    if {"user_id", "provider", "provider_id"} <= set(icols):
        await target.execute(
            sql.SQL(
                "CREATE TEMP TABLE s_identities ON COMMIT DROP AS"
                " SELECT {} FROM auth.identities WITH NO DATA"
            ).format(sql.SQL(", ").join(map(sql.Identifier, icols)))
        )
        await copy_between(source, src.identities_select(icols), target, "s_identities")
    else:
        icols = []
    return cols, defaults, icols


class LegacyError(Exception):
    """The source cannot be imported (said in one line)."""


async def _changes(target: psycopg.AsyncConnection[Any], report: Report, stage: str) -> None:
    """List the rows imported before whose source row changed, or is gone, since."""
    kind, key = KEYS[stage]
    table = sql.Identifier(f"s_{stage}")
    changed = sql.SQL(
        "SELECT r.key FROM momento.legacy_rows r JOIN {t} s ON r.key = {k}"
        " WHERE r.kind = %(kind)s AND r.digest <> s.digest ORDER BY r.key"
    ).format(t=table, k=sql.SQL(key))
    gone = sql.SQL(
        "SELECT r.key FROM momento.legacy_rows r WHERE r.kind = %(kind)s"
        " AND NOT EXISTS (SELECT 1 FROM {t} s WHERE {k} = r.key) ORDER BY r.key"
    ).format(t=table, k=sql.SQL(key))
    for query, into in ((changed, report.changed), (gone, report.deleted)):
        cur = await target.execute(
            sql.SQL(
                "SELECT count(*) AS n, (array_agg(key))[1:%(listed)s] AS keys FROM ({}) x"
            ).format(query),
            {"kind": kind, "listed": LISTED},
        )
        row = await cur.fetchone()
        assert row is not None
        if row["n"]:
            into[stage] = Listing(int(row["n"]), list(row["keys"]))


async def _remember(
    target: psycopg.AsyncConnection[Any], stage: str, fresh: str, run_id: int
) -> None:
    """Record the source rows of `fresh` (a temp table of keys) as imported by this run."""
    kind, key = KEYS[stage]
    await target.execute(
        sql.SQL(
            "INSERT INTO momento.legacy_rows (kind, key, digest, run_id)"
            " SELECT %(kind)s, {k}, s.digest, %(run)s FROM {s} s JOIN {f} f USING ({using})"
        ).format(
            k=sql.SQL(key),
            s=sql.Identifier(f"s_{stage}"),
            f=sql.Identifier(fresh),
            using=sql.SQL("event_id, user_id" if stage == "members" else "id"),
        ),
        {"kind": kind, "run": run_id},
    )


# --- users and identities -------------------------------------------------------------------

NEW_USERS: LiteralString = """
CREATE TEMP TABLE new_users ON COMMIT DROP AS
SELECT s.id FROM (
  SELECT s.*, row_number() OVER (PARTITION BY lower(s.email) ORDER BY s.created_at NULLS LAST,
      s.id) AS nth
  FROM s_users s
) s
WHERE NOT EXISTS (SELECT 1 FROM momento.legacy_rows r WHERE r.kind = 'user' AND r.key = s.id::text)
  AND NOT EXISTS (SELECT 1 FROM auth.users t WHERE t.id = s.id)
  AND (s.email IS NULL OR (s.nth = 1 AND NOT EXISTS (
         SELECT 1 FROM auth.users t WHERE lower(t.email) = lower(s.email))))
"""

USER_SKIPS: LiteralString = """
SELECT
  count(*) FILTER (WHERE EXISTS (SELECT 1 FROM auth.users t WHERE t.id = s.id)
                   AND NOT EXISTS (SELECT 1 FROM momento.legacy_rows r WHERE r.kind = 'user'
                       AND r.key = s.id::text))
    AS "users whose id is already taken here",
  count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM auth.users t WHERE t.id = s.id)
                   AND NOT EXISTS (SELECT 1 FROM new_users n WHERE n.id = s.id))
    AS "users whose email is taken here (or twice at the source)"
FROM s_users s
"""


async def import_users(
    target: psycopg.AsyncConnection[Any],
    cols: list[str],
    defaults: dict[str, str],
    icols: list[str],
    report: Report,
    run_id: int,
) -> None:
    await target.execute(NEW_USERS)
    await _keyed(target, "new_users", "id")
    for what, n in (await _counts(target, USER_SKIPS)).items():
        report.count(report.skipped, what, n)
    # The username in the metadata is left out while inserting: this server's trigger would make
    # a profile with it, and a name taken twice would fail the insert. Put back just after.
    values = []
    for c in cols:
        expr: sql.Composable = sql.SQL("s.{}").format(sql.Identifier(c))
        if c == "raw_user_meta_data":
            expr = sql.SQL("(s.raw_user_meta_data - 'username')")
        if c in defaults:
            # The default as this server's catalog spells it (its own, never the source's).
            default = sql.SQL(defaults[c])
            expr = sql.SQL("coalesce({}, {})").format(expr, default)
        values.append(expr)
    inserted = await target.execute(
        sql.SQL(
            "INSERT INTO auth.users ({}) SELECT {} FROM s_users s JOIN new_users USING (id)"
        ).format(sql.SQL(", ").join(map(sql.Identifier, cols)), sql.SQL(", ").join(values))
    )
    report.imported["users"] = inserted.rowcount
    if "raw_user_meta_data" in cols:
        await target.execute(
            "UPDATE auth.users t SET raw_user_meta_data = s.raw_user_meta_data"
            " FROM s_users s JOIN new_users n USING (id)"
            " WHERE t.id = s.id AND s.raw_user_meta_data ? 'username'"
        )
    if icols:
        cur = await target.execute(
            sql.SQL(
                "INSERT INTO auth.identities ({c}) SELECT {c} FROM s_identities i"
                " WHERE EXISTS (SELECT 1 FROM new_users n WHERE n.id = i.user_id)"
                " ON CONFLICT DO NOTHING"
            ).format(c=sql.SQL(", ").join(map(sql.Identifier, icols)))
        )
        report.imported["identities"] = cur.rowcount
    await _remember(target, "users", "new_users", run_id)
    await _changes(target, report, "users")


# --- profiles -------------------------------------------------------------------------------

FRESH_PROFILES: LiteralString = """
CREATE TEMP TABLE p_fresh ON COMMIT DROP AS
SELECT s.id, s.username, s.display_name, s.avatar_url, s.device_token, s.created_at,
       CASE WHEN s.username ~ '^[a-z0-9_.]{3,30}$' THEN s.username
            ELSE nullif(left(regexp_replace(lower(coalesce(btrim(s.username), '')), '[^a-z0-9_.]',
                '_', 'g'), 30), '')
       END AS wanted,
       'user_' || substr(replace(s.id::text, '-', ''), 1, 12) AS fallback
FROM s_profiles s
WHERE NOT EXISTS (SELECT 1 FROM momento.legacy_rows r WHERE r.kind = 'profile'
    AND r.key = s.id::text)
  AND EXISTS (SELECT 1 FROM momento.legacy_rows r WHERE r.kind = 'user' AND r.key = s.id::text)
"""

# Shorter than 3, taken by an earlier profile of the source, or taken here: the fallback.
PROFILE_CLASHES: LiteralString = """
UPDATE p_fresh f SET wanted = NULL
WHERE f.wanted IS NOT NULL AND (
  length(f.wanted) < 3
  OR EXISTS (SELECT 1 FROM p_fresh o WHERE lower(o.wanted) = lower(f.wanted)
             AND (coalesce(o.created_at, 'infinity'), o.id) < (coalesce(f.created_at, 'infinity'),
                 f.id))
  OR EXISTS (SELECT 1 FROM public.profiles t WHERE lower(t.username) = lower(f.wanted)
      AND t.id <> f.id)
)
"""

PROFILE_REPAIRS: LiteralString = """
SELECT
  count(*) FILTER (WHERE coalesce(wanted, fallback) IS DISTINCT FROM username)
    AS "usernames repaired (lowercase, [a-z0-9_.], 3-30, unique)",
  count(*) FILTER (WHERE char_length(btrim(display_name)) > 60)
    AS "display names cut to 60 characters",
  count(*) FILTER (WHERE char_length(avatar_url) > 2048)
      AS "avatar URLs over 2048 characters dropped",
  count(*) FILTER (WHERE device_token IS NOT NULL AND device_token !~ '^[0-9a-f]{32,200}$')
    AS "device tokens that are not hex dropped"
FROM p_fresh
"""

INSERT_PROFILES: LiteralString = """
INSERT INTO public.profiles AS t (id, username, display_name, avatar_url, device_token, created_at)
SELECT f.id, coalesce(f.wanted, f.fallback),
       nullif(left(btrim(f.display_name), 60), ''),
       CASE WHEN char_length(f.avatar_url) <= 2048 THEN f.avatar_url END,
       CASE WHEN f.device_token ~ '^[0-9a-f]{32,200}$' THEN f.device_token END,
       coalesce(f.created_at, now())
FROM p_fresh f
ON CONFLICT (id) DO UPDATE SET username = excluded.username, display_name = excluded.display_name,
  avatar_url = excluded.avatar_url, device_token = excluded.device_token,
      created_at = excluded.created_at
"""

USERS_WITHOUT_PROFILE: LiteralString = """
SELECT count(*) FROM new_users n WHERE NOT EXISTS (SELECT 1 FROM s_profiles s WHERE s.id = n.id)
"""


async def import_profiles(
    target: psycopg.AsyncConnection[Any], report: Report, run_id: int
) -> None:
    await target.execute(FRESH_PROFILES)
    await _keyed(target, "p_fresh", "lower(wanted)")
    await target.execute(PROFILE_CLASHES)
    for rule, n in (await _counts(target, PROFILE_REPAIRS)).items():
        report.count(report.repairs, rule, n)
    cur = await target.execute(INSERT_PROFILES)
    report.imported["profiles"] = cur.rowcount
    report.count(
        report.repairs,
        "users without a profile given one (user_<id>)",
        int(await _value(target, USERS_WITHOUT_PROFILE)),
    )
    await _remember(target, "profiles", "p_fresh", run_id)
    await _changes(target, report, "profiles")


# --- events ---------------------------------------------------------------------------------

FRESH_EVENTS: LiteralString = """
CREATE TEMP TABLE e_fresh ON COMMIT DROP AS
SELECT s.*,
       coalesce(nullif(btrim(left(btrim(s.name), 100)), ''), 'Untitled event') AS new_name,
       CASE WHEN upper(btrim(s.join_code)) ~ '^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}$'
            THEN upper(btrim(s.join_code)) END AS code,
       coalesce(s.release_at, s.ends_at, s.starts_at + interval '1 day',
                s.created_at + interval '1 day', now()) AS new_release,
       NULL::timestamptz AS new_starts
FROM s_events s
WHERE NOT EXISTS (SELECT 1 FROM momento.legacy_rows r WHERE r.kind = 'event' AND r.key = s.id::text)
  AND NOT EXISTS (SELECT 1 FROM public.events t WHERE t.id = s.id)
  AND EXISTS (SELECT 1 FROM auth.users u WHERE u.id = s.creator_id)
"""

EVENT_FIXES: LiteralString = """
UPDATE e_fresh f SET
  new_starts = CASE WHEN coalesce(f.starts_at, f.created_at, f.new_release - interval '1 day')
      < f.new_release
                    THEN coalesce(f.starts_at, f.created_at, f.new_release - interval '1 day')
                    ELSE f.new_release - interval '1 hour' END,
  code = CASE WHEN f.code IS NULL
                OR EXISTS (SELECT 1 FROM e_fresh o WHERE o.code = f.code
                           AND (coalesce(o.created_at, 'infinity'), o.id)
                               < (coalesce(f.created_at, 'infinity'), f.id))
                OR EXISTS (SELECT 1 FROM public.events t WHERE t.join_code = f.code)
              THEN private.new_join_code() ELSE f.code END
"""

EVENT_REPAIRS: LiteralString = """
SELECT
  count(*) FILTER (WHERE new_name IS DISTINCT FROM name)
      AS "event names trimmed, cut to 100 or named 'Untitled event'",
  count(*) FILTER (WHERE code IS DISTINCT FROM join_code)
      AS "join codes uppercased or replaced (invalid or taken)",
  count(*) FILTER (WHERE new_starts IS DISTINCT FROM starts_at OR new_release IS DISTINCT
      FROM release_at)
    AS "event times repaired (release after start)"
FROM e_fresh
"""

EVENT_SKIPS: LiteralString = """
SELECT count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM auth.users u WHERE u.id = s.creator_id))
  AS "events whose creator was not imported"
FROM s_events s
WHERE NOT EXISTS (SELECT 1 FROM momento.legacy_rows r WHERE r.kind = 'event' AND r.key = s.id::text)
"""

INSERT_EVENTS: LiteralString = """
INSERT INTO public.events (id, name, join_code, creator_id, starts_at, release_at, is_premium,
    is_deleted, created_at)
SELECT f.id, f.new_name, f.code, f.creator_id, f.new_starts, f.new_release, coalesce(f.is_premium,
    false),
       coalesce(f.is_deleted, false), coalesce(f.created_at, now())
FROM e_fresh f
"""

# A free event revealed long ago keeps the retention counted from now (momento.cleanup).
EVENTS_ARRIVED: LiteralString = """
INSERT INTO momento.legacy_events (event_id) SELECT f.id FROM e_fresh f
"""


async def import_events(target: psycopg.AsyncConnection[Any], report: Report, run_id: int) -> None:
    await target.execute(FRESH_EVENTS)
    await _keyed(target, "e_fresh", "id")
    await _keyed(target, "e_fresh", "code")
    await target.execute(EVENT_FIXES)
    for rule, n in (await _counts(target, EVENT_REPAIRS)).items():
        report.count(report.repairs, rule, n)
    for why, n in (await _counts(target, EVENT_SKIPS)).items():
        report.count(report.skipped, why, n)
    cur = await target.execute(INSERT_EVENTS)
    report.imported["events"] = cur.rowcount
    await target.execute(EVENTS_ARRIVED)
    await _remember(target, "events", "e_fresh", run_id)
    await _changes(target, report, "events")


# --- memberships ----------------------------------------------------------------------------

FRESH_MEMBERS: LiteralString = """
CREATE TEMP TABLE m_fresh ON COMMIT DROP AS
SELECT s.event_id, s.user_id, s.joined_at, s.copies FROM s_members s
WHERE NOT EXISTS (SELECT 1 FROM momento.legacy_rows r WHERE r.kind = 'member'
                  AND r.key = s.event_id::text || '/' || s.user_id::text)
  AND EXISTS (SELECT 1 FROM momento.legacy_rows r WHERE r.kind = 'event'
      AND r.key = s.event_id::text)
  AND EXISTS (SELECT 1 FROM auth.users u WHERE u.id = s.user_id)
"""

MEMBER_SKIPS: LiteralString = """
SELECT
  count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM momento.legacy_rows r WHERE r.kind = 'event'
      AND r.key = s.event_id::text))
    AS "memberships of an event not imported",
  count(*) FILTER (WHERE EXISTS (SELECT 1 FROM momento.legacy_rows r WHERE r.kind = 'event'
      AND r.key = s.event_id::text)
                   AND NOT EXISTS (SELECT 1 FROM auth.users u WHERE u.id = s.user_id))
    AS "memberships of a user not imported"
FROM s_members s
WHERE NOT EXISTS (SELECT 1 FROM momento.legacy_rows r WHERE r.kind = 'member'
                  AND r.key = s.event_id::text || '/' || s.user_id::text)
"""

# The creator's membership made by this server's trigger when the event came in takes the
# source's joined_at; any other membership already here is left as it is.
INSERT_MEMBERS: LiteralString = """
INSERT INTO public.event_members AS t (event_id, user_id, joined_at)
SELECT f.event_id, f.user_id, coalesce(f.joined_at, now()) FROM m_fresh f
ON CONFLICT (event_id, user_id) DO UPDATE SET joined_at = excluded.joined_at
WHERE EXISTS (SELECT 1 FROM e_fresh e WHERE e.id = t.event_id AND e.creator_id = t.user_id)
"""

CREATORS_ADDED: LiteralString = """
UPDATE public.event_members t SET joined_at = coalesce(e.created_at, t.joined_at)
FROM e_fresh e
WHERE t.event_id = e.id AND t.user_id = e.creator_id
  AND NOT EXISTS (SELECT 1 FROM s_members s WHERE s.event_id = e.id AND s.user_id = e.creator_id)
"""


async def import_members(target: psycopg.AsyncConnection[Any], report: Report, run_id: int) -> None:
    await target.execute(FRESH_MEMBERS)
    await _keyed(target, "m_fresh", "event_id, user_id")
    for why, n in (await _counts(target, MEMBER_SKIPS)).items():
        report.count(report.skipped, why, n)
    report.count(
        report.repairs,
        "duplicate memberships merged (earliest joined_at kept)",
        int(await _value(target, "SELECT coalesce(sum(copies - 1), 0) FROM m_fresh")),
    )
    cur = await target.execute(INSERT_MEMBERS)
    report.imported["members"] = cur.rowcount
    cur = await target.execute(CREATORS_ADDED)
    report.count(report.repairs, "event creators made members (they were not)", cur.rowcount)
    await _remember(target, "members", "m_fresh", run_id)
    await _changes(target, report, "members")


# --- photos ---------------------------------------------------------------------------------

FRESH_PHOTOS: LiteralString = """
CREATE TEMP TABLE new_photos ON COMMIT DROP AS
SELECT s.id FROM s_photos s
WHERE NOT EXISTS (SELECT 1 FROM momento.legacy_rows r WHERE r.kind = 'photo' AND r.key = s.id::text)
  AND NOT EXISTS (SELECT 1 FROM public.photos t WHERE t.id = s.id)
  AND EXISTS (SELECT 1 FROM momento.legacy_rows r WHERE r.kind = 'event'
      AND r.key = s.event_id::text)
  AND EXISTS (SELECT 1 FROM auth.users u WHERE u.id = s.user_id)
"""

PHOTO_SKIPS: LiteralString = """
SELECT
  count(*) FILTER (WHERE e.key IS NULL) AS "photos of an event not imported",
  count(*) FILTER (WHERE e.key IS NOT NULL AND u.id IS NULL) AS "photos of a user not imported",
  count(*) FILTER (WHERE t.id IS NOT NULL) AS "photos whose id is already taken here"
FROM s_photos s
LEFT JOIN momento.legacy_rows r ON r.kind = 'photo' AND r.key = s.id::text
LEFT JOIN momento.legacy_rows e ON e.kind = 'event' AND e.key = s.event_id::text
LEFT JOIN auth.users u ON u.id = s.user_id
LEFT JOIN public.photos t ON t.id = s.id
WHERE r.key IS NULL
"""

PHOTO_REPAIRS: LiteralString = """
SELECT
  count(*) FILTER (WHERE s.upload_status IS NOT NULL AND s.upload_status NOT IN ('pending',
      'uploaded', 'failed'))
    AS "unknown upload_status set to 'failed'",
  count(*) FILTER (WHERE nullif(btrim(s.username), '') IS NULL)
      AS "photo usernames filled from profiles"
FROM s_photos s JOIN new_photos USING (id)
"""

INSERT_PHOTOS: LiteralString = """
INSERT INTO public.photos (id, event_id, user_id, storage_path, captured_at, username, width,
    height,
                           upload_status, is_flagged)
SELECT s.id, s.event_id, s.user_id, 'events/' || s.event_id || '/' || s.id, coalesce(s.captured_at,
    now()),
       s.username,
       CASE WHEN s.width > 0 THEN s.width END, CASE WHEN s.height > 0 THEN s.height END,
       CASE WHEN s.upload_status IN ('pending', 'uploaded', 'failed') THEN s.upload_status
            WHEN s.upload_status IS NULL THEN 'pending' ELSE 'failed' END,
       coalesce(s.is_flagged, false)
FROM s_photos s JOIN new_photos USING (id)
"""

FILES_TO_COPY: LiteralString = """
INSERT INTO momento.legacy_files (photo_id, source_path)
SELECT s.id, s.storage_path FROM s_photos s JOIN new_photos USING (id)
"""


async def import_photos(target: psycopg.AsyncConnection[Any], report: Report, run_id: int) -> None:
    await target.execute(FRESH_PHOTOS)
    await _keyed(target, "new_photos", "id")
    for why, n in (await _counts(target, PHOTO_SKIPS)).items():
        report.count(report.skipped, why, n)
    for rule, n in (await _counts(target, PHOTO_REPAIRS)).items():
        report.count(report.repairs, rule, n)
    cur = await target.execute(INSERT_PHOTOS)
    report.imported["photos"] = cur.rowcount
    await target.execute(FILES_TO_COPY)
    await _remember(target, "photos", "new_photos", run_id)
    await _changes(target, report, "photos")


# --- likes ----------------------------------------------------------------------------------

# One pass over the likes this run considers (all of them the first time, then those of new
# photos or liked since the previous snapshot), hash joins only: 5,000,000 rows and more.
LIKE_FACTS: LiteralString = """
SELECT
  count(*) FILTER (WHERE p.id IS NULL) AS "likes of a photo missing at the source",
  count(*) FILTER (WHERE u.id IS NULL) AS "likes by a user missing at the source",
  count(*) FILTER (WHERE p.id IS NOT NULL AND u.id IS NOT NULL AND (r.key IS NULL OR t.id IS NULL))
    AS "likes of a photo or by a user not imported",
  coalesce(sum(l.copies - 1), 0) AS "duplicate likes merged (one per photo and user)"
FROM s_likes l
LEFT JOIN s_photos p ON p.id = l.photo_id
LEFT JOIN s_users u ON u.id = l.user_id
LEFT JOIN momento.legacy_rows r ON r.kind = 'photo' AND r.key = l.photo_id::text
LEFT JOIN auth.users t ON t.id = l.user_id
LEFT JOIN new_photos n ON n.id = l.photo_id
WHERE %(since)s::timestamptz IS NULL OR l.created_at > %(since)s OR n.id IS NOT NULL
"""

# Likes of the photos this run brings: none can be here yet (the photo is new in this
# transaction, the pairs distinct), so no ON CONFLICT and its per-row speculative insertion.
INSERT_NEW_LIKES: LiteralString = """
INSERT INTO public.photo_likes (photo_id, user_id, created_at)
SELECT l.photo_id, l.user_id, coalesce(l.created_at, now()) FROM s_likes l
JOIN new_photos n ON n.id = l.photo_id
JOIN auth.users u ON u.id = l.user_id
"""

# Likes of photos imported before, liked at the source since the previous snapshot.
INSERT_LATER_LIKES: LiteralString = """
INSERT INTO public.photo_likes (photo_id, user_id, created_at)
SELECT l.photo_id, l.user_id, l.created_at FROM s_likes l
JOIN momento.legacy_rows r ON r.kind = 'photo' AND r.key = l.photo_id::text
JOIN auth.users u ON u.id = l.user_id
WHERE l.created_at > %(since)s
  AND NOT EXISTS (SELECT 1 FROM new_photos n WHERE n.id = l.photo_id)
ON CONFLICT DO NOTHING
"""

# Likes imported before (liked at the source before the previous snapshot) that are no longer
# at the source: likes made here since are younger than that snapshot and not counted.
LIKES_GONE: LiteralString = """
SELECT count(*) AS n,
       (array_agg(t.photo_id::text || '/' || t.user_id::text ORDER BY t.photo_id,
           t.user_id))[1:%(listed)s] AS keys
FROM public.photo_likes t
WHERE t.created_at <= %(since)s
  AND EXISTS (SELECT 1 FROM momento.legacy_rows r WHERE r.kind = 'photo'
      AND r.key = t.photo_id::text)
  AND NOT EXISTS (SELECT 1 FROM s_likes l WHERE l.photo_id = t.photo_id AND l.user_id = t.user_id)
"""


async def import_likes(
    target: psycopg.AsyncConnection[Any], report: Report, since: Any, progress: Progress
) -> None:
    # Counted over the likes this run considers: all of them the first time, then those of
    # new photos or liked since the previous snapshot.
    for what, n in (await _counts(target, LIKE_FACTS, {"since": since})).items():
        table = report.repairs if what.startswith("duplicate") else report.skipped
        report.count(table, what, n)
    progress("inserting likes")
    cur = await target.execute(INSERT_NEW_LIKES)
    report.imported["likes"] = cur.rowcount
    if since is not None:
        cur = await target.execute(INSERT_LATER_LIKES, {"since": since})
        report.imported["likes"] += cur.rowcount
    if since is not None:
        cur = await target.execute(LIKES_GONE, {"since": since, "listed": LISTED})
        row = await cur.fetchone()
        if row and row["n"]:
            report.deleted["likes"] = Listing(int(row["n"]), list(row["keys"]))


# --- the run --------------------------------------------------------------------------------

PREVIOUS_SNAPSHOT: LiteralString = "SELECT max(snapshot_at) FROM momento.legacy_runs"
NEW_RUN: LiteralString = """
INSERT INTO momento.legacy_runs (source, snapshot_at) VALUES (%(source)s, %(at)s) RETURNING id
"""
FINISH_RUN: LiteralString = """
UPDATE momento.legacy_runs SET report = %(report)s, finished_at = now() WHERE id = %(id)s
"""


async def stage_all(
    source: psycopg.AsyncConnection[Any],
    target: psycopg.AsyncConnection[Any],
    shape: src.Shape,
    progress: Progress,
) -> tuple[list[str], dict[str, str], list[str]]:
    """Every table of the source into temporary staging tables on the target."""
    progress("reading users")
    staged = await stage_users(source, target, shape)
    for stage, select in (
        ("profiles", src.profiles_select(shape)),
        ("events", src.events_select(shape)),
        ("members", src.members_select(shape)),
        ("photos", src.photos_select(shape)),
        ("likes", src.likes_select(shape)),
    ):
        progress(f"reading {stage}")
        await target.execute(STAGES[stage])
        await copy_between(source, select, target, f"s_{stage}")
    # Temporary tables have no statistics nor keys of their own (autovacuum never sees them):
    # without both, the per-row checks of the rules would scan them once per row.
    for table, key in STAGE_KEYS.items():
        if await _value(target, "SELECT to_regclass(%s) IS NOT NULL", (table,)):
            if key:
                await target.execute(
                    sql.SQL("CREATE INDEX ON {} ({})").format(sql.Identifier(table), sql.SQL(key))
                )
            await target.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
    return staged


# The likes are only ever scanned whole (hash joins): no index to build over millions of rows.
STAGE_KEYS: dict[str, LiteralString | None] = {
    "s_users": "id",
    "s_identities": "user_id",
    "s_profiles": "id",
    "s_events": "id",
    "s_members": "event_id, user_id",
    "s_photos": "id",
    "s_likes": None,
}


async def _analyze(target: psycopg.AsyncConnection[Any], *tables: LiteralString) -> None:
    for table in tables:
        schema, name = table.split(".")
        await target.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(schema, name)))


async def _keyed(
    target: psycopg.AsyncConnection[Any], table: LiteralString, key: LiteralString
) -> None:
    """A temporary table made by a rule, given a key and statistics (see stage_all)."""
    await target.execute(
        sql.SQL("CREATE INDEX ON {} ({})").format(sql.Identifier(table), sql.SQL(key))
    )
    await target.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))


async def run(
    services: Services,
    source_url: str,
    *,
    dry_run: bool = False,
    progress: Progress = lambda _: None,
) -> Report:
    """Import what is new at the source; nothing of it is visible until all of it is."""
    report = Report(source=src.describe(source_url), dry_run=dry_run)
    async with src.snapshot(source_url) as source:
        shape = await src.read_shape(source)
        if shape.state == "not a Momento database":
            raise LegacyError(f"{report.source} has no Momento tables (profiles, events, ...)")
        at = await _value(source, "SELECT now()")
        report.snapshot_at = at.isoformat()
        async with (
            services.db.pool.connection() as target,
            target.transaction(force_rollback=dry_run),
        ):
            await target.execute("SET LOCAL statement_timeout = 0")
            # Hash joins and aggregates over millions of staged rows, in memory.
            await target.execute("SET LOCAL work_mem = '256MB'")
            await target.execute(LOCK)
            since = await _value(target, PREVIOUS_SNAPSHOT)
            run_id = int(await _value(target, NEW_RUN, {"source": report.source, "at": at}))
            report.run_id = None if dry_run else run_id
            cols, defaults, icols = await stage_all(source, target, shape, progress)
            # After each stage, statistics of what it wrote: the next stage's checks join
            # these tables, planned as if they were still empty otherwise (nested loops over
            # a million rows).
            progress("writing users")
            await import_users(target, cols, defaults, icols, report, run_id)
            await _analyze(target, "auth.users", "auth.identities", "momento.legacy_rows")
            progress("writing profiles")
            await import_profiles(target, report, run_id)
            await _analyze(target, "public.profiles")
            progress("writing events")
            await import_events(target, report, run_id)
            await _analyze(target, "public.events", "momento.legacy_rows")
            progress("writing members")
            await import_members(target, report, run_id)
            await _analyze(target, "public.event_members")
            progress("writing photos")
            await import_photos(target, report, run_id)
            await _analyze(target, "public.photos", "momento.legacy_rows")
            progress("writing likes")
            await import_likes(target, report, since, progress)
            await target.execute(
                FINISH_RUN, {"report": psycopg.types.json.Jsonb(report.as_json()), "id": run_id}
            )
    log.info(
        "legacy import done" if not dry_run else "legacy import planned",
        source=report.source,
        **{k: v for k, v in report.imported.items()},
    )
    return report
