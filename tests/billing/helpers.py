"""Helpers for the billing tests: RevenueCat webhook bodies, the configured app, reads in SQL.

Webhook bodies follow RevenueCat's shapes (integrations.md, "RevenueCat"): the sample
NON_RENEWING_PURCHASE there, and for the other types the same fields with what each adds
(cancel_reason, expiration_reason, new_product_id, transferred_from/transferred_to).
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, LiteralString

import httpx
import orjson

from momento.analytics.client import DistinctId, FlagValue
from momento.billing import webhooks as service
from momento.jobs.queue import run_worker
from momento.services import Services
from tests.conftest import app_client, with_settings
from tests.factories import TestUser, sql
from tests.fakes.revenuecat import FakeRevenueCat

WEBHOOK_AUTH = "Bearer whsec_0123456789abcdef"
API_KEY = "sk_test_fake_revenuecat"
PREMIUM_PRODUCT = "event_premium"
HOST_PRODUCT = "host_monthly"
HOST_ENTITLEMENT = "host_pro"
DAY = timedelta(days=1)


def now_ms(delta: timedelta = timedelta(0)) -> int:
    return int((time.time() + delta.total_seconds()) * 1000)


def rc_event(
    type_: str,
    user: object | None,
    *,
    ts: int,
    product: str = PREMIUM_PRODUCT,
    tx: str = "2000001",
    purchased_ms: int | None = None,
    expiration_ms: int | None = None,
    entitlements: list[str] | None = None,
    price: float = 4.99,
    **extra: Any,
) -> dict[str, Any]:
    """A webhook body; `user` is the Momento user (app_user_id), None for TRANSFER."""
    event: dict[str, Any] = {
        "id": str(uuid.uuid4()).upper(),
        "type": type_,
        "app_id": "app1a2b3c4d5e",
        "event_timestamp_ms": ts,
        "purchased_at_ms": purchased_ms if purchased_ms is not None else ts - 2000,
        "expiration_at_ms": expiration_ms,
        "product_id": product,
        "entitlement_ids": entitlements,
        "period_type": "NORMAL",
        "environment": "PRODUCTION",
        "store": "APP_STORE",
        "transaction_id": tx,
        "original_transaction_id": tx,
        "price": price,
        "currency": "USD",
        "price_in_purchased_currency": price,
        "country_code": "US",
        "is_family_share": False,
        "presented_offering_id": "default",
        "subscriber_attributes": {
            "$email": {"value": "host@example.com", "updated_at_ms": ts - 60_000}
        },
        "takehome_percentage": 0.7,
        "tax_percentage": 0.0,
        "commission_percentage": 0.3,
        "offer_code": None,
    }
    if user is not None:
        event["app_user_id"] = str(user)
        event["original_app_user_id"] = str(user)
        event["aliases"] = [str(user)]
    event.update(extra)
    return {"api_version": "1.0", "event": event}


# --- one builder per type -------------------------------------------------------------------


def event_purchase(user: object, tx: str, *, ts: int) -> dict[str, Any]:
    """NON_RENEWING_PURCHASE of the event premium product (the sample in integrations.md)."""
    return rc_event("NON_RENEWING_PURCHASE", user, ts=ts, tx=tx, entitlements=["premium"])


def event_refund(
    user: object, tx: str, *, ts: int, product: str = PREMIUM_PRODUCT
) -> dict[str, Any]:
    """The refund of a purchase: CANCELLATION with cancel_reason CUSTOMER_SUPPORT."""
    return rc_event(
        "CANCELLATION",
        user,
        ts=ts,
        tx=tx,
        product=product,
        entitlements=["premium"],
        cancel_reason="CUSTOMER_SUPPORT",
        price=-4.99,
        price_in_purchased_currency=-4.99,
    )


def host_event(
    type_: str,
    user: object,
    *,
    ts: int,
    expires_ms: int | None,
    tx: str = "3000001",
    purchased_ms: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An event of the host subscription (product host_monthly, entitlement host_pro)."""
    return rc_event(
        type_,
        user,
        ts=ts,
        tx=tx,
        product=HOST_PRODUCT,
        purchased_ms=purchased_ms,
        expiration_ms=expires_ms,
        entitlements=[HOST_ENTITLEMENT],
        **{"price": 9.99, **extra},
    )


def transfer(from_users: list[object], to_users: list[object], *, ts: int) -> dict[str, Any]:
    body = rc_event(
        "TRANSFER",
        None,
        ts=ts,
        transferred_from=[str(u) for u in from_users],
        transferred_to=[str(u) for u in to_users],
    )
    for key in ("product_id", "transaction_id", "original_transaction_id", "price"):
        body["event"].pop(key)
    return body


def rc_test_event(*, ts: int) -> dict[str, Any]:
    """What the dashboard's "Send test event" delivers."""
    return rc_event(
        "TEST",
        "$RCAnonymousID:0123456789abcdef0123456789abcdef",
        ts=ts,
        product="test_product",
        tx="123456789012345",
        environment="SANDBOX",
    )


# --- the configured app ---------------------------------------------------------------------


class RecordingAnalytics:
    """Analytics that keeps what was captured."""

    def __init__(self) -> None:
        self.captured: list[tuple[str, str, dict[str, Any]]] = []

    def purchases(self) -> list[tuple[str, str, dict[str, Any]]]:
        """What was captured as premium_purchased."""
        return [c for c in self.captured if c[1] == "premium_purchased"]

    @property
    def configured(self) -> bool:
        return True

    def capture(
        self, distinct_id: DistinctId, event: str, properties: Mapping[str, Any] | None = None
    ) -> None:
        self.captured.append((str(distinct_id), event, dict(properties or {})))

    async def flags(self, distinct_id: DistinctId) -> dict[str, FlagValue]:
        return {}

    async def flush(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        return None

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None


@dataclass
class Billing:
    services: Services
    client: httpx.AsyncClient
    fake: FakeRevenueCat
    analytics: RecordingAnalytics

    @asynccontextmanager
    async def configured(self, **overrides: object) -> AsyncIterator[Billing]:
        """The same, with some settings changed (its own app and client)."""
        services = with_settings(self.services, **overrides)
        async with app_client(services) as client:
            yield dataclasses.replace(self, services=services, client=client)

    async def webhook(
        self, body: dict[str, Any] | bytes, *, auth: str | None = WEBHOOK_AUTH
    ) -> httpx.Response:
        # Bytes, so a value outside ASCII goes out as its UTF-8 bytes.
        headers: dict[bytes, bytes] = {b"Content-Type": b"application/json"}
        if auth is not None:
            headers[b"Authorization"] = auth.encode()
        content = body if isinstance(body, bytes) else orjson.dumps(body)
        return await self.client.post("/webhooks/revenuecat", content=content, headers=headers)

    async def deliver(self, *bodies: dict[str, Any], apply: bool = True) -> None:
        """Deliver each body (200 expected), then apply what is stored (as the job does)."""
        for body in bodies:
            r = await self.webhook(body)
            assert r.status_code == 200, r.text
            assert r.json() == {"status": "ok"}
        if apply:
            await self.apply()

    async def apply(self) -> int:
        return await service.apply_pending_events(self.services)

    async def run_jobs(self) -> None:
        """Run the queued jobs with a worker that stops when the queue is empty."""
        await run_worker(self.services, install_signal_handlers=False, wait=False, concurrency=1)

    async def verify(self, user: TestUser, event_id: str, tx: str) -> httpx.Response:
        return await self.client.post(
            f"/v1/events/{event_id}/premium", headers=user.headers, json={"transaction_id": tx}
        )

    async def rows(self, query: LiteralString, *params: Any) -> list[dict[str, Any]]:
        return await sql(self.services, query, *params)

    async def premium(self, event_id: str | uuid.UUID) -> bool:
        rows = await self.rows("SELECT is_premium FROM public.events WHERE id = %s", event_id)
        return bool(rows[0]["is_premium"])

    async def stored(self) -> list[dict[str, Any]]:
        return await self.rows(
            "SELECT id, type, app_user_id, event_timestamp_ms, processed_at, outcome, error"
            " FROM momento.revenuecat_events ORDER BY received_at, id"
        )

    async def outcome(self, body: dict[str, Any]) -> str | None:
        rows = await self.rows(
            "SELECT outcome FROM momento.revenuecat_events WHERE id = %s", body["event"]["id"]
        )
        return rows[0]["outcome"] if rows else None

    async def purchases(self) -> list[dict[str, Any]]:
        return await self.rows(
            "SELECT transaction_id, event_id, user_id, product_id, price, refunded_at, source,"
            " last_event_ts_ms FROM momento.premium_purchases ORDER BY transaction_id"
        )

    async def entitlement(self, user: TestUser) -> dict[str, Any] | None:
        rows = await self.rows(
            "SELECT * FROM momento.host_entitlements WHERE user_id = %s", user.id
        )
        return rows[0] if rows else None

    async def jobs(self) -> list[dict[str, Any]]:
        return await self.rows(
            "SELECT task_name, status::text AS status FROM procrastinate_jobs"
            " WHERE task_name LIKE 'billing:%%' ORDER BY id"
        )

    async def state(self) -> dict[str, Any]:
        """Everything billing writes, and every event's premium flag."""
        return {
            "events": await self.rows("SELECT id, is_premium FROM public.events ORDER BY id"),
            "purchases": await self.purchases(),
            "entitlements": await self.rows(
                "SELECT * FROM momento.host_entitlements ORDER BY user_id"
            ),
            "stored": await self.stored(),
        }
