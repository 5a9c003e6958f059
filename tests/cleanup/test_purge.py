"""The hard delete of an event: rows then files, resumable after a crash at every step, and
safe when two run at once."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import pytest

from momento.cleanup import service
from momento.services import Services
from momento.storage import LocalDiskStorage
from tests.cleanup.helpers import (
    Crash,
    CrashingStorage,
    check_invariants,
    photos_with_files,
    purge_records,
    stored,
)
from tests.factories import DAY, create_user, make_event, sql


async def _deleted_event(svc: Services) -> tuple[uuid.UUID, dict[uuid.UUID, set[str]]]:
    """A soft-deleted event with three photos (two owners) and a stray file of its own."""
    ana = await create_user(svc, "ana")
    bob = await create_user(svc, "bob")
    event = await make_event(svc, ana, release_in=-10 * DAY, deleted=True, members=[bob])
    files = await photos_with_files(svc, event, ana, 2)
    files |= await photos_with_files(svc, event, bob, 1)
    await svc.storage.put(f"events/{event}/cover.jpg", b"x", "image/jpeg")
    return event, files


async def _gone(svc: Services, event: uuid.UUID) -> None:
    assert await sql(svc, "SELECT id FROM public.events WHERE id = %s", event) == []
    assert await sql(svc, "SELECT id FROM public.photos WHERE event_id = %s", event) == []
    assert await sql(svc, "SELECT 1 FROM public.event_members WHERE event_id = %s", event) == []
    assert await stored(svc, f"events/{event}/") == set()
    assert await purge_records(svc) == set()


async def test_purge_removes_rows_then_every_file(svc: Services) -> None:
    event, _files = await _deleted_event(svc)
    result = await service.purge_event(svc, event)
    assert (result.events, result.photos, result.prefixes) == (1, 3, 4)
    assert result.files == 3 * 3 + 1
    await _gone(svc, event)
    # Again: nothing left to do.
    again = await service.purge_event(svc, event)
    assert (again.events, again.prefixes, again.files) == (0, 0, 0)


# Four removals: three photo prefixes, then the event's. Dying before removal 0 is dying
# between the rows' transaction and the first file.
@pytest.mark.parametrize("after", [False, True], ids=["before", "after"])
@pytest.mark.parametrize("at", [0, 1, 2, 3])
async def test_a_crash_at_any_step_is_finished_by_the_next_run(
    svc: Services, at: int, after: bool
) -> None:
    event, files = await _deleted_event(svc)
    assert isinstance(svc.storage, LocalDiskStorage)
    crashing = CrashingStorage(svc.storage, at, after=after)
    with pytest.raises(Crash):
        await service.purge_event(dataclasses.replace(svc, storage=crashing), event)
    # The crash left a consistent state: rows gone with their files recorded, every file
    # still stored reachable from a record, and the record being removed still there.
    assert await sql(svc, "SELECT id FROM public.photos WHERE event_id = %s", event) == []
    assert len(await purge_records(svc)) == 4 - at
    await check_invariants(svc, files)
    # The retry finishes the work.
    result = await service.purge_event(svc, event)
    assert (result.events, result.prefixes) == (0, 4 - at)
    await _gone(svc, event)


async def test_two_purges_of_one_event_at_once(svc: Services) -> None:
    event, _files = await _deleted_event(svc)
    first, second = await asyncio.gather(
        service.purge_event(svc, event), service.purge_event(svc, event)
    )
    assert first.events + second.events == 1
    assert first.prefixes + second.prefixes == 4
    assert first.files + second.files == 10
    await _gone(svc, event)


async def test_a_live_event_is_never_purged(svc: Services) -> None:
    ana = await create_user(svc, "ana")
    event = await make_event(svc, ana, release_in=-30 * DAY)
    files = await photos_with_files(svc, event, ana, 2)
    result = await service.purge_event(svc, event)
    assert (result.events, result.prefixes, result.files) == (0, 0, 0)
    assert await stored(svc) == set().union(*files.values())
    assert len(await sql(svc, "SELECT id FROM public.photos WHERE event_id = %s", event)) == 2


async def test_a_record_whose_photo_is_back_keeps_the_files(svc: Services) -> None:
    """A client may choose a photo's id: re-created after its delete, the files are its own."""
    ana = await create_user(svc, "ana")
    event = await make_event(svc, ana, release_in=DAY)
    files = await photos_with_files(svc, event, ana, 1)
    (photo_id,) = files
    async with svc.db.privileged() as conn:
        await conn.execute("DELETE FROM public.photos WHERE id = %s", (photo_id,))
        await conn.execute(
            "INSERT INTO public.photos (id, event_id, user_id, storage_path)"
            " VALUES (%s, %s, %s, %s)",
            (photo_id, event, ana.id, f"events/{event}/{photo_id}"),
        )
    assert await purge_records(svc) == {f"events/{event}/{photo_id}/"}
    result = await service.drain_file_purges(svc)
    assert (result.prefixes, result.files) == (1, 0)
    assert await stored(svc) == files[photo_id]
    assert await purge_records(svc) == set()
