"""The orphan sweep removes the raw `upload` of every photo that is no longer pending.

`upload` is the photo as the phone sent it, GPS Exif included. Completion removes it, but
best effort: when storage fails at that step (or the still-valid signed PUT sends the bytes
again afterwards) the object stays behind an `uploaded` photo, and only the sweep removes it,
once past `orphan_file_grace`. A pending photo's upload is the work still to do: it stays.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from momento.cleanup import service
from momento.photos.service import DISPLAY, ORIGINAL, THUMB, UPLOAD, key
from momento.services import Services
from tests.cleanup.helpers import age, photos_with_files, stored
from tests.factories import DAY, create_user, make_event, sql
from tests.photos.images import camera_jpeg
from tests.photos.uploads import (
    complete,
    local_app,
    open_event,
    put_undeletable_upload,
    row_of,
    undeletable,
)


async def test_an_upload_left_by_a_storage_fault_at_completion_goes_at_the_next_sweep(
    services: Services, tmp_path: Path
) -> None:
    ana = await create_user(services, "ana")
    async with local_app(services, tmp_path) as b:
        data = camera_jpeg(640, 480, orientation=1)
        assert b"Jane Doe" in data  # identifying Exif (GPS included) in what the phone sent
        event = await open_event(b, ana)
        photo_id, path, upload = await put_undeletable_upload(b, ana, event, data)
        with undeletable(upload):
            r = await complete(b, ana, photo_id)
            assert r.status_code == 200, r.text
        variants = {key(path, name) for name in (ORIGINAL, DISPLAY, THUMB)}
        assert await b.keys() == variants | {key(path, UPLOAD)}

        # Within the grace period the object may be a write in flight: it stays.
        result = await service.sweep_orphans(b.services)
        assert result.orphans == []
        assert await b.keys() == variants | {key(path, UPLOAD)}

        later = datetime.now(UTC) + timedelta(seconds=b.services.settings.orphan_file_grace + 60)
        result = await service.sweep_orphans(b.services, now=later)
        assert [o.key for o in result.orphans] == [key(path, UPLOAD)]
        assert await b.keys() == variants
        assert row_of(await b.rows(), photo_id)["upload_status"] == "uploaded"
        # What members are served has none of it.
        assert b"Jane Doe" not in await b.storage.read(key(path, ORIGINAL))


async def test_uploads_of_photos_no_longer_pending_go_and_pending_ones_stay(
    svc: Services,
) -> None:
    ana = await create_user(svc, "ana")
    event = await make_event(svc, ana, release_in=DAY)
    uploaded = await photos_with_files(svc, event, ana, 2)
    pending = await photos_with_files(svc, event, ana, 1, status="pending")
    left, resent = list(uploaded)
    # One upload left behind by a failed removal, one sent again by the signed PUT just now.
    left_upload = key(f"events/{event}/{left}", UPLOAD)
    resent_upload = key(f"events/{event}/{resent}", UPLOAD)
    for k in (left_upload, resent_upload):
        await svc.storage.put(k, b"GPS and all", "image/jpeg")
    for k in await stored(svc):
        if k != resent_upload:
            age(svc, k, hours=2)

    plan = await service.plan(svc)
    assert [o.key for o in plan.orphans] == [left_upload]
    result = await service.sweep_orphans(svc)
    assert [o.key for o in result.orphans] == [left_upload]
    expected = set().union(*uploaded.values(), *pending.values()) | {resent_upload}
    assert await stored(svc) == expected

    # The upload sent again goes too, once past the grace period.
    later = datetime.now(UTC) + timedelta(seconds=svc.settings.orphan_file_grace + 60)
    result = await service.sweep_orphans(svc, now=later)
    assert [o.key for o in result.orphans] == [resent_upload]
    assert await stored(svc) == set().union(*uploaded.values(), *pending.values())
    statuses = await sql(svc, "SELECT id, upload_status FROM public.photos ORDER BY id")
    assert {row["id"]: row["upload_status"] for row in statuses} == {
        **dict.fromkeys(uploaded, "uploaded"),
        **dict.fromkeys(pending, "pending"),
    }


async def test_only_the_upload_of_an_uploaded_photo_is_swept(svc: Services) -> None:
    """Same-named files elsewhere and the photo's other files are not mistaken for it."""
    ana = await create_user(svc, "ana")
    event = await make_event(svc, ana, release_in=DAY)
    (photo,) = await photos_with_files(svc, event, ana, 1)
    path = f"events/{event}/{photo}"
    extra = key(path, "upload.jpg")  # not `upload`: a live photo's file, whatever it is
    await svc.storage.put(extra, b"x", "image/jpeg")
    deeper = key(path, f"{uuid.uuid4()}/{UPLOAD}")
    await svc.storage.put(deeper, b"x", "image/jpeg")
    for k in await stored(svc):
        age(svc, k, hours=2)
    result = await service.sweep_orphans(svc)
    assert result.orphans == []
    assert {extra, deeper} <= await stored(svc)
