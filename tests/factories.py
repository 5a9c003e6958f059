"""Factories: what a test needs stored, for any domain, from one import.

The database factories write straight in SQL as the owner of the tables (fast, RLS off, no
job deferred, none of the API's rules); `create_event` and `join` go through the API instead,
for tests that want its path. Each database factory takes `db`: the session's `Services`
(a transaction of its own, committed) or an open connection (the caller's transaction:
tests/rls builds its world in one it rolls back). A user may be given as a `TestUser` or by id.

    ana, bob = await create_users(services, 2)
    event = await make_event(services, ana, revealed=True, members=[bob])
    photo = await add_photo(services, event, bob)              # uploaded, with its media row
    await add_photo(services, event, bob, status="pending")    # or "failed", or flagged=True
    await like(services, photo, ana)
    await add_report(services, photo, ana, reason="spam")
    await set_device_token(services, bob, apns_token(1))
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, LiteralString

import httpx
from procrastinate.psycopg_connector import PsycopgConnector

from momento.db.pool import Conn
from momento.services import Services

# Whole seconds: the capture time of a photo made without one, the base of those tests choose.
BASE = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass
class TestUser:
    __test__ = False

    id: uuid.UUID
    email: str
    username: str
    token: str
    session_id: uuid.UUID

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def claims(self) -> dict[str, Any]:
        return {
            "sub": str(self.id),
            "role": "authenticated",
            "aud": "authenticated",
            "session_id": str(self.session_id),
        }


Db = Services | Conn
UserRef = TestUser | uuid.UUID
# An event's id as the database factories return it, or as the API writes it.
EventRef = uuid.UUID | str


def user_id(user: UserRef) -> uuid.UUID:
    return user.id if isinstance(user, TestUser) else user


def event_uuid(event: EventRef) -> uuid.UUID:
    return event if isinstance(event, uuid.UUID) else uuid.UUID(event)


@asynccontextmanager
async def as_owner(db: Db) -> AsyncIterator[Conn]:
    """A connection as the owner of the tables: a transaction of its own that commits (given
    `Services`), or the caller's connection as it is."""
    if isinstance(db, Services):
        async with db.db.privileged() as conn:
            yield conn
    else:
        yield db


async def sql(db: Db, query: LiteralString, *params: Any) -> list[dict[str, Any]]:
    """Run one statement as the owner (RLS off): what is really stored. Its rows, if any."""
    async with as_owner(db) as conn:
        cur = await conn.execute(query, params)
        return [dict(r) for r in await cur.fetchall()] if cur.description else []


async def scalar(db: Db, query: LiteralString, *params: Any) -> Any:
    """The first value of the one row a query returns, read as the owner."""
    [row] = await sql(db, query, *params)
    return next(iter(row.values()))


# --- users ----------------------------------------------------------------------------------


async def insert_user(db: Db, username: str | None = None, email: str | None = None) -> uuid.UUID:
    """An account with a confirmed email; the signup trigger makes its profile."""
    username = username or f"u_{secrets.token_hex(4)}"
    email = email or f"{username}@example.com"
    async with as_owner(db) as conn:
        cur = await conn.execute(
            "INSERT INTO auth.users (email, email_confirmed_at, raw_user_meta_data,"
            " raw_app_meta_data) VALUES (%s, now(), jsonb_build_object('username', %s::text),"
            ' \'{"provider":"email","providers":["email"]}\') RETURNING id',
            (email, username),
        )
        row = await cur.fetchone()
    assert row is not None
    new_id: uuid.UUID = row["id"]
    return new_id


async def create_user(
    services: Services, username: str | None = None, email: str | None = None
) -> TestUser:
    """An account signed in: a session and a real access token for it."""
    username = username or f"u_{secrets.token_hex(4)}"
    email = email or f"{username}@example.com"
    async with services.db.privileged() as conn:
        new_id = await insert_user(conn, username, email)
        cur = await conn.execute(
            "INSERT INTO auth.sessions (user_id) VALUES (%s) RETURNING id", (new_id,)
        )
        srow = await cur.fetchone()
        assert srow is not None
    token, _ = services.tokens.mint(
        user_id=new_id,
        session_id=srow["id"],
        email=email,
        app_metadata={"provider": "email", "providers": ["email"]},
        user_metadata={"username": username},
        amr=[{"method": "password", "timestamp": 0}],
    )
    return TestUser(new_id, email, username, token, srow["id"])


async def create_users(services: Services, n: int) -> list[TestUser]:
    return [await create_user(services) for _ in range(n)]


# --- device tokens --------------------------------------------------------------------------


def apns_token(i: int) -> str:
    """A 64-hex-digit device token, told apart by its first 8 digits (what logs show)."""
    return f"{i:08x}" + "5eed" * 14


async def set_device_token(db: Db, user: UserRef, token: str | None) -> None:
    await sql(
        db, "UPDATE public.profiles SET device_token = %s WHERE id = %s", token, user_id(user)
    )


async def device_token_of(db: Db, user: UserRef) -> str | None:
    value: str | None = await scalar(
        db, "SELECT device_token FROM public.profiles WHERE id = %s", user_id(user)
    )
    return value


async def users_with_tokens(services: Services, n: int, first: int = 1) -> list[TestUser]:
    """`n` users whose phones have the tokens apns_token(first), apns_token(first + 1), ..."""
    users = []
    for i in range(first, first + n):
        user = await create_user(services)
        await set_device_token(services, user, apns_token(i))
        users.append(user)
    return users


# --- events ---------------------------------------------------------------------------------


async def make_event(
    db: Db,
    creator: UserRef,
    *,
    name: str = "Party",
    revealed: bool = False,
    release_in: timedelta | None = None,
    starts_in: timedelta | None = None,
    premium: bool = False,
    deleted: bool = False,
    members: Sequence[UserRef] = (),
) -> uuid.UUID:
    """An event (its creator a member, by trigger) and its other members.

    It is revealed `release_in` from now: by default an hour ago (`revealed`) or in a day. It
    starts `starts_in` from now: by default a day before the earlier of now and its reveal, so
    it has started. No job is deferred (the API's create would schedule the reveal).
    """
    now = datetime.now(UTC)
    if release_in is None:
        release_in = -HOUR if revealed else DAY
    release_at = now + release_in
    starts_at = now + starts_in if starts_in is not None else min(now, release_at) - DAY
    async with as_owner(db) as conn:
        cur = await conn.execute(
            "INSERT INTO public.events (name, creator_id, starts_at, release_at, is_premium,"
            " is_deleted) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            (name, user_id(creator), starts_at, release_at, premium, deleted),
        )
        row = await cur.fetchone()
        assert row is not None
        new_id: uuid.UUID = row["id"]
        await add_members(conn, new_id, members)
    return new_id


async def add_members(db: Db, event: EventRef, users: Sequence[UserRef]) -> None:
    """Members of the event (one already a member stays as they are)."""
    async with as_owner(db) as conn:
        for user in users:
            await conn.execute(
                "INSERT INTO public.event_members (event_id, user_id) VALUES (%s, %s)"
                " ON CONFLICT DO NOTHING",
                (event_uuid(event), user_id(user)),
            )


async def reveal(db: Db, event: EventRef) -> None:
    """Move the event into the past: it started two days ago, its reveal was an hour ago."""
    now = datetime.now(UTC)
    await sql(
        db,
        "UPDATE public.events SET starts_at = %s, release_at = %s WHERE id = %s",
        now - 2 * DAY,
        now - HOUR,
        event_uuid(event),
    )


async def join_code(db: Db, event: EventRef) -> str:
    code: str = await scalar(
        db, "SELECT join_code FROM public.events WHERE id = %s", event_uuid(event)
    )
    return code


# --- photos and likes -----------------------------------------------------------------------


def storage_path(event: EventRef, photo_id: uuid.UUID | str) -> str:
    return f"events/{event}/{photo_id}"


async def add_photos(
    db: Db,
    event: EventRef,
    owner: UserRef,
    captured: Sequence[datetime],
    *,
    status: str = "uploaded",
    flagged: bool = False,
    ids: Sequence[uuid.UUID] | None = None,
    processed_at: datetime | None = None,
) -> list[uuid.UUID]:
    """Photo rows with their media row as the upload flow leaves them, one per capture time.

    `status`: pending, uploaded (with a size and a blurhash) or failed; `flagged`: hidden by
    a report or by the event's creator; `processed_at`: when the media row says the file was
    processed (None: never).
    """
    ids = list(ids) if ids is not None else [uuid.uuid4() for _ in captured]
    assert len(ids) == len(captured)
    uploaded = status == "uploaded"
    async with as_owner(db) as conn:
        await conn.execute(
            "INSERT INTO public.photos (id, event_id, user_id, storage_path, captured_at,"
            " upload_status, is_flagged, width, height, blurhash)"
            " SELECT t.id, %(event)s, %(user)s, 'events/' || %(event)s::text || '/' || t.id::text,"
            "   t.captured_at, %(status)s, %(flagged)s, %(width)s, %(height)s, %(blurhash)s"
            " FROM unnest(%(ids)s::uuid[], %(captured)s::timestamptz[]) AS t(id, captured_at)",
            {
                "event": event_uuid(event),
                "user": user_id(owner),
                "ids": ids,
                "captured": list(captured),
                "status": status,
                "flagged": flagged,
                "width": 4032 if uploaded else None,
                "height": 3024 if uploaded else None,
                "blurhash": "LEHV6nWB2yk8pyo0adR*.7kCMdnj" if uploaded else None,
            },
        )
        await conn.execute(
            "INSERT INTO public.photo_media (photo_id, declared_type, declared_size,"
            " processed_at) SELECT t.id, 'image/jpeg', 123456, %(processed)s"
            " FROM unnest(%(ids)s::uuid[]) AS t(id)",
            {"ids": ids, "processed": processed_at},
        )
    return ids


async def add_photo(
    db: Db,
    event: EventRef,
    owner: UserRef,
    captured_at: datetime | None = None,
    *,
    status: str = "uploaded",
    flagged: bool = False,
    processed_at: datetime | None = None,
) -> uuid.UUID:
    """One photo (see add_photos), captured at BASE unless told."""
    (photo_id,) = await add_photos(
        db,
        event,
        owner,
        [captured_at or BASE],
        status=status,
        flagged=flagged,
        processed_at=processed_at,
    )
    return photo_id


async def add_report(
    db: Db, photo_id: uuid.UUID, reporter: UserRef, *, reason: str | None = None
) -> None:
    """A report row only (the API's report also flags the photo: add_photo(flagged=True))."""
    await sql(
        db,
        "INSERT INTO momento.photo_reports (photo_id, reporter_id, reason) VALUES (%s, %s, %s)",
        photo_id,
        user_id(reporter),
        reason,
    )


async def like(db: Db, photo_id: uuid.UUID, user: UserRef, at: datetime | None = None) -> None:
    """`user` likes the photo, now or at `at`."""
    await sql(
        db,
        "INSERT INTO public.photo_likes (photo_id, user_id, created_at)"
        " VALUES (%s, %s, coalesce(%s, now()))",
        photo_id,
        user_id(user),
        at,
    )


# --- over HTTP ------------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def schedule(
    *,
    revealed: bool = False,
    starts_in: timedelta | None = None,
    release_in: timedelta | None = None,
) -> dict[str, str]:
    """starts_at and release_at for the API: by default an hour ago and a day from now, or
    (revealed) a day ago and an hour ago; `starts_in` and `release_in` (from now) override."""
    now = datetime.now(UTC)
    starts = starts_in if starts_in is not None else (-DAY if revealed else -HOUR)
    release = release_in if release_in is not None else (-HOUR if revealed else DAY)
    return {"starts_at": iso(now + starts), "release_at": iso(now + release)}


async def create_event(
    client: httpx.AsyncClient,
    user: TestUser,
    name: str = "Party",
    *,
    revealed: bool = False,
    starts_in: timedelta | None = None,
    release_in: timedelta | None = None,
) -> dict[str, Any]:
    """POST /v1/events as `user` (see schedule): the event as the API answers it."""
    r = await client.post(
        "/v1/events",
        headers=user.headers,
        json={
            "name": name,
            **schedule(revealed=revealed, starts_in=starts_in, release_in=release_in),
        },
    )
    assert r.status_code == 201, r.text
    event: dict[str, Any] = r.json()
    return event


async def join(client: httpx.AsyncClient, user: TestUser, event: dict[str, Any]) -> None:
    """POST /v1/events/join with the event's code, as `user`."""
    r = await client.post(
        "/v1/events/join", headers=user.headers, json={"join_code": event["join_code"]}
    )
    assert r.status_code in (200, 201), r.text


def assert_problem(r: httpx.Response, status: int, code: str) -> None:
    """An RFC 9457 problem answer with this status and this `code`."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == code


async def heal_pools(services: Services) -> None:
    """After a test terminated every backend (a database restart): drop the dead connections
    of the session's pools now. psycopg_pool finds them one checkout at a time with a backoff
    between them (1 s, 2 s, 4 s ...), so the job queue's four dead connections outlast its 5 s
    wait and the next test's defer times out."""
    await services.db.pool.check()
    connector = services.jobs.connector
    assert isinstance(connector, PsycopgConnector)
    await connector.pool.check()
