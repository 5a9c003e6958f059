"""/v1/events: create, list, read, change, delete, join, leave, and see who is in."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status

from momento.analytics import events as analytics_events
from momento.deps import ServicesDep, UserDep, client_ip
from momento.errors import (
    InvalidToken,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
    ValidationFailed,
)
from momento.events import service
from momento.events.errors import (
    CreatorCannotLeave,
    EventNotFound,
    JoinCodeInvalid,
    NotEventCreator,
    ReleaseBeforeStart,
    ReleaseLocked,
)
from momento.events.schemas import Event, EventCreate, EventUpdate, JoinRequest, Member
from momento.kit.schemas import problems, summaries_from_docstrings
from momento.profiles.errors import UserNotFound

router = APIRouter(prefix="/events", tags=["events"])

_AUTH = (Unauthorized, InvalidToken)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Event,
    responses=problems(*_AUTH, UserNotFound, ValidationFailed, ReleaseBeforeStart, PayloadTooLarge),
    description="The event gets a unique 6-character join code and the caller as its first member.",
)
async def create_event(services: ServicesDep, user: UserDep, body: EventCreate) -> Event:
    """Create an event."""
    event = await service.create_event(services.db, user.claims, body, jobs=services.jobs)
    analytics_events.event_created(
        services.analytics, user.id, event_id=event.id, is_premium=event.is_premium
    )
    return event


@router.get("", response_model=list[Event], responses=problems(*_AUTH))
async def list_events(services: ServicesDep, user: UserDep) -> list[Event]:
    """List my events, newest first."""
    return await service.list_events(services.db, user.claims)


@router.post(
    "/join",
    response_model=Event,
    responses={
        201: {"description": "Joined: the event, with the caller now a member.", "model": Event},
        **problems(
            *_AUTH, UserNotFound, JoinCodeInvalid, RateLimited, PayloadTooLarge, ValidationFailed
        ),
    },
    description="Answers 201 when this call added the membership and 200 when the caller was"
    " already a member. Deleted events cannot be joined. Limited per client address and per"
    " account (429 with Retry-After).",
)
async def join_event(
    services: ServicesDep, user: UserDep, body: JoinRequest, request: Request, response: Response
) -> Event:
    """Join an event by its code."""
    event, joined = await service.join_event(
        services, user.claims, user.id, client_ip(request), body.join_code
    )
    if joined:
        analytics_events.user_joined_event(services.analytics, user.id, event_id=event.id)
    response.status_code = status.HTTP_201_CREATED if joined else status.HTTP_200_OK
    return event


@router.get(
    "/{event_id}", response_model=Event, responses=problems(*_AUTH, EventNotFound, ValidationFailed)
)
async def get_event(services: ServicesDep, user: UserDep, event_id: uuid.UUID) -> Event:
    """Get an event I am a member of."""
    return await service.get_event(services.db, user.claims, event_id)


@router.patch(
    "/{event_id}",
    response_model=Event,
    responses=problems(
        *_AUTH,
        EventNotFound,
        NotEventCreator,
        ReleaseLocked,
        ValidationFailed,
        ReleaseBeforeStart,
        PayloadTooLarge,
    ),
    description="Creator only. Absent fields stay as they are; release_at cannot move once the"
    " event is revealed.",
)
async def update_event(
    services: ServicesDep, user: UserDep, event_id: uuid.UUID, body: EventUpdate
) -> Event:
    """Change an event."""
    return await service.update_event(services.db, user.claims, event_id, body, jobs=services.jobs)


@router.delete(
    "/{event_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(*_AUTH, EventNotFound, NotEventCreator, ValidationFailed),
    description="Creator only. The event disappears for every member and cannot be joined.",
)
async def delete_event(services: ServicesDep, user: UserDep, event_id: uuid.UUID) -> None:
    """Delete an event."""
    await service.delete_event(services.db, user.claims, event_id)


@router.delete(
    "/{event_id}/membership",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(*_AUTH, EventNotFound, CreatorCannotLeave, ValidationFailed),
)
async def leave_event(services: ServicesDep, user: UserDep, event_id: uuid.UUID) -> None:
    """Leave an event."""
    await service.leave_event(services.db, user.claims, event_id)


@router.get(
    "/{event_id}/members",
    response_model=list[Member],
    responses=problems(*_AUTH, EventNotFound, ValidationFailed),
)
async def list_members(services: ServicesDep, user: UserDep, event_id: uuid.UUID) -> list[Member]:
    """List an event's members, in the order they joined."""
    return await service.list_members(services.db, user.claims, event_id)


summaries_from_docstrings(router)
