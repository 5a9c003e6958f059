"""Structured logging: JSON lines in production, readable key=value lines on a terminal."""

from __future__ import annotations

import functools
import logging
import re
import sys
import threading
from collections.abc import MutableMapping
from typing import Any

import psycopg
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


# --- faults: a database outage, APNs or storage out of reach ---------------------------------

# How far down the `raise ... from` chain a connection loss is looked for (procrastinate's
# ConnectorException wraps the psycopg error; our DatabaseUnavailable wraps it too).
_CAUSE_DEPTH = 5
# SQLSTATEs of a connection that was lost or refused by the server: class 08 (connection
# exception), and an administrator's or a crash's shutdown, or a server still starting. psycopg's
# own connection failures (refused, reset, "the connection is closed", a pool timeout) carry no
# SQLSTATE. Other OperationalErrors (a statement timeout, a full disk, a lock timeout) are
# about a statement, not the connection: they keep their traceback.
_LOST_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})
# Longest error text on a one-line fault (psycopg's messages are a line or two).
_ERROR_TEXT_MAX = 300
# A repeated pool warning ("error connecting in 'pool-1'", once per connection attempt: a dozen
# in a 3 s restart) is shown once per this many seconds per pool; the others go to DEBUG and
# the next line shown says how many there were.
POOL_WARNING_WINDOW = 60.0
# Where the filters put fields of their own for the formatter (procrastinate's records carry
# their own extras, which are not rendered: this name is ours alone).
_FIELDS = "momento_fields"
# A password in a URL's userinfo or a conninfo string. psycopg's messages name host, port and
# user but never the password; a fault line is scrubbed anyway, as it quotes foreign text.
_URL_PASSWORD = re.compile(r"(://[^:/?#@\s]*:)\S+@")
_CONNINFO_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def connection_loss(exc: BaseException | None) -> psycopg.OperationalError | None:
    """The psycopg error behind `exc` when `exc` is (or was raised from) a lost or refused
    database connection, else None: a failing statement is not a connection loss."""
    seen = exc
    for _ in range(_CAUSE_DEPTH):
        if seen is None:
            return None
        if isinstance(seen, psycopg.OperationalError):
            state = seen.sqlstate
            lost = state is None or state.startswith("08") or state in _LOST_SQLSTATES
            return seen if lost else None
        # Only explicit causes: an error raised while handling a lost connection (a bug in
        # the handler) is that bug, and keeps its traceback.
        seen = seen.__cause__
    return None


def describe(exc: BaseException) -> str:
    """`exc` in one line for a log field: its type and the first line of its message; for a
    connection loss, the psycopg error itself (procrastinate's wrapper only says "Database
    error."). Passwords in the text are replaced by ***."""
    shown: BaseException = connection_loss(exc) or exc
    if shown is exc and shown.__cause__ is not None and _is_connector_exception(shown):
        shown = shown.__cause__
    lines = [line.strip() for line in str(shown).splitlines() if line.strip()]
    text = f"{type(shown).__name__}: {lines[0]}" if lines else type(shown).__name__
    if len(text) > _ERROR_TEXT_MAX:
        text = text[: _ERROR_TEXT_MAX - 1] + "…"
    return scrub(text)


def scrub(text: str) -> str:
    """`text` with the passwords of URLs and conninfo strings in it replaced by ***."""
    text = _URL_PASSWORD.sub(r"\1***@", text)
    return _CONNINFO_PASSWORD.sub(r"\1***", text)


def _is_connector_exception(exc: BaseException) -> bool:
    # Imported on use: procrastinate is heavy, and this module is imported by everything.
    from procrastinate.exceptions import ConnectorException

    return isinstance(exc, ConnectorException)


@functools.cache
def _expected_job_errors() -> tuple[type[BaseException], ...]:
    """Job failures that are waits, not bugs: APNs or storage out of reach, notifications
    APNs refused for now; the job runs again (see `momento.reveal.tasks.PushRetry` and the
    cleanup tasks' retry)."""
    # Imported on first use: these modules log through this one.
    from momento.reveal.service import PushChannelDown
    from momento.reveal.tasks import PushIncomplete
    from momento.storage.base import StorageDown

    return (PushChannelDown, PushIncomplete, StorageDown)


class FaultLines(logging.Filter):
    """Make an outage of the database, APNs or storage read as a few one-line lines.

    Without it, a PostgreSQL restart makes every worker log procrastinate's side-task failure
    and the same failure again at shutdown, each at ERROR with a traceback of forty lines, plus
    a psycopg.pool warning per connection attempt; and every push job waiting for APNs logs its
    run's end with a traceback. What this filter does, keyed on the logger and the exception:

    - procrastinate records whose exception is a connection loss (`connection_loss`): one
      WARNING line with the psycopg error's first line, no traceback; the repeat that
      procrastinate logs when it cancels its side tasks goes to DEBUG.
    - a job's end with a connection loss or an expected wait (`_expected_job_errors`): one
      WARNING line, with `retry` "later" (procrastinate's record does not say when) or "none".
    - psycopg.pool's "error connecting" (per pool) and "discarding broken/closed connection":
      one line per `POOL_WARNING_WINDOW`, the repeats at DEBUG and counted on the next line.
    - the first "Starting worker" after a connection loss becomes the INFO line saying the
      database answers again, with how long the outage lasted.

    Every other record (a SQL error, a job's own bug) passes untouched, traceback included.
    """

    def __init__(self, level: int, window: float = POOL_WARNING_WINDOW) -> None:
        super().__init__()
        self.level = level
        self.window = window
        # Records of several threads (psycopg's sync pool, to_thread work) may meet here.
        self._lock = threading.Lock()
        self._outage_since: float | None = None
        # Per repeated warning: when it was last shown, and how many were hidden since.
        self._shown: dict[str, tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("procrastinate"):
            return self._procrastinate(record)
        if record.name == "psycopg.pool" and record.levelno >= logging.WARNING:
            return self._pool(record)
        return True

    def _procrastinate(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        action = getattr(record, "action", None)
        if exc is None:
            if action == "start_worker":
                self._recovered(record)
            return True
        loss = connection_loss(exc)
        if action in ("job_error", "job_error_retry"):
            if loss is None and not isinstance(exc, _expected_job_errors()):
                return True
            if loss is not None:
                self._outage(record)
            # A warning even when the job is not retried: a periodic job's next run is its
            # retry, and a push job past its news says so itself (PushRetry's "given up").
            retry = "later" if action == "job_error_retry" else "none"
            self._one_line(record, logging.WARNING, error=describe(exc), retry=retry)
            return True
        if loss is None:
            return True
        self._outage(record)
        if record.name == "procrastinate.utils":
            # cancel_and_capture_errors, as the stopping worker cancels its side tasks: the
            # failure the side-task monitor logged a moment ago, told again.
            return self._demote(record)
        if action == "side_task_failed":
            record.msg, record.args = "job worker lost the database; it stops and restarts", None
            side_task = getattr(record, "task_name", None)
            self._one_line(record, logging.WARNING, side_task=side_task, error=describe(loss))
            return True
        self._one_line(record, logging.WARNING, error=describe(loss))
        return True

    def _pool(self, record: logging.LogRecord) -> bool:
        template = record.msg if isinstance(record.msg, str) else ""
        if template.startswith("error connecting in") and record.args:
            self._outage(record)
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            key = f"connect {args[0]}"
        elif template.startswith(("discarding broken connection", "discarding closed")):
            # After a restart each pooled connection is found dead as it is checked out or
            # returned: one line says the pool is replacing them.
            key = "discarding"
        else:
            self._one_line(record, record.levelno, first_line=True)
            return True
        with self._lock:
            last, hidden = self._shown.get(key, (None, 0))
            if last is not None and record.created - last < self.window:
                self._shown[key] = (last, hidden + 1)
                repeat = True
            else:
                self._shown[key] = (record.created, 0)
                repeat = False
        if repeat:
            return self._demote(record)
        self._one_line(record, record.levelno, first_line=True)
        if hidden:
            self._fields(record)["repeated"] = hidden
        return True

    def _outage(self, record: logging.LogRecord) -> None:
        with self._lock:
            if self._outage_since is None:
                self._outage_since = record.created

    def _recovered(self, record: logging.LogRecord) -> None:
        """procrastinate logs "Starting worker" once it has registered the worker in the
        database: after a connection loss, that is the database answering again."""
        with self._lock:
            since, self._outage_since = self._outage_since, None
            if since is None:
                return
            # The next outage's first pool warning shows at once.
            self._shown.clear()
        record.msg, record.args = "database reachable again; job worker started", None
        self._fields(record)["outage_seconds"] = round(max(0.0, record.created - since), 1)

    def _demote(self, record: logging.LogRecord) -> bool:
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return self.level <= logging.DEBUG

    def _one_line(
        self, record: logging.LogRecord, level: int, *, first_line: bool = False, **fields: object
    ) -> None:
        """The record as one line at `level`, without traceback: its message's first line
        (psycopg's messages go on with a hint: "Is the server running on that host...?"), or
        all of it with its whitespace collapsed (procrastinate's put the exception's multi-line
        text mid-sentence)."""
        message = record.getMessage()
        if first_line:
            message = next((line for line in message.splitlines() if line.strip()), message)
        message = scrub(" ".join(message.split()))
        record.msg, record.args = message, None
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        record.levelno, record.levelname = level, logging.getLevelName(level)
        self._fields(record).update({k: v for k, v in fields.items() if v is not None})

    @staticmethod
    def _fields(record: logging.LogRecord) -> dict[str, object]:
        fields: dict[str, object] | None = getattr(record, _FIELDS, None)
        if fields is None:
            fields = {}
            setattr(record, _FIELDS, fields)
        return fields


# Query parameters that carry a credential: signed file URLs (ours and S3's presigned ones),
# GoTrue's mailed links and PKCE codes, API keys. The access log keeps the path and the names;
# each value becomes "***". Whoever reads the logs must not be able to open a photo, confirm
# an account or reset a password with what they read.
_SECRET_PARAMS = re.compile(
    r"(?i)([?&](?:sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token"
    r"|token|token_hash|access_token|refresh_token|code|apikey|ticket)=)[^&#\s]*"
)


def redact_query(path: str) -> str:
    """`path` with the values of credential-bearing query parameters replaced by ***."""
    return _SECRET_PARAMS.sub(r"\1***", path) if "?" in path else path


class RedactAccessLog(logging.Filter):
    """uvicorn's access line is `'%s - "%s %s HTTP/%s" %d'` with the path and query third."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if (
            record.name == "uvicorn.access"
            and isinstance(args, tuple)
            and len(args) >= 3
            and isinstance(args[2], str)
        ):
            record.args = (*args[:2], redact_query(args[2]), *args[3:])
        return True


def _add_fault_fields(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """The fields FaultLines attached to a foreign (stdlib) record, as keys of the line."""
    fields = getattr(event_dict.get("_record"), _FIELDS, None)
    if fields:
        event_dict.update(fields)
    return event_dict


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
    threshold = logging.getLevelNamesMapping()[level.upper()]
    # FaultLines first: a job's end it turns from INFO-with-traceback into a WARNING is then
    # no longer a candidate for QuietRoutine's "routine INFO".
    handler.addFilter(RedactAccessLog())
    handler.addFilter(FaultLines(threshold))
    handler.addFilter(QuietRoutine(threshold))
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, _add_fault_fields],
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
    # uvicorn's loggers write through ours at our level (a uvicorn.Config made earlier in the
    # process may have given them handlers and a level of their own).
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
        logging.getLogger(name).setLevel(logging.NOTSET)


def get(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
