"""The one function that decides what a subscriber of an event's stream may receive.

Everything a stream sends goes through `decide`, from states read once per process; the
visibility it applies is the feed's, that is the row-level security policies' (migrations
0003/0004/0012/0022/0023), restated in Python so that 2,000 subscribers cost no query each:

- the event: members (and its creator) see it while it is not deleted;
- a photo, in the feed: uploaded, and either the viewer's own, or (once revealed, to a member)
  not hidden and not reported by the viewer.

tests/realtime/test_policy.py checks `sees_event` / `sees_photo` against the policies with
real queries as the user over random states. Before the reveal a member learns only totals
of other people's photos (never a photo id, uploader or URL); likes come as counts, never
who liked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Why a stream ends, in its final message (`end`, or the `event_deleted` / `resync` message).
LEFT = "left"
REMOVED = "removed"
SIGNED_OUT = "signed_out"
TOKEN_EXPIRED = "token_expired"  # noqa: S105 - a reason, not a secret
EVENT_DELETED = "event_deleted"
SHUTDOWN = "shutdown"


@dataclass(frozen=True)
class Change:
    """A row of momento.changes."""

    id: int
    at: datetime
    event_id: uuid.UUID
    kind: str
    photo_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    actor_id: uuid.UUID | None = None
    reason: str | None = None
    # A deleted photo's reporters (they did not see it).
    reporters: list[uuid.UUID] | None = None


@dataclass(frozen=True)
class EventState:
    id: uuid.UUID
    name: str
    creator_id: uuid.UUID
    starts_at: datetime
    release_at: datetime
    is_deleted: bool
    # By the database's clock when read.
    revealed: bool
    # The feed's total_count: photos not failed nor hidden (momento.event_photo_totals).
    photo_count: int


@dataclass(frozen=True)
class PhotoState:
    id: uuid.UUID
    event_id: uuid.UUID
    user_id: uuid.UUID
    username: str
    captured_at: datetime
    width: int | None
    height: int | None
    blurhash: str | None
    like_count: int
    storage_path: str
    upload_status: str
    is_flagged: bool
    reporters: frozenset[uuid.UUID] = field(default_factory=frozenset)
    likers: frozenset[uuid.UUID] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Viewer:
    user_id: uuid.UUID
    member: bool


@dataclass(frozen=True)
class Out:
    """A message for one subscriber; `end` closes the stream after it."""

    kind: str
    data: dict[str, Any]
    end: bool = False


def sees_event(viewer: Viewer, event: EventState) -> bool:
    """The events policy: not deleted, and the viewer is a member or the creator."""
    return not event.is_deleted and (viewer.member or event.creator_id == viewer.user_id)


def sees_photo(viewer: Viewer, event: EventState, photo: PhotoState) -> bool:
    """In the viewer's feed: the photos policy plus the feed's `upload_status = 'uploaded'`,
    in an event the viewer sees."""
    if not sees_event(viewer, event) or photo.upload_status != "uploaded":
        return False
    if photo.user_id == viewer.user_id:
        return True
    return (
        not photo.is_flagged
        and event.revealed
        and viewer.member
        and viewer.user_id not in photo.reporters
    )


def photo_row(photo: PhotoState, viewer: Viewer) -> dict[str, Any]:
    """The row the feed's item is made from (momento.photos.feed.feed_item)."""
    return {
        "id": photo.id,
        "user_id": photo.user_id,
        "username": photo.username,
        "captured_at": photo.captured_at,
        "width": photo.width,
        "height": photo.height,
        "blurhash": photo.blurhash,
        "like_count": photo.like_count,
        "liked_by_me": viewer.user_id in photo.likers,
        "storage_path": photo.storage_path,
    }


def event_data(event: EventState) -> dict[str, Any]:
    return {
        "id": event.id,
        "name": event.name,
        "starts_at": event.starts_at,
        "release_at": event.release_at,
        "revealed": event.revealed,
    }


def decide(
    change: Change,
    viewer: Viewer,
    event: EventState | None,
    photo: PhotoState | None = None,
    username: str | None = None,
) -> Out | None:
    """What `viewer` receives of `change`, given the states read after it (None: nothing).

    Photo messages carry `photo` as a feed row (`photo_row`): the caller turns it into the
    feed item with URLs signed for the recipient."""
    if change.kind == "event_deleted" or event is None or event.is_deleted:
        # A deleted event (or one gone altogether) ends every stream on it: its members'.
        if not viewer.member and (event is None or event.creator_id != viewer.user_id):
            return None
        return Out("event_deleted", {"event_id": change.event_id, "reason": EVENT_DELETED}, True)
    if change.kind == "member_left" and change.user_id == viewer.user_id:
        reason = LEFT if change.actor_id in (None, viewer.user_id) else REMOVED
        return Out("end", {"reason": reason}, True)
    if not sees_event(viewer, event):
        return None
    totals = {"photo_count": event.photo_count}
    if change.kind == "member_joined":
        return Out("member_joined", {"user_id": change.user_id, "username": username})
    if change.kind == "member_left":
        return Out("member_left", {"user_id": change.user_id})
    if change.kind == "event_updated":
        return Out("event_updated", {"event": event_data(event)})
    if change.kind == "photo_added":
        if photo is not None and sees_photo(viewer, event, photo):
            return Out("photo_added", {**totals, "photo": photo_row(photo, viewer)})
        return Out("photo_added", totals)
    if change.kind == "photo_removed":
        # The id only to whom the photo was in the feed and now is not: its owner, or (once
        # revealed) the members; before the reveal the others learn the new total only.
        still = photo is not None and sees_photo(viewer, event, photo)
        had = change.user_id == viewer.user_id or (
            event.revealed
            and viewer.member
            and change.reason != "deleted_hidden"
            and viewer.user_id not in (photo.reporters if photo else change.reporters or ())
        )
        if had and not still:
            return Out("photo_removed", {**totals, "photo_id": change.photo_id})
        return Out("photo_removed", totals)
    if change.kind == "like_count":
        if photo is not None and sees_photo(viewer, event, photo):
            return Out("like_count", {"photo_id": photo.id, "like_count": photo.like_count})
        return None
    if change.kind == "revealed":
        return Out("revealed", {"event_id": event.id, "release_at": event.release_at})
    return None
