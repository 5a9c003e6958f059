"""The feed's lean path: the two feed routes without FastAPI's request machinery."""

from __future__ import annotations

import re
import uuid

from starlette.types import ASGIApp, Receive, Scope, Send

from momento.deps import authenticate
from momento.errors import MomentoError, render
from momento.photos import feed
from momento.services import Services
from momento.web.http import bearer_of, cached_response

_FEED_PATH = re.compile(
    r"/v1/events/([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
    r"/photos(/liked)?"
)
_LIMIT = re.compile(rb"[1-9][0-9]?|100")
_CURSOR = re.compile(rb"[A-Za-z0-9_-]{1,64}")
_DEFAULT_LIMIT = 20


class FeedFastPath:
    """The two feed routes (`list_photos`, `liked_photos`) without FastAPI's request machinery.

    The reveal stampede makes the feed the hottest route by far, and FastAPI's routing,
    dependency solving and parameter validation cost about as much CPU per page as the
    database call. This ASGI middleware answers the plain, valid requests of those two routes
    itself: GET, a canonical event id, a caller whose bearer token verifies, and nothing in the
    query string but `limit` (1-100, digits) and `cursor` (1-64 base64url characters), each at
    most once. It then runs exactly what the routes run (`feed.feed_page` / `feed.liked_page`
    and `cached_response`), and renders a MomentoError (invalid cursor, unknown event) as the
    app's handler does. Anything else (no or bad token, bad or unusual parameters, another
    method) goes on to the FastAPI routes, which stay the documented ones and produce every
    refusal, so their status codes and problem bodies are FastAPI's own.
    """

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope.get("root_path"):
            match = _FEED_PATH.fullmatch(scope["path"])
            if match is not None and await self._serve(scope, receive, send, match):
                return
        await self.app(scope, receive, send)

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, match: re.Match[str]
    ) -> bool:
        """Answer the request and return True, or return False to leave it to the routes."""
        limit = _DEFAULT_LIMIT
        cursor: str | None = None
        query: bytes = scope["query_string"]
        if query:
            seen: set[bytes] = set()
            for part in query.split(b"&"):
                name, eq, value = part.partition(b"=")
                if not eq or name in seen:
                    return False
                seen.add(name)
                if name == b"limit" and _LIMIT.fullmatch(value):
                    limit = int(value)
                elif name == b"cursor" and _CURSOR.fullmatch(value):
                    cursor = value.decode()
                else:
                    return False
        authorization: bytes | None = None
        if_none_match: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                if authorization is None:
                    authorization = value
            elif name == b"if-none-match" and if_none_match is None:
                if_none_match = value
        # As the routes' dependencies read it (momento.deps.get_current_user).
        token = bearer_of(authorization.decode("latin-1") if authorization is not None else None)
        if token is None:
            return False
        try:
            user = authenticate(self.services, token)
        except MomentoError:
            return False
        event_id = uuid.UUID(match.group(1))
        try:
            if match.group(2):
                body, etag = await feed.liked_page(self.services, user, event_id, limit, cursor)
            else:
                body, etag = await feed.feed_page(self.services, user, event_id, limit, cursor)
        except MomentoError as exc:
            response = render(exc)  # what the app's MomentoError handler answers off /auth/v1
        else:
            inm = if_none_match.decode("latin-1") if if_none_match is not None else None
            response = cached_response(inm, body, etag)
        await response(scope, receive, send)
        return True
