"""Deferring the push jobs, right after the change that calls for them has committed.

The reveal: one job per event (`reveal:send`, queueing lock ``reveal:<event id>``) scheduled
for release_at. Moving release_at cancels the waiting job and defers a new one. Nothing here
has to be perfect: the job re-reads the event when it runs and does nothing (re-scheduling
itself if needed) unless the event is there and due, and `reveal:safety_net` sends the reveals
whose job never came (a crash between the commit and the defer).

A failure to defer is logged, never raised: the change the client asked for has committed,
and answering 500 would make it retry a create that worked.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import procrastinate
import psycopg
from procrastinate.exceptions import AlreadyEnqueued, ConnectorException

from momento import logs
from momento.db.pool import Conn

log = logs.get("momento.reveal")

REVEAL_TASK = "reveal:send"
JOINED_TASK = "reveal:notify_joined"
NEW_PHOTOS_TASK = "reveal:notify_new_photos"


def reveal_lock(event_id: uuid.UUID | str) -> str:
    return f"reveal:{event_id}"


def new_photos_lock(event_id: uuid.UUID | str) -> str:
    return f"new-photos:{event_id}"


async def schedule_reveal(
    app: procrastinate.App, event_id: uuid.UUID, release_at: datetime
) -> None:
    """Exactly one waiting reveal job for the event, at `release_at` (raises on failure)."""
    lock = reveal_lock(event_id)
    manager = app.job_manager
    task = app.tasks[REVEAL_TASK]
    for _ in range(5):
        waiting = await manager.list_jobs_async(queueing_lock=lock, status="todo")
        stale = [job for job in waiting if job.scheduled_at != release_at]
        if waiting and not stale:
            return  # already at that time
        for job in stale:
            assert job.id is not None
            # False when a worker took it meanwhile: that run re-reads the event.
            await manager.cancel_job_by_id_async(job.id, delete_job=True)
        try:
            await task.configure(schedule_at=release_at, queueing_lock=lock, lock=lock).defer_async(
                event_id=str(event_id)
            )
            return
        except AlreadyEnqueued:
            continue  # a concurrent change deferred one in between: look again
    raise RuntimeError(f"could not schedule the reveal of {event_id}: the lock kept changing")


async def reveal_changed(app: procrastinate.App, event_id: uuid.UUID, release_at: datetime) -> None:
    """After an event was created or its release_at set: its reveal job follows."""
    try:
        await schedule_reveal(app, event_id, release_at)
    except Exception:
        log.exception("reveal not scheduled (the safety net will send it)", event_id=str(event_id))


async def member_joined(app: procrastinate.App, event_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """After a join that added the membership: "Someone joined your Momento" to the creator."""
    try:
        await app.tasks[JOINED_TASK].defer_async(event_id=str(event_id), user_id=str(user_id))
    except Exception:
        log.exception("join notification not deferred", event_id=str(event_id))


async def photo_added(
    app: procrastinate.App,
    event_id: uuid.UUID,
    interval: int,
    *,
    connection: Conn | None = None,
) -> None:
    """After a photo was uploaded: "New photos added" in `interval` seconds, unless a job
    for the event is already waiting (it will announce this photo too).

    With `connection`, the job is queued inside that connection's transaction (the one that
    marks the photo uploaded), so it exists if and only if that commits: never lost to a
    failure after the commit, never doubled by a retried completion. A savepoint keeps the
    waiting job's queueing lock from aborting the transaction, and a failure is the caller's
    (the driver's error, which the database layer answers). Without, it is best effort."""
    lock = new_photos_lock(event_id)
    deferrer = app.tasks[NEW_PHOTOS_TASK].configure(
        queueing_lock=lock, lock=lock, schedule_in={"seconds": interval}, connection=connection
    )
    if connection is None:
        try:
            await deferrer.defer_async(event_id=str(event_id))
        except AlreadyEnqueued:
            pass
        except Exception:
            log.exception("new photos notification not deferred", event_id=str(event_id))
        return
    try:
        async with connection.transaction():
            await deferrer.defer_async(event_id=str(event_id))
    except AlreadyEnqueued:
        pass
    except ConnectorException as exc:
        # procrastinate wraps the driver's error; the database layer answers those (503).
        if isinstance(exc.__cause__, psycopg.Error):
            raise exc.__cause__ from None
        raise
