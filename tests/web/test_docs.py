"""/docs works offline, and the OpenAPI schema documents sign-in and the photo upload."""

from __future__ import annotations

import re
import uuid
from html.parser import HTMLParser
from typing import Any

import httpx

from momento.app import create_app
from momento.services import Services
from tests.conftest import app_for

METHODS = {"get", "post", "put", "patch", "delete"}


class AssetLinks(HTMLParser):
    """The URLs a page makes the browser load: scripts, stylesheets, icons."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        url = values.get("src") if tag == "script" else None
        if tag == "link":
            url = values.get("href")
        if url:
            self.urls.append(url)


async def test_docs_page_loads_every_asset_from_the_server(client: httpx.AsyncClient) -> None:
    r = await client.get("/docs")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    page = r.text
    # No CDN, nor any other host: the page must work with no network but this server.
    assert not re.search(r"https?://", page), page
    parser = AssetLinks()
    parser.feed(page)
    assert any(u.endswith(".js") for u in parser.urls), parser.urls
    assert any(u.endswith(".css") for u in parser.urls), parser.urls
    for url in parser.urls:
        assert url.startswith("/docs/assets/"), url
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000, url
    js = next(u for u in parser.urls if u.endswith(".js"))
    assert "SwaggerUIBundle" in (await client.get(js)).text
    # The page loads the schema from this server too.
    assert "'/openapi.json'" in page
    assert (await client.get("/openapi.json")).status_code == 200


async def test_docs_links_carry_the_proxy_prefix(services: Services) -> None:
    # A proxy serving the API under /momento passes the prefix as the ASGI root_path.
    transport = httpx.ASGITransport(
        app=create_app(services, manage_pool=False), root_path="/momento"
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        r = await client.get("/momento/docs")
        assert r.status_code == 200
        assert "/momento/docs/assets/swagger-ui-bundle.js" in r.text
        assert "'/momento/openapi.json'" in r.text
        asset = await client.get("/momento/docs/assets/swagger-ui-bundle.js")
        assert asset.status_code == 200


async def _schema(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    schema: dict[str, Any] = r.json()
    return schema


async def test_bearer_scheme_is_declared(client: httpx.AsyncClient) -> None:
    schema = await _schema(client)
    schemes = schema["components"]["securitySchemes"]
    assert list(schemes.values()) == [
        {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": schemes["bearerAuth"]["description"],
        }
    ]


async def test_signed_in_routes_carry_security_and_public_ones_do_not(
    client: httpx.AsyncClient,
) -> None:
    paths = (await _schema(client))["paths"]

    def secured(path: str, method: str) -> bool:
        return bool(paths[path][method].get("security") == [{"bearerAuth": []}])

    for path, method in [
        ("/v1/me", "get"),
        ("/v1/events", "post"),
        ("/v1/events/{event_id}/photos", "post"),
        ("/v1/events/{event_id}/photos", "get"),
        ("/v1/photos/{photo_id}/complete", "post"),
    ]:
        assert secured(path, method), (path, method)
    for path, method in [
        ("/auth/v1/signup", "post"),
        ("/auth/v1/token", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/webhooks/revenuecat", "post"),
    ]:
        assert "security" not in paths[path][method], (path, method)


async def test_every_route_marked_secured_refuses_a_caller_without_token(
    client: httpx.AsyncClient,
) -> None:
    """The marks agree with what the server does, route by route, not with a hand list."""
    paths = (await _schema(client))["paths"]
    marked = 0
    for path, operations in paths.items():
        url = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
        for method, operation in operations.items():
            if method not in METHODS or "security" not in operation:
                continue
            marked += 1
            r = await client.request(method, url, json={})
            assert r.status_code == 401, (method, path, r.status_code)
    assert marked >= 20
    # And /v1 routes left unmarked really are open to anyone.
    for path, operations in paths.items():
        if not path.startswith("/v1/") or "{" in path:
            continue
        for method, operation in operations.items():
            if method == "get" and "security" not in operation:
                r = await client.get(path)
                assert r.status_code != 401, path


async def test_upload_flow_and_capture_window_are_documented(client: httpx.AsyncClient) -> None:
    schema = await _schema(client)
    photos = next(t for t in schema["tags"] if t["name"] == "photos")["description"]
    steps = [
        "POST /v1/events/{event_id}/photos",
        "`PUT` the file to `upload.url` with exactly `upload.headers`",
        "POST /v1/photos/{photo_id}/complete",
    ]
    positions = [photos.index(step) for step in steps]
    assert positions == sorted(positions)
    # Local-disk storage in the tests: the bytes go to this server's /files/.
    assert "this server's `/files/...`" in photos
    # The rule as photos.service applies it, with this server's settings (6 h by default).
    assert "`release_at` plus `MOMENTO_UPLOAD_GRACE` (6 hours on this server)" in photos
    assert "`outside_capture_window`" in photos
    assert "`uploads_closed`" in photos
    assert "100 photos per member in a free event, 1000 in a premium one" in photos
    assert "photos" in schema["info"]["description"]
    # Every documented path exists.
    for path in ("/v1/events/{event_id}/photos", "/v1/photos/{photo_id}/complete"):
        assert path in schema["paths"]


async def test_upload_guide_follows_the_settings(services: Services) -> None:
    async with app_for(services, upload_grace=1800, storage_url="s3://bucket") as client:
        photos = next(t for t in (await _schema(client))["tags"] if t["name"] == "photos")
    assert "MOMENTO_UPLOAD_GRACE` (30 minutes on this server)" in photos["description"]
    assert "S3 bucket" in photos["description"]
