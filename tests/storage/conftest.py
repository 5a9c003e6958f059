"""Fixtures for the storage tests: both backends, and HTTP clients that reach them.

`storage` runs a test once per backend: the local disk under a temporary folder, and S3
through a real S3 protocol server (moto in server mode on 127.0.0.1, one fresh bucket per
test). `http` is a client that sends `http://testserver/...` (local file URLs) to an app with
the `/files` routes and everything else (presigned S3 URLs) over the network.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace

import botocore.session
import httpx
import pytest
from botocore.client import BaseClient
from fastapi import FastAPI
from moto.server import ThreadedMotoServer

from momento.app import BodyLimit, install_error_handlers
from momento.storage import FileUrlSigner, LocalDiskStorage, Storage
from momento.storage.endpoints import router as files_router
from momento.storage.s3 import S3Storage

SECRET = b"test-secret-" + b"x" * 32
BASE_URL = "http://testserver"
AWS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_admin(moto_endpoint: str) -> Iterator[BaseClient]:
    """A plain (blocking) client of the S3 server for the tests' own chores."""
    client = botocore.session.get_session().create_client(
        "s3",
        region_name="us-east-1",
        endpoint_url=moto_endpoint,
        aws_access_key_id=AWS["aws_access_key_id"],
        aws_secret_access_key=AWS["aws_secret_access_key"],
    )
    try:
        yield client
    finally:
        client.close()


def make_bucket(admin: BaseClient) -> str:
    name = f"momento-{secrets.token_hex(6)}"
    admin.create_bucket(Bucket=name)  # type: ignore[attr-defined]
    return name


def s3_storage(endpoint: str, bucket: str, prefix: str = "") -> S3Storage:
    return S3Storage(
        bucket,
        prefix=prefix,
        endpoint_url=endpoint,
        region="us-east-1",
        access_key=AWS["aws_access_key_id"],
        secret_key=AWS["aws_secret_access_key"],
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
    backend: Storage
    if request.param == "local":
        backend = LocalDiskStorage(tmp_path / "files", FileUrlSigner(SECRET, BASE_URL))
    else:
        endpoint: str = request.getfixturevalue("moto_endpoint")
        backend = s3_storage(endpoint, make_bucket(request.getfixturevalue("s3_admin")))
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()


def files_app(storage: Storage, *, max_body_bytes: int = 1024 * 1024) -> FastAPI:
    """The `/files` routes with the app's error rendering and body limit, nothing else."""
    app = FastAPI()
    app.state.services = SimpleNamespace(storage=storage)
    install_error_handlers(app)
    app.include_router(files_router)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    return app


def http_client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        mounts={BASE_URL: httpx.ASGITransport(app=app)}, trust_env=False, timeout=10
    )


@pytest.fixture
async def http(storage: Storage) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(files_app(storage)) as client:
        yield client


@pytest.fixture
async def local_http(local_storage: LocalDiskStorage) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(files_app(local_storage)) as client:
        yield client


async def stored(storage: Storage) -> dict[str, bytes]:
    """Every object and its bytes: what a refusal must leave unchanged."""
    return {info.key: await storage.read(info.key) async for info in storage.list("")}


def tree(folder: Path) -> dict[str, str | bytes]:
    """Every file, folder and link under `folder` (hidden ones too), for before/after checks."""
    found: dict[str, str | bytes] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(folder))
            if path.is_symlink():
                found[rel] = f"link -> {os.readlink(path)}"
            elif path.is_dir():
                found[rel] = "dir"
            elif path.is_file():
                found[rel] = path.read_bytes()
            else:
                found[rel] = "special"  # a FIFO: reading it would block
    return found
