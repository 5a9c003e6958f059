"""POST /webhooks/revenuecat: authorization, storage by event id, the job, every event type,
and events arriving out of order (their own timestamps decide)."""

from __future__ import annotations

import time

import pytest

from momento.billing import webhooks as service
from tests.billing.helpers import (
    DAY,
    HOST_PRODUCT,
    WEBHOOK_AUTH,
    Billing,
    event_purchase,
    event_refund,
    host_event,
    now_ms,
    rc_event,
    rc_test_event,
    transfer,
)
from tests.factories import TestUser, assert_problem, create_event

# --- who may deliver, and what is a delivery ------------------------------------------------


async def test_not_configured_answers_503(billing: Billing, host: TestUser) -> None:
    async with billing.configured(revenuecat_webhook_auth=None) as off:
        r = await off.webhook(event_purchase(host.id, "2000001", ts=now_ms()))
    assert_problem(r, 503, "webhook_not_configured")
    assert await billing.stored() == []


@pytest.mark.parametrize(
    "auth",
    [
        None,
        "",
        "Bearer wrong",
        WEBHOOK_AUTH[:-1],
        WEBHOOK_AUTH + "0",
        WEBHOOK_AUTH.removeprefix("Bearer "),
        WEBHOOK_AUTH.upper(),
        "Bearer whsec_0123456789abcdeé",
    ],
)
async def test_wrong_authorization_is_refused_and_nothing_stored(
    billing: Billing, host: TestUser, auth: str | None
) -> None:
    r = await billing.webhook(event_purchase(host.id, "2000001", ts=now_ms()), auth=auth)
    assert_problem(r, 401, "invalid_webhook_authorization")
    assert await billing.stored() == []
    assert await billing.jobs() == []


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"[]",
        b'"event"',
        b"{}",
        b'{"event": null}',
        b'{"event": {}}',
        b'{"event": {"type": "TEST", "event_timestamp_ms": 1}}',
        b'{"event": {"id": "", "type": "TEST", "event_timestamp_ms": 1}}',
        b'{"event": {"id": "e1", "event_timestamp_ms": 1}}',
        b'{"event": {"id": "e1", "type": "TEST", "event_timestamp_ms": "1"}}',
        b'{"event": {"id": "e1", "type": "TEST", "event_timestamp_ms": 1.5}}',
        b'{"event": {"id": "e1", "type": "TEST", "event_timestamp_ms": true}}',
        b'{"event": {"id": "e1", "type": "TEST", "event_timestamp_ms": -1}}',
        b'{"event": {"id": "e1", "type": "TEST", "event_timestamp_ms": 99999999999999999999}}',
        b'{"event": {"id": 1, "type": "TEST", "event_timestamp_ms": 1}}',
        b'{"event": {"id": "e1", "type": "TEST", "event_timestamp_ms": 1, "x": "a\\u0000b"}}',
        b'{"event": {"id": "e1", "type": "TEST", "event_timestamp_ms": 1, "app_user_id": 5}}',
    ],
)
async def test_malformed_bodies_are_400_and_nothing_stored(billing: Billing, raw: bytes) -> None:
    r = await billing.webhook(raw)
    assert_problem(r, 400, "invalid_webhook")
    assert await billing.stored() == []


async def test_test_event_is_stored_and_acknowledged_only(billing: Billing) -> None:
    body = rc_test_event(ts=now_ms())
    r = await billing.webhook(body)
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    await billing.apply()
    [stored] = await billing.stored()
    assert stored["type"] == "TEST"
    assert stored["outcome"] == "test"
    assert stored["processed_at"] is not None
    assert await billing.purchases() == []
    assert (await billing.state())["entitlements"] == []


async def test_a_delivery_is_answered_at_once_and_applied_by_a_job(
    billing: Billing, host: TestUser
) -> None:
    purchase = host_event("INITIAL_PURCHASE", host.id, ts=now_ms(), expires_ms=now_ms(30 * DAY))
    started = time.monotonic()
    r = await billing.webhook(purchase)
    assert time.monotonic() - started < 1.0
    assert r.status_code == 200
    # Stored, not applied yet: the work is a queued job.
    [stored] = await billing.stored()
    assert stored["processed_at"] is None
    assert await billing.jobs() == [
        {"task_name": "billing:apply_revenuecat_events", "status": "todo"}
    ]
    # A second delivery while that job waits does not queue another one.
    renewal = host_event(
        "RENEWAL", host.id, ts=now_ms() + 1000, expires_ms=now_ms(60 * DAY), tx="3000002"
    )
    assert (await billing.webhook(renewal)).status_code == 200
    assert len(await billing.jobs()) == 1

    await billing.run_jobs()

    assert [s["outcome"] for s in await billing.stored()] == ["applied", "applied"]
    entitlement = await billing.entitlement(host)
    assert entitlement is not None
    assert entitlement["last_event_ts_ms"] == renewal["event"]["event_timestamp_ms"]
    # Successful jobs are deleted.
    assert await billing.jobs() == []


async def test_duplicate_delivery_is_stored_once_and_applied_once(
    billing: Billing, host: TestUser
) -> None:
    event = await create_event(billing.client, host)
    billing.fake.add_non_subscription(host.id, "event_premium", "2000001")
    assert (await billing.verify(host, event["id"], "2000001")).status_code == 200
    refund = event_refund(host.id, "2000001", ts=now_ms())

    await billing.deliver(refund, refund, apply=False)
    assert len(await billing.stored()) == 1
    assert await billing.apply() == 1
    assert not await billing.premium(event["id"])
    before = await billing.state()

    # RevenueCat retries (it did not see our 200): same id, same timestamp.
    r = await billing.webhook(refund)
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    assert await billing.apply() == 0
    assert await billing.state() == before


# --- event premium purchases ----------------------------------------------------------------


async def test_non_renewing_purchase_is_recorded_until_the_app_verifies_it(
    billing: Billing, host: TestUser
) -> None:
    event = await create_event(billing.client, host)
    await billing.deliver(event_purchase(host.id, "2000001", ts=now_ms()))
    [purchase] = await billing.purchases()
    assert purchase["event_id"] is None
    assert purchase["user_id"] == host.id
    assert float(purchase["price"]) == 4.99
    assert purchase["source"] == "webhook"
    assert not await billing.premium(event["id"])

    billing.fake.add_non_subscription(host.id, "event_premium", "2000001")
    r = await billing.verify(host, event["id"], "2000001")
    assert r.status_code == 200, r.text
    assert r.json()["is_premium"] is True
    [purchase] = await billing.purchases()
    assert str(purchase["event_id"]) == event["id"]
    # The webhook's price (USD) is what analytics reports.
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


async def test_refund_takes_premium_away(billing: Billing, host: TestUser) -> None:
    event = await create_event(billing.client, host)
    billing.fake.add_non_subscription(host.id, "event_premium", "2000001")
    assert (await billing.verify(host, event["id"], "2000001")).status_code == 200
    assert await billing.premium(event["id"])

    refund = event_refund(host.id, "2000001", ts=now_ms())
    await billing.deliver(refund)

    assert await billing.outcome(refund) == "applied"
    assert not await billing.premium(event["id"])
    [purchase] = await billing.purchases()
    assert purchase["refunded_at"] is not None
    # The refunded transaction cannot make it premium again.
    r = await billing.verify(host, event["id"], "2000001")
    assert_problem(r, 422, "purchase_refunded")
    assert not await billing.premium(event["id"])


async def test_refund_arriving_before_the_purchase_ends_not_premium(
    billing: Billing, host: TestUser
) -> None:
    event = await create_event(billing.client, host)
    t = now_ms()
    purchase = event_purchase(host.id, "2000001", ts=t)
    refund = event_refund(host.id, "2000001", ts=t + 60_000)

    await billing.deliver(refund)
    await billing.deliver(purchase)

    assert await billing.outcome(refund) == "applied"
    assert await billing.outcome(purchase) == "stale"
    [row] = await billing.purchases()
    assert row["refunded_at"] is not None
    assert row["last_event_ts_ms"] == t + 60_000
    # RevenueCat's REST view may still list it; our record of the refund wins.
    billing.fake.add_non_subscription(host.id, "event_premium", "2000001")
    assert_problem(await billing.verify(host, event["id"], "2000001"), 422, "purchase_refunded")
    assert not await billing.premium(event["id"])


async def test_out_of_order_pair_stored_together_is_applied_in_timestamp_order(
    billing: Billing, host: TestUser
) -> None:
    event = await create_event(billing.client, host)
    billing.fake.add_non_subscription(host.id, "event_premium", "2000001")
    assert (await billing.verify(host, event["id"], "2000001")).status_code == 200
    t = now_ms()
    refund = event_refund(host.id, "2000001", ts=t + 1000)
    uncancel = rc_event("UNCANCELLATION", host.id, ts=t + 2000, tx="2000001")

    await billing.deliver(uncancel, refund)  # both stored, then applied oldest first

    assert await billing.outcome(refund) == "applied"
    assert await billing.outcome(uncancel) == "applied"
    # UNCANCELLATION, the later event, undid the cancellation.
    assert await billing.premium(event["id"])
    [row] = await billing.purchases()
    assert row["refunded_at"] is None


async def test_events_of_other_products_are_ignored(billing: Billing, host: TestUser) -> None:
    body = rc_event("NON_RENEWING_PURCHASE", host.id, ts=now_ms(), product="stickers", tx="9")
    await billing.deliver(body)
    assert await billing.outcome(body) == "ignored"
    assert await billing.purchases() == []


async def test_billing_issue_is_stored_and_ignored(billing: Billing, host: TestUser) -> None:
    body = host_event("BILLING_ISSUE", host.id, ts=now_ms(), expires_ms=now_ms(3 * DAY))
    await billing.deliver(body)
    assert await billing.outcome(body) == "ignored"
    assert await billing.entitlement(host) is None


# --- the host subscription ------------------------------------------------------------------


async def test_host_entitlement_makes_new_events_premium(
    billing: Billing, host: TestUser, guest: TestUser
) -> None:
    before = await create_event(billing.client, host, "Before")
    t = now_ms() + 1
    purchase = host_event(
        "INITIAL_PURCHASE", host.id, ts=t, purchased_ms=t, expires_ms=now_ms(30 * DAY)
    )
    await billing.deliver(purchase)

    after = await create_event(billing.client, host, "After")
    assert after["is_premium"] is True
    assert not await billing.premium(before["id"])  # made before the subscription
    # Someone else's events are not covered.
    theirs = await create_event(billing.client, guest, "Theirs")
    assert theirs["is_premium"] is False
    entitlement = await billing.entitlement(host)
    assert entitlement is not None
    assert entitlement["expires_at"] is not None


async def test_event_created_before_the_webhook_arrives_is_covered(
    billing: Billing, host: TestUser
) -> None:
    """The store's purchase time decides, not when RevenueCat's webhook got here."""
    purchased = now_ms()
    event = await create_event(billing.client, host)
    assert event["is_premium"] is False
    purchase = host_event(
        "INITIAL_PURCHASE",
        host.id,
        ts=now_ms() + 5000,
        purchased_ms=purchased - 1000,
        expires_ms=now_ms(30 * DAY),
    )
    await billing.deliver(purchase)
    assert await billing.premium(event["id"])


async def test_subscription_lifecycle(billing: Billing, host: TestUser) -> None:
    t = now_ms() - 60_000  # these events happened a minute ago
    await billing.deliver(
        host_event("INITIAL_PURCHASE", host.id, ts=t, expires_ms=now_ms(30 * DAY))
    )
    event = await create_event(billing.client, host)
    assert event["is_premium"] is True

    # RENEWAL extends the period; the event stays premium.
    renewal = host_event("RENEWAL", host.id, ts=t + 1000, expires_ms=now_ms(60 * DAY), tx="3002")
    await billing.deliver(renewal)
    ent = await billing.entitlement(host)
    assert ent is not None
    assert int(ent["expires_at"].timestamp() * 1000) == renewal["event"]["expiration_at_ms"]
    assert await billing.premium(event["id"])

    # Turning auto-renew off is not losing it: premium until the period ends.
    cancel = host_event(
        "CANCELLATION",
        host.id,
        ts=t + 2000,
        expires_ms=now_ms(60 * DAY),
        tx="3002",
        cancel_reason="UNSUBSCRIBE",
    )
    await billing.deliver(cancel)
    ent = await billing.entitlement(host)
    assert ent is not None
    assert ent["unsubscribed_at"] is not None
    assert await billing.premium(event["id"])

    # UNCANCELLATION undoes that.
    uncancel = host_event("UNCANCELLATION", host.id, ts=t + 3000, expires_ms=now_ms(60 * DAY))
    await billing.deliver(uncancel)
    ent = await billing.entitlement(host)
    assert ent is not None
    assert ent["unsubscribed_at"] is None

    # PRODUCT_CHANGE replaces the expiry with the new product's.
    change = host_event(
        "PRODUCT_CHANGE",
        host.id,
        ts=t + 4000,
        expires_ms=now_ms(365 * DAY),
        new_product_id="host_yearly",
    )
    await billing.deliver(change)
    ent = await billing.entitlement(host)
    assert ent is not None
    assert int(ent["expires_at"].timestamp() * 1000) == change["event"]["expiration_at_ms"]
    assert await billing.premium(event["id"])

    # An event with its own purchase keeps premium after the subscription ends.
    bought = await create_event(billing.client, host, "Bought")
    billing.fake.add_non_subscription(host.id, "event_premium", "2000009")
    assert (await billing.verify(host, bought["id"], "2000009")).status_code == 200

    # EXPIRATION: the events the subscription covered go back to free.
    expiration = host_event(
        "EXPIRATION",
        host.id,
        ts=t + 5000,
        expires_ms=t + 4500,
        expiration_reason="UNSUBSCRIBE",
    )
    await billing.deliver(expiration)
    assert [await billing.outcome(b) for b in (renewal, cancel, uncancel, change, expiration)] == [
        "applied"
    ] * 5
    assert not await billing.premium(event["id"])
    assert await billing.premium(bought["id"])
    later = await create_event(billing.client, host, "Later")
    assert later["is_premium"] is False


async def test_refund_of_the_subscription_ends_it_now(billing: Billing, host: TestUser) -> None:
    t = now_ms() - 60_000  # these events happened a minute ago
    await billing.deliver(
        host_event("INITIAL_PURCHASE", host.id, ts=t, expires_ms=now_ms(30 * DAY))
    )
    event = await create_event(billing.client, host)
    refund = host_event(
        "CANCELLATION",
        host.id,
        ts=t + 1000,
        expires_ms=now_ms(30 * DAY),
        cancel_reason="CUSTOMER_SUPPORT",
        price=-9.99,
    )
    await billing.deliver(refund)
    assert not await billing.premium(event["id"])
    assert (await create_event(billing.client, host, "Next"))["is_premium"] is False


async def test_expiration_then_an_older_renewal_stays_expired(
    billing: Billing, host: TestUser
) -> None:
    t = now_ms() - 60_000  # these events happened a minute ago
    await billing.deliver(
        host_event("INITIAL_PURCHASE", host.id, ts=t, expires_ms=now_ms(30 * DAY))
    )
    event = await create_event(billing.client, host)
    expiration = host_event(
        "EXPIRATION", host.id, ts=t + 3000, expires_ms=t + 2500, expiration_reason="BILLING_ERROR"
    )
    renewal = host_event("RENEWAL", host.id, ts=t + 2000, expires_ms=now_ms(60 * DAY), tx="3002")

    await billing.deliver(expiration)
    await billing.deliver(renewal)

    assert await billing.outcome(expiration) == "applied"
    assert await billing.outcome(renewal) == "stale"
    assert not await billing.premium(event["id"])
    ent = await billing.entitlement(host)
    assert ent is not None
    assert ent["last_event_ts_ms"] == t + 3000


async def test_an_entitlement_that_runs_out_without_a_webhook_is_swept(
    billing: Billing, host: TestUser
) -> None:
    await billing.deliver(
        host_event("INITIAL_PURCHASE", host.id, ts=now_ms(), expires_ms=now_ms(30 * DAY))
    )
    event = await create_event(billing.client, host)
    assert event["is_premium"] is True
    await billing.rows(
        "UPDATE momento.host_entitlements SET expires_at = now() - interval '1 second'"
        " WHERE user_id = %s RETURNING user_id",
        host.id,
    )
    assert await service.refresh_expired_entitlements(billing.services) == 1
    assert not await billing.premium(event["id"])
    # Once swept, it is not looked at again.
    assert await service.refresh_expired_entitlements(billing.services) == 0


async def test_transfer_moves_the_entitlement(
    billing: Billing, host: TestUser, guest: TestUser
) -> None:
    t = now_ms() - 60_000  # these events happened a minute ago
    await billing.deliver(
        host_event("INITIAL_PURCHASE", host.id, ts=t, expires_ms=now_ms(30 * DAY))
    )
    hosts_event = await create_event(billing.client, host)
    assert hosts_event["is_premium"] is True

    moved = transfer([host.id], [guest.id], ts=t + 1000)
    assert "app_user_id" not in moved["event"]
    await billing.deliver(moved)

    assert await billing.outcome(moved) == "applied"
    assert not await billing.premium(hosts_event["id"])
    assert (await create_event(billing.client, guest))["is_premium"] is True
    assert (await create_event(billing.client, host, "Mine"))["is_premium"] is False
    # An older event about the old owner, arriving late, does not bring it back.
    late = host_event("RENEWAL", host.id, ts=t + 500, expires_ms=now_ms(60 * DAY), tx="3002")
    await billing.deliver(late)
    assert await billing.outcome(late) == "stale"
    assert (await create_event(billing.client, host, "Still"))["is_premium"] is False


async def test_transfer_moves_purchases_not_yet_used(
    billing: Billing, host: TestUser, guest: TestUser
) -> None:
    await billing.deliver(event_purchase(host.id, "2000001", ts=now_ms()))
    await billing.deliver(transfer([host.id], [guest.id], ts=now_ms() + 1000))
    [purchase] = await billing.purchases()
    assert purchase["user_id"] == guest.id


async def test_events_of_unknown_users_change_nothing(billing: Billing) -> None:
    anonymous = "$RCAnonymousID:8d3ae8b2a6f04c0f9ad9b2e0f6c0b1aa"
    body = host_event("INITIAL_PURCHASE", anonymous, ts=now_ms(), expires_ms=now_ms(30 * DAY))
    await billing.deliver(body)
    assert await billing.outcome(body) == "unknown_user"
    assert (await billing.state())["entitlements"] == []


async def test_users_are_matched_by_alias_too(billing: Billing, host: TestUser) -> None:
    body = host_event(
        "INITIAL_PURCHASE",
        "$RCAnonymousID:8d3ae8b2a6f04c0f9ad9b2e0f6c0b1aa",
        ts=now_ms(),
        expires_ms=now_ms(30 * DAY),
    )
    body["event"]["aliases"] = [body["event"]["app_user_id"], str(host.id)]
    await billing.deliver(body)
    assert await billing.entitlement(host) is not None


async def test_every_type_is_acknowledged(billing: Billing, host: TestUser) -> None:
    t = now_ms()
    bodies = [
        rc_test_event(ts=t),
        event_purchase(host.id, "2000001", ts=t + 1),
        event_refund(host.id, "2000001", ts=t + 2),
        host_event("INITIAL_PURCHASE", host.id, ts=t + 3, expires_ms=now_ms(DAY)),
        host_event("RENEWAL", host.id, ts=t + 4, expires_ms=now_ms(DAY), tx="3002"),
        host_event(
            "CANCELLATION", host.id, ts=t + 5, expires_ms=now_ms(DAY), cancel_reason="UNSUBSCRIBE"
        ),
        host_event("UNCANCELLATION", host.id, ts=t + 6, expires_ms=now_ms(DAY)),
        host_event(
            "PRODUCT_CHANGE", host.id, ts=t + 7, expires_ms=now_ms(DAY), new_product_id=HOST_PRODUCT
        ),
        host_event(
            "EXPIRATION", host.id, ts=t + 8, expires_ms=t + 8, expiration_reason="UNSUBSCRIBE"
        ),
        transfer([host.id], ["$RCAnonymousID:0000"], ts=t + 9),
    ]
    await billing.deliver(*bodies)
    stored = await billing.stored()
    assert len(stored) == len(bodies)
    assert all(s["processed_at"] is not None and s["error"] is None for s in stored)
