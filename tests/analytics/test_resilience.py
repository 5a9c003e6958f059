"""PostHog down, hanging or failing never slows or fails a request; events arrive once it is
back. No timing assertions: a request must finish while the fake still holds the client's
upload (or refuses connections), under `asyncio.wait_for` bounds far below what PostHog is
given (the fake holds until released; the client's upload timeout is 30 s)."""

from __future__ import annotations

import asyncio

import pytest

from momento.analytics import events
from momento.services import Services
from tests.analytics.helpers import Wired
from tests.factories import create_event, create_user, join
from tests.fakes.posthog import API_KEY

# Far below anything PostHog could make a request wait, far above a request's own work.
BOUND = 5.0


async def _until(condition: object, what: str) -> None:
    assert callable(condition)
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.025)
    pytest.fail(f"never happened: {what}")


async def test_posthog_down_then_back(wired: Wired, services: Services) -> None:
    alice, bob = await create_user(services), await create_user(services)
    wired.fake.stop()
    event = await asyncio.wait_for(create_event(wired.client, alice), BOUND)
    await asyncio.wait_for(join(wired.client, bob, event), BOUND)
    r = await asyncio.wait_for(wired.client.get("/v1/config", headers=bob.headers), BOUND)
    assert r.status_code == 200
    assert r.json()["feature_flags"] == {}
    # The client tries now, is refused, and backs off to retry.
    await wired.analytics.flush(0.3)
    assert wired.fake.events() == []
    wired.fake.start()  # same port
    sent = await wired.events()
    assert [e["event"] for e in sent] == [events.EVENT_CREATED, events.USER_JOINED_EVENT]
    assert sent[0]["properties"]["event_id"] == event["id"]
    assert sent[1]["distinct_id"] == str(bob.id)


async def test_posthog_hanging_holds_no_request(wired: Wired, services: Services) -> None:
    alice, bob = await create_user(services), await create_user(services)
    wired.fake.hold()
    event = await asyncio.wait_for(create_event(wired.client, alice), BOUND)
    # The sender thread has posted event_created and hangs waiting for PostHog's answer...
    await _until(lambda: wired.fake.held >= 1, "the client's upload reached the fake")
    # ...while requests go on, each under a bound PostHog's hang would far exceed.
    await asyncio.wait_for(join(wired.client, bob, event), BOUND)
    r = await asyncio.wait_for(wired.client.get("/v1/config", headers=bob.headers), BOUND)
    assert r.status_code == 200
    assert r.json()["feature_flags"] == {}
    r = await asyncio.wait_for(wired.client.delete("/v1/me", headers=bob.headers), BOUND)
    assert r.status_code == 204
    assert wired.fake.held >= 1
    assert wired.fake.events() == []
    wired.fake.release()
    sent = await wired.events()
    assert [e["event"] for e in sent] == [
        events.EVENT_CREATED,
        events.USER_JOINED_EVENT,
        events.ACCOUNT_DELETED,
    ]


async def test_posthog_refusing_the_batch(wired: Wired, services: Services) -> None:
    """A key PostHog refuses (401, not retried): the batch is dropped, requests are fine."""
    alice = await create_user(services)
    wired.fake.api_key = "phc_some_other_project"
    await asyncio.wait_for(create_event(wired.client, alice), BOUND)
    await wired.analytics.flush(5)
    assert wired.fake.events() == []
    wired.fake.api_key = API_KEY
    await asyncio.wait_for(create_event(wired.client, alice), BOUND)
    assert [e["event"] for e in await wired.events()] == [events.EVENT_CREATED]


async def test_close_is_bounded_when_posthog_hangs(wired: Wired, services: Services) -> None:
    alice = await create_user(services)
    wired.fake.hold()
    await create_event(wired.client, alice)
    await _until(lambda: wired.fake.held >= 1, "the client's upload reached the fake")
    # close_timeout is 0.3 s; PostHog would hold the upload for 30.
    await asyncio.wait_for(wired.analytics.close(), BOUND)
    wired.analytics.capture(alice.id, events.EVENT_CREATED, {})  # after close: ignored
