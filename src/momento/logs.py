"""Structured logging: JSON lines in production, readable key=value lines on a terminal."""

from __future__ import annotations

import functools
import logging
import sys
from typing import Any

import structlog

# procrastinate's bookkeeping, said again for every App a process builds (momento.jobs.queue
# builds one per `build_services`, and registers each periodic task twice on the way: once
# in the blueprint copy, once when the App adopts it), and the periodic deferrer's every tick.
_ROUTINE_ACTIONS = frozenset(
    {"loading_blueprint", "registering_periodic_task", "periodic_task_deferred"}
)


@functools.cache
def _periodic_tasks() -> frozenset[str]:
    """The names ("jobs:retry_stalled") of the tasks that run on a schedule."""
    # Imported on first use: the task modules themselves log through this module.
    from momento.jobs.queue import BLUEPRINTS

    names = set()
    for namespace, blueprint in BLUEPRINTS:
        for periodic in blueprint.periodic_registry.periodic_tasks.values():
            name = periodic.task.name
            names.add(name if ":" in name else f"{namespace}:{name}")
    return frozenset(names)


class QuietRoutine(logging.Filter):
    """Keep procrastinate's routine INFO lines out of the log unless it is at DEBUG.

    An idle server runs its maintenance jobs every few seconds to every day; at INFO each
    run would be three lines (deferred, started, succeeded). A scheduled job's start and its
    success with nothing done (it returned 0) are routine, as is the start-up bookkeeping;
    a scheduled job that did something ("Result: 3"), every other job, and every warning
    and error (a failed job's traceback) still show. Routine lines are shown, as DEBUG, when
    the log is at DEBUG.
    """

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not record.name.startswith("procrastinate"):
            return True
        if not self._routine(record):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return self.level <= logging.DEBUG

    @staticmethod
    def _routine(record: logging.LogRecord) -> bool:
        action = getattr(record, "action", None)
        if action in _ROUTINE_ACTIONS:
            return True
        if action not in ("start_job", "job_success"):
            return False
        job: Any = getattr(record, "job", None)
        task = job.get("task_name") if isinstance(job, dict) else None
        if task not in _periodic_tasks():
            return False
        return action == "start_job" or not getattr(record, "result", None)


def configure(level: str = "info", json: bool | None = None) -> None:
    as_json = (not sys.stderr.isatty()) if json is None else json
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler()
    handler.addFilter(QuietRoutine(logging.getLevelNamesMapping()[level.upper()]))
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                # The JSON renderer would write a traceback as "<traceback object at ...>":
                # it gets the formatted text. The console renderer formats it itself.
                *([structlog.processors.format_exc_info] if as_json else []),
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # pgserver narrates every pg_ctl call at INFO; only its problems are worth a line.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    # libvips narrates each image it decodes and resizes at INFO (a dozen lines per photo:
    # "VIPS: selected loader is ...", "threadpool completed ..."); its warnings stay.
    logging.getLogger("pyvips").setLevel(
        logging.INFO if level.lower() == "debug" else logging.WARNING
    )
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def get(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
