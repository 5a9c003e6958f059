"""The push tasks: the reveal at release_at, the join and new-photos notifications, the net."""

from __future__ import annotations

import uuid

from procrastinate import Blueprint, JobContext, RetryStrategy

from momento import logs
from momento.jobs.context import services_of
from momento.reveal import service

log = logs.get("momento.reveal")
blueprint = Blueprint()

# A run that fails (database or APNs unreachable) is tried again; the ledger keeps what
# went out, so a retry only sends what the failed run did not.
# Waits of 30, 60, 120, 240 s: past the ledger's lease, so notifications left 'sending' by a
# worker that died are sent by a later attempt.
_RETRY = RetryStrategy(max_attempts=service.MAX_ATTEMPTS, exponential_wait=30)


class PushIncomplete(Exception):
    """Notifications APNs refused with 429/5xx to the end, or held by another run: the job
    runs again later."""


def _done(run: service.PushRun) -> dict[str, object]:
    if run.retry_later or run.elsewhere:
        raise PushIncomplete(
            f"{run.retry_later} notification(s) to retry, {run.elsewhere} held by another run"
        )
    return run.as_dict()


@blueprint.task(name="send", queue="push", pass_context=True, retry=_RETRY)
async def send(context: JobContext, event_id: str) -> dict[str, object]:
    """The reveal of one event (deferred by `scheduling.schedule_reveal` for release_at)."""
    run = await service.run_reveal(services_of(context), uuid.UUID(event_id))
    return _done(run)


@blueprint.task(name="notify_joined", queue="push", pass_context=True, retry=_RETRY)
async def notify_joined(context: JobContext, event_id: str, user_id: str) -> dict[str, object]:
    """ "Someone joined your Momento" to the creator of the event `user_id` joined."""
    run = await service.notify_joined(services_of(context), uuid.UUID(event_id), uuid.UUID(user_id))
    return _done(run)


@blueprint.task(name="notify_new_photos", queue="push", pass_context=True, retry=_RETRY)
async def notify_new_photos(context: JobContext, event_id: str) -> dict[str, object]:
    """ "New photos added": the uploads of the last interval, in one notification."""
    # The job's id names the batch in the ledger: the same for every attempt of this job.
    ref = f"job-{context.job.id}"
    run = await service.notify_new_photos(services_of(context), uuid.UUID(event_id), ref)
    return _done(run)


@blueprint.periodic(cron="* * * * *", periodic_id="reveal_safety_net")
@blueprint.task(
    name="safety_net", queue="push", queueing_lock="reveal_safety_net", pass_context=True
)
async def safety_net(context: JobContext, timestamp: int) -> int:
    """Sends the reveals that are overdue: their job was never deferred (a crash between the
    event's commit and the defer) or died with notifications in flight."""
    services = services_of(context)
    overdue = await service.overdue_reveals(services)
    for event_id in overdue:
        log.warning("sending an overdue reveal", event_id=str(event_id))
        try:
            await service.run_reveal(services, event_id)
        except Exception:
            log.exception("overdue reveal failed; next minute again", event_id=str(event_id))
    return len(overdue)
