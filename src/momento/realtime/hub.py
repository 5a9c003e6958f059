"""The per-process fan-out: one reader of the change log for all the process's streams.

`Hub.attach` registers two channels on the process's one LISTEN connection
(momento.db.listener): `momento_changes` (an event id per changing transaction) wakes the
reader, which reads the new rows once (`id > last`, plus ids skipped by transactions that had
not committed yet), reads their details once (events, photos, usernames), and queues for each
subscriber of the event what `policy.decide` allows. `momento_sessions` ends the streams of
signed-out sessions. After a reconnect (a database restart) every stream is told to resync:
what happened while the listener was away is not known.

Likes are coalesced: the database writes at most one like_count row per photo per half
second, and the hub sends a photo's count at most every half second, reading it once more
after the window (the last like of a burst is delivered). `revealed` is fired by a timer per
event with subscribers, set from the database's clock and checked against it before firing.

Each subscriber's queue is bounded: a client that does not read is closed with `resync`,
never buffered without end.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio
import orjson

from momento import logs
from momento.db.listener import Conn, Listener
from momento.photos.feed import feed_item, url_expiry
from momento.realtime import queries
from momento.realtime.policy import (
    SHUTDOWN,
    SIGNED_OUT,
    TOKEN_EXPIRED,
    Change,
    EventState,
    Out,
    PhotoState,
    Viewer,
    decide,
)

if TYPE_CHECKING:
    from momento.services import Services

log = logs.get("momento.realtime")

CHANGES = "momento_changes"
SESSIONS = "momento_sessions"
LIKE_WINDOW = 0.5  # seconds: at most two like_count messages per photo per second
GAP_WAIT = 10.0  # seconds an id skipped by an uncommitted transaction is looked for
FREEZE_STEP = 256  # open streams added before their objects are frozen (and at least 1/4 more)


@dataclass(frozen=True)
class Message:
    """One SSE message: `id`, `event` and JSON `data` (already encoded)."""

    id: int
    event: str
    data: str
    end: bool = False

    @functools.cached_property
    def frame(self) -> bytes:
        """The message as sent (made once, however many subscribers get it)."""
        return f"id: {self.id}\nevent: {self.event}\ndata: {self.data}\n\n".encode()


# What `decide` depends on of a viewer, as a key: subscribers alike get one shared message
# (2,000 members of an event mostly are alike), decided and encoded once per change.
ViewerKey = tuple[bool, ...]


def viewer_key(
    sub: Subscriber, change: Change, event: EventState | None, photo: PhotoState | None
) -> ViewerKey:
    me = sub.user_id
    return (
        sub.viewer.member,
        change.user_id == me,
        change.actor_id == me,
        me in (change.reporters or ()),
        event is not None and event.creator_id == me,
        photo is not None and photo.user_id == me,
        photo is not None and me in photo.reporters,
        photo is not None and me in photo.likers,
    )


def encode(data: dict[str, Any]) -> str:
    return orjson.dumps(data, option=orjson.OPT_UTC_Z).decode()


class Subscriber:
    """One open stream: who, on which event, its bounded queue and how it ends."""

    def __init__(
        self,
        user_id: uuid.UUID,
        session_id: uuid.UUID | None,
        event_id: uuid.UUID,
        expires_at: float,
        max_queue: int,
    ) -> None:
        self.user_id = user_id
        self.session_id = session_id
        self.event_id = event_id
        self.expires_at = expires_at
        self.viewer = Viewer(user_id, member=True)
        self.queue: asyncio.Queue[Message] = asyncio.Queue(max_queue)
        # Set when the stream must end; `final` is its last message.
        self.final: Message | None = None
        self.ended = asyncio.Event()
        # Set whenever there is something to send (a message or the end).
        self.ready = asyncio.Event()
        # While replaying missed rows, live messages wait here (kept in order after them).
        self.held: list[Message] | None = None
        # Rows up to this id were replayed: not delivered again live.
        self.replayed_upto = 0
        self.expiry: asyncio.TimerHandle | None = None

    def offer(self, message: Message, live: bool = True) -> None:
        if self.final is not None:
            return
        if live and self.held is not None:
            self.held.append(message)
            if len(self.held) > self.queue.maxsize:
                self.resync("slow")
            return
        if message.end:
            self.finish(message)
            return
        try:
            self.queue.put_nowait(message)
            self.ready.set()
        except asyncio.QueueFull:
            # The client does not keep up: close with resync rather than grow without bound.
            self.resync("slow")

    def release(self) -> None:
        """Replay done: the live messages held meanwhile follow it."""
        held, self.held = self.held or [], None
        for message in held:
            self.offer(message)

    def finish(self, message: Message) -> None:
        """End after what is queued, with `message` last."""
        if self.final is None:
            self.final = message
            self.ended.set()
            self.ready.set()

    def resync(self, reason: str, at: int = 0) -> None:
        """End now, dropping what is queued: the client reloads the feed and reconnects."""
        if self.final is None:
            while not self.queue.empty():
                self.queue.get_nowait()
            self.final = Message(at, "resync", encode({"reason": reason}), True)
            self.ended.set()
            self.ready.set()


@dataclass
class _EventWatch:
    subscribers: set[Subscriber] = field(default_factory=set)
    reveal: asyncio.Task[None] | None = None


@dataclass
class _Likes:
    sent_at: float = 0.0
    count: int | None = None
    timer: asyncio.TimerHandle | None = None
    trailing: bool = False


class Hub:
    def __init__(self) -> None:
        self.services: Services | None = None
        self.events: dict[uuid.UUID, _EventWatch] = {}
        self.sessions: dict[uuid.UUID, set[Subscriber]] = {}
        self.last = 0
        self.gaps: dict[int, float] = {}
        self.wake = asyncio.Event()
        self.likes: dict[uuid.UUID, _Likes] = {}
        self.ready = asyncio.Event()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.reader: asyncio.Task[None] | None = None
        self.shutdown: anyio.Event | None = None
        # Counters for tests and the benchmark.
        self.batches = 0
        self.open_streams = 0
        # Open streams when their objects were last frozen (kept out of the collector's sight).
        self.frozen_at = 0

    # --- wiring ---------------------------------------------------------------------------

    def attach(self, services: Services, listener: Listener) -> None:
        """Register on the process's listener (before it runs)."""
        self.services = services
        listener.channel(CHANGES, notify=self._notified, connect=self._connected, tick=self._prune)
        listener.channel(SESSIONS, notify=self._sessions_ended)

    def start(self) -> None:
        self.reader = asyncio.create_task(self._read_loop(), name="momento-realtime")
        # Set by the SSE responses when the server begins to stop (sse-starlette notices it
        # before the app's shutdown runs): every stream then ends with a word.
        self.shutdown = anyio.Event()
        self._spawn(self._on_shutdown(self.shutdown))

    async def _on_shutdown(self, event: anyio.Event) -> None:
        await event.wait()
        for sub in self.all_subscribers():
            sub.finish(Message(self.last, "end", encode({"reason": SHUTDOWN}), True))

    async def stop(self) -> None:
        # The process is stopping: every stream ends (its client reconnects elsewhere).
        for sub in self.all_subscribers():
            sub.finish(Message(self.last, "end", encode({"reason": SHUTDOWN}), True))
        for task in [self.reader, *self.tasks]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for watch in self.events.values():
            if watch.reveal is not None:
                watch.reveal.cancel()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    @property
    def _svc(self) -> Services:
        assert self.services is not None, "Hub.attach was not called"
        return self.services

    async def _connected(self, conn: Conn, first: bool) -> None:
        cur = await conn.execute(queries.MAX_ID)
        row = await cur.fetchone()
        newest = int(row[0]) if row else 0
        if not first:
            # Whatever changed while we were away is unknown: every stream reloads.
            for sub in self.all_subscribers():
                sub.resync("reconnected", newest)
            log.info("realtime listener reconnected; streams told to resync")
        self.last, self.gaps = newest, {}
        self.ready.set()

    async def _notified(self, conn: Conn, payload: str) -> None:
        self.wake.set()

    async def _sessions_ended(self, conn: Conn, payload: str) -> None:
        if payload == "*":
            ids = list(self.sessions)
            cur = await conn.execute(queries.LIVE_SESSIONS, {"ids": ids})
            alive = {r[0] for r in await cur.fetchall()}
            ended: Iterable[uuid.UUID] = [s for s in ids if s not in alive]
        else:
            ended = []
            for part in payload.split():
                with contextlib.suppress(ValueError):
                    ended.append(uuid.UUID(part))
        for sid in ended:
            for sub in list(self.sessions.get(sid, ())):
                sub.finish(Message(self.last, "end", encode({"reason": SIGNED_OUT}), True))

    async def _prune(self) -> None:
        keep = self._svc.settings.stream_resume_seconds
        async with self._svc.db.privileged() as conn:
            await conn.execute(queries.PRUNE, {"keep": keep})

    def all_subscribers(self) -> list[Subscriber]:
        return [s for w in self.events.values() for s in w.subscribers]

    # --- subscribers ----------------------------------------------------------------------

    def _keep_out_of_gc(self) -> None:
        """Open streams are long-lived: their objects (tasks, generators, queues) are moved out
        of the collector's sight as they accumulate, as the app does with what it makes at
        start (app.py), so that a full collection walking 2,000 streams' objects does not
        stall a fan-out. When the streams have halved since, their leftovers are collected
        once (one planned pause) and what remains is frozen again."""
        n = self.open_streams
        if n >= self.frozen_at + max(FREEZE_STEP, self.frozen_at // 4):
            gc.freeze()
            self.frozen_at = n
        elif self.frozen_at >= FREEZE_STEP and n < self.frozen_at // 2:
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            self.frozen_at = n

    def add(self, sub: Subscriber, until_release: float | None) -> None:
        self.open_streams += 1
        self._keep_out_of_gc()
        # One timer per stream for the token's expiry (not a timeout per wait).
        sub.expiry = asyncio.get_running_loop().call_later(
            max(0.0, sub.expires_at - time.time()),
            lambda: sub.finish(Message(self.last, "end", encode({"reason": TOKEN_EXPIRED}), True)),
        )
        watch = self.events.setdefault(sub.event_id, _EventWatch())
        watch.subscribers.add(sub)
        if sub.session_id is not None:
            self.sessions.setdefault(sub.session_id, set()).add(sub)
        if watch.reveal is None and until_release is not None and until_release > 0:
            watch.reveal = asyncio.create_task(self._reveal_at(sub.event_id, until_release))

    def remove(self, sub: Subscriber) -> None:
        if sub.expiry is not None:
            sub.expiry.cancel()
        watch = self.events.get(sub.event_id)
        if watch is not None and sub in watch.subscribers:
            watch.subscribers.discard(sub)
            self.open_streams -= 1
            self._keep_out_of_gc()
            if not watch.subscribers:
                if watch.reveal is not None:
                    watch.reveal.cancel()
                del self.events[sub.event_id]
        if sub.session_id is not None:
            subs = self.sessions.get(sub.session_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self.sessions[sub.session_id]

    # --- the reveal -----------------------------------------------------------------------

    async def _reveal_at(self, event_id: uuid.UUID, left: float) -> None:
        try:
            while left > 0:
                await asyncio.sleep(left)
                # The database's clock decides, not this process's.
                async with self._svc.db.privileged() as conn:
                    cur = await conn.execute(queries.UNTIL_RELEASE, {"id": event_id})
                    row = await cur.fetchone()
                if row is None:
                    return
                left = float(row["left"])
            await self._fan_out_event(event_id, "revealed")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("reveal timer failed", event_id=str(event_id), error=repr(exc))
        finally:
            watch = self.events.get(event_id)
            if watch is not None and watch.reveal is asyncio.current_task():
                watch.reveal = None

    def _rearm(self, event: EventState) -> None:
        """An event's release_at may have moved: set its timer again (fire it now if the
        reveal was moved into the past while it waited)."""
        watch = self.events.get(event.id)
        if watch is None or (event.revealed and watch.reveal is None):
            return
        if watch.reveal is not None:
            watch.reveal.cancel()
        # A moment, then the database's clock says how long is left.
        watch.reveal = asyncio.create_task(self._reveal_at(event.id, 0.001))

    async def _fan_out_event(self, event_id: uuid.UUID, kind: str) -> None:
        watch = self.events.get(event_id)
        if watch is None:
            return
        events = await self._events([event_id])
        event = events.get(event_id)
        change = Change(self.last, _now(), event_id, kind)
        alike: dict[ViewerKey, Message | None] = {}
        for sub in list(watch.subscribers):
            self._deliver(sub, change, event, None, None, self.last, True, alike)

    async def reveal_to(self, sub: Subscriber, stamp: int) -> None:
        """`revealed` to one resuming subscriber who was away at the reveal."""
        events = await self._events([sub.event_id])
        change = Change(stamp, _now(), sub.event_id, "revealed")
        self._deliver(sub, change, events.get(sub.event_id), None, None, stamp, live=False)

    # --- reading --------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        await self.ready.wait()
        while True:
            await self.wake.wait()
            self.wake.clear()
            try:
                await self._read()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("realtime read failed; retrying", error=repr(exc))
                await asyncio.sleep(0.5)
                self.wake.set()

    async def _read(self) -> None:
        now = time.monotonic()
        self.gaps = {g: t for g, t in self.gaps.items() if now - t < GAP_WAIT}
        async with self._svc.db.privileged() as conn:
            cur = await conn.execute(
                queries.NEW_CHANGES, {"last": self.last, "gaps": list(self.gaps)}
            )
            rows = await cur.fetchall()
        if not rows:
            return
        changes = [Change(**r) for r in rows]
        seen = {c.id for c in changes}
        for c in changes:
            self.gaps.pop(c.id, None)
        newest = max(seen)
        if newest > self.last:
            if newest - self.last < 10_000:
                for missing in range(self.last + 1, newest):
                    if missing not in seen:
                        self.gaps[missing] = now
            self.last = newest
        if len(rows) == 5000:
            self.wake.set()
        self.batches += 1
        mine = [c for c in changes if c.event_id in self.events]
        if mine:
            await self.dispatch(mine, self._subscribers_of)

    def _subscribers_of(self, change: Change) -> list[Subscriber]:
        watch = self.events.get(change.event_id)
        if watch is None:
            return []
        return [s for s in watch.subscribers if change.id > s.replayed_upto]

    async def dispatch(
        self,
        changes: list[Change],
        subscribers: Callable[[Change], list[Subscriber]],
        replay: bool = False,
    ) -> None:
        """Read the changes' details once and queue each subscriber its messages."""
        likes = [c for c in changes if c.kind == "like_count"]
        others = [c for c in changes if c.kind != "like_count"]
        if not replay:
            for c in likes:
                self._like_due(c)
        else:
            # Resumption: the current count of each photo liked since, once.
            others += list({c.photo_id: c for c in likes}.values())
            others.sort(key=lambda c: c.id)
        if not others:
            return
        events = await self._events({c.event_id for c in others})
        photo_ids = {c.photo_id for c in others if c.photo_id is not None}
        with_likers = any(c.kind == "photo_added" for c in others)
        photos = await self._photos(photo_ids, with_likers) if photo_ids else {}
        joined = {c.user_id for c in others if c.kind == "member_joined" and c.user_id}
        names = await self._usernames(joined) if joined else {}
        for c in others:
            event = events.get(c.event_id)
            if c.kind == "event_updated" and event is not None and not replay:
                self._rearm(event)
            photo = photos.get(c.photo_id) if c.photo_id else None
            name = names.get(c.user_id) if c.user_id else None
            alike: dict[ViewerKey, Message | None] = {}
            for sub in subscribers(c):
                self._deliver(sub, c, event, photo, name, c.id, not replay, alike)

    def _deliver(
        self,
        sub: Subscriber,
        change: Change,
        event: EventState | None,
        photo: PhotoState | None,
        username: str | None,
        stamp: int,
        live: bool = True,
        alike: dict[ViewerKey, Message | None] | None = None,
    ) -> None:
        key = viewer_key(sub, change, event, photo)
        if alike is not None and key in alike:
            message = alike[key]
        else:
            out = decide(change, sub.viewer, event, photo, username)
            message = self._message(out, stamp) if out is not None else None
            if alike is not None:
                alike[key] = message
        if message is not None:
            sub.offer(message, live)

    def _message(self, out: Out, stamp: int) -> Message:
        data = out.data
        row = data.get("photo")
        if row is not None:
            # The feed's item, with URLs signed now for this recipient.
            data = {**data, "photo": feed_item(self._svc, row, url_expiry(self._svc))}
        return Message(stamp, out.kind, encode(data), out.end)

    async def _events(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, EventState]:
        async with self._svc.db.privileged() as conn:
            cur = await conn.execute(queries.EVENTS, {"ids": list(ids)})
            return {r["id"]: EventState(**r) for r in await cur.fetchall()}

    async def _photos(self, ids: Iterable[uuid.UUID], likers: bool) -> dict[uuid.UUID, PhotoState]:
        async with self._svc.db.privileged() as conn:
            cur = await conn.execute(queries.PHOTOS, {"ids": list(ids), "likers": likers})
            rows = await cur.fetchall()
        out = {}
        for r in rows:
            r["reporters"] = frozenset(r["reporters"] or ())
            r["likers"] = frozenset(r["likers"] or ())
            out[r["id"]] = PhotoState(**r)
        return out

    async def _usernames(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
        async with self._svc.db.privileged() as conn:
            cur = await conn.execute(queries.USERNAMES, {"ids": list(ids)})
            return {r["id"]: r["username"] for r in await cur.fetchall()}

    # --- likes ----------------------------------------------------------------------------

    def _like_due(self, change: Change) -> None:
        assert change.photo_id is not None
        state = self.likes.setdefault(change.photo_id, _Likes())
        state.trailing = True
        self._schedule_like(change.photo_id, change.event_id, state)

    def _schedule_like(self, photo_id: uuid.UUID, event_id: uuid.UUID, state: _Likes) -> None:
        if state.timer is not None:
            return
        delay = max(0.0, state.sent_at + LIKE_WINDOW - time.monotonic())
        loop = asyncio.get_running_loop()
        state.timer = loop.call_later(
            delay, lambda: self._spawn(self._flush_like(photo_id, event_id))
        )

    async def _flush_like(self, photo_id: uuid.UUID, event_id: uuid.UUID) -> None:
        state = self.likes.get(photo_id)
        if state is None:
            return
        state.timer = None
        trailing, state.trailing = state.trailing, False
        watch = self.events.get(event_id)
        if watch is None:
            self.likes.pop(photo_id, None)
            return
        try:
            photos = await self._photos([photo_id], likers=False)
            events = await self._events([event_id])
        except Exception as exc:
            log.warning("like count read failed", error=repr(exc))
            return
        photo = photos.get(photo_id)
        changed = photo is not None and photo.like_count != state.count
        if photo is not None and changed:
            state.count, state.sent_at = photo.like_count, time.monotonic()
            change = Change(self.last, _now(), event_id, "like_count", photo_id)
            alike: dict[ViewerKey, Message | None] = {}
            event = events.get(event_id)
            for sub in list(watch.subscribers):
                self._deliver(sub, change, event, photo, None, self.last, True, alike)
        if trailing:
            # Read once more after the window: likes the database throttled meanwhile.
            state.sent_at = max(state.sent_at, time.monotonic())
            self._schedule_like(photo_id, event_id, state)
        elif not changed and state.timer is None:
            # Quiet again: the next like_count row starts afresh.
            self.likes.pop(photo_id, None)


def _now() -> datetime:
    return datetime.now(UTC)
