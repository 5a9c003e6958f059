"""The business events the server reports to PostHog: names, properties, and who they are of.

The design's "Key Events To Track", business metrics part, for what the server itself
witnesses (the app captures taps and views itself). The distinct_id is always a user id, as a
string: the one who did it, or for events of an event as a whole (reveal_sent) its creator.
Use these helpers (or the constants with `services.analytics.capture`) so every emitter spells
an event and its properties the same way, and call them only after the change committed.

| event | distinct_id | properties |
|---|---|---|
| event_created | the creator | event_id, is_premium |
| user_joined_event | the new member | event_id, via ("join_code") |
| premium_purchased | the buyer | event_id, price (USD), currency?, product_id? |
| photo_uploaded | the photo's owner | event_id, photo_id, width, height, content_type |
| reveal_sent | the event's creator | event_id, member_count, photo_count |
| account_deleted | the deleted user | (none) |
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from momento.analytics.client import Analytics, DistinctId

EVENT_CREATED: Final = "event_created"
USER_JOINED_EVENT: Final = "user_joined_event"
PREMIUM_PURCHASED: Final = "premium_purchased"
PHOTO_UPLOADED: Final = "photo_uploaded"
REVEAL_SENT: Final = "reveal_sent"
ACCOUNT_DELETED: Final = "account_deleted"

# user_joined_event's `via`: the only way in today.
VIA_JOIN_CODE: Final = "join_code"

ALL: Final = (
    EVENT_CREATED,
    USER_JOINED_EVENT,
    PREMIUM_PURCHASED,
    PHOTO_UPLOADED,
    REVEAL_SENT,
    ACCOUNT_DELETED,
)


def event_created(
    analytics: Analytics, creator_id: DistinctId, *, event_id: uuid.UUID, is_premium: bool
) -> None:
    analytics.capture(
        creator_id, EVENT_CREATED, {"event_id": str(event_id), "is_premium": is_premium}
    )


def user_joined_event(
    analytics: Analytics, user_id: DistinctId, *, event_id: uuid.UUID, via: str = VIA_JOIN_CODE
) -> None:
    analytics.capture(user_id, USER_JOINED_EVENT, {"event_id": str(event_id), "via": via})


def premium_purchased(
    analytics: Analytics,
    user_id: DistinctId,
    *,
    event_id: uuid.UUID,
    price: float,
    currency: str | None = None,
    product_id: str | None = None,
) -> None:
    """A purchase made an event premium; `price` in USD as the store reported it."""
    properties: dict[str, Any] = {"event_id": str(event_id), "price": price}
    if currency is not None:
        properties["currency"] = currency
    if product_id is not None:
        properties["product_id"] = product_id
    analytics.capture(user_id, PREMIUM_PURCHASED, properties)


def photo_uploaded(
    analytics: Analytics,
    user_id: DistinctId,
    *,
    event_id: uuid.UUID,
    photo_id: uuid.UUID,
    width: int,
    height: int,
    content_type: str,
) -> None:
    analytics.capture(
        user_id,
        PHOTO_UPLOADED,
        {
            "event_id": str(event_id),
            "photo_id": str(photo_id),
            "width": width,
            "height": height,
            "content_type": content_type,
        },
    )


def reveal_sent(
    analytics: Analytics,
    creator_id: DistinctId,
    *,
    event_id: uuid.UUID,
    member_count: int,
    photo_count: int,
) -> None:
    """An event's reveal went out (its push notifications were sent)."""
    analytics.capture(
        creator_id,
        REVEAL_SENT,
        {"event_id": str(event_id), "member_count": member_count, "photo_count": photo_count},
    )


def account_deleted(analytics: Analytics, user_id: DistinctId) -> None:
    analytics.capture(user_id, ACCOUNT_DELETED, {})
