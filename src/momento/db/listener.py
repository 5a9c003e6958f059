"""One LISTEN connection per API process, shared by every feature that needs notifications.

PostgreSQL's LISTEN/NOTIFY crosses processes for free, but each listening connection is a
server backend: one per process, not one per feature (or per client). Features register a
channel with callbacks (`Listener.channel`):

- `notify(conn, payload)`: each notification on the channel, in order, on the listener's
  connection (a callback may read with it, briefly: the next notification waits);
- `connect(conn, first)`: after every (re)connect, once LISTEN is in place, so a feature can
  catch up on what it missed while away (`first` is False after a reconnect);
- `tick()`: every `tick_every` seconds at most when no notification comes (pruning).

The connection reconnects after any failure (0.5 s doubling to 5 s), and checks it is still
alive when idle (a server gone without a word would otherwise leave it waiting for ever).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from momento import logs

log = logs.get("momento.db.listener")

Conn = psycopg.AsyncConnection[TupleRow]
OnNotify = Callable[[Conn, str], Awaitable[None]]
OnConnect = Callable[[Conn, bool], Awaitable[None]]
OnTick = Callable[[], Awaitable[None]]

RETRY_FIRST = 0.5
RETRY_CAP = 5.0
TICK_EVERY = 60.0


@dataclass
class _Channel:
    notify: OnNotify | None
    connect: OnConnect | None
    tick: OnTick | None


L = TypeVar("L", bound="Listener")


class Listener:
    """One connection LISTENing on every registered channel."""

    def __init__(self, url: str, options: str = "", tick_every: float = TICK_EVERY) -> None:
        self.url = url
        self.options = options
        self.tick_every = tick_every
        self.channels: dict[str, _Channel] = {}
        # Set once listening (after the catch-ups); cleared while disconnected.
        self.listening = asyncio.Event()
        self.connects = 0

    def channel(
        self,
        name: str,
        notify: OnNotify | None = None,
        connect: OnConnect | None = None,
        tick: OnTick | None = None,
    ) -> None:
        """Listen on `name` (register before `run`; a name is registered once)."""
        if name in self.channels:
            raise ValueError(f"channel {name} is already registered")
        self.channels[name] = _Channel(notify, connect, tick)

    async def _session(self) -> None:
        conn = await psycopg.AsyncConnection.connect(
            self.url, autocommit=True, options=self.options
        )
        async with conn:
            # LISTEN first: a change committed during the catch-ups is then notified too.
            for name in self.channels:
                await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(name)))
            first = self.connects == 0
            for ch in self.channels.values():
                if ch.connect is not None:
                    await ch.connect(conn, first)
            self.connects += 1
            self.listening.set()
            log.debug("listening", channels=list(self.channels), connects=self.connects)
            while True:
                async for note in conn.notifies(timeout=self.tick_every):
                    got = self.channels.get(note.channel)
                    if got is not None and got.notify is not None:
                        await got.notify(conn, note.payload)
                for ch in self.channels.values():
                    if ch.tick is not None:
                        await ch.tick()
                await conn.execute("SELECT 1")

    async def run(self) -> None:
        """Listen until cancelled; reconnect after any failure."""
        delay = RETRY_FIRST
        while True:
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.listening.clear()
                log.warning(
                    "listener disconnected; reconnecting",
                    channels=list(self.channels),
                    error=f"{type(exc).__name__}: {exc}",
                    retry_in=delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_CAP)


@asynccontextmanager
async def listening(listener: L) -> AsyncIterator[L]:
    """Run the listener in the background for the body's duration."""
    task = asyncio.create_task(listener.run(), name="momento-listener")
    try:
        yield listener
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
