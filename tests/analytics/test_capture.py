"""Business events reach PostHog: through the HTTP API, the real client, the fake's /batch/."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from momento.analytics import NoAnalytics, events
from momento.services import Services
from tests.analytics.helpers import Wired, wire
from tests.conftest import app_client
from tests.factories import TestUser, create_event, create_user, join
from tests.fakes.posthog import API_KEY, FakePostHog
from tests.photos.images import plain_jpeg


def _only(found: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(found) == 1, found
    return found[0]


async def test_event_created(wired: Wired, services: Services) -> None:
    alice = await create_user(services)
    event = await create_event(wired.client, alice)
    sent = _only(await wired.events(events.EVENT_CREATED))
    assert sent["distinct_id"] == str(alice.id)
    assert sent["properties"]["event_id"] == event["id"]
    assert sent["properties"]["is_premium"] is False
    assert sent["uuid"]
    assert sent["timestamp"]
    [batch] = [b for b in wired.fake.batches if sent in b.events]
    assert batch.path == "/batch"
    assert batch.api_key == API_KEY


async def test_user_joined_event_once(wired: Wired, services: Services) -> None:
    alice, bob = await create_user(services), await create_user(services)
    event = await create_event(wired.client, alice)
    await join(wired.client, bob, event)
    await join(wired.client, bob, event)  # already a member: 200, nothing new happened
    await join(wired.client, alice, event)  # the creator is a member from the start
    sent = _only(await wired.events(events.USER_JOINED_EVENT))
    assert sent["distinct_id"] == str(bob.id)
    assert sent["properties"]["event_id"] == event["id"]
    assert sent["properties"]["via"] == "join_code"


async def test_refused_writes_capture_nothing(wired: Wired, services: Services) -> None:
    alice = await create_user(services)
    r = await wired.client.post(
        "/v1/events",
        headers=alice.headers,
        json={
            "name": "Backwards",
            "starts_at": "2030-01-02T00:00:00Z",
            "release_at": "2030-01-01T00:00:00Z",
        },
    )
    assert r.status_code == 422
    r = await wired.client.post(
        "/v1/events/join", headers=alice.headers, json={"join_code": "ZZZZZZ"}
    )
    assert r.status_code == 404
    assert await wired.events() == []


async def _upload(client: httpx.AsyncClient, user: TestUser, event_id: str, data: bytes) -> str:
    r = await client.post(
        f"/v1/events/{event_id}/photos",
        headers=user.headers,
        json={"content_type": "image/jpeg", "byte_size": len(data), "captured_at": _now()},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    upload = body["upload"]
    r = await client.request(
        upload["method"], upload["url"], headers=upload["headers"], content=data
    )
    assert r.status_code == 200, r.text
    photo_id: str = body["photo"]["id"]
    return photo_id


def _now() -> str:
    return (datetime.now(UTC) - timedelta(minutes=1)).isoformat()


async def test_photo_uploaded_once(wired: Wired, services: Services) -> None:
    alice = await create_user(services)
    event = await create_event(wired.client, alice)
    photo_id = await _upload(wired.client, alice, event["id"], plain_jpeg())
    for _ in range(2):  # completing again answers the same photo and reports nothing new
        r = await wired.client.post(f"/v1/photos/{photo_id}/complete", headers=alice.headers)
        assert r.status_code == 200, r.text
    sent = _only(await wired.events(events.PHOTO_UPLOADED))
    assert sent["distinct_id"] == str(alice.id)
    assert sent["properties"] == {
        **sent["properties"],
        "event_id": event["id"],
        "photo_id": photo_id,
        "width": 64,
        "height": 48,
        "content_type": "image/jpeg",
    }


async def test_rejected_photo_is_not_reported(wired: Wired, services: Services) -> None:
    alice = await create_user(services)
    event = await create_event(wired.client, alice)
    photo_id = await _upload(wired.client, alice, event["id"], b"not a picture at all" * 10)
    r = await wired.client.post(f"/v1/photos/{photo_id}/complete", headers=alice.headers)
    assert r.status_code == 422
    assert await wired.events(events.PHOTO_UPLOADED) == []


async def test_account_deleted(wired: Wired, services: Services) -> None:
    alice = await create_user(services)
    r = await wired.client.delete("/v1/me", headers=alice.headers)
    assert r.status_code == 204
    r = await wired.client.delete("/v1/me", headers=alice.headers)  # gone: 401, no event
    assert r.status_code == 401
    sent = _only(await wired.events(events.ACCOUNT_DELETED))
    assert sent["distinct_id"] == str(alice.id)


async def test_job_events_helpers(wired: Wired) -> None:
    """premium_purchased and reveal_sent, as the billing and reveal jobs report them."""
    buyer, event_id = uuid.uuid4(), uuid.uuid4()
    events.premium_purchased(wired.analytics, buyer, event_id=event_id, price=4.99, currency="USD")
    events.reveal_sent(wired.analytics, buyer, event_id=event_id, member_count=5, photo_count=42)
    purchased = _only(await wired.events(events.PREMIUM_PURCHASED))
    assert purchased["distinct_id"] == str(buyer)
    assert purchased["properties"]["event_id"] == str(event_id)
    assert purchased["properties"]["price"] == 4.99
    assert purchased["properties"]["currency"] == "USD"
    revealed = _only(wired.fake.events(events.REVEAL_SENT))
    assert revealed["properties"]["member_count"] == 5
    assert revealed["properties"]["photo_count"] == 42


async def test_not_configured_captures_nothing(
    services: Services, posthog_fake: FakePostHog
) -> None:
    # The host points at the fake, but without a project key nothing is sent there.
    svc = wire(services, posthog_api_key=None, posthog_host=posthog_fake.url)
    assert isinstance(svc.analytics, NoAnalytics)
    async with app_client(svc) as client:
        alice, bob = await create_user(services), await create_user(services)
        event = await create_event(client, alice)
        await join(client, bob, event)
        r = await client.get("/v1/config", headers=alice.headers)
        assert r.status_code == 200
        assert r.json()["posthog"]["api_key"] is None
        assert r.json()["feature_flags"] == {}
        r = await client.delete("/v1/me", headers=bob.headers)
        assert r.status_code == 204
    await svc.analytics.flush()
    await svc.analytics.close()
    assert posthog_fake.batches == []
    assert posthog_fake.flag_requests == []
