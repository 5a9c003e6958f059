"""Benchmark: realtime streams (issue 15) against polling the feed.

2,000 members of one event hold its stream (`GET /v1/events/{id}/stream`) on one API process
(`momento serve`, a subprocess, the job worker off) on an embedded PostgreSQL. Measured in
the same run:

* memory per idle stream: the server's resident memory after opening the 2,000 streams,
  less before, divided by 2,000;
* idle CPU: the server's CPU (its process, from /proc) over `--idle` seconds while the 2,000
  streams are open and nothing happens (heartbeat comments only);
* the `revealed` flip: release_at is set 3 s ahead; the time from release_at to the last of
  the 2,000 streams receiving `revealed`;
* a photo completed (its row's upload_status set to 'uploaded', as the processing job does)
  to its `photo_added` delivered to the last subscriber: `--photos` photos a second apart,
  p50 and p99 over the photos (and over every single delivery);
* the baseline: the same 2,000 clients polling the feed (`GET /v1/events/{id}/photos`, with
  If-None-Match as a client does) every 2 s, staggered, for `--idle` seconds: the server's
  CPU. The event is not revealed yet during both idle measurements (the cheapest polling).

Targets: p99 <= 250 ms for a photo, <= 1 s for the flip, idle streams' CPU <= 0.2x polling's.
The clients are minimal HTTP/1.1 connections on uvloop in this process (bare protocols; their
own parsing is part of the delivery times); load generator, server and PostgreSQL share the
machine's cores. The open-file limit is raised for the 2,000+ sockets. Prints a table; exits 0.

Usage: python bench/realtime.py [--subscribers 2000] [--photos 20] [--idle 30]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import shutil
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import cast

import orjson
import psycopg
import uvloop

from momento.auth import keys
from momento.auth.tokens import TokenService
from momento.db import embedded, migrate

sys.path.insert(0, str(Path(__file__).parent))
from auth import tree_cpu_seconds
from reveal import Server, percentile

ISSUER = "http://momento.bench/auth/v1"
PHOTOS_IN_FEED = 30


def say(line: str = "") -> None:
    print(line, flush=True)  # noqa: T201


def raise_open_files(need: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, need)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


SEED = """
INSERT INTO auth.users (email, email_confirmed_at, raw_user_meta_data, raw_app_meta_data)
SELECT 'rt' || i || '@bench.example', now(), jsonb_build_object('username', 'rt_' || i),
  '{"provider":"email","providers":["email"]}'
FROM generate_series(0, %(n)s) i
"""


async def seed(url: str, tokens: TokenService, n: int) -> tuple[uuid.UUID, list[str]]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(SEED, {"n": n})
        cur = await conn.execute(
            "SELECT id, email FROM auth.users WHERE email LIKE 'rt%%@bench.example'"
            " ORDER BY (split_part(substr(email, 3), '@', 1))::int"
        )
        users = await cur.fetchall()
        host = users[0][0]
        cur = await conn.execute(
            "INSERT INTO public.events (name, creator_id, starts_at, release_at)"
            " VALUES ('Bench', %s, now() - interval '1 hour', now() + interval '1 day')"
            " RETURNING id",
            (host,),
        )
        row = await cur.fetchone()
        assert row is not None
        event: uuid.UUID = row[0]
        await conn.execute(
            "INSERT INTO public.event_members (event_id, user_id)"
            " SELECT %s, id FROM auth.users WHERE email LIKE 'rt%%@bench.example'"
            " ON CONFLICT DO NOTHING",
            (event,),
        )
        await conn.execute(
            "INSERT INTO public.photos (id, event_id, user_id, storage_path, username,"
            " upload_status, width, height)"
            " SELECT g, %(e)s, %(h)s, 'events/' || %(e)s || '/' || g, 'rt_0', 'uploaded',"
            " 1200, 800 FROM (SELECT gen_random_uuid() AS g FROM generate_series(1, %(k)s)) x",
            {"e": event, "h": host, "k": PHOTOS_IN_FEED},
        )
        minted = []
        for user_id, email in users[1:]:
            cur = await conn.execute(
                "INSERT INTO auth.sessions (user_id) VALUES (%s) RETURNING id", (user_id,)
            )
            srow = await cur.fetchone()
            assert srow is not None
            token, _ = tokens.mint(
                user_id=user_id,
                session_id=srow[0],
                email=email,
                app_metadata={"provider": "email", "providers": ["email"]},
                user_metadata={},
                amr=[{"method": "password", "timestamp": int(time.time())}],
            )
            minted.append(token)
        await conn.execute("VACUUM ANALYZE")
    return event, minted


# --- minimal HTTP/1.1 clients -------------------------------------------------------------


async def read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
    return status, headers


# Set whenever any subscriber records a message: the measuring loop waits on it.
PROGRESS = asyncio.Event()


async def wait_until(done: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not done() and (left := deadline - time.monotonic()) > 0:
        PROGRESS.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(PROGRESS.wait(), min(left, 0.05))


class Subscriber(asyncio.Protocol):
    """One SSE connection, as a bare protocol (no stream reader, no task per connection: the
    client's own cost per message is kept small, since it is counted in the delivery times).
    Records when `revealed` and each `photo_added` arrived. Each SSE message comes as one
    HTTP chunk; frames are split on the blank line, chunk-size lines are ignored."""

    def __init__(self, port: int, event: uuid.UUID, token: str) -> None:
        self.port, self.event, self.token = port, event, token
        self.revealed_at: float | None = None
        self.photos: dict[str, float] = {}
        self.open = asyncio.Event()
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.head = True

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_connection(lambda: self, "127.0.0.1", self.port)
        await self.open.wait()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(
            f"GET /v1/events/{self.event}/stream HTTP/1.1\r\nHost: bench\r\n"
            f"Authorization: Bearer {self.token}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )

    def data_received(self, data: bytes) -> None:
        at = time.time()
        self.buf += data
        if self.head:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.buf.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(self.buf[:200].decode("latin-1"))
            self.buf, self.head = self.buf[end + 4 :], False
            self.open.set()
        while (cut := self.buf.find(b"\n\n")) >= 0:
            frame, self.buf = self.buf[:cut], self.buf[cut + 2 :]
            self.frame(frame, at)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def frame(self, frame: bytes, at: float) -> None:
        event = data = None
        for line in frame.split(b"\n"):
            if line.startswith(b"event: "):
                event = line[7:].rstrip(b"\r")
            elif line.startswith(b"data: "):
                data = line[6:].rstrip(b"\r")
        if event == b"revealed":
            self.revealed_at = at
            PROGRESS.set()
        elif event == b"photo_added" and data:
            photo = orjson.loads(data).get("photo")
            if photo:
                self.photos[photo["id"]] = at
                PROGRESS.set()


async def poller(port: int, event: uuid.UUID, token: str, period: float, until: float) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    etag = ""
    done = 0
    await asyncio.sleep(period * (hash(token) % 1000) / 1000)  # staggered
    try:
        while time.monotonic() < until:
            started = time.monotonic()
            extra = f"If-None-Match: {etag}\r\n" if etag else ""
            writer.write(
                f"GET /v1/events/{event}/photos HTTP/1.1\r\nHost: bench\r\n"
                f"Authorization: Bearer {token}\r\n{extra}\r\n".encode()
            )
            _, headers = await read_head(reader)
            length = int(headers.get("content-length", "0"))
            if length:
                await reader.readexactly(length)
            etag = headers.get("etag", etag)
            done += 1
            await asyncio.sleep(max(0.0, period - (time.monotonic() - started)))
    finally:
        writer.close()
    return done


async def measure(
    server: Server, url: str, event: uuid.UUID, tokens: list[str], opts: argparse.Namespace
) -> dict[str, float]:
    pid = server.proc.pid
    out: dict[str, float] = {}
    port = server.port

    # Baseline first: polling every 2 s, event not revealed yet.
    await asyncio.sleep(2)
    cpu0 = tree_cpu_seconds(pid)
    until = time.monotonic() + opts.idle
    polls = await asyncio.gather(*(poller(port, event, t, 2.0, until) for t in tokens))
    out["poll_cpu"] = tree_cpu_seconds(pid) - cpu0
    out["polls"] = sum(polls)
    say(f"polling: {sum(polls)} requests in {opts.idle:g} s, server CPU {out['poll_cpu']:.2f} s")

    await asyncio.sleep(2)
    rss0 = rss_kib(pid)
    subs = [Subscriber(port, event, t) for t in tokens]
    for i in range(0, len(subs), 100):
        batch = subs[i : i + 100]
        await asyncio.wait_for(asyncio.gather(*(s.connect() for s in batch)), 60)
    await asyncio.sleep(3)
    out["rss_per_stream_kib"] = (rss_kib(pid) - rss0) / len(subs)
    say(f"{len(subs)} streams open; {out['rss_per_stream_kib']:.1f} KiB each")

    cpu0 = tree_cpu_seconds(pid)
    await asyncio.sleep(opts.idle)
    out["idle_cpu"] = tree_cpu_seconds(pid) - cpu0
    say(f"idle streams: server CPU {out['idle_cpu']:.2f} s in {opts.idle:g} s")

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(
            "UPDATE public.events SET release_at = now() + interval '3 seconds'"
            " WHERE id = %s RETURNING extract(epoch FROM release_at)::float8",
            (event,),
        )
        row = await cur.fetchone()
        assert row is not None
        release = float(row[0])
        await wait_until(lambda: all(s.revealed_at is not None for s in subs), 15)
        got = [s.revealed_at for s in subs if s.revealed_at is not None]
        out["flip_received"] = len(got)
        out["flip_last_s"] = max(got) - release if got else float("nan")
        say(f"revealed: {len(got)}/{len(subs)}, last {out['flip_last_s'] * 1000:.0f} ms after")

        lasts: list[float] = []
        every: list[float] = []
        for _ in range(opts.photos):
            photo = uuid.uuid4()
            await conn.execute(
                "INSERT INTO public.photos (id, event_id, user_id, storage_path, username,"
                " upload_status, width, height) SELECT %(p)s, %(e)s, creator_id,"
                " 'events/' || %(e)s || '/' || %(p)s, 'rt_0', 'pending', 1200, 800"
                " FROM public.events WHERE id = %(e)s",
                {"p": photo, "e": event},
            )
            t0 = time.time()
            await conn.execute(
                "UPDATE public.photos SET upload_status = 'uploaded' WHERE id = %s", (photo,)
            )
            key = str(photo)

            def delivered(key: str = key) -> bool:
                return all(key in s.photos for s in subs)

            await wait_until(delivered, 10)
            times = [s.photos[key] - t0 for s in subs if key in s.photos]
            every += times
            lasts.append(max(times) if len(times) == len(subs) else float("inf"))
            await asyncio.sleep(1)
        lasts.sort()
        every.sort()
        out["photo_p90_ms"] = percentile([x * 1000 for x in lasts], 90)
        out["photo_p50_ms"] = percentile([x * 1000 for x in lasts], 50)
        out["photo_p99_ms"] = percentile([x * 1000 for x in lasts], 99)
        out["delivery_p50_ms"] = percentile([x * 1000 for x in every], 50)
        out["delivery_p99_ms"] = percentile([x * 1000 for x in every], 99)
    for s in subs:
        s.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--idle", type=float, default=30, help="seconds of each idle window")
    parser.add_argument("--pool", type=int, default=8, help="database connections of the server")
    opts = parser.parse_args()
    started = time.monotonic()
    limit = raise_open_files(opts.subscribers * 3 + 256)
    say(f"open-file limit {limit}; load average {os.getloadavg()[0]:.2f}")
    work = Path(tempfile.mkdtemp(prefix="momento-bench-realtime-"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pg = embedded.start(work / "pg", database="momento_bench")
    try:
        asyncio.run(migrate.migrate(pg.url))
        key = keys.load_or_create(work)
        tokens = TokenService(key, ISSUER, 4 * 3600)
        event, minted = asyncio.run(seed(pg.url, tokens, opts.subscribers))
        server = Server(pg.url, work, 1, opts.pool)
        try:
            server.wait_ready()
            # uvloop, as the server runs: the clients' own overhead stays small.
            r = uvloop.run(measure(server, pg.url, event, minted, opts))
        finally:
            server.stop()
        ratio = r["idle_cpu"] / r["poll_cpu"] if r["poll_cpu"] else float("nan")

        def verdict(ok: bool) -> str:
            return "PASS" if ok else "MISS"

        say()
        say(
            f"Realtime: {opts.subscribers} streams on one event, one API process (`momento"
            f" serve`), {os.cpu_count()} cores shared by clients, server and PostgreSQL."
        )
        say()
        say(f"{'measure':<46} {'value':>12}  target")
        say(f"{'photo completed -> last subscriber, p50':<46} {r['photo_p50_ms']:>9.0f} ms")
        say(f"{'photo completed -> last subscriber, p90':<46} {r['photo_p90_ms']:>9.0f} ms")
        say(
            f"{'photo completed -> last subscriber, p99':<46} {r['photo_p99_ms']:>9.0f} ms"
            f"  <= 250 ms {verdict(r['photo_p99_ms'] <= 250)}"
        )
        say(f"{'every delivery, p50':<46} {r['delivery_p50_ms']:>9.0f} ms")
        say(f"{'every delivery, p99':<46} {r['delivery_p99_ms']:>9.0f} ms")
        say(
            f"{'revealed: release_at -> last of all streams':<46}"
            f" {r['flip_last_s'] * 1000:>9.0f} ms  <= 1000 ms"
            f" {verdict(r['flip_last_s'] <= 1 and r['flip_received'] == opts.subscribers)}"
        )
        say(f"{'memory per idle stream':<46} {r['rss_per_stream_kib']:>8.1f} KiB")
        say(f"{'server CPU, idle streams':<46} {r['idle_cpu']:>10.2f} s  in {opts.idle:g} s")
        say(f"{'server CPU, polling every 2 s (baseline)':<46} {r['poll_cpu']:>10.2f} s")
        say(f"{'idle streams / polling CPU':<46} {ratio:>11.3f}x  <= 0.2x {verdict(ratio <= 0.2)}")
        say(f"load average at the end {os.getloadavg()[0]:.2f} (other work on the machine)")
        say(f"total run time {time.monotonic() - started:.0f} s")
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
