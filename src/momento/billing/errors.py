"""Errors of the billing routes."""

from __future__ import annotations

from typing import ClassVar

from momento.errors import BadRequest, Conflict, MomentoError, ServiceUnavailable, ValidationFailed


class WebhookNotConfigured(ServiceUnavailable):
    """RevenueCat webhooks are not configured on this server (REVENUECAT_WEBHOOK_AUTH)."""

    code = "webhook_not_configured"


class WebhookUnauthorized(MomentoError):
    """The Authorization header does not match the configured webhook secret."""

    status: ClassVar[int] = 401
    code: ClassVar[str] = "invalid_webhook_authorization"
    title: ClassVar[str] = "Unauthorized"


class InvalidWebhook(BadRequest):
    """The webhook body is not a RevenueCat event."""

    code = "invalid_webhook"


class BillingNotConfigured(ServiceUnavailable):
    """Purchases cannot be verified: RevenueCat is not configured on this server."""

    code = "billing_not_configured"


class BillingUnavailable(ServiceUnavailable):
    """RevenueCat could not be asked about the purchase; try again shortly."""

    code = "billing_unavailable"


class PurchaseNotFound(ValidationFailed):
    """RevenueCat knows no purchase of a premium product with that transaction id for you."""

    code = "purchase_not_found"


class PurchaseRefunded(ValidationFailed):
    """That purchase was refunded."""

    code = "purchase_refunded"


class PurchaseAlreadyUsed(Conflict):
    """That purchase already made another event premium."""

    code = "purchase_already_used"
