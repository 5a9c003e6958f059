"""Benchmark: `momento legacy import` of a large old deployment, rows only, against a plain COPY.

Target (issue 16): an old database with 1,000,000 photos and 5,000,000 interactions (and the
users, events and members to match) imported in <= 5 minutes on the 2-core machine, at >= 50 %
of the rate of a plain COPY of the same rows into the same tables (indexes and triggers
included), measured in the same run.

Set-up: one embedded PostgreSQL in a temporary folder holding three databases: the old
deployment (Supabase-shaped: tests/legacy/supabase.sql and old_momento.sql, then rows made by
generate_series: users with bcrypt hashes and identities, profiles, events, 10 members each,
photos, 5 interactions per photo, all 'liked'), this server's database (migrated) that the
import writes, and a second migrated database for the baseline. Figures:

* **import**: `momento.legacy.importer.run` (the command's work: one REPEATABLE READ snapshot
  of the source, COPY into staging tables, the repair rules, one transaction);
* **plain COPY**: the rows the import wrote (read back from its database) COPYed into the
  baseline database's same tables in one transaction: auth.users (its trigger makes the
  profiles), identities, events (their trigger makes the creators' memberships), the other
  memberships, photos, likes; indexes, foreign keys and triggers all on, as in the import.

Rate = rows written / seconds. Source, import and baseline share the machine's cores (and, on
the machine this ran on, other people's work). Prints a table; PASS/MISS; always exits 0.

Usage: python bench/legacy.py [--photos 1000000] [--likes-per-photo 5]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, LiteralString

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from momento.config import Environment, Settings  # noqa: E402
from momento.db import embedded  # noqa: E402
from momento.db import migrate as migrations  # noqa: E402
from momento.legacy import importer  # noqa: E402

FIXTURES = ROOT / "tests" / "legacy"
HASH = "$2a$04$bhA4wliD6fm.YFtZ2MFJNOR0IeqgxW/Gnl4tjdKoVYG2QfIy/77TK"

GENERATE: list[LiteralString] = [
    """
    INSERT INTO auth.users (instance_id, id, aud, role, email, encrypted_password,
      email_confirmed_at, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
    SELECT '00000000-0000-0000-0000-000000000000', md5('u' || n)::uuid, 'authenticated',
      'authenticated', 'u' || n || '@bench.example', %(hash)s, now() - interval '300 days',
      '{"provider": "email", "providers": ["email"]}', jsonb_build_object('username', 'u' || n),
      now() - interval '400 days' + n * interval '1 second', now()
    FROM generate_series(1, %(users)s) n
    """,
    """
    INSERT INTO auth.identities (provider_id, user_id, identity_data, provider, created_at,
                                 updated_at)
    SELECT u.id::text, u.id, jsonb_build_object('sub', u.id::text, 'email', u.email), 'email',
           u.created_at, u.created_at
    FROM auth.users u
    """,
    """
    INSERT INTO public.profiles (id, username, display_name, created_at)
    SELECT md5('u' || n)::uuid, 'u' || n, 'User ' || n, now() - interval '400 days'
    FROM generate_series(1, %(users)s) n
    """,
    """
    INSERT INTO public.events (id, title, join_code, creator_id, starts_at, release_at,
                               created_at)
    SELECT md5('e' || n)::uuid, 'Event ' || n,
      (SELECT string_agg(substr('23456789ABCDEFGHJKMNPQRSTUVWXYZ',
                                ((n / (31 ^ i)::bigint) %% 31)::int + 1, 1), '' ORDER BY i)
       FROM generate_series(0, 5) i),
      md5('u' || (n %% %(users)s + 1))::uuid, now() - interval '30 days',
      now() - interval '20 days' + (n %% 40) * interval '1 day', now() - interval '31 days'
    FROM generate_series(1, %(events)s) n
    """,
    """
    INSERT INTO public.event_members (event_id, user_id, joined_at)
    SELECT md5('e' || e)::uuid, md5('u' || ((e %% %(users)s + k * 997) %% %(users)s + 1))::uuid,
           now() - interval '30 days'
    FROM generate_series(1, %(events)s) e, generate_series(0, 9) k
    """,
    """
    INSERT INTO public.photos (id, event_id, user_id, storage_path, captured_at,
                               captured_by_username, upload_status)
    SELECT md5('p' || n)::uuid, md5('e' || e)::uuid, md5('u' || u)::uuid,
           'e' || e || '/p' || n || '.jpg', now() - interval '25 days', 'u' || u, 'uploaded'
    FROM (SELECT n, n %% %(events)s + 1 AS e,
                 ((n %% %(events)s + 1) %% %(users)s + (n %% 10) * 997) %% %(users)s + 1 AS u
          FROM generate_series(1, %(photos)s) n) x
    """,
    """
    INSERT INTO public.photo_interactions (photo_id, user_id, status, created_at)
    SELECT md5('p' || n)::uuid, md5('u' || ((n * 31 + k * 7919) %% %(users)s + 1))::uuid,
           'liked', now() - interval '24 days'
    FROM generate_series(1, %(photos)s) n, generate_series(1, %(likes)s) k
    """,
    "ANALYZE",
]

# The baseline: the rows the import wrote, as they are in its database.
BASELINE: list[tuple[str, LiteralString, LiteralString]] = [
    (
        "auth.users",
        "SELECT id, aud, role, email, encrypted_password, email_confirmed_at, raw_app_meta_data,"
        " raw_user_meta_data, created_at, updated_at FROM auth.users",
        "COPY auth.users (id, aud, role, email, encrypted_password, email_confirmed_at,"
        " raw_app_meta_data, raw_user_meta_data, created_at, updated_at) FROM STDIN",
    ),
    (
        "auth.identities",
        "SELECT id, provider_id, user_id, identity_data, provider, created_at, updated_at"
        " FROM auth.identities",
        "COPY auth.identities (id, provider_id, user_id, identity_data, provider, created_at,"
        " updated_at) FROM STDIN",
    ),
    (
        "public.events",
        "SELECT id, name, join_code, creator_id, starts_at, release_at, is_premium, is_deleted,"
        " created_at FROM public.events",
        "COPY public.events (id, name, join_code, creator_id, starts_at, release_at, is_premium,"
        " is_deleted, created_at) FROM STDIN",
    ),
    (
        "public.event_members",
        "SELECT m.event_id, m.user_id, m.joined_at FROM public.event_members m"
        " JOIN public.events e ON e.id = m.event_id WHERE m.user_id <> e.creator_id",
        "COPY public.event_members (event_id, user_id, joined_at) FROM STDIN",
    ),
    (
        "public.photos",
        "SELECT id, event_id, user_id, storage_path, captured_at, username, upload_status"
        " FROM public.photos",
        "COPY public.photos (id, event_id, user_id, storage_path, captured_at, username,"
        " upload_status) FROM STDIN",
    ),
    (
        "public.photo_likes",
        "SELECT photo_id, user_id, created_at FROM public.photo_likes",
        "COPY public.photo_likes (photo_id, user_id, created_at) FROM STDIN",
    ),
]

WRITTEN: LiteralString = """
SELECT (SELECT count(*) FROM auth.users) + (SELECT count(*) FROM auth.identities)
     + (SELECT count(*) FROM public.profiles) + (SELECT count(*) FROM public.events)
     + (SELECT count(*) FROM public.event_members) + (SELECT count(*) FROM public.photos)
     + (SELECT count(*) FROM public.photo_likes)
"""


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def database(pg: embedded.EmbeddedPostgres, name: str, *, migrated: bool) -> str:
    async with await psycopg.AsyncConnection.connect(pg.url, autocommit=True) as conn:
        await conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = embedded._with_database(pg.url, name)
    if migrated:
        await migrations.migrate(url)
    return url


async def copy_rows(
    src: psycopg.AsyncConnection[Any],
    select: LiteralString,
    dst: psycopg.AsyncConnection[Any],
    copy_in: LiteralString,
) -> None:
    """A plain COPY: the rows streamed out of one database into the other's table."""
    async with src.cursor().copy(sql.SQL("COPY ({}) TO STDOUT").format(sql.SQL(select))) as out:
        async with dst.cursor().copy(copy_in) as into:
            async for chunk in out:
                await into.write(chunk)


async def scalar(url: str, query: LiteralString) -> Any:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(query)
        row = await cur.fetchone()
        return row[0] if row else None


async def run(photos: int, likes: int, folder: Path) -> None:
    from momento.services import build_services

    users = max(photos // 20, 10_000)
    events = max(photos // 50, 100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pg = embedded.start(folder / "pg", database="momento_bench")
    try:
        source = await database(pg, "legacy_source", migrated=False)
        started = time.perf_counter()
        async with await psycopg.AsyncConnection.connect(source, autocommit=True) as conn:
            for file in ("supabase.sql", "old_momento.sql"):
                await conn.execute((FIXTURES / file).read_text())
            params = {
                "hash": HASH,
                "users": users,
                "events": events,
                "photos": photos,
                "likes": likes,
            }
            for statement in GENERATE:
                await conn.execute(statement, params)
        say(
            f"old deployment: {users:,} users, {events:,} events, {events * 10:,} members,"
            f" {photos:,} photos, {photos * likes:,} interactions"
            f" (generated in {time.perf_counter() - started:.0f} s)"
        )
        await migrations.migrate(pg.url)
        settings = Settings(
            env=Environment.test,
            data_dir=folder / "data",
            database_url=pg.url,
            db_pool_min=1,
            db_pool_max=2,
            inprocess_worker=False,
        )
        svc = build_services(settings, pg.url)
        await svc.db.open()
        try:
            started = time.perf_counter()
            last = [time.perf_counter()]

            def step(what: str) -> None:
                now = time.perf_counter()
                say(f"  {now - started:7.1f} s (+{now - last[0]:.1f})  {what}")
                last[0] = now

            report = await importer.run(svc, source, progress=step)
            imported = time.perf_counter() - started
        finally:
            await svc.db.close()
        written = int(await scalar(pg.url, WRITTEN))
        say(f"import: {report.imported}")

        baseline = await database(pg, "momento_copy", migrated=True)
        async with (
            await psycopg.AsyncConnection.connect(pg.url) as src,
            await psycopg.AsyncConnection.connect(baseline) as dst,
        ):
            started = time.perf_counter()
            async with dst.transaction():
                for _name, select, copy_in in BASELINE:
                    await copy_rows(src, select, dst, copy_in)
            copied = time.perf_counter() - started
        copied_rows = int(await scalar(baseline, WRITTEN))
    finally:
        pg.stop()

    import_rate = written / imported
    copy_rate = copied_rows / copied
    ratio = import_rate / copy_rate
    say()
    say(f"{'':<12} {'rows':>12} {'seconds':>9} {'rows/s':>10}")
    say(f"{'import':<12} {written:>12,} {imported:>9.1f} {import_rate:>10,.0f}")
    say(f"{'plain COPY':<12} {copied_rows:>12,} {copied:>9.1f} {copy_rate:>10,.0f}")
    say()
    say(
        f"import {imported / 60:.1f} min (target <= 5): {'PASS' if imported <= 300 else 'MISS'};"
        f" {ratio:.0%} of plain COPY's rate (target >= 50 %):"
        f" {'PASS' if ratio >= 0.5 else 'MISS'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=1_000_000)
    parser.add_argument("--likes-per-photo", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="momento-bench-legacy-") as folder:
        asyncio.run(run(args.photos, args.likes_per_photo, Path(folder)))


if __name__ == "__main__":
    main()
