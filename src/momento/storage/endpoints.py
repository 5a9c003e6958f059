"""`GET`/`HEAD`/`PUT /files/<key>`: the local backend's signed URLs, served.

A request is answered only when its signature (HMAC-SHA256, compared in constant time) covers
the method, the path, the expiry and the extras (download name; content type and size cap
for PUT) and the expiry has not passed. Keys are validated before anything touches the disk.
GET supports one byte range, conditional requests (`If-None-Match`, `If-Range`) and caching
until the URL expires; PUT streams the body to a temporary file under its signed size cap and
renames it into place. When the server stores objects in S3, these routes answer 404.

A full disk answers a PUT with 507 `insufficient_storage`, a failing one (I/O errors, a
read-only file system, a storage root that is gone or is a file) any request with 503
`storage_unavailable` (the backend raises StorageFull/StorageDown, which the app's fault
handler answers, `momento.app.dependency_fault`); both carry Retry-After, and the stored
file is left as it was.
"""

from __future__ import annotations

import asyncio
import os
import re
from email.utils import formatdate
from typing import Annotated, ClassVar

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import QueryParams
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from momento import logs
from momento.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    MomentoError,
    NotFound,
    PayloadTooLarge,
)
from momento.kit.schemas import problems
from momento.storage.base import (
    InvalidKey,
    StorageNotFound,
    TooLarge,
    UnsafePath,
    content_disposition,
    validate_key,
)
from momento.storage.local import LocalDiskStorage, OpenFile
from momento.web.http import etag_matches

log = logs.get("momento.storage.files")

router = APIRouter(tags=["files"], include_in_schema=False)

CHUNK = 256 * 1024
NO_STORE = {"Cache-Control": "no-store"}
_DIGITS = re.compile(r"[0-9]{1,15}")
_HEX_SIG = re.compile(r"[0-9a-f]{64}")


# --- errors ------------------------------------------------------------------------------


class FilesError(MomentoError):
    """A signed file URL was refused."""

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None):
        super().__init__(detail, headers={**NO_STORE, **(headers or {})})


class SignatureInvalid(FilesError, Forbidden):
    """The URL's signature is missing or does not match; ask the API for a new URL."""

    code = "signature_invalid"


class UrlExpired(FilesError, Forbidden):
    """The URL has expired; ask the API for a new one."""

    code = "url_expired"


class InvalidFileKey(FilesError, BadRequest):
    """The file path is not a valid object key."""

    code = "invalid_key"


class ContentTypeMismatch(FilesError, BadRequest):
    """The Content-Type header differs from the one the upload URL was signed for."""

    code = "content_type_mismatch"


class FileNotFound(FilesError, NotFound):
    """No file is stored here."""

    code = "not_found"


class KeyConflict(FilesError, Conflict):
    """Something other than a file is stored where this upload would go."""

    code = "key_conflict"


class FileTooLarge(FilesError, PayloadTooLarge):
    """The upload is larger than its URL allows."""

    code = "file_too_large"


class RangeNotSatisfiable(FilesError):
    """The requested byte range lies outside the file."""

    status: ClassVar[int] = 416
    code: ClassVar[str] = "range_not_satisfiable"
    title: ClassVar[str] = "Range Not Satisfiable"


# --- plumbing ----------------------------------------------------------------------------


def _refuse_deleted(request: Request, method: str, key: str) -> None:
    """A signed URL of a deleted photo or event is refused at once (its files may wait for
    the purge): `momento.storage.deletions`, an in-memory check."""
    deleted = getattr(request.app.state.services, "deleted_files", None)
    if deleted is not None and deleted.denies(key):
        log.info("file request refused", reason="deleted", method=method, key=key)
        raise FileNotFound()


def get_local_storage(request: Request) -> LocalDiskStorage:
    storage = getattr(request.app.state.services, "storage", None)
    if not isinstance(storage, LocalDiskStorage):
        raise FileNotFound()
    return storage


LocalStorageDep = Annotated[LocalDiskStorage, Depends(get_local_storage)]


def _checked_key(key: str) -> str:
    try:
        return validate_key(key)
    except InvalidKey as exc:
        log.info("file request refused", reason="invalid_key")
        raise InvalidFileKey(f"The file path is not a valid object key: {exc}.") from None


def _signed_int(query: QueryParams, name: str) -> int:
    value = query.get(name, "")
    if not _DIGITS.fullmatch(value):
        raise SignatureInvalid()
    return int(value)


def _verify(
    storage: LocalDiskStorage, query: QueryParams, method: str, key: str, *extra: str
) -> int:
    """Check signature then expiry; returns the expiry (epoch seconds)."""
    expires = _signed_int(query, "expires")
    sig = query.get("sig", "")
    if not _HEX_SIG.fullmatch(sig) or not storage.signer.verify(sig, method, key, expires, *extra):
        log.info("file request refused", reason="signature_invalid", method=method, key=key)
        raise SignatureInvalid()
    if storage.clock() > expires:
        log.info("file request refused", reason="url_expired", method=method, key=key)
        raise UrlExpired()
    return expires


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The single byte range asked for, as (first, last) inclusive; None to send it all.

    Malformed headers and multi-range requests are ignored (RFC 9110 allows that);
    a well-formed range outside the file raises `RangeNotSatisfiable`.
    """
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first_s, dash, last_s = spec.strip().partition("-")
    if not dash or (first_s and not first_s.isdigit()) or (last_s and not last_s.isdigit()):
        return None
    unsatisfiable = RangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
    if not first_s:  # suffix: the last N bytes
        if not last_s:
            return None
        suffix = int(last_s)
        if suffix == 0 or size == 0:
            raise unsatisfiable
        return max(0, size - suffix), size - 1
    first = int(first_s)
    if last_s and int(last_s) < first:
        return None
    if first >= size:
        raise unsatisfiable
    return first, min(int(last_s), size - 1) if last_s else size - 1


class OpenFileResponse(Response):
    """Streams `length` bytes from an open file from `offset`, closing it in any case."""

    def __init__(
        self,
        opened: OpenFile,
        offset: int,
        length: int,
        status_code: int,
        headers: dict[str, str],
        *,
        send_body: bool,
    ) -> None:
        super().__init__(
            status_code=status_code,
            headers={**headers, "Content-Length": str(length)},
            media_type=opened.content_type,
        )
        self.opened = opened
        self.offset = offset
        self.length = length
        self.send_body = send_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            if self.send_body:
                position, remaining = self.offset, self.length
                while remaining > 0:
                    chunk = await asyncio.to_thread(
                        os.pread, self.opened.fd, min(CHUNK, remaining), position
                    )
                    if not chunk:
                        break
                    position += len(chunk)
                    remaining -= len(chunk)
                    await send(
                        {"type": "http.response.body", "body": chunk, "more_body": remaining > 0}
                    )
                if remaining > 0 or self.length == 0:
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
            else:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self.opened.close()


# --- routes ------------------------------------------------------------------------------


# What the routes answer (the check in tests holds them to it; the routes are served to
# whoever holds a signed URL and are left out of the API's documentation).
_SIGNED = (InvalidFileKey, SignatureInvalid, UrlExpired, FileNotFound)


@router.api_route(
    "/files/{key:path}",
    methods=["GET", "HEAD"],
    responses=problems(*_SIGNED, RangeNotSatisfiable),
)
async def get_file(key: str, request: Request, storage: LocalStorageDep) -> Response:
    """Serve a stored file to whoever holds a valid signed URL."""
    key = _checked_key(key)
    filename = request.query_params.get("filename", "")
    expires = _verify(storage, request.query_params, "GET", key, filename)
    _refuse_deleted(request, "GET", key)
    try:
        opened = await storage.open_file(key)
    except StorageNotFound:
        raise FileNotFound() from None
    except UnsafePath:
        log.warning("file request refused: symbolic link in the storage root", key=key)
        raise FileNotFound() from None
    try:
        headers = {
            "ETag": opened.etag,
            "Last-Modified": formatdate(opened.modified.timestamp(), usegmt=True),
            "Accept-Ranges": "bytes",
            "Cache-Control": f"private, max-age={max(0, expires - int(storage.clock()))}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        }
        if filename:
            try:
                headers["Content-Disposition"] = content_disposition(filename)
            except InvalidKey:
                pass
        if etag_matches(request.headers.get("if-none-match"), opened.etag):
            opened.close()
            return Response(status_code=304, headers=headers)
        offset, length, status = 0, opened.size, 200
        range_header = request.headers.get("range")
        if_range = request.headers.get("if-range")
        if (
            request.method == "GET"
            and range_header
            and (if_range is None or if_range.strip() == opened.etag)
        ):
            span = parse_range(range_header, opened.size)
            if span is not None:
                offset, length, status = span[0], span[1] - span[0] + 1, 206
                headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{opened.size}"
        return OpenFileResponse(
            opened, offset, length, status, headers, send_body=request.method == "GET"
        )
    except BaseException:
        opened.close()
        raise


@router.put(
    "/files/{key:path}",
    responses=problems(*_SIGNED, ContentTypeMismatch, FileTooLarge, KeyConflict),
)
async def put_file(key: str, request: Request, storage: LocalStorageDep) -> Response:
    """Store the request body under a signed upload URL (replacing any earlier upload)."""
    key = _checked_key(key)
    query = request.query_params
    content_type = query.get("type", "")
    max_bytes = _signed_int(query, "max")
    _verify(storage, query, "PUT", key, content_type, str(max_bytes))
    _refuse_deleted(request, "PUT", key)
    if request.headers.get("content-type", "").strip() != content_type:
        log.info("file upload refused", reason="content_type_mismatch", key=key)
        raise ContentTypeMismatch(f"Send Content-Type: {content_type}.")
    too_large = FileTooLarge(f"The upload must not exceed {max_bytes} bytes.")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        log.info("file upload refused", reason="too_large", key=key)
        raise too_large
    try:
        size = await storage.receive(key, content_type, request.stream(), max_bytes)
    except TooLarge:
        log.info("file upload refused", reason="too_large", key=key)
        raise too_large from None
    except UnsafePath as exc:
        log.warning("file upload refused", reason="key_conflict", key=key, problem=str(exc))
        raise KeyConflict() from None
    log.info("file uploaded", key=key, size=size)
    return Response(status_code=200, headers=NO_STORE)
