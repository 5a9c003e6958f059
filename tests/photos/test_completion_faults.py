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

from pathlib import Path
from typing import Any

from momento.analytics import PostHogAnalytics
from momento.analytics.events import PHOTO_UPLOADED
from momento.photos.service import UPLOAD
from momento.reveal import scheduling
from momento.services import Services
from tests.factories import TestUser, assert_problem
from tests.fakes.posthog import FakePostHog
from tests.photos.helpers import VARIANTS
from tests.photos.images import camera_jpeg
from tests.photos.uploads import (
    NOT_AN_IMAGE,
    Backend,
    complete,
    created,
    local_app,
    open_event,
    put,
    put_undeletable_upload,
    row_of,
    undeletable,
)


async def new_photos_jobs(b: Backend) -> list[dict[str, Any]]:
    async with b.services.db.privileged() as conn:
        cur = await conn.execute(
            "SELECT id, status::text AS status, queueing_lock, args FROM procrastinate_jobs"
            " WHERE task_name = %s ORDER BY id",
            (scheduling.NEW_PHOTOS_TASK,),
        )
        return [dict(r) for r in await cur.fetchall()]


async def test_removing_the_upload_fails_after_the_photo_is_uploaded(
    services: Services, alice: TestUser, tmp_path: Path
) -> None:
    """A 200 with the uploaded photo, the "new photos" job and the analytics event once, the
    upload left for the sweep; completing again answers the same and adds nothing."""
    with FakePostHog() as posthog:
        async with local_app(services, tmp_path, posthog) as b:
            data = camera_jpeg(640, 480, orientation=1)
            event = await open_event(b, alice)
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
        event = await open_event(b, alice)
        ids = []
        for _ in range(3):
            data = camera_jpeg(64, 48, orientation=1)
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
        event = await open_event(b, alice)
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
