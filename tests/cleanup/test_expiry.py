"""The daily job: free events go 7 days after their reveal (rows and files), premium events
and younger free events stay; the jobs it queues run on a worker."""

from __future__ import annotations

from momento.cleanup import service
from momento.jobs.queue import run_worker
from momento.services import Services
from tests.cleanup.helpers import photos_with_files, purge_records, stored
from tests.factories import DAY, create_user, make_event, sql


async def _run_jobs(svc: Services) -> None:
    """Every queued job (and those they queue), on a worker that stops when none is left.

    One at a time: with wait=False procrastinate stops at the first fetch that finds no job,
    and with two slots that fetch can run while expire_free_events is still queueing the
    purges it starts (seen once: the purges never ran). With one slot the next fetch waits
    for the running job to finish."""
    await run_worker(svc, install_signal_handlers=False, wait=False, concurrency=1)


def test_the_cleanup_tasks_are_registered(services: Services) -> None:
    for name in ("expire_free_events", "purge_event", "purge_files", "sweep_orphans"):
        assert f"cleanup:{name}" in services.jobs.tasks
    registry = services.jobs.periodic_registry.periodic_tasks
    periodic = {p.task.name: p.cron for p in registry.values()}
    assert periodic["cleanup:expire_free_events"] == "17 3 * * *"  # daily
    assert periodic["cleanup:sweep_orphans"] == "41 * * * *"  # hourly


async def test_free_events_go_a_week_after_the_reveal(svc: Services) -> None:
    ana = await create_user(svc, "ana")
    bob = await create_user(svc, "bob")
    old_free = await make_event(svc, ana, release_in=-8 * DAY, members=[bob])
    old_premium = await make_event(svc, ana, release_in=-30 * DAY, premium=True)
    young_free = await make_event(svc, ana, release_in=-6 * DAY)
    upcoming = await make_event(svc, bob, release_in=2 * DAY)
    by_creator = await make_event(svc, bob, release_in=-DAY, premium=True, deleted=True)
    await photos_with_files(svc, old_free, ana, 2)
    await photos_with_files(svc, old_free, bob, 1)
    await photos_with_files(svc, by_creator, bob, 1)
    kept: set[str] = set()
    for event in (old_premium, young_free, upcoming):
        for keys in (await photos_with_files(svc, event, ana, 2)).values():
            kept |= keys

    await svc.jobs.tasks["cleanup:expire_free_events"].defer_async(timestamp=0)
    await _run_jobs(svc)

    remaining = await sql(svc, "SELECT id, is_deleted FROM public.events ORDER BY id")
    assert {(r["id"], r["is_deleted"]) for r in remaining} == {
        (old_premium, False),
        (young_free, False),
        (upcoming, False),
    }
    for gone in (old_free, by_creator):
        assert await sql(svc, "SELECT 1 FROM public.photos WHERE event_id = %s", gone) == []
        assert await sql(svc, "SELECT 1 FROM public.event_members WHERE event_id = %s", gone) == []
    assert await stored(svc) == kept
    assert await purge_records(svc) == set()
    assert await sql(svc, "SELECT id FROM procrastinate_jobs WHERE status <> 'succeeded'") == []


async def test_the_retention_is_a_setting(svc: Services) -> None:
    ana = await create_user(svc, "ana")
    event = await make_event(svc, ana, release_in=-3 * DAY)
    svc.settings = svc.settings.model_copy(update={"free_event_retention_days": 2})
    assert await service.expire_free_events(svc) == [event]
    assert await service.expire_free_events(svc) == []
    assert await service.deleted_events(svc) == [event]
