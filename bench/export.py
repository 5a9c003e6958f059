"""Benchmark: an event's photos as one ZIP (`GET /v1/events/{id}/export.zip`).

500 photos of about 4 MB (random-noise JPEGs at a phone camera's size, made once into a cache
folder and reused) are the originals of one revealed event on the local-disk storage (hard
links into the server's storage folder). Measured in the same run, on the same disk:

* files: the same 500 originals read from the storage the way a client reads them: each
  downloaded from its signed URL (the feed's `urls.original`, served by the same server's
  `/files` route), one after the other, by the same streaming client;
* zip: the archive over HTTP from the real server (`momento serve` as a subprocess, one
  worker, the job worker off), read to the end by a streaming client that discards it;
* also shown, not a target: the storage's own chunked reads in this process
  (`LocalDiskStorage.stream`, what the archive is made of, no HTTP at all).

Each side runs twice, interleaved, after one untimed read of every file (so both read from
the page cache: the archive's own overhead is measured, not the disk); the better run of
each side is kept. The server's memory: its resident set (VmRSS of the process, sampled
every 20 ms) during the downloads, against the same before the first download (idle after
a warm-up request).

Targets: zip rate >= 0.8 x files rate; server peak <= idle + 100 MB; the archive's length
is the Content-Length it announced.

Usage: python bench/export.py [--photos 500] [--cache ~/.cache/momento-bench-export] [--keep]
Prints a table with PASS/MISS against the targets; always exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pyvips

from momento.auth import keys
from momento.auth.tokens import TokenService
from momento.db import embedded
from momento.db import migrate as migrations
from momento.storage import FileUrlSigner, LocalDiskStorage

PHOTOS = 500
WIDTH, HEIGHT = 4032, 3024  # 12 MP: about 4 MB of noise at quality 90
TARGET_RATIO = 0.8
TARGET_MEMORY_MB = 100.0
ROUNDS = 2


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# --- the photos -----------------------------------------------------------------------------


def noise_jpeg(seed: int) -> bytes:
    """A random-noise JPEG about the size a phone camera makes (fine noise compresses like a
    real photo's detail); `seed` varies the noise's level so no two files are alike."""
    noise = pyvips.Image.gaussnoise(WIDTH, HEIGHT, sigma=8 + (seed % 5) * 0.1, mean=128)
    image = noise.bandjoin([noise, noise]).cast("uchar")
    return bytes(image.jpegsave_buffer(Q=90))


def cached_photos(cache: Path, n: int) -> list[Path]:
    """`n` JPEGs in `cache`, made the first time only."""
    cache.mkdir(parents=True, exist_ok=True)
    paths = [cache / f"noise-{i:04d}.jpg" for i in range(n)]
    missing = [p for p in paths if not p.exists()]
    if missing:
        say(f"making {len(missing)} noise JPEGs into {cache} (once) ...")
        t0 = time.monotonic()
        for i, path in enumerate(missing):
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(noise_jpeg(i))
            tmp.rename(path)
        say(f"made in {time.monotonic() - t0:.0f} s")
    return paths


# --- the event ------------------------------------------------------------------------------


async def seed(url: str, tokens: TokenService, root: Path, files: list[Path]) -> tuple[str, str]:
    """One user, one revealed event, one uploaded photo per file (hard-linked in as its
    original): the event's id and the user's access token."""
    now = datetime.now(UTC)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(
            "INSERT INTO auth.users (email, email_confirmed_at, raw_user_meta_data)"
            " VALUES ('bench@example.com', now(), '{\"username\": \"bench\"}') RETURNING id"
        )
        row = await cur.fetchone()
        assert row is not None
        user_id = row[0]
        cur = await conn.execute(
            "INSERT INTO auth.sessions (user_id) VALUES (%s) RETURNING id", (user_id,)
        )
        srow = await cur.fetchone()
        assert srow is not None
        cur = await conn.execute(
            "INSERT INTO public.events (name, creator_id, starts_at, release_at)"
            " VALUES ('Bench', %s, %s, %s) RETURNING id",
            (user_id, now - timedelta(days=2), now - timedelta(hours=1)),
        )
        erow = await cur.fetchone()
        assert erow is not None
        event_id = erow[0]
        ids = [uuid.uuid4() for _ in files]
        async with conn.transaction():
            for i, (photo_id, path) in enumerate(zip(ids, files, strict=True)):
                storage_path = f"events/{event_id}/{photo_id}"
                await conn.execute(
                    "INSERT INTO public.photos (id, event_id, user_id, storage_path,"
                    " captured_at, upload_status, width, height)"
                    " VALUES (%s, %s, %s, %s, %s, 'uploaded', %s, %s)",
                    (
                        photo_id,
                        event_id,
                        user_id,
                        storage_path,
                        now - timedelta(days=1, seconds=i),
                        WIDTH,
                        HEIGHT,
                    ),
                )
                await conn.execute(
                    "INSERT INTO public.photo_media (photo_id, declared_type, declared_size,"
                    " content_type, byte_size, processed_at)"
                    " VALUES (%s, 'image/jpeg', %s, 'image/jpeg', %s, now())",
                    (photo_id, path.stat().st_size, path.stat().st_size),
                )
                target = root / storage_path / "original"
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(path, target)
                except OSError:  # another file system: a copy
                    shutil.copyfile(path, target)
    token, _ = tokens.mint(
        user_id=user_id,
        session_id=srow[0],
        email="bench@example.com",
        app_metadata={"provider": "email", "providers": ["email"]},
        user_metadata={"username": "bench"},
        amr=[{"method": "password", "timestamp": int(time.time())}],
    )
    return str(event_id), token


# --- the two sides --------------------------------------------------------------------------


async def read_all(root: Path, event_id: str) -> tuple[int, float]:
    """Every original through the storage's chunked reads: bytes and seconds."""
    storage = LocalDiskStorage(root, FileUrlSigner(b"x" * 32, "http://momento.bench"))
    await storage.open()
    total = 0
    t0 = time.perf_counter()
    try:
        for photo in sorted((root / "events" / event_id).iterdir()):
            async for chunk in storage.stream(f"events/{event_id}/{photo.name}/original"):
                total += len(chunk)
    finally:
        await storage.close()
    return total, time.perf_counter() - t0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Sampler:
    """The peak resident set of a process, sampled every 20 ms while running."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.02)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def original_urls(base: str, event_id: str, token: str) -> list[str]:
    """Every photo's signed original URL, from the feed (as a client gets them)."""
    urls: list[str] = []
    cursor = None
    with httpx.Client(timeout=30) as client:
        while True:
            params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
            r = client.get(
                f"{base}/v1/events/{event_id}/photos",
                params=params,
                headers={"Authorization": f"Bearer {token}"},
            )
            r.raise_for_status()
            page = r.json()
            urls += [item["urls"]["original"] for item in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                return urls


def download_files(urls: list[str]) -> tuple[int, float]:
    """Each original from its signed URL, one after the other: bytes and seconds."""
    t0 = time.perf_counter()
    got = 0
    with httpx.Client(timeout=120) as client:
        for url in urls:
            with client.stream("GET", url) as r:
                r.raise_for_status()
                for chunk in r.iter_raw(1 << 20):
                    got += len(chunk)
    return got, time.perf_counter() - t0


def download(base: str, event_id: str, token: str) -> tuple[int, int, float]:
    """The archive, read to the end: its announced length, bytes read and seconds."""
    t0 = time.perf_counter()
    got = 0
    with (
        httpx.Client(timeout=120) as client,
        client.stream(
            "GET",
            f"{base}/v1/events/{event_id}/export.zip",
            headers={"Authorization": f"Bearer {token}"},
        ) as r,
    ):
        r.raise_for_status()
        announced = int(r.headers["content-length"])
        for chunk in r.iter_raw(1 << 20):
            got += len(chunk)
    return announced, got, time.perf_counter() - t0


def start_server(url: str, data_dir: Path, port: int) -> tuple[subprocess.Popen[bytes], str]:
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "MOMENTO_DATA_DIR": str(data_dir),
        "MOMENTO_HOST": "127.0.0.1",
        "MOMENTO_PORT": str(port),
        # Signed file URLs point here: the files side downloads them.
        "MOMENTO_PUBLIC_URL": base,
        "MOMENTO_LOG_LEVEL": "warning",
        "MOMENTO_INPROCESS_WORKER": "false",
    }
    log = (data_dir / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "momento.cli", "serve", "--workers", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2) as r:  # noqa: S310
                if r.status == 200:
                    return proc, base
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not become ready")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--photos", type=int, default=PHOTOS)
    parser.add_argument(
        "--cache", type=Path, default=Path.home() / ".cache" / "momento-bench-export"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary data dir")
    opts = parser.parse_args()

    files = cached_photos(opts.cache, opts.photos)
    work = Path(tempfile.mkdtemp(prefix="momento-bench-export-", dir=opts.cache.parent))
    pg = embedded.start(work / "pg", database="momento_bench")
    proc = None
    try:
        asyncio.run(migrations.migrate(pg.url))
        port = free_port()
        # The server's issuer: its public URL, where its signed file URLs point too.
        issuer = f"http://127.0.0.1:{port}/auth/v1"
        tokens = TokenService(keys.load_or_create(work), issuer, 3600)
        root = work / "files"
        event_id, token = asyncio.run(seed(pg.url, tokens, root, files))
        size = sum(f.stat().st_size for f in files)
        say(f"{len(files)} photos, {size / 1e6:.0f} MB")

        asyncio.run(read_all(root, event_id))  # into the page cache, untimed
        proc, base = start_server(pg.url, work, port)
        with httpx.Client() as c:  # warm-up: imports, the pool, the first token check
            c.get(f"{base}/v1/events/{event_id}", headers={"Authorization": f"Bearer {token}"})
        urls = original_urls(base, event_id, token)
        assert len(urls) == len(files)
        time.sleep(1)
        idle = rss_mb(proc.pid)

        reads: list[float] = []
        gets: list[float] = []
        zips: list[float] = []
        lengths_ok = True
        with Sampler(proc.pid) as sampler:
            for _ in range(ROUNDS):
                n, seconds = asyncio.run(read_all(root, event_id))
                reads.append(n / seconds / 1e6)
                n, seconds = download_files(urls)
                gets.append(n / seconds / 1e6)
                announced, got, seconds = download(base, event_id, token)
                lengths_ok = lengths_ok and announced == got and got > n
                zips.append(got / seconds / 1e6)
        read_rate, files_rate, zip_rate = max(reads), max(gets), max(zips)
        ratio = zip_rate / files_rate
        growth = sampler.peak - idle

        say()
        say(f"{'':24}{'value':>12}  target")
        say(f"{'storage.stream MB/s':24}{read_rate:12.0f}  (in process, no HTTP)")
        say(f"{'files (HTTP) MB/s':24}{files_rate:12.0f}")
        say(f"{'zip (HTTP) MB/s':24}{zip_rate:12.0f}")
        say(f"{'zip / files':24}{ratio:12.2f}  >= {TARGET_RATIO}  {verdict(ratio >= TARGET_RATIO)}")
        say(f"{'server RSS idle MB':24}{idle:12.0f}")
        say(f"{'server RSS peak MB':24}{sampler.peak:12.0f}")
        say(
            f"{'peak - idle MB':24}{growth:12.0f}  <= {TARGET_MEMORY_MB:.0f}"
            f"  {verdict(growth <= TARGET_MEMORY_MB)}"
        )
        say(f"{'Content-Length exact':24}{lengths_ok!s:>12}  {verdict(lengths_ok)}")
        say(
            f"(runs: stream {', '.join(f'{r:.0f}' for r in reads)};"
            f" files {', '.join(f'{g:.0f}' for g in gets)};"
            f" zip {', '.join(f'{z:.0f}' for z in zips)} MB/s)"
        )
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        pg.stop()
        if opts.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
