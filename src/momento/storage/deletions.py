"""Signed local file URLs of deleted photos and events stop working at once.

A signed URL stays valid until it expires (up to `signed_url_ttl`), and a deleted photo's or
event's files stay on disk until the purge job removes them. So that a deletion takes effect
at once, the file-serving route (`momento.storage.endpoints`) refuses keys under a deleted
prefix, read from `DenyList`, an in-memory set in each API process: no database query per
file request, so serving files stays fast.

The list is fed by the database (migration 0023): deleting a photo or an event (hard or soft)
records its prefix in `momento.deleted_files` and sends `NOTIFY momento_deleted_files` at
commit with the prefixes ('*' when too many for one payload). `DeletionListener` is the
process's one LISTEN connection (momento.db.listener, shared with realtime); on every
(re)connect it first LISTENs and then reads the rows recent enough to matter (the catch-up),
so a deletion committed while it was away (a
database restart, say) is not missed. A prefix stays listed until every URL signed before the
deletion has expired (`signed_url_ttl` after it); by then the purge has removed the files.

What this does not cover: URLs of the S3 backend (presigned by S3, not served here); their
files go when the purge job runs (queued by the deletion itself), within seconds while a
worker runs. A photo re-created with the id of one deleted within the last `signed_url_ttl`
(clients may choose photo ids) has its files refused until then.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import LiteralString

import psycopg
from psycopg.rows import TupleRow

from momento import logs
from momento.db.listener import Listener, listening

log = logs.get("momento.storage.deletions")

CHANNEL = "momento_deleted_files"
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


class DeletionListener(Listener):
    """Keeps a `DenyList` up to date from the database's notifications, reconnecting (with a
    catch-up read) whenever the connection is lost. It is the process's `Listener` (one
    connection): other features (momento.realtime) register their channels on it too."""

    def __init__(self, url: str, deny: DenyList, options: str = "") -> None:
        super().__init__(url, options, tick_every=PRUNE_EVERY)
        self.deny = deny
        self.channel(CHANNEL, notify=self._notified, connect=self._connected, tick=self._tick)

    async def _catch_up(self, conn: psycopg.AsyncConnection[TupleRow]) -> None:
        cur = await conn.execute(RECENT, {"ttl": self.deny.ttl})
        for prefix, at in await cur.fetchall():
            self.deny.add((prefix,), at)

    async def _connected(self, conn: psycopg.AsyncConnection[TupleRow], first: bool) -> None:
        await self._catch_up(conn)

    async def _notified(self, conn: psycopg.AsyncConnection[TupleRow], payload: str) -> None:
        if payload == "*":  # too many for one payload: read them
            await self._catch_up(conn)
        else:
            self.deny.add(payload.split())

    async def _tick(self) -> None:
        self.deny.prune()


__all__ = ["CHANNEL", "DeletionListener", "DenyList", "listening"]
