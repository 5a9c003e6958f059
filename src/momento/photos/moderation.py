"""Moderation: the event host's (list reports, hide, restore) and the operator's.

The rule (migration 0023): a report hides the photo from its reporter at once; it is hidden
from everyone but its owner when the event's host hides it (or reports it), or once
`reports_to_hide` distinct signed-up members reported it (guests' reports do not count). The
host restores it; the reports then stay (their reporters still do not see it) but no longer
count. The database decides all of it: the host's functions check that the caller created the
photo's event, and answer nothing otherwise (404 here, not 403, so nobody learns that a photo
exists).

The operator's review (`momento moderation list | restore | remove`) runs as the owner role,
across events: an operator acts for the service, not as a member of the event.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, LiteralString

from momento.errors import raises
from momento.events.errors import EventNotFound
from momento.identity import CurrentUser
from momento.photos import feed
from momento.photos.errors import InvalidCursor, PhotoNotFound
from momento.photos.schemas import PhotoUrls, ReportedPhoto, ReportsPage

if TYPE_CHECKING:
    from momento.services import Services

LIST_FLAGGED: LiteralString = """
SELECT p.id, p.event_id, e.name AS event_name, p.username, p.captured_at, p.storage_path,
  count(r.reporter_id) AS reports,
  coalesce(bool_or(r.by_creator), false) AS hidden_by_creator,
  max(r.created_at) AS last_report_at,
  array_remove(array_agg(r.reason ORDER BY r.created_at), NULL) AS reasons
FROM public.photos p
JOIN public.events e ON e.id = p.event_id
LEFT JOIN momento.photo_reports r ON r.photo_id = p.id
WHERE p.is_flagged
GROUP BY p.id, e.name
ORDER BY max(r.created_at) DESC NULLS LAST, p.id
LIMIT %(limit)s
"""

# Restoring clears the flag and the reports that raised it, so the photo is judged afresh if
# it is reported again.
RESTORE: LiteralString = """
WITH p AS (
  UPDATE public.photos SET is_flagged = false WHERE id = %(id)s AND is_flagged RETURNING id
)
DELETE FROM momento.photo_reports WHERE photo_id IN (SELECT id FROM p)
RETURNING photo_id
"""

FLAGGED_EXISTS: LiteralString = "SELECT 1 FROM public.photos WHERE id = %(id)s AND is_flagged"

REMOVE: LiteralString = """
DELETE FROM public.photos WHERE id = %(id)s AND is_flagged RETURNING storage_path
"""


@dataclass(frozen=True)
class FlaggedPhoto:
    id: uuid.UUID
    event_id: uuid.UUID
    event_name: str
    username: str
    captured_at: datetime
    storage_path: str
    reports: int
    hidden_by_creator: bool
    last_report_at: datetime | None
    reasons: list[str]


async def list_flagged(services: Services, limit: int = 100) -> list[FlaggedPhoto]:
    async with services.db.privileged() as conn:
        cur = await conn.execute(LIST_FLAGGED, {"limit": limit})
        rows = await cur.fetchall()
    return [FlaggedPhoto(**r) for r in rows]


async def restore(services: Services, photo_id: uuid.UUID) -> bool:
    """Unflag a photo; False when no flagged photo has that id."""
    async with services.db.privileged() as conn:
        cur = await conn.execute(FLAGGED_EXISTS, {"id": photo_id})
        if await cur.fetchone() is None:
            return False
        await conn.execute(RESTORE, {"id": photo_id})
    return True


async def remove(services: Services, photo_id: uuid.UUID) -> bool:
    """Delete a flagged photo and its files; False when no flagged photo has that id."""
    async with services.db.privileged() as conn:
        cur = await conn.execute(REMOVE, {"id": photo_id})
        row = await cur.fetchone()
    if row is None:
        return False
    # Row first, files second: a crash between leaves files the orphan sweep removes.
    await services.storage.delete_prefix(row["storage_path"] + "/")
    return True


# --- the host's ----------------------------------------------------------------------------

HOST_REPORTS: LiteralString = """
SELECT * FROM public.event_reports(%(event)s, %(ts)s, %(id)s, %(limit)s)
"""
HIDE: LiteralString = "SELECT public.hide_photo(%(id)s) AS ok"
RESTORE_BY_HOST: LiteralString = "SELECT public.restore_photo(%(id)s) AS ok"


def _reported(services: Services, row: dict[str, Any], expires_at: int) -> ReportedPhoto:
    urls = feed.signed_urls(services, row["storage_path"], expires_at)
    return ReportedPhoto(
        id=row["id"],
        user_id=row["user_id"],
        username=row["username"],
        captured_at=row["captured_at"],
        hidden=row["hidden"],
        hidden_by_host=row["hidden_by_host"],
        reports=row["reports"],
        counted_reports=row["counted_reports"],
        last_report_at=row["last_report_at"],
        reasons=list(row["reasons"]),
        urls=PhotoUrls(**urls),
    )


@raises(EventNotFound, InvalidCursor)
async def event_reports(
    services: Services, user: CurrentUser, event_id: uuid.UUID, limit: int, cursor: str | None
) -> ReportsPage:
    """The host's list: photos of their event reported or hidden, by capture time, with
    report counts, reasons and signed URLs (to judge them). 404 for anyone but the host."""
    ts, after = feed.decode_cursor(cursor) if cursor else (feed.FIRST_TS, feed.FIRST_ID)
    rows = await services.db.user_fetch(
        user.claims, HOST_REPORTS, {"event": event_id, "ts": ts, "id": after, "limit": limit + 1}
    )
    if not rows:
        raise EventNotFound()
    page = [r for r in rows if r["id"] is not None]
    more = len(page) > limit
    page = page[:limit]
    expires_at = feed.url_expiry(services)
    return ReportsPage(
        items=[_reported(services, r, expires_at) for r in page],
        next_cursor=feed.encode_cursor(page[-1]["captured_at"], page[-1]["id"]) if more else None,
    )


@raises(PhotoNotFound)
async def hide(services: Services, user: CurrentUser, photo_id: uuid.UUID) -> None:
    """The host hides a photo of their event from everyone but its owner (idempotent)."""
    async with services.db.as_user(user.claims) as conn:
        cur = await conn.execute(HIDE, {"id": photo_id})
        row = await cur.fetchone()
    if row is None or not row["ok"]:
        raise PhotoNotFound()


@raises(PhotoNotFound)
async def restore_by_host(services: Services, user: CurrentUser, photo_id: uuid.UUID) -> None:
    """The host makes a photo of their event visible again (idempotent)."""
    async with services.db.as_user(user.claims) as conn:
        cur = await conn.execute(RESTORE_BY_HOST, {"id": photo_id})
        row = await cur.fetchone()
    if row is None or not row["ok"]:
        raise PhotoNotFound()
