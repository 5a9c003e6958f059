"""`momento legacy migrate-in-place` and `rollback` on the old database itself."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from momento.legacy import inplace, inspection
from tests.legacy.conftest import source_execute

TABLES = (
    "profiles",
    "events",
    "event_members",
    "photos",
    "photo_interactions",
    "keepsakes",
    "user_keepsakes",
    "user_reveal_progress",
)


async def snapshot(url: str) -> dict[str, Any]:
    """Everything a migration may touch: columns, rows, views, policies, tables, grants."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:

        async def all_of(query: str) -> list[Any]:
            cur = await conn.execute(query)
            return sorted(map(tuple, await cur.fetchall()), key=repr)

        state: dict[str, Any] = {
            "columns": await all_of(
                "SELECT table_name, column_name, data_type, column_default, is_nullable"
                " FROM information_schema.columns WHERE table_schema = 'public'"
            ),
            "relations": await all_of(
                "SELECT relname, relkind FROM pg_class WHERE relnamespace = 'public'::regnamespace"
            ),
            "views": await all_of(
                "SELECT viewname, definition FROM pg_views WHERE schemaname = 'public'"
            ),
            "policies": await all_of(
                "SELECT tablename, policyname, cmd, roles::text, qual FROM pg_policies"
            ),
            "constraints": await all_of(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
                " FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
            ),
            "grants": await all_of(
                "SELECT table_name, grantee, privilege_type"
                " FROM information_schema.table_privileges WHERE table_schema = 'public'"
            ),
            "schemas": await all_of("SELECT nspname FROM pg_namespace"),
        }
        for table in TABLES:
            if any(r[0] == table for r in state["relations"]):
                # As JSON objects: a column put back comes last, its values must be the same.
                cur = await conn.execute(f"SELECT to_jsonb(t) FROM public.{table} t")
                state[table] = sorted((r[0] for r in await cur.fetchall()), key=repr)
        return state


async def one(url: str, query: str) -> Any:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(query)
        row = await cur.fetchone()
        return row[0] if row else None


async def test_migrate_in_place_then_rerun_then_roll_back(old_db: str) -> None:
    before = await snapshot(old_db)
    planned = await inplace.migrate(old_db, dry_run=True)
    assert planned.outcome == "now on the new schema"
    assert await snapshot(old_db) == before  # a dry run leaves nothing

    done = await inplace.migrate(old_db)
    assert done.repairs == {
        "likes copied from photo_interactions (distinct, photo and user present)": 3,
        "unknown upload_status set to 'failed'": 1,
        "photo usernames filled from profiles": 2,
        "duplicate memberships merged (earliest joined_at kept)": 1,
    }
    assert done.counts == {
        "profiles": 5,
        "events": 5,
        "event_members": 8,
        "photos": 6,
        "photo_likes": 3,
    }
    found = await inspection.inspect(old_db)
    assert found.state == "new"
    assert found.blockers == []
    assert (
        await one(
            old_db,
            "SELECT username FROM public.photos WHERE id = 'f0000000-0000-0000-0000-000000000004'",
        )
        == "user_a30000000000"
    )  # carol has no profile
    # The backup is out of reach of the API's roles.
    for role in ("anon", "authenticated", "service_role"):
        assert not await one(
            old_db, f"SELECT has_schema_privilege('{role}', 'momento_legacy_backup', 'USAGE')"
        )
        assert not await one(
            old_db,
            f"SELECT has_table_privilege('{role}', 'momento_legacy_backup.photo_interactions',"
            " 'SELECT')",
        )

    again = await inplace.migrate(old_db)
    assert again.outcome == "already on the new schema: nothing to do"

    said = await inplace.rollback(old_db)
    assert said[-1].endswith("as it was before the migration")
    after = await snapshot(old_db)
    # Everything is back; columns re-added come last in their tables (order aside, the same).
    for key in before:
        assert after[key] == before[key], key


async def test_rollback_is_refused_once_written_to_unless_forced(old_db: str) -> None:
    await inplace.migrate(old_db)
    await source_execute(
        old_db,
        "INSERT INTO public.photo_likes (photo_id, user_id) VALUES"
        " ('f0000000-0000-0000-0000-000000000004', 'a1000000-0000-4000-8000-000000000001')",
    )
    with pytest.raises(inplace.InPlaceError, match="photo_likes: 3 rows at the migration, 4 now"):
        await inplace.rollback(old_db)
    said = await inplace.rollback(old_db, force=True)
    assert said[0].startswith("lost (forced): photo_likes")
    assert await one(old_db, "SELECT to_regclass('public.photo_likes')") is None


async def test_a_failure_midway_leaves_the_database_exactly_as_it_was(old_db: str) -> None:
    # A membership without a user: the composite primary key cannot be made, late in Phase 1.
    await source_execute(
        old_db,
        "INSERT INTO public.event_members (event_id, user_id)"
        " VALUES ('e0000000-0000-0000-0000-000000000001', NULL)",
    )
    before = await snapshot(old_db)
    with pytest.raises(psycopg.Error):
        await inplace.migrate(old_db)
    assert await snapshot(old_db) == before
    # Fixed, a re-run goes through.
    await source_execute(old_db, "DELETE FROM public.event_members WHERE user_id IS NULL")
    assert (await inplace.migrate(old_db)).outcome == "now on the new schema"
