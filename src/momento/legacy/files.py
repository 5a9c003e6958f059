"""`momento legacy import --files`: the imported photos' files, copied from the old bucket
(Supabase Storage speaks S3) into this server's storage, with the display and thumbnail
variants and the blurhash made as an upload's are (momento.photos.processing).

Resumable: momento.legacy_files marks each photo copied once its files and row are written;
a run killed midway, or run again later, copies only what is left. A file missing at the
source, or that is not an image, is marked with why and counted (verify lists it); the next
run tries those again. The same work is a job (`legacy:copy_files`) a worker can run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, LiteralString

from momento import logs
from momento.photos import processing
from momento.photos.service import DISPLAY, ORIGINAL, THUMB, key
from momento.storage import InvalidKey, Storage, StorageNotFound
from momento.storage import from_url as storage_from_url

if TYPE_CHECKING:
    from momento.config import Settings
    from momento.services import Services

log = logs.get("momento.legacy")

# Photos copied at once (each read, processed and written concurrently).
BATCH = 8

RETRY_FAILED: LiteralString = (
    "UPDATE momento.legacy_files SET failure = NULL WHERE copied_at IS NULL AND failure IS NOT NULL"
)
LEFT: LiteralString = (
    "SELECT count(*) AS n FROM momento.legacy_files WHERE copied_at IS NULL AND failure IS NULL"
)
NEXT_BATCH: LiteralString = """
SELECT f.photo_id, f.source_path, p.storage_path FROM momento.legacy_files f
JOIN public.photos p ON p.id = f.photo_id
WHERE f.copied_at IS NULL AND f.failure IS NULL
ORDER BY f.photo_id LIMIT %(limit)s
"""
MARK_COPIED: LiteralString = """
WITH photo AS (
  UPDATE public.photos SET width = %(width)s, height = %(height)s, blurhash = %(blurhash)s
  WHERE id = %(id)s RETURNING id
), media AS (
  INSERT INTO public.photo_media (photo_id, declared_type, declared_size, content_type, byte_size,
                                  processed_at)
  SELECT id, %(type)s, %(size)s, %(type)s, %(size)s, now() FROM photo
  ON CONFLICT (photo_id) DO UPDATE SET content_type = excluded.content_type,
    byte_size = excluded.byte_size, processed_at = excluded.processed_at
)
UPDATE momento.legacy_files SET copied_at = now(), failure = NULL WHERE photo_id = %(id)s
"""
MARK_FAILED: LiteralString = """
UPDATE momento.legacy_files SET failure = %(why)s WHERE photo_id = %(id)s
"""


@dataclass
class Copied:
    copied: int = 0
    failed: int = 0


def old_bucket(settings: Settings, url: str) -> Storage:
    """The old bucket named by `url` (`s3://bucket[/prefix]?endpoint=...&region=...`, the
    form of STORAGE_URL; `file:///path` for a folder holding a copy of it), with the
    LEGACY_S3_* credentials. Raises ValueError for an unusable URL."""
    return storage_from_url(
        url,
        Path(settings.data_dir),
        b"legacy-import-reads-only-" + b"x" * 16,  # a local source is read, never served
        settings.base_url,
        access_key=settings.legacy_s3_access_key_id,
        secret_key=settings.legacy_s3_secret_access_key,
    )


async def left(services: Services) -> int:
    async with services.db.privileged() as conn:
        cur = await conn.execute(LEFT)
        row = await cur.fetchone()
    return int(row["n"]) if row else 0


async def _copy_one(services: Services, old: Storage, row: dict[str, Any]) -> bool:
    try:
        data = await old.read(row["source_path"])
    except StorageNotFound:
        return await _failed(services, row, "missing in the old bucket")
    except InvalidKey:
        return await _failed(services, row, "a path this server cannot read")
    try:
        result = await processing.process_async(
            data, max_pixels=services.settings.max_pixels, executor=services.image_executor
        )
    except processing.ImageRejected as exc:
        return await _failed(services, row, f"not imported: {exc.code}")
    path = row["storage_path"]
    # Files first, then the row: a crash between leaves the photo to copy again.
    await services.storage.put(key(path, ORIGINAL), result.original, result.original_mime)
    await services.storage.put(key(path, DISPLAY), result.display, "image/jpeg")
    await services.storage.put(key(path, THUMB), result.thumb, "image/jpeg")
    async with services.db.privileged() as conn:
        await conn.execute(
            MARK_COPIED,
            {
                "id": row["photo_id"],
                "width": result.width,
                "height": result.height,
                "blurhash": result.blurhash,
                "type": result.mime,
                "size": len(data),
            },
        )
    return True


async def _failed(services: Services, row: dict[str, Any], why: str) -> bool:
    async with services.db.privileged() as conn:
        await conn.execute(MARK_FAILED, {"id": row["photo_id"], "why": why})
    log.info("legacy file not copied", photo_id=str(row["photo_id"]), reason=why)
    return False


async def copy_all(
    services: Services, old: Storage, progress: Callable[[int], None] = lambda _: None
) -> Copied:
    """Copy every imported photo's file not copied yet; `progress(n)` after each batch.
    A storage fault stops the run (StorageError): what was copied stays copied."""
    done = Copied()
    async with services.db.privileged() as conn:
        await conn.execute(RETRY_FAILED)
    while True:
        async with services.db.privileged() as conn:
            cur = await conn.execute(NEXT_BATCH, {"limit": BATCH})
            batch = await cur.fetchall()
        if not batch:
            return done
        results = await asyncio.gather(*(_copy_one(services, old, row) for row in batch))
        done.copied += sum(results)
        done.failed += len(results) - sum(results)
        progress(len(results))
