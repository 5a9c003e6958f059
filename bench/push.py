"""Benchmark: the reveal of an event of 10,000 members, through the real job, against the fake APNs.

Target (the issue): "Your photos are ready to reveal!" to 10,000 members' devices, the last one
acknowledged by APNs within 2 s of the job starting, on 2 cores.

Set-up: an embedded PostgreSQL in a temporary folder with the migrations; 10,000 users with
device tokens, members of one event per round (the delivery ledger sends each device one
notification per event, so every round reveals a fresh event with the same members); the fake
APNs server (tests/fakes/apns.py: HTTP/2 over TLS, JWT and headers checked as Apple does) in
its own process on 127.0.0.1, as bench/push_sender.py runs it. Three figures, same run, same
sender (its connections and JWT warmed up before the clock starts):

* **raw sender**: `ApnsSender.send_many` of the same 10,000 notifications (the baseline: no
  database, no job);
* **reveal job**: the `reveal:send` task function called with a job context, as a worker calls
  it: reads the event, claims 10,000 ledger rows, sends, records the answers, finishes;
* **via a worker**: the job deferred, then `run_worker` picking it up and running it.

"to last ack" is from the job's start until `send_many` returned (every answer in); "job" adds
recording the answers. Prints a table; PASS/MISS against the 2 s target; always exits 0.

Usage: python bench/push.py [--members 10000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from push_sender import start_fake

from momento import logs
from momento.config import Environment, Settings
from momento.db import embedded
from momento.db import migrate as migrations
from momento.push.apns import ApnsSender, Notification, SendResult
from momento.reveal import service
from momento.services import Services

TARGET_SECONDS = 2.0


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


SEED_USERS = """
INSERT INTO auth.users (email, email_confirmed_at, raw_user_meta_data, raw_app_meta_data)
SELECT format('m%%s@bench.test', i), now(), jsonb_build_object('username', format('member%%s', i)),
  '{"provider":"email","providers":["email"]}'
FROM generate_series(0, %(n)s - 1) i;
"""

# 64 hex digits per device, distinct.
SEED_TOKENS = """
UPDATE public.profiles SET device_token = md5(id::text) || md5(reverse(id::text))
"""

SEED_EVENT = """
WITH creator AS (SELECT id FROM auth.users ORDER BY email LIMIT 1),
e AS (
  INSERT INTO public.events (name, creator_id, starts_at, release_at)
  SELECT %(name)s, id, now() - interval '3 hours', now() - interval '1 second' FROM creator
  RETURNING id
),
m AS (
  INSERT INTO public.event_members (event_id, user_id)
  SELECT e.id, u.id FROM e, auth.users u
  WHERE u.id <> (SELECT id FROM creator)
)
SELECT id FROM e
"""


class Timed:
    """The sender with the moment its last batch was fully answered."""

    def __init__(self, inner: ApnsSender) -> None:
        self.inner = inner
        self.first_send = 0.0
        self.last_ack = 0.0

    async def open(self) -> None:
        await self.inner.open()

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def ready(self) -> None:
        await self.inner.ready()

    def health(self) -> dict[str, str]:
        return self.inner.health()

    async def send(self, notification: Notification) -> SendResult:
        return await self.inner.send(notification)

    async def send_many(self, notifications: Iterable[Notification]) -> list[SendResult]:
        self.first_send = time.perf_counter()
        results = await self.inner.send_many(notifications)
        self.last_ack = time.perf_counter()
        return results


@dataclasses.dataclass
class Row:
    name: str
    sent: int
    to_last_ack: float
    job: float | None
    before_send: float | None = None  # job start to the first notification handed to APNs


def job_context(svc: Services, event_id: uuid.UUID) -> Any:
    from procrastinate import JobContext
    from procrastinate.jobs import Job

    job = Job(
        id=1,
        queue="push",
        lock=None,
        queueing_lock=None,
        task_name="reveal:send",
        task_kwargs={"event_id": str(event_id)},
    )
    return JobContext(
        app=svc.jobs,
        job=job,
        start_timestamp=time.time(),
        additional_context={"services": svc},
        abort_reason=lambda: None,
    )


async def run(members: int, rounds: int, folder: Path) -> None:

    from momento.jobs.queue import run_worker
    from momento.services import build_services

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pg = embedded.start(folder, database="momento_bench")
    try:
        await migrations.migrate(pg.url)
        settings = Settings(
            env=Environment.test,
            data_dir=folder / "data",
            database_url=pg.url,
            db_pool_min=1,
            db_pool_max=4,
            inprocess_worker=False,
        )
        svc = build_services(settings, pg.url)
        await svc.db.open()
        await svc.jobs.open_async()
        async with svc.db.privileged() as conn:
            await conn.execute(SEED_USERS, {"n": members})
            await conn.execute(SEED_TOKENS)
        events: list[uuid.UUID] = []
        for r in range(rounds + 1):
            async with svc.db.privileged() as conn:
                cur = await conn.execute(SEED_EVENT, {"name": f"Bench {r}"})
                row = await cur.fetchone()
                assert row is not None
                events.append(row["id"])
        async with svc.db.privileged() as conn:
            await conn.execute("ANALYZE")
            cur = await conn.execute(
                "SELECT device_token FROM public.profiles WHERE device_token IS NOT NULL LIMIT %s",
                (members,),
            )
            tokens = [r["device_token"] for r in await cur.fetchall()]

        ours, server, port, config = start_fake()
        sender = Timed(ApnsSender(config))
        await sender.open()
        pushing = dataclasses.replace(svc, push=sender)
        say(
            f"{members:,} members with device tokens, {os.cpu_count()} CPU(s); fake APNs in its"
            f" own process on 127.0.0.1:{port}; sender: {config.connections} connections,"
            f" concurrency {config.concurrency}"
        )
        # Warm-up: TLS handshakes, the JWT, the statements' plans.
        event_name = "Bench"
        raw = [
            Notification(
                t,
                title=event_name,
                body=service.REVEAL_BODY,
                sound="default",
                thread_id=str(events[0]),
                collapse_id=f"reveal-{events[0]}",
                data={"event_id": str(events[0]), "type": "reveal"},
            )
            for t in tokens
        ]
        await sender.send_many(raw[: config.connections * 4])

        rows: list[Row] = []
        for _ in range(rounds):
            started = time.perf_counter()
            results = await sender.send_many(raw)
            rows.append(
                Row(
                    "raw sender", sum(r.delivered for r in results), sender.last_ack - started, None
                )
            )

        task = svc.jobs.tasks["reveal:send"]
        for r in range(rounds):
            event_id = events[r]
            started = time.perf_counter()
            outcome = await task.func(job_context(pushing, event_id), event_id=str(event_id))
            done = time.perf_counter()
            rows.append(
                Row(
                    "reveal job",
                    int(outcome["delivered"]),
                    sender.last_ack - started,
                    done - started,
                    sender.first_send - started,
                )
            )

        event_id = events[rounds]
        started = time.perf_counter()
        await task.defer_async(event_id=str(event_id))
        await run_worker(pushing, install_signal_handlers=False, wait=False, concurrency=1)
        done = time.perf_counter()
        async with svc.db.privileged() as conn:
            cur = await conn.execute(
                "SELECT count(*) AS n FROM momento.push_deliveries"
                " WHERE event_id = %s AND status = 'delivered'",
                (event_id,),
            )
            delivered = await cur.fetchone()
        assert delivered is not None
        rows.append(
            Row("via a worker", int(delivered["n"]), sender.last_ack - started, done - started)
        )

        ours.send("stats")
        stats = ours.recv()
        ours.send("stop")
        server.join(timeout=10)
        await sender.close()
        await svc.jobs.close_async()
        await svc.db.close()
    finally:
        pg.stop()

    best_raw = min(r.to_last_ack for r in rows if r.name == "raw sender")
    say()
    say("| run | notifications | to last ack (s) | notifications/s | job done (s) | vs raw |")
    say("| --- | ---: | ---: | ---: | ---: | ---: |")
    for res in rows:
        job = f"{res.job:.3f}" if res.job is not None else ""
        say(
            f"| {res.name} | {res.sent:,} | {res.to_last_ack:.3f} |"
            f" {res.sent / res.to_last_ack:,.0f} | {job} | {res.to_last_ack / best_raw:.2f}x |"
        )
    jobs = [r for r in rows if r.name == "reveal job"]
    best = min(jobs, key=lambda r: r.to_last_ack)
    best_job = best.to_last_ack
    assert best.before_send is not None
    assert best.job is not None
    say()
    say(
        f"best reveal job: {best.before_send:.3f} s before the first send (event read, ledger"
        f" claim, notifications built), {best.to_last_ack - best.before_send:.3f} s sending,"
        f" {best.job - best.to_last_ack:.3f} s recording the answers"
    )
    verdict = "PASS" if best_job <= TARGET_SECONDS * members / 10_000 else "MISS"
    say()
    say(
        f"reveal job best: {best_job:.3f} s to the last acknowledgement for {members:,}"
        f" ({members / best_job:,.0f}/s; raw sender {members / best_raw:,.0f}/s;"
        f" job overhead {best_job - best_raw:+.3f} s). Target 10,000 in"
        f" {TARGET_SECONDS:.0f} s: {verdict}"
    )
    say(f"fake APNs served {stats['served']:,} requests on {stats['connections']} connection(s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logs.configure("warning")
    with tempfile.TemporaryDirectory(prefix="momento-bench-push-") as tmp:
        asyncio.run(run(args.members, args.rounds, Path(tmp)))


if __name__ == "__main__":
    main()
