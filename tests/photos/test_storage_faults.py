"""The upload flow against real storage faults: camera-sized photos on S3, S3 cut off at
completion, a full disk while the variants are written.

A fault at completion answers 503 (or 507) with Retry-After, leaves the photo `pending` with
its upload in place and no half-written variant, and completing again once storage is back
succeeds. S3 is cut off with a TCP proxy in front of moto; the disk is a small tmpfs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import pyvips

from momento.photos.service import DISPLAY, ORIGINAL, THUMB, UPLOAD
from momento.services import Services
from momento.storage import FileUrlSigner, LocalDiskStorage
from tests.factories import TestUser
from tests.fakes.tcp_proxy import TcpProxy
from tests.photos.images import camera_sized_jpeg
from tests.photos.uploads import (
    Backend,
    app_on,
    complete,
    created,
    open_event,
    photo_path,
    put,
    row_of,
)
from tests.storage.disks import fill, tmpfs
from tests.storage.helpers import (
    BASE_URL,
    SECRET,
    assert_retry_later,
    fast_s3,
    make_bucket,
)

S3_ONLY = pytest.mark.parametrize("backend", ["s3"], indirect=True)


async def _pending_row(b: Backend, photo_id: str) -> dict[str, Any]:
    row = row_of(await b.rows(), photo_id)
    assert row["upload_status"] == "pending"
    assert row["failure_code"] is None
    return row


async def _completes(b: Backend, user: TestUser, photo_id: str) -> dict[str, Any]:
    r = await complete(b, user, photo_id)
    assert r.status_code == 200, r.text
    photo: dict[str, Any] = r.json()
    assert photo["upload_status"] == "uploaded"
    return photo


@S3_ONLY
async def test_a_camera_sized_jpeg_completes_on_s3(backend: Backend, alice: TestUser) -> None:
    data = camera_sized_jpeg()
    assert len(data) > 3 * 1024 * 1024
    event = await open_event(backend, alice)
    body = await created(backend, alice, event, data, "image/jpeg")
    r = await put(backend, body["upload"], data)
    assert r.status_code == 200, r.text
    photo = await _completes(backend, alice, body["photo"]["id"])
    assert (photo["width"], photo["height"]) == (4032, 3024)
    path = photo_path(photo)
    original = await backend.storage.read(f"{path}/{ORIGINAL}")
    assert len(original) > 3 * 1024 * 1024
    assert pyvips.Image.new_from_buffer(original, "").width == 4032
    assert await backend.keys() == {f"{path}/{name}" for name in (ORIGINAL, DISPLAY, THUMB)}


async def test_s3_cut_off_at_completion_leaves_the_photo_pending(
    services: Services, alice: TestUser, moto_endpoint: str, s3_admin: Any, tmp_path: Path
) -> None:
    with TcpProxy.to_url(moto_endpoint) as proxy:
        storage = fast_s3(proxy.url, make_bucket(s3_admin))
        async with app_on(services, storage, "s3", tmp_path) as b:
            data = camera_sized_jpeg(1600, 1200)
            event = await open_event(b, alice)
            body = await created(b, alice, event, data, "image/jpeg")
            r = await put(b, body["upload"], data)
            assert r.status_code == 200, r.text
            photo_id = body["photo"]["id"]
            proxy.cut()
            r = await complete(b, alice, photo_id)
            assert_retry_later(r, 503, "storage_unavailable")
            await _pending_row(b, photo_id)
            proxy.restore()
            path = f"events/{event['id']}/{photo_id}"
            assert await b.keys() == {f"{path}/{UPLOAD}"}
            await _completes(b, alice, photo_id)
            assert await b.keys() == {f"{path}/{name}" for name in (ORIGINAL, DISPLAY, THUMB)}


@pytest.mark.parametrize("room_for", ["nothing", "the original"])
async def test_a_full_disk_at_completion_answers_507_and_completes_later(
    services: Services, alice: TestUser, tmp_path: Path, room_for: str
) -> None:
    with tmpfs(tmp_path / "disk", "8m") as disk:
        storage = LocalDiskStorage(
            disk / "files",
            FileUrlSigner(SECRET, BASE_URL),
            default_ttl=services.settings.signed_url_ttl,
        )
        async with app_on(services, storage, "local", disk) as b:
            data = camera_sized_jpeg(1600, 1200)
            event = await open_event(b, alice)
            body = await created(b, alice, event, data, "image/jpeg")
            r = await put(b, body["upload"], data)
            assert r.status_code == 200, r.text
            photo_id = body["photo"]["id"]
            path = f"events/{event['id']}/{photo_id}"
            filler = disk / "filler"
            filled = fill(filler)
            if room_for == "the original":
                # Room for the stripped original and its sidecar, not for the display JPEG.
                os.truncate(filler, filled - len(data) - 64 * 1024)
            r = await complete(b, alice, photo_id)
            assert_retry_later(r, 507, "insufficient_storage")
            await _pending_row(b, photo_id)
            left = await b.keys()
            assert f"{path}/{UPLOAD}" in left
            assert f"{path}/{DISPLAY}" not in left
            assert f"{path}/{THUMB}" not in left
            if room_for == "the original":
                assert f"{path}/{ORIGINAL}" in left  # the case this run is about
            assert os.listdir(storage.root / ".incoming") == []  # no half-written variant
            filler.unlink()
            await _completes(b, alice, photo_id)
            assert await b.keys() == {f"{path}/{name}" for name in (ORIGINAL, DISPLAY, THUMB)}
            original = await storage.read(f"{path}/{ORIGINAL}")
            assert pyvips.Image.new_from_buffer(original, "").width == 1600
