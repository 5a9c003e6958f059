"""Fixtures for the billing tests: the app configured for RevenueCat, and a fake REST API."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from momento.app import create_app
from momento.kit.ratelimit import RateLimiter
from momento.services import Services
from tests.billing.helpers import (
    API_KEY,
    HOST_ENTITLEMENT,
    PREMIUM_PRODUCT,
    WEBHOOK_AUTH,
    Billing,
    RecordingAnalytics,
)
from tests.fakes.revenuecat import FakeRevenueCat

for _name in ("REVENUECAT_WEBHOOK_AUTH", "REVENUECAT_API_KEY", "REVENUECAT_API_URL"):
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
def fake_rc_server() -> Iterator[FakeRevenueCat]:
    with FakeRevenueCat(api_key=API_KEY) as fake:
        yield fake


@pytest.fixture
def fake_rc(fake_rc_server: FakeRevenueCat) -> FakeRevenueCat:
    fake_rc_server.reset()
    return fake_rc_server


@pytest.fixture
async def billing(services: Services, fake_rc: FakeRevenueCat) -> AsyncIterator[Billing]:
    """The app with webhooks, verification and a host entitlement configured. (The billing
    tables start empty: the suite's clean_database empties every table.)"""
    settings = services.settings.model_copy(
        update={
            "revenuecat_webhook_auth": WEBHOOK_AUTH,
            "revenuecat_api_key": API_KEY,
            "revenuecat_api_url": fake_rc.url,
            "revenuecat_timeout": 5.0,
            "premium_product_ids": [PREMIUM_PRODUCT, "event_premium_sub"],
            "host_entitlement_id": HOST_ENTITLEMENT,
        }
    )
    analytics = RecordingAnalytics()
    svc = dataclasses.replace(
        services,
        settings=settings,
        limiter=RateLimiter(services.db, settings.rate_limit_window),
        analytics=analytics,
    )
    app = create_app(svc, manage_pool=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield Billing(svc, client, fake_rc, analytics)
