"""Benchmark: sign-in (password grant) and refresh over HTTP against the password hash's own cost.

A sign-in is one argon2id verification plus a little database work and a token, so the hash
bounds it: the figure that matters is how close the server comes to the argon2id
verifications the machine can do. Measured in the same run:

* **argon2id**: `momento.auth.passwords.verify_password` (the server's own hasher and
  parameters) against a stored hash, in a loop, from 1 thread and from 2 threads: verifications
  per second, and CPU time per verification (the cost per core).
* **sign-in**: `POST /auth/v1/token?grant_type=password`, each request a random one of 100
  accounts (all with the right password), against `momento serve` (one process, as a
  subprocess; the job worker off) on an embedded PostgreSQL in a temporary folder. The ratio
  sign-in/s ÷ argon2id verifications/s (2 threads) is how much of the machine's hashing
  ceiling sign-in reaches. On a machine shared with other work the two runs, one after the
  other, see different loads; the server's CPU per request (its process tree, from /proc)
  over argon2id's CPU per verification does not depend on that.
* **refresh**: `POST /auth/v1/token?grant_type=refresh_token`, each connection its own
  session, sending the refresh token of the answer before (the rotation as a client does it).

The load generator is a minimal HTTP/1.1 keep-alive client on asyncio in this process (one
connection = one request at a time; latency measured with a monotonic clock from write to
last byte). The rate limits are raised for the run (MOMENTO_RATE_LIMIT_*), or sign-in would
be refused after 30 a minute. Load generator, server, hash threads and PostgreSQL share the
machine's cores. Prints a table; always exits 0.

Usage: python bench/auth.py [--duration 10] [--warmup 2] [--signin-conns 2,8] [--refresh-conns 8,32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from momento.auth.passwords import hash_password, verify_password
from momento.db import embedded
from momento.db import migrate as migrations
from reveal import Server, percentile

ACCOUNTS = 100
PASSWORD = "correct horse battery staple"  # noqa: S105 (the bench accounts')
HEADERS = "Content-Type: application/json\r\nX-Supabase-Api-Version: 2024-01-01\r\n"
# No limit will be reached: the benchmark measures throughput, not the abuse rules.
NO_LIMITS = {
    f"MOMENTO_RATE_LIMIT_{name}": "100000000"
    for name in (
        "LOGIN_PER_IP",
        "LOGIN_PER_ACCOUNT",
        "RECOVER_PER_IP",
        "RECOVER_PER_ACCOUNT",
        "SIGNUP_PER_IP",
    )
}


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


# --- argon2id alone -------------------------------------------------------------------------


@dataclass
class HashRate:
    threads: int
    per_second: float
    cpu_ms: float  # CPU time of this process per verification (all threads)


def hash_rate(stored: str, threads: int, seconds: float) -> HashRate:
    """Verifications per second with `threads` threads verifying in a loop for `seconds`."""
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def loop(i: int) -> None:
        while time.monotonic() < stop:
            assert verify_password(stored, PASSWORD).ok
            counts[i] += 1

    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    cpu, wall = time.process_time(), time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    done = sum(counts)
    return HashRate(threads, done / wall, cpu / done * 1000 if done else float("nan"))


# --- the server's CPU -----------------------------------------------------------------------


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds of `root` and its descendants so far (Linux /proc; the server
    runs its worker in a child process). NaN where /proc is not there."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    if root not in used:
        return float("nan")
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(used[pid] for pid in tree)


# --- the load generator ---------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection: a request at a time, the answer read whole."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def post(self, target: str, body: bytes) -> tuple[int, bytes]:
        self.writer.write(
            f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{HEADERS}"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = None
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise RuntimeError(f"an answer without Content-Length: {head!r}")
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


@dataclass
class Run:
    connections: int
    seconds: float = 0.0
    server_cpu_ms: float = float("nan")  # the server's CPU per answered request
    latencies: list[float] = field(default_factory=list)  # ms, sorted once done
    statuses: dict[int, int] = field(default_factory=dict)  # non-200 answers

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return sum(self.statuses.values())


# One request of a connection: its target and body, and what to do with a 200's body.
Step = tuple[str, bytes, Callable[[bytes], None] | None]


async def drive(
    port: int, steps: list[Callable[[], Step]], seconds: float, warmup: float, server_pid: int
) -> Run:
    """Each connection sends its own requests one after the other for warmup + seconds; the
    answers that end after the warm-up are counted."""
    run = Run(len(steps))
    conns = [await Connection.open(port) for _ in steps]
    start = time.monotonic()
    counted_from, until = start + warmup, start + warmup + seconds

    async def loop(conn: Connection, next_step: Callable[[], Step]) -> None:
        while (now := time.monotonic()) < until:
            target, body, on_ok = next_step()
            status, answer = await conn.post(target, body)
            end = time.monotonic()
            if status == 200 and on_ok is not None:
                on_ok(answer)
            if end < counted_from or end > until:
                continue
            if status == 200:
                run.latencies.append((end - now) * 1000)
            else:
                run.statuses[status] = run.statuses.get(status, 0) + 1

    async def server_cpu() -> None:
        """The server's CPU over the counted window (the warm-up left out)."""
        await asyncio.sleep(max(0.0, counted_from - time.monotonic()))
        first = tree_cpu_seconds(server_pid)
        await asyncio.sleep(max(0.0, until - time.monotonic()))
        answered = len(run.latencies) + run.errors
        spent = tree_cpu_seconds(server_pid) - first
        run.server_cpu_ms = spent * 1000 / answered if answered else float("nan")

    try:
        await asyncio.gather(server_cpu(), *(loop(c, s) for c, s in zip(conns, steps, strict=True)))
    finally:
        for c in conns:
            await c.close()
    run.seconds = seconds
    run.latencies.sort()
    return run


PASSWORD_GRANT = "/auth/v1/token?grant_type=password"  # noqa: S105 (a path)
REFRESH_GRANT = "/auth/v1/token?grant_type=refresh_token"


def email(i: int) -> str:
    return f"bench{i}@bench.test"


def sign_in_step(rng: random.Random) -> Callable[[], Step]:
    def step() -> Step:
        body = orjson.dumps({"email": email(rng.randrange(ACCOUNTS)), "password": PASSWORD})
        return PASSWORD_GRANT, body, None

    return step


def refresh_step(first_token: str) -> Callable[[], Step]:
    """A session's rotation: each refresh sends the token the previous answer gave."""
    token = [first_token]

    def took(answer: bytes) -> None:
        token[0] = orjson.loads(answer)["refresh_token"]

    def step() -> Step:
        return REFRESH_GRANT, orjson.dumps({"refresh_token": token[0]}), took

    return step


async def sessions(port: int, count: int) -> list[str]:
    """`count` sessions (their refresh tokens), signed in over HTTP."""
    conn = await Connection.open(port)
    tokens = []
    try:
        for i in range(count):
            body = orjson.dumps({"email": email(i % ACCOUNTS), "password": PASSWORD})
            status, answer = await conn.post(PASSWORD_GRANT, body)
            if status != 200:
                raise RuntimeError(f"sign-in answered {status}: {answer[:300]!r}")
            tokens.append(orjson.loads(answer)["refresh_token"])
    finally:
        await conn.close()
    return tokens


# --- set-up ---------------------------------------------------------------------------------


def seed(url: str, stored: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO auth.users (email, encrypted_password, email_confirmed_at,"
            " raw_user_meta_data, raw_app_meta_data)"
            " SELECT format('bench%%s@bench.test', i), %s, now(),"
            "  jsonb_build_object('username', format('bench%%s', i)),"
            '  \'{"provider":"email","providers":["email"]}\''
            " FROM generate_series(0, %s) i",
            (stored, ACCOUNTS - 1),
        )


def loadavg() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def row(name: str, r: Run, extra: str = "") -> str:
    p50, p99 = percentile(r.latencies, 50), percentile(r.latencies, 99)
    errors = ", ".join(f"{n}x{s}" for s, n in sorted(r.statuses.items())) or "0"
    return (
        f"{name:<26} {r.connections:>5} {r.rps:>9.1f} {p50:>8.1f} {p99:>8.1f} {errors:>8}"
        f" {r.server_cpu_ms:>13.1f}  {extra}"
    )


async def measure(port: int, pid: int, opts: argparse.Namespace) -> tuple[list[Run], list[Run]]:
    rng = random.Random(42)  # noqa: S311 (which account signs in next)
    signins = []
    for c in ints(opts.signin_conns):
        steps = [sign_in_step(rng) for _ in range(c)]
        run = await drive(port, steps, opts.duration, opts.warmup, pid)
        say(f"sign-in  c={c:<3} {run.rps:8.1f} req/s")
        signins.append(run)
    refreshes = []
    for c in ints(opts.refresh_conns):
        steps = [refresh_step(t) for t in await sessions(port, c)]
        run = await drive(port, steps, opts.duration, opts.warmup, pid)
        say(f"refresh  c={c:<3} {run.rps:8.1f} req/s")
        refreshes.append(run)
    return signins, refreshes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=10, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=2, help="seconds left out of each run")
    parser.add_argument("--signin-conns", default="2,8", help="connections of the sign-in runs")
    parser.add_argument("--refresh-conns", default="8,32", help="connections of the refresh runs")
    parser.add_argument("--pool", type=int, default=8, help="database connections of the server")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    opts = parser.parse_args()
    started = time.monotonic()
    # The figures move with whatever else the machine runs: said beside them.
    load_before = loadavg()

    work = Path(tempfile.mkdtemp(prefix="momento-bench-auth-"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pg = embedded.start(work / "pg", database="momento_bench")
    try:
        asyncio.run(migrations.migrate(pg.url))
        stored = hash_password(PASSWORD)
        seed(pg.url, stored)

        say("argon2id alone (momento.auth.passwords, the server's hasher and parameters) ...")
        hashing = [hash_rate(stored, t, opts.duration / 2) for t in (1, 2)]
        for h in hashing:
            say(f"argon2id {h.threads} thread(s): {h.per_second:6.1f} verifies/s")

        os.environ.update(NO_LIMITS)  # read by the server process (Server copies the env)
        server = Server(pg.url, work, 1, opts.pool)
        try:
            server.wait_ready()
            signins, refreshes = asyncio.run(measure(server.port, server.proc.pid, opts))
        finally:
            server.stop()

        ceiling = hashing[-1].per_second
        say()
        say(
            f"Auth: sign-in and refresh over HTTP (`momento serve`, 1 process, pool {opts.pool}) "
            f"against argon2id verifications in the same run; {os.cpu_count()} cores shared by "
            f"load generator, server and PostgreSQL; {opts.duration:g} s per run."
        )
        say()
        say(
            f"{'argon2id verify':<26} {'threads':>7} {'per s':>9} {'CPU ms each':>12}"
            f" {'per CPU-second (core)':>22}"
        )
        for h in hashing:
            say(
                f"{'verify_password':<26} {h.threads:>7} {h.per_second:>9.1f} {h.cpu_ms:>12.1f}"
                f" {1000 / h.cpu_ms:>22.1f}"
            )
        say()
        header = (
            f"{'HTTP':<26} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>8}"
            f" {'server CPU ms':>13}  sign-in/s ÷ argon2id/s (2 threads); CPU ÷ argon2id CPU"
        )
        say(header)
        say("-" * len(header))
        hash_cpu = hashing[0].cpu_ms
        for r in signins:
            ratios = f"{r.rps / ceiling:.2f}; {r.server_cpu_ms / hash_cpu:.2f}"
            say(row("sign-in (password grant)", r, ratios))
        for r in refreshes:
            say(row("refresh (rotation)", r))
        say()
        say(f"load average before / after: {load_before} / {loadavg()}")
        say(f"total run time {time.monotonic() - started:.0f} s")
    finally:
        pg.stop()
        if not opts.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            say(f"kept {work}")


if __name__ == "__main__":
    main()
