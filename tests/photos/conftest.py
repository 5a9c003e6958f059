"""Fixtures for the upload flow tests: the whole app on each storage backend.

`backend` runs a test once with photos on the local disk (a temporary folder, files served by
the app's signed `/files` routes) and once in S3 (moto in server mode on 127.0.0.1, a fresh
bucket per test). Everything else (database, tokens, settings) is the session's `services`;
`Backend.configure` changes settings for one test. Its client sends `http://testserver/...`
to the app and presigned S3 URLs over the network to moto. (Backend and the flow's steps:
tests/photos/uploads.py.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from momento.services import Services
from tests.factories import TestUser, create_user
from tests.photos.uploads import Backend, app_on
from tests.storage.helpers import storage_for


@pytest.fixture
async def alice(services: Services) -> TestUser:
    return await create_user(services, "alice")


@pytest.fixture
async def bob(services: Services) -> TestUser:
    return await create_user(services, "bob")


@pytest.fixture(params=["local", "s3"])
async def backend(
    request: pytest.FixtureRequest, services: Services, tmp_path: Path
) -> AsyncIterator[Backend]:
    storage = storage_for(request, tmp_path, default_ttl=services.settings.signed_url_ttl)
    async with app_on(services, storage, request.param, tmp_path) as b:
        yield b
