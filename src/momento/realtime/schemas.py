from datetime import datetime

from pydantic import BaseModel


class StreamTicket(BaseModel):
    """A single-use ticket for `GET /v1/events/{id}/stream?ticket=...` (30 s)."""

    ticket: str
    expires_at: datetime
