"""POST /webhooks/revenuecat (RevenueCat's deliveries) and POST /v1/events/{id}/premium."""

from __future__ import annotations

import hmac
import uuid
from typing import Any

import orjson
from fastapi import APIRouter, Request
from procrastinate.exceptions import AlreadyEnqueued
from pydantic import ValidationError

from momento import logs
from momento.analytics import events as analytics_events
from momento.billing import service
from momento.billing.errors import (
    BillingNotConfigured,
    BillingUnavailable,
    InvalidWebhook,
    PurchaseAlreadyUsed,
    PurchaseNotFound,
    PurchaseRefunded,
    WebhookNotConfigured,
    WebhookUnauthorized,
)
from momento.billing.schemas import PremiumRequest, WebhookBody, has_nul
from momento.billing.tasks import APPLY
from momento.deps import ServicesDep, UserDep
from momento.errors import InvalidToken, PayloadTooLarge, Unauthorized, ValidationFailed
from momento.events.errors import EventNotFound, NotEventCreator
from momento.events.schemas import Event
from momento.kit.schemas import problems, summaries_from_docstrings
from momento.services import Services

log = logs.get("momento.billing")

router = APIRouter(tags=["billing"])
webhook_router = APIRouter(tags=["billing"])

_AUTH = (Unauthorized, InvalidToken)


@router.post(
    "/events/{event_id}/premium",
    response_model=Event,
    responses=problems(
        *_AUTH,
        EventNotFound,
        NotEventCreator,
        PurchaseNotFound,
        PurchaseRefunded,
        PurchaseAlreadyUsed,
        BillingNotConfigured,
        BillingUnavailable,
        ValidationFailed,
        PayloadTooLarge,
    ),
    description="Creator only. After a purchase in the app, send its store transaction id:"
    " the server asks RevenueCat whether the caller bought a premium product with it, and the"
    " event becomes premium (no auto-deletion, the higher photo limit). A transaction serves"
    " one event; sending it again for the same event answers 200 with the event.",
)
async def make_premium(
    services: ServicesDep, user: UserDep, event_id: uuid.UUID, body: PremiumRequest
) -> Event:
    """Make an event premium with a purchase."""
    verified = await service.verify_purchase(
        services.db, services.settings, user.claims, user.id, event_id, body.transaction_id
    )
    if verified.newly:
        _report_purchase(services, user.id, verified)
    return verified.event


def _report_purchase(services: Services, user_id: uuid.UUID, verified: service.Verified) -> None:
    """The `premium_purchased` analytics event (after the purchase committed)."""
    if verified.price is not None:
        analytics_events.premium_purchased(
            services.analytics,
            user_id,
            event_id=verified.event.id,
            price=verified.price,
            currency=verified.currency,
            product_id=verified.product_id,
        )
        return
    # The store's price is not known yet (no webhook seen, none in REST): report without it.
    properties: dict[str, Any] = {"event_id": str(verified.event.id)}
    if verified.product_id is not None:
        properties["product_id"] = verified.product_id
    services.analytics.capture(user_id, analytics_events.PREMIUM_PURCHASED, properties)


def _check_authorization(request: Request, expected: str) -> None:
    """Compare the Authorization header with the configured value in constant time."""
    sent = request.headers.get("authorization")
    # Starlette decodes headers as latin-1: encoding back gives the bytes that were sent.
    sent_bytes = sent.encode("latin-1") if sent is not None else b""
    if not hmac.compare_digest(sent_bytes, expected.encode()):
        raise WebhookUnauthorized()


def _parse(raw_body: bytes) -> tuple[dict[str, Any], WebhookBody]:
    try:
        raw = orjson.loads(raw_body)
    except orjson.JSONDecodeError as exc:
        raise InvalidWebhook("The body is not valid JSON.") from exc
    if not isinstance(raw, dict):
        raise InvalidWebhook("The body must be a JSON object with an `event`.")
    if has_nul(raw):
        raise InvalidWebhook("The body contains a NUL character.")
    try:
        body = WebhookBody.model_validate(raw)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors())
        raise InvalidWebhook(f"Not a RevenueCat event: {fields}.") from exc
    return raw, body


async def _schedule(services: Services) -> None:
    """Hand the stored events to the queue's job (one waiting job serves a burst)."""
    try:
        await services.jobs.tasks[APPLY].defer_async()
    except AlreadyEnqueued:
        pass  # a job that has not started yet will see this event too
    except Exception:
        # Stored all the same: the periodic sweep (billing:sweep) applies it.
        log.exception("could not defer the revenuecat job; the sweep will apply the event")


@webhook_router.post(
    "/webhooks/revenuecat",
    responses={
        200: {
            "description": "Stored (or stored before: a repeated delivery changes nothing).",
            "content": {"application/json": {"example": {"status": "ok"}}},
        },
        **problems(WebhookUnauthorized, InvalidWebhook, WebhookNotConfigured, PayloadTooLarge),
    },
    description="RevenueCat's webhook. Authorization must be the value configured in"
    " REVENUECAT_WEBHOOK_AUTH (as set in RevenueCat's dashboard). Each event is stored by its"
    " id and applied by a job in event-timestamp order, so retries and late deliveries are"
    " harmless.",
)
async def revenuecat_webhook(services: ServicesDep, request: Request) -> dict[str, str]:
    """Receive a RevenueCat event."""
    expected = services.settings.revenuecat_webhook_auth
    if not expected:
        raise WebhookNotConfigured()
    _check_authorization(request, expected)
    raw, body = _parse(await request.body())
    stored = await service.store_webhook(services.db, raw, body)
    log.info(
        "revenuecat webhook",
        event_id=body.event.id,
        type=body.event.type,
        duplicate=not stored,
    )
    if stored:
        await _schedule(services)
    return {"status": "ok"}


summaries_from_docstrings(router)
summaries_from_docstrings(webhook_router)
