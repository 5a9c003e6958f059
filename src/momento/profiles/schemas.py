"""Request and response bodies of /v1/me."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    TypeAdapter,
    field_validator,
)

from momento.kit.names import DISPLAY_NAME_MAX
from momento.kit.schemas import UtcDatetime

_HEX = re.compile(r"[0-9A-Fa-f]{32,200}")

USERNAME_RULES = (
    "3 to 30 characters from a-z, 0-9, `_` and `.`. Upper-case letters are accepted and stored"
    " lower-case (`Ana.B` becomes `ana.b`); a name is unique whatever its case. Full-width and"
    " other look-alike characters are refused (422 `invalid_name`), never mapped."
)
NAME_RULES = (
    "Stored NFC-normalised, with surrounding spaces removed and each run of spaces made one."
    " Control characters, line breaks, invisible and bidirectional formatting characters,"
    " private-use and unassigned code points are refused (422 `invalid_name`, `reason` says"
    " why); a zero-width joiner only inside an emoji sequence."
)


def _device_token(value: str) -> str:
    if not _HEX.fullmatch(value):
        raise ValueError("must be 32 to 200 hexadecimal characters")
    return value.lower()


_URL = TypeAdapter(HttpUrl)


def _avatar_url(value: str) -> str:
    _URL.validate_python(value)  # raises ValidationError, reported as 422
    return value


# Checked by the operation (momento.kit.names), which answers 422 `invalid_name`.
Username = Annotated[str, Field(description=USERNAME_RULES)]
DisplayName = Annotated[
    str,
    Field(
        description=f"1 to {DISPLAY_NAME_MAX} characters; null clears it. {NAME_RULES}",
    ),
]
AvatarUrl = Annotated[
    str,
    StringConstraints(max_length=2048),
    AfterValidator(_avatar_url),
    Field(description="An http(s) URL of at most 2048 characters; null clears it."),
]


class Profile(BaseModel):
    """The signed-in user's profile."""

    id: uuid.UUID
    username: str
    display_name: str | None
    avatar_url: str | None
    created_at: UtcDatetime


class ProfileUpdate(BaseModel):
    """Fields to change; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    username: Username | None = None
    display_name: DisplayName | None = None
    avatar_url: AvatarUrl | None = None

    @field_validator("username", mode="before")
    @classmethod
    def _username_not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("username cannot be null")
        return value

    def changes(self) -> dict[str, Any]:
        """Parameters for the update: each column's new value and whether to set it."""
        out: dict[str, Any] = {}
        for name in ("username", "display_name", "avatar_url"):
            out[f"set_{name}"] = name in self.model_fields_set
            out[name] = getattr(self, name)
        return out


class DeviceToken(BaseModel):
    """The APNs device token of the signed-in device."""

    model_config = ConfigDict(extra="forbid")

    token: (
        Annotated[
            str,
            AfterValidator(_device_token),
            Field(description="Hexadecimal, 32 to 200 characters (stored lower-case)."),
        ]
        | None
    ) = Field(description="The token; null removes it (signing out of push).")


class Stats(BaseModel):
    """Numbers about the signed-in user."""

    user_number: int = Field(description='Your place among all users ("You\'re user #47").')
    events_joined: int = Field(
        description="Events you are a member of, those you created included (deleted excluded)."
    )
