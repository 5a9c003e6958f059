"""Request and response bodies of the photo routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from momento.kit.schemas import UtcDatetime

ACCEPTED_TYPES = ("image/jpeg", "image/heic", "image/heif", "image/png", "image/webp")


class PhotoCreate(BaseModel):
    """A photo about to be uploaded. Send the same `id` again to retry safely."""

    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID | None = Field(
        None, description="Client-made id; retrying with it returns the same photo."
    )
    captured_at: AwareDatetime = Field(description="When the photo was taken (RFC 3339).")
    content_type: Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True)] = Field(
        description="One of " + ", ".join(ACCEPTED_TYPES) + "."
    )
    byte_size: int = Field(gt=0, description="Size of the file to upload, in bytes.")


class PhotoRetry(BaseModel):
    """What the client now declares about the file it will upload again (absent: as before)."""

    model_config = ConfigDict(extra="forbid")

    content_type: Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True)] | None = (
        Field(None, description="One of " + ", ".join(ACCEPTED_TYPES) + ".")
    )
    byte_size: int | None = Field(None, gt=0, description="Size of the file, in bytes.")


class PhotoReport(BaseModel):
    """Why the photo is reported (optional)."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class UploadTargetOut(BaseModel):
    """Send the file with `method` to `url`, with exactly these `headers`, before `expires_at`."""

    url: str
    method: str
    headers: dict[str, str]
    expires_at: datetime
    max_bytes: int | None


class PhotoUrls(BaseModel):
    thumbnail: str
    display: str
    original: str


class Failure(BaseModel):
    code: str
    message: str


class Photo(BaseModel):
    """A photo as its owner sees it right after creating or completing it."""

    id: uuid.UUID
    event_id: uuid.UUID
    user_id: uuid.UUID
    username: str
    captured_at: UtcDatetime
    upload_status: Literal["pending", "uploaded", "failed"]
    width: int | None
    height: int | None
    blurhash: str | None
    failure: Failure | None = None


class PhotoUpload(BaseModel):
    """A pending photo and where to upload its file."""

    photo: Photo
    upload: UploadTargetOut | None = Field(
        description="Absent when the photo is no longer pending (already uploaded or failed)."
    )


class FeedItem(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    username: str
    captured_at: datetime
    width: int | None
    height: int | None
    blurhash: str | None
    like_count: int
    liked_by_me: bool
    urls: PhotoUrls


class FeedPage(BaseModel):
    """One page of an event's photos, oldest first."""

    items: list[FeedItem]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )
    revealed: bool = Field(description="Before the reveal, only your own photos are listed.")
    total_count: int = Field(
        description="Photos in the event, including those not yet revealed to you."
    )


class LikedPage(BaseModel):
    """Your liked photos in the event, most recent like first."""

    items: list[FeedItem]
    next_cursor: str | None


class ReportedPhoto(BaseModel):
    """A photo of your event that was reported or that you hid."""

    id: uuid.UUID
    user_id: uuid.UUID
    username: str
    captured_at: UtcDatetime
    hidden: bool = Field(description="Hidden from everyone but its owner.")
    hidden_by_host: bool = Field(description="You hid it (hide, or your own report).")
    reports: int = Field(description="Reports not dismissed by a restore, guests' included.")
    counted_reports: int = Field(
        description="Those that count toward hiding it for everyone (guests' do not)."
    )
    last_report_at: UtcDatetime | None
    reasons: list[str] = Field(description="The reasons given, oldest first.")
    urls: PhotoUrls


class ReportsPage(BaseModel):
    """Reported or hidden photos of the event, oldest capture first."""

    items: list[ReportedPhoto]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class PhotoDetail(BaseModel):
    """One photo as the caller may see it: anyone's uploaded photo (as in the feed), and for
    its owner also a pending or failed upload (with why it failed). `urls` only once uploaded."""

    id: uuid.UUID
    event_id: uuid.UUID
    user_id: uuid.UUID
    username: str = Field(description="The owner's current username.")
    captured_at: datetime
    upload_status: Literal["pending", "uploaded", "failed"]
    width: int | None
    height: int | None
    blurhash: str | None
    like_count: int
    liked_by_me: bool
    failure: Failure | None = Field(description="Why a failed upload was refused.")
    urls: PhotoUrls | None = Field(description="Signed URLs; absent until uploaded.")
    download: str | None = Field(
        None,
        description="The original as a download named `<username>-<captured_at>.<ext>` in its "
        "own type (an iPhone's HEIC stays .heic); absent until uploaded.",
    )


class MyPhotosPage(BaseModel):
    """One page of your own photos of an event, in every status, newest first."""

    items: list[PhotoDetail]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class ExportLink(BaseModel):
    """A single-use link to the event's ZIP, for a browser (which cannot send the token)."""

    url: str = Field(
        description="Path of `GET /v1/events/{id}/export.zip` with a `ticket`: valid once,"
        " for 60 seconds, for your current session."
    )
    expires_at: UtcDatetime
