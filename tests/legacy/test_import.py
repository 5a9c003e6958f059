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
E1, E2, E3, E4, E5 = (f"e0000000-0000-0000-0000-00000000000{n}" for n in range(1, 6))


async def rows(services: Services, query: str, *params: Any) -> list[dict[str, Any]]:
    async with services.db.privileged() as conn:
        cur = await conn.execute(query, params)  # type: ignore[arg-type]
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
    print(report.render())

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


async def test_old_passwords_sign_in(services: Services, client: httpx.AsyncClient, old_db: str) -> None:
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
