"""Signed local file URLs of deleted photos and events stop working at once.

A signed URL stays valid until it expires (up to `signed_url_ttl`), and a deleted photo's or
event's files stay on disk until the purge job removes them. So that a deletion takes effect
at once, the file-serving route (`momento.storage.endpoints`) refuses keys under a deleted
prefix, read from `DenyList`, an in-memory set in each API process: no database query per
file request, so serving files stays fast.

The list is fed by the database (migration 0023): deleting a photo or an event (hard or soft)
records its prefix in `momento.deleted_files` and sends `NOTIFY momento_deleted_files` at
commit with the prefixes ('*' when too many for one payload). `DeletionListener` holds one
connection per process that LISTENs; on every (re)connect it first LISTENs and then reads the
rows recent enough to matter (the catch-up), so a deletion committed while it was away (a
database restart, say) is not missed. A prefix stays listed until every URL signed before the
deletion has expired (`signed_url_ttl` after it); by then the purge has removed the files.

What this does not cover: URLs of the S3 backend (presigned by S3, not served here); their
files go when the purge job runs (queued by the deletion itself), within seconds while a
worker runs. A photo re-created with the id of one deleted within the last `signed_url_ttl`
(clients may choose photo ids) has its files refused until then.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import LiteralString

import psycopg
from psycopg.rows import TupleRow

from momento import logs

log = logs.get("momento.storage.deletions")

CHANNEL = "momento_deleted_files"
LISTEN: LiteralString = "LISTEN momento_deleted_files"
RECENT: LiteralString = """
SELECT prefix, extract(epoch FROM deleted_at)::float8 AS at FROM momento.deleted_files
WHERE deleted_at > now() - make_interval(secs => %(ttl)s)
"""
# Rows older than the longest a signed URL can live (7 days) are of no use to anyone.
PRUNE: LiteralString = """
DELETE FROM momento.deleted_files WHERE deleted_at < now() - interval '8 days'
"""
# How often the listener wakes to prune its list when no notification comes.
PRUNE_EVERY = 60.0
RETRY_FIRST = 0.5
RETRY_CAP = 5.0


class DenyList:
    """Prefixes of deleted files ('events/<event>/' or 'events/<event>/<photo>/'), each kept
    `ttl` seconds after its deletion."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.time) -> None:
        self.ttl = ttl
        self.clock = clock
        self.deleted: dict[str, float] = {}

    def add(self, prefixes: Iterable[str], at: float | None = None) -> None:
        when = self.clock() if at is None else at
        for prefix in prefixes:
            if prefix.startswith("events/") and prefix.endswith("/"):
                self.deleted[prefix] = max(when, self.deleted.get(prefix, when))

    def denies(self, key: str) -> bool:
        """Whether `key` (a validated object key) lies under a deleted prefix. Two dict
        lookups: the event's prefix and the photo's."""
        if not self.deleted or not key.startswith("events/"):
            return False
        parts = key.split("/", 3)
        if len(parts) < 3:
            return False
        event = parts[0] + "/" + parts[1] + "/"
        if event in self.deleted:
            return True
        return len(parts) == 4 and event + parts[2] + "/" in self.deleted

    def prune(self) -> None:
        horizon = self.clock() - self.ttl
        for prefix in [p for p, at in self.deleted.items() if at < horizon]:
            del self.deleted[prefix]


class DeletionListener:
    """Keeps a `DenyList` up to date from the database's notifications, reconnecting (with a
    catch-up read) whenever the connection is lost."""

    def __init__(self, url: str, deny: DenyList, options: str = "") -> None:
        self.url = url
        self.deny = deny
        self.options = options
        # Set once listening (after the catch-up); cleared while disconnected.
        self.listening = asyncio.Event()
        self.connects = 0

    async def _catch_up(self, conn: psycopg.AsyncConnection[TupleRow]) -> None:
        cur = await conn.execute(RECENT, {"ttl": self.deny.ttl})
        for prefix, at in await cur.fetchall():
            self.deny.add((prefix,), at)

    async def _session(self) -> None:
        conn = await psycopg.AsyncConnection.connect(
            self.url, autocommit=True, options=self.options
        )
        async with conn:
            # LISTEN first: a deletion committed during the catch-up is then notified too.
            await conn.execute(LISTEN)
            await self._catch_up(conn)
            self.connects += 1
            self.listening.set()
            log.debug("listening for deleted files", connects=self.connects)
            while True:
                resync = False
                async for note in conn.notifies(timeout=PRUNE_EVERY):
                    if note.payload == "*":  # too many for one payload: read them
                        resync = True
                        break
                    self.deny.add(note.payload.split())
                if resync:
                    await self._catch_up(conn)
                self.deny.prune()
                # No notification for a while: check the connection is still there (a server
                # gone away without a word would otherwise leave us waiting for ever).
                await conn.execute("SELECT 1")

    async def run(self) -> None:
        """Listen until cancelled; reconnect after any failure (0.5 s doubling to 5 s)."""
        delay = RETRY_FIRST
        while True:
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.listening.clear()
                log.warning(
                    "deleted-files listener disconnected; reconnecting",
                    error=f"{type(exc).__name__}: {exc}",
                    retry_in=delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_CAP)
            else:  # pragma: no cover - _session only ends by raising
                delay = RETRY_FIRST


@asynccontextmanager
async def listening(listener: DeletionListener) -> AsyncIterator[DeletionListener]:
    """Run the listener in the background for the body's duration."""
    task = asyncio.create_task(listener.run(), name="momento-deleted-files")
    try:
        yield listener
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
