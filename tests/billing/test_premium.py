"""POST /v1/events/{id}/premium: RevenueCat's REST API confirms the purchase, every refusal
changes nothing, and premium's effect on the photo limit; no other way to set is_premium."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any

import pytest

from momento.errors import Forbidden
from momento.services import Services
from tests.billing.helpers import API_KEY, Billing
from tests.factories import TestUser, assert_problem, create_event, create_user, iso, join


@pytest.fixture
async def stranger(services: Services) -> TestUser:
    return await create_user(services, "stranger")


@pytest.fixture
async def event(billing: Billing, host: TestUser, guest: TestUser) -> dict[str, Any]:
    made = await create_event(billing.client, host)
    await join(billing.client, guest, made)
    return made


async def test_verified_purchase_makes_the_event_premium(
    billing: Billing, host: TestUser, event: dict[str, Any]
) -> None:
    billing.fake.add_non_subscription(host.id, "event_premium", "2000001", price=4.99)

    r = await billing.verify(host, event["id"], "2000001")

    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == event["id"]
    assert body["is_premium"] is True
    assert body["member_count"] == 2
    assert await billing.premium(event["id"])
    [purchase] = await billing.purchases()
    assert str(purchase["event_id"]) == event["id"]
    assert purchase["user_id"] == host.id
    assert purchase["source"] == "verify"
    assert purchase["product_id"] == "event_premium"
    # RevenueCat was asked about the caller, with the secret key.
    assert billing.fake.requests == [(f"/v1/subscribers/{host.id}", f"Bearer {API_KEY}")]
    assert billing.analytics.purchases() == [
        (
            str(host.id),
            "premium_purchased",
            {
                "event_id": event["id"],
                "price": 4.99,
                "currency": "USD",
                "product_id": "event_premium",
            },
        )
    ]
    # Members see it too.
    seen = await billing.client.get(f"/v1/events/{event['id']}", headers=host.headers)
    assert seen.json()["is_premium"] is True

    # Sending it again is harmless: same answer, RevenueCat not asked, nothing reported.
    again = await billing.verify(host, event["id"], "2000001")
    assert again.status_code == 200
    assert again.json()["is_premium"] is True
    assert len(billing.fake.requests) == 1
    assert len(billing.analytics.purchases()) == 1


async def test_a_subscription_product_counts_too(
    billing: Billing, host: TestUser, event: dict[str, Any]
) -> None:
    billing.fake.add_subscription(host.id, "event_premium_sub", "4000001")
    r = await billing.verify(host, event["id"], "4000001")
    assert r.status_code == 200, r.text
    assert r.json()["is_premium"] is True
    # REST gives the subscription's price.
    assert billing.analytics.purchases()[0][2]["price"] == 9.99


async def test_without_a_known_price_the_purchase_is_reported_without_one(
    billing: Billing, host: TestUser, event: dict[str, Any]
) -> None:
    billing.fake.add_non_subscription(host.id, "event_premium", "2000001")
    assert (await billing.verify(host, event["id"], "2000001")).status_code == 200
    assert billing.analytics.purchases() == [
        (
            str(host.id),
            "premium_purchased",
            {"event_id": event["id"], "product_id": "event_premium"},
        )
    ]


async def test_rate_limit_with_a_short_retry_after_is_waited_out(
    billing: Billing, host: TestUser, event: dict[str, Any]
) -> None:
    billing.fake.add_non_subscription(host.id, "event_premium", "2000001")
    billing.fake.fail(429, retry_after="0")
    r = await billing.verify(host, event["id"], "2000001")
    assert r.status_code == 200, r.text
    assert len(billing.fake.requests) == 2


# --- refusals: each changes nothing -------------------------------------------------------------


async def _refused(
    billing: Billing, user: TestUser, event_id: str, tx: str, status: int, code: str
) -> None:
    before = await billing.state()
    r = await billing.verify(user, event_id, tx)
    assert_problem(r, status, code)
    assert await billing.state() == before
    assert billing.analytics.purchases() == []


async def test_non_member_gets_404(
    billing: Billing, stranger: TestUser, event: dict[str, Any]
) -> None:
    billing.fake.add_non_subscription(stranger.id, "event_premium", "2000001")
    await _refused(billing, stranger, event["id"], "2000001", 404, "event_not_found")
    assert billing.fake.requests == []


async def test_unknown_or_deleted_event_is_404(
    billing: Billing, host: TestUser, event: dict[str, Any]
) -> None:
    billing.fake.add_non_subscription(host.id, "event_premium", "2000001")
    await _refused(
        billing, host, "00000000-0000-4000-8000-000000000000", "2000001", 404, "event_not_found"
    )
    r = await billing.client.delete(f"/v1/events/{event['id']}", headers=host.headers)
    assert r.status_code == 204
    await _refused(billing, host, event["id"], "2000001", 404, "event_not_found")


async def test_member_who_is_not_the_creator_gets_403(
    billing: Billing, guest: TestUser, event: dict[str, Any]
) -> None:
    billing.fake.add_non_subscription(guest.id, "event_premium", "2000001")
    await _refused(billing, guest, event["id"], "2000001", 403, "not_event_creator")
    assert billing.fake.requests == []


@pytest.mark.parametrize(
    "setup",
    [
        "nothing bought",  # RevenueCat creates the subscriber: 201, empty
        "other transaction",
        "other product",
        "someone else's purchase",
    ],
)
async def test_unknown_transaction_is_refused(
    billing: Billing,
    host: TestUser,
    guest: TestUser,
    event: dict[str, Any],
    setup: str,
) -> None:
    if setup == "other transaction":
        billing.fake.add_non_subscription(host.id, "event_premium", "2000002")
    elif setup == "other product":
        billing.fake.add_non_subscription(host.id, "stickers", "2000001")
    elif setup == "someone else's purchase":
        billing.fake.add_non_subscription(guest.id, "event_premium", "2000001")
    await _refused(billing, host, event["id"], "2000001", 422, "purchase_not_found")
    assert len(billing.fake.requests) == 1


async def test_refunded_purchase_is_refused(
    billing: Billing, host: TestUser, event: dict[str, Any]
) -> None:
    billing.fake.add_subscription(host.id, "event_premium_sub", "4000001", refunded=True)
    await _refused(billing, host, event["id"], "4000001", 422, "purchase_refunded")


async def test_purchase_used_for_another_event_is_refused(
    billing: Billing, host: TestUser, event: dict[str, Any]
) -> None:
    billing.fake.add_non_subscription(host.id, "event_premium", "2000001")
    assert (await billing.verify(host, event["id"], "2000001")).status_code == 200
    billing.analytics.captured.clear()
    other = await create_event(billing.client, host, "Other")
    await _refused(billing, host, other["id"], "2000001", 409, "purchase_already_used")
    assert not await billing.premium(other["id"])


@pytest.mark.parametrize(
    ("status", "times", "retry_after"),
    [(500, 3, None), (503, 3, None), (429, 1, "120"), (429, 3, "0"), (401, 1, None)],
)
async def test_revenuecat_failing_is_503(
    billing: Billing,
    host: TestUser,
    event: dict[str, Any],
    status: int,
    times: int,
    retry_after: str | None,
) -> None:
    billing.fake.add_non_subscription(host.id, "event_premium", "2000001")
    billing.fake.fail(status, times=times, retry_after=retry_after)
    await _refused(billing, host, event["id"], "2000001", 503, "billing_unavailable")
    # Afterwards it works.
    assert (await billing.verify(host, event["id"], "2000001")).status_code == 200


async def test_wrong_api_key_is_503(
    billing: Billing, host: TestUser, event: dict[str, Any]
) -> None:
    billing.fake.add_non_subscription(host.id, "event_premium", "2000001")
    async with billing.configured(revenuecat_api_key="sk_wrong") as wrong:
        await _refused(wrong, host, event["id"], "2000001", 503, "billing_unavailable")


async def test_revenuecat_unreachable_is_503(
    billing: Billing, host: TestUser, event: dict[str, Any]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    async with billing.configured(revenuecat_api_url=closed) as down:
        await _refused(down, host, event["id"], "2000001", 503, "billing_unavailable")


async def test_not_configured_is_503(
    billing: Billing, host: TestUser, event: dict[str, Any]
) -> None:
    billing.fake.add_non_subscription(host.id, "event_premium", "2000001")
    async with billing.configured(revenuecat_api_key=None) as off:
        await _refused(off, host, event["id"], "2000001", 503, "billing_not_configured")
    assert billing.fake.requests == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"transaction_id": ""},
        {"transaction_id": "   "},
        {"transaction_id": 2000001},
        {"transaction_id": None},
        {"transaction_id": "x" * 201},
        {"transaction_id": "2000001", "is_premium": True},
        [],
    ],
)
async def test_bad_body_is_422(
    billing: Billing, host: TestUser, event: dict[str, Any], body: Any
) -> None:
    before = await billing.state()
    r = await billing.client.post(
        f"/v1/events/{event['id']}/premium", headers=host.headers, json=body
    )
    assert_problem(r, 422, "validation_failed")
    assert await billing.state() == before


async def test_signed_out_is_401(billing: Billing, event: dict[str, Any]) -> None:
    r = await billing.client.post(
        f"/v1/events/{event['id']}/premium", json={"transaction_id": "2000001"}
    )
    assert_problem(r, 401, "unauthorized")


# --- what premium does --------------------------------------------------------------------------


async def _photo(billing: Billing, user: TestUser, event_id: str) -> Any:
    return await billing.client.post(
        f"/v1/events/{event_id}/photos",
        headers=user.headers,
        json={
            "captured_at": iso(datetime.now(UTC)),
            "content_type": "image/jpeg",
            "byte_size": 1000,
        },
    )


async def test_premium_raises_the_photo_limit(
    billing: Billing, host: TestUser, guest: TestUser, event: dict[str, Any]
) -> None:
    async with billing.configured(photo_limit_free=1, photo_limit_premium=2) as small:
        assert (await _photo(small, guest, event["id"])).status_code == 201
        r = await _photo(small, guest, event["id"])
        assert_problem(r, 409, "photo_limit_reached")
        assert r.json()["limit"] == 1

        small.fake.add_non_subscription(host.id, "event_premium", "2000001")
        assert (await small.verify(host, event["id"], "2000001")).status_code == 200

        assert (await _photo(small, guest, event["id"])).status_code == 201
        r = await _photo(small, guest, event["id"])
        assert_problem(r, 409, "photo_limit_reached")
        assert r.json()["limit"] == 2


async def test_no_user_request_sets_is_premium(
    billing: Billing, host: TestUser, event: dict[str, Any]
) -> None:
    r = await billing.client.patch(
        f"/v1/events/{event['id']}", headers=host.headers, json={"is_premium": True}
    )
    assert_problem(r, 422, "validation_failed")
    r = await billing.client.post(
        "/v1/events",
        headers=host.headers,
        json={
            "name": "Free",
            "starts_at": event["starts_at"],
            "release_at": event["release_at"],
            "is_premium": True,
        },
    )
    assert_problem(r, 422, "validation_failed")

    db = billing.services.db
    refused = [
        ("UPDATE public.events SET is_premium = true WHERE id = %(id)s", {"id": event["id"]}),
        (
            "INSERT INTO public.events (name, creator_id, starts_at, release_at, is_premium)"
            " VALUES ('x', auth.uid(), now(), now() + interval '1 day', true)",
            {},
        ),
        ("SELECT private.refresh_event_premium(%(id)s)", {"id": event["id"]}),
        ("SELECT * FROM momento.premium_purchases", {}),
        ("SELECT * FROM momento.host_entitlements", {}),
        ("SELECT * FROM momento.revenuecat_events", {}),
        (
            "INSERT INTO momento.premium_purchases (transaction_id, event_id, product_id, source)"
            " VALUES ('1', %(id)s, 'event_premium', 'verify')",
            {"id": event["id"]},
        ),
        (
            "INSERT INTO momento.host_entitlements (user_id, entitlement, active_since,"
            " last_event_ts_ms) VALUES (auth.uid(), 'host_pro', now(), 0)",
            {},
        ),
    ]
    for query, params in refused:
        with pytest.raises(Forbidden):
            async with db.as_user(host.claims) as conn:
                await conn.execute(query, params)
    assert not await billing.premium(event["id"])
    assert await billing.purchases() == []
