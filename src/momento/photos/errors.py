"""Errors of the photo routes."""

from __future__ import annotations

from momento.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ValidationFailed,
)


class PhotoNotFound(NotFound):
    """No such photo, or you cannot see it."""

    code = "photo_not_found"


class PhotoIdTaken(Conflict):
    """That photo id is already used by another photo."""

    code = "photo_id_taken"


class UnsupportedType(ValidationFailed):
    """Photos must be JPEG, HEIC/HEIF, PNG or WebP."""

    code = "unsupported_type"


class UploadTooLarge(PayloadTooLarge):
    """The photo is larger than the upload limit."""

    code = "too_large"


class OutsideCaptureWindow(ValidationFailed):
    """The photo was not taken between the event's start and its reveal."""

    code = "outside_capture_window"


class UploadsClosed(Conflict):
    """The event no longer accepts uploads."""

    code = "uploads_closed"


class PhotoLimitReached(Conflict):
    """You have reached the photo limit for this event."""

    code = "photo_limit_reached"


class UploadMissing(Conflict):
    """The photo's bytes have not been uploaded yet."""

    code = "upload_missing"


class NotPending(Conflict):
    """The photo is not waiting for its upload."""

    code = "not_pending"


class NotFailed(Conflict):
    """Only a failed upload can be retried; this photo is already uploaded."""

    code = "not_failed"


class InvalidCursor(BadRequest):
    """The cursor is not one this server gave out."""

    code = "invalid_cursor"


class PhotoRejected(ValidationFailed):
    """The uploaded file was refused."""

    code = "photo_rejected"

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail, extra={"reason": code})
        self.reason = code


class NotRevealedYet(Conflict):
    """The event's photos are not revealed yet; the archive is ready at release_at."""

    code = "not_revealed"


class PremiumRequired(Forbidden):
    """Downloading an event's photos as one archive is a premium feature on this server."""

    code = "premium_required"
