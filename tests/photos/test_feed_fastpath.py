"""The lean feed path answers exactly as the FastAPI routes do.

`FeedFastPath` serves the plain, valid feed requests itself and leaves everything else to the
routes. Every request below goes to two apps, one with the lean path and one without, and the
answers must match byte for byte: status, headers and body, refusals included.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import httpx
from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.types import Receive, Scope, Send

from momento.app import create_app
from momento.photos.fastpath import FeedFastPath
from momento.services import Services
from tests.factories import BASE, add_photos, create_user, like, make_event


class CountingFastPath(FeedFastPath):
    """The lean path, counting the requests it answers itself."""

    served = 0

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, match: re.Match[str]
    ) -> bool:
        answered = await super()._serve(scope, receive, send, match)
        CountingFastPath.served += int(answered)
        return answered


def _is_fast_path(m: Middleware) -> bool:
    cls: object = m.cls
    return cls is FeedFastPath


def _apps(services: Services) -> tuple[FastAPI, FastAPI]:
    fast = create_app(services, manage_pool=False)
    fast.user_middleware = [
        Middleware(CountingFastPath, services=services) if _is_fast_path(m) else m
        for m in fast.user_middleware
    ]
    slow = create_app(services, manage_pool=False)
    slow.user_middleware = [m for m in slow.user_middleware if not _is_fast_path(m)]
    assert len(slow.user_middleware) == len(fast.user_middleware) - 1
    return fast, slow


def _same(a: httpx.Response, b: httpx.Response) -> bool:
    return (a.status_code, a.headers.raw, a.content) == (b.status_code, b.headers.raw, b.content)


async def test_lean_path_answers_like_the_routes(services: Services) -> None:
    alice = await create_user(services)
    bob = await create_user(services)
    carol = await create_user(services)
    event = await make_event(services, alice, revealed=True, members=[bob])
    photos = await add_photos(
        services, event, alice, [BASE + timedelta(seconds=i) for i in range(30)]
    )
    for p in photos[:5]:
        await like(services, p, bob)
    fast, slow = _apps(services)
    CountingFastPath.served = 0
    base = f"/v1/events/{event}/photos"
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=fast), base_url="http://t") as cf,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=slow), base_url="http://t") as cs,
    ):
        first = (await cs.get(base, headers=bob.headers)).json()
        cursor = first["next_cursor"]
        etag = (await cs.get(base, headers=bob.headers)).headers["etag"]
        token = bob.headers["Authorization"].split()[1]
        forged = {"Authorization": "Bearer " + token[:-3] + "abc"}
        paths = (
            base,
            base + "/liked",
            f"/v1/events/{uuid.uuid4()}/photos",
            f"/v1/events/{uuid.uuid4()}/photos/liked",
            f"/v1/events/{str(event).upper()}/photos",
            f"/v1/events/{uuid.UUID(str(event)).hex}/photos",
            "/v1/events/not-a-uuid/photos",
            base + "/",
        )
        queries = (
            "",
            "?limit=5",
            f"?cursor={cursor}",
            f"?limit=3&cursor={cursor}",
            "?limit=0",
            "?limit=101",
            "?limit=100",
            "?limit=x",
            "?limit=05",
            "?cursor=" + "A" * 65,
            "?cursor=" + "A" * 64,
            "?cursor=A",
            "?cursor=",
            "?limit=2&limit=3",
            "?foo=1",
            "?cursor=%41%41",
            "?limit=1&cursor=" + "_" * 32,
        )
        headers_list: tuple[dict[str, str], ...] = (
            bob.headers,
            carol.headers,
            {},
            forged,
            {"Authorization": "Basic x"},
            {**bob.headers, "If-None-Match": etag},
            {**bob.headers, "If-None-Match": f'W/{etag}, "x"'},
        )
        checked = 0
        for path in paths:
            for query in queries:
                for headers in headers_list:
                    rf = await cf.get(path + query, headers=headers)
                    rs = await cs.get(path + query, headers=headers)
                    assert _same(rf, rs), (path + query, headers.keys())
                    checked += 1
        for method in ("HEAD", "POST", "DELETE", "PUT"):
            rf = await cf.request(method, base, headers=bob.headers)
            rs = await cs.request(method, base, headers=bob.headers)
            assert _same(rf, rs), method
    assert checked == len(paths) * len(queries) * len(headers_list)
    # The lean path really answered a good share of them (the valid, authorised ones).
    assert CountingFastPath.served > 100
