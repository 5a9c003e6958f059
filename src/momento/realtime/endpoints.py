"""/v1/events/{id}/stream: Server-Sent Events of an event's changes, for its members.

Momento's own protocol (README, "Realtime"), not Supabase Realtime's. Authorized by the
bearer token, or for a browser's EventSource (which cannot send headers) by a ticket from
`POST /v1/events/{id}/stream-ticket` in `?ticket=` (single use, 30 s; redacted from logs).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask

from momento.deps import ServicesDep, UserDep, authenticate, bearer_token
from momento.errors import Unauthorized, raised_by
from momento.kit.schemas import SIGNED_IN, WITH_PARAMS, problems
from momento.realtime import service
from momento.realtime.schemas import StreamTicket

router = APIRouter(prefix="/events", tags=["realtime"])


@router.post(
    "/{event_id}/stream-ticket",
    response_model=StreamTicket,
    responses=problems(*WITH_PARAMS, *raised_by(service.stream_ticket)),
    description="For browsers: EventSource cannot send an Authorization header, and the access"
    " token must never be in a URL. The ticket is single use, valid 30 seconds, bound to the"
    " caller's session and this event.",
)
async def stream_ticket(services: ServicesDep, user: UserDep, event_id: uuid.UUID) -> StreamTicket:
    """Get a ticket for the event's stream."""
    ticket = await service.stream_ticket(services, user, event_id)
    return StreamTicket(ticket=ticket.token, expires_at=ticket.expires_at)


@router.get(
    "/{event_id}/stream",
    response_class=EventSourceResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "The event's changes."},
        **problems(
            *SIGNED_IN,
            *WITH_PARAMS,
            *raised_by(service.open_stream, service.redeem_ticket),
        ),
    },
    description="Server-Sent Events: member_joined, member_left, photo_added, photo_removed,"
    " like_count, revealed, event_updated, event_deleted, resync and end, each with an id"
    " (send it back as Last-Event-ID to resume). Authorized by the bearer token or `ticket`.",
)
async def stream(
    request: Request,
    services: ServicesDep,
    event_id: uuid.UUID,
    ticket: Annotated[str | None, Query(max_length=128)] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=40)] = None,
) -> EventSourceResponse:
    """Follow an event live."""
    token = bearer_token(request)
    if token is not None:
        user = authenticate(services, token)
    elif ticket is not None:
        user = await service.redeem_ticket(services, ticket, event_id)
    else:
        raise Unauthorized("An access token or a stream ticket is required.")
    sub = await service.open_stream(services, user, event_id, last_event_id)
    settings = services.settings

    async def frames() -> AsyncIterator[ServerSentEvent | bytes]:
        # First: how soon to reconnect; clients learn it before anything else.
        yield ServerSentEvent(comment="momento", retry=settings.stream_retry_ms)
        async for m in service.messages(services, sub):
            yield m.frame  # encoded once for every subscriber it goes to

    return EventSourceResponse(
        frames(),
        # Unsubscribed however the response ends, even before the first frame was sent.
        background=BackgroundTask(services.realtime.remove, sub),
        # When the server stops: the hub ends every stream with `end` (shutdown) first.
        shutdown_event=services.realtime.shutdown,
        shutdown_grace_period=1.0,
        ping=settings.stream_heartbeat_seconds,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
