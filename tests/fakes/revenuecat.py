"""A fake RevenueCat REST API v1 on 127.0.0.1: `GET /v1/subscribers/{app_user_id}`.

    with FakeRevenueCat(api_key="sk_test") as fake:
        fake.add_non_subscription(user_id, "event_premium", "2000001", price=4.99)
        fake.add_subscription(user_id, "host_monthly", "3000001", refunded=True)
        fake.fail(429, times=1, retry_after="0")   # the next request is rate limited
        ... Settings(revenuecat_api_url=fake.url, revenuecat_api_key="sk_test")
        fake.requests  # (path as sent, Authorization header) of every request

As RevenueCat does: `Authorization: Bearer <secret key>` or 401 `{"code", "message"}`; a known
subscriber is 200, an unknown id is created and answered 201 (never 404); the path's id is
URL-decoded. The body is `{"request_date", "request_date_ms", "subscriber": {...}}` with
`entitlements`, `subscriptions` and `non_subscriptions` shaped as integrations.md describes.
Runs uvicorn in a thread, so it answers whatever the test's event loop is doing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.served import ServedApp


def rc_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _empty_subscriber(app_user_id: str) -> dict[str, Any]:
    now = rc_date(datetime.now(UTC))
    return {
        "original_app_user_id": app_user_id,
        "first_seen": now,
        "last_seen": now,
        "management_url": None,
        "original_application_version": None,
        "original_purchase_date": None,
        "other_purchases": {},
        "subscriber_attributes": {},
        "entitlements": {},
        "subscriptions": {},
        "non_subscriptions": {},
    }


@dataclass
class _Failure:
    status: int
    times: int
    retry_after: str | None


@dataclass
class FakeRevenueCat:
    api_key: str = "sk_test_fake"
    subscribers: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    _failures: list[_Failure] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _served: ServedApp | None = None
    port: int = 0

    # --- what the test sets up ---

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        with self._lock:
            self.subscribers.clear()
            self.requests.clear()
            self._failures.clear()

    def subscriber(self, app_user_id: str) -> dict[str, Any]:
        with self._lock:
            return self.subscribers.setdefault(str(app_user_id), _empty_subscriber(app_user_id))

    def add_non_subscription(
        self,
        app_user_id: object,
        product_id: str,
        store_transaction_id: str,
        *,
        purchased: datetime | None = None,
        price: float | None = None,
    ) -> None:
        sub = self.subscriber(str(app_user_id))
        item: dict[str, Any] = {
            "id": f"rc_{store_transaction_id}",
            "purchase_date": rc_date(purchased or datetime.now(UTC)),
            "store": "app_store",
            "is_sandbox": False,
            "store_transaction_id": store_transaction_id,
        }
        if price is not None:
            item["price"] = {"amount": price, "currency": "USD"}
        with self._lock:
            sub["non_subscriptions"].setdefault(product_id, []).append(item)

    def add_subscription(
        self,
        app_user_id: object,
        product_id: str,
        store_transaction_id: str,
        *,
        expires: datetime | None = None,
        refunded: bool = False,
        entitlement: str | None = None,
    ) -> None:
        now = datetime.now(UTC)
        expires = expires or now + timedelta(days=30)
        sub = self.subscriber(str(app_user_id))
        with self._lock:
            sub["subscriptions"][product_id] = {
                "expires_date": rc_date(expires),
                "purchase_date": rc_date(now),
                "original_purchase_date": rc_date(now),
                "store": "app_store",
                "is_sandbox": False,
                "unsubscribe_detected_at": None,
                "billing_issues_detected_at": None,
                "grace_period_expires_date": None,
                "refunded_at": rc_date(now) if refunded else None,
                "period_type": "normal",
                "ownership_type": "PURCHASED",
                "store_transaction_id": store_transaction_id,
                "price": {"amount": 9.99, "currency": "USD"},
            }
            if entitlement is not None:
                sub["entitlements"][entitlement] = {
                    "expires_date": rc_date(expires),
                    "grace_period_expires_date": None,
                    "product_identifier": product_id,
                    "purchase_date": rc_date(now),
                }

    def fail(self, status: int, *, times: int = 1, retry_after: str | None = None) -> None:
        """Answer the next `times` requests with `status` (429 with Retry-After, 500, ...)."""
        with self._lock:
            self._failures.append(_Failure(status, times, retry_after))

    # --- the server ---

    async def _get_subscriber(self, request: Request) -> JSONResponse:
        auth = request.headers.get("authorization")
        with self._lock:
            raw_path: bytes = request.scope.get("raw_path") or request.url.path.encode()
            self.requests.append((raw_path.decode("latin-1"), auth))
            failure = self._failures[0] if self._failures else None
            if failure is not None:
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.pop(0)
        if failure is not None:
            headers = {"Retry-After": failure.retry_after} if failure.retry_after else None
            return JSONResponse(
                {"code": 7000 + failure.status, "message": "Failure the test asked for."},
                status_code=failure.status,
                headers=headers,
            )
        if auth != f"Bearer {self.api_key}":
            return JSONResponse(
                {"code": 7225, "message": "Invalid API Key."},
                status_code=401,
            )
        app_user_id: str = request.path_params["app_user_id"]
        with self._lock:
            created = app_user_id not in self.subscribers
            if created:
                self.subscribers[app_user_id] = _empty_subscriber(app_user_id)
            subscriber = self.subscribers[app_user_id]
            now = datetime.now(UTC)
            body = {
                "request_date": rc_date(now),
                "request_date_ms": int(now.timestamp() * 1000),
                "subscriber": subscriber,
            }
            return JSONResponse(body, status_code=201 if created else 200)

    def start(self) -> FakeRevenueCat:
        app = Starlette(routes=[Route("/v1/subscribers/{app_user_id:path}", self._get_subscriber)])
        self._served = ServedApp(app, "RevenueCat")
        self.port = self._served.port
        return self

    def stop(self) -> None:
        if self._served is not None:
            self._served.stop()

    def __enter__(self) -> FakeRevenueCat:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
