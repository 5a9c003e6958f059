"""Fixtures for the billing tests: the app configured for RevenueCat, and a fake REST API."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator, Iterator

import pytest

from momento.services import Services
from tests.billing.helpers import (
    API_KEY,
    HOST_ENTITLEMENT,
    PREMIUM_PRODUCT,
    WEBHOOK_AUTH,
    Billing,
    RecordingAnalytics,
)
from tests.conftest import app_client, with_settings
from tests.factories import TestUser, create_user
from tests.fakes.revenuecat import FakeRevenueCat

for _name in ("REVENUECAT_WEBHOOK_AUTH", "REVENUECAT_API_KEY", "REVENUECAT_API_URL"):
    os.environ.pop(_name, None)


@pytest.fixture
async def host(services: Services) -> TestUser:
    return await create_user(services, "host")


@pytest.fixture
async def guest(services: Services) -> TestUser:
    return await create_user(services, "guest")


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
    analytics = RecordingAnalytics()
    svc = dataclasses.replace(
        with_settings(
            services,
            revenuecat_webhook_auth=WEBHOOK_AUTH,
            revenuecat_api_key=API_KEY,
            revenuecat_api_url=fake_rc.url,
            revenuecat_timeout=5.0,
            premium_product_ids=[PREMIUM_PRODUCT, "event_premium_sub"],
            host_entitlement_id=HOST_ENTITLEMENT,
        ),
        analytics=analytics,
    )
    async with app_client(svc) as client:
        yield Billing(svc, client, fake_rc, analytics)
