"""The operator's review of flagged photos (`momento moderation list | restore | remove`).

Runs as the owner role: an operator acts for the service, not as a member of the event.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, LiteralString

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
