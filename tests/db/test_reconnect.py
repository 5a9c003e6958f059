"""The database going away and coming back: no 500, no restart by hand.

Terminating every backend of the server (`pg_terminate_backend`) is what a PostgreSQL restart
does to the connections that were open: each gets FATAL 57P01 "terminating connection due to
administrator command" and EOF. The deployment suite (tests/deploy) restarts a real server
under load; these tests pin the two mechanisms down in-process, quickly.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid

import httpx
import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from momento.app import create_app
from momento.db import Database
from momento.jobs.queue import run_worker
from momento.services import Services
from tests.factories import create_event, create_user, heal_pools

TERMINATE_OTHERS = """
SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
WHERE pid <> pg_backend_pid() AND datname = current_database()
  AND backend_type = 'client backend'
"""


async def _terminate_all(database_url: str) -> int:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        cur = await conn.execute(TERMINATE_OTHERS)
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])


async def test_requests_after_the_server_dropped_every_connection_all_succeed(
    services: Services, client: httpx.AsyncClient, database_url: str
) -> None:
    user = await create_user(services)
    await create_event(client, user)
    # Fill the pool with idle connections (concurrent requests each take one).
    answers = await asyncio.gather(
        *(client.get("/v1/events", headers=user.headers) for _ in range(8))
    )
    assert {r.status_code for r in answers} == {200}
    idle = services.db.pool.get_stats().get("pool_available", 0)
    assert idle >= 1, services.db.pool.get_stats()

    assert await _terminate_all(database_url) >= idle
    await asyncio.sleep(0.2)  # the FATAL message and EOF reach the sockets

    # Every pooled connection is dead: each request must get a live one (before the check at
    # checkout, the first requests answered 500 with "server closed the connection").
    statuses = []
    for _ in range(12):
        r = await client.get("/v1/events", headers=user.headers)
        statuses.append(r.status_code)
    assert statuses == [200] * 12
    r = await client.get(
        f"/v1/events/{uuid.uuid4()}/photos", headers=user.headers
    )  # the feed's lean path uses the same pool
    assert r.status_code == 404, r.text
    await heal_pools(services)  # the job queue's pool, which this test does not exercise


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_database_out_of_reach_answers_503_with_retry_after(services: Services) -> None:
    url = f"postgresql://momento:secret-pw@127.0.0.1:{_closed_port()}/momento"
    db = Database(url, min_size=1, max_size=2, timeout=1.0)
    await db.pool.open(wait=False)
    user = await create_user(services)
    try:
        down = Services(**{**services.__dict__, "db": db})
        app = create_app(down, manage_pool=False)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            started = time.monotonic()
            r = await c.get("/v1/events", headers=user.headers)
            took = time.monotonic() - started
            feed = await c.get(f"/v1/events/{uuid.uuid4()}/photos", headers=user.headers)
            ready = await c.get("/readyz")
    finally:
        await db.close()
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "database_unavailable"
    assert int(r.headers["retry-after"]) >= 1
    assert "secret-pw" not in r.text
    assert took < 5, f"answered after {took:.1f} s (the pool's timeout is 1 s)"
    assert feed.status_code == 503, feed.text
    assert feed.json()["code"] == "database_unavailable"
    assert ready.status_code == 503


async def test_the_job_worker_comes_back_after_losing_the_database(
    services: Services, database_url: str
) -> None:
    """procrastinate's worker stops when its listener cannot reconnect (the database is still
    down); run_worker starts it again once it is back, and jobs deferred afterwards run."""
    worker = asyncio.create_task(
        run_worker(services, concurrency=2, name="reconnect-test", install_signal_handlers=False)
    )
    # From another database: one cannot refuse connections to the database one is on.
    admin = await psycopg.AsyncConnection.connect(
        make_conninfo(database_url, dbname="postgres"), autocommit=True
    )
    try:
        before = await _wait_for_workers(database_url)
        # The database refuses connections for a while, and every open one is dropped: what
        # the worker sees of a restart.
        await admin.execute("ALTER DATABASE momento_test ALLOW_CONNECTIONS false")
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = 'momento_test' AND backend_type = 'client backend'"
            )
            await asyncio.sleep(3)
        finally:
            await admin.execute("ALTER DATABASE momento_test ALLOW_CONNECTIONS true")
        # A new worker registers (the old one's row stays until pruned): wait for a new id.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            await asyncio.sleep(0.3)
            if await _worker_ids(database_url) - before:
                break
        else:
            pytest.fail("the job worker did not come back within 20 s")
        assert not worker.done(), "run_worker ended instead of restarting the worker"
        # And it works: a job deferred now is run (a real task: the join notification of an
        # event that does not exist finds nothing to send and succeeds).
        job_id = await services.jobs.tasks["reveal:notify_joined"].defer_async(
            event_id=str(uuid.uuid4()), user_id=str(uuid.uuid4())
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if await _job_gone(database_url, job_id):
                break
            await asyncio.sleep(0.2)
        else:
            pytest.fail("a job deferred after the reconnect was not run")
    finally:
        await admin.close()
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker


async def _worker_ids(database_url: str) -> set[int]:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        cur = await conn.execute("SELECT id FROM procrastinate_workers")
        return {int(row[0]) for row in await cur.fetchall()}


async def _wait_for_workers(database_url: str) -> set[int]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ids = await _worker_ids(database_url)
        if ids:
            return ids
        await asyncio.sleep(0.1)
    pytest.fail("no job worker registered")


async def _job_gone(database_url: str, job_id: int) -> bool:
    """Successful jobs are deleted (run_worker's delete_jobs='successful')."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        cur = await conn.execute("SELECT status FROM procrastinate_jobs WHERE id = %s", (job_id,))
        return await cur.fetchone() is None
