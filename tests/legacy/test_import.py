"""`momento legacy import`: the old deployment's rows here, repaired by the stated rules."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from momento.legacy import importer
from momento.services import Services
from tests.auth.helpers import API, PASSWORD, login
from tests.legacy.conftest import source_execute

ALICE = "a1000000-0000-4000-8000-000000000001"
BOB = "a2000000-0000-4000-8000-000000000002"
CAROL = "a3000000-0000-4000-8000-000000000003"
DAVE = "a4000000-0000-4000-8000-000000000004"
ERIN = "a5000000-0000-4000-8000-000000000005"
GINA = "a7000000-0000-4000-8000-000000000007"
E1, E2, E3, E4, E5 = (f"e0000000-0000-0000-0000-00000000000{n}" for n in range(1, 6))


async def rows(services: Services, query: str, *params: Any) -> list[dict[str, Any]]:
    async with services.db.privileged() as conn:
        cur = await conn.execute(query, params)
        return await cur.fetchall()


async def test_import_copies_the_old_deployment_by_the_stated_rules(
    services: Services, old_db: str
) -> None:
    report = await importer.run(services, old_db)

    assert report.imported == {
        "users": 6,
        "identities": 6,
        "profiles": 5,
        "events": 5,
        "members": 8,
        "photos": 6,
        "likes": 3,
    }
    assert report.repairs == {
        "usernames repaired (lowercase, [a-z0-9_.], 3-30, unique)": 3,
        "display names cut to 60 characters": 1,
        "users without a profile given one (user_<id>)": 1,
        "event names trimmed, cut to 100 or named 'Untitled event'": 2,
        "join codes uppercased or replaced (invalid or taken)": 2,
        "event times repaired (release after start)": 1,
        "duplicate memberships merged (earliest joined_at kept)": 1,
        "event creators made members (they were not)": 1,
        "unknown upload_status set to 'failed'": 1,
        "photo usernames filled from profiles": 2,
        "duplicate likes merged (one per photo and user)": 1,
    }
    assert report.skipped == {
        "likes of a photo missing at the source": 1,
        "likes by a user missing at the source": 1,
    }

    profiles = {
        str(r["id"]): r
        for r in await rows(services, "SELECT id, username, display_name FROM public.profiles")
    }
    assert profiles[ALICE]["username"] == "alice"
    assert profiles[BOB]["username"] == "bob_smith_"
    assert profiles[CAROL]["username"] == "user_a30000000000"  # she had no profile
    assert profiles[DAVE]["username"] == "user_a40000000000"  # 'al' is too short
    assert profiles[ERIN]["username"] == "user_a50000000000"  # 'ALICE' is alice's
    assert profiles["a6000000-0000-4000-8000-000000000006"]["display_name"] == "F" * 60

    events = {
        str(r["id"]): r
        for r in await rows(
            services, "SELECT id, name, join_code, starts_at, release_at FROM public.events"
        )
    }
    assert events[E1]["join_code"] == "ABC234"
    assert events[E2]["name"] == "Untitled event"
    assert events[E2]["join_code"] == "XYZ789"
    assert len(events[E3]["name"]) <= 100
    assert events[E3]["join_code"] != "O0I1LX"
    assert events[E3]["starts_at"] < events[E3]["release_at"]

    members = await rows(
        services,
        "SELECT event_id::text AS e, user_id::text AS u, joined_at FROM public.event_members"
        " ORDER BY 1, 2",
    )
    pairs = {(m["e"], m["u"]) for m in members}
    assert (E4, ERIN) in pairs  # the creator, made a member
    bob_in_e1 = [m for m in members if (m["e"], m["u"]) == (E1, BOB)]
    assert len(bob_in_e1) == 1

    photos = {
        str(r["id"]): r
        for r in await rows(
            services,
            "SELECT id, username, upload_status, storage_path, like_count FROM public.photos",
        )
    }
    p2 = photos["f0000000-0000-0000-0000-000000000002"]
    assert p2["upload_status"] == "failed"
    assert p2["username"] == "bob_smith_"
    assert p2["like_count"] == 1
    assert p2["storage_path"] == f"events/{E1}/f0000000-0000-0000-0000-000000000002"
    assert photos["f0000000-0000-0000-0000-000000000004"]["username"] == "user_a30000000000"


async def test_old_passwords_sign_in(
    services: Services, client: httpx.AsyncClient, old_db: str
) -> None:
    await importer.run(services, old_db)
    r = await login(client, "alice@old.example", PASSWORD)
    assert r.status_code == 200, r.text
    assert r.json()["user"]["id"] == ALICE
    r = await login(client, "bob@old.example", "not the password")
    assert r.status_code == 400
    # Rehashed to argon2id at the first sign-in; the old password still works after.
    stored = await rows(services, "SELECT encrypted_password FROM auth.users WHERE id = %s", ALICE)
    assert stored[0]["encrypted_password"].startswith("$argon2id$")
    r = await login(client, "alice@old.example", PASSWORD)
    assert r.status_code == 200
    assert API


async def test_dry_run_writes_nothing_and_reports_the_same(services: Services, old_db: str) -> None:
    planned = await importer.run(services, old_db, dry_run=True)
    assert planned.dry_run
    assert planned.run_id is None
    assert await rows(services, "SELECT id FROM auth.users") == []
    assert await rows(services, "SELECT id FROM momento.legacy_runs") == []
    done = await importer.run(services, old_db)
    assert (done.imported, done.repairs, done.skipped) == (
        planned.imported,
        planned.repairs,
        planned.skipped,
    )
    assert "Plan (dry run, nothing written)" in planned.render()


async def test_rerun_imports_only_what_is_new_and_lists_changes(
    services: Services, old_db: str
) -> None:
    await importer.run(services, old_db)
    again = await importer.run(services, old_db)
    assert set(again.imported.values()) == {0}
    assert again.repairs == {}
    assert not again.changed
    assert not again.deleted

    # Here, after the import: bob unlikes photo 1, alice renames herself.
    async with services.db.privileged() as conn:
        await conn.execute(
            "DELETE FROM public.photo_likes WHERE user_id = %s"
            " AND photo_id = 'f0000000-0000-0000-0000-000000000001'",
            (BOB,),
        )
        await conn.execute("UPDATE public.profiles SET username = 'alice2' WHERE id = %s", (ALICE,))
    # At the source, since: a new user with a photo liked by erin, a profile changed, a photo
    # deleted, a like of an old photo, a new member of an old event.
    await source_execute(
        old_db,
        f"""
        INSERT INTO auth.users (id, aud, role, email, encrypted_password, email_confirmed_at,
                                raw_user_meta_data, created_at, updated_at)
        VALUES ('{GINA}', 'authenticated', 'authenticated',
                'gina@old.example', 'x', now(), '{{"username": "gina"}}', now(), now());
        INSERT INTO public.profiles (id, username) VALUES ('{GINA}', 'gina');
        INSERT INTO public.event_members (event_id, user_id) VALUES ('{E1}', '{GINA}');
        INSERT INTO public.photos (id, event_id, user_id, storage_path, captured_by_username,
                                   upload_status)
        VALUES ('f0000000-0000-0000-0000-000000000007', '{E1}', '{GINA}', 'x/7.jpg', 'gina',
                'uploaded');
        INSERT INTO public.photo_interactions (photo_id, user_id, status) VALUES
          ('f0000000-0000-0000-0000-000000000007', '{ERIN}', 'liked'),
          ('f0000000-0000-0000-0000-000000000006', '{ERIN}', 'liked');
        UPDATE public.profiles SET display_name = 'Dave D.' WHERE id = '{DAVE}';
        DELETE FROM public.photo_interactions
        WHERE photo_id = 'f0000000-0000-0000-0000-000000000003';
        DELETE FROM public.photos WHERE id = 'f0000000-0000-0000-0000-000000000005';
        """,
    )
    third = await importer.run(services, old_db)
    assert third.imported == {
        "users": 1,
        "identities": 0,
        "profiles": 1,
        "events": 0,
        "members": 1,
        "photos": 1,
        "likes": 2,
    }
    assert third.changed["profiles"].keys == [DAVE]
    assert third.deleted["photos"].keys == ["f0000000-0000-0000-0000-000000000005"]
    assert third.deleted["likes"].keys == [f"f0000000-0000-0000-0000-000000000003/{CAROL}"]
    # Nothing else changed here: the changes are listed, not applied; what happened here stays.
    assert (await rows(services, "SELECT display_name FROM public.profiles WHERE id = %s", DAVE))[
        0
    ]["display_name"] == "Dave"
    assert await rows(
        services, "SELECT 1 FROM public.photos WHERE id = 'f0000000-0000-0000-0000-000000000005'"
    )
    assert not await rows(
        services,
        "SELECT 1 FROM public.photo_likes WHERE user_id = %s"
        " AND photo_id = 'f0000000-0000-0000-0000-000000000001'",
        BOB,
    )
    assert (await rows(services, "SELECT username FROM public.profiles WHERE id = %s", ALICE))[0][
        "username"
    ] == "alice2"


async def test_a_failure_midway_leaves_nothing_and_a_rerun_finishes(
    services: Services, old_db: str
) -> None:
    # A real failure in the last stage (the likes): a trigger here refusing them.
    async with services.db.privileged() as conn:
        await conn.execute(
            "CREATE FUNCTION public.refuse_likes() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;"
            " CREATE TRIGGER refuse_likes BEFORE INSERT ON public.photo_likes"
            " FOR EACH STATEMENT EXECUTE FUNCTION public.refuse_likes()"
        )
    try:
        with pytest.raises(Exception, match="injected failure"):
            await importer.run(services, old_db)
        for table in (
            "auth.users",
            "public.profiles",
            "public.events",
            "public.event_members",
            "public.photos",
            "momento.legacy_rows",
            "momento.legacy_runs",
        ):
            assert await rows(services, f"SELECT 1 FROM {table}") == [], table
    finally:
        async with services.db.privileged() as conn:
            await conn.execute(
                "DROP TRIGGER refuse_likes ON public.photo_likes;"
                " DROP FUNCTION public.refuse_likes()"
            )
    done = await importer.run(services, old_db)
    assert done.imported["likes"] == 3
    assert done.imported["users"] == 6


async def test_imported_free_events_keep_their_retention_from_the_import(
    services: Services, old_db: str
) -> None:
    from momento.cleanup import service as cleanup

    await importer.run(services, old_db)
    # Event 1 was revealed 60 days ago, free: the next cleanup keeps it (imported just now).
    assert await cleanup.expire_free_events(services) == []
    # Once the import itself is older than the retention, it goes like any other.
    async with services.db.privileged() as conn:
        await conn.execute(
            "UPDATE momento.legacy_events SET imported_at = now() - interval '8 days'"
        )
    expired = {str(e) for e in await cleanup.expire_free_events(services)}
    assert expired == {E1, E3}


async def test_a_user_whose_email_is_taken_here_is_left_out_with_what_is_theirs(
    services: Services, old_db: str
) -> None:
    from tests.auth.helpers import add_user

    await add_user(services, "Dave@old.example", username="dave_here")
    report = await importer.run(services, old_db)
    assert report.imported["users"] == 5
    assert report.skipped["users whose email is taken here (or twice at the source)"] == 1
    assert report.skipped["events whose creator was not imported"] == 1
    assert report.skipped["photos of an event not imported"] == 1
    assert await rows(services, "SELECT 1 FROM public.events WHERE id = %s", E3) == []
