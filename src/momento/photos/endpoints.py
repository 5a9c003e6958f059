"""Photo routes: upload (create, then complete; retry a failed one), the reveal feed, my
uploads, one photo, likes, delete, report.

The feed's two GET routes are also served by `momento.photos.fastpath` for plain requests."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from momento.deps import ServicesDep, UserDep, get_current_user
from momento.errors import Unauthorized, raised_by
from momento.kit.schemas import WITH_BODY, WITH_PARAMS, problems
from momento.photos import export, feed, mine, moderation, service
from momento.photos.schemas import (
    ExportLink,
    FeedPage,
    LikedPage,
    MyPhotosPage,
    Photo,
    PhotoCreate,
    PhotoDetail,
    PhotoReport,
    PhotoRetry,
    PhotoUpload,
    ReportsPage,
)
from momento.web.http import cached_response

router = APIRouter(tags=["photos"])

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
        **problems(*WITH_BODY, *raised_by(service.create_photo)),
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
    result, created = await service.create_photo(services, user, event_id, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return result


@router.post(
    "/photos/{photo_id}/complete",
    response_model=Photo,
    responses=problems(*WITH_PARAMS, *raised_by(service.complete_photo)),
    description="Checks and processes the uploaded file. A refused file marks the photo failed"
    " and answers 422 `photo_rejected` with `reason` (unsupported_type, too_many_pixels,"
    " corrupt_image, too_large, empty).",
)
async def complete_photo(services: ServicesDep, user: UserDep, photo_id: uuid.UUID) -> Photo:
    """Finish an upload."""
    return await service.complete_photo(services, user, photo_id)


@router.post(
    "/photos/{photo_id}/retry",
    response_model=PhotoUpload,
    responses=problems(*WITH_BODY, *raised_by(service.retry_photo)),
    description="For your own failed upload: the same photo, pending again, with a new upload"
    " target (PUT the file, then `complete`). The body may declare a new `content_type` and"
    " `byte_size` (absent: those declared before). The rules of a new upload apply: you are"
    " still a member, the event still takes photos (`uploads_closed`), the photo limit is not"
    " reached (a failed photo does not count, a pending one does). A pending photo just gets"
    " a fresh target; an uploaded one answers 409 `not_failed`. To give up instead, delete it"
    " (`DELETE /v1/photos/{id}`).",
)
async def retry_photo(
    services: ServicesDep, user: UserDep, photo_id: uuid.UUID, body: PhotoRetry | None = None
) -> PhotoUpload:
    """Retry a failed upload."""
    return await service.retry_photo(services, user, photo_id, body)


def _cached(request: Request, body: bytes, etag: str) -> Response:
    return cached_response(request.headers.get("if-none-match"), body, etag)


@router.get(
    "/events/{event_id}/photos",
    responses={200: {"model": FeedPage}, **problems(*WITH_PARAMS, *raised_by(feed.feed_page))},
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
    body, etag = await feed.feed_page(services, user, event_id, limit, cursor)
    return _cached(request, body, etag)


@router.get(
    "/events/{event_id}/photos/liked",
    responses={200: {"model": LikedPage}, **problems(*WITH_PARAMS, *raised_by(feed.liked_page))},
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
    body, etag = await feed.liked_page(services, user, event_id, limit, cursor)
    return _cached(request, body, etag)


@router.get(
    "/events/{event_id}/photos/mine",
    response_model=MyPhotosPage,
    responses=problems(*WITH_PARAMS, *raised_by(mine.my_photos)),
    description="Your own photos of the event in every status: `pending` (not completed yet),"
    " `uploaded`, and `failed` with `failure.code` (why the file was refused; retry with"
    " `POST /v1/photos/{id}/retry` or delete it). Newest first by capture time, keyset-paged."
    " Also after you left the event keeping your photos (they stay in the event): you can"
    " still list and delete them, and see nothing of anyone else's.",
)
async def my_photos(
    services: ServicesDep,
    user: UserDep,
    event_id: uuid.UUID,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> MyPhotosPage:
    """My uploads to an event."""
    return await mine.my_photos(services, user, event_id, limit, cursor)


@router.get(
    "/photos/{photo_id}",
    response_model=PhotoDetail,
    responses=problems(*WITH_PARAMS, *raised_by(mine.get_photo)),
    description="Under the feed's rules: anyone's uploaded photo once the event is revealed to"
    " you (not one hidden by moderation), and your own in every status (with why a failed one"
    " failed), also in an event you left. Any other id answers 404, as a missing one does.",
)
async def get_photo(services: ServicesDep, user: UserDep, photo_id: uuid.UUID) -> PhotoDetail:
    """One photo."""
    return await mine.get_photo(services, user, photo_id)


@router.put(
    "/photos/{photo_id}/like",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(*WITH_PARAMS, *raised_by(service.like)),
)
async def like_photo(services: ServicesDep, user: UserDep, photo_id: uuid.UUID) -> None:
    """Like a photo (idempotent)."""
    await service.like(services, user, photo_id)


@router.delete(
    "/photos/{photo_id}/like",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(*WITH_PARAMS, *raised_by(service.unlike)),
)
async def unlike_photo(services: ServicesDep, user: UserDep, photo_id: uuid.UUID) -> None:
    """Remove my like (idempotent)."""
    await service.unlike(services, user, photo_id)


@router.delete(
    "/photos/{photo_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(*WITH_PARAMS, *raised_by(service.delete_photo)),
)
async def delete_photo(services: ServicesDep, user: UserDep, photo_id: uuid.UUID) -> None:
    """Delete my photo and its files (also in an event I left)."""
    await service.delete_photo(services, user, photo_id)


@router.post(
    "/photos/{photo_id}/report",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(*WITH_BODY, *raised_by(service.report)),
    description="Hides the photo from you at once. It is hidden from everyone but its owner"
    " when the event's host hides it (the host's own report does), or once"
    " `MOMENTO_REPORTS_TO_HIDE` (default 3) members reported it; guests' (anonymous users')"
    " reports do not count toward that. Reporting again is a no-op.",
)
async def report_photo(
    services: ServicesDep, user: UserDep, photo_id: uuid.UUID, body: PhotoReport | None = None
) -> None:
    """Report (or, as the event's host, hide) a photo."""
    await service.report(services, user, photo_id, body.reason if body else None)


# --- the host's moderation -----------------------------------------------------------------

_HOST_ONLY = " Only the event's host; anyone else gets 404 (whether the photo exists is not told)."


@router.get(
    "/events/{event_id}/reports",
    response_model=ReportsPage,
    responses=problems(*WITH_PARAMS, *raised_by(moderation.event_reports)),
    description="Photos of your event that members reported or that you hid, oldest capture"
    " first, with their report counts and reasons." + _HOST_ONLY,
)
async def event_reports(
    services: ServicesDep,
    user: UserDep,
    event_id: uuid.UUID,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> ReportsPage:
    """Reported photos of my event."""
    return await moderation.event_reports(services, user, event_id, limit, cursor)


@router.post(
    "/photos/{photo_id}/hide",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(*WITH_PARAMS, *raised_by(moderation.hide)),
    description="Hides a photo of your event from everyone but its owner (idempotent)."
    + _HOST_ONLY,
)
async def hide_photo(services: ServicesDep, user: UserDep, photo_id: uuid.UUID) -> None:
    """Hide a photo of my event."""
    await moderation.hide(services, user, photo_id)


@router.post(
    "/photos/{photo_id}/restore",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(*WITH_PARAMS, *raised_by(moderation.restore_by_host)),
    description="Makes a photo of your event visible again (idempotent). Its reports are"
    " dismissed: their authors still do not see it, and hiding it for everyone again takes"
    " new reports." + _HOST_ONLY,
)
async def restore_photo(services: ServicesDep, user: UserDep, photo_id: uuid.UUID) -> None:
    """Restore a photo of my event."""
    await moderation.restore_by_host(services, user, photo_id)


# --- the archive ---------------------------------------------------------------------------


@router.post(
    "/events/{event_id}/export/link",
    response_model=ExportLink,
    responses=problems(*WITH_PARAMS, *raised_by(export.issue_download)),
    description="For a browser, whose download cannot send the access token: a single-use"
    " link to `export.zip` valid for 60 seconds. The same rules as the archive apply first.",
)
async def export_link(services: ServicesDep, user: UserDep, event_id: uuid.UUID) -> ExportLink:
    """A download link for the event's ZIP."""
    found = await export.issue_download(services, user, event_id)
    return ExportLink(url=found.url, expires_at=found.expires_at)


Ticket = Annotated[
    str | None,
    Query(
        max_length=128,
        description="From `POST /v1/events/{id}/export/link`, instead of the Authorization header.",
    ),
]


@router.get(
    "/events/{event_id}/export.zip",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/zip": {}}, "description": "The archive, streamed."},
        **problems(
            *WITH_PARAMS,
            *raised_by(export.entries),
            *raised_by(export.redeem_download),
            Unauthorized,
        ),
    },
    description="After the reveal, every photo you may see (everyone's, and your own) as its"
    " original file in its own type (HEIC stays `.heic`), named"
    " `<username>-<captured_at>.<ext>` (UTC, `20260508-183012`). Stored uncompressed, so the"
    " `Content-Length` is exact; ZIP64 past 4 GB. Before the reveal 409 `not_revealed`; with"
    " `MOMENTO_EXPORT_ZIP=premium`, 403 `premium_required` unless the event is premium."
    " Authenticate with the bearer token or a `ticket`.",
)
async def export_zip(
    services: ServicesDep, request: Request, event_id: uuid.UUID, ticket: Ticket = None
) -> StreamingResponse:
    """The event's photos as one ZIP."""
    if ticket is not None:
        user = await export.redeem_download(services, ticket, event_id)
    else:
        user = await get_current_user(request)
    event, items = await export.entries(services, user, event_id)
    body, length = export.archive(services, items)
    return StreamingResponse(
        body,
        media_type="application/zip",
        headers={
            "Content-Length": str(length),
            "Content-Disposition": export.disposition(event.name),
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )
