"""Helpers for the storage tests and those of the flows on top of it (photos, cleanup): S3
clients of the moto server (tests/conftest.py starts it: `moto_endpoint`, `s3_admin`), the
`/files` routes on their own, and before/after views of what is stored."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from botocore.client import BaseClient
from fastapi import FastAPI

from momento.app import BodyLimit, install_error_handlers
from momento.storage import FileUrlSigner, LocalDiskStorage, Storage
from momento.storage.endpoints import router as files_router
from momento.storage.s3 import S3Storage

SECRET = b"test-secret-" + b"x" * 32
BASE_URL = "http://testserver"
AWS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


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


def storage_for(request: pytest.FixtureRequest, folder: Path, **local: Any) -> Storage:
    """The backend a fixture parametrized with "local" and "s3" is run for, not yet opened:
    the local disk under `folder/files` (`local`: more LocalDiskStorage options), or a fresh
    bucket of the moto server."""
    if request.param == "local":
        return LocalDiskStorage(folder / "files", FileUrlSigner(SECRET, BASE_URL), **local)
    endpoint: str = request.getfixturevalue("moto_endpoint")
    return s3_storage(endpoint, make_bucket(request.getfixturevalue("s3_admin")))


def fast_s3(endpoint: str, bucket: str, *, retries: int = 1) -> S3Storage:
    """A client with timeouts short enough for a test of a hung server, and one retry."""
    return S3Storage(
        bucket,
        endpoint_url=endpoint,
        region="us-east-1",
        access_key=AWS["aws_access_key_id"],
        secret_key=AWS["aws_secret_access_key"],
        connect_timeout=1,
        read_timeout=1,
        retries=retries,
    )


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


def assert_retry_later(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == code
    assert int(r.headers["retry-after"]) > 0
