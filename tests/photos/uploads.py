"""The upload flow over HTTP, for the tests of photos and of what depends on uploads
(tests/photos, tests/cleanup, tests/storage): the app on a storage backend (`Backend`, see
tests/photos/conftest.py's `backend` fixture, or `app_on` and `local_app`), an event open for
uploads, and each step of an upload (create, PUT, complete) with its checks.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, LiteralString

import httpx

from momento.app import create_app
from momento.photos.service import UPLOAD
from momento.services import Services
from momento.storage import FileUrlSigner, LocalDiskStorage, Storage
from tests.analytics.helpers import wire
from tests.conftest import with_settings
from tests.factories import HOUR, TestUser, assert_problem, create_event, iso
from tests.fakes.posthog import API_KEY, FakePostHog
from tests.storage.disks import tmpfs
from tests.storage.helpers import BASE_URL, SECRET, http_client, tree

NOT_AN_IMAGE = b"This is a text file pretending to be photo.jpg\n" * 20


# Everything the upload flow writes about photos, read as the table owner (RLS off).
PHOTO_ROWS: LiteralString = """
SELECT p.id, p.event_id, p.user_id, p.storage_path, p.captured_at, p.upload_status, p.width,
  p.height, p.is_flagged, p.blurhash, p.like_count, m.declared_type, m.declared_size,
  m.content_type, m.byte_size, m.failure_code, m.failure_reason, m.processed_at
FROM public.photos p LEFT JOIN public.photo_media m ON m.photo_id = p.id
ORDER BY p.id
"""


@dataclass(frozen=True)
class State:
    """What is stored: every photo row, and every object (with the local backend, every file
    under the test's temporary folder, the storage root and what lies beside it)."""

    rows: list[dict[str, Any]]
    objects: dict[str, Any]


@dataclass
class Backend:
    name: str
    services: Services
    client: httpx.AsyncClient
    folder: Path  # the test's temporary folder; the local backend's root is `folder/files`

    @property
    def storage(self) -> Storage:
        return self.services.storage

    @property
    def local(self) -> bool:
        return self.name == "local"

    def configure(self, **overrides: object) -> None:
        """Change settings (photo limits, max_upload_bytes, upload_grace, ...) from now on."""
        self.services.settings = self.services.settings.model_copy(update=overrides)

    async def rows(self) -> list[dict[str, Any]]:
        async with self.services.db.privileged() as conn:
            cur = await conn.execute(PHOTO_ROWS)
            return [dict(r) for r in await cur.fetchall()]

    async def objects(self) -> dict[str, Any]:
        if isinstance(self.storage, LocalDiskStorage):
            return dict(tree(self.folder))
        # Raw listing (no key validation), so even a key no valid request could make shows up.
        return {info.key: (info.size, info.etag) async for info in self.storage.list("")}

    async def keys(self) -> set[str]:
        """Object keys (the local backend's hidden bookkeeping files left out)."""
        return {info.key async for info in self.storage.list("")}

    async def state(self) -> State:
        return State(await self.rows(), await self.objects())


# --- the app on a backend ---------------------------------------------------------------


@asynccontextmanager
async def app_on(
    services: Services, storage: Storage, name: str, folder: Path
) -> AsyncIterator[Backend]:
    """The whole app with photos in `storage` (opened and closed here)."""
    svc = dataclasses.replace(with_settings(services), storage=storage)
    await storage.open()
    try:
        async with http_client(create_app(svc, manage_pool=False)) as client:
            client.base_url = httpx.URL(BASE_URL)
            yield Backend(name, svc, client, folder)
    finally:
        await storage.close()


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
        services = wire(
            services,
            posthog_api_key=API_KEY,
            posthog_host=posthog.url,
            posthog_flush_interval=0.05,
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


# --- the flow, step by step ---------------------------------------------------------------


async def open_event(
    b: Backend, user: TestUser, *, starts: timedelta = -HOUR, release: timedelta = HOUR
) -> dict[str, Any]:
    """An event created by `user` over HTTP, open for uploads: started an hour ago, revealed
    in an hour (or at these offsets from now)."""
    return await create_event(b.client, user, starts_in=starts, release_in=release)


async def create(
    b: Backend,
    user: TestUser,
    event: dict[str, Any] | str,
    *,
    byte_size: int = 1000,
    content_type: str = "image/jpeg",
    captured_at: datetime | None = None,
    photo_id: uuid.UUID | None = None,
) -> httpx.Response:
    event_id = event if isinstance(event, str) else event["id"]
    body: dict[str, Any] = {
        "captured_at": iso(captured_at or datetime.now(UTC) - timedelta(minutes=1)),
        "content_type": content_type,
        "byte_size": byte_size,
    }
    if photo_id is not None:
        body["id"] = str(photo_id)
    return await b.client.post(f"/v1/events/{event_id}/photos", headers=user.headers, json=body)


async def created(
    b: Backend, user: TestUser, event: dict[str, Any], data: bytes, content_type: str
) -> dict[str, Any]:
    r = await create(b, user, event, byte_size=len(data), content_type=content_type)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    assert body["photo"]["upload_status"] == "pending"
    assert body["upload"] is not None
    return body


async def put(
    b: Backend, upload: dict[str, Any], data: bytes, *, url: str | None = None
) -> httpx.Response:
    return await b.client.request(
        upload["method"], url or upload["url"], headers=upload["headers"], content=data
    )


async def complete(b: Backend, user: TestUser, photo_id: str) -> httpx.Response:
    return await b.client.post(f"/v1/photos/{photo_id}/complete", headers=user.headers)


async def uploaded(
    b: Backend, user: TestUser, event: dict[str, Any], data: bytes, content_type: str
) -> dict[str, Any]:
    """Create, PUT and complete: the photo as the owner sees it."""
    body = await created(b, user, event, data, content_type)
    r = await put(b, body["upload"], data)
    assert r.status_code == 200, r.text
    r = await complete(b, user, body["photo"]["id"])
    assert r.status_code == 200, r.text
    photo: dict[str, Any] = r.json()
    return photo


async def rejected(
    b: Backend, user: TestUser, event: dict[str, Any], data: bytes, content_type: str, reason: str
) -> dict[str, Any]:
    """Create and PUT, then completing refuses the file with `reason`."""
    body = await created(b, user, event, data, content_type)
    r = await put(b, body["upload"], data)
    assert r.status_code == 200, r.text
    r = await complete(b, user, body["photo"]["id"])
    assert_problem(r, 422, "photo_rejected")
    assert r.json()["reason"] == reason
    assert r.json()["detail"]
    return body


def photo_path(photo: dict[str, Any]) -> str:
    return f"events/{photo['event_id']}/{photo['id']}"


def row_of(rows: list[dict[str, Any]], photo_id: str) -> dict[str, Any]:
    [row] = [r for r in rows if str(r["id"]) == photo_id]
    return row


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
