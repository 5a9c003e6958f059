"""Completion answers what it decided, even when removing the raw upload fails afterwards.

Once the photo is marked `uploaded` (or `failed`), that is the answer: a storage fault while
removing `upload` is logged and the object left to the orphan sweep. The "new photos" job is
queued in the transaction that marks the photo uploaded, so it exists exactly once however
often the client completes again; the `photo_uploaded` analytics event is captured once.

The fault is real: the upload file is made immutable (`chattr +i`, which even root cannot
unlink: EPERM from the file system) on a small tmpfs, so reading it and writing the variants
beside it work, and only its removal fails, as a disk or S3 failing at that step would.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from momento.analytics import PostHogAnalytics, from_settings
from momento.analytics.events import PHOTO_UPLOADED
from momento.photos.service import DISPLAY, ORIGINAL, THUMB, UPLOAD
from momento.reveal import scheduling
from momento.services import Services
from momento.storage import FileUrlSigner, LocalDiskStorage
from tests.factories import TestUser, assert_problem, create_user
from tests.fakes.posthog import API_KEY, FakePostHog
from tests.photos.conftest import Backend
from tests.photos.test_processing import _camera_jpeg
from tests.photos.test_storage_faults import app_on
from tests.photos.test_upload import (
    NOT_AN_IMAGE,
    complete,
    created,
    make_event,
    put,
    row_of,
)
from tests.storage.conftest import BASE_URL, SECRET
from tests.storage.disks import tmpfs

VARIANTS = (ORIGINAL, DISPLAY, THUMB)


@pytest.fixture
async def alice(services: Services) -> TestUser:
    return await create_user(services, "alice")


@contextlib.contextmanager
def undeletable(path: Path) -> Iterator[None]:
    """`path` cannot be removed (nor written) inside the block, not even by root."""
    chattr = shutil.which("chattr")
    if chattr is None:
        raise RuntimeError("chattr is not installed: these tests need it (and root)")
    subprocess.run([chattr, "+i", str(path)], check=True, capture_output=True)  # noqa: S603
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True, capture_output=True)  # noqa: S603


@asynccontextmanager
async def local_app(
    services: Services, folder: Path, posthog: FakePostHog | None = None
) -> AsyncIterator[Backend]:
    """The whole app with photos on a fresh tmpfs (and analytics to `posthog` if given)."""
    if posthog is not None:
        settings = services.settings.model_copy(
            update={
                "posthog_api_key": API_KEY,
                "posthog_host": posthog.url,
                "posthog_flush_interval": 0.05,
            }
        )
        services = dataclasses.replace(
            services, settings=settings, analytics=from_settings(settings)
        )
    with tmpfs(folder / "disk", "16m") as disk:
        storage = LocalDiskStorage(
            disk / "files",
            FileUrlSigner(SECRET, BASE_URL),
            default_ttl=services.settings.signed_url_ttl,
        )
        try:
            async with app_on(services, storage, "local", disk) as b:
                yield b
        finally:
            if posthog is not None:  # ours; the session's analytics stay open
                await services.analytics.close()


async def new_photos_jobs(b: Backend) -> list[dict[str, Any]]:
    async with b.services.db.privileged() as conn:
        cur = await conn.execute(
            "SELECT id, status::text AS status, queueing_lock, args FROM procrastinate_jobs"
            " WHERE task_name = %s ORDER BY id",
            (scheduling.NEW_PHOTOS_TASK,),
        )
        return [dict(r) for r in await cur.fetchall()]


async def put_undeletable_upload(
    b: Backend, user: TestUser, event: dict[str, Any], data: bytes
) -> tuple[str, str, Path]:
    """Create and PUT a photo; returns its id, its storage path and its upload file."""
    body = await created(b, user, event, data, "image/jpeg")
    r = await put(b, body["upload"], data)
    assert r.status_code == 200, r.text
    photo_id: str = body["photo"]["id"]
    path = f"events/{event['id']}/{photo_id}"
    assert isinstance(b.storage, LocalDiskStorage)
    return photo_id, path, b.storage.root / path / UPLOAD


async def test_removing_the_upload_fails_after_the_photo_is_uploaded(
    services: Services, alice: TestUser, tmp_path: Path
) -> None:
    """A 200 with the uploaded photo, the "new photos" job and the analytics event once, the
    upload left for the sweep; completing again answers the same and adds nothing."""
    with FakePostHog() as posthog:
        async with local_app(services, tmp_path, posthog) as b:
            data = _camera_jpeg(640, 480, orientation=1)
            event = await make_event(b, alice)
            photo_id, path, upload = await put_undeletable_upload(b, alice, event, data)
            with undeletable(upload):
                for _ in range(2):
                    r = await complete(b, alice, photo_id)
                    assert r.status_code == 200, r.text
                    assert r.json()["upload_status"] == "uploaded"
                    assert r.json()["id"] == photo_id
                    [job] = await new_photos_jobs(b)
                    assert job["status"] == "todo"
                    assert job["queueing_lock"] == scheduling.new_photos_lock(event["id"])
                    assert job["args"] == {"event_id": event["id"]}
                    assert await b.keys() == {f"{path}/{name}" for name in (*VARIANTS, UPLOAD)}
            assert row_of(await b.rows(), photo_id)["upload_status"] == "uploaded"
            analytics = b.services.analytics
            assert isinstance(analytics, PostHogAnalytics)
            await analytics.flush(10)
            [captured] = posthog.events(PHOTO_UPLOADED)
            assert captured["properties"]["photo_id"] == photo_id


async def test_photos_of_one_event_share_the_waiting_job(
    services: Services, alice: TestUser, tmp_path: Path
) -> None:
    """The job is deferred inside the completion's transaction: a job already waiting for the
    event (its queueing lock) must neither fail the completion nor abort its transaction."""
    async with local_app(services, tmp_path) as b:
        event = await make_event(b, alice)
        ids = []
        for _ in range(3):
            data = _camera_jpeg(64, 48, orientation=1)
            body = await created(b, alice, event, data, "image/jpeg")
            assert (await put(b, body["upload"], data)).status_code == 200
            r = await complete(b, alice, body["photo"]["id"])
            assert r.status_code == 200, r.text
            ids.append(body["photo"]["id"])
        [job] = await new_photos_jobs(b)
        assert job["queueing_lock"] == scheduling.new_photos_lock(event["id"])
        assert {row["upload_status"] for row in await b.rows()} == {"uploaded"}
        # The happy path leaves no raw upload (location metadata and all) behind.
        assert not any(k.endswith(f"/{UPLOAD}") for k in await b.keys())


async def test_removing_a_refused_upload_fails_after_the_photo_is_failed(
    services: Services, alice: TestUser, tmp_path: Path
) -> None:
    """The decided refusal (422 with its reason) is the answer, not a 503; no job."""
    async with local_app(services, tmp_path) as b:
        event = await make_event(b, alice)
        photo_id, path, upload = await put_undeletable_upload(b, alice, event, NOT_AN_IMAGE)
        with undeletable(upload):
            for _ in range(2):
                r = await complete(b, alice, photo_id)
                assert_problem(r, 422, "photo_rejected")
                assert r.json()["reason"] == "unsupported_type"
                row = row_of(await b.rows(), photo_id)
                assert (row["upload_status"], row["failure_code"]) == ("failed", "unsupported_type")
                assert await b.keys() == {f"{path}/{UPLOAD}"}
        assert await new_photos_jobs(b) == []
