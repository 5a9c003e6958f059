"""HTTP plumbing shared by every route: problem+json errors, body limits, health, OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from momento.services import Services
from tests.conftest import app_for
from tests.factories import create_user


async def test_oversize_body_is_refused_by_content_length(services: Services) -> None:
    user = await create_user(services)
    async with app_for(services, max_body_bytes=2048) as client:
        r = await client.post("/v1/events", headers=user.headers, content=b"x" * 4096)
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "payload_too_large"


async def test_oversize_chunked_body_is_refused(services: Services) -> None:
    user = await create_user(services)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b"y" * 1024

    async with app_for(services, max_body_bytes=2048) as client:
        r = await client.post("/v1/events", headers=user.headers, content=chunks())
    assert r.status_code == 413
    assert r.json()["code"] == "payload_too_large"


async def test_missing_and_bad_tokens_get_401(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/me")
    assert r.status_code == 401
    assert r.json()["code"] == "unauthorized"
    assert "Bearer" in r.headers["www-authenticate"]
    r = await client.get("/v1/me", headers={"Authorization": "Bearer not.a.jwt"})
    assert r.status_code == 401
    assert r.json()["code"] == "invalid_token"


async def test_openapi_and_docs(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert spec["info"]["title"] == "Momento Server"
    assert "/v1/events" in spec["paths"]
    assert "/auth/v1/signup" in spec["paths"]
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


async def test_method_not_allowed_is_problem_json(client: httpx.AsyncClient) -> None:
    r = await client.put("/healthz")
    assert r.status_code == 405
    assert r.json()["code"] == "method_not_allowed"
