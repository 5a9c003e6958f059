"""DELETE /v1/me removes the user's files through the purge queue: their own photos in other
people's events, and every photo of the events they created; other people's files stay."""

from __future__ import annotations

import httpx

from momento.jobs.queue import run_worker
from momento.services import Services
from tests.cleanup.helpers import check_invariants, photos_with_files, purge_records, stored
from tests.factories import DAY, create_user, make_event, sql


async def test_account_deletion_removes_the_users_files(
    svc: Services, svc_client: httpx.AsyncClient
) -> None:
    ana = await create_user(svc, "ana")
    bob = await create_user(svc, "bob")
    anas = await make_event(svc, ana, release_in=-DAY, members=[bob])
    bobs = await make_event(svc, bob, release_in=-DAY, members=[ana])
    in_anas = await photos_with_files(svc, anas, ana, 1)
    in_anas |= await photos_with_files(svc, anas, bob, 2)  # Bob's, in Ana's event: they go
    anas_in_bobs = await photos_with_files(svc, bobs, ana, 2)
    bobs_in_bobs = await photos_with_files(svc, bobs, bob, 2)
    await svc.storage.put(f"events/{anas}/cover.jpg", b"x", "image/jpeg")
    everything = in_anas | anas_in_bobs | bobs_in_bobs

    r = await svc_client.delete("/v1/me", headers=ana.headers)
    assert r.status_code == 204

    # Committed with the rows: a record for every photo that went and for Ana's event, and
    # the job that removes them. No file has gone yet, and every one is reachable.
    expected = {f"events/{anas}/"} | {
        f"events/{event}/{photo}/"
        for event, photos in ((anas, in_anas), (bobs, anas_in_bobs))
        for photo in photos
    }
    assert await purge_records(svc) == expected
    jobs = await sql(svc, "SELECT task_name, status::text AS status FROM procrastinate_jobs")
    assert jobs == [{"task_name": "cleanup:purge_files", "status": "todo"}]
    await check_invariants(svc, everything)

    await run_worker(svc, install_signal_handlers=False, wait=False, concurrency=1)

    assert await stored(svc) == set().union(*bobs_in_bobs.values())
    assert await purge_records(svc) == set()
    assert await sql(svc, "SELECT id FROM public.events") == [{"id": bobs}]
    assert await sql(svc, "SELECT id FROM procrastinate_jobs") == []


async def test_deleting_ones_photo_leaves_nothing_behind(
    svc: Services, svc_client: httpx.AsyncClient
) -> None:
    """The user's own delete removes the files at once; the record it leaves is cleared."""
    ana = await create_user(svc, "ana")
    event = await make_event(svc, ana, release_in=DAY)
    (photo,) = await photos_with_files(svc, event, ana, 1)
    r = await svc_client.delete(f"/v1/photos/{photo}", headers=ana.headers)
    assert r.status_code == 204, r.text
    assert await stored(svc) == set()
    await run_worker(svc, install_signal_handlers=False, wait=False, concurrency=1)
    assert await purge_records(svc) == set()
