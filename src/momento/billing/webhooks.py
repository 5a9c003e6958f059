"""Premium from RevenueCat's webhooks: stored, then applied in order by a job.

Webhooks (`receive_webhook`, then `apply_pending_events`): a delivery is stored by its event id
and answered at once; applying it is a job. The job takes the stored events not yet processed
in event_timestamp_ms order under one advisory lock (two workers never apply at once), and
applies each in its own savepoint, so one bad event is marked failed without holding up the
rest. What an event does:

- INITIAL_PURCHASE, NON_RENEWING_PURCHASE, RENEWAL, PRODUCT_CHANGE, UNCANCELLATION,
  SUBSCRIPTION_EXTENDED, REFUND_REVERSED, TEMPORARY_ENTITLEMENT_GRANT: the transaction of a
  premium product is not refunded; the host entitlement is active until expiration_at_ms
  (null: forever).
- CANCELLATION with cancel_reason CUSTOMER_SUPPORT (a refund): the transaction is refunded
  (its event loses premium); the host entitlement ends now.
- CANCELLATION for any other reason (auto-renew turned off): the entitlement stays active
  until it expires.
- EXPIRATION: the host entitlement has ended. A bought event stays premium.
- TRANSFER: the host entitlement moves to transferred_to (the source keeps an ended row), and
  so do purchases not yet tied to an event.
- TEST, and every other type: stored and acknowledged only.

Each purchase and entitlement remembers the timestamp of the last event applied to it; an event
that is not newer is "stale" and changes nothing. Users are matched by app_user_id,
original_app_user_id and aliases (the app configures RevenueCat with the Momento user id).

Verification of a purchase by the app is `momento.billing.purchases`.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, LiteralString

import orjson
from procrastinate.exceptions import AlreadyEnqueued
from psycopg.types.json import Jsonb
from pydantic import ValidationError

from momento import logs
from momento.billing.errors import (
    InvalidWebhook,
    WebhookNotConfigured,
    WebhookUnauthorized,
)
from momento.billing.schemas import WebhookBody, has_nul
from momento.config import Settings
from momento.db import Database
from momento.db.pool import Conn
from momento.errors import raises

if TYPE_CHECKING:
    from momento.services import Services

log = logs.get("momento.billing")

# The job that applies stored events (momento.billing.tasks).
APPLY = "billing:apply_revenuecat_events"

# Serialises appliers across processes ("billing" in ASCII).
APPLY_LOCK_ID = 0x62696C6C696E67
BATCH = 200

GRANTS = frozenset(
    {
        "INITIAL_PURCHASE",
        "NON_RENEWING_PURCHASE",
        "RENEWAL",
        "PRODUCT_CHANGE",
        "UNCANCELLATION",
        "SUBSCRIPTION_EXTENDED",
        "REFUND_REVERSED",
        "TEMPORARY_ENTITLEMENT_GRANT",
    }
)
REFUND_REASON = "CUSTOMER_SUPPORT"

# Outcomes recorded on each stored event.
APPLIED = "applied"
STALE = "stale"
TEST = "test"
IGNORED = "ignored"
UNKNOWN_USER = "unknown_user"
FAILED = "failed"

# --- statements ---------------------------------------------------------------------------

STORE_EVENT: LiteralString = """
INSERT INTO momento.revenuecat_events (id, type, app_user_id, event_timestamp_ms, body)
VALUES (%(id)s, %(type)s, %(app_user_id)s, %(ts)s, %(body)s)
ON CONFLICT (id) DO NOTHING
RETURNING id
"""

LOCK_APPLIER: LiteralString = "SELECT pg_advisory_xact_lock(%(lock)s)"

PENDING_EVENTS: LiteralString = """
SELECT id, type, event_timestamp_ms, body FROM momento.revenuecat_events
WHERE processed_at IS NULL
ORDER BY event_timestamp_ms, id
LIMIT %(limit)s
"""

ONE_EVENT: LiteralString = """
SELECT id, type, event_timestamp_ms, body FROM momento.revenuecat_events
WHERE id = %(id)s AND processed_at IS NULL
"""

MARK_PROCESSED: LiteralString = """
UPDATE momento.revenuecat_events SET processed_at = now(), outcome = %(outcome)s,
  error = %(error)s
WHERE id = %(id)s
"""

EXISTING_USERS: LiteralString = "SELECT id FROM auth.users WHERE id = ANY(%(ids)s)"

# A webhook about a store transaction; only when newer than the last one applied to it.
UPSERT_PURCHASE: LiteralString = """
INSERT INTO momento.premium_purchases AS p (transaction_id, user_id, app_user_id, product_id,
  purchased_at, price, currency, refunded_at, source, last_event_ts_ms)
VALUES (%(tx)s, %(user_id)s, %(app_user_id)s, %(product)s, %(purchased_at)s, %(price)s,
  %(currency)s, %(refunded_at)s, 'webhook', %(ts)s)
ON CONFLICT (transaction_id) DO UPDATE SET
  refunded_at = EXCLUDED.refunded_at,
  user_id = coalesce(p.user_id, EXCLUDED.user_id),
  app_user_id = coalesce(p.app_user_id, EXCLUDED.app_user_id),
  purchased_at = coalesce(p.purchased_at, EXCLUDED.purchased_at),
  price = coalesce(p.price, EXCLUDED.price),
  currency = coalesce(p.currency, EXCLUDED.currency),
  last_event_ts_ms = EXCLUDED.last_event_ts_ms,
  updated_at = now()
WHERE p.last_event_ts_ms IS NULL OR p.last_event_ts_ms < EXCLUDED.last_event_ts_ms
RETURNING p.event_id
"""

ENTITLEMENT_FOR_UPDATE: LiteralString = """
SELECT user_id, entitlement, active_since, expires_at, unsubscribed_at, last_event_ts_ms
FROM momento.host_entitlements
WHERE user_id = %(user_id)s AND entitlement = %(entitlement)s
FOR UPDATE
"""

UPSERT_ENTITLEMENT: LiteralString = """
INSERT INTO momento.host_entitlements AS h (user_id, entitlement, active_since, expires_at,
  unsubscribed_at, last_event_ts_ms)
VALUES (%(user_id)s, %(entitlement)s, %(active_since)s, %(expires_at)s, %(unsubscribed_at)s,
  %(ts)s)
ON CONFLICT (user_id, entitlement) DO UPDATE SET
  active_since = EXCLUDED.active_since,
  expires_at = EXCLUDED.expires_at,
  unsubscribed_at = EXCLUDED.unsubscribed_at,
  last_event_ts_ms = EXCLUDED.last_event_ts_ms,
  updated_at = now()
"""

MOVE_UNATTACHED_PURCHASES: LiteralString = """
UPDATE momento.premium_purchases SET user_id = %(to)s, updated_at = now()
WHERE user_id = ANY(%(from)s) AND event_id IS NULL
"""

REFRESH_EVENT: LiteralString = "SELECT private.refresh_event_premium(%(id)s) AS premium"
REFRESH_CREATOR: LiteralString = "SELECT private.refresh_creator_premium(%(user_id)s) AS n"
REFRESH_EXPIRED: LiteralString = "SELECT private.refresh_expired_entitlements() AS n"

# --- helpers ------------------------------------------------------------------------------


def _moment(ms: Any) -> datetime | None:
    if isinstance(ms, int) and not isinstance(ms, bool):
        return datetime.fromtimestamp(ms / 1000, UTC)
    return None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _price(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return abs(float(value))
    return None


async def _resolve_user(conn: Conn, names: Iterable[str]) -> uuid.UUID | None:
    """The first of these RevenueCat ids that is a Momento user's id."""
    ordered: list[uuid.UUID] = []
    for name in names:
        try:
            candidate = uuid.UUID(name)
        except ValueError:
            continue  # "$RCAnonymousID:..." and other non-Momento ids
        if candidate not in ordered:
            ordered.append(candidate)
    if not ordered:
        return None
    cur = await conn.execute(EXISTING_USERS, {"ids": ordered})
    existing = {r["id"] for r in await cur.fetchall()}
    return next((u for u in ordered if u in existing), None)


def _user_names(ev: Mapping[str, Any]) -> list[str]:
    return [
        *_strings(ev.get("app_user_id")),
        *_strings(ev.get("original_app_user_id")),
        *_strings(ev.get("aliases")),
    ]


def _action(ev: Mapping[str, Any]) -> str | None:
    kind = ev.get("type")
    if kind in GRANTS:
        return "grant"
    if kind == "CANCELLATION":
        return "refund" if ev.get("cancel_reason") == REFUND_REASON else "unsubscribe"
    if kind == "EXPIRATION":
        return "expire"
    return None


def _combine(outcomes: list[str]) -> str:
    for wanted in (APPLIED, STALE, UNKNOWN_USER):
        if wanted in outcomes:
            return wanted
    return IGNORED


# --- webhooks: storing --------------------------------------------------------------------


@raises(WebhookNotConfigured, WebhookUnauthorized, InvalidWebhook)
async def receive_webhook(services: Services, authorization: str | None, raw_body: bytes) -> None:
    """Store a RevenueCat delivery (once per event id) and hand it to the applying job.

    `authorization` must be the value configured in REVENUECAT_WEBHOOK_AUTH, compared in
    constant time; the body must be a RevenueCat event."""
    expected = services.settings.revenuecat_webhook_auth
    if not expected:
        raise WebhookNotConfigured()
    # Starlette decodes headers as latin-1: encoding back gives the bytes that were sent.
    sent = authorization.encode("latin-1") if authorization is not None else b""
    if not hmac.compare_digest(sent, expected.encode()):
        raise WebhookUnauthorized()
    raw, body = _parse_webhook(raw_body)
    stored = await _store_webhook(services.db, raw, body)
    log.info(
        "revenuecat webhook", event_id=body.event.id, type=body.event.type, duplicate=not stored
    )
    if stored:
        await _schedule_apply(services)


def _parse_webhook(raw_body: bytes) -> tuple[dict[str, Any], WebhookBody]:
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


async def _store_webhook(db: Database, raw: Mapping[str, Any], body: WebhookBody) -> bool:
    """Keep a delivery by its event id; False when that event was stored before."""
    ev = body.event
    async with db.privileged() as conn:
        cur = await conn.execute(
            STORE_EVENT,
            {
                "id": ev.id,
                "type": ev.type,
                "app_user_id": ev.app_user_id,
                "ts": ev.event_timestamp_ms,
                "body": Jsonb(dict(raw)),
            },
        )
        return await cur.fetchone() is not None


# --- webhooks: applying -------------------------------------------------------------------


async def _schedule_apply(services: Services) -> None:
    """Hand the stored events to the queue's job (one waiting job serves a burst)."""
    try:
        await services.jobs.tasks[APPLY].defer_async()
    except AlreadyEnqueued:
        pass  # a job that has not started yet will see this event too
    except Exception:
        # Stored all the same: the periodic sweep (billing:sweep) applies it.
        log.exception("could not defer the revenuecat job; the sweep will apply the event")


async def _apply_purchase(
    conn: Conn, settings: Settings, ev: Mapping[str, Any], ts: int, *, refunded: bool
) -> str | None:
    tx = ev.get("transaction_id")
    product = ev.get("product_id")
    if not isinstance(tx, str) or not tx or product not in settings.premium_product_ids:
        return None
    user_id = await _resolve_user(conn, _user_names(ev))
    app_user_id = ev.get("app_user_id")
    cur = await conn.execute(
        UPSERT_PURCHASE,
        {
            "tx": tx,
            "user_id": user_id,
            "app_user_id": app_user_id if isinstance(app_user_id, str) else None,
            "product": product,
            "purchased_at": _moment(ev.get("purchased_at_ms")),
            "price": _price(ev.get("price")),
            "currency": ev.get("currency") if isinstance(ev.get("currency"), str) else None,
            "refunded_at": _moment(ts) if refunded else None,
            "ts": ts,
        },
    )
    row = await cur.fetchone()
    if row is None:
        return STALE
    if row["event_id"] is not None:
        await conn.execute(REFRESH_EVENT, {"id": row["event_id"]})
    return APPLIED


async def _apply_entitlement(
    conn: Conn, entitlement: str, user_id: uuid.UUID, action: str, ev: Mapping[str, Any], ts: int
) -> str:
    cur = await conn.execute(
        ENTITLEMENT_FOR_UPDATE, {"user_id": user_id, "entitlement": entitlement}
    )
    row = await cur.fetchone()
    if row is not None and row["last_event_ts_ms"] >= ts:
        return STALE
    at = _moment(ts)
    assert at is not None
    purchased = _moment(ev.get("purchased_at_ms")) or at
    expiration = _moment(ev.get("expiration_at_ms"))
    since: datetime = row["active_since"] if row is not None else purchased
    unsubscribed: datetime | None = row["unsubscribed_at"] if row is not None else None
    if action in ("grant", "unsubscribe"):
        # A period continues when the previous one had not ended before this purchase.
        continuous = row is not None and (
            row["expires_at"] is None or row["expires_at"] >= purchased
        )
        if not continuous:
            since = purchased
        expires = expiration
        unsubscribed = at if action == "unsubscribe" else None
    elif action == "refund":
        expires = at
    else:  # expire
        expires = min(expiration, at) if expiration is not None else at
    await conn.execute(
        UPSERT_ENTITLEMENT,
        {
            "user_id": user_id,
            "entitlement": entitlement,
            "active_since": since,
            "expires_at": expires,
            "unsubscribed_at": unsubscribed,
            "ts": ts,
        },
    )
    await conn.execute(REFRESH_CREATOR, {"user_id": user_id})
    return APPLIED


async def _apply_transfer(conn: Conn, settings: Settings, ev: Mapping[str, Any], ts: int) -> str:
    sources: list[uuid.UUID] = []
    for name in _strings(ev.get("transferred_from")):
        user = await _resolve_user(conn, [name])
        if user is not None and user not in sources:
            sources.append(user)
    target = await _resolve_user(conn, _strings(ev.get("transferred_to")))
    if target is None or not sources:
        return UNKNOWN_USER
    sources = [s for s in sources if s != target]
    if not sources:
        return IGNORED
    await conn.execute(MOVE_UNATTACHED_PURCHASES, {"to": target, "from": sources})
    entitlement = settings.host_entitlement_id
    if entitlement is None:
        return APPLIED
    at = _moment(ts)
    assert at is not None
    outcomes: list[str] = []
    for source in sources:
        cur = await conn.execute(
            ENTITLEMENT_FOR_UPDATE, {"user_id": source, "entitlement": entitlement}
        )
        old = await cur.fetchone()
        if old is not None and old["last_event_ts_ms"] >= ts:
            outcomes.append(STALE)
            continue
        if old is not None:
            cur = await conn.execute(
                ENTITLEMENT_FOR_UPDATE, {"user_id": target, "entitlement": entitlement}
            )
            existing = await cur.fetchone()
            if existing is None or existing["last_event_ts_ms"] < ts:
                await conn.execute(
                    UPSERT_ENTITLEMENT,
                    {
                        "user_id": target,
                        "entitlement": entitlement,
                        "active_since": old["active_since"],
                        "expires_at": old["expires_at"],
                        "unsubscribed_at": old["unsubscribed_at"],
                        "ts": ts,
                    },
                )
        # The source keeps a row that ended at the transfer, so an older event about it
        # arriving late cannot make it active again.
        await conn.execute(
            UPSERT_ENTITLEMENT,
            {
                "user_id": source,
                "entitlement": entitlement,
                "active_since": old["active_since"] if old is not None else at,
                "expires_at": at,
                "unsubscribed_at": old["unsubscribed_at"] if old is not None else None,
                "ts": ts,
            },
        )
        await conn.execute(REFRESH_CREATOR, {"user_id": source})
        outcomes.append(APPLIED)
    await conn.execute(REFRESH_CREATOR, {"user_id": target})
    return _combine(outcomes)


async def _apply(conn: Conn, settings: Settings, row: Mapping[str, Any]) -> str:
    body = row["body"]
    ev: Mapping[str, Any] = body.get("event", {}) if isinstance(body, Mapping) else {}
    ts: int = row["event_timestamp_ms"]
    kind = row["type"]
    if kind == "TEST":
        return TEST
    if kind == "TRANSFER":
        return await _apply_transfer(conn, settings, ev, ts)
    action = _action(ev)
    if action is None:
        return IGNORED
    outcomes: list[str] = []
    if action in ("grant", "refund"):
        outcome = await _apply_purchase(conn, settings, ev, ts, refunded=action == "refund")
        if outcome is not None:
            outcomes.append(outcome)
    entitlement = settings.host_entitlement_id
    if entitlement is not None and entitlement in _strings(ev.get("entitlement_ids")) + _strings(
        ev.get("entitlement_id")
    ):
        user_id = await _resolve_user(conn, _user_names(ev))
        if user_id is None:
            outcomes.append(UNKNOWN_USER)
        else:
            outcomes.append(await _apply_entitlement(conn, entitlement, user_id, action, ev, ts))
    return _combine(outcomes)


async def _apply_rows(conn: Conn, settings: Settings, rows: list[Any]) -> None:
    for row in rows:
        error: str | None = None
        try:
            async with conn.transaction():  # a savepoint: a failure undoes this event only
                outcome = await _apply(conn, settings, row)
        except Exception as exc:
            log.exception("revenuecat event failed", event_id=row["id"], type=row["type"])
            outcome, error = FAILED, repr(exc)[:1000]
        await conn.execute(MARK_PROCESSED, {"id": row["id"], "outcome": outcome, "error": error})
        log.info("revenuecat event applied", event_id=row["id"], type=row["type"], outcome=outcome)


async def apply_pending_events(services: Services) -> int:
    """Apply every stored event not yet processed, oldest event first; returns how many.

    Idempotent and safe to run from several workers at once (they take turns). Also refreshes
    the events of entitlements that ran out since (see `refresh_expired_entitlements`).
    """
    done = 0
    while True:
        async with services.db.privileged() as conn:
            await conn.execute(LOCK_APPLIER, {"lock": APPLY_LOCK_ID})
            cur = await conn.execute(PENDING_EVENTS, {"limit": BATCH})
            rows = await cur.fetchall()
            await _apply_rows(conn, services.settings, rows)
            if len(rows) < BATCH:
                await conn.execute(REFRESH_EXPIRED)
        done += len(rows)
        if len(rows) < BATCH:
            return done


async def refresh_expired_entitlements(services: Services) -> int:
    """Events of host entitlements whose expires_at passed lose premium (run periodically:
    RevenueCat's EXPIRATION webhook may come late or not at all)."""
    async with services.db.privileged() as conn:
        cur = await conn.execute(REFRESH_EXPIRED)
        row = await cur.fetchone()
    return int(row["n"]) if row is not None else 0
