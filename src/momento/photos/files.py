"""What a photo's original is called when it leaves the server: `<username>-<captured_at>.<ext>`,
with the extension of what is stored (an iPhone's HEIC stays `.heic`; display and thumbnail
variants are always JPEG). Used for single downloads and for the event's ZIP."""

from __future__ import annotations

import mimetypes
from datetime import UTC, datetime

# The original's stored type (photo_media.content_type, sniffed at completion) → extension.
_EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/heic": "heic",
    "image/heif": "heif",
    "image/png": "png",
    "image/webp": "webp",
    "image/avif": "avif",
    "image/gif": "gif",
}


def extension(content_type: str | None) -> str:
    """The file extension of an original's type (`jpg` when unknown)."""
    if not content_type:
        return "jpg"
    known = _EXTENSIONS.get(content_type.lower())
    if known:
        return known
    guessed = mimetypes.guess_extension(content_type)
    return guessed.lstrip(".") if guessed else "jpg"


def original_filename(username: str, captured_at: datetime, content_type: str | None) -> str:
    """`<username>-<captured_at>.<ext>`, the time in UTC as 20260508-183012."""
    stamp = captured_at.astimezone(UTC).strftime("%Y%m%d-%H%M%S")
    # Usernames are [a-z0-9_.] already; keep any path separator out regardless.
    safe = username.replace("/", "_").replace("\\", "_") or "photo"
    return f"{safe}-{stamp}.{extension(content_type)}"
