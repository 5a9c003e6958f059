"""Helpers for the feed, like, delete, report and moderation tests.

The data comes from tests/factories.py (events, members, photos in any state, likes at chosen
times); here are the photos' files, put in `services.storage` (the local backend) under the
photo's `storage_path` when a test needs them, what is stored about an event's photos, and the
feed pages as a member reads them.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, LiteralString

import httpx
from psycopg.rows import DictRow

from momento.db import Database
from momento.db.pool import Claims, Conn
from momento.photos.service import DISPLAY, ORIGINAL, THUMB, UPLOAD, key
from momento.services import Services
from tests.conftest import app_client
from tests.factories import TestUser, sql, storage_path

VARIANTS = (ORIGINAL, DISPLAY, THUMB)


async def put_files(services: Services, event_id: uuid.UUID, photo_id: uuid.UUID) -> None:
    """Every stored variant of the photo (and a leftover upload), each holding its own key."""
    path = storage_path(event_id, photo_id)
    for name in (*VARIANTS, UPLOAD):
        await services.storage.put(key(path, name), key(path, name).encode(), "image/jpeg")


async def stored_keys(services: Services, event_id: uuid.UUID, photo_id: uuid.UUID) -> set[str]:
    return {o.key async for o in services.storage.list(storage_path(event_id, photo_id) + "/")}


async def snapshot(services: Services, event_id: uuid.UUID) -> dict[str, Any]:
    """Everything stored about the event's photos, to show a refusal changed nothing."""
    return {
        "photos": await sql(
            services,
            "SELECT id, user_id, upload_status, is_flagged, captured_at FROM public.photos"
            " WHERE event_id = %s ORDER BY id",
            event_id,
        ),
        "likes": await sql(
            services,
            "SELECT l.photo_id, l.user_id, l.created_at FROM public.photo_likes l"
            " JOIN public.photos p ON p.id = l.photo_id WHERE p.event_id = %s"
            " ORDER BY l.photo_id, l.user_id",
            event_id,
        ),
        "reports": await sql(
            services,
            "SELECT r.photo_id, r.reporter_id, r.by_creator, r.reason FROM momento.photo_reports r"
            " JOIN public.photos p ON p.id = r.photo_id WHERE p.event_id = %s"
            " ORDER BY r.photo_id, r.reporter_id",
            event_id,
        ),
    }


async def like_rows(services: Services, photo_id: uuid.UUID) -> list[uuid.UUID]:
    found = await sql(
        services, "SELECT user_id FROM public.photo_likes WHERE photo_id = %s", photo_id
    )
    return [r["user_id"] for r in found]


async def is_flagged(services: Services, photo_id: uuid.UUID) -> bool | None:
    found = await sql(services, "SELECT is_flagged FROM public.photos WHERE id = %s", photo_id)
    return found[0]["is_flagged"] if found else None


async def _get_page(
    client: httpx.AsyncClient,
    user: TestUser,
    path: str,
    limit: int | None,
    cursor: str | None,
) -> dict[str, Any]:
    params: dict[str, str | int] = {}
    if limit is not None:
        params["limit"] = limit
    if cursor is not None:
        params["cursor"] = cursor
    r = await client.get(path, headers=user.headers, params=params)
    assert r.status_code == 200, r.text
    page: dict[str, Any] = r.json()
    return page


async def feed(
    client: httpx.AsyncClient,
    user: TestUser,
    event_id: uuid.UUID,
    *,
    limit: int | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    """One page of the event's feed, as `user`."""
    return await _get_page(client, user, f"/v1/events/{event_id}/photos", limit, cursor)


async def liked(
    client: httpx.AsyncClient,
    user: TestUser,
    event_id: uuid.UUID,
    *,
    limit: int | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    """One page of `user`'s liked photos in the event."""
    return await _get_page(client, user, f"/v1/events/{event_id}/photos/liked", limit, cursor)


async def feed_ids(client: httpx.AsyncClient, user: TestUser, event_id: uuid.UUID) -> list[str]:
    """Every photo id of the feed, all pages."""
    ids: list[str] = []
    cursor = None
    while True:
        page = await feed(client, user, event_id, limit=100, cursor=cursor)
        ids += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


class CountingDatabase(Database):
    """The same database, counting what a request asks of it.

    `calls` counts the Database entry points (user_fetch, user_call, as_user, privileged) and the
    statements sent on its connections (`execute`).
    """

    def __init__(self, inner: Database) -> None:
        super().__init__(inner.url, min_size=1, max_size=2)
        self.calls: Counter[str] = Counter()
        calls = self.calls
        pool = self.pool
        original = pool.connection

        @asynccontextmanager
        async def counted(**kwargs: Any) -> AsyncIterator[Conn]:
            async with original(**kwargs) as conn:
                yield _Counted(conn, calls)  # type: ignore[misc]

        pool.connection = counted  # type: ignore[method-assign,assignment]

    @asynccontextmanager
    async def as_user(self, claims: Claims) -> AsyncIterator[Conn]:
        self.calls["as_user"] += 1
        async with super().as_user(claims) as conn:
            yield conn

    @asynccontextmanager
    async def privileged(self) -> AsyncIterator[Conn]:
        self.calls["privileged"] += 1
        async with super().privileged() as conn:
            yield conn

    async def user_fetch(
        self, claims: Claims, query: LiteralString, params: Sequence[Any] | Mapping[str, Any]
    ) -> list[DictRow]:
        self.calls["user_fetch"] += 1
        return await super().user_fetch(claims, query, params)

    async def user_call(
        self, claims: Claims, query: LiteralString, params: Mapping[str, Any]
    ) -> list[DictRow]:
        self.calls["user_call"] += 1
        return await super().user_call(claims, query, params)


class _Counted:
    """A connection whose `execute` calls are counted; everything else passes through."""

    def __init__(self, conn: Conn, calls: Counter[str]) -> None:
        self._conn = conn
        self._calls = calls

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        self._calls["execute"] += 1
        return await self._conn.execute(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


@asynccontextmanager
async def counting_client(
    services: Services,
) -> AsyncIterator[tuple[httpx.AsyncClient, CountingDatabase]]:
    """A client for an app whose database counts what each request does."""
    db = CountingDatabase(services.db)
    await db.open()
    try:
        async with app_client(dataclasses.replace(services, db=db)) as c:
            yield c, db
    finally:
        await db.close()
