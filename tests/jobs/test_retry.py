"""The cleanup jobs' retry: 5 s doubling to 10 min, 8 retries, then given up.

procrastinate's RetryStrategy(exponential_wait=30) waited 30 s, 15 min, 7.5 h: a storage
outage of minutes pushed purges hours away. The waits are checked on the strategy, and on a
real purge job failing against a read-only disk, run by a real worker (its attempts counted by
procrastinate, its next run scheduled from them).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from procrastinate.jobs import Job

from momento.cleanup import tasks as cleanup_tasks
from momento.jobs.queue import run_worker
from momento.jobs.retry import CappedBackoff
from momento.services import Services
from momento.storage import FileUrlSigner, LocalDiskStorage
from tests.factories import add_photo, create_user, make_event, sql
from tests.storage.disks import remount, tmpfs
from tests.storage.helpers import BASE_URL, SECRET

WAITS = [5, 10, 20, 40, 80, 160, 320, 600]


def _job(attempts: int) -> Job:
    return Job(
        id=1,
        queue="maintenance",
        lock=None,
        queueing_lock=None,
        task_name="cleanup:purge_files",
        attempts=attempts,
    )


def test_the_waits_double_from_5_s_to_10_min_then_the_job_is_given_up() -> None:
    strategy = cleanup_tasks.RETRY
    assert isinstance(strategy, CappedBackoff)
    waits = []
    for attempts in range(len(WAITS)):
        before = datetime.now(UTC)
        decision = strategy.get_retry_decision(exception=OSError("down"), job=_job(attempts))
        assert decision is not None
        assert decision.retry_at is not None
        waits.append(round((decision.retry_at - before).total_seconds()))
    assert waits == WAITS
    assert strategy.get_retry_decision(exception=OSError("down"), job=_job(8)) is None


@pytest.mark.parametrize("attempts", [40, 10_000])
def test_a_huge_attempt_count_stays_at_the_cap(attempts: int) -> None:
    assert CappedBackoff(max_attempts=100_000).wait(attempts) == 600


def test_every_cleanup_task_that_retries_uses_it(services: Services) -> None:
    for name in ("cleanup:purge_event", "cleanup:purge_files"):
        assert services.jobs.tasks[name].retry_strategy is cleanup_tasks.RETRY


async def test_a_purge_failing_on_a_read_only_disk_comes_back_in_5_then_10_s(
    services: Services, tmp_path: Path
) -> None:
    with tmpfs(tmp_path / "disk", "4m") as disk:
        storage = LocalDiskStorage(disk / "files", FileUrlSigner(SECRET, BASE_URL))
        await storage.open()
        svc = dataclasses.replace(services, storage=storage)
        try:
            ana = await create_user(svc, "ana")
            event = await make_event(svc, ana, revealed=False)
            photo = await add_photo(svc, event, ana)
            await storage.put(f"events/{event}/{photo}/original", b"x", "image/jpeg")
            # The delete records the files and queues cleanup:purge_files (migration 0011).
            await sql(svc, "DELETE FROM public.photos WHERE id = %s", photo)
            remount(disk, "ro")
            try:
                for attempts, wait in ((1, 5), (2, 10)):
                    started = datetime.now(UTC)
                    await run_worker(svc, install_signal_handlers=False, wait=False, concurrency=1)
                    [job] = await sql(
                        svc,
                        "SELECT id, status::text AS status, attempts, scheduled_at"
                        " FROM procrastinate_jobs WHERE task_name = 'cleanup:purge_files'",
                    )
                    assert (job["status"], job["attempts"]) == ("todo", attempts)
                    waited = job["scheduled_at"] - started
                    assert timedelta(seconds=wait - 1) <= waited <= timedelta(seconds=wait + 5)
                    # Due now: the next worker run takes it (rather than sleeping the wait).
                    await sql(
                        svc,
                        "UPDATE procrastinate_jobs SET scheduled_at = now() WHERE id = %s",
                        job["id"],
                    )
            finally:
                remount(disk, "rw")
            await run_worker(svc, install_signal_handlers=False, wait=False, concurrency=1)
            assert [o async for o in storage.list("events/")] == []
            assert await sql(svc, "SELECT prefix FROM momento.file_purges") == []
        finally:
            await storage.close()
