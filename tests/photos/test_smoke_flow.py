from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from momento.services import Services
from tests.factories import create_user
from tests.photos.images import plain_jpeg


async def test_upload_complete_feed(client: httpx.AsyncClient, services: Services) -> None:
    alice = await create_user(services)
    now = datetime.now(UTC)
    r = await client.post(
        "/v1/events",
        headers=alice.headers,
        json={
            "name": "Party",
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "release_at": (now + timedelta(hours=1)).isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    event = r.json()["id"]
    data = plain_jpeg(640, 480)
    r = await client.post(
        f"/v1/events/{event}/photos",
        headers=alice.headers,
        json={"captured_at": now.isoformat(), "content_type": "image/jpeg", "byte_size": len(data)},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    up = body["upload"]
    r = await client.request(up["method"], up["url"], headers=up["headers"], content=data)
    assert r.status_code in (200, 201, 204), r.text
    pid = body["photo"]["id"]
    r = await client.post(f"/v1/photos/{pid}/complete", headers=alice.headers)
    assert r.status_code == 200, r.text
    assert r.json()["upload_status"] == "uploaded"
    assert r.json()["width"] == 640
    r = await client.get(f"/v1/events/{event}/photos", headers=alice.headers)
    assert r.status_code == 200, r.text
    page = r.json()
    assert len(page["items"]) == 1
    assert page["total_count"] == 1
    thumb = await client.get(page["items"][0]["urls"]["thumbnail"])
    assert thumb.status_code == 200
    assert thumb.headers["content-type"] == "image/jpeg"
    r2 = await client.get(
        f"/v1/events/{event}/photos", headers={**alice.headers, "If-None-Match": r.headers["etag"]}
    )
    assert r2.status_code == 304
