"""The cleanup jobs: daily expiry of free events and of unused guests, hard deletes, the
hourly orphan sweep.

Every job is idempotent and resumable: a worker killed mid-job leaves its work to the retry
(or to the next periodic run), which finishes it (see `momento.cleanup.service`).
"""

from __future__ import annotations

import uuid

from procrastinate import App, Blueprint, JobContext
from procrastinate.exceptions import AlreadyEnqueued

from momento import logs
from momento.cleanup import service
from momento.jobs.context import services_of
from momento.jobs.retry import CappedBackoff

log = logs.get("momento.cleanup")
blueprint = Blueprint()

QUEUE = "maintenance"
# Storage may fail for a while: try again soon, then less often (5 s doubling to 10 min, 8
# retries, about 21 min in all), then leave it to the next periodic run (the hourly sweep
# drains purge records too). procrastinate's exponential_wait=30 waited 30 s, 15 min, 7.5 h.
RETRY = CappedBackoff(first=5.0, cap=600.0, max_attempts=8)


async def defer_purge(app: App, event_id: uuid.UUID) -> bool:
    """Queue the hard delete of a soft-deleted event; False when one is already waiting."""
    try:
        await app.configure_task(
            "cleanup:purge_event", queueing_lock=f"cleanup:purge_event:{event_id}"
        ).defer_async(event_id=str(event_id))
    except AlreadyEnqueued:
        return False
    return True


@blueprint.periodic(cron="17 3 * * *", periodic_id="expire_free_events")
@blueprint.task(
    name="expire_free_events",
    queue=QUEUE,
    queueing_lock="cleanup:expire_free_events",
    pass_context=True,
)
async def expire_free_events(context: JobContext, timestamp: int) -> int:
    """Soft-delete free events past their retention, then queue the hard delete of every
    soft-deleted event (those of earlier runs and those their creator deleted included, so a
    crash between the two steps loses nothing). Returns how many events were soft-deleted."""
    services = services_of(context)
    expired = await service.expire_free_events(services)
    for event_id in await service.deleted_events(services):
        await defer_purge(context.app, event_id)
    return len(expired)


@blueprint.task(name="purge_event", queue=QUEUE, retry=RETRY, pass_context=True)
async def purge_event(context: JobContext, event_id: str) -> int:
    """Hard-delete one soft-deleted event: rows, then files. Returns the files removed."""
    result = await service.purge_event(services_of(context), uuid.UUID(event_id))
    return result.files


@blueprint.task(
    name="purge_files",
    queue=QUEUE,
    queueing_lock="cleanup:purge_files",
    retry=RETRY,
    pass_context=True,
)
async def purge_files(context: JobContext) -> int:
    """Remove the files of every purge record (queued by the triggers of migration 0011 when
    photo or event rows are deleted: account deletion, photo deletion). Returns the files."""
    services = services_of(context)
    result = await service.drain_file_purges(services)
    return result.files


@blueprint.periodic(cron="41 * * * *", periodic_id="sweep_orphans")
@blueprint.task(
    name="sweep_orphans", queue=QUEUE, queueing_lock="cleanup:sweep_orphans", pass_context=True
)
async def sweep_orphans(context: JobContext, timestamp: int) -> int:
    """Purge records left behind, expired pending uploads, files no row points to. Returns
    how many orphan files were removed."""
    result = await service.sweep_orphans(services_of(context))
    return len(result.orphans)


@blueprint.periodic(cron="29 3 * * *", periodic_id="delete_stale_guests")
@blueprint.task(
    name="delete_stale_guests",
    queue=QUEUE,
    queueing_lock="cleanup:delete_stale_guests",
    pass_context=True,
)
async def delete_stale_guests(context: JobContext, timestamp: int) -> int:
    """Delete the guests (anonymous users) not used for `anonymous_user_retention_days`,
    with their data; their photos' files go through `purge_files`, which the deletion
    queues. Returns how many guests were deleted."""
    return len(await service.delete_stale_guests(services_of(context)))
