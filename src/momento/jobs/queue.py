"""The procrastinate App: its connector, its tasks, and running a worker."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import procrastinate
from procrastinate.psycopg_connector import PsycopgConnector

from momento.billing import tasks as billing_tasks
from momento.cleanup import tasks as cleanup_tasks
from momento.jobs import tasks as jobs_tasks
from momento.reveal import tasks as reveal_tasks

if TYPE_CHECKING:
    from momento.deps import Services

# Every domain's task blueprint, with the namespace its task names get ("jobs:retry_stalled").
BLUEPRINTS: list[tuple[str, procrastinate.Blueprint]] = [
    ("jobs", jobs_tasks.blueprint),
    ("cleanup", cleanup_tasks.blueprint),
    ("reveal", reveal_tasks.blueprint),
    ("billing", billing_tasks.blueprint),
]


def _fresh_copy(blueprint: procrastinate.Blueprint) -> procrastinate.Blueprint:
    """The blueprint with tasks of its own. Adding a blueprint to an App renames its tasks
    and binds them to that App, so every App (tests and in-process commands build several in
    one process) gets copies, and an App built earlier keeps its tasks working."""
    fresh = procrastinate.Blueprint()
    copies = {id(task): copy.copy(task) for task in blueprint.tasks.values()}
    for task in copies.values():
        task.blueprint = fresh
    fresh.tasks = {name: copies[id(task)] for name, task in blueprint.tasks.items()}
    for periodic in blueprint.periodic_registry.periodic_tasks.values():
        fresh.periodic_registry.register_task(
            task=copies[id(periodic.task)],
            cron=periodic.cron,
            periodic_id=periodic.periodic_id,
            configure_kwargs=periodic.configure_kwargs,
        )
    return fresh


def make_app(database_url: str, *, pool_max: int = 4) -> procrastinate.App:
    """The job queue on `database_url` (not opened: `await app.open_async()`)."""
    connector = PsycopgConnector(
        conninfo=database_url,
        min_size=1,
        max_size=pool_max,
        kwargs={"options": "-c TimeZone=UTC"},
    )
    app = procrastinate.App(connector=connector)
    for namespace, blueprint in BLUEPRINTS:
        app.add_tasks_from(_fresh_copy(blueprint), namespace=namespace)
    return app


async def run_worker(
    services: Services,
    *,
    concurrency: int = 10,
    name: str = "momento",
    install_signal_handlers: bool = True,
    wait: bool = True,
    queues: list[str] | None = None,
) -> None:
    """Run a worker until it is stopped (a signal, or cancellation of this coroutine)."""
    options: dict[str, Any] = {
        "concurrency": concurrency,
        "name": name,
        "install_signal_handlers": install_signal_handlers,
        "wait": wait,
        "additional_context": {"services": services},
        # Finished jobs are history nobody reads: keep the table small.
        "delete_jobs": "successful",
        "listen_notify": True,
    }
    if queues:
        options["queues"] = queues
    await services.jobs.run_worker_async(**options)
