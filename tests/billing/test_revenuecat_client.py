"""The REST client against the fake: ids on the wire, the subscriber's shape, failures."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from momento.billing.revenuecat import RevenueCat, RevenueCatUnavailable, parse_subscriber
from tests.billing.helpers import API_KEY
from tests.fakes.revenuecat import FakeRevenueCat


async def test_ids_are_url_encoded_and_unknown_ones_created(fake_rc: FakeRevenueCat) -> None:
    odd = "$RCAnonymousID:ab/cd ef?x=1#y"
    async with RevenueCat(fake_rc.url, API_KEY) as rc:
        first = await rc.subscriber(odd)
        again = await rc.subscriber(odd)
    assert first.original_app_user_id == odd
    assert first.transactions == []
    assert again.original_app_user_id == odd
    # Sent percent-encoded; the fake (as RevenueCat) decodes it back.
    encoded = "/v1/subscribers/%24RCAnonymousID%3Aab%2Fcd%20ef%3Fx%3D1%23y"
    assert [path for path, _ in fake_rc.requests] == [encoded] * 2
    assert list(fake_rc.subscribers) == [odd]


async def test_subscriber_transactions_and_entitlements(fake_rc: FakeRevenueCat) -> None:
    fake_rc.add_non_subscription("u1", "event_premium", "2000001", price=4.99)
    fake_rc.add_subscription("u1", "host_monthly", "3000001", entitlement="host_pro")
    fake_rc.add_subscription("u1", "event_premium_sub", "4000001", refunded=True)
    async with RevenueCat(fake_rc.url, API_KEY) as rc:
        sub = await rc.subscriber("u1")
    bought = sub.transaction("2000001", ["event_premium"])
    assert bought is not None
    assert bought.kind == "non_subscription"
    assert bought.price == 4.99
    assert bought.currency == "USD"
    assert sub.transaction("2000001", ["other"]) is None
    refunded = sub.transaction("4000001", ["event_premium_sub"])
    assert refunded is not None
    assert refunded.refunded_at is not None
    host = sub.entitlements["host_pro"]
    assert host.product_identifier == "host_monthly"
    assert host.active(datetime.now(UTC))


async def test_a_long_retry_after_is_not_waited_for(fake_rc: FakeRevenueCat) -> None:
    fake_rc.fail(429, retry_after="Wed, 21 Oct 2037 07:28:00 GMT")
    async with RevenueCat(fake_rc.url, API_KEY) as rc:
        with pytest.raises(RevenueCatUnavailable):
            await rc.subscriber("u1")
    assert len(fake_rc.requests) == 1


async def test_a_wrong_key_is_not_retried(fake_rc: FakeRevenueCat) -> None:
    async with RevenueCat(fake_rc.url, "sk_wrong") as rc:
        with pytest.raises(RevenueCatUnavailable):
            await rc.subscriber("u1")
    assert fake_rc.requests == [("/v1/subscribers/u1", "Bearer sk_wrong")]


@pytest.mark.parametrize("body", [None, [], {}, {"subscriber": []}])
def test_a_body_without_a_subscriber_is_unusable(body: object) -> None:
    with pytest.raises(RevenueCatUnavailable):
        parse_subscriber(body)


def test_odd_parts_are_skipped() -> None:
    sub = parse_subscriber(
        {
            "subscriber": {
                "non_subscriptions": {"a": "x", "b": [1, {"store_transaction_id": ""}]},
                "subscriptions": {
                    "c": None,
                    "d": {"store_transaction_id": "9", "expires_date": "?"},
                },
                "entitlements": {"e": {"expires_date": None}},
            }
        }
    )
    assert [t.store_transaction_id for t in sub.transactions] == ["9"]
    assert sub.transactions[0].expires_date is None
    assert sub.entitlements["e"].active(datetime.now(UTC))
