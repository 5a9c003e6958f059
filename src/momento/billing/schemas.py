"""Request bodies of the billing routes: premium verification and RevenueCat's webhook."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

TransactionId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]


class PremiumRequest(BaseModel):
    """The store transaction of the purchase that makes the event premium."""

    model_config = ConfigDict(extra="forbid")

    transaction_id: TransactionId = Field(
        description="The store's transaction id (StoreKit's transactionId), as RevenueCat"
        " reports it in store_transaction_id."
    )


class WebhookEvent(BaseModel):
    """The fields every RevenueCat event has that the server relies on; the rest is kept."""

    model_config = ConfigDict(extra="allow")

    id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    type: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    event_timestamp_ms: Annotated[StrictInt, Field(ge=0, le=2**63 - 1)]
    app_user_id: str | None = None


class WebhookBody(BaseModel):
    """`{"api_version": "1.0", "event": {...}}`."""

    model_config = ConfigDict(extra="allow")

    api_version: str | None = None
    event: WebhookEvent


def has_nul(value: Any) -> bool:
    """True if a NUL character hides anywhere in a JSON value (jsonb cannot store it)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False
