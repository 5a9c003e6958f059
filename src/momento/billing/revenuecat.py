"""RevenueCat's REST API v1, the part premium needs: what a subscriber has bought.

    async with RevenueCat(api_url, api_key, timeout=10) as rc:
        subscriber = await rc.subscriber(str(user_id))
        subscriber.transaction("2000001", products=["event_premium"])

`GET /v1/subscribers/{app_user_id}` answers 200 for a known subscriber and 201 for one it just
created (it never answers 404). Store transaction ids live in `non_subscriptions[product][]`
(one-time purchases) and `subscriptions[product]` (the latest transaction of a subscription,
with `refunded_at`). A 429 is retried after its Retry-After when that is short; a 5xx or a
network error once, quickly. Whatever else goes wrong is `RevenueCatUnavailable`: the caller
answers 503, it never guesses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from momento import logs

log = logs.get("momento.billing.revenuecat")

# A 429 whose Retry-After is longer than this is not waited for (the app's request is waiting).
MAX_RETRY_AFTER = 2.0
ATTEMPTS = 3


class RevenueCatUnavailable(Exception):
    """RevenueCat could not be asked, or answered something we cannot use."""


@dataclass(frozen=True)
class Transaction:
    """One store transaction of a subscriber, from either list."""

    product_id: str
    store_transaction_id: str
    kind: str  # "non_subscription" | "subscription"
    purchase_date: datetime | None = None
    expires_date: datetime | None = None
    refunded_at: datetime | None = None
    price: float | None = None
    currency: str | None = None


@dataclass(frozen=True)
class Entitlement:
    name: str
    expires_date: datetime | None  # None: never expires
    product_identifier: str | None
    purchase_date: datetime | None

    def active(self, now: datetime) -> bool:
        return self.expires_date is None or self.expires_date > now


@dataclass(frozen=True)
class Subscriber:
    original_app_user_id: str | None
    transactions: list[Transaction] = field(default_factory=list)
    entitlements: dict[str, Entitlement] = field(default_factory=dict)

    def transaction(self, transaction_id: str, products: list[str]) -> Transaction | None:
        """The transaction with this store id among `products`' purchases, if any."""
        for t in self.transactions:
            if t.store_transaction_id == transaction_id and t.product_id in products:
                return t
        return None


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _price(value: Any) -> tuple[float | None, str | None]:
    # v1 gives either a number or {"amount": 4.99, "currency": "USD"}.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value), None
    if isinstance(value, Mapping):
        amount = value.get("amount")
        currency = value.get("currency")
        return (
            float(amount) if isinstance(amount, int | float) else None,
            currency if isinstance(currency, str) else None,
        )
    return None, None


def _transaction(product: Any, item: Any, kind: str) -> Transaction | None:
    """One item of either list, or None without a store transaction id. Only a subscription
    has its expiry and refund dates read."""
    if not isinstance(item, Mapping):
        return None
    tx = item.get("store_transaction_id")
    if not isinstance(tx, str) or not tx:
        return None
    price, currency = _price(item.get("price"))
    subscription = kind == "subscription"
    return Transaction(
        product_id=str(product),
        store_transaction_id=tx,
        kind=kind,
        purchase_date=_date(item.get("purchase_date")),
        expires_date=_date(item.get("expires_date")) if subscription else None,
        refunded_at=_date(item.get("refunded_at")) if subscription else None,
        price=price,
        currency=currency,
    )


def parse_subscriber(body: Any) -> Subscriber:
    """The parts of a `GET /v1/subscribers` body premium needs; tolerant of missing parts."""
    if not isinstance(body, Mapping) or not isinstance(body.get("subscriber"), Mapping):
        raise RevenueCatUnavailable("the subscriber body has no `subscriber`")
    sub: Mapping[str, Any] = body["subscriber"]
    found: list[Transaction | None] = []
    non_subs = sub.get("non_subscriptions")
    if isinstance(non_subs, Mapping):
        for product, items in non_subs.items():
            if isinstance(items, list):
                found += [_transaction(product, item, "non_subscription") for item in items]
    subs = sub.get("subscriptions")
    if isinstance(subs, Mapping):
        found += [_transaction(product, item, "subscription") for product, item in subs.items()]
    transactions = [t for t in found if t is not None]
    entitlements: dict[str, Entitlement] = {}
    ents = sub.get("entitlements")
    if isinstance(ents, Mapping):
        for name, item in ents.items():
            if isinstance(item, Mapping):
                product = item.get("product_identifier")
                entitlements[str(name)] = Entitlement(
                    name=str(name),
                    expires_date=_date(item.get("expires_date")),
                    product_identifier=product if isinstance(product, str) else None,
                    purchase_date=_date(item.get("purchase_date")),
                )
    original = sub.get("original_app_user_id")
    return Subscriber(
        original_app_user_id=original if isinstance(original, str) else None,
        transactions=transactions,
        entitlements=entitlements,
    )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return 1.0
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: far enough away not to wait for


class RevenueCat:
    """A client of the REST API v1 (Bearer secret key)."""

    def __init__(
        self,
        api_url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._own = client is None
        self._client = client or httpx.AsyncClient(
            base_url=api_url.rstrip("/"),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
        )

    async def __aenter__(self) -> RevenueCat:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own:
            await self._client.aclose()

    async def subscriber(self, app_user_id: str) -> Subscriber:
        """The subscriber (created by RevenueCat if new); RevenueCatUnavailable otherwise."""
        path = "/v1/subscribers/" + quote(app_user_id, safe="")
        for attempt in range(1, ATTEMPTS + 1):
            last = attempt == ATTEMPTS
            try:
                response = await self._client.get(path)
            except httpx.HTTPError as exc:
                log.warning("revenuecat unreachable", error=repr(exc), attempt=attempt)
                if last:
                    raise RevenueCatUnavailable(f"RevenueCat is unreachable: {exc!r}") from exc
                await asyncio.sleep(0.2 * attempt)
                continue
            status = response.status_code
            if status in (200, 201):
                try:
                    body = response.json()
                except ValueError as exc:
                    raise RevenueCatUnavailable("RevenueCat answered with invalid JSON") from exc
                return parse_subscriber(body)
            if status == 429:
                wait = _retry_after(response)
                log.warning("revenuecat rate limited", retry_after=wait, attempt=attempt)
                if last or wait is None or wait > MAX_RETRY_AFTER:
                    raise RevenueCatUnavailable("RevenueCat is rate limiting us")
                await asyncio.sleep(wait)
                continue
            if status >= 500:
                log.warning("revenuecat server error", status=status, attempt=attempt)
                if last:
                    raise RevenueCatUnavailable(f"RevenueCat answered {status}")
                await asyncio.sleep(0.2 * attempt)
                continue
            # 400/401/403/404...: our request or key is wrong; retrying will not help.
            log.error("revenuecat refused the request", status=status, body=response.text[:300])
            raise RevenueCatUnavailable(f"RevenueCat answered {status}")
        raise RevenueCatUnavailable("RevenueCat could not be asked")  # pragma: no cover
