"""Moderation in the database (migration 0023): a report hides the photo from its reporter
(the photos policy), the host's functions (hide_photo, restore_photo, event_reports) act only
for the creator of the photo's live event, and momento.report_photo() hides a photo for
everyone at the host's report or at the threshold of counted reporters. Allowed, denied and
anon for each."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import pytest
from psycopg import errors

from momento.photos.feed import FIRST_ID, FIRST_TS
from tests.factories import add_members, insert_user, sql
from tests.rls.conftest import Conn, World, as_role, as_user, fetch, ids


async def report(
    db: Conn, user: UUID | None, photo: UUID, threshold: int = 3, reason: str | None = None
) -> bool:
    """momento.report_photo() as the server calls it (as the login role, with claims)."""
    claims: dict[str, Any] = (
        {"sub": str(user), "role": "authenticated"} if user else {"role": "anon"}
    )
    cur = await db.execute(
        "SELECT momento.report_photo(%s, %s, %s, %s) AS ok",
        (json.dumps(claims), photo, reason, threshold),
    )
    row = await cur.fetchone()
    assert row is not None
    ok: bool = row["ok"]
    return ok


async def flagged(db: Conn, photo: UUID) -> bool:
    cur = await db.execute("SELECT is_flagged FROM photos WHERE id = %s", (photo,))
    row = await cur.fetchone()
    assert row is not None
    value: bool = row["is_flagged"]
    return value


async def kept_as(db: Conn, user: UUID, query: str, params: tuple[Any, ...]) -> Any:
    """Call one of the host's functions with `user`'s claims and keep its effect (as_user rolls
    back). As the owner: EXECUTE is checked by the denied cases below, the caller's identity
    comes from the claims (auth.uid())."""
    claims = json.dumps({"sub": str(user), "role": "authenticated"})
    await db.execute("SELECT set_config('request.jwt.claims', %s, true)", (claims,))
    try:
        cur = await db.execute(query, params)
        row = await cur.fetchone()
    finally:
        await db.execute("SELECT set_config('request.jwt.claims', '', true)")
    assert row is not None
    return row["ok"]


async def visible(db: Conn, user: UUID, photo: UUID) -> bool:
    return bool(await as_user(db, user, "SELECT id FROM photos WHERE id = %s", (photo,)))


# --- a report hides the photo from its reporter ------------------------------------------------


async def test_a_report_hides_the_photo_from_the_reporter_only(db: Conn, world: World) -> None:
    photo = world.photos["after.alice.uploaded"]
    assert await report(db, world.bob, photo) is True
    assert not await visible(db, world.bob, photo)
    assert await visible(db, world.alice, photo)  # the owner (and host)
    assert await flagged(db, photo) is False
    # Not likeable by the reporter either (the likes policy reads photos under RLS).
    with pytest.raises(errors.InsufficientPrivilege):
        await as_user(
            db,
            world.bob,
            "INSERT INTO photo_likes (photo_id, user_id) VALUES (%s, %s)",
            (photo, world.bob),
        )
    # The feed statement leaves it out for bob only.
    async with as_role(db, world.bob) as c:
        seen = await ids(c, "SELECT id FROM photos WHERE event_id = %s", (world.after,))
    assert photo not in seen
    assert world.photos["after.bob.uploaded"] in seen


async def test_the_threshold_of_counted_reporters_hides_it_for_everyone(
    db: Conn, world: World
) -> None:
    photo = world.photos["after.alice.uploaded"]
    erin, frank, guest = [await insert_user(db, n) for n in ("erin", "frank", "guest")]
    await sql(db, "UPDATE auth.users SET is_anonymous = true WHERE id = %s RETURNING 1", guest)
    await add_members(db, world.after, [erin, frank, guest])
    assert await report(db, world.bob, photo, threshold=3)
    assert await report(db, guest, photo, threshold=3)  # a guest's: not counted
    assert await report(db, erin, photo, threshold=3)
    assert await flagged(db, photo) is False
    assert await visible(db, frank, photo)
    assert await report(db, frank, photo, threshold=3)
    assert await flagged(db, photo) is True
    assert await visible(db, world.alice, photo)  # the owner still
    rows = await fetch(
        db,
        "SELECT reporter_id, by_anonymous FROM momento.photo_reports WHERE photo_id = %s",
        (photo,),
    )
    assert {r["reporter_id"]: r["by_anonymous"] for r in rows} == {
        world.bob: False,
        guest: True,
        erin: False,
        frank: False,
    }


async def test_the_hosts_report_hides_it_for_everyone(db: Conn, world: World) -> None:
    photo = world.photos["after.bob.uploaded"]
    assert await report(db, world.alice, photo)
    assert await flagged(db, photo) is True
    assert not await visible(db, world.dave, photo)


@pytest.mark.parametrize(
    "case", ["non_member", "before_reveal", "pending", "deleted_event", "hidden", "anon"]
)
async def test_report_denied(db: Conn, world: World, case: str) -> None:
    photo = {
        "non_member": world.photos["other.carol.uploaded"],
        "before_reveal": world.photos["before.alice.uploaded"],
        "pending": world.photos["after.alice.pending"],
        "deleted_event": world.photos["gone.alice.uploaded"],
        "hidden": world.photos["after.alice.flagged"],
        "anon": world.photos["after.alice.uploaded"],
    }[case]
    if case == "anon":
        with pytest.raises(errors.InsufficientPrivilege):
            await report(db, None, photo)
        return
    assert await report(db, world.bob, photo) is False
    assert (
        await fetch(db, "SELECT 1 FROM momento.photo_reports WHERE photo_id = %s", (photo,)) == []
    )


async def test_users_cannot_call_the_report_function_nor_read_reports(
    db: Conn, world: World
) -> None:
    for user in (world.bob, None):
        with pytest.raises(errors.InsufficientPrivilege):
            await as_user(
                db,
                user,
                "SELECT momento.report_photo('{}', %s, NULL, 1)",
                (world.photos["after.alice.uploaded"],),
            )
        with pytest.raises(errors.InsufficientPrivilege):
            await as_user(db, user, "SELECT * FROM momento.photo_reports")


# --- the host's functions ----------------------------------------------------------------------


async def test_the_host_hides_and_restores(db: Conn, world: World) -> None:
    photo = world.photos["after.bob.uploaded"]
    viewer = await insert_user(db, "viewer")
    await add_members(db, world.after, [viewer])
    assert await visible(db, viewer, photo)
    assert await kept_as(db, world.alice, "SELECT public.hide_photo(%s) AS ok", (photo,))
    assert await flagged(db, photo) is True
    assert not await visible(db, viewer, photo)
    assert await visible(db, world.bob, photo)  # the owner
    # A member's report, then the host's restore: visible again to all but that reporter.
    erin = await insert_user(db, "erin")
    await add_members(db, world.after, [erin])
    await sql(
        db,
        "INSERT INTO momento.photo_reports (photo_id, reporter_id) VALUES (%s, %s) RETURNING 1",
        photo,
        erin,
    )
    assert await kept_as(db, world.alice, "SELECT public.restore_photo(%s) AS ok", (photo,))
    assert await flagged(db, photo) is False
    assert await visible(db, viewer, photo)
    assert not await visible(db, erin, photo)
    rows = await fetch(
        db,
        "SELECT reporter_id, dismissed_at IS NOT NULL AS dismissed FROM momento.photo_reports"
        " WHERE photo_id = %s",
        (photo,),
    )
    assert rows == [{"reporter_id": erin, "dismissed": True}]
    # A dismissed report does not count toward the threshold: one new one (of 1) hides it.
    assert await report(db, world.dave, photo, threshold=2) is False  # dave left the event
    frank = await insert_user(db, "frank")
    await add_members(db, world.after, [frank])
    assert await report(db, frank, photo, threshold=2)
    assert await flagged(db, photo) is False
    assert await report(db, world.bob, photo, threshold=2)  # the owner's report counts
    assert await flagged(db, photo) is True


@pytest.mark.parametrize("fn", ["hide_photo", "restore_photo"])
@pytest.mark.parametrize("who", ["member", "other_host", "deleted_event", "anon"])
async def test_the_host_functions_refuse_everyone_else(
    db: Conn, world: World, fn: str, who: str
) -> None:
    photo = world.photos["gone.bob.uploaded" if who == "deleted_event" else "after.bob.uploaded"]
    user = {"member": world.bob, "other_host": world.carol, "deleted_event": world.alice}.get(who)
    query = (
        "SELECT public.hide_photo(%s) AS ok"
        if fn == "hide_photo"
        else "SELECT public.restore_photo(%s) AS ok"
    )
    if user is None:
        with pytest.raises(errors.InsufficientPrivilege):
            await as_user(db, None, query, (photo,))
        return
    assert (await as_user(db, user, query, (photo,)))[0]["ok"] is False


async def test_event_reports_for_the_host_only(db: Conn, world: World) -> None:
    photo = world.photos["after.bob.uploaded"]
    await report(db, world.dave, photo)  # dave left: refused
    erin = await insert_user(db, "erin")
    await add_members(db, world.after, [erin])
    assert await report(db, erin, photo, reason="blurry")
    query = "SELECT * FROM public.event_reports(%s, %s, %s, 10)"
    params = (world.after, FIRST_TS, FIRST_ID)
    rows = await as_user(db, world.alice, query, params)
    got = {r["id"]: r for r in rows}
    assert (got[photo]["reports"], got[photo]["counted_reports"]) == (1, 1)
    assert (got[photo]["reasons"], got[photo]["hidden"]) == (["blurry"], False)
    assert world.photos["after.alice.flagged"] in got  # hidden for everyone: listed
    assert world.photos["after.alice.uploaded"] not in got
    for user in (world.bob, world.carol):
        assert await as_user(db, user, query, params) == []
    with pytest.raises(errors.InsufficientPrivilege):
        await as_user(db, None, query, params)
