"""A second opinion on wrk's latencies: HTTP/1.1 keep-alive connections timed with a
monotonic clock, one request at a time each, as wrk's connections run.

wrk times requests with gettimeofday(); with 2 server workers it recorded latencies on this
machine that add up to more time than its connections had (bench/reveal.py flags such runs).
This client sends the same requests (the member tokens and page paths of a wrk script that
bench/reveal.py wrote: run it with --keep) and prints its own figures, including the same sum
check, which for it is 1.00 by construction of the timing.

Usage: python bench/latency_probe.py BASE_URL SCRIPT.lua [--connections 8] [--seconds 10]
It is a slower load generator than wrk (Python): compare latencies at equal connections,
not throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import uvloop

CONTENT_LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)", re.IGNORECASE)


def lua_table(script: str, name: str) -> list[str]:
    match = re.search(r"local " + name + r" = \{(.*?)\}\n", script, re.DOTALL)
    if match is None:
        raise SystemExit(f"no `local {name} = {{...}}` in the script")
    items: list[str] = json.loads("[" + match.group(1) + "]")
    return items


async def connection(
    host: str, port: int, tokens: list[str], paths: list[str], until: float, out: list[float]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.monotonic() < until:
            request = (
                f"GET {random.choice(paths)} HTTP/1.1\r\nHost: {host}\r\n"  # noqa: S311
                f"Authorization: Bearer {random.choice(tokens)}\r\n\r\n"  # noqa: S311
            ).encode()
            started = time.monotonic()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = CONTENT_LENGTH.search(head)
            if length is None or not head.startswith(b"HTTP/1.1 200"):
                raise SystemExit(f"unexpected response: {head[:200]!r}")
            await reader.readexactly(int(length.group(1)))
            out.append(time.monotonic() - started)
    finally:
        writer.close()


async def run(base: str, text: str, connections: int, seconds: float) -> str:
    parts = urlsplit(base)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    tokens, paths = lua_table(text, "tokens"), lua_table(text, "paths")
    latencies: list[float] = []
    until = time.monotonic() + seconds
    await asyncio.gather(
        *(connection(host, port, tokens, paths, until, latencies) for _ in range(connections))
    )
    ordered = sorted(latencies)
    n = len(ordered)
    if not n:
        raise SystemExit("no request completed")
    return (
        f"requests {n}  req/s {n / seconds:.0f}  p50 {ordered[n // 2] * 1000:.2f} ms  "
        f"p99 {ordered[min(n - 1, int(n * 0.99))] * 1000:.2f} ms  max {ordered[-1] * 1000:.1f} ms  "
        f"latency sum / connection time {sum(ordered) / (connections * seconds):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("base", help="the server, e.g. http://127.0.0.1:8000")
    parser.add_argument("script", type=Path, help="a wrk script written by bench/reveal.py")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    opts = parser.parse_args()
    line = uvloop.run(run(opts.base, opts.script.read_text(), opts.connections, opts.seconds))
    sys.stdout.write(line + "\n")


if __name__ == "__main__":
    main()
