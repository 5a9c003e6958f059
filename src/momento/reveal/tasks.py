"""The push tasks: the reveal at release_at, the join and new-photos notifications, the net."""

from __future__ import annotations

import math
import random
import uuid
from datetime import UTC, datetime, timedelta

from procrastinate import BaseRetryStrategy, Blueprint, JobContext, RetryDecision
from procrastinate.jobs import Job

from momento import logs
from momento.jobs.context import services_of
from momento.jobs.retry import CappedBackoff
from momento.kit.backoff import doubling
from momento.reveal import service

log = logs.get("momento.reveal")
blueprint = Blueprint()

# Another failure (the database unreachable, APNs answering 429/5xx to the end): retried
# while job.attempts < MAX_ATTEMPTS (as RetryStrategy(max_attempts=...) did), waiting 30, 60,
# 120, 240 s, then 240 s. The ledger keeps what went out, so a retry
# only sends what the failed run did not. (procrastinate's RetryStrategy(exponential_wait=30)
# waits 30 ** (attempts + 1): 30 s, 15 min, 7.5 h, 9 days; hence this strategy of our own.)
RETRY_WAIT = 30.0
RETRY_WAIT_MAX = 240.0
# APNs unreachable or the sender misconfigured (nothing claimed): 5 s doubling to 5 min, with
# jitter, for as long as the notification is news (`PushChannelDown.until`).
CHANNEL_WAIT = 5.0
CHANNEL_WAIT_MAX = 300.0
# Notifications held by another run: tried again once their lease is over (plus this margin),
# the wait bounded by the lease, not by a run count that outages may have used up.
LEASE_MARGIN = 1.0
# Runs at most for a job that keeps finding work left (a safety bound, not a policy).
MAX_RUNS = 100


class PushIncomplete(Exception):
    """Notifications APNs refused with 429/5xx to the end (`to_retry`), or held by another
    run (`held`, the first of them free to take over in `lease_left` seconds): the job runs
    again later."""

    def __init__(self, to_retry: int, held: int, lease_left: float | None) -> None:
        super().__init__(f"{to_retry} notification(s) to retry, {held} held by another run")
        self.to_retry = to_retry
        self.held = held
        self.lease_left = lease_left


class PushRetry(BaseRetryStrategy):
    """When a failed push job runs again (see the constants above)."""

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, service.PushChannelDown):
            now = datetime.now(UTC)
            if now >= exception.until or job.attempts >= MAX_RUNS:
                log.warning(
                    "push job given up: the channel stayed down while it was news",
                    job_id=job.id,
                    task=job.task_name,
                    state=exception.state,
                    error=exception.error,
                )
                return None
            ceiling = doubling(job.attempts, CHANNEL_WAIT, CHANNEL_WAIT_MAX)
            wait = ceiling * random.uniform(0.8, 1.0)  # noqa: S311 - jitter, not a secret
            return RetryDecision(retry_at=min(now + timedelta(seconds=wait), exception.until))
        if isinstance(exception, PushIncomplete):
            # Bounded by the ledger, not by job.attempts (which the runs that waited out an
            # outage have counted): a row APNs keeps refusing is claimed MAX_ATTEMPTS times.
            if job.attempts >= MAX_RUNS:
                return None
            wait = _OTHER_FAILURES.wait(job.attempts)
            if exception.held and exception.lease_left is not None:
                # Held rows can be taken over once their lease is over, not before: that is
                # when to come back (sooner if APNs-refused rows want their retry first).
                lease_over = max(0.0, exception.lease_left) + LEASE_MARGIN
                wait = min(wait, lease_over) if exception.to_retry else lease_over
            return RetryDecision(retry_in={"seconds": math.ceil(wait)})
        return _OTHER_FAILURES.get_retry_decision(exception=exception, job=job)


# Any other failure: the cleanup jobs' kind of retry, with the push jobs' waits and bound.
_OTHER_FAILURES = CappedBackoff(
    first=RETRY_WAIT, cap=RETRY_WAIT_MAX, max_attempts=service.MAX_ATTEMPTS
)


_RETRY = PushRetry()


def _done(run: service.PushRun) -> dict[str, object]:
    if run.retry_later or run.elsewhere:
        raise PushIncomplete(run.retry_later, run.elsewhere, run.lease_left)
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
        except service.PushChannelDown as e:
            # Nothing claimed; every overdue reveal would find the same: next minute again.
            log.info("overdue reveals wait for push", state=e.state, error=e.error)
            break
        except Exception:
            log.exception("overdue reveal failed; next minute again", event_id=str(event_id))
    return len(overdue)
