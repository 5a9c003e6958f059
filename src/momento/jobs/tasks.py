"""The queue's own upkeep."""

from __future__ import annotations

from procrastinate import Blueprint, JobContext

from momento import logs

log = logs.get("momento.jobs")
blueprint = Blueprint()

# A worker that stops sending heartbeats for this long is taken for dead.
STALLED_AFTER_SECONDS = 30


@blueprint.periodic(cron="* * * * *", periodic_id="retry_stalled")
@blueprint.task(
    name="retry_stalled", queue="maintenance", queueing_lock="retry_stalled", pass_context=True
)
async def retry_stalled(context: JobContext, timestamp: int) -> int:
    """Requeue the jobs of workers that died mid-job: nothing a killed worker held is lost.

    Every task is idempotent, so running one again after a partial run is safe.
    """
    manager = context.app.job_manager
    stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER_SECONDS))
    for job in stalled:
        log.warning("retrying a stalled job", job_id=job.id, task=job.task_name)
        await manager.retry_job(job)
    await manager.prune_stalled_workers(STALLED_AFTER_SECONDS)
    return len(stalled)
