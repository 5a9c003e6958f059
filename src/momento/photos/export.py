"""The event's photos as one ZIP archive (GET /v1/events/{id}/export.zip).

Every photo the caller may see (the feed's rules: after the reveal, everyone's uploaded and
not hidden ones, and the caller's own), as stored: originals in their own type and extension
(HEIC stays `.heic`), named `<username>-<captured_at>.<ext>` in capture order.

The archive is streamed as it is read (zipstream-ng): entries are stored, not compressed
(photos do not compress), so its exact length is known before the first byte (a
`Content-Length` browsers show progress with) and memory stays flat in its size: each
original flows through in the storage's chunks. ZIP64 records are written when the archive
or an entry passes 4 GB.

zipstream-ng is a plain generator; the web layer runs it in a worker thread (Starlette does
for a sync iterator), and each original is read on the event loop from that thread
(`anyio.from_thread`), chunk by chunk.

A browser's download link cannot carry the access token, so the pages ask for a ticket
(`issue_download`, momento.kit.tickets, purpose "export", for this event) and the link carries
that instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, LiteralString

import anyio.from_thread
import zipstream

from momento.errors import InvalidTicket, raises
from momento.events import service as events_service
from momento.events.errors import EventNotFound
from momento.events.schemas import Event
from momento.identity import CurrentUser
from momento.kit import tickets
from momento.photos.errors import NotRevealedYet, PremiumRequired
from momento.photos.files import original_filename
from momento.photos.service import ORIGINAL, key
from momento.storage.base import InvalidKey, content_disposition

if TYPE_CHECKING:
    from momento.services import Services

PURPOSE = "export"
# Long enough to click the link the page got, short enough that a leaked one is useless.
TICKET_TTL = 60
# Concurrent size lookups before the archive starts (S3: one HEAD each).
_STAT_CONCURRENCY = 16

# As the caller: the policies decide which photos (their own, and everyone's once revealed).
EXPORT_PHOTOS: LiteralString = """
SELECT p.id, p.username, p.captured_at, p.storage_path, m.content_type
FROM public.photos p
LEFT JOIN public.photo_media m ON m.photo_id = p.id
WHERE p.event_id = %(id)s AND p.upload_status = 'uploaded'
ORDER BY p.captured_at, p.id
"""


@dataclass(frozen=True)
class Entry:
    name: str
    key: str
    size: int


@dataclass(frozen=True)
class Download:
    url: str
    expires_at: datetime


def unique_names(names: list[str]) -> list[str]:
    """The names with `-2`, `-3` ... before the extension of repeats (two photos in a second)."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0) + 1
        seen[name] = count
        if count > 1:
            stem, dot, ext = name.rpartition(".")
            name = f"{stem}-{count}{dot}{ext}"
        out.append(name)
    return out


@raises(EventNotFound, NotRevealedYet, PremiumRequired)
async def check_export(services: Services, user: CurrentUser, event_id: uuid.UUID) -> Event:
    """The caller may download the archive: a member, revealed, and premium if so configured."""
    event = await events_service.get_event(services, user, event_id)
    if not event.revealed:
        raise NotRevealedYet()
    if services.settings.export_zip == "premium" and not event.is_premium:
        raise PremiumRequired()
    return event


@raises(EventNotFound, NotRevealedYet, PremiumRequired, InvalidTicket)
async def issue_download(services: Services, user: CurrentUser, event_id: uuid.UUID) -> Download:
    """A single-use link (60 s) to the archive, for a browser's download."""
    await check_export(services, user, event_id)
    ticket = await tickets.issue(services, user, PURPOSE, event_id, ttl=TICKET_TTL)
    url = f"/v1/events/{event_id}/export.zip?ticket={ticket.token}"
    return Download(url=url, expires_at=ticket.expires_at)


@raises(InvalidTicket)
async def redeem_download(
    services: Services, ticket: str | None, event_id: uuid.UUID
) -> CurrentUser:
    return await tickets.redeem(services, ticket, PURPOSE, event_id)


@raises(EventNotFound, NotRevealedYet, PremiumRequired)
async def entries(
    services: Services, user: CurrentUser, event_id: uuid.UUID
) -> tuple[Event, list[Entry]]:
    """The event and what goes in its archive, with each original's size (read from the
    storage, so the archive's length is exact)."""
    event = await check_export(services, user, event_id)
    rows = await services.db.user_fetch(user.claims, EXPORT_PHOTOS, {"id": event_id})
    names = unique_names(
        [original_filename(r["username"], r["captured_at"], r["content_type"]) for r in rows]
    )
    keys = [key(r["storage_path"], ORIGINAL) for r in rows]
    limit = asyncio.Semaphore(_STAT_CONCURRENCY)

    async def size(k: str) -> int | None:
        async with limit:
            info = await services.storage.stat(k)
        return info.size if info is not None else None

    sizes = await asyncio.gather(*(size(k) for k in keys))
    # An original gone meanwhile (the photo deleted since the query) is left out.
    found = [Entry(n, k, s) for n, k, s in zip(names, keys, sizes, strict=True) if s is not None]
    return event, found


def _read_from_thread(services: Services, object_key: str) -> Iterator[bytes]:
    """The object's chunks, read on the event loop, handed to zipstream's worker thread."""
    chunks: AsyncIterator[bytes] = services.storage.stream(object_key)

    async def next_chunk() -> bytes | None:
        try:
            return await anext(chunks)
        except StopAsyncIteration:
            return None

    try:
        while (chunk := anyio.from_thread.run(next_chunk)) is not None:
            yield chunk
    finally:
        # A download cut short leaves this generator to the collector, maybe outside the
        # worker thread: then the S3 body is closed with its response instead.
        with contextlib.suppress(RuntimeError):
            anyio.from_thread.run(chunks.aclose)  # type: ignore[attr-defined]


def archive(services: Services, items: list[Entry]) -> tuple[Iterator[bytes], int]:
    """The ZIP's bytes (iterate in a worker thread of the serving event loop) and its exact
    length."""
    zs = zipstream.ZipStream(compress_type=zipstream.ZIP_STORED, sized=True)
    for item in items:
        zs.add(_read_from_thread(services, item.key), item.name, size=item.size)
    return iter(zs), len(zs)


def disposition(event_name: str) -> str:
    """`attachment; filename=...` for `<event name>.zip`."""
    try:
        return content_disposition(f"{event_name}.zip")
    except InvalidKey:
        return content_disposition("momento.zip")
