"""Opening a member's stream of an event, its tickets, and the messages it sends."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from momento.errors import DatabaseUnavailable, InvalidTicket, Unauthorized, raises
from momento.events.errors import EventNotFound
from momento.identity import CurrentUser
from momento.kit import tickets
from momento.realtime import queries
from momento.realtime.hub import Message, Subscriber, encode
from momento.realtime.policy import Change

if TYPE_CHECKING:
    from momento.services import Services

PURPOSE = "stream"


class SessionEnded(Unauthorized):
    """The session of this access token has been signed out."""

    code = "session_ended"


def _session_of(user: CurrentUser) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(user.claims["session_id"]))
    except (KeyError, ValueError):
        return None


async def _open_row(
    services: Services, user: CurrentUser, event_id: uuid.UUID
) -> tuple[float, bool]:
    rows = await services.db.user_fetch(user.claims, queries.OPEN, {"id": event_id})
    if not rows or not rows[0]["member"]:
        # Not visible, or visible only as a (non-member) creator: no stream either way.
        raise EventNotFound()
    return float(rows[0]["until_release"]), True


@raises(EventNotFound, InvalidTicket)
async def stream_ticket(
    services: Services, user: CurrentUser, event_id: uuid.UUID
) -> tickets.Ticket:
    """A ticket for one `EventSource` connection to the event's stream (members only)."""
    await _open_row(services, user, event_id)
    return await tickets.issue(services, user, PURPOSE, event_id)


@raises(InvalidTicket)
async def redeem_ticket(services: Services, token: str, event_id: uuid.UUID) -> CurrentUser:
    return await tickets.redeem(services, token, PURPOSE, event_id)


@raises(EventNotFound, SessionEnded)
async def open_stream(
    services: Services, user: CurrentUser, event_id: uuid.UUID, last_event_id: str | None
) -> Subscriber:
    """Subscribe the caller (a member) to the event's changes; with `last_event_id`, queue
    first what they missed since, or one `resync` when that is no longer kept."""
    hub = services.realtime
    until_release, _ = await _open_row(services, user, event_id)
    session_id = _session_of(user)
    if session_id is not None:
        async with services.db.privileged() as conn:
            cur = await conn.execute(queries.SESSION_ALIVE, {"id": session_id})
            if await cur.fetchone() is None:
                raise SessionEnded()
    try:
        # Only at start: the listener's first connection (it keeps `ready` afterwards).
        await asyncio.wait_for(hub.ready.wait(), 10)
    except TimeoutError:
        raise DatabaseUnavailable("Live updates are not available yet.") from None
    sub = Subscriber(
        user.id,
        session_id,
        event_id,
        float(user.claims.get("exp", time.time() + 3600)),
        services.settings.stream_queue_size,
    )
    after = _resume_point(last_event_id)
    if after is not None:
        sub.held = []
    # Registered before reading what was missed: nothing falls between the two.
    hub.add(sub, until_release)
    if after is not None:
        try:
            await _replay(services, sub, after, revealed=until_release <= 0)
        except BaseException:
            hub.remove(sub)
            raise
        sub.release()
    return sub


def _resume_point(last_event_id: str | None) -> int | None:
    if last_event_id is None or not last_event_id.strip():
        return None
    try:
        return max(0, int(last_event_id.strip()))
    except ValueError:
        return -1  # not one of ours: resync


async def _replay(services: Services, sub: Subscriber, after: int, revealed: bool) -> None:
    """Queue what the subscriber missed: its event's rows after `after` up to the newest row
    now; the hub's live delivery skips those for it (it may not have read them yet)."""
    hub = services.realtime
    async with services.db.privileged() as conn:
        cur = await conn.execute(queries.RESUME_POINT, {"after": after, "event": sub.event_id})
        point = await cur.fetchone()
        assert point is not None
        upto = max(point["max_id"] or 0, hub.last)
        sub.replayed_upto = upto
        if after < 0 or after < point["pruned_upto"] or after > (point["max_id"] or 0):
            sub.offer(Message(upto, "resync", encode({"reason": "too_old"})), live=False)
            return
        cur = await conn.execute(
            queries.MISSED, {"event": sub.event_id, "after": after, "upto": upto}
        )
        missed = [Change(**r) for r in await cur.fetchall()]
    await hub.dispatch(missed, lambda c: [sub], replay=True)
    # Away at the reveal (release_at after the client's last row, or moved while it was away:
    # release_at cannot move once revealed): told now. A repeated `revealed` is harmless.
    moved = any(c.kind == "event_updated" and c.reason == "release_at" for c in missed)
    if revealed and (point["before_release"] is not False or moved):
        await hub.reveal_to(sub, upto)


async def messages(services: Services, sub: Subscriber) -> AsyncIterator[Message]:
    """The stream's messages until the hub ends it: at the token's expiry, signed out, left,
    removed, event deleted, resync, shutdown. Unsubscribes however it ends."""
    hub = services.realtime
    try:
        while True:
            if sub.final is not None and (sub.queue.empty() or sub.final.event == "resync"):
                yield sub.final
                return
            if not sub.queue.empty():
                yield sub.queue.get_nowait()
                continue
            sub.ready.clear()
            # The hub ends the stream at the token's expiry (a timer set with the stream).
            await sub.ready.wait()
    finally:
        hub.remove(sub)
