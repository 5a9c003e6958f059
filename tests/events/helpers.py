"""Helpers for the event tests: what is stored about an event, read as the owner."""

from __future__ import annotations

import uuid
from typing import Any

from momento.services import Services
from tests.factories import sql


async def event_row(services: Services, event_id: str | uuid.UUID) -> dict[str, Any]:
    [row] = await sql(services, "SELECT * FROM public.events WHERE id = %s", event_id)
    return row


async def member_ids(services: Services, event_id: str | uuid.UUID) -> set[uuid.UUID]:
    rows = await sql(
        services, "SELECT user_id FROM public.event_members WHERE event_id = %s", event_id
    )
    return {r["user_id"] for r in rows}
