"""Fixtures for the analytics tests: the app wired to the real PostHog client and a fake.

`wired` is the whole app (the session's database, tokens and storage) whose analytics is
`PostHogAnalytics`, built from settings pointing at a `FakePostHog` on 127.0.0.1 that the test
can stop, hold or make fail. Batches go out every 50 ms; tests flush before asserting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from momento.analytics import PostHogAnalytics
from momento.services import Services
from tests.analytics.helpers import Wired, wire
from tests.conftest import app_client
from tests.fakes.posthog import API_KEY, FakePostHog


@pytest.fixture
def posthog_fake() -> Iterator[FakePostHog]:
    with FakePostHog() as fake:
        yield fake


@pytest.fixture
async def wired(services: Services, posthog_fake: FakePostHog) -> AsyncIterator[Wired]:
    svc = wire(
        services,
        posthog_api_key=API_KEY,
        posthog_host=posthog_fake.url,
        posthog_flush_interval=0.05,
        # Longer than any test waits: a held upload is still waiting when the test is done.
        posthog_timeout=30.0,
        posthog_flags_timeout=0.5,
        posthog_flags_ttl=0,
    )
    analytics = svc.analytics
    assert isinstance(analytics, PostHogAnalytics)
    analytics.close_timeout = 0.3
    try:
        async with app_client(svc) as client:
            yield Wired(svc, analytics, client, posthog_fake)
    finally:
        posthog_fake.release()
        await analytics.close()
