"""Two real API processes (`momento serve`, this worktree's code) on one database: a change
made through one reaches a subscriber of the other, through PostgreSQL LISTEN/NOTIFY, and a
browser's stream ticket never appears in the access log."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

import momento
from momento.services import Services
from tests.cli.helpers import MOMENTO, clean_env, free_port
from tests.factories import add_photo, create_users, make_event
from tests.realtime.helpers import stream

SRC = str(Path(momento.__file__).parent.parent)


@contextlib.contextmanager
def serve(
    services: Services, database_url: str, log: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    settings = services.settings
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603
            [MOMENTO, "serve", "--port", str(port)],
            cwd=log.parent,
            env=clean_env(
                DATABASE_URL=database_url,
                PYTHONPATH=SRC,
                MOMENTO_INPROCESS_WORKER="false",
                # The test's signing key and issuer: its tokens are valid here too.
                MOMENTO_DATA_DIR=str(Path(settings.data_dir).resolve()),
                MOMENTO_PUBLIC_URL=settings.base_url,
                MOMENTO_LOG_LEVEL="info",
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def ready(origin: str) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=origin, timeout=2) as client:
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/readyz")).status_code == 200:
                    return
            assert time.monotonic() < deadline, "momento serve did not get ready"
            await asyncio.sleep(0.2)


async def test_a_change_through_one_process_reaches_a_subscriber_of_the_other(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    host, member = await create_users(services, 2)
    event = await make_event(services, host, revealed=True, members=[member])
    photo = await add_photo(services, event, member)
    with (
        serve(services, database_url, tmp_path / "a.log") as (a, a_proc),
        serve(services, database_url, tmp_path / "b.log") as (b, _),
    ):
        await asyncio.gather(ready(a), ready(b))
        # B's subscriber, through a ticket (the browser's way), and a bearer one on A.
        async with httpx.AsyncClient(base_url=b, timeout=10) as client:
            r = await client.post(f"/v1/events/{event}/stream-ticket", headers=host.headers)
            assert r.status_code == 200, r.text
            ticket = r.json()["ticket"]
            assert len(ticket) >= 43  # 256 bits, base64url
        async with (
            stream(b, event, ticket=ticket) as on_b,
            stream(a, event, token=host.token) as on_a,
        ):
            # A like made through process A's API reaches the subscriber of B.
            async with httpx.AsyncClient(base_url=a, timeout=10) as client:
                r = await client.put(f"/v1/photos/{photo}/like", headers=member.headers)
                assert r.status_code in (200, 201, 204), r.text
            got = await on_b.until("like_count")
            assert got.data == {"photo_id": str(photo), "like_count": 1}
            assert (await on_a.until("like_count")).data == got.data
        # Used once: the same ticket is refused now, by either process.
        async with httpx.AsyncClient(base_url=a, timeout=10) as client:
            r = await client.get(f"/v1/events/{event}/stream", params={"ticket": ticket})
            assert r.status_code == 401
            assert r.json()["code"] == "invalid_ticket"
        # Stopping a process ends its streams with a word (the client reconnects elsewhere),
        # and the process does not wait for them to go.
        async with stream(a, event, token=member.token) as leaving:
            a_proc.terminate()
            assert (await leaving.until("end", wait=10)).data == {"reason": "shutdown"}
            loop = asyncio.get_running_loop()
            assert await asyncio.wait_for(loop.run_in_executor(None, a_proc.wait), 10) == 0
    logged = (tmp_path / "b.log").read_text() + (tmp_path / "a.log").read_text()
    assert "/stream?ticket=***" in logged
    assert ticket not in logged
    assert host.token not in logged
