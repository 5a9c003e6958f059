"""The procrastinate App: its connector, its tasks, and running a worker."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import signal
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import procrastinate
from procrastinate.psycopg_connector import PsycopgConnector

from momento import logs
from momento.auth.apple import tasks as apple_tasks
from momento.billing import tasks as billing_tasks
from momento.cleanup import tasks as cleanup_tasks
from momento.db.pool import RECONNECT_TIMEOUT, SESSION_OPTIONS
from momento.jobs import tasks as jobs_tasks
from momento.legacy import tasks as legacy_tasks
from momento.reveal import tasks as reveal_tasks

if TYPE_CHECKING:
    from momento.services import Services

log = logs.get("momento.jobs")

# A worker that stopped on its own (its database connection lost: a restart, a failover) is
# started again after this many seconds, doubling up to the maximum while it keeps failing.
RESTART_DELAY = 1.0
RESTART_DELAY_MAX = 30.0
# A run that lasted this long was healthy: the next failure starts from the first delay.
HEALTHY_RUN = 60.0

# Every domain's task blueprint, with the namespace its task names get ("jobs:retry_stalled").
BLUEPRINTS: list[tuple[str, procrastinate.Blueprint]] = [
    ("jobs", jobs_tasks.blueprint),
    ("cleanup", cleanup_tasks.blueprint),
    ("reveal", reveal_tasks.blueprint),
    ("billing", billing_tasks.blueprint),
    ("auth", apple_tasks.blueprint),
    ("legacy", legacy_tasks.blueprint),
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


def make_app(database_url: str, *, pool_max: int = 4, timeout: float = 5.0) -> procrastinate.App:
    """The job queue on `database_url` (not opened: `await app.open_async()`)."""
    connector = PsycopgConnector(
        conninfo=database_url,
        min_size=1,
        max_size=pool_max,
        kwargs={"options": SESSION_OPTIONS},
        # procrastinate checks each connection at checkout itself (a round trip: fine off the
        # feed's path), so connections that died with a database restart are replaced; a defer
        # waits `timeout` for a connection; reconnecting as the request pool does.
        timeout=timeout,
        reconnect_timeout=RECONNECT_TIMEOUT,
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
    """Run a worker until it is stopped (SIGINT/SIGTERM with `install_signal_handlers`, or
    cancellation of this coroutine), restarting it whenever it stops on its own.

    procrastinate's worker ends when a side task fails: its LISTEN connection, its heartbeat
    or its job fetching, as all three do when PostgreSQL restarts. It is then started again
    here (a new worker id, a new listener) after a short, growing delay, so a database restart
    never needs a hand restart of `momento worker` or `momento serve`. The jobs the old worker
    held are finished by it if the database comes back in time, else run again once its
    heartbeat is stale (`jobs:retry_stalled`). With `wait=False` (tests, one-shot runs) the
    worker runs once, until the queue is empty.
    """
    settings = services.settings
    options: dict[str, Any] = {
        "concurrency": concurrency,
        "name": name,
        # Signals are ours: procrastinate's handler would stop the worker in a way that this
        # loop could not tell from a failure.
        "install_signal_handlers": False,
        "wait": wait,
        "additional_context": {"services": services},
        # Finished jobs are history nobody reads: keep the table small.
        "delete_jobs": "successful",
        "listen_notify": True,
        "update_heartbeat_interval": settings.worker_heartbeat_interval,
        "stalled_worker_timeout": settings.worker_stalled_after,
    }
    if queues:
        options["queues"] = queues
    if not wait:
        await services.jobs.run_worker_async(**options)
        return
    stop = asyncio.Event()
    with _stop_on_signals(stop, enabled=install_signal_handlers):
        delay = RESTART_DELAY
        while not stop.is_set():
            started = time.monotonic()
            worker = asyncio.create_task(
                services.jobs.run_worker_async(**options), name=f"{name}-jobs"
            )
            stopping = asyncio.create_task(stop.wait())
            try:
                await asyncio.wait({worker, stopping}, return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                await _stop_worker(worker)
                raise
            finally:
                stopping.cancel()
            if stop.is_set():
                await _stop_worker(worker)
                return
            error = None if worker.cancelled() else worker.exception()
            if time.monotonic() - started >= HEALTHY_RUN:
                delay = RESTART_DELAY
            # One line for a lost database (procrastinate's ConnectorException only says
            # "Database error.": the psycopg error under it says what failed); anything else
            # that ended the worker is a bug, and keeps its traceback. A worker that stopped
            # on its own had a side task fail: momento.logs.FaultLines logged why just before.
            log.warning(
                "job worker stopped; starting it again",
                error=logs.describe(error) if error else "stopped on its own",
                retry_in=round(delay, 1),
                exc_info=error if error and logs.connection_loss(error) is None else None,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, RESTART_DELAY_MAX)


async def _stop_worker(worker: asyncio.Task[None]) -> None:
    """Cancel the worker: procrastinate then stops taking jobs and waits for those in hand."""
    worker.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await worker


@contextlib.contextmanager
def _stop_on_signals(stop: asyncio.Event, *, enabled: bool) -> Iterator[None]:
    """SIGINT/SIGTERM set `stop` (a graceful stop after the jobs in hand); a second signal
    gets the default behaviour (Ctrl-C twice: stop now)."""
    if not enabled:
        yield
        return
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)

    def on_signal() -> None:
        if not stop.is_set():
            log.info("stopping the job worker after the jobs in hand (again to stop now)")
        stop.set()
        for sig in signals:
            loop.remove_signal_handler(sig)

    for sig in signals:
        loop.add_signal_handler(sig, on_signal)
    try:
        yield
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
