"""The revoke of a deleted account's Apple token, and the sweep that catches up.

`revoke_apple_token` is queued by migration 0018's trigger in the deleting transaction, with
the user id only. Apple down: it fails and runs again (5 s doubling to 10 min, 12 retries,
about 1 h 40 min); after that the hourly sweep queues it again, until Apple takes the revoke.
"""

from __future__ import annotations

import uuid

from procrastinate import App, Blueprint, JobContext
from procrastinate.exceptions import AlreadyEnqueued

from momento import logs
from momento.auth.apple import service
from momento.jobs.context import services_of
from momento.jobs.retry import CappedBackoff

log = logs.get("momento.auth.apple")
blueprint = Blueprint()

QUEUE = "auth"
RETRY = CappedBackoff(first=5.0, cap=600.0, max_attempts=12)


async def defer_revoke(app: App, user_id: uuid.UUID) -> bool:
    """Queue the revoke for `user_id`; False when one is already waiting."""
    try:
        await app.configure_task(
            service.REVOKE_TASK, queueing_lock=f"{service.REVOKE_TASK}:{user_id}"
        ).defer_async(user_id=str(user_id))
    except AlreadyEnqueued:
        return False
    return True


@blueprint.task(name="revoke_apple_token", queue=QUEUE, retry=RETRY, pass_context=True)
async def revoke_apple_token(context: JobContext, user_id: str) -> bool:
    """Revoke a deleted account's Apple refresh token at Apple, then forget it."""
    return await service.revoke_deleted(services_of(context), uuid.UUID(user_id))


@blueprint.periodic(cron="29 * * * *", periodic_id="sweep_apple_tokens")
@blueprint.task(
    name="sweep_apple_tokens",
    queue=QUEUE,
    queueing_lock="auth:sweep_apple_tokens",
    pass_context=True,
)
async def sweep_apple_tokens(context: JobContext, timestamp: int) -> int:
    """Queue the revoke again for every deleted account's token still stored (its job gave
    up while Apple was down). Returns how many were queued."""
    queued = 0
    for user_id in await service.orphaned_tokens(services_of(context)):
        queued += await defer_revoke(context.app, user_id)
    return queued
