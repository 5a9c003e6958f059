"""The upload flow, likes, deletion and reports.

Every read and write of a user request runs as that user, so the policies decide who sees
which photo; this module adds what policies cannot know (the capture window, the photo limit,
the file itself). Image work runs off the event loop (`processing.process_async`).

Storage layout: a photo's files live under its `storage_path`, `events/<event>/<photo>`:
`upload` is what the client PUTs (with its metadata, location included, so it is never
served and is removed once processed), `original` the full-size photo members may fetch
(identifying metadata removed), `display.jpg` (longest side 2048) and `thumb.jpg` (400).

Completion decides the photo's fate in one transaction: `uploaded` together with the "new
photos" job, or `failed` with its reason. What comes after that commit (removing `upload`) is
best effort: a storage fault there never turns the decided answer into a 503, and an `upload`
left behind is removed by the orphan sweep once past its grace period
(`momento.cleanup.service`), whatever the photo's status.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, LiteralString

from psycopg import errors

from momento import logs
from momento.analytics import events as analytics_events
from momento.db.pool import Conn
from momento.errors import raises
from momento.events.errors import EventNotFound
from momento.identity import CurrentUser
from momento.photos import processing
from momento.photos.errors import (
    NotFailed,
    NotPending,
    OutsideCaptureWindow,
    PhotoIdTaken,
    PhotoLimitReached,
    PhotoNotFound,
    PhotoRejected,
    UnsupportedType,
    UploadMissing,
    UploadsClosed,
    UploadTooLarge,
)
from momento.photos.schemas import (
    ACCEPTED_TYPES,
    Failure,
    Photo,
    PhotoCreate,
    PhotoRetry,
    PhotoUpload,
    UploadTargetOut,
)
from momento.reveal import scheduling as reveal_scheduling
from momento.storage import StorageError, StorageNotFound, TooLarge

if TYPE_CHECKING:
    # For types only: the kernel imports the job queue, which imports this module's tasks.
    from momento.services import Services

log = logs.get("momento.photos")

UPLOAD = "upload"
ORIGINAL = "original"
DISPLAY = "display.jpg"
THUMB = "thumb.jpg"
# A phone's clock may run a little ahead of ours.
CLOCK_SKEW = timedelta(minutes=10)


def key(storage_path: str, name: str) -> str:
    return f"{storage_path}/{name}"


_PHOTO_COLUMNS: LiteralString = """
  p.id, p.event_id, p.user_id, p.username, p.captured_at, p.upload_status, p.width, p.height,
  p.storage_path, p.blurhash, m.failure_code, m.failure_reason, m.declared_type,
  m.declared_size
"""

# The event as the caller sees it (404 unless a member), with what the upload checks need.
EVENT_FOR_UPLOAD: LiteralString = """
SELECT e.id, e.starts_at, e.release_at, coalesce(e.is_premium, false) AS is_premium
FROM public.events e
WHERE e.id = %(event)s
"""

# Serialises one member's uploads to one event, so two racing for the last free slot
# cannot both pass the count below.
LOCK_MEMBER_UPLOADS: LiteralString = """
SELECT pg_advisory_xact_lock(hashtextextended(%(event)s::text || ':' || auth.uid()::text, 7))
"""

OWN_PHOTO: LiteralString = (
    "SELECT"
    + _PHOTO_COLUMNS
    + """
FROM public.photos p
LEFT JOIN public.photo_media m ON m.photo_id = p.id
WHERE p.id = %(id)s AND p.user_id = auth.uid()
"""
)

# Photos that count against the limit: everything not failed.
COUNT_OWN: LiteralString = """
SELECT count(*) AS n FROM public.photos p
WHERE p.event_id = %(event)s AND p.user_id = auth.uid() AND p.upload_status <> 'failed'
"""

INSERT_PHOTO: LiteralString = """
INSERT INTO public.photos (id, event_id, user_id, storage_path, captured_at)
VALUES (%(id)s, %(event)s, auth.uid(), %(path)s, %(captured_at)s)
ON CONFLICT (id) DO NOTHING
RETURNING id
"""

INSERT_MEDIA: LiteralString = """
INSERT INTO public.photo_media (photo_id, declared_type, declared_size)
VALUES (%(id)s, %(type)s, %(size)s)
"""

# Written by the server (users cannot write status, size or the placeholder). Returns the
# photo only when this statement made it uploaded (not when a concurrent completion did: the
# row lock makes the loser see `uploaded` and match nothing).
MARK_UPLOADED: LiteralString = """
WITH p AS (
  UPDATE public.photos SET upload_status = 'uploaded', width = %(width)s, height = %(height)s,
    blurhash = %(blurhash)s
  WHERE id = %(id)s AND upload_status = 'pending'
  RETURNING id
), m AS (
  UPDATE public.photo_media SET content_type = %(type)s, byte_size = %(size)s,
    failure_code = NULL, failure_reason = NULL, processed_at = now()
  WHERE photo_id IN (SELECT id FROM p)
)
SELECT id FROM p
"""

MARK_FAILED: LiteralString = """
WITH p AS (
  UPDATE public.photos SET upload_status = 'failed'
  WHERE id = %(id)s AND upload_status = 'pending'
  RETURNING id
)
UPDATE public.photo_media SET failure_code = %(code)s, failure_reason = %(reason)s,
  byte_size = %(size)s, processed_at = now()
WHERE photo_id IN (SELECT id FROM p)
"""

DELETE_OWN: LiteralString = """
DELETE FROM public.photos WHERE id = %(id)s AND user_id = auth.uid() RETURNING storage_path
"""

VISIBLE: LiteralString = "SELECT p.id FROM public.photos p WHERE p.id = %(id)s"

LIKE: LiteralString = """
INSERT INTO public.photo_likes (photo_id, user_id) VALUES (%(id)s, auth.uid())
ON CONFLICT DO NOTHING
RETURNING photo_id
"""

UNLIKE: LiteralString = """
DELETE FROM public.photo_likes WHERE photo_id = %(id)s AND user_id = auth.uid()
RETURNING photo_id
"""

# Migration 0023: the server's threshold travels with the call, which only the login role may
# make (Database.user_call adds the caller's claims).
REPORT: LiteralString = (
    "SELECT momento.report_photo(%(claims)s, %(id)s, %(reason)s, %(threshold)s) AS ok"
)

# Migration 0022: the caller's own failed photo, in an event they are still in, back to pending.
RETRY: LiteralString = "SELECT public.retry_photo(%(id)s, %(type)s, %(size)s) AS ok"


def _photo(row: dict[str, Any]) -> Photo:
    failure = None
    if row["upload_status"] == "failed" and row.get("failure_code"):
        failure = Failure(code=row["failure_code"], message=row["failure_reason"] or "")
    return Photo(
        id=row["id"],
        event_id=row["event_id"],
        user_id=row["user_id"],
        username=row["username"],
        captured_at=row["captured_at"],
        upload_status=row["upload_status"],
        width=row["width"],
        height=row["height"],
        blurhash=row.get("blurhash"),
        failure=failure,
    )


def _upload_target(services: Services, row: dict[str, Any]) -> UploadTargetOut | None:
    if row["upload_status"] != "pending":
        return None
    target = services.storage.signed_put(
        key(row["storage_path"], UPLOAD),
        row["declared_type"],
        max_bytes=services.settings.max_upload_bytes,
    )
    return UploadTargetOut(
        url=target.url,
        method=target.method,
        headers=target.headers,
        expires_at=target.expires_at,
        max_bytes=target.max_bytes,
    )


def _check_declared(services: Services, content_type: str, byte_size: int) -> None:
    """What the client declares about the file it will upload."""
    if content_type not in ACCEPTED_TYPES:
        raise UnsupportedType()
    limit = services.settings.max_upload_bytes
    if byte_size > limit:
        raise UploadTooLarge(f"Photos can be at most {limit} bytes.")


async def _check_room(
    services: Services, conn: Conn, event: dict[str, Any], captured: datetime
) -> None:
    """Whether the event takes one more photo of the caller, captured then: the upload window,
    the capture window and the photo limit (counted under LOCK_MEMBER_UPLOADS, taken by the
    caller)."""
    settings = services.settings
    now = datetime.now(UTC)
    if now > event["release_at"] + timedelta(seconds=settings.upload_grace):
        raise UploadsClosed("The event was revealed; it no longer accepts uploads.")
    if not (event["starts_at"] <= captured <= event["release_at"]) or captured > now + CLOCK_SKEW:
        raise OutsideCaptureWindow()
    limit = settings.photo_limit_premium if event["is_premium"] else settings.photo_limit_free
    cur = await conn.execute(COUNT_OWN, {"event": event["id"]})
    counted = await cur.fetchone()
    assert counted is not None
    if counted["n"] >= limit:
        raise PhotoLimitReached(
            f"You have reached this event's limit of {limit} photos.",
            extra={"limit": limit},
        )


@raises(
    EventNotFound,
    UnsupportedType,
    UploadTooLarge,
    OutsideCaptureWindow,
    UploadsClosed,
    PhotoLimitReached,
    PhotoIdTaken,
)
async def create_photo(
    services: Services, user: CurrentUser, event_id: uuid.UUID, body: PhotoCreate
) -> tuple[PhotoUpload, bool]:
    """Create a pending photo (or find the one made by an earlier try); True if created."""
    _check_declared(services, body.content_type, body.byte_size)
    photo_id = body.id or uuid.uuid4()
    async with services.db.as_user(user.claims) as conn:
        cur = await conn.execute(EVENT_FOR_UPLOAD, {"event": event_id})
        event = await cur.fetchone()
        if event is None:
            raise EventNotFound()
        await conn.execute(LOCK_MEMBER_UPLOADS, {"event": event_id})
        cur = await conn.execute(OWN_PHOTO, {"id": photo_id})
        existing = await cur.fetchone()
        if existing is not None:
            if existing["event_id"] != event_id:
                raise PhotoIdTaken()
            return PhotoUpload(
                photo=_photo(existing), upload=_upload_target(services, existing)
            ), False
        captured = body.captured_at
        await _check_room(services, conn, event, captured)
        path = f"events/{event_id}/{photo_id}"
        try:
            cur = await conn.execute(
                INSERT_PHOTO,
                {"id": photo_id, "event": event_id, "path": path, "captured_at": captured},
            )
            inserted = await cur.fetchone()
        except errors.InsufficientPrivilege:
            # Left the event (public.leave_event, under the same lock) since it was read.
            raise EventNotFound() from None
        if inserted is None:
            # The id exists but is not ours (or not visible to us).
            raise PhotoIdTaken()
        await conn.execute(
            INSERT_MEDIA, {"id": photo_id, "type": body.content_type, "size": body.byte_size}
        )
        cur = await conn.execute(OWN_PHOTO, {"id": photo_id})
        row = await cur.fetchone()
    assert row is not None
    return PhotoUpload(photo=_photo(row), upload=_upload_target(services, row)), True


@raises(
    PhotoNotFound,
    NotFailed,
    EventNotFound,
    UnsupportedType,
    UploadTooLarge,
    OutsideCaptureWindow,
    UploadsClosed,
    PhotoLimitReached,
)
async def retry_photo(
    services: Services, user: CurrentUser, photo_id: uuid.UUID, body: PhotoRetry | None
) -> PhotoUpload:
    """A failed upload gets a new upload target and is pending again (the same photo id), under
    the rules of a new upload: the caller still a member, the event still taking photos, the
    limit not reached (a failed photo does not count, a pending one does). A pending photo
    just gets a fresh target, so a retry sent twice is harmless."""
    async with services.db.as_user(user.claims) as conn:
        cur = await conn.execute(OWN_PHOTO, {"id": photo_id})
        row = await cur.fetchone()
        if row is None:
            raise PhotoNotFound()
        if row["upload_status"] == "uploaded":
            raise NotFailed()
        content_type: str = row["declared_type"]
        byte_size: int = row["declared_size"]
        if body is not None:
            content_type = body.content_type or content_type
            byte_size = body.byte_size or byte_size
        _check_declared(services, content_type, byte_size)
        cur = await conn.execute(EVENT_FOR_UPLOAD, {"event": row["event_id"]})
        event = await cur.fetchone()
        if event is None:  # left, or deleted: no longer the caller's to upload to
            raise EventNotFound()
        await conn.execute(LOCK_MEMBER_UPLOADS, {"event": row["event_id"]})
        cur = await conn.execute(OWN_PHOTO, {"id": photo_id})  # again, under the lock
        row = await cur.fetchone()
        if row is None:
            raise PhotoNotFound()
        if row["upload_status"] == "failed":
            await _check_room(services, conn, event, row["captured_at"])
            cur = await conn.execute(
                RETRY, {"id": photo_id, "type": content_type, "size": byte_size}
            )
            done = await cur.fetchone()
            if done is None or not done["ok"]:  # pragma: no cover - checked just above
                raise PhotoNotFound()
            cur = await conn.execute(OWN_PHOTO, {"id": photo_id})
            row = await cur.fetchone()
            assert row is not None
            log.info("photo upload retried", photo_id=str(photo_id))
        elif row["upload_status"] == "uploaded":  # completed by a concurrent call
            raise NotFailed()
    return PhotoUpload(photo=_photo(row), upload=_upload_target(services, row))


async def _discard_upload(services: Services, row: dict[str, Any]) -> None:
    """Remove the photo's raw upload, best effort: called once the photo's fate has committed,
    so a storage fault must not change the answer. What is left is the orphan sweep's
    (`momento.cleanup.service`: `upload` objects of photos no longer pending)."""
    try:
        await services.storage.delete(key(row["storage_path"], UPLOAD))
    except StorageError as exc:
        log.warning(
            "photo upload left to the orphan sweep",
            photo_id=str(row["id"]),
            status=row["upload_status"],
            error=f"{type(exc).__name__}: {exc}",
        )


async def _fail(
    services: Services, row: dict[str, Any], code: str, message: str, size: int | None
) -> PhotoRejected:
    async with services.db.privileged() as conn:
        await conn.execute(
            MARK_FAILED, {"id": row["id"], "code": code, "reason": message, "size": size}
        )
    # The refused bytes are kept nowhere: removed now, or by the sweep if storage fails here
    # (the refusal has committed; it is the answer either way).
    await _discard_upload(services, {**row, "upload_status": "failed"})
    log.info("photo upload refused", photo_id=str(row["id"]), reason=code)
    return PhotoRejected(code, message)


@raises(PhotoNotFound, UploadMissing, PhotoRejected, NotPending)
async def complete_photo(services: Services, user: CurrentUser, photo_id: uuid.UUID) -> Photo:
    """Check and process the uploaded file; the photo becomes `uploaded` or `failed`."""
    rows = await services.db.user_fetch(user.claims, OWN_PHOTO, {"id": photo_id})
    if not rows:
        raise PhotoNotFound()
    row = rows[0]
    storage = services.storage
    upload_key = key(row["storage_path"], UPLOAD)
    if row["upload_status"] != "pending":
        # The signed PUT outlives the photo's processing: bytes sent again after it (with their
        # metadata, location included) are never served and are removed here (or by the sweep).
        await _discard_upload(services, row)
        if row["upload_status"] == "uploaded":
            return _photo(row)
        raise PhotoRejected(row["failure_code"] or "failed", row["failure_reason"] or "")
    limit = services.settings.max_upload_bytes
    too_large = f"The file is larger than {limit} bytes."
    info = await storage.stat(upload_key)
    data: bytes | None = None
    size = info.size if info is not None else 0
    if info is not None and info.size <= limit:
        try:
            # The signed PUT stays valid after the size check (and S3 cannot cap it), so the
            # object may have been replaced by a bigger one since: the read stops past limit.
            data = await storage.read(upload_key, max_bytes=limit)
        except StorageNotFound:  # removed since, by a concurrent completion
            info = None
        except TooLarge as exc:
            size = exc.size if exc.size is not None else limit + 1
    if info is None:
        rows = await services.db.user_fetch(user.claims, OWN_PHOTO, {"id": photo_id})
        if not rows:
            raise PhotoNotFound()
        if rows[0]["upload_status"] != "pending":  # completed or refused meanwhile
            return await complete_photo(services, user, photo_id)
        raise UploadMissing()
    if data is None:
        raise await _fail(services, row, "too_large", too_large, size)
    try:
        result = await processing.process_async(
            data, max_pixels=services.settings.max_pixels, executor=services.image_executor
        )
    except processing.ImageRejected as exc:
        raise await _fail(services, row, exc.code, exc.message, len(data)) from None
    # Files first, then the row: a crash in between leaves a pending photo whose upload is
    # still there, and completing again redoes the work.
    path = row["storage_path"]
    await storage.put(key(path, ORIGINAL), result.original, result.original_mime)
    await storage.put(key(path, DISPLAY), result.display, "image/jpeg")
    await storage.put(key(path, THUMB), result.thumb, "image/jpeg")
    async with services.db.privileged() as conn:
        cur = await conn.execute(
            MARK_UPLOADED,
            {
                "id": photo_id,
                "width": result.width,
                "height": result.height,
                "type": result.mime,
                "size": len(data),
                "blurhash": result.blurhash,
            },
        )
        marked = await cur.fetchone() is not None  # this call, not a concurrent one
        if marked:
            await reveal_scheduling.photo_added(
                services.jobs,
                row["event_id"],
                services.settings.push_new_photos_interval,
                connection=conn,
            )
    if marked:
        # Right after the commit, by the one call that made the photo uploaded: a completion
        # retried later finds it uploaded and captures nothing.
        analytics_events.photo_uploaded(
            services.analytics,
            row["user_id"],
            event_id=row["event_id"],
            photo_id=photo_id,
            width=result.width,
            height=result.height,
            content_type=result.mime,
        )
    await _discard_upload(services, {**row, "upload_status": "uploaded"})
    rows = await services.db.user_fetch(user.claims, OWN_PHOTO, {"id": photo_id})
    if not rows:  # deleted while we worked
        raise PhotoNotFound()
    if rows[0]["upload_status"] != "uploaded":
        raise NotPending()
    return _photo(rows[0])


@raises(PhotoNotFound)
async def delete_photo(services: Services, user: CurrentUser, photo_id: uuid.UUID) -> None:
    """Delete one's own photo: the row first, then every stored file."""
    async with services.db.as_user(user.claims) as conn:
        cur = await conn.execute(DELETE_OWN, {"id": photo_id})
        row = await cur.fetchone()
    if row is None:
        raise PhotoNotFound()
    # The delete is done: the trigger recorded the files in momento.file_purges and queued
    # their purge in that transaction. Removing them now only makes it prompt; with storage
    # out of reach the queued purge removes them once it is back (never a 503 for a delete
    # that happened).
    try:
        await services.storage.delete_prefix(row["storage_path"] + "/")
    except StorageError as exc:
        log.warning(
            "photo files left to the purge queue",
            photo_id=str(photo_id),
            error=f"{type(exc).__name__}: {exc}",
        )


@raises(PhotoNotFound)
async def like(services: Services, user: CurrentUser, photo_id: uuid.UUID) -> None:
    async with services.db.as_user(user.claims) as conn:
        cur = await conn.execute(VISIBLE, {"id": photo_id})
        if await cur.fetchone() is None:
            raise PhotoNotFound()
        try:
            async with conn.transaction():
                cur = await conn.execute(LIKE, {"id": photo_id})
                await cur.fetchall()
        except errors.InsufficientPrivilege:
            # Visible but not likeable (the owner's own pending or hidden photo).
            raise PhotoNotFound() from None


@raises(PhotoNotFound)
async def unlike(services: Services, user: CurrentUser, photo_id: uuid.UUID) -> None:
    """Remove the caller's like. A like of a photo hidden since can still be removed (the
    policies allow it), so it does not come back if the photo is restored; without a like,
    a photo the caller cannot see is a 404."""
    async with services.db.as_user(user.claims) as conn:
        cur = await conn.execute(UNLIKE, {"id": photo_id})
        if await cur.fetchone() is not None:
            return
        cur = await conn.execute(VISIBLE, {"id": photo_id})
        if await cur.fetchone() is None:
            raise PhotoNotFound()


@raises(PhotoNotFound)
async def report(
    services: Services, user: CurrentUser, photo_id: uuid.UUID, reason: str | None
) -> None:
    """Report a photo: hidden for the caller at once, for everyone when the caller is the
    event's host or once `reports_to_hide` members reported it (migration 0023)."""
    params = {"id": photo_id, "reason": reason, "threshold": services.settings.reports_to_hide}
    rows = await services.db.user_call(user.claims, REPORT, params)
    if not rows or not rows[0]["ok"]:
        raise PhotoNotFound()
