"""Fixtures for the upload flow tests: the whole app on each storage backend.

`backend` runs a test once with photos on the local disk (a temporary folder, files served by
the app's signed `/files` routes) and once in S3 (moto in server mode on 127.0.0.1, a fresh
bucket per test). Everything else (database, tokens, settings) is the session's `services`;
`Backend.configure` changes settings for one test. Its client sends `http://testserver/...`
to the app and presigned S3 URLs over the network to moto.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, LiteralString

import httpx
import pytest

from momento.app import create_app
from momento.kit.ratelimit import RateLimiter
from momento.services import Services
from momento.storage import FileUrlSigner, LocalDiskStorage, Storage
from tests.storage.conftest import (
    BASE_URL,
    SECRET,
    http_client,
    make_bucket,
    moto_endpoint,
    s3_admin,
    s3_storage,
    tree,
)

__all__ = ["Backend", "State", "backend", "moto_endpoint", "s3_admin"]

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


@pytest.fixture(params=["local", "s3"])
async def backend(
    request: pytest.FixtureRequest, services: Services, tmp_path: Path
) -> AsyncIterator[Backend]:
    storage: Storage
    if request.param == "local":
        storage = LocalDiskStorage(
            tmp_path / "files",
            FileUrlSigner(SECRET, BASE_URL),
            default_ttl=services.settings.signed_url_ttl,
        )
    else:
        endpoint: str = request.getfixturevalue("moto_endpoint")
        storage = s3_storage(endpoint, make_bucket(request.getfixturevalue("s3_admin")))
    settings = services.settings.model_copy()
    svc = dataclasses.replace(
        services,
        settings=settings,
        limiter=RateLimiter(services.db, settings.rate_limit_window),
        storage=storage,
    )
    await storage.open()
    try:
        async with http_client(create_app(svc, manage_pool=False)) as client:
            client.base_url = httpx.URL(BASE_URL)
            yield Backend(request.param, svc, client, tmp_path)
    finally:
        await storage.close()
