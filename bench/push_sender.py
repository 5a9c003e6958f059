"""Benchmark: notifications per second through `ApnsSender.send_many` against the fake APNs.

A preview of the push job's target: "Your photos are ready to reveal!" to 10,000 members in at
most 2 s on 2 cores. The fake APNs server (tests/fakes/apns.py: HTTP/2 over TLS on 127.0.0.1,
JWT and headers checked as Apple does) runs in its own process, as the real APNs would be
elsewhere; the sender runs here. Each round sends every notification once over already-open
connections (the TLS handshakes and the JWT happen in a warm-up send before the clock starts).

Usage: python bench/push_sender.py [--count 10000] [--connections N] [--concurrency N]
       [--rounds 3]            (connections and concurrency default to ApnsConfig's)
Prints per-round figures and the best, PASS/MISS against the 2 s target; always exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import multiprocessing.connection
import ssl
import sys
import time
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.apns import FakeApns, make_provider_key

from momento import logs
from momento.push.apns import ApnsConfig, ApnsSender, Notification

KEY_ID = "BENCHKEY01"
TEAM_ID = "BENCHTEAM1"
TOPIC = "app.momento.bench"
TARGET_SECONDS = 2.0


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _serve(conn: multiprocessing.connection.Connection, public_pem: bytes) -> None:
    """The fake's process: start, report (port, cert), serve until told, report counters."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    async def main() -> None:
        public_key = load_pem_public_key(public_pem)
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        fake = FakeApns(
            topic=TOPIC, key_id=KEY_ID, team_id=TEAM_ID, public_key=public_key, record=False
        )
        async with fake:
            conn.send((fake.port, fake.cert_pem))
            loop = asyncio.get_running_loop()
            while True:
                message = await loop.run_in_executor(None, conn.recv)
                if message == "stop":
                    break
                conn.send(
                    {
                        "served": fake.served,
                        "connections": fake.connections,
                        "jwts": len(fake.jwts_seen),
                        "max_in_flight": fake.max_in_flight,
                        "cpu": time.process_time(),
                    }
                )
        conn.close()

    asyncio.run(main())


def start_fake(
    **config_options: Any,
) -> tuple[multiprocessing.connection.Connection, BaseProcess, int, ApnsConfig]:
    """The fake APNs in a process of its own (so its CPU is not the sender's), and a sender
    config that trusts its certificate: (control pipe, process, port, config)."""
    from cryptography.hazmat.primitives import serialization

    key_pem, public_key = make_provider_key()
    public_pem = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(theirs, public_pem), daemon=True
    )
    server.start()
    port, cert_pem = ours.recv()
    config = ApnsConfig(
        key_pem=key_pem,
        key_id=KEY_ID,
        team_id=TEAM_ID,
        topic=TOPIC,
        base_url=f"https://127.0.0.1:{port}",
        ssl_context=ssl.create_default_context(cadata=cert_pem.decode()),
        **config_options,
    )
    return ours, server, port, config


async def run(count: int, connections: int, concurrency: int, rounds: int) -> None:
    ours, server, port, config = start_fake(connections=connections, concurrency=concurrency)
    notifications = [
        Notification(
            f"{i:064x}",
            title="Momento",
            body="Your photos are ready to reveal!",
            sound="default",
            thread_id="event-42",
            data={"event_id": "42"},
        )
        for i in range(count)
    ]
    say(
        f"{count} notifications, {connections} connection(s), concurrency {concurrency}, "
        f"fake APNs in its own process on 127.0.0.1:{port}"
    )
    best = float("inf")
    async with ApnsSender(config) as sender:
        # Warm-up: every connection's TLS handshake and the JWT, before the clock starts.
        await sender.send_many(notifications[: connections * 4])
        for r in range(rounds):
            started, cpu = time.perf_counter(), time.process_time()
            results = await sender.send_many(notifications)
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu
            delivered = sum(1 for x in results if x.delivered)
            best = min(best, seconds)
            say(
                f"round {r + 1}: {seconds:.3f} s, {count / seconds:,.0f} notifications/s, "
                f"sender CPU {cpu:.3f} s, {delivered} delivered, "
                f"max in flight {sender.max_in_flight}"
            )
        minted = sender.token.minted
    ours.send("stats")
    stats = ours.recv()
    ours.send("stop")
    server.join(timeout=10)
    say(
        f"fake saw {stats['served']} requests on {stats['connections']} connection(s), "
        f"{stats['jwts']} distinct JWT(s); sender minted {minted}; fake's CPU "
        f"{stats['cpu'] * 1e6 / max(stats['served'], 1):.0f} µs per request (start-up included)"
    )
    verdict = "PASS" if best <= TARGET_SECONDS * count / 10_000 else "MISS"
    say(
        f"best: {best:.3f} s for {count} = {count / best:,.0f} notifications/s "
        f"(target 10,000 in {TARGET_SECONDS:.0f} s): {verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=10_000)
    defaults = ApnsConfig(key_pem="", key_id="", team_id="", topic="")
    parser.add_argument("--connections", type=int, default=defaults.connections)
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logs.configure("warning")
    asyncio.run(run(args.count, args.connections, args.concurrency, args.rounds))


if __name__ == "__main__":
    main()
