"""DELETE /v1/events/{id}/membership?photos=keep_photos|remove_photos: what happens to the
leaver's photos and likes, and what the former member can still do with their own photos."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from momento.jobs.queue import run_worker
from momento.services import Services
from momento.storage import LocalDiskStorage
from tests.conftest import app_client
from tests.factories import (
    TestUser,
    add_photo,
    assert_problem,
    create_users,
    like,
    make_event,
    sql,
)
from tests.photos.helpers import VARIANTS, feed_ids, put_files, stored_keys


async def leave(
    client: httpx.AsyncClient, user: TestUser, event: uuid.UUID, photos: str | None = None
) -> httpx.Response:
    """Leave the event, with the `photos` choice if given (else the default)."""
    params = {"photos": photos} if photos is not None else {}
    return await client.delete(
        f"/v1/events/{event}/membership", headers=user.headers, params=params
    )


async def like_counts(services: Services, *photos: uuid.UUID) -> list[int]:
    return [
        (await sql(services, "SELECT like_count FROM public.photos WHERE id = %s", p))[0][
            "like_count"
        ]
        for p in photos
    ]


@pytest.mark.parametrize("photos", [None, "keep_photos"])
async def test_keep_photos_and_still_manage_them(
    client: httpx.AsyncClient, services: Services, photos: str | None
) -> None:
    alice, bob, carol = await create_users(services, 3)
    event = await make_event(services, alice, revealed=True, members=[bob, carol])
    bobs = await add_photo(services, event, bob)
    bobs_pending = await add_photo(services, event, bob, status="pending")
    alices = await add_photo(services, event, alice)
    carols = await add_photo(services, event, carol)
    await like(services, alices, bob)

    r = await leave(client, bob, event, photos)
    assert r.status_code == 204, r.text

    # Today's rule: his photos stay in the event, revealed to its members; his like stays.
    assert str(bobs) in await feed_ids(client, alice, event)
    assert await like_counts(services, alices) == [1]
    # He sees nothing of the event any more, nor anyone else's photos...
    assert_problem(
        await client.get(f"/v1/events/{event}", headers=bob.headers), 404, "event_not_found"
    )
    r = await client.get(f"/v1/events/{event}/photos", headers=bob.headers)
    assert_problem(r, 404, "event_not_found")
    for other in (alices, carols):
        r = await client.get(f"/v1/photos/{other}", headers=bob.headers)
        assert_problem(r, 404, "photo_not_found")
        r = await client.delete(f"/v1/photos/{other}", headers=bob.headers)
        assert_problem(r, 404, "photo_not_found")
    # ...but still lists, reads and deletes his own.
    r = await client.get(f"/v1/events/{event}/photos/mine", headers=bob.headers)
    assert r.status_code == 200, r.text
    assert {i["id"] for i in r.json()["items"]} == {str(bobs), str(bobs_pending)}
    r = await client.get(f"/v1/photos/{bobs}", headers=bob.headers)
    assert r.status_code == 200
    assert r.json()["urls"] is not None
    r = await client.delete(f"/v1/photos/{bobs}", headers=bob.headers)
    assert r.status_code == 204
    assert str(bobs) not in await feed_ids(client, alice, event)
    r = await client.delete(f"/v1/photos/{bobs_pending}", headers=bob.headers)
    assert r.status_code == 204
    # With none left, the event is nothing of his: 404.
    r = await client.get(f"/v1/events/{event}/photos/mine", headers=bob.headers)
    assert_problem(r, 404, "event_not_found")
    assert {str(p) for p in (alices, carols)} == set(await feed_ids(client, alice, event))


@pytest.fixture
async def svc(services: Services, tmp_path: Path) -> AsyncIterator[Services]:
    """The session's services with a storage of their own (files of this test only)."""
    assert isinstance(services.storage, LocalDiskStorage)
    storage = LocalDiskStorage(tmp_path / "files", services.storage.signer)
    await storage.open()
    try:
        yield dataclasses.replace(services, storage=storage)
    finally:
        await storage.close()


async def test_remove_photos_takes_photos_likes_and_files(svc: Services) -> None:
    alice, bob, carol = await create_users(svc, 3)
    event = await make_event(svc, alice, revealed=True, members=[bob, carol])
    elsewhere = await make_event(svc, carol, revealed=True, members=[bob])
    bobs = [await add_photo(svc, event, bob), await add_photo(svc, event, bob, status="failed")]
    alices = await add_photo(svc, event, alice)
    hidden = await add_photo(svc, event, carol, flagged=True)
    bobs_elsewhere = await add_photo(svc, elsewhere, bob)
    carols_elsewhere = await add_photo(svc, elsewhere, carol)
    for e, p in ((event, bobs[0]), (event, alices), (elsewhere, bobs_elsewhere)):
        await put_files(svc, e, p)
    # Bob's likes: in the event (one of a photo hidden since), elsewhere; others like his.
    await like(svc, alices, bob)
    await like(svc, hidden, bob)
    await like(svc, carols_elsewhere, bob)
    await like(svc, bobs[0], alice)

    async with app_client(svc) as client:
        r = await leave(client, bob, event, "remove_photos")
        assert r.status_code == 204, r.text

        for p in bobs:
            assert await sql(svc, "SELECT 1 FROM public.photos WHERE id = %s", p) == []
        assert await sql(
            svc,
            "SELECT l.photo_id FROM public.photo_likes l JOIN public.photos p ON p.id = l.photo_id"
            " WHERE l.user_id = %s",
            bob.id,
        ) == [{"photo_id": carols_elsewhere}]
        assert await like_counts(svc, alices, hidden, carols_elsewhere) == [0, 0, 1]
        assert (
            await sql(
                svc,
                "SELECT 1 FROM public.event_members WHERE event_id = %s AND user_id = %s",
                event,
                bob.id,
            )
            == []
        )
        # Everything else stays: his photo elsewhere, everyone else's here.
        assert set(await feed_ids(client, alice, event)) == {str(alices)}
        assert str(bobs_elsewhere) in await feed_ids(client, carol, elsewhere)
        r = await client.get(f"/v1/events/{event}/photos/mine", headers=bob.headers)
        assert_problem(r, 404, "event_not_found")

    # The files: recorded and queued in the leaving transaction, removed by the purge job.
    prefixes = {r["prefix"] for r in await sql(svc, "SELECT prefix FROM momento.file_purges")}
    assert prefixes == {f"events/{event}/{p}/" for p in bobs}
    jobs = await sql(svc, "SELECT task_name FROM procrastinate_jobs WHERE status = 'todo'")
    assert jobs == [{"task_name": "cleanup:purge_files"}]
    await run_worker(svc, install_signal_handlers=False, wait=False, concurrency=1)
    assert await stored_keys(svc, event, bobs[0]) == set()
    assert await sql(svc, "SELECT prefix FROM momento.file_purges") == []
    for e, p in ((event, alices), (elsewhere, bobs_elsewhere)):
        assert {k.rsplit("/", 1)[1] for k in await stored_keys(svc, e, p)} >= set(VARIANTS)


async def test_refusals_change_nothing(client: httpx.AsyncClient, services: Services) -> None:
    alice, bob, carol = await create_users(services, 3)
    event = await make_event(services, alice, revealed=True, members=[bob])
    alices = await add_photo(services, event, alice)
    bobs = await add_photo(services, event, bob)
    # The creator cannot leave, whatever the choice; nothing of hers goes.
    assert_problem(await leave(client, alice, event, "remove_photos"), 409, "creator_cannot_leave")
    # Not a member (or no such event): 404, with either choice.
    assert_problem(await leave(client, carol, event, "remove_photos"), 404, "event_not_found")
    assert_problem(await leave(client, bob, uuid.uuid4(), "remove_photos"), 404, "event_not_found")
    # An unknown choice is refused before anything happens.
    r = await leave(client, bob, event, "remove")
    assert r.status_code == 422
    assert set(await feed_ids(client, alice, event)) == {str(alices), str(bobs)}
    # Having left keeping his photos, a second leave cannot remove them: he is not a member.
    assert (await leave(client, bob, event)).status_code == 204
    assert_problem(await leave(client, bob, event, "remove_photos"), 404, "event_not_found")
    assert set(await feed_ids(client, alice, event)) == {str(alices), str(bobs)}
