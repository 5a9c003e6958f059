"""What every storage backend offers, and the rules for keys, types and file names.

Keys are relative, `/`-separated names such as `events/<event_id>/<photo_id>/original`. They
are checked by `validate_key` before any backend sees them, so the same key is valid (or not)
everywhere and no key can name a place outside the storage root.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import quote

MAX_KEY_LENGTH = 1024  # S3's limit, in bytes (keys are ASCII here)
MAX_SEGMENT_LENGTH = 255  # NAME_MAX on common file systems
MAX_EXPIRES_IN = 7 * 24 * 3600  # SigV4 presigned URLs live at most 7 days

# A segment: safe characters only, and never starting with a dot. That rules out `.` and `..`
# and keeps hidden names free for the local backend's own temporary and metadata files.
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
_MIME_PART = r"[A-Za-z0-9!#$&^_.+-]+"
_CONTENT_TYPE = re.compile(
    rf"{_MIME_PART}/{_MIME_PART}(?:; ?{_MIME_PART}=(?:{_MIME_PART}|\"[^\"\\\x00-\x1f]*\"))*"
)


class StorageError(Exception):
    """The storage backend could not do what was asked."""


class StorageNotFound(StorageError, KeyError):
    """No object is stored under the key."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "not found"


class InvalidKey(StorageError, ValueError):
    """The key (or prefix, content type, file name) breaks the naming rules."""


class UnsafePath(StorageError):
    """The location is unusable: a symbolic link or a file/folder clash inside the root."""


class StorageFull(StorageError):
    """The backend has no room for the write (a full disk, a quota): a 507 to the client."""


class StorageDown(StorageError):
    """The backend cannot be reached or failed the operation (network, timeouts, 5xx, I/O
    errors): a 503 with Retry-After to the client; the same request may work later."""


class StorageMisconfigured(StorageError):
    """S3 answered, and the answer is that the bucket is missing or our credentials are
    refused (or none are found): a configuration mistake that waiting will not fix."""


class TooLarge(StorageError):
    """The object is larger than the reader allows; `size` is its size when known."""

    def __init__(self, message: str, size: int | None = None) -> None:
        super().__init__(message)
        self.size = size


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """One stored object. `content_type` is None in listings (S3 lists don't carry it)."""

    key: str
    size: int
    modified: datetime
    content_type: str | None = None
    etag: str | None = None


@dataclass(frozen=True, slots=True)
class UploadTarget:
    """Where and how a client uploads one object: send `method` to `url` with `headers`.

    `max_bytes` is enforced by the local backend; presigned S3 PUTs cannot enforce a size, so
    whoever completes the upload must `stat` the object and refuse one that is too large.
    """

    url: str
    method: str
    headers: dict[str, str]
    expires_at: datetime
    max_bytes: int | None = None


# What `Storage.health()` reports: the local disk, or S3's bucket check (before the first
# answer, answered and usable, out of reach or failing, or refusing us).
StorageState = Literal["local", "connecting", "ready", "unavailable", "misconfigured"]


class Storage(Protocol):
    """Objects under keys, reached by clients through signed, expiring URLs only.

    Presigning (`signed_get_url`, `signed_put`) is synchronous on purpose: it is pure CPU
    work with no I/O, cheap enough to call for every photo of a feed page.
    """

    default_ttl: int

    async def open(self) -> None:
        """Prepare the backend and check it now (create the root folder; make the client
        and check the bucket), raising what fails: for tools and tests that need it at once."""

    async def start(self) -> None:
        """Prepare the backend without waiting for an outage to end: an S3 that is down or
        hanging is checked again in the background (operations raise `StorageDown` until it
        answers), while a misconfiguration S3 reports at once raises `StorageMisconfigured`."""

    async def close(self) -> None:
        """Release what `open` or `start` acquired (and stop the background check)."""

    def health(self) -> dict[str, str | None]:
        """{"storage": a `StorageState`, "storage_error": why it is not usable, or None};
        never a secret."""

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key`, replacing any object there; readers see old or new."""

    async def stat(self, key: str) -> ObjectInfo | None:
        """Size, type and modification time of the object, or None when there is none."""

    async def read(self, key: str, max_bytes: int | None = None) -> bytes:
        """The whole object; raises `StorageNotFound` when there is none, and `TooLarge`
        (having read at most `max_bytes` + 1 bytes) when it holds more than `max_bytes`."""

    def stream(self, key: str) -> AsyncIterator[bytes]:
        """The object's bytes in chunks as they are read, so memory stays flat in its size
        (a ZIP of an event's originals); raises `StorageNotFound` when there is none and
        `StorageDown` when fewer bytes came than the object holds."""

    def local_file(self, key: str) -> AbstractAsyncContextManager[Path]:
        """A local file holding the object for the duration of the `async with` block.

        The local backend yields the stored file itself (read it, never write it); others
        download it to a temporary file that is removed afterwards.
        """

    async def delete(self, key: str) -> None:
        """Remove the object; a missing object is not an error."""

    async def delete_prefix(self, prefix: str) -> int:
        """Remove every object whose key starts with `prefix` (which must end with `/`)."""

    def list(self, prefix: str) -> AsyncIterator[ObjectInfo]:
        """Every object whose key starts with `prefix`, in key order."""

    def signed_get_url(
        self,
        key: str,
        expires_in: int | None = None,
        *,
        expires_at: int | None = None,
        filename: str | None = None,
    ) -> str:
        """A URL that reads the object for `expires_in` seconds (default: `default_ttl`).

        With `expires_at` (epoch seconds) instead, the URL expires then and is the same on
        every call with the same arguments, so a page of URLs can be cached. `filename`
        makes the response a download under that name.
        """

    def signed_put(
        self,
        key: str,
        content_type: str,
        *,
        max_bytes: int | None = None,
        expires_in: int | None = None,
    ) -> UploadTarget:
        """A target a client can upload one object of type `content_type` to."""


def validate_key(key: str) -> str:
    """Return `key` unchanged if it is a valid object key, else raise `InvalidKey`."""
    if not isinstance(key, str) or not key:
        raise InvalidKey("the key is empty")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(f"the key is longer than {MAX_KEY_LENGTH} characters")
    for segment in key.split("/"):
        if not segment:
            raise InvalidKey("the key has an empty segment (leading, trailing or double '/')")
        if len(segment) > MAX_SEGMENT_LENGTH:
            raise InvalidKey(f"a key segment is longer than {MAX_SEGMENT_LENGTH} characters")
        if not _SEGMENT.fullmatch(segment):
            raise InvalidKey("key segments use only A-Z a-z 0-9 . _ - and do not start with '.'")
    return key


def validate_prefix(prefix: str, *, allow_empty: bool = True) -> str:
    """A listing prefix: '' (everything), or a key, optionally ending with '/'."""
    if prefix == "":
        if not allow_empty:
            raise InvalidKey("the prefix is empty")
        return prefix
    validate_key(prefix.removesuffix("/"))
    return prefix


def validate_delete_prefix(prefix: str) -> str:
    """What `delete_prefix` takes: a key ending with '/', never '' (which would be all)."""
    validate_prefix(prefix, allow_empty=False)
    if not prefix.endswith("/"):
        raise StorageError("delete_prefix needs a prefix ending with '/'")
    return prefix


def validate_content_type(content_type: str) -> str:
    """A plain `type/subtype[; param=value]` media type, with no room for header injection."""
    if (
        not isinstance(content_type, str)
        or len(content_type) > 255
        or not _CONTENT_TYPE.fullmatch(content_type)
    ):
        raise InvalidKey("the content type must look like type/subtype")
    return content_type


def validate_expires_in(expires_in: int) -> int:
    if not 1 <= expires_in <= MAX_EXPIRES_IN:
        raise InvalidKey(f"expires_in must be between 1 and {MAX_EXPIRES_IN} seconds")
    return expires_in


def lifetime(expires_in: int | None, default_ttl: int) -> int:
    """How many seconds a signed URL lives: `expires_in`, or `default_ttl` when it is None,
    checked by `validate_expires_in`."""
    return validate_expires_in(default_ttl if expires_in is None else expires_in)


def expiry(now: int, default_ttl: int, expires_in: int | None, expires_at: int | None) -> int:
    """When a signed GET URL expires (epoch seconds): `expires_at` when given, else `now` plus
    its `lifetime`; either way between 1 second and `MAX_EXPIRES_IN` from `now`."""
    if expires_at is None:
        return now + lifetime(expires_in, default_ttl)
    validate_expires_in(expires_at - now)
    return expires_at


def put_target(url: str, content_type: str, expires: int, max_bytes: int | None) -> UploadTarget:
    """The upload of one object of type `content_type`: a PUT to `url` until `expires`."""
    return UploadTarget(
        url=url,
        method="PUT",
        headers={"Content-Type": content_type},
        expires_at=datetime.fromtimestamp(expires, tz=UTC),
        max_bytes=max_bytes,
    )


def clean_filename(filename: str) -> str:
    """A download name without separators, quotes or control characters."""
    cleaned = re.sub(r"[\x00-\x1f\x7f\"\\/]", "_", filename).strip().strip(".")
    if not cleaned:
        raise InvalidKey("the file name is empty")
    return cleaned[:255]


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the exact UTF-8 one (RFC 6266)."""
    name = clean_filename(filename)
    ascii_name = name.encode("ascii", "replace").decode("ascii").replace("?", "_")
    if ascii_name == name:
        return f'attachment; filename="{name}"'
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


class NoStorage:
    """A placeholder for services built without storage (tools, tests): every use fails."""

    default_ttl = 3600

    def _fail(self) -> StorageError:
        return StorageError("no storage is configured for these services")

    async def open(self) -> None:
        return None

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def health(self) -> dict[str, str | None]:
        return {"storage": "unavailable", "storage_error": "no storage is configured"}

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        raise self._fail()

    async def stat(self, key: str) -> ObjectInfo | None:
        raise self._fail()

    async def read(self, key: str, max_bytes: int | None = None) -> bytes:
        raise self._fail()

    def stream(self, key: str) -> AsyncIterator[bytes]:
        raise self._fail()

    def local_file(self, key: str) -> AbstractAsyncContextManager[Path]:
        raise self._fail()

    async def delete(self, key: str) -> None:
        raise self._fail()

    async def delete_prefix(self, prefix: str) -> int:
        raise self._fail()

    def list(self, prefix: str) -> AsyncIterator[ObjectInfo]:
        raise self._fail()

    def signed_get_url(
        self,
        key: str,
        expires_in: int | None = None,
        *,
        expires_at: int | None = None,
        filename: str | None = None,
    ) -> str:
        raise self._fail()

    def signed_put(
        self,
        key: str,
        content_type: str,
        *,
        max_bytes: int | None = None,
        expires_in: int | None = None,
    ) -> UploadTarget:
        raise self._fail()
