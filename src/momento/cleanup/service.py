"""The cleanup steps and their SQL: expiry of free events, the hard delete, the orphan sweep.

How a hard delete stays safe whatever crashes where (migration 0011):

1. Rows go first, in one transaction: deleting an event (its photos, likes, members cascade)
   or a photo fires triggers that record, in that same transaction, the storage prefix of the
   files those rows pointed at (`momento.file_purges`: `events/<event>/<photo>/` per photo and
   `events/<event>/` per event) and queue `cleanup:purge_files`. Either all of it commits or
   none of it does.
2. Files go next, one record at a time (`drain_file_purges`): the record is claimed with
   `FOR UPDATE SKIP LOCKED`, the prefix is removed from storage, the record is deleted, and
   the transaction commits. A crash before the commit leaves the record (its files maybe
   partly gone), and the next run removes the prefix again (idempotent) and the record.

So a stored file is always reachable from a photo row or from a purge record, and a row never
outlives its files. Two purges of one event share the records (SKIP LOCKED), never a record.

The orphan sweep handles what no transaction could record: photos whose upload never came
(pending for a day: marked failed, partial files removed), files written after their row was
deleted (a late PUT on a signed URL, a completion racing a delete), files of failed photos,
and the raw `upload` of photos no longer pending. That object is the photo as the phone sent
it, location metadata included; completion removes it, but only best effort (storage may fail
right after the photo's fate committed) and the signed PUT may bring it back afterwards, so
the sweep is what guarantees no unstripped copy outlives a completed upload. Files younger than
`orphan_file_grace` are left alone: they may be a write in flight.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, LiteralString

from momento import logs
from momento.db import Database
from momento.photos.service import UPLOAD
from momento.profiles.service import DELETE_ACCOUNT
from momento.storage import ObjectInfo, Storage, deletions

if TYPE_CHECKING:
    from momento.services import Services

log = logs.get("momento.cleanup")

EVENTS_ROOT = "events/"
UPLOAD_EXPIRED = "upload_expired"
# Keys checked against the database per statement by the orphan sweep.
SWEEP_BATCH = 500
# Pending photos expired per transaction.
EXPIRE_BATCH = 500

# --- expiry of free events -----------------------------------------------------------------

# Free events released more than the retention ago, and imported (if they were) more than the
# retention ago too (the two statements share the test).
SOFT_DELETE_EXPIRED: LiteralString = """
UPDATE public.events e SET is_deleted = true
WHERE NOT coalesce(e.is_deleted, false)
  AND NOT coalesce(e.is_premium, false)
  AND e.release_at < now() - make_interval(days => %(days)s)
  -- An event imported from an old deployment (momento.legacy): the retention from its import.
  AND NOT EXISTS (SELECT 1 FROM momento.legacy_events l WHERE l.event_id = e.id
                  AND l.imported_at >= now() - make_interval(days => %(days)s))
RETURNING e.id
"""

LIST_EXPIRED: LiteralString = """
SELECT e.id, e.name, e.release_at FROM public.events e
WHERE NOT coalesce(e.is_deleted, false)
  AND NOT coalesce(e.is_premium, false)
  AND e.release_at < now() - make_interval(days => %(days)s)
  -- An event imported from an old deployment (momento.legacy): the retention from its import.
  AND NOT EXISTS (SELECT 1 FROM momento.legacy_events l WHERE l.event_id = e.id
                  AND l.imported_at >= now() - make_interval(days => %(days)s))
ORDER BY e.release_at, e.id
"""

# Soft-deleted events (expired, or deleted by their creator) waiting for their hard delete.
LIST_DELETED: LiteralString = """
SELECT e.id, e.name,
  (SELECT count(*) FROM public.photos p WHERE p.event_id = e.id) AS photos
FROM public.events e
WHERE e.is_deleted
ORDER BY e.id
"""

# Step 1 of a purge. The triggers of 0011 record every file prefix of the event and its photos
# in the same transaction. A purge running concurrently waits on the row lock and then finds
# nothing to delete. Only soft-deleted events: a live event is never hard-deleted here.
DELETE_EVENT_ROWS: LiteralString = """
WITH gone AS (
  DELETE FROM public.events e WHERE e.id = %(event)s AND e.is_deleted RETURNING e.id
)
SELECT count(*) AS events FROM gone
"""

COUNT_EVENT_PHOTOS: LiteralString = """
SELECT count(*) AS n FROM public.photos WHERE event_id = %(event)s
"""

# --- the purge queue ---------------------------------------------------------------------

# One record, claimed for the rest of the transaction. Photo prefixes before their event's:
# the event's last, so what it removes is only what no photo record covered. `live`: a row
# points at these files again (a client may choose a photo's id, and could re-create one just
# deleted); its files are then that row's, and the record is dropped without touching them.
CLAIM_PURGE: LiteralString = """
SELECT f.prefix, f.event_id,
  CASE WHEN split_part(f.prefix, '/', 3) = '' THEN
    EXISTS (SELECT 1 FROM public.events e WHERE e.id = f.event_id)
  ELSE
    EXISTS (SELECT 1 FROM public.photos p
            WHERE p.id::text = split_part(f.prefix, '/', 3) AND p.event_id = f.event_id)
  END AS live
FROM momento.file_purges f
WHERE (%(event)s::uuid IS NULL OR f.event_id = %(event)s)
ORDER BY (split_part(f.prefix, '/', 3) = ''), f.created_at, f.prefix
LIMIT 1
FOR UPDATE OF f SKIP LOCKED
"""

DELETE_PURGE: LiteralString = "DELETE FROM momento.file_purges WHERE prefix = %(prefix)s"

COUNT_PURGES: LiteralString = """
SELECT count(*) AS n FROM momento.file_purges
WHERE (%(event)s::uuid IS NULL OR event_id = %(event)s)
"""

LIST_PURGES: LiteralString = """
SELECT prefix, event_id, created_at FROM momento.file_purges ORDER BY created_at, prefix
"""

# --- the orphan sweep ----------------------------------------------------------------------

# Photos pending longer than the expiry (the two statements share the test).
LIST_PENDING_EXPIRED: LiteralString = """
SELECT p.id, p.storage_path FROM public.photos p
JOIN public.photo_media m ON m.photo_id = p.id
WHERE p.upload_status = 'pending' AND m.created_at < now() - make_interval(secs => %(age)s)
ORDER BY p.id
"""

# Marked failed (in one transaction, before any file is touched), then the files go.
EXPIRE_PENDING: LiteralString = """
WITH expired AS (
  SELECT p.id FROM public.photos p
  JOIN public.photo_media m ON m.photo_id = p.id
  WHERE p.upload_status = 'pending' AND m.created_at < now() - make_interval(secs => %(age)s)
  ORDER BY p.id LIMIT %(limit)s
  FOR UPDATE OF p SKIP LOCKED
), marked AS (
  UPDATE public.photos p SET upload_status = 'failed'
  FROM expired x WHERE p.id = x.id AND p.upload_status = 'pending'
  RETURNING p.id, p.storage_path
), media AS (
  UPDATE public.photo_media m SET failure_code = %(code)s, failure_reason = %(reason)s,
    processed_at = now()
  FROM marked WHERE m.photo_id = marked.id
)
SELECT id, storage_path FROM marked
"""

# What the database knows of a batch of listed prefixes: live photos (and whether they
# failed: a failed photo keeps no files) and purge records.
PHOTOS_OF: LiteralString = """
SELECT id, event_id, upload_status FROM public.photos WHERE id = ANY(%(ids)s::uuid[])
"""

PURGES_OF: LiteralString = """
SELECT prefix FROM momento.file_purges WHERE prefix = ANY(%(prefixes)s::text[])
"""

Progress = Callable[[str, int], None]


@dataclass
class PurgeResult:
    """What one purge removed: events hard-deleted, photo rows with them, prefixes, files."""

    events: int = 0
    photos: int = 0
    prefixes: int = 0
    files: int = 0

    def add(self, other: PurgeResult) -> None:
        self.events += other.events
        self.photos += other.photos
        self.prefixes += other.prefixes
        self.files += other.files


@dataclass
class SweepResult:
    """What the orphan sweep did (or, in a dry run, would do)."""

    expired_photos: list[uuid.UUID] = field(default_factory=list)
    expired_files: int = 0
    orphans: list[ObjectInfo] = field(default_factory=list)
    purged: PurgeResult = field(default_factory=PurgeResult)


# --- expiry -----------------------------------------------------------------------------


async def expire_free_events(services: Services) -> list[uuid.UUID]:
    """Soft-delete free events released more than `free_event_retention_days` ago.

    Returns the events this call soft-deleted; their hard delete is `purge_event`'s.
    """
    days = services.settings.free_event_retention_days
    async with services.db.privileged() as conn:
        cur = await conn.execute(SOFT_DELETE_EXPIRED, {"days": days})
        ids = [row["id"] for row in await cur.fetchall()]
    if ids:
        log.info("free events expired", events=len(ids), retention_days=days)
    return ids


async def deleted_events(services: Services) -> list[uuid.UUID]:
    """Soft-deleted events still waiting for their hard delete."""
    async with services.db.privileged() as conn:
        cur = await conn.execute(LIST_DELETED)
        return [row["id"] for row in await cur.fetchall()]


# --- the hard delete ----------------------------------------------------------------------


async def delete_event_rows(services: Services, event_id: uuid.UUID) -> PurgeResult:
    """Step 1: delete a soft-deleted event's rows, its files recorded for removal (0011)."""
    async with services.db.privileged() as conn:
        cur = await conn.execute(COUNT_EVENT_PHOTOS, {"event": event_id})
        counted = await cur.fetchone()
        cur = await conn.execute(DELETE_EVENT_ROWS, {"event": event_id})
        deleted = await cur.fetchone()
    assert counted is not None
    assert deleted is not None
    events = int(deleted["events"])
    return PurgeResult(events=events, photos=int(counted["n"]) if events else 0)


async def drain_file_purges(
    services: Services,
    *,
    event_id: uuid.UUID | None = None,
    progress: Progress | None = None,
) -> PurgeResult:
    """Step 2: remove the files of every purge record (of one event, or all), then the record.

    One record per transaction, deleted in the transaction that claimed it, after its files:
    a crash leaves it for the next run. Records another purge holds are skipped (it does them).
    """
    result = PurgeResult()
    while True:
        async with services.db.privileged() as conn:
            cur = await conn.execute(CLAIM_PURGE, {"event": event_id})
            claimed = await cur.fetchone()
            if claimed is None:
                return result
            prefix: str = claimed["prefix"]
            removed = 0 if claimed["live"] else await services.storage.delete_prefix(prefix)
            await conn.execute(DELETE_PURGE, {"prefix": prefix})
        result.prefixes += 1
        result.files += removed
        if progress is not None:
            progress(prefix, removed)


async def purge_event(
    services: Services, event_id: uuid.UUID, *, progress: Progress | None = None
) -> PurgeResult:
    """Hard-delete a soft-deleted event: its rows, then every stored file of it.

    Resumable at every point: run it again after a crash and it finishes the work.
    """
    result = await delete_event_rows(services, event_id)
    result.add(await drain_file_purges(services, event_id=event_id, progress=progress))
    if result.events or result.prefixes:
        log.info(
            "event purged",
            event_id=str(event_id),
            photos=result.photos,
            prefixes=result.prefixes,
            files=result.files,
        )
    return result


async def pending_purges(services: Services, event_id: uuid.UUID | None = None) -> int:
    """Purge records not yet done (of one event, or all)."""
    async with services.db.privileged() as conn:
        cur = await conn.execute(COUNT_PURGES, {"event": event_id})
        row = await cur.fetchone()
    assert row is not None
    return int(row["n"])


# --- the orphan sweep -----------------------------------------------------------------------


async def expire_pending_uploads(
    services: Services, *, progress: Progress | None = None
) -> tuple[list[uuid.UUID], int]:
    """Mark photos pending longer than `pending_upload_expiry` failed; remove their files.

    The mark commits before any file is removed; a crash in between leaves a failed photo
    with files, which the next sweep removes (failed photos keep no files). Returns the
    photos marked and the number of files removed.
    """
    params = {
        "age": services.settings.pending_upload_expiry,
        "limit": EXPIRE_BATCH,
        "code": UPLOAD_EXPIRED,
        "reason": "The upload was not completed in time.",
    }
    marked: list[uuid.UUID] = []
    files = 0
    while True:
        async with services.db.privileged() as conn:
            cur = await conn.execute(EXPIRE_PENDING, params)
            batch = await cur.fetchall()
        for row in batch:
            prefix = row["storage_path"] + "/"
            removed = await services.storage.delete_prefix(prefix)
            files += removed
            marked.append(row["id"])
            if progress is not None:
                progress(prefix, removed)
        if len(batch) < EXPIRE_BATCH:
            break
    if marked:
        log.info("pending uploads expired", photos=len(marked), files=files)
    return marked, files


def _parse_key(key: str) -> tuple[str, str | None]:
    """The event prefix of a key under events/, and its photo prefix when it has one."""
    parts = key.split("/")
    event_prefix = "/".join(parts[:2]) + "/"
    photo_prefix = "/".join(parts[:3]) + "/" if len(parts) >= 4 else None
    return event_prefix, photo_prefix


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


async def _batches(
    objects: AsyncIterator[ObjectInfo], size: int
) -> AsyncIterator[list[ObjectInfo]]:
    batch: list[ObjectInfo] = []
    async for info in objects:
        batch.append(info)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def _orphans_in(db: Database, batch: Sequence[ObjectInfo]) -> list[ObjectInfo]:
    """The objects of `batch` nothing points to (no live, i.e. not failed, photo and no purge
    record), and the raw uploads of photos that are no longer pending."""
    photo_ids: set[uuid.UUID] = set()
    prefixes: set[str] = set()
    for info in batch:
        event_prefix, photo_prefix = _parse_key(info.key)
        prefixes.add(event_prefix)
        if photo_prefix is not None:
            prefixes.add(photo_prefix)
            photo_id = _uuid(photo_prefix.split("/")[2])
            if photo_id is not None:
                photo_ids.add(photo_id)
    async with db.privileged() as conn:
        cur = await conn.execute(PHOTOS_OF, {"ids": sorted(photo_ids)})
        photos = {
            f"events/{row['event_id']}/{row['id']}/": row["upload_status"]
            for row in await cur.fetchall()
        }
        cur = await conn.execute(PURGES_OF, {"prefixes": sorted(prefixes)})
        queued = {row["prefix"] for row in await cur.fetchall()}
    orphans = []
    for info in batch:
        event_prefix, photo_prefix = _parse_key(info.key)
        if event_prefix in queued or photo_prefix in queued:
            continue  # the purge queue reaches it
        if photo_prefix is not None:
            status = photos.get(photo_prefix, "failed")
            if status == "pending" or (status != "failed" and info.key != photo_prefix + UPLOAD):
                continue  # a live photo's file (a pending photo's upload included)
        orphans.append(info)
    return orphans


async def find_orphan_files(
    services: Services, *, now: datetime | None = None
) -> AsyncIterator[ObjectInfo]:
    """Stored files under events/ older than the grace period that nothing points to, and
    the raw uploads (with their location metadata) of photos no longer pending."""
    cutoff = (now or datetime.now(UTC)) - timedelta(seconds=services.settings.orphan_file_grace)
    async for batch in _batches(services.storage.list(EVENTS_ROOT), SWEEP_BATCH):
        old = [info for info in batch if info.modified < cutoff]
        if old:
            for info in await _orphans_in(services.db, old):
                yield info


async def remove_orphan_files(
    services: Services, *, now: datetime | None = None, progress: Progress | None = None
) -> list[ObjectInfo]:
    """Remove the files `find_orphan_files` finds; returns them."""
    removed = []
    async for info in find_orphan_files(services, now=now):
        await services.storage.delete(info.key)
        removed.append(info)
        if progress is not None:
            progress(info.key, 1)
    if removed:
        log.info("orphan files removed", files=len(removed))
    return removed


async def sweep_orphans(
    services: Services, *, now: datetime | None = None, progress: Progress | None = None
) -> SweepResult:
    """The hourly sweep: purge records left behind, expired uploads, orphan files."""
    result = SweepResult()
    result.purged = await drain_file_purges(services, progress=progress)
    result.expired_photos, result.expired_files = await expire_pending_uploads(
        services, progress=progress
    )
    result.orphans = await remove_orphan_files(services, now=now, progress=progress)
    # Deletion records older than any signed URL (momento.storage.deletions) serve no one.
    async with services.db.privileged() as conn:
        await conn.execute(deletions.PRUNE)
    return result


# --- guests never used ---------------------------------------------------------------------

# Guests deleted per transaction.
GUEST_BATCH = 100

# Guests (anonymous users) not used for %(days)s days: created, signed in or changed longer ago,
# and no session of theirs started or refreshed its token since.
_STALE_GUEST: LiteralString = """
FROM auth.users u
WHERE u.is_anonymous
  AND greatest(u.created_at, u.updated_at, u.last_sign_in_at)
      < now() - make_interval(days => %(days)s)
  AND NOT EXISTS (
    SELECT 1 FROM auth.sessions s
    WHERE s.user_id = u.id
      AND greatest(s.created_at, s.updated_at, s.refreshed_at)
          >= now() - make_interval(days => %(days)s)
  )
"""

# A batch of them, oldest first, locked: a guest converting right now is skipped, and one
# converted while we waited no longer matches once the lock is taken.
CLAIM_STALE_GUESTS: LiteralString = (
    "SELECT u.id"
    + _STALE_GUEST
    + "ORDER BY u.created_at, u.id LIMIT %(limit)s FOR UPDATE OF u SKIP LOCKED"
)

COUNT_STALE_GUESTS: LiteralString = "SELECT count(*) AS n" + _STALE_GUEST


async def delete_stale_guests(services: Services) -> list[uuid.UUID]:
    """Delete, with everything that is theirs, the guests not used for
    `anonymous_user_retention_days` (signed in, refreshed a token). A batch per transaction:
    idempotent and resumable, a crash loses only the batch in flight, which the next run
    takes again. Returns the guests deleted."""
    days = services.settings.anonymous_user_retention_days
    deleted: list[uuid.UUID] = []
    while True:
        async with services.db.privileged() as conn:
            cur = await conn.execute(CLAIM_STALE_GUESTS, {"days": days, "limit": GUEST_BATCH})
            batch = [row["id"] for row in await cur.fetchall()]
            for user_id in batch:
                # DELETE /v1/me's deletion (migration 0005): photos, likes, memberships, the
                # events they created, profile, sessions, user. The triggers of 0011 record
                # the deleted photos' and events' files and queue their removal, in this
                # same transaction.
                await conn.execute(DELETE_ACCOUNT, {"user_id": user_id})
        deleted.extend(batch)
        if len(batch) < GUEST_BATCH:
            break
    if deleted:
        log.info("unused guests deleted", users=len(deleted), retention_days=days)
    return deleted


# --- the dry run ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EventToGo:
    id: uuid.UUID
    name: str
    photos: int
    files: int
    release_at: datetime | None = None


@dataclass
class Plan:
    """What a cleanup run would do now; nothing is changed to find it out."""

    to_expire: list[EventToGo] = field(default_factory=list)
    to_purge: list[EventToGo] = field(default_factory=list)
    queued_prefixes: list[str] = field(default_factory=list)
    queued_files: int = 0
    pending_to_expire: list[uuid.UUID] = field(default_factory=list)
    orphans: list[ObjectInfo] = field(default_factory=list)
    stale_guests: int = 0


async def _count_files(storage: Storage, prefix: str) -> int:
    return sum([1 async for _ in storage.list(prefix)])


async def plan(services: Services, *, orphans: bool = True) -> Plan:
    """The dry run: events to soft-delete and to purge, queued prefixes, expired uploads and
    orphan files, read from the database and storage without changing either."""
    result = Plan()
    db, storage = services.db, services.storage
    async with db.privileged() as conn:
        days = services.settings.free_event_retention_days
        cur = await conn.execute(LIST_EXPIRED, {"days": days})
        expiring = await cur.fetchall()
        cur = await conn.execute(LIST_DELETED)
        deleted = await cur.fetchall()
        cur = await conn.execute(LIST_PURGES)
        queued = await cur.fetchall()
        cur = await conn.execute(
            LIST_PENDING_EXPIRED, {"age": services.settings.pending_upload_expiry}
        )
        pending = await cur.fetchall()
        cur = await conn.execute(
            COUNT_STALE_GUESTS, {"days": services.settings.anonymous_user_retention_days}
        )
        guests = await cur.fetchone()
        result.stale_guests = int(guests["n"]) if guests else 0
        counts: dict[uuid.UUID, int] = {}
        for row in expiring:
            cur = await conn.execute(COUNT_EVENT_PHOTOS, {"event": row["id"]})
            counted = await cur.fetchone()
            counts[row["id"]] = int(counted["n"]) if counted else 0
    for row in expiring:
        files = await _count_files(storage, f"{EVENTS_ROOT}{row['id']}/")
        result.to_expire.append(
            EventToGo(row["id"], row["name"], counts[row["id"]], files, row["release_at"])
        )
    for row in deleted:
        files = await _count_files(storage, f"{EVENTS_ROOT}{row['id']}/")
        result.to_purge.append(EventToGo(row["id"], row["name"], int(row["photos"]), files))
    result.queued_prefixes = [row["prefix"] for row in queued]
    queued_set = set(result.queued_prefixes)
    for prefix in result.queued_prefixes:
        event_prefix = "/".join(prefix.split("/")[:2]) + "/"
        if prefix == event_prefix or event_prefix not in queued_set:  # else counted with it
            result.queued_files += await _count_files(storage, prefix)
    result.pending_to_expire = [row["id"] for row in pending]
    if orphans:
        result.orphans = [info async for info in find_orphan_files(services)]
    return result
