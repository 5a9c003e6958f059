"""What the log says through an outage: a database restart is a few one-line warnings and an
INFO once the database answers again; a job waiting for APNs or storage is one warning line;
a bug (a SQL error, an exception of the job's own) keeps its ERROR and traceback; and no line
holds a secret (the database password, the APNs key, a provider token).

Logging is configured as the commands configure it (`momento.logs.configure`, JSON lines on
stderr) and fed real records: real procrastinate workers running real jobs against the test
database, and a real outage made by a proxy in front of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import socket
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from procrastinate import RetryStrategy
from procrastinate.exceptions import ConnectorException
from psycopg import errors

from momento import logs
from momento.cleanup import tasks as cleanup_tasks
from momento.db import embedded
from momento.jobs import queue
from momento.jobs.queue import make_app, run_worker
from momento.push.apns import PushUnavailable
from momento.reveal import scheduling, service
from momento.reveal import tasks as reveal_tasks
from momento.services import Services
from momento.storage.base import StorageDown
from tests.factories import add_members, create_user, make_event, users_with_tokens
from tests.fakes.apns import FakeApns, ProviderKey

# In every URL these tests hand to the code: it must never come out in a log line.
PASSWORD = "Pw-never-in-logs-7f3a9c"
QUEUE = "test_fault_logs"


class Output:
    """Everything the process wrote on stderr since the test began, and its JSON lines."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.text = ""

    def read(self) -> str:
        self.text += self.capsys.readouterr().err
        return self.text

    def lines(self) -> list[dict[str, Any]]:
        return [orjson.loads(x) for x in self.read().splitlines() if x.startswith("{")]

    async def wait_for(self, what: str, seen: Callable[[list[dict[str, Any]]], bool]) -> None:
        deadline = time.monotonic() + 20
        while not seen(self.lines()):
            if time.monotonic() > deadline:
                pytest.fail(f"not logged within 20 s: {what}\n{self.read()}")
            await asyncio.sleep(0.05)


def by(lines: list[dict[str, Any]], needle: str) -> list[dict[str, Any]]:
    return [line for line in lines if needle in line["event"]]


def assert_no_secret(text: str, *secrets: str) -> None:
    for secret in (PASSWORD, *secrets):
        assert secret not in text


class SocketProxy:
    """TCP on 127.0.0.1 in front of the embedded PostgreSQL's unix socket, in the test's own
    event loop. `cut()` drops every connection and refuses new ones, as a restarting server
    does; `restore()` listens again on the same port. (tests/fakes/tcp_proxy.py proxies to
    TCP servers only; the embedded cluster listens on a unix socket.)"""

    def __init__(self, upstream: Path) -> None:
        self.upstream = upstream
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        if self._server is None:
            await self.start()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        up_r, up_w = await asyncio.open_unix_connection(str(self.upstream))
        self._writers.update({client_w, up_w})
        try:
            await asyncio.gather(_pipe(client_r, up_w), _pipe(up_r, client_w))
        finally:
            for writer in (client_w, up_w):
                self._writers.discard(writer)
                writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (OSError, RuntimeError):
        pass
    finally:
        writer.close()


def proxied_url(pg: embedded.EmbeddedPostgres, port: int) -> str:
    """The test database through the proxy, in a URL with a password (the embedded cluster
    trusts local connections: the password is carried, never checked)."""
    info = psycopg.conninfo.conninfo_to_dict(pg.url)
    return f"postgresql://{info['user']}:{PASSWORD}@127.0.0.1:{port}/{info['dbname']}"


def pg_socket(pg: embedded.EmbeddedPostgres) -> Path:
    host = Path(str(psycopg.conninfo.conninfo_to_dict(pg.url)["host"]))
    [path] = [p for p in host.glob(".s.PGSQL.*") if p.suffix != ".lock"]
    return path


def refused_url() -> str:
    """A URL with a password on a port nobody listens on: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql://momento:{PASSWORD}@127.0.0.1:{port}/momento"


async def test_a_database_outage_is_a_few_warning_lines_then_an_info(
    services: Services,
    pg: embedded.EmbeddedPostgres,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    logs.configure("info", json=True)
    out = Output(capsys)
    # Restarts after 0.1 s, 0.2 s, ... instead of 1 s, 2 s: the same lines, sooner.
    monkeypatch.setattr(queue, "RESTART_DELAY", 0.1)
    proxy = SocketProxy(pg_socket(pg))
    await proxy.start()
    app = make_app(proxied_url(pg, proxy.port), pool_max=2, timeout=1.0)
    await app.open_async()
    worker = asyncio.create_task(
        run_worker(
            dataclasses.replace(services, jobs=app),
            name="fault-logs",
            install_signal_handlers=False,
            queues=[QUEUE],
            concurrency=1,
        )
    )
    try:
        await out.wait_for("the worker's start", lambda ls: bool(by(ls, "Starting worker")))
        started = len(out.lines())
        await proxy.cut()
        # The listener's connection is dropped and cannot be made again: the worker stops, is
        # started again, and fails to start while the database is out of reach.
        await out.wait_for(
            "a failed restart",
            lambda ls: any(
                "starting it again" in line["event"] and line["error"] != "stopped on its own"
                for line in ls
            ),
        )
        await asyncio.sleep(0.5)  # more restarts, more connection attempts
        await proxy.restore()
        await out.wait_for("the recovery", lambda ls: bool(by(ls, "database reachable again")))
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        await app.close_async()
        await proxy.cut()

    outage = out.lines()[started:]
    text = out.read()
    assert_no_secret(text)
    # No traceback, no ERROR: every line of the outage is one line.
    assert [line for line in outage if "exception" in line] == []
    assert [line for line in outage if line["level"] in ("error", "critical")] == []
    assert all("\n" not in line["event"] for line in outage)
    # The worker says it lost the database, with what psycopg said, once.
    [lost] = by(outage, "job worker lost the database")
    assert lost["level"] == "warning"
    assert lost["side_task"] in ("listener", "deferrer", "update_heartbeats", "poll_jobs_to_abort")
    # psycopg's error (refused, reset, or the pool's timeout), not procrastinate's "Database
    # error." around it.
    assert lost["error"].startswith(("OperationalError: ", "PoolTimeout: ")), lost
    # procrastinate's repeat of the same failure, as it cancels its side tasks, is not shown.
    assert by(outage, "listener error") == []
    # Each restart is one warning; those that failed say why, in psycopg's words.
    restarts = by(outage, "job worker stopped; starting it again")
    assert 2 <= len(restarts) <= 6, restarts
    assert {line["level"] for line in restarts} == {"warning"}
    failed = [line for line in restarts if line["error"] != "stopped on its own"]
    assert all(line["error"].startswith(("PoolTimeout: ", "OperationalError: ")) for line in failed)
    # The pool's warning per connection attempt: one line per pool while it lasts, without
    # psycopg's hint line.
    connecting = [line for line in outage if line["logger"] == "psycopg.pool"]
    assert len({line["event"].split(":")[0] for line in connecting}) == len(connecting)
    assert not any("Is the server running" in line["event"] for line in connecting)
    # Every warning of the outage, all told: a handful.
    warnings = [line for line in outage if line["level"] == "warning"]
    assert len(warnings) <= 10, "\n".join(line["event"] for line in warnings)
    # And once the database answers, one INFO says so.
    [back] = by(outage, "database reachable again")
    assert back["level"] == "info"
    assert 0 < back["outage_seconds"] < 20
    assert outage.index(back) > outage.index(restarts[-1])


async def test_a_reveal_waiting_for_apns_is_one_warning_line(
    pushing: Services,
    fake_apns: FakeApns,
    provider_key: ProviderKey,
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure("info", json=True)
    out = Output(capsys)
    creator = await create_user(pushing)
    event_id = await make_event(pushing, creator, release_in=-timedelta(seconds=90))
    await add_members(pushing, event_id, await users_with_tokens(pushing, 2))
    await scheduling.schedule_reveal(
        pushing.jobs, event_id, datetime.now(UTC) - timedelta(seconds=90)
    )
    await fake_apns.stop()  # APNs unreachable: the job raises PushChannelDown and waits
    await run_worker(pushing, install_signal_handlers=False, wait=False, concurrency=1)

    lines = out.lines()
    [ended] = [line for line in by(lines, "ended with status") if "reveal:send" in line["event"]]
    assert ended["level"] == "warning"
    assert "exception" not in ended
    assert ended["error"].startswith("PushChannelDown: push unavailable: ")
    assert ended["retry"] == "later"
    # The APNs key (its PEM body) and a provider token (a JWT: "eyJ...") appear nowhere.
    key_body = "".join(provider_key[0].strip().splitlines()[1:-1])
    assert_no_secret(out.read(), key_body[:40], key_body[-40:], "eyJ")


async def test_expected_waits_are_warnings_and_bugs_keep_their_traceback(
    services: Services, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure("info", json=True)
    out = Output(capsys)
    app = make_app(database_url)
    until = datetime.now(UTC) + timedelta(hours=1)
    down = PushUnavailable("unavailable", "ConnectError: [Errno 111] Connection refused")

    @app.task(name="fault_logs:push_down", queue=QUEUE, retry=reveal_tasks.PushRetry())
    async def push_down() -> None:
        raise service.PushChannelDown(down, until)

    @app.task(name="fault_logs:push_incomplete", queue=QUEUE, retry=reveal_tasks.PushRetry())
    async def push_incomplete() -> None:
        raise reveal_tasks.PushIncomplete(to_retry=2, held=1, lease_left=4.0)

    @app.task(name="fault_logs:storage_down", queue=QUEUE, retry=cleanup_tasks.RETRY)
    async def storage_down() -> None:
        raise StorageDown("s3 unreachable: ConnectTimeoutError")

    # A periodic job has no retry: its next run is its retry.
    @app.task(name="fault_logs:storage_down_final", queue=QUEUE)
    async def storage_down_final() -> None:
        raise StorageDown("s3 unreachable: ConnectTimeoutError")

    @app.task(name="fault_logs:db_lost", queue=QUEUE, retry=RetryStrategy(max_attempts=3, wait=60))
    async def db_lost() -> None:
        await psycopg.AsyncConnection.connect(refused_url(), connect_timeout=5)

    @app.task(name="fault_logs:sql_error", queue=QUEUE)
    async def sql_error() -> None:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            await conn.execute("SELECT * FROM no_such_table")

    @app.task(name="fault_logs:bug", queue=QUEUE)
    async def bug() -> None:
        raise RuntimeError("the job broke")

    await app.open_async()
    try:
        for task in (
            push_down,
            push_incomplete,
            storage_down,
            storage_down_final,
            db_lost,
            sql_error,
            bug,
        ):
            await task.defer_async()
        await app.run_worker_async(
            queues=[QUEUE],
            wait=False,
            concurrency=1,
            install_signal_handlers=False,
            additional_context={"services": services},
        )
    finally:
        await app.close_async()

    lines = out.lines()
    assert_no_secret(out.read())

    def ended(task: str) -> dict[str, Any]:
        [line] = [x for x in by(lines, "ended with status") if f"{task}[" in x["event"]]
        return line

    for name, error in [
        ("push_down", "PushChannelDown: push unavailable: ConnectError: [Errno 111]"),
        ("push_incomplete", "PushIncomplete: 2 notification(s) to retry, 1 held by another"),
        ("storage_down", "StorageDown: s3 unreachable: ConnectTimeoutError"),
        ("db_lost", "OperationalError: connection failed: connection to server at"),
    ]:
        line = ended(f"fault_logs:{name}")
        assert (line["level"], line.get("retry")) == ("warning", "later"), line
        assert "exception" not in line, line
        assert line["error"].startswith(error), line
    # Not retried (a periodic job's next run is its retry): a warning too, still one line.
    final = ended("fault_logs:storage_down_final")
    assert (final["level"], final["retry"], "exception" in final) == ("warning", "none", False)
    # A SQL error is a bug, not an outage: ERROR with its traceback, as is any other failure.
    for name, raised in [
        ("sql_error", "psycopg.errors.UndefinedTable"),
        ("bug", "RuntimeError: the job broke"),
    ]:
        line = ended(f"fault_logs:{name}")
        assert line["level"] == "error", line
        assert raised in line["exception"], line
        assert "error" not in line


def pool_record(created: float, msg: str, *args: object) -> logging.LogRecord:
    """A warning as psycopg_pool makes it, made at `created`."""
    logger = logging.getLogger("psycopg.pool")
    record = logger.makeRecord(logger.name, logging.WARNING, __file__, 1, msg, args, None)
    record.created = created
    return record


def pool_warning(created: float, exc: BaseException, pool: str = "pool-1") -> logging.LogRecord:
    """psycopg_pool's warning for each failed connection attempt."""
    return pool_record(created, "error connecting in %r: %s", pool, exc)


async def refused() -> psycopg.OperationalError:
    try:
        await psycopg.AsyncConnection.connect(refused_url(), connect_timeout=5)
    except psycopg.OperationalError as exc:
        return exc
    raise AssertionError("connected to a port nobody listens on")


@pytest.mark.parametrize("level", ["info", "debug"])
async def test_pool_warnings_are_one_line_per_pool_per_minute(
    level: str, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure(level, json=True)
    exc = await refused()
    assert "\n" in str(exc), "psycopg's message has a hint line: the case this test is about"
    logger = logging.getLogger("psycopg.pool")
    now = time.time()
    for i in range(5):
        logger.handle(pool_warning(now + i, exc))
    logger.handle(pool_warning(now + 2, exc, pool="momento"))
    logger.handle(pool_warning(now + 61, exc))
    # After a restart, each pooled connection found dead: one line for all of them.
    for i, what in enumerate(["broken", "closed", "broken"]):
        conn = "<psycopg.AsyncConnection [BAD] at 0x7f00>"
        logger.handle(pool_record(now + 62 + i, f"discarding {what} connection: %s", conn))
    lines = [
        line
        for line in (orjson.loads(x) for x in capsys.readouterr().err.splitlines())
        if line["logger"] == "psycopg.pool"
    ]
    shown = [line for line in lines if line["level"] == "warning"]
    assert [line["event"].split(":")[0] for line in shown] == [
        "error connecting in 'pool-1'",
        "error connecting in 'momento'",
        "error connecting in 'pool-1'",
        "discarding broken connection",
    ]
    assert all("\n" not in line["event"] and PASSWORD not in line["event"] for line in shown)
    # psycopg's first line says what failed; its hint line ("Is the server running...?") goes.
    assert shown[0]["event"].endswith("Connection refused")
    # The line shown after the quiet minute counts the attempts it did not show.
    assert "repeated" not in shown[0]
    assert shown[2]["repeated"] == 4
    hidden = [line for line in lines if line["level"] == "debug"]
    assert len(hidden) == (6 if level == "debug" else 0)


def test_what_is_a_connection_loss() -> None:
    refused_conn = psycopg.OperationalError("connection failed: Connection refused")
    wrapped = ConnectorException()
    wrapped.__cause__ = refused_conn
    assert logs.connection_loss(refused_conn) is refused_conn
    assert logs.connection_loss(wrapped) is refused_conn
    assert logs.describe(wrapped) == "OperationalError: connection failed: Connection refused"
    # The server's own shutdown of a session, and "not yet accepting connections".
    assert logs.connection_loss(errors.AdminShutdown("terminating connection")) is not None
    assert logs.connection_loss(errors.CannotConnectNow("starting up")) is not None
    # A statement's failure, even an OperationalError, is not the connection's.
    assert logs.connection_loss(errors.QueryCanceled("statement timeout")) is None
    assert logs.connection_loss(errors.UndefinedTable("no such table")) is None
    sql = ConnectorException()
    sql.__cause__ = errors.UndefinedTable("no such table")
    assert logs.connection_loss(sql) is None
    # A bug raised while handling a lost connection is that bug.
    try:
        try:
            raise refused_conn
        except psycopg.OperationalError:
            raise KeyError("bug") from None
    except KeyError as bug:
        caught = bug
    assert logs.connection_loss(caught) is None
    assert logs.describe(RuntimeError("")) == "RuntimeError"
    url = f"postgresql://momento:{PASSWORD}@db:5432/momento"
    assert PASSWORD not in logs.describe(RuntimeError(f"cannot use {url}"))
    assert PASSWORD not in logs.scrub(f"host=db password={PASSWORD} user=momento")


def test_the_fault_filter_leaves_other_records_alone() -> None:
    faults = logs.FaultLines(logging.INFO)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord(
            "procrastinate.worker", logging.ERROR, __file__, 1, "Side task x failed", None, None
        )
        record.exc_info = sys.exc_info()
    record.action = "side_task_failed"
    assert faults.filter(record)
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    plain = logging.LogRecord("momento.app", logging.WARNING, __file__, 1, "x", None, None)
    assert faults.filter(plain)
    # "Starting worker" with no outage before it keeps its words.
    start = logging.LogRecord(
        "procrastinate.worker",
        logging.INFO,
        __file__,
        1,
        "Starting worker on all queues",
        None,
        None,
    )
    start.action = "start_worker"
    assert faults.filter(start)
    assert start.getMessage() == "Starting worker on all queues"
