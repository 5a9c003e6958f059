"""Helpers for the analytics tests (and others that capture): the app wired to the real
PostHog client (tests/analytics/conftest.py's `wired`), and services configured for it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import httpx

from momento.analytics import PostHogAnalytics, from_settings
from momento.services import Services
from tests.fakes.posthog import FakePostHog


@dataclass
class Wired:
    services: Services
    analytics: PostHogAnalytics
    client: httpx.AsyncClient
    fake: FakePostHog

    async def events(self, name: str | None = None) -> list[dict[str, Any]]:
        """Every event the fake received once the client sent what it had queued."""
        await self.analytics.flush(10)
        return self.fake.events(name)


def wire(services: Services, **settings: Any) -> Services:
    """The session's services with these settings and the analytics they configure."""
    updated = services.settings.model_copy(update=settings)
    return dataclasses.replace(services, settings=updated, analytics=from_settings(updated))
