"""Deletion is prompt (issue 14): signed local URLs of a deleted photo or event are refused at
once by every API process (an in-memory deny-list fed by NOTIFY, momento.storage.deletions),
and the host's deletion of an event queues its purge, which a worker runs at once.

Two app instances are two `Services` sharing the database and the storage folder, each with
its own deny-list and listener, as two processes would have. A database restart is simulated
as tests/db/test_reconnect.py does: every backend terminated (pg_terminate_backend).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from urllib.parse import urlsplit

import httpx
import psycopg

from momento.jobs.queue import run_worker
from momento.photos.service import DISPLAY, ORIGINAL, key
from momento.services import Services, deletion_listener
from momento.storage.deletions import DeletionListener, DenyList, listening
from tests.conftest import app_client
from tests.factories import add_photo, create_users, heal_pools, make_event, sql, storage_path
from tests.photos.helpers import put_files, stored_keys

WITHIN = 10.0  # seconds: the bound


@asynccontextmanager
async def instance(services: Services) -> AsyncIterator[tuple[Services, DeletionListener]]:
    """Another API process: its own deny-list and listener (started and caught up)."""
    svc = dataclasses.replace(services, deleted_files=DenyList(services.settings.signed_url_ttl))
    async with listening(deletion_listener(svc)) as listener:
        await asyncio.wait_for(listener.listening.wait(), WITHIN)
        yield svc, listener


async def status_of(client: httpx.AsyncClient, url: str) -> int:
    return (await client.get(url)).status_code


async def eventually(client: httpx.AsyncClient, url: str, status: int) -> float:
    """Seconds until `url` answers `status` (fails past WITHIN)."""
    start = time.monotonic()
    while (got := await status_of(client, url)) != status:
        assert time.monotonic() - start < WITHIN, f"still {got} after {WITHIN} s"
        await asyncio.sleep(0.05)
    return time.monotonic() - start


def url_of(services: Services, photo_key: str) -> str:
    return services.storage.signed_get_url(photo_key)


async def test_a_deleted_photo_is_refused_by_every_instance_before_its_purge(
    services: Services,
) -> None:
    owner, member = await create_users(services, 2)
    event = await make_event(services, owner, revealed=True, members=[member])
    photo = await add_photo(services, event, owner)
    kept = await add_photo(services, event, owner)
    for p in (photo, kept):
        await put_files(services, event, p)
    photo_url = url_of(services, key(storage_path(event, photo), DISPLAY))
    kept_url = url_of(services, key(storage_path(event, kept), ORIGINAL))
    async with AsyncExitStack() as stack:
        (a, _), (b, _) = [await stack.enter_async_context(instance(services)) for _ in range(2)]
        ca = await stack.enter_async_context(app_client(a))
        cb = await stack.enter_async_context(app_client(b))
        for c in (ca, cb):
            assert await status_of(c, photo_url) == 200

        # Deleted as an account deletion or the operator would: the row goes, the files wait
        # for the purge job (not run here), yet neither instance serves them any more.
        await sql(services, "DELETE FROM public.photos WHERE id = %s RETURNING 1", photo)
        for c in (ca, cb):
            await eventually(c, photo_url, 404)
            assert await status_of(c, kept_url) == 200
        assert await stored_keys(services, event, photo)  # still on disk
        assert a.deleted_files.denies(key(storage_path(event, photo), DISPLAY))

        # The owner's delete through the API, seen by the other instance.
        other = await add_photo(services, event, owner)
        await put_files(services, event, other)
        other_url = url_of(services, key(storage_path(event, other), DISPLAY))
        assert await status_of(cb, other_url) == 200
        r = await ca.delete(f"/v1/photos/{other}", headers=owner.headers)
        assert r.status_code == 204, r.text
        await eventually(cb, other_url, 404)


async def test_the_hosts_event_deletion_refuses_urls_at_once_and_a_worker_purges_it(
    services: Services,
) -> None:
    host, member = await create_users(services, 2)
    event = await make_event(services, host, revealed=True, members=[member])
    photo = await add_photo(services, event, member)
    await put_files(services, event, photo)
    url = url_of(services, key(storage_path(event, photo), DISPLAY))
    async with AsyncExitStack() as stack:
        (a, _), (b, _) = [await stack.enter_async_context(instance(services)) for _ in range(2)]
        ca = await stack.enter_async_context(app_client(a))
        cb = await stack.enter_async_context(app_client(b))
        assert await status_of(cb, url) == 200
        r = await ca.delete(f"/v1/events/{event}", headers=host.headers)
        assert r.status_code == 204, r.text
        # Its purge was queued by the deletion itself, not left to the daily run.
        jobs = await sql(
            services,
            "SELECT args FROM public.procrastinate_jobs"
            " WHERE task_name = 'cleanup:purge_event' AND status = 'todo'",
        )
        assert jobs == [{"args": {"event_id": str(event)}}]
        # Refused at once by both instances, files still on disk.
        for c in (ca, cb):
            assert await eventually(c, url, 404) < WITHIN
        assert await stored_keys(services, event, photo)

        # A worker runs: the event's rows and files are gone.
        await asyncio.wait_for(
            run_worker(services, install_signal_handlers=False, wait=False, concurrency=1),
            WITHIN,
        )
        assert await stored_keys(services, event, photo) == set()
        assert await sql(services, "SELECT 1 FROM public.events WHERE id = %s", event) == []


TERMINATE_OTHERS = """
SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
WHERE pid <> pg_backend_pid() AND datname = current_database()
  AND backend_type = 'client backend'
"""


async def test_the_listener_reconnects_and_catches_up_after_a_database_restart(
    services: Services, database_url: str
) -> None:
    owner = await create_users(services, 1)
    event = await make_event(services, owner[0], revealed=True)
    missed = await add_photo(services, event, owner[0])
    missed_key = key(storage_path(event, missed), DISPLAY)
    async with instance(services) as (svc, listener):
        assert listener.connects == 1
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await conn.execute(TERMINATE_OTHERS)
            # Deleted while the listener is down (it waits before reconnecting): no
            # notification reaches it; its catch-up read must find the deletion.
            await conn.execute("DELETE FROM public.photos WHERE id = %s", (missed,))
        await heal_pools(services)
        start = time.monotonic()
        while listener.connects < 2:
            assert time.monotonic() - start < WITHIN, "the listener did not reconnect"
            await asyncio.sleep(0.05)
        assert svc.deleted_files.denies(missed_key)
        # And it listens again: a later deletion arrives by notification.
        later = await add_photo(services, event, owner[0])
        await sql(services, "DELETE FROM public.photos WHERE id = %s RETURNING 1", later)
        later_key = key(storage_path(event, later), ORIGINAL)
        start = time.monotonic()
        while not svc.deleted_files.denies(later_key):
            assert time.monotonic() - start < WITHIN, "no notification after reconnecting"
            await asyncio.sleep(0.05)
    # The pool of the session's services survived the restart too (its check at checkout).
    await services.db.ping()


async def test_an_instance_started_after_a_deletion_knows_it(services: Services) -> None:
    owner = (await create_users(services, 1))[0]
    event = await make_event(services, owner, revealed=True)
    photo = await add_photo(services, event, owner)
    await sql(services, "DELETE FROM public.photos WHERE id = %s RETURNING 1", photo)
    await sql(
        services, "UPDATE public.events SET is_deleted = true WHERE id = %s RETURNING 1", event
    )
    async with instance(services) as (svc, _):
        assert svc.deleted_files.denies(key(storage_path(event, photo), DISPLAY))
        assert svc.deleted_files.denies(key(storage_path(event, uuid.uuid4()), DISPLAY))


async def test_the_deny_list_forgets_a_prefix_once_its_urls_expired() -> None:
    clock = [1000.0]
    deny = DenyList(ttl=60, clock=lambda: clock[0])
    deny.add(["events/e1/p1/", "events/e2/", "bogus"])
    assert deny.denies("events/e1/p1/display.jpg")
    assert deny.denies("events/e2/p9/original")
    assert not deny.denies("events/e1/p2/display.jpg")
    assert not deny.denies("bogus")
    clock[0] += 61
    deny.prune()
    assert not deny.denies("events/e1/p1/display.jpg")


async def test_serve_with_two_processes_refuses_a_deleted_photos_url(
    services: Services, database_url: str
) -> None:
    """As it ships: `momento serve --workers 2` (two API processes on one port, each starting
    its own listener at startup) on the same database and files; a photo deleted elsewhere is
    refused by both processes within the bound, while its files are still on disk."""
    import signal
    import subprocess

    from tests.cli.helpers import MOMENTO, clean_env, free_port

    owner, member = await create_users(services, 2)
    event = await make_event(services, owner, revealed=True, members=[member])
    photo = await add_photo(services, event, owner)
    await put_files(services, event, photo)
    signed = urlsplit(url_of(services, key(storage_path(event, photo), DISPLAY)))
    url = f"{signed.path}?{signed.query}"  # asked of the served processes
    port = free_port()
    # The same data directory: the same files and the same URL-signing secret.
    process = await asyncio.create_subprocess_exec(
        MOMENTO,
        "serve",
        "--port",
        str(port),
        "--workers",
        "2",
        cwd=services.settings.data_dir,
        env=clean_env(
            DATABASE_URL=database_url,
            MOMENTO_DATA_DIR=str(services.settings.data_dir),
            MOMENTO_INPROCESS_WORKER="false",
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base) as client:
            start = time.monotonic()
            while True:
                assert process.returncode is None, "serve exited"
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() - start < 60, "serve was not ready in 60 s"
                await asyncio.sleep(0.2)
            # Connections are spread over both processes; every answer is 200 before.
            for _ in range(10):
                async with httpx.AsyncClient(base_url=base) as fresh:
                    assert await status_of(fresh, url) == 200
            await sql(services, "DELETE FROM public.photos WHERE id = %s RETURNING 1", photo)
            assert await stored_keys(services, event, photo)  # the purge has not run
            start = time.monotonic()
            refused = 0
            while refused < 10:  # ten fresh connections in a row, whichever process takes them
                async with httpx.AsyncClient(base_url=base) as fresh:
                    got = await status_of(fresh, url)
                refused = refused + 1 if got == 404 else 0
                assert time.monotonic() - start < WITHIN, f"still {got} after {WITHIN} s"
                await asyncio.sleep(0.02)
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert b"Traceback" not in stderr
