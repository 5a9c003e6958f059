"""The queue's own upkeep."""

from __future__ import annotations

from procrastinate import Blueprint, JobContext

from momento import logs
from momento.jobs.context import services_of

log = logs.get("momento.jobs")
blueprint = Blueprint()


# Every 10 seconds (croniter's sixth field is the second): a job held by a worker that died
# runs again within MOMENTO_WORKER_STALLED_AFTER + 10 s, not a minute later. One cheap query.
@blueprint.periodic(cron="* * * * * */10", periodic_id="retry_stalled")
@blueprint.task(
    name="retry_stalled", queue="maintenance", queueing_lock="retry_stalled", pass_context=True
)
async def retry_stalled(context: JobContext, timestamp: int) -> int:
    """Requeue the jobs of workers that died mid-job: nothing a killed worker held is lost.

    Every task is idempotent, so running one again after a partial run is safe.
    """
    manager = context.app.job_manager
    # A worker silent for this long is taken for dead (MOMENTO_WORKER_STALLED_AFTER).
    after = services_of(context).settings.worker_stalled_after
    stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=after))
    for job in stalled:
        log.warning("retrying a stalled job", job_id=job.id, task=job.task_name)
        await manager.retry_job(job)
    await manager.prune_stalled_workers(after)
    return len(stalled)
