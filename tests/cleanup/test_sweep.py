"""The orphan sweep: abandoned uploads fail and lose their partial files, files no row points
to go once past the grace period, and everything a row or a purge record reaches stays."""

from __future__ import annotations

import dataclasses
import uuid

import httpx
import pytest

from momento.cleanup import service
from momento.photos.service import UPLOAD, key
from momento.services import Services
from momento.storage import LocalDiskStorage
from tests.cleanup.helpers import (
    Crash,
    CrashingStorage,
    age,
    check_invariants,
    photos_with_files,
    purge_records,
    stored,
)
from tests.factories import DAY, create_user, make_event, sql


async def _created_hours_ago(svc: Services, photo_id: uuid.UUID, hours: float) -> None:
    async with svc.db.privileged() as conn:
        await conn.execute(
            "UPDATE public.photo_media SET created_at = now() - make_interval(hours => %s)"
            " WHERE photo_id = %s",
            (hours, photo_id),
        )


async def test_the_sweep(svc: Services) -> None:
    ana = await create_user(svc, "ana")
    event = await make_event(svc, ana, release_in=DAY)
    live = await photos_with_files(svc, event, ana, 2)
    (abandoned,) = await photos_with_files(svc, event, ana, 1, status="pending")
    (in_progress,) = await photos_with_files(svc, event, ana, 1, status="pending")
    (failed,) = await photos_with_files(svc, event, ana, 1, status="failed")
    await _created_hours_ago(svc, abandoned, 25)
    await _created_hours_ago(svc, in_progress, 1)
    # A failed photo's late PUT, a file whose row is gone, one just written (a write in flight
    # may come before its row is seen), and a stray file beside the photos.
    failed_upload = key(f"events/{event}/{failed}", UPLOAD)
    await svc.storage.put(failed_upload, b"x", "image/jpeg")
    orphan = f"events/{event}/{uuid.uuid4()}/original"
    fresh = f"events/{event}/{uuid.uuid4()}/upload"
    stray = f"events/{uuid.uuid4()}/junk"
    for k in (orphan, fresh, stray):
        await svc.storage.put(k, b"x", "image/jpeg")
    for k in await stored(svc):
        if k != fresh:
            age(svc, k, hours=2)

    result = await service.sweep_orphans(svc)

    assert result.expired_photos == [abandoned]
    assert result.expired_files == 1
    assert sorted(o.key for o in result.orphans) == sorted([failed_upload, orphan, stray])
    [row] = await sql(
        svc,
        "SELECT p.upload_status, m.failure_code FROM public.photos p"
        " JOIN public.photo_media m ON m.photo_id = p.id WHERE p.id = %s",
        abandoned,
    )
    assert row == {"upload_status": "failed", "failure_code": "upload_expired"}
    [row] = await sql(svc, "SELECT upload_status FROM public.photos WHERE id = %s", in_progress)
    assert row["upload_status"] == "pending"
    expected = set().union(*live.values()) | {key(f"events/{event}/{in_progress}", UPLOAD), fresh}
    assert await stored(svc) == expected
    # Nothing more to do.
    again = await service.sweep_orphans(svc)
    assert (again.expired_photos, again.orphans, again.purged.prefixes) == ([], [], 0)


async def test_the_owner_learns_why_an_expired_upload_failed(
    svc: Services, svc_client: httpx.AsyncClient
) -> None:
    ana = await create_user(svc, "ana")
    event = await make_event(svc, ana, release_in=DAY)
    (photo,) = await photos_with_files(svc, event, ana, 1, status="pending")
    await _created_hours_ago(svc, photo, 30)
    await service.sweep_orphans(svc)
    # Completing it now (a client back online after a day) says why.
    r = await svc_client.post(f"/v1/photos/{photo}/complete", headers=ana.headers)
    assert r.status_code == 422, r.text
    assert r.json()["reason"] == "upload_expired"


async def test_files_in_the_purge_queue_are_not_orphans(svc: Services) -> None:
    ana = await create_user(svc, "ana")
    event = await make_event(svc, ana, release_in=DAY)
    files = await photos_with_files(svc, event, ana, 1)
    (photo,) = files
    async with svc.db.privileged() as conn:
        await conn.execute("DELETE FROM public.photos WHERE id = %s", (photo,))
    for k in files[photo]:
        age(svc, k, hours=5)
    assert [o async for o in service.find_orphan_files(svc)] == []
    assert await purge_records(svc) == {f"events/{event}/{photo}/"}


@pytest.mark.parametrize("after", [False, True], ids=["before", "after"])
async def test_a_crash_while_expiring_uploads_is_finished_next_time(
    svc: Services, after: bool
) -> None:
    """Marked failed before any file goes: a crash between leaves a failed photo with files
    (reachable from its row), which the next sweep removes."""
    ana = await create_user(svc, "ana")
    event = await make_event(svc, ana, release_in=DAY)
    files = await photos_with_files(svc, event, ana, 1, status="pending")
    (photo,) = files
    await _created_hours_ago(svc, photo, 25)
    assert isinstance(svc.storage, LocalDiskStorage)
    crashing = dataclasses.replace(svc, storage=CrashingStorage(svc.storage, 0, after=after))
    with pytest.raises(Crash):
        await service.sweep_orphans(crashing)
    [row] = await sql(svc, "SELECT upload_status FROM public.photos WHERE id = %s", photo)
    assert row["upload_status"] == "failed"
    await check_invariants(svc, {})
    for k in await stored(svc):
        age(svc, k, hours=2)
    await service.sweep_orphans(svc)
    assert await stored(svc) == set()
