"""Cleanup tests run on their own local storage (the sweep lists everything under events/,
so files other tests leave in the session's storage must not count), a folder `momento`
commands find too when given the same data directory."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from momento.services import Services
from momento.storage import LocalDiskStorage
from tests.conftest import app_client


@pytest.fixture
async def svc(services: Services, tmp_path: Path) -> AsyncIterator[Services]:
    """The session's services with a storage of their own, under `<tmp_path>/files`."""
    assert isinstance(services.storage, LocalDiskStorage)
    storage = LocalDiskStorage(tmp_path / "files", services.storage.signer)
    await storage.open()
    try:
        yield dataclasses.replace(services, storage=storage)
    finally:
        await storage.close()


@pytest.fixture
async def svc_client(svc: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(svc) as c:
        yield c
