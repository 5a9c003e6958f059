"""Billing jobs: applying stored RevenueCat webhooks, and the sweep that catches up.

The webhook route stores an event and defers `apply_revenuecat_events`; at most one such job
waits in the queue at a time (its queueing lock), and each run applies every pending event, so
a burst of deliveries costs one run. The periodic sweep applies whatever a lost deferral left
behind and takes premium from events whose host entitlement ran out without a webhook.
"""

from __future__ import annotations

import procrastinate
from procrastinate import Blueprint, JobContext

from momento.billing import webhooks
from momento.jobs.context import services_of

blueprint = Blueprint()


# Deferred by name: webhooks.APPLY.
@blueprint.task(
    name="apply_revenuecat_events",
    queue="billing",
    queueing_lock="apply_revenuecat_events",
    pass_context=True,
    retry=procrastinate.RetryStrategy(max_attempts=5, wait=10),
)
async def apply_revenuecat_events(context: JobContext) -> int:
    """Apply the stored RevenueCat events not yet processed, oldest event first."""
    services = services_of(context)
    return await webhooks.apply_pending_events(services)


@blueprint.periodic(cron="* * * * *", periodic_id="billing_sweep")
@blueprint.task(name="sweep", queue="billing", queueing_lock="billing_sweep", pass_context=True)
async def sweep(context: JobContext, timestamp: int) -> int:
    """Apply pending events and end the premium of entitlements that expired meanwhile."""
    services = services_of(context)
    return await webhooks.apply_pending_events(services)
