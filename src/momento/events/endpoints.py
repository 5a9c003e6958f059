"""/v1/events: create, list, read, change, delete, join, leave, and see who is in."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status

from momento.deps import ServicesDep, UserDep, client_ip
from momento.errors import (
    raised_by,
)
from momento.events import service
from momento.events.schemas import Event, EventCreate, EventUpdate, JoinRequest, Member
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


@router.delete(
    "/{event_id}/membership",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(*WITH_PARAMS, *raised_by(service.leave_event)),
)
async def leave_event(services: ServicesDep, user: UserDep, event_id: uuid.UUID) -> None:
    """Leave an event."""
    await service.leave_event(services, user, event_id)


@router.get(
    "/{event_id}/members",
    response_model=list[Member],
    responses=problems(*WITH_PARAMS, *raised_by(service.list_members)),
)
async def list_members(services: ServicesDep, user: UserDep, event_id: uuid.UUID) -> list[Member]:
    """List an event's members, in the order they joined."""
    return await service.list_members(services, user, event_id)


summaries_from_docstrings(router)
