"""The reveal feed: an event's photos, page by page, in one statement per page.

This is the hottest path of the service (the "reveal stampede": every member of a just
revealed event paging through it at once), so it is built for it: one pooled connection and
one round trip per request (the role, the claims and the query travel together), a keyset
cursor over the index (event_id, captured_at, id) so the last page costs what the first
does, like counts and the caller's own likes in the same statement, and signed URLs computed
in Python with no I/O. The photos policy applies the reveal rule: before release_at the
caller gets only their own photos.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, LiteralString

import orjson
from psycopg.rows import DictRow

from momento.errors import raises
from momento.events.errors import EventNotFound
from momento.identity import CurrentUser
from momento.photos.errors import InvalidCursor
from momento.photos.service import DISPLAY, ORIGINAL, THUMB, key
from momento.storage import Storage

if TYPE_CHECKING:
    # For types only: the kernel imports the job queue, which imports this module's tasks.
    from momento.services import Services

FIRST_TS = datetime(1, 1, 1, tzinfo=UTC)
FIRST_ID = uuid.UUID(int=0)

# One statement per page: functions of migration 0013 that take the caller's claims, lower the
# role to `authenticated`, set the claims and run the page query under the policies (the
# queries and what they compute are described there). Database.user_call adds the claims.
FEED: LiteralString = (
    "SELECT * FROM momento.feed_page(%(claims)s, %(event)s, %(ts)s, %(id)s, %(limit)s)"
)
LIKED: LiteralString = (
    "SELECT * FROM momento.liked_page(%(claims)s, %(event)s, %(ts)s, %(id)s, %(limit)s)"
)

LAST_TS = datetime(9999, 12, 31, tzinfo=UTC)
LAST_ID = uuid.UUID(int=(1 << 128) - 1)


def encode_cursor(ts: datetime, photo_id: uuid.UUID) -> str:
    # Integer arithmetic: a float of seconds cannot hold today's dates to the microsecond.
    micros = (ts - FIRST_TS) // timedelta(microseconds=1)
    raw = micros.to_bytes(8, "big") + photo_id.bytes
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except ValueError:
        raise InvalidCursor() from None
    if len(raw) != 24:
        raise InvalidCursor()
    micros = int.from_bytes(raw[:8], "big")
    try:
        ts = FIRST_TS + timedelta(microseconds=micros)
    except OverflowError:
        raise InvalidCursor() from None
    return ts, uuid.UUID(bytes=raw[8:])


class _SignedUrls:
    """The three signed URLs of each photo for the current expiry, made once per interval.

    `url_expiry` makes every page served in the same interval use the same expiry, so during
    a reveal stampede every member gets the same URLs for the same photo: sign them once and
    hand out the cached dict (never mutated). Signing is pure computation, deterministic in
    (storage, key, expiry) for both backends; the cache is dropped when the expiry moves on
    or the storage changes, and is bounded.
    """

    MAX_ENTRIES = 100_000

    def __init__(self) -> None:
        self.storage: Storage | None = None
        self.expires_at = 0
        self.urls: dict[str, dict[str, str]] = {}

    def get(self, storage: Storage, path: str, expires_at: int) -> dict[str, str]:
        if (
            expires_at != self.expires_at
            or storage is not self.storage
            or len(self.urls) >= self.MAX_ENTRIES
        ):
            self.storage, self.expires_at, self.urls = storage, expires_at, {}
        urls = self.urls.get(path)
        if urls is None:
            urls = {
                "thumbnail": storage.signed_get_url(key(path, THUMB), expires_at=expires_at),
                "display": storage.signed_get_url(key(path, DISPLAY), expires_at=expires_at),
                "original": storage.signed_get_url(key(path, ORIGINAL), expires_at=expires_at),
            }
            self.urls[path] = urls
        return urls


_signed = _SignedUrls()


def signed_urls(services: Services, storage_path: str, expires_at: int) -> dict[str, str]:
    """The photo's three signed URLs (shared, never to be mutated)."""
    return _signed.get(services.storage, storage_path, expires_at)


def feed_item(services: Services, row: dict[str, Any], expires_at: int) -> dict[str, Any]:
    """One photo as the feed shows it (also what a realtime `photo_added` carries)."""
    return {
        "id": row["id"],
        "user_id": row["user_id"],
        "username": row["username"],
        "captured_at": row["captured_at"],
        "width": row["width"],
        "height": row["height"],
        "blurhash": row["blurhash"],
        "like_count": row["like_count"],
        "liked_by_me": row["liked_by_me"],
        "urls": _signed.get(services.storage, row["storage_path"], expires_at),
    }


def url_expiry(services: Services) -> int:
    """When this page's URLs expire, rounded so that pages served in the same interval carry
    the same URLs: an unchanged page then has the same ETag and gets 304.

    URLs live between ttl/2 and ttl."""
    ttl = services.settings.signed_url_ttl
    step = max(1, ttl // 2)
    now = int(datetime.now(UTC).timestamp())
    return (now // step) * step + ttl


def _render(body: dict[str, Any]) -> tuple[bytes, str]:
    data = orjson.dumps(body, option=orjson.OPT_UTC_Z)
    etag = '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'
    return data, etag


def _page(
    services: Services, rows: list[DictRow], limit: int, order_key: str
) -> tuple[list[dict[str, Any]], str | None]:
    """The page's items and the cursor of the next page, from up to `limit + 1` rows (the
    statement's LEFT JOIN gives one row with no photo for an empty page): one row more than
    the page tells whether there is a next page."""
    page = [r for r in rows if r["id"] is not None]
    more = len(page) > limit
    page = page[:limit]
    expires_at = url_expiry(services)
    items = [feed_item(services, r, expires_at) for r in page]
    next_cursor = encode_cursor(page[-1][order_key], page[-1]["id"]) if more else None
    return items, next_cursor


async def _rows(
    services: Services,
    user: CurrentUser,
    query: LiteralString,
    event_id: uuid.UUID,
    limit: int,
    cursor: str | None,
    start: tuple[datetime, uuid.UUID],
) -> list[DictRow]:
    """The page's rows (one more than `limit`), from the cursor's position or from `start`;
    no row at all means the caller cannot see the event."""
    ts, photo_id = decode_cursor(cursor) if cursor else start
    rows = await services.db.user_call(
        user.claims, query, {"event": event_id, "ts": ts, "id": photo_id, "limit": limit + 1}
    )
    if not rows:
        raise EventNotFound()
    return rows


@raises(EventNotFound, InvalidCursor)
async def feed_page(
    services: Services, user: CurrentUser, event_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[bytes, str]:
    """Oldest first (captured_at, id), after the cursor."""
    rows = await _rows(services, user, FEED, event_id, limit, cursor, (FIRST_TS, FIRST_ID))
    items, next_cursor = _page(services, rows, limit, "captured_at")
    return _render(
        {
            "items": items,
            "next_cursor": next_cursor,
            "revealed": rows[0]["revealed"],
            "total_count": rows[0]["total_count"] or 0,
        }
    )


@raises(EventNotFound, InvalidCursor)
async def liked_page(
    services: Services, user: CurrentUser, event_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[bytes, str]:
    """Most recent like first (liked_at, id), before the cursor."""
    rows = await _rows(services, user, LIKED, event_id, limit, cursor, (LAST_TS, LAST_ID))
    items, next_cursor = _page(services, rows, limit, "liked_at")
    return _render({"items": items, "next_cursor": next_cursor})
