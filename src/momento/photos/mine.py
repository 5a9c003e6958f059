"""The caller's own uploads of an event, and one photo by id.

Both read as the user, so the photos policy decides what is visible: an owner sees their own
photos in every status, anyone else's only once uploaded, unhidden and revealed to a member.
On top of it, the event must be one of `private.my_photo_event_ids()` (migration 0022): a live
event the caller is in, or one they left keeping photos there; so a former member still lists
and deletes their own photos of it, and sees nothing of anyone else's.

Not the feed's hot path: a plain statement per request, the rows checked by pydantic. The
signed URLs are the feed's (same cache, same expiry rounding), for uploaded photos only.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, LiteralString

from momento.errors import raises
from momento.events.errors import EventNotFound
from momento.identity import CurrentUser
from momento.photos.errors import InvalidCursor, PhotoNotFound
from momento.photos.feed import (
    LAST_ID,
    LAST_TS,
    decode_cursor,
    encode_cursor,
    signed_urls,
    url_expiry,
)
from momento.photos.files import original_filename
from momento.photos.schemas import Failure, MyPhotosPage, PhotoDetail, PhotoUrls
from momento.photos.service import ORIGINAL, key

if TYPE_CHECKING:
    from momento.services import Services

_DETAIL_COLUMNS: LiteralString = """
  p.id, p.event_id, p.user_id, p.username, p.captured_at, p.upload_status, p.width, p.height,
  p.storage_path, p.blurhash, p.like_count, m.failure_code, m.failure_reason, m.content_type,
  EXISTS (
    SELECT 1 FROM public.photo_likes l WHERE l.photo_id = p.id AND l.user_id = auth.uid()
  ) AS liked_by_me
"""

# ev: one row if the caller may ask about the event (else none: the route's 404); page: their
# own photos of it before the cursor, newest first (idx_photos_user_event_time). An empty page
# is one row with no photo.
MY_PHOTOS: LiteralString = (
    "WITH ev AS ("  # noqa: S608 (constants only)
    """
  SELECT %(event)s::uuid AS id
  WHERE %(event)s::uuid IN (SELECT private.my_photo_event_ids())
)
SELECT page.* FROM ev
LEFT JOIN LATERAL (
  SELECT"""
    + _DETAIL_COLUMNS
    + """
  FROM public.photos p
  LEFT JOIN public.photo_media m ON m.photo_id = p.id
  WHERE p.user_id = auth.uid() AND p.event_id = ev.id
    AND (p.captured_at, p.id) < (%(ts)s, %(id)s)
  ORDER BY p.captured_at DESC, p.id DESC
  LIMIT %(limit)s
) page ON true
ORDER BY page.captured_at DESC, page.id DESC
"""
)

ONE_PHOTO: LiteralString = (
    "SELECT"
    + _DETAIL_COLUMNS
    + """
FROM public.photos p
LEFT JOIN public.photo_media m ON m.photo_id = p.id
WHERE p.id = %(id)s AND p.event_id IN (SELECT private.my_photo_event_ids())
"""
)


def _detail(services: Services, row: dict[str, Any], expires_at: int) -> PhotoDetail:
    uploaded = row["upload_status"] == "uploaded"
    failure = None
    if row["upload_status"] == "failed" and row["failure_code"]:
        failure = Failure(code=row["failure_code"], message=row["failure_reason"] or "")
    urls = download = None
    if uploaded:
        urls = PhotoUrls(**signed_urls(services, row["storage_path"], expires_at))
        name = original_filename(row["username"], row["captured_at"], row["content_type"])
        download = services.storage.signed_get_url(
            key(row["storage_path"], ORIGINAL), expires_at=expires_at, filename=name
        )
    return PhotoDetail(
        id=row["id"],
        event_id=row["event_id"],
        user_id=row["user_id"],
        username=row["username"],
        captured_at=row["captured_at"],
        upload_status=row["upload_status"],
        width=row["width"],
        height=row["height"],
        blurhash=row["blurhash"],
        like_count=row["like_count"],
        liked_by_me=row["liked_by_me"],
        failure=failure,
        urls=urls,
        download=download,
    )


@raises(EventNotFound, InvalidCursor)
async def my_photos(
    services: Services, user: CurrentUser, event_id: uuid.UUID, limit: int, cursor: str | None
) -> MyPhotosPage:
    """The caller's photos of the event, newest first (captured_at, id), after the cursor."""
    ts, photo_id = decode_cursor(cursor) if cursor else (LAST_TS, LAST_ID)
    rows = await services.db.user_fetch(
        user.claims,
        MY_PHOTOS,
        {"event": event_id, "ts": ts, "id": photo_id, "limit": limit + 1},
    )
    if not rows:
        raise EventNotFound()
    page = [r for r in rows if r["id"] is not None]
    more = len(page) > limit
    page = page[:limit]
    expires_at = url_expiry(services)
    return MyPhotosPage(
        items=[_detail(services, r, expires_at) for r in page],
        next_cursor=encode_cursor(page[-1]["captured_at"], page[-1]["id"]) if more else None,
    )


@raises(PhotoNotFound)
async def get_photo(services: Services, user: CurrentUser, photo_id: uuid.UUID) -> PhotoDetail:
    """One photo the caller may see; any other (or none) is 404."""
    rows = await services.db.user_fetch(user.claims, ONE_PHOTO, {"id": photo_id})
    if not rows:
        raise PhotoNotFound()
    return _detail(services, rows[0], url_expiry(services))
