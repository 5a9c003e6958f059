"""Realtime test helpers: an API "process" (its own hub and LISTEN connection, served by a real
uvicorn on 127.0.0.1) and an SSE client reading a stream message by message."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from momento.app import create_app
from momento.db.listener import listening
from momento.realtime.hub import Hub
from momento.services import Services, process_listener
from momento.storage.deletions import DenyList
from tests.auth.conftest import serve_asgi

WITHIN = 5.0


@asynccontextmanager
async def instance(services: Services, **settings: Any) -> AsyncIterator[tuple[Services, str]]:
    """Another API process: its own hub and LISTEN connection, its own uvicorn: (services,
    origin)."""
    svc = dataclasses.replace(
        services,
        realtime=Hub(),
        deleted_files=DenyList(services.settings.signed_url_ttl),
        settings=services.settings.model_copy(update=settings),
    )
    listener = process_listener(svc)
    async with listening(listener):
        await asyncio.wait_for(listener.listening.wait(), WITHIN)
        svc.realtime.start()
        try:
            async with serve_asgi(create_app(svc, manage_pool=False)) as origin:
                yield svc, origin
        finally:
            await svc.realtime.stop()


@dataclass
class Msg:
    event: str
    id: str | None
    data: dict[str, Any]
    at: float


class Stream:
    """The messages of one SSE response, read in the background."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.messages: asyncio.Queue[Msg | None] = asyncio.Queue()
        self.comments: list[str] = []
        self.retry: int | None = None
        self.task = asyncio.create_task(self._read())
        self.closed = False

    async def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            async for line in self.response.aiter_lines():
                if line == "":
                    if "data" in fields or "event" in fields:
                        self.messages.put_nowait(
                            Msg(
                                fields.get("event", "message"),
                                fields.get("id"),
                                orjson.loads(fields.get("data", "null")),
                                time.monotonic(),
                            )
                        )
                    fields = {}
                    continue
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "retry":
                    self.retry = int(value)
                else:
                    fields[name] = value
        except httpx.HTTPError:
            pass
        finally:
            self.closed = True
            self.messages.put_nowait(None)

    async def next(self, wait: float = WITHIN) -> Msg:
        msg = await asyncio.wait_for(self.messages.get(), wait)
        assert msg is not None, "the stream ended"
        return msg

    async def until(self, event: str, wait: float = WITHIN) -> Msg:
        """The next message of that type (others before it are skipped)."""
        deadline = time.monotonic() + wait
        while True:
            msg = await self.next(max(0.01, deadline - time.monotonic()))
            if msg.event == event:
                return msg

    async def quiet(self, seconds: float = 0.5) -> list[Msg]:
        """Whatever arrives within `seconds`."""
        got: list[Msg] = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await asyncio.wait_for(self.messages.get(), left)
            except TimeoutError:
                break
            if msg is None:
                self.messages.put_nowait(None)
                break
            got.append(msg)
        return got

    async def ended(self, wait: float = WITHIN) -> None:
        await asyncio.wait_for(asyncio.shield(self.task), wait)


@asynccontextmanager
async def stream(
    origin: str,
    event: Any,
    *,
    token: str | None = None,
    ticket: str | None = None,
    last_event_id: str | None = None,
) -> AsyncIterator[Stream]:
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    params = {"ticket": ticket} if ticket is not None else {}
    async with (
        httpx.AsyncClient(base_url=origin, timeout=httpx.Timeout(10, read=None)) as client,
        client.stream("GET", f"/v1/events/{event}/stream", headers=headers, params=params) as r,
    ):
        assert r.status_code == 200, (await r.aread()).decode()
        assert r.headers["content-type"].startswith("text/event-stream")
        s = Stream(r)
        try:
            yield s
        finally:
            s.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await s.task


async def status_of(origin: str, event: Any, **kw: Any) -> tuple[int, dict[str, Any]]:
    """The answer to opening a stream that is refused."""
    headers = {"Authorization": f"Bearer {kw['token']}"} if "token" in kw else {}
    params = {"ticket": kw["ticket"]} if "ticket" in kw else {}
    async with httpx.AsyncClient(base_url=origin, timeout=10) as client:
        r = await client.get(f"/v1/events/{event}/stream", headers=headers, params=params)
        return r.status_code, r.json()
