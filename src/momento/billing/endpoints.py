"""POST /webhooks/revenuecat (RevenueCat's deliveries) and POST /v1/events/{id}/premium."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from momento.billing import purchases, webhooks
from momento.billing.schemas import PremiumRequest
from momento.deps import ServicesDep, UserDep
from momento.errors import PayloadTooLarge, raised_by
from momento.events.schemas import Event
from momento.kit.schemas import WITH_BODY, problems, summaries_from_docstrings

router = APIRouter(tags=["billing"])
webhook_router = APIRouter(tags=["billing"])


@router.post(
    "/events/{event_id}/premium",
    response_model=Event,
    responses=problems(*WITH_BODY, *raised_by(purchases.verify_purchase)),
    description="Creator only. After a purchase in the app, send its store transaction id:"
    " the server asks RevenueCat whether the caller bought a premium product with it, and the"
    " event becomes premium (no auto-deletion, the higher photo limit). A transaction serves"
    " one event; sending it again for the same event answers 200 with the event.",
)
async def make_premium(
    services: ServicesDep, user: UserDep, event_id: uuid.UUID, body: PremiumRequest
) -> Event:
    """Make an event premium with a purchase."""
    return await purchases.verify_purchase(services, user, event_id, body.transaction_id)


@webhook_router.post(
    "/webhooks/revenuecat",
    responses={
        200: {
            "description": "Stored (or stored before: a repeated delivery changes nothing).",
            "content": {"application/json": {"example": {"status": "ok"}}},
        },
        **problems(*raised_by(webhooks.receive_webhook), PayloadTooLarge),
    },
    description="RevenueCat's webhook. Authorization must be the value configured in"
    " REVENUECAT_WEBHOOK_AUTH (as set in RevenueCat's dashboard). Each event is stored by its"
    " id and applied by a job in event-timestamp order, so retries and late deliveries are"
    " harmless.",
)
async def revenuecat_webhook(services: ServicesDep, request: Request) -> dict[str, str]:
    """Receive a RevenueCat event."""
    await webhooks.receive_webhook(
        services, request.headers.get("authorization"), await request.body()
    )
    return {"status": "ok"}


summaries_from_docstrings(router)
