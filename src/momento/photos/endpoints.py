"""Photo routes: upload (create, then complete), the reveal feed, likes, delete, report."""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from starlette.types import ASGIApp, Receive, Scope, Send

from momento.deps import ServicesDep, UserDep
from momento.errors import InvalidToken, MomentoError, Unauthorized, render
from momento.events.errors import EventNotFound
from momento.kit.schemas import problems
from momento.photos import feed, service
from momento.photos.errors import (
    InvalidCursor,
    OutsideCaptureWindow,
    PhotoIdTaken,
    PhotoLimitReached,
    PhotoNotFound,
    PhotoRejected,
    UnsupportedType,
    UploadMissing,
    UploadsClosed,
    UploadTooLarge,
)
from momento.photos.schemas import FeedPage, LikedPage, Photo, PhotoCreate, PhotoReport, PhotoUpload
from momento.services import Services

router = APIRouter(tags=["photos"])

_AUTH = (Unauthorized, InvalidToken)
Limit = Annotated[int, Query(ge=1, le=100, description="Photos per page (1-100).")]
Cursor = Annotated[
    str | None, Query(max_length=64, description="`next_cursor` of the previous page.")
]


@router.post(
    "/events/{event_id}/photos",
    status_code=status.HTTP_201_CREATED,
    response_model=PhotoUpload,
    responses={
        200: {"description": "Retried with the same id: the same photo.", "model": PhotoUpload},
        **problems(
            *_AUTH,
            EventNotFound,
            UnsupportedType,
            UploadTooLarge,
            OutsideCaptureWindow,
            UploadsClosed,
            PhotoLimitReached,
            PhotoIdTaken,
        ),
    },
)
async def create_photo(
    services: ServicesDep,
    user: UserDep,
    event_id: uuid.UUID,
    body: PhotoCreate,
    response: Response,
) -> PhotoUpload:
    """Start an upload: a pending photo and a signed upload target."""
    result, created = await service.create_photo(services, user.claims, event_id, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return result


@router.post(
    "/photos/{photo_id}/complete",
    response_model=Photo,
    responses=problems(*_AUTH, PhotoNotFound, UploadMissing, PhotoRejected),
    description="Checks and processes the uploaded file. A refused file marks the photo failed"
    " and answers 422 `photo_rejected` with `reason` (unsupported_type, too_many_pixels,"
    " corrupt_image, too_large, empty).",
)
async def complete_photo(services: ServicesDep, user: UserDep, photo_id: uuid.UUID) -> Photo:
    """Finish an upload."""
    return await service.complete_photo(services, user.claims, photo_id)


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 If-None-Match: a list of tags, compared weakly, or "*"."""
    if not if_none_match:
        return False
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


def cached_response(if_none_match: str | None, body: bytes, etag: str) -> Response:
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if etag_matches(if_none_match, etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _cached(request: Request, body: bytes, etag: str) -> Response:
    return cached_response(request.headers.get("if-none-match"), body, etag)


@router.get(
    "/events/{event_id}/photos",
    responses={200: {"model": FeedPage}, **problems(*_AUTH, EventNotFound, InvalidCursor)},
    description="Oldest first, by capture time. Before the reveal only your own photos are"
    " listed (with the event's total in `total_count`). Supports `If-None-Match`.",
)
async def list_photos(
    services: ServicesDep,
    user: UserDep,
    event_id: uuid.UUID,
    request: Request,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    """The reveal feed."""
    body, etag = await feed.feed_page(services, user.claims, event_id, limit, cursor)
    return _cached(request, body, etag)


@router.get(
    "/events/{event_id}/photos/liked",
    responses={200: {"model": LikedPage}, **problems(*_AUTH, EventNotFound, InvalidCursor)},
)
async def liked_photos(
    services: ServicesDep,
    user: UserDep,
    event_id: uuid.UUID,
    request: Request,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    """My liked photos in the event, most recent like first."""
    body, etag = await feed.liked_page(services, user.claims, event_id, limit, cursor)
    return _cached(request, body, etag)


@router.put(
    "/photos/{photo_id}/like",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(*_AUTH, PhotoNotFound),
)
async def like_photo(services: ServicesDep, user: UserDep, photo_id: uuid.UUID) -> None:
    """Like a photo (idempotent)."""
    await service.like(services, user.claims, photo_id)


@router.delete(
    "/photos/{photo_id}/like",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(*_AUTH, PhotoNotFound),
)
async def unlike_photo(services: ServicesDep, user: UserDep, photo_id: uuid.UUID) -> None:
    """Remove my like (idempotent)."""
    await service.unlike(services, user.claims, photo_id)


@router.delete(
    "/photos/{photo_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(*_AUTH, PhotoNotFound),
)
async def delete_photo(services: ServicesDep, user: UserDep, photo_id: uuid.UUID) -> None:
    """Delete my photo and its files."""
    await service.delete_photo(services, user.claims, photo_id)


@router.post(
    "/photos/{photo_id}/report",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(*_AUTH, PhotoNotFound),
    description="Hides the photo from everyone but its owner until an operator reviews it."
    " The event's creator uses the same route to hide a photo of their event.",
)
async def report_photo(
    services: ServicesDep, user: UserDep, photo_id: uuid.UUID, body: PhotoReport | None = None
) -> None:
    """Report (or, as the event's creator, hide) a photo."""
    await service.report(services, user.claims, photo_id, body.reason if body else None)


# --- the feed's lean path ------------------------------------------------------------------

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
        if authorization is None:
            return False
        # As momento.deps.bearer_token and get_current_user read it.
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return False
        try:
            claims = self.services.tokens.verify(token)
        except MomentoError:
            return False
        event_id = uuid.UUID(match.group(1))
        try:
            if match.group(2):
                body, etag = await feed.liked_page(self.services, claims, event_id, limit, cursor)
            else:
                body, etag = await feed.feed_page(self.services, claims, event_id, limit, cursor)
        except MomentoError as exc:
            response = render(exc)  # what the app's MomentoError handler answers off /auth/v1
        else:
            inm = if_none_match.decode("latin-1") if if_none_match is not None else None
            response = cached_response(inm, body, etag)
        await response(scope, receive, send)
        return True
