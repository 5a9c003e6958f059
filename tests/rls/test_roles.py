"""The roles, and the guarantees that hold for every table: RLS on, nothing for anon."""

from __future__ import annotations

from uuid import UUID

import pytest
from psycopg import errors, sql

from tests.rls.conftest import Conn, World, as_role, as_user, fetch

PUBLIC_TABLES = ("profiles", "events", "event_members", "photos", "photo_likes")


async def test_roles_have_the_right_attributes(db: Conn) -> None:
    rows = await fetch(
        db,
        "SELECT rolname, rolcanlogin, rolbypassrls, rolsuper, rolinherit, rolcreaterole,"
        " rolcreatedb FROM pg_roles WHERE rolname IN ('anon', 'authenticated', 'service_role')"
        " ORDER BY rolname",
    )
    assert rows == [
        {
            "rolname": name,
            "rolcanlogin": False,
            "rolbypassrls": name == "service_role",
            "rolsuper": False,
            "rolinherit": False,
            "rolcreaterole": False,
            "rolcreatedb": False,
        }
        for name in ("anon", "authenticated", "service_role")
    ]


async def test_every_public_table_has_row_level_security(db: Conn) -> None:
    """A table added to `public` without RLS fails here."""
    rows = await fetch(
        db,
        "SELECT c.relname, c.relrowsecurity FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY c.relname",
    )
    assert {r["relname"] for r in rows} >= set(PUBLIC_TABLES)
    assert [r["relname"] for r in rows if not r["relrowsecurity"]] == []


async def test_no_views_or_matviews_in_public(db: Conn) -> None:
    """Views run with their owner's rights and skip RLS; none may be exposed to users."""
    rows = await fetch(
        db,
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind IN ('v', 'm')"
        " AND (has_table_privilege('authenticated', c.oid, 'SELECT')"
        "      OR has_table_privilege('anon', c.oid, 'SELECT'))",
    )
    assert rows == []


async def test_request_identity_comes_from_the_claims(db: Conn, world: World) -> None:
    rows = await as_user(
        db, world.bob, "SELECT current_user AS role, auth.uid() AS uid, auth.role() AS claim"
    )
    assert rows == [{"role": "authenticated", "uid": world.bob, "claim": "authenticated"}]
    rows = await as_user(db, None, "SELECT current_user AS role, auth.uid() AS uid")
    assert rows == [{"role": "anon", "uid": None}]


@pytest.mark.parametrize("table", PUBLIC_TABLES)
async def test_anon_is_denied_every_table(db: Conn, world: World, table: str) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        async with as_role(db, None) as c:
            await c.execute(
                sql.SQL("SELECT 1 FROM public.{} LIMIT 1").format(sql.Identifier(table))
            )


@pytest.mark.parametrize(
    "call",
    [
        "SELECT * FROM public.join_event('ABCDEF')",
        "SELECT public.delete_event(gen_random_uuid())",
        "SELECT * FROM public.event_photo_counts(ARRAY[gen_random_uuid()])",
        "SELECT public.hide_photo(gen_random_uuid())",
        "SELECT public.restore_photo(gen_random_uuid())",
        "SELECT * FROM public.event_reports(gen_random_uuid(), now(), gen_random_uuid(), 1)",
        "SELECT momento.report_photo('{}', gen_random_uuid(), 'spam', 1)",
        "SELECT * FROM private.my_event_ids()",
        "SELECT * FROM private.my_photo_event_ids()",
        "SELECT public.leave_event(gen_random_uuid(), true)",
        "SELECT public.retry_photo(gen_random_uuid(), 'image/jpeg', 1)",
    ],
)
async def test_anon_cannot_call_the_functions(db: Conn, call: str) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        async with as_role(db, None) as c:
            await c.execute(call)


async def test_anon_can_execute_no_function_of_ours(db: Conn) -> None:
    """Beyond auth.uid() and friends, nothing in our schemas runs for anon."""
    rows = await fetch(
        db,
        "SELECT n.nspname || '.' || p.proname AS fn FROM pg_proc p"
        " JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname IN ('public', 'private', 'auth', 'momento')"
        " AND has_function_privilege('anon', p.oid, 'EXECUTE')"
        " AND has_schema_privilege('anon', n.oid, 'USAGE') ORDER BY 1",
    )
    assert [r["fn"] for r in rows] == ["auth.email", "auth.jwt", "auth.role", "auth.uid"]


async def test_signed_in_users_execute_only_these_functions(db: Conn) -> None:
    """Each is used by the server, a policy or a column default (auth.role(), email() and jwt()
    are Supabase's identity helpers). A function granted to users is API: one added fails here
    until it is listed; one no longer used is dropped (as photo_like_counts() was, 0015)."""
    rows = await fetch(
        db,
        "SELECT n.nspname || '.' || p.proname AS fn FROM pg_proc p"
        " JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname IN ('public', 'private', 'auth', 'momento')"
        " AND has_function_privilege('authenticated', p.oid, 'EXECUTE')"
        " AND has_schema_privilege('authenticated', n.oid, 'USAGE') ORDER BY 1",
    )
    assert [r["fn"] for r in rows] == [
        "auth.email",
        "auth.jwt",
        "auth.role",
        "auth.uid",
        "private.is_event_creator",
        "private.is_guest",
        "private.my_event_ids",
        "private.my_photo_event_ids",
        "private.my_reported_photo_ids",
        "private.my_revealed_event_ids",
        "private.new_join_code",
        "public.delete_event",
        "public.event_photo_counts",
        "public.event_reports",
        "public.hide_photo",
        "public.join_event",
        "public.leave_event",
        "public.restore_photo",
        "public.retry_photo",
        "public.rotate_join_code",
    ]


@pytest.mark.parametrize("user", ["bob", None])
@pytest.mark.parametrize("table", ["users", "sessions", "refresh_tokens", "known_addresses"])
async def test_auth_tables_are_not_readable(
    db: Conn, world: World, table: str, user: str | None
) -> None:
    who: UUID | None = getattr(world, user) if user else None
    with pytest.raises(errors.InsufficientPrivilege):
        async with as_role(db, who) as c:
            await c.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier("auth", table)))


@pytest.mark.parametrize("user", ["bob", None])
async def test_rate_limits_are_not_readable(db: Conn, world: World, user: str | None) -> None:
    who: UUID | None = getattr(world, user) if user else None
    with pytest.raises(errors.InsufficientPrivilege):
        async with as_role(db, who) as c:
            await c.execute("SELECT * FROM momento.rate_limits")


async def test_service_role_bypasses_rls(db: Conn, world: World) -> None:
    async with db.transaction(force_rollback=True):
        await db.execute("SET LOCAL ROLE service_role")
        rows = await fetch(db, "SELECT count(*) AS n FROM photos")
    assert rows == [{"n": len(world.photos)}]


async def test_security_definer_functions_pin_their_search_path(db: Conn) -> None:
    """A definer function resolving names through the caller's search_path can be hijacked."""
    rows = await fetch(
        db,
        "SELECT n.nspname || '.' || p.proname AS fn FROM pg_proc p"
        " JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname IN ('public', 'private', 'auth', 'momento') AND p.prosecdef"
        " AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%%')",
    )
    assert rows == []


async def test_anon_holds_no_table_privilege_anywhere(db: Conn) -> None:
    """Nothing in the API works without signing in; a grant to anon fails here."""
    rows = await fetch(
        db,
        "SELECT n.nspname || '.' || c.relname AS rel FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname IN ('public', 'private', 'auth', 'momento')"
        " AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')"
        " AND (has_any_column_privilege('anon', c.oid, 'SELECT, INSERT, UPDATE, REFERENCES')"
        "      OR has_table_privilege('anon', c.oid, 'DELETE, TRUNCATE, TRIGGER'))",
    )
    assert rows == []


@pytest.mark.parametrize("role", ["anon", "authenticated"])
async def test_server_bookkeeping_schema_is_closed_to_users(db: Conn, role: str) -> None:
    rows = await fetch(db, "SELECT has_schema_privilege(%s, 'momento', 'USAGE') AS usage", (role,))
    assert rows == [{"usage": False}]
