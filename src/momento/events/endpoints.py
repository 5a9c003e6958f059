"""/v1/events: create, list, read, change, delete, join, leave, and see who is in."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status

from momento.deps import ServicesDep, UserDep, client_ip
from momento.errors import (
    raised_by,
)
from momento.events import qr, service
from momento.events.schemas import Event, EventCreate, EventUpdate, Invite, JoinRequest, Member
from momento.kit.schemas import (
    SIGNED_IN,
    WITH_BODY,
    WITH_PARAMS,
    problems,
    summaries_from_docstrings,
)

router = APIRouter(prefix="/events", tags=["events"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Event,
    responses=problems(*WITH_BODY, *raised_by(service.create_event)),
    description="The event gets a unique 6-character join code and the caller as its first member.",
)
async def create_event(services: ServicesDep, user: UserDep, body: EventCreate) -> Event:
    """Create an event."""
    return await service.create_event(services, user, body)


@router.get(
    "", response_model=list[Event], responses=problems(*SIGNED_IN, *raised_by(service.list_events))
)
async def list_events(services: ServicesDep, user: UserDep) -> list[Event]:
    """List my events, newest first."""
    return await service.list_events(services, user)


@router.post(
    "/join",
    response_model=Event,
    responses={
        201: {"description": "Joined: the event, with the caller now a member.", "model": Event},
        **problems(*WITH_BODY, *raised_by(service.join_event)),
    },
    description="Answers 201 when this call added the membership and 200 when the caller was"
    " already a member. Deleted events cannot be joined. Limited per client address and per"
    " account (429 with Retry-After).",
)
async def join_event(
    services: ServicesDep, user: UserDep, body: JoinRequest, request: Request, response: Response
) -> Event:
    """Join an event by its code."""
    event, joined = await service.join_event(services, user, client_ip(request), body.join_code)
    response.status_code = status.HTTP_201_CREATED if joined else status.HTTP_200_OK
    return event


@router.get(
    "/{event_id}",
    response_model=Event,
    responses=problems(*WITH_PARAMS, *raised_by(service.get_event)),
)
async def get_event(services: ServicesDep, user: UserDep, event_id: uuid.UUID) -> Event:
    """Get an event I am a member of."""
    return await service.get_event(services, user, event_id)


@router.patch(
    "/{event_id}",
    response_model=Event,
    responses=problems(*WITH_BODY, *raised_by(service.update_event)),
    description="Creator only. Absent fields stay as they are; release_at cannot move once the"
    " event is revealed.",
)
async def update_event(
    services: ServicesDep, user: UserDep, event_id: uuid.UUID, body: EventUpdate
) -> Event:
    """Change an event."""
    return await service.update_event(services, user, event_id, body)


@router.delete(
    "/{event_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(*WITH_PARAMS, *raised_by(service.delete_event)),
    description="Creator only. The event disappears for every member and cannot be joined.",
)
async def delete_event(services: ServicesDep, user: UserDep, event_id: uuid.UUID) -> None:
    """Delete an event."""
    await service.delete_event(services, user, event_id)


PhotosOnLeaving = Annotated[
    Literal["keep_photos", "remove_photos"],
    Query(
        description="`keep_photos` (default): your photos stay in the event, revealed to its"
        " members like everyone's, and stay yours to list (`GET"
        " /v1/events/{id}/photos/mine`) and delete. `remove_photos`: your photos of the event"
        " and your likes there are deleted with the membership, their files purged shortly"
        " after."
    ),
]


@router.delete(
    "/{event_id}/membership",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(*WITH_PARAMS, *raised_by(service.leave_event)),
    description="Choose what happens to your photos with `photos` (a query parameter, so that"
    " every HTTP client can send it with DELETE): `keep_photos` (the default) or"
    " `remove_photos`. After leaving you see nothing of the event and nobody else's photos;"
    " with `keep_photos` you can still list and delete your own photos of it. The creator"
    " cannot leave (409 `creator_cannot_leave`; delete the event instead). Not a member"
    " (or left already): 404.",
)
async def leave_event(
    services: ServicesDep,
    user: UserDep,
    event_id: uuid.UUID,
    photos: PhotosOnLeaving = "keep_photos",
) -> None:
    """Leave an event."""
    await service.leave_event(services, user, event_id, remove_photos=photos == "remove_photos")


@router.get(
    "/{event_id}/members",
    response_model=list[Member],
    responses=problems(*WITH_PARAMS, *raised_by(service.list_members)),
)
async def list_members(services: ServicesDep, user: UserDep, event_id: uuid.UUID) -> list[Member]:
    """List an event's members, in the order they joined."""
    return await service.list_members(services, user, event_id)


@router.post(
    "/{event_id}/join-code",
    response_model=Event,
    responses=problems(*WITH_PARAMS, *raised_by(service.rotate_join_code)),
    description="Creator only. The event gets a new join code: the old one, its links and"
    " printed QR codes stop working at once; members stay members.",
)
async def rotate_join_code(services: ServicesDep, user: UserDep, event_id: uuid.UUID) -> Event:
    """Draw a new join code."""
    return await service.rotate_join_code(services, user, event_id)


@router.get(
    "/{event_id}/invite",
    response_model=Invite,
    responses=problems(*WITH_PARAMS, *raised_by(service.invite)),
    description="For members: the join code and the web page that joins it"
    " (`MOMENTO_PUBLIC_URL/j/{code}`), which guests without the app open from a QR code.",
)
async def invite(services: ServicesDep, user: UserDep, event_id: uuid.UUID) -> Invite:
    """The event's invite link."""
    return await service.invite(services, user, event_id)


# No caching by shared caches: the code changes when the host rotates it.
_QR_HEADERS = {"Cache-Control": "private, no-cache"}


@router.get(
    "/{event_id}/invite.svg",
    response_class=Response,
    responses={
        200: {"content": {"image/svg+xml": {}}, "description": "A QR code of the invite link."},
        **problems(*WITH_PARAMS, *raised_by(service.invite)),
    },
)
async def invite_svg(services: ServicesDep, user: UserDep, event_id: uuid.UUID) -> Response:
    """The invite link as a QR code (SVG, for print)."""
    found = await service.invite(services, user, event_id)
    return Response(qr.svg(found.url), media_type="image/svg+xml", headers=_QR_HEADERS)


@router.get(
    "/{event_id}/invite.png",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "A QR code of the invite link."},
        **problems(*WITH_PARAMS, *raised_by(service.invite)),
    },
)
async def invite_png(
    services: ServicesDep,
    user: UserDep,
    event_id: uuid.UUID,
    scale: Annotated[int, Query(ge=1, le=40, description="Pixels per module.")] = 10,
) -> Response:
    """The invite link as a QR code (PNG)."""
    found = await service.invite(services, user, event_id)
    return Response(qr.png(found.url, scale), media_type="image/png", headers=_QR_HEADERS)


summaries_from_docstrings(router)
