"""Request and response bodies of /v1/events."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from momento.kit.names import EVENT_NAME_MAX
from momento.kit.schemas import UtcDatetime

# Checked by the operation (momento.kit.names), which answers 422 `invalid_name`.
EventName = Annotated[
    str,
    Field(
        description=f"1 to {EVENT_NAME_MAX} characters, stored NFC-normalised, with surrounding"
        " spaces removed and each run of spaces made one. Control characters, line breaks,"
        " invisible and bidirectional formatting characters, private-use and unassigned code"
        " points are refused (422 `invalid_name`, `reason` says why); a zero-width joiner"
        " only inside an emoji sequence."
    ),
]
Timestamp = Annotated[
    AwareDatetime,
    Field(description="RFC 3339 with a time zone offset, e.g. 2026-05-01T18:00:00Z."),
]


class Event(BaseModel):
    """An event (a Momento) the caller is a member of."""

    id: uuid.UUID
    name: str
    join_code: str
    creator_id: uuid.UUID
    starts_at: UtcDatetime
    release_at: UtcDatetime
    is_premium: bool
    created_at: UtcDatetime
    revealed: bool = Field(description="release_at has passed: the photos are revealed.")
    member_count: int
    photo_count: int = Field(
        description="Photos taken in the event, including those still developing (not yet"
        " revealed to you); failed uploads and flagged photos are not counted."
    )
    web_guests: bool = Field(
        description="Guests without an account (anonymous sign-ins, e.g. from the web page of"
        " the QR code) may join by code. The host turns it off with PATCH."
    )


class EventCreate(BaseModel):
    """A new event; release_at must be after starts_at."""

    model_config = ConfigDict(extra="forbid")

    name: EventName
    starts_at: Timestamp
    release_at: Timestamp


class EventUpdate(BaseModel):
    """Fields to change; absent fields stay as they are. release_at is fixed once revealed."""

    model_config = ConfigDict(extra="forbid")

    name: EventName | None = None
    starts_at: Timestamp | None = None
    release_at: Timestamp | None = None
    web_guests: bool | None = Field(
        None, description="Let guests without an account join by code (default: on)."
    )

    @field_validator("name", "starts_at", "release_at", "web_guests", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("cannot be null")
        return value

    def changes(self) -> dict[str, Any]:
        """Parameters for the update: each column's new value and whether to set it."""
        out: dict[str, Any] = {}
        for name in ("name", "starts_at", "release_at", "web_guests"):
            out[f"set_{name}"] = name in self.model_fields_set
            out[name] = getattr(self, name)
        return out


class JoinRequest(BaseModel):
    """A join code, as shared by a member; case and surrounding spaces do not matter."""

    model_config = ConfigDict(extra="forbid")

    join_code: str = Field(max_length=32, description="The event's 6-character join code.")


class Member(BaseModel):
    """A member of an event."""

    user_id: uuid.UUID
    username: str
    display_name: str | None
    avatar_url: str | None
    joined_at: UtcDatetime
    is_creator: bool


class Invite(BaseModel):
    """How to invite people: the join code, and the web page a QR code of it opens."""

    join_code: str
    url: str = Field(description="The join page, `MOMENTO_PUBLIC_URL/j/{join_code}`.")
    web_guests: bool = Field(description="Guests without an account may join from that page.")
