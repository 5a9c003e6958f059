"""The job queue: tasks registered, a worker runs deferred jobs once, stalled jobs come back."""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner

from momento.cli import main
from momento.jobs.queue import run_worker
from momento.services import Services
from tests.factories import sql


def test_every_domain_task_is_registered(services: Services) -> None:
    assert "jobs:retry_stalled" in services.jobs.tasks


async def test_a_killed_workers_job_is_retried(services: Services) -> None:
    """A job left in `doing` by a worker whose heartbeat stopped goes back to the queue."""
    [worker] = await sql(
        services,
        "INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now() - interval '1 hour')"
        " RETURNING id",
    )
    [job] = await sql(
        services,
        "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status, worker_id)"
        " VALUES ('default', 'jobs:retry_stalled', '{\"timestamp\": 0}', 'doing', %s)"
        " RETURNING id",
        worker["id"],
    )
    task = services.jobs.tasks["jobs:retry_stalled"]
    await task.defer_async(timestamp=0)
    # Runs the queued retry_stalled job (and, once requeued, the stalled one), then stops.
    await run_worker(services, install_signal_handlers=False, wait=False, concurrency=1)
    rows = await sql(
        services, "SELECT status::text AS status FROM procrastinate_jobs WHERE id = %s", job["id"]
    )
    # The stalled job was requeued and then run (successful jobs are deleted).
    assert rows == []
    assert (
        await sql(services, "SELECT id FROM procrastinate_workers WHERE id = %s", worker["id"])
        == []
    )


async def test_jobs_command_lists_the_queue(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    task = services.jobs.tasks["jobs:retry_stalled"]
    await task.configure(schedule_in={"hours": 1}).defer_async(timestamp=0)
    result = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        ["jobs"],
        env={"DATABASE_URL": database_url, "MOMENTO_DATA_DIR": str(tmp_path)},
    )
    assert result.exit_code == 0, result.output
    assert "scheduled: 1" in result.output
    assert "jobs:retry_stalled" in result.output
