"""What a photo's original is called when it leaves the server: `<username>-<captured_at>.<ext>`,
with the extension of what is stored (an iPhone's HEIC stays `.heic`; display and thumbnail
variants are always JPEG). Used for single downloads and for the event's ZIP."""

from __future__ import annotations

from datetime import UTC, datetime

# The original's stored type (photo_media.content_type, sniffed at completion) → extension.
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/heic": "heic",
    "image/heif": "heif",
    "image/png": "png",
    "image/webp": "webp",
}


def extension(content_type: str | None) -> str:
    return EXTENSIONS.get((content_type or "").lower(), "jpg")


def original_filename(username: str, captured_at: datetime, content_type: str | None) -> str:
    """`ana-20261208T011700Z.heic`: the owner, the capture time in UTC, the stored type."""
    stamp = captured_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{username}-{stamp}.{extension(content_type)}"
