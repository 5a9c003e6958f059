"""Premium by purchase: the app sends a store transaction id, RevenueCat confirms it.

Verification (`verify_purchase`): the creator sends the store transaction id; RevenueCat's
`GET /v1/subscribers/{user id}` must list it under a configured premium product, unrefunded,
and it must not be tied to another event. Then the purchase is recorded and the event refreshed
in one transaction. Every change of events.is_premium goes through the SQL functions of 0009.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, LiteralString

from momento import logs
from momento.analytics import events as analytics_events
from momento.billing.errors import (
    BillingNotConfigured,
    BillingUnavailable,
    PurchaseAlreadyUsed,
    PurchaseNotFound,
    PurchaseRefunded,
)
from momento.billing.revenuecat import RevenueCat, RevenueCatUnavailable
from momento.billing.webhooks import REFRESH_EVENT
from momento.errors import MomentoError, raises
from momento.events import service as events_service
from momento.events.errors import EventNotFound, GuestNotAllowed, NotEventCreator
from momento.events.schemas import Event
from momento.identity import CurrentUser

if TYPE_CHECKING:
    from momento.services import Services

log = logs.get("momento.billing")

PURCHASE: LiteralString = """
SELECT transaction_id, event_id, refunded_at FROM momento.premium_purchases
WHERE transaction_id = %(tx)s
"""

# A verified transaction: tied to this event unless it already serves one or was refunded
# (ON CONFLICT locks the existing row either way, so two racing events cannot both get it).
ATTACH_PURCHASE: LiteralString = """
INSERT INTO momento.premium_purchases AS p (transaction_id, event_id, user_id, app_user_id,
  product_id, purchased_at, price, currency, source)
VALUES (%(tx)s, %(event_id)s, %(user_id)s, %(app_user_id)s, %(product)s, %(purchased_at)s,
  %(price)s, %(currency)s, 'verify')
ON CONFLICT (transaction_id) DO UPDATE SET
  event_id = EXCLUDED.event_id,
  user_id = EXCLUDED.user_id,
  app_user_id = EXCLUDED.app_user_id,
  purchased_at = coalesce(p.purchased_at, EXCLUDED.purchased_at),
  price = coalesce(p.price, EXCLUDED.price),
  currency = coalesce(p.currency, EXCLUDED.currency),
  updated_at = now()
WHERE p.event_id IS NULL AND p.refunded_at IS NULL
RETURNING p.event_id, p.price, p.currency, p.product_id
"""


# Guests (anonymous users) never pay: they cannot create events (0029), and are told so here
# even for an event they could see.
CALLER: LiteralString = """
SELECT private.is_guest() AS guest,
  (SELECT e.creator_id = auth.uid() FROM public.events e WHERE e.id = %(id)s) AS is_creator
"""


async def _check_creator(services: Services, user: CurrentUser, event_id: uuid.UUID) -> None:
    rows = await services.db.user_fetch(user.claims, CALLER, {"id": event_id})
    if rows[0]["guest"]:
        raise GuestNotAllowed()
    if rows[0]["is_creator"] is None:
        raise EventNotFound()
    if not rows[0]["is_creator"]:
        raise NotEventCreator()


def _refusal(row: Mapping[str, Any], event_id: uuid.UUID) -> MomentoError | None:
    """Why a recorded transaction cannot serve this event (None: it already does)."""
    if row["event_id"] is not None and row["event_id"] != event_id:
        return PurchaseAlreadyUsed()
    if row["refunded_at"] is not None:
        return PurchaseRefunded()
    if row["event_id"] == event_id:
        return None
    return PurchaseNotFound()  # pragma: no cover - an unattached, unrefunded row is attachable


@raises(
    EventNotFound,
    NotEventCreator,
    GuestNotAllowed,
    PurchaseNotFound,
    PurchaseRefunded,
    PurchaseAlreadyUsed,
    BillingNotConfigured,
    BillingUnavailable,
)
async def verify_purchase(
    services: Services, user: CurrentUser, event_id: uuid.UUID, transaction_id: str
) -> Event:
    """Make the event premium with a purchase RevenueCat confirms (creator only); a purchase
    newly attached is reported (`premium_purchased`) once committed."""
    settings, db, user_id = services.settings, services.db, user.id
    await _check_creator(services, user, event_id)
    if not settings.revenuecat_api_key:
        raise BillingNotConfigured()
    async with db.privileged() as conn:
        cur = await conn.execute(PURCHASE, {"tx": transaction_id})
        known = await cur.fetchone()
    if known is not None and (known["event_id"] is not None or known["refunded_at"] is not None):
        refusal = _refusal(known, event_id)
        if refusal is not None:
            raise refusal
        return await events_service.get_event(services, user, event_id)

    try:
        async with RevenueCat(
            settings.revenuecat_api_url,
            settings.revenuecat_api_key,
            timeout=settings.revenuecat_timeout,
        ) as rc:
            subscriber = await rc.subscriber(str(user_id))
    except RevenueCatUnavailable as exc:
        raise BillingUnavailable() from exc
    found = subscriber.transaction(transaction_id, settings.premium_product_ids)
    if found is None:
        raise PurchaseNotFound()
    if found.refunded_at is not None:
        raise PurchaseRefunded()

    async with db.privileged() as conn:
        cur = await conn.execute(
            ATTACH_PURCHASE,
            {
                "tx": transaction_id,
                "event_id": event_id,
                "user_id": user_id,
                "app_user_id": str(user_id),
                "product": found.product_id,
                "purchased_at": found.purchase_date,
                "price": found.price,
                "currency": found.currency,
            },
        )
        attached = await cur.fetchone()
        if attached is None:
            # Another request or a refund webhook got there first.
            cur = await conn.execute(PURCHASE, {"tx": transaction_id})
            current = await cur.fetchone()
            assert current is not None
            refusal = _refusal(current, event_id)
            if refusal is not None:
                raise refusal
        else:
            await conn.execute(REFRESH_EVENT, {"id": event_id})
    log.info(
        "event premium verified",
        event_id=str(event_id),
        transaction_id=transaction_id,
        new=attached is not None,
    )
    event = await events_service.get_event(services, user, event_id)
    if attached is not None:
        _report_purchase(services, user_id, event_id, attached)
    return event


def _report_purchase(
    services: Services, user_id: uuid.UUID, event_id: uuid.UUID, attached: Mapping[str, Any]
) -> None:
    """The `premium_purchased` analytics event (price: USD, when known)."""
    price = attached["price"]
    if price is not None:
        analytics_events.premium_purchased(
            services.analytics,
            user_id,
            event_id=event_id,
            price=float(price),
            currency=attached["currency"],
            product_id=attached["product_id"],
        )
        return
    # The store's price is not known yet (no webhook seen, none in REST): report without it.
    properties: dict[str, Any] = {"event_id": str(event_id)}
    if attached["product_id"] is not None:
        properties["product_id"] = attached["product_id"]
    services.analytics.capture(user_id, analytics_events.PREMIUM_PURCHASED, properties)
