"""Photos with their files, file ages, a storage that dies mid-purge, and the two invariants
every intermediate state must keep. (Events at chosen ages: make_event(release_in=...).)"""

from __future__ import annotations

import os
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from momento.photos.service import UPLOAD, key
from momento.services import Services
from momento.storage import LocalDiskStorage
from tests.factories import BASE, UserRef, add_photos, sql
from tests.photos.helpers import VARIANTS

T = TypeVar("T")


async def photos_with_files(
    svc: Services,
    event_id: uuid.UUID,
    owner: UserRef,
    n: int = 1,
    *,
    status: str = "uploaded",
) -> dict[uuid.UUID, set[str]]:
    """`n` photos of `owner` with their stored files (the variants, or the raw upload of a
    pending photo); returns each photo's keys."""
    ids = await add_photos(svc, event_id, owner, [BASE] * n, status=status)
    names = VARIANTS if status == "uploaded" else (UPLOAD,)
    files: dict[uuid.UUID, set[str]] = {}
    for photo_id in ids:
        path = f"events/{event_id}/{photo_id}"
        files[photo_id] = {key(path, name) for name in names}
        for k in files[photo_id]:
            await svc.storage.put(k, k.encode(), "image/jpeg")
    return files


async def stored(svc: Services, prefix: str = "events/") -> set[str]:
    return {o.key async for o in svc.storage.list(prefix)}


def age(svc: Services, key_: str, *, hours: float) -> None:
    """Make a stored file look `hours` old (the local backend reports the file's mtime)."""
    assert isinstance(svc.storage, LocalDiskStorage)
    when = (datetime.now(UTC) - timedelta(hours=hours)).timestamp()
    os.utime(svc.storage.root / key_, (when, when))


async def purge_records(svc: Services) -> set[str]:
    return {r["prefix"] for r in await sql(svc, "SELECT prefix FROM momento.file_purges")}


async def check_invariants(svc: Services, files: dict[uuid.UUID, set[str]]) -> None:
    """No photo row whose files are gone; no stored file that neither a row nor a purge
    record reaches. `files`: the keys each photo was given."""
    keys = await stored(svc)
    photos = await sql(svc, "SELECT id, storage_path FROM public.photos")
    for photo in photos:
        if photo["id"] in files:
            missing = files[photo["id"]] - keys
            assert not missing, f"photo {photo['id']} is still there without {missing}"
    live = {p["storage_path"] + "/" for p in photos}
    queued = await purge_records(svc)
    for k in keys:
        parts = k.split("/")
        event_prefix = "/".join(parts[:2]) + "/"
        photo_prefix = "/".join(parts[:3]) + "/"
        assert photo_prefix in live or photo_prefix in queued or event_prefix in queued, (
            f"{k} is reachable from nothing"
        )


class Crash(Exception):
    """The process dies here."""


class CrashingStorage(LocalDiskStorage):
    """The same files; the process dies at removal number `at` (0-based), before it starts
    or, with `after`, once it is done."""

    def __init__(self, inner: LocalDiskStorage, at: int, *, after: bool = False) -> None:
        super().__init__(inner.root, inner.signer)
        self.at = at
        self.after = after
        self.removals = 0

    async def _removal(self, do: Callable[[], Awaitable[T]]) -> T:
        n = self.removals
        self.removals += 1
        if n == self.at and not self.after:
            raise Crash(f"before removal {n}")
        result = await do()
        if n == self.at and self.after:
            raise Crash(f"after removal {n}")
        return result

    async def delete_prefix(self, prefix: str) -> int:
        return await self._removal(lambda: LocalDiskStorage.delete_prefix(self, prefix))

    async def delete(self, key: str) -> None:
        await self._removal(lambda: LocalDiskStorage.delete(self, key))
