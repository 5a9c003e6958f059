"""Fixtures for the storage tests: both backends, and HTTP clients that reach them.

`storage` runs a test once per backend: the local disk under a temporary folder, and S3
through a real S3 protocol server (moto in server mode on 127.0.0.1: tests/conftest.py's
`moto_endpoint`; one fresh bucket per test). `http` is a client that sends
`http://testserver/...` (local file URLs) to an app with the `/files` routes and everything
else (presigned S3 URLs) over the network. (Helpers: tests/storage/helpers.py.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from momento.storage import FileUrlSigner, LocalDiskStorage, Storage
from tests.storage.helpers import (
    BASE_URL,
    SECRET,
    files_app,
    http_client,
    storage_for,
)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the storage root holding a file no request may reach."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_bytes(b"top secret")
    return folder


@pytest.fixture
async def local_storage(tmp_path: Path, outside: Path) -> AsyncIterator[LocalDiskStorage]:
    storage = LocalDiskStorage(tmp_path / "files", FileUrlSigner(SECRET, BASE_URL))
    await storage.open()
    try:
        yield storage
    finally:
        await storage.close()


@pytest.fixture(params=["local", "s3"])
async def storage(
    request: pytest.FixtureRequest, tmp_path: Path, outside: Path
) -> AsyncIterator[Storage]:
    backend = storage_for(request, tmp_path)
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()


@pytest.fixture
async def http(storage: Storage) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(files_app(storage)) as client:
        yield client


@pytest.fixture
async def local_http(local_storage: LocalDiskStorage) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(files_app(local_storage)) as client:
        yield client
