"""Events (Momentos) and their members.

Every statement runs as the user, so the policies of 0003 decide who sees and changes what;
this module only turns "no row" into the right answer. A refused write (zero rows) is told
apart by reading the event as the same user: invisible means 404, a member who is not the
creator gets 403. A non-member never learns that an event exists.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, LiteralString

from psycopg import errors

from momento.analytics import events as analytics_events
from momento.db.pool import RELEASE_LOCKED, Conn
from momento.errors import Conflict, RateLimited, raises
from momento.events.errors import (
    CreatorCannotLeave,
    EventNotFound,
    GuestNotAllowed,
    JoinCodeInvalid,
    NotEventCreator,
    ReleaseBeforeStart,
    ReleaseLocked,
    WebGuestsOff,
)
from momento.events.schemas import Event, EventCreate, EventUpdate, Invite, Member
from momento.identity import CurrentUser
from momento.kit import names
from momento.kit.names import InvalidName
from momento.profiles.errors import UserNotFound
from momento.reveal import scheduling as reveal_scheduling

if TYPE_CHECKING:
    # For types only: the kernel imports the job queue, which imports this module's tasks.
    from momento.services import Services

# The columns of Event from a row `e` of public.events, photo_count aside. member_count comes
# through the event_members policy (members see each other).
_EVENT_COLUMNS: LiteralString = """
  e.id, e.name, e.join_code, e.creator_id, e.starts_at, e.release_at,
  coalesce(e.is_premium, false) AS is_premium, e.created_at,
  e.release_at <= now() AS revealed, e.web_guests,
  (SELECT count(*) FROM public.event_members m WHERE m.event_id = e.id) AS member_count,
"""

# photo_count of one event: public.event_photo_counts() also counts the photos not yet
# revealed to the caller ("42 photos developing").
_ONE_PHOTO_COUNT: LiteralString = """
  coalesce((SELECT c.photo_count FROM public.event_photo_counts(ARRAY[e.id]) c), 0)
    AS photo_count
"""

# "Mine": the events policy already limits the rows to the caller's events (deleted ones
# excluded); the filter says so explicitly. Photo counts for all of them come from one call,
# not one per row (a security-definer function is never inlined: per row it cost ~0.3 ms).
LIST_EVENTS: LiteralString = (
    "SELECT"
    + _EVENT_COLUMNS
    + """
  coalesce(pc.photo_count, 0) AS photo_count
FROM public.events e
LEFT JOIN public.event_photo_counts(ARRAY(SELECT private.my_event_ids())) pc
  ON pc.event_id = e.id
WHERE e.id IN (SELECT private.my_event_ids())
ORDER BY e.created_at DESC, e.id DESC
"""
)

GET_EVENT: LiteralString = (
    "SELECT"
    + _EVENT_COLUMNS
    + _ONE_PHOTO_COUNT
    + """
FROM public.events e
WHERE e.id = %(id)s
"""
)

# join_code comes from the column default private.new_join_code(); the trigger
# on_event_created makes the creator a member, hence member_count 1.
CREATE_EVENT: LiteralString = """
INSERT INTO public.events AS e (name, creator_id, starts_at, release_at)
VALUES (%(name)s, auth.uid(), %(starts_at)s, %(release_at)s)
RETURNING e.id, e.name, e.join_code, e.creator_id, e.starts_at, e.release_at,
  coalesce(e.is_premium, false) AS is_premium, e.created_at,
  e.release_at <= now() AS revealed, e.web_guests, 1 AS member_count, 0 AS photo_count
"""

# One statement whatever the fields sent; a column not sent is set to itself (so the
# release-lock trigger only objects when release_at really moves).
UPDATE_EVENT: LiteralString = (
    """
WITH e AS (
  UPDATE public.events SET
    name = CASE WHEN %(set_name)s THEN %(name)s ELSE name END,
    starts_at = CASE WHEN %(set_starts_at)s THEN %(starts_at)s::timestamptz ELSE starts_at END,
    release_at = CASE WHEN %(set_release_at)s THEN %(release_at)s::timestamptz
                      ELSE release_at END,
    web_guests = CASE WHEN %(set_web_guests)s THEN %(web_guests)s::boolean ELSE web_guests END
  WHERE id = %(id)s
  RETURNING *
)
SELECT"""
    + _EVENT_COLUMNS
    + _ONE_PHOTO_COUNT
    + "FROM e"
)

# Migration 0029: the new code, or NULL when the caller is not the event's creator.
ROTATE_JOIN_CODE: LiteralString = "SELECT public.rotate_join_code(%(id)s) AS join_code"

DELETE_EVENT: LiteralString = "SELECT public.delete_event(%(id)s) AS deleted"

# After a refused write: can the caller see the event, and are they its creator?
EVENT_ROLE: LiteralString = """
SELECT e.creator_id = auth.uid() AS is_creator
FROM public.events e
WHERE e.id = %(id)s
"""

JOIN_EVENT: LiteralString = "SELECT event_id, joined FROM public.join_event(%(code)s)"

# Migration 0022: the membership and, if asked, the caller's photos and likes in the event, in
# one transaction; 'left', 'creator' or 'not_member'.
LEAVE_EVENT: LiteralString = "SELECT public.leave_event(%(id)s, %(remove)s) AS outcome"

# Members see each other (event_members policy); every visible event has at least its
# creator as a member, so no row means the caller cannot see the event.
LIST_MEMBERS: LiteralString = """
SELECT m.user_id, p.username, p.display_name, p.avatar_url, m.joined_at,
  m.user_id = e.creator_id AS is_creator
FROM public.event_members m
JOIN public.events e ON e.id = m.event_id
JOIN public.profiles p ON p.id = m.user_id
WHERE m.event_id = %(id)s
ORDER BY m.joined_at, p.username
"""

JOIN_CODE_CONSTRAINT = "events_join_code_key"
JOIN_CODE_ATTEMPTS = 5
_JOIN_CODE = re.compile(r"[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}")


@contextmanager
def _event_errors() -> Iterator[None]:
    """Explain the database's refusals of event writes to the client."""
    try:
        yield
    except errors.CheckViolation as exc:
        if exc.diag.constraint_name == "events_release_after_start":
            raise ReleaseBeforeStart() from exc
        raise
    except errors.ForeignKeyViolation as exc:
        # The only references a user's event write makes are to their own account.
        raise UserNotFound() from exc
    except errors.InsufficientPrivilege as exc:
        # The insert policy refuses guests (0029); join_event refuses them where the host
        # turned web guests off.
        if exc.diag.message_hint == "web_guests_off":
            raise WebGuestsOff() from exc
        raise GuestNotAllowed() from exc
    except errors.Error as exc:
        if exc.sqlstate == RELEASE_LOCKED:
            raise ReleaseLocked() from exc
        raise


async def _refusal(conn: Conn, event_id: uuid.UUID) -> EventNotFound | NotEventCreator:
    """Why a creator-only write touched nothing: not visible (404) or not the creator (403)."""
    cur = await conn.execute(EVENT_ROLE, {"id": event_id})
    row = await cur.fetchone()
    if row is None or row["is_creator"]:
        return EventNotFound()
    return NotEventCreator()


@raises()
async def list_events(services: Services, user: CurrentUser) -> list[Event]:
    rows = await services.db.user_fetch(user.claims, LIST_EVENTS, ())
    return [Event.model_validate(r) for r in rows]


@raises(EventNotFound)
async def get_event(services: Services, user: CurrentUser, event_id: uuid.UUID) -> Event:
    rows = await services.db.user_fetch(user.claims, GET_EVENT, {"id": event_id})
    if not rows:
        raise EventNotFound()
    return Event.model_validate(rows[0])


@raises(InvalidName, UserNotFound, ReleaseBeforeStart, Conflict, GuestNotAllowed)
async def create_event(services: Services, user: CurrentUser, body: EventCreate) -> Event:
    """Create the event; once the insert committed, its reveal is scheduled and the
    `event_created` analytics event sent."""
    params = body.model_dump()
    params["name"] = names.clean_name(body.name, field="name", max_length=names.EVENT_NAME_MAX)
    if body.release_at <= body.starts_at:
        raise ReleaseBeforeStart()
    async with services.db.as_user(user.claims) as conn:
        row: dict[str, Any] | None = None
        for attempt in range(1, JOIN_CODE_ATTEMPTS + 1):
            try:
                # A savepoint, so a join code collision can be retried in this transaction.
                async with conn.transaction():
                    with _event_errors():
                        cur = await conn.execute(CREATE_EVENT, params)
                        row = await cur.fetchone()
                break
            except errors.UniqueViolation as exc:
                # Two events drew the same code (about 1 in 887 million per pair); draw again.
                if exc.diag.constraint_name != JOIN_CODE_CONSTRAINT:
                    raise
                if attempt == JOIN_CODE_ATTEMPTS:
                    raise Conflict("Could not allocate a join code; try again.") from exc
    assert row is not None
    event = Event.model_validate(row)
    await reveal_scheduling.reveal_changed(services.jobs, event.id, event.release_at)
    analytics_events.event_created(
        services.analytics, user.id, event_id=event.id, is_premium=event.is_premium
    )
    return event


@raises(
    InvalidName, EventNotFound, NotEventCreator, ReleaseLocked, ReleaseBeforeStart, UserNotFound
)
async def update_event(
    services: Services, user: CurrentUser, event_id: uuid.UUID, body: EventUpdate
) -> Event:
    """Change the event; a new release_at moves its reveal job (after commit)."""
    changes = body.changes()
    if changes["set_name"]:
        changes["name"] = names.clean_name(body.name, field="name", max_length=names.EVENT_NAME_MAX)
    if body.starts_at is not None and body.release_at is not None:
        if body.release_at <= body.starts_at:
            raise ReleaseBeforeStart()
    async with services.db.as_user(user.claims) as conn:
        with _event_errors():
            cur = await conn.execute(UPDATE_EVENT, {"id": event_id, **changes})
            row = await cur.fetchone()
        if row is None:
            raise await _refusal(conn, event_id)
    event = Event.model_validate(row)
    if "release_at" in body.model_fields_set:
        await reveal_scheduling.reveal_changed(services.jobs, event.id, event.release_at)
    return event


@raises(EventNotFound, NotEventCreator)
async def delete_event(services: Services, user: CurrentUser, event_id: uuid.UUID) -> None:
    async with services.db.as_user(user.claims) as conn:
        cur = await conn.execute(DELETE_EVENT, {"id": event_id})
        row = await cur.fetchone()
        if row is None or not row["deleted"]:
            raise await _refusal(conn, event_id)


@raises(RateLimited, JoinCodeInvalid, UserNotFound, WebGuestsOff)
async def join_event(
    services: Services, user: CurrentUser, ip: str, join_code: str
) -> tuple[Event, bool]:
    """Join by code; returns the event and whether this call added the membership (then,
    after commit, the members are told and `user_joined_event` is sent)."""
    settings = services.settings
    await services.limiter.hit(
        [
            (f"join:ip:{ip}", settings.rate_limit_join_per_ip),
            (f"join:user:{user.id}", settings.rate_limit_join_per_account),
        ],
        "Too many join attempts; try again later.",
    )
    code = join_code.strip().upper()
    if not _JOIN_CODE.fullmatch(code):
        raise JoinCodeInvalid()
    async with services.db.as_user(user.claims) as conn:
        with _event_errors():
            cur = await conn.execute(JOIN_EVENT, {"code": code})
            joined = await cur.fetchone()
        if joined is None:
            raise JoinCodeInvalid()
        # A statement of its own: the new membership is visible only after join_event's.
        cur = await conn.execute(GET_EVENT, {"id": joined["event_id"]})
        row = await cur.fetchone()
    if row is None:  # pragma: no cover - the caller is a member now
        raise JoinCodeInvalid()
    event = Event.model_validate(row)
    if joined["joined"]:
        await reveal_scheduling.member_joined(services.jobs, event.id, user.id)
        analytics_events.user_joined_event(services.analytics, user.id, event_id=event.id)
    return event, bool(joined["joined"])


@raises(EventNotFound, CreatorCannotLeave)
async def leave_event(
    services: Services, user: CurrentUser, event_id: uuid.UUID, *, remove_photos: bool = False
) -> None:
    """Leave the event. By default the caller's photos stay in it (revealed to the members as
    any other) and remain theirs to list and delete; `remove_photos` deletes them and the
    caller's likes there in the same transaction, their files recorded and their purge queued
    by the photos' delete trigger (migration 0011). The creator cannot leave."""
    async with services.db.as_user(user.claims) as conn:
        cur = await conn.execute(LEAVE_EVENT, {"id": event_id, "remove": remove_photos})
        row = await cur.fetchone()
    outcome = row["outcome"] if row is not None else None
    if outcome == "creator":
        raise CreatorCannotLeave()
    if outcome != "left":
        raise EventNotFound()


@raises(EventNotFound)
async def list_members(services: Services, user: CurrentUser, event_id: uuid.UUID) -> list[Member]:
    rows = await services.db.user_fetch(user.claims, LIST_MEMBERS, {"id": event_id})
    if not rows:
        raise EventNotFound()
    return [Member.model_validate(r) for r in rows]


@raises(EventNotFound, NotEventCreator, Conflict)
async def rotate_join_code(services: Services, user: CurrentUser, event_id: uuid.UUID) -> Event:
    """A new join code for the event (creator only): the old code, its links and printed QR
    codes stop working; members stay members."""
    async with services.db.as_user(user.claims) as conn:
        try:
            async with conn.transaction():
                cur = await conn.execute(ROTATE_JOIN_CODE, {"id": event_id})
                rotated = await cur.fetchone()
        except errors.UniqueViolation as exc:
            # Five draws in a row all taken (the function retries): practically never.
            raise Conflict("Could not allocate a join code; try again.") from exc
        if rotated is None or rotated["join_code"] is None:
            raise await _refusal(conn, event_id)
        cur = await conn.execute(GET_EVENT, {"id": event_id})
        row = await cur.fetchone()
    if row is None:  # pragma: no cover - the creator sees their event
        raise EventNotFound()
    return Event.model_validate(row)


def join_url(services: Services, join_code: str) -> str:
    """The web page a QR code of the event opens: `MOMENTO_PUBLIC_URL/j/<code>`."""
    return f"{services.settings.base_url}/j/{join_code}"


@raises(EventNotFound)
async def invite(services: Services, user: CurrentUser, event_id: uuid.UUID) -> Invite:
    """The join code and link of an event the caller is a member of (members share it)."""
    event = await get_event(services, user, event_id)
    return Invite(
        join_code=event.join_code,
        url=join_url(services, event.join_code),
        web_guests=event.web_guests,
    )
