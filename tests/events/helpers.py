"""Helpers for the profile and event tests: events through HTTP, photos and counts in SQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, LiteralString

import httpx

from momento.services import Services
from tests.factories import TestUser


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def schedule(*, revealed: bool = False) -> dict[str, str]:
    """starts_at and release_at: a reveal tomorrow, or (revealed) an hour ago."""
    now = datetime.now(UTC)
    if revealed:
        return {
            "starts_at": iso(now - timedelta(days=1)),
            "release_at": iso(now - timedelta(hours=1)),
        }
    return {"starts_at": iso(now - timedelta(hours=1)), "release_at": iso(now + timedelta(days=1))}


async def create_event(
    client: httpx.AsyncClient, user: TestUser, name: str = "Party", *, revealed: bool = False
) -> dict[str, Any]:
    r = await client.post(
        "/v1/events", headers=user.headers, json={"name": name, **schedule(revealed=revealed)}
    )
    assert r.status_code == 201, r.text
    event: dict[str, Any] = r.json()
    return event


async def join(client: httpx.AsyncClient, user: TestUser, event: dict[str, Any]) -> None:
    r = await client.post(
        "/v1/events/join", headers=user.headers, json={"join_code": event["join_code"]}
    )
    assert r.status_code in (200, 201), r.text


async def add_photo(
    services: Services,
    event_id: str | uuid.UUID,
    user: TestUser,
    *,
    status: str = "uploaded",
    flagged: bool = False,
) -> uuid.UUID:
    """A photo row as the upload flow leaves it."""
    photo = uuid.uuid4()
    async with services.db.privileged() as conn:
        cur = await conn.execute(
            "INSERT INTO public.photos (id, event_id, user_id, storage_path, upload_status,"
            " is_flagged) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            (photo, event_id, user.id, f"events/{event_id}/{photo}", status, flagged),
        )
        row = await cur.fetchone()
    assert row is not None
    photo_id: uuid.UUID = row["id"]
    return photo_id


async def like(services: Services, photo_id: uuid.UUID, user: TestUser) -> None:
    async with services.db.privileged() as conn:
        await conn.execute(
            "INSERT INTO public.photo_likes (photo_id, user_id) VALUES (%s, %s)",
            (photo_id, user.id),
        )


async def scalar(services: Services, query: LiteralString, *params: Any) -> Any:
    """One value read as the owner (RLS off): what is really stored."""
    async with services.db.privileged() as conn:
        cur = await conn.execute(query, params)
        row = await cur.fetchone()
    assert row is not None
    return next(iter(row.values()))


async def event_row(services: Services, event_id: str | uuid.UUID) -> dict[str, Any]:
    async with services.db.privileged() as conn:
        cur = await conn.execute("SELECT * FROM public.events WHERE id = %s", (event_id,))
        row = await cur.fetchone()
    assert row is not None
    return dict(row)


async def member_ids(services: Services, event_id: str | uuid.UUID) -> set[uuid.UUID]:
    async with services.db.privileged() as conn:
        cur = await conn.execute(
            "SELECT user_id FROM public.event_members WHERE event_id = %s", (event_id,)
        )
        return {r["user_id"] for r in await cur.fetchall()}


def assert_problem(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == code
