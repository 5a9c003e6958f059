"""Where photos live: one interface, two backends chosen by `STORAGE_URL`.

- unset or `file:///absolute/path`: `LocalDiskStorage`, files under `<data dir>/files` (or the
  path), served by this server at `/files/<key>` through HMAC-signed, expiring URLs;
- `s3://bucket[/prefix]?endpoint=http://host:9000&region=us-east-1`: `S3Storage`, reached
  through presigned URLs.

Clients only ever get signed, expiring URLs: `signed_get_url` to read, `signed_put` to upload.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from momento.storage.base import (
    InvalidKey,
    ObjectInfo,
    Storage,
    StorageError,
    StorageNotFound,
    TooLarge,
    UnsafePath,
    UploadTarget,
    validate_content_type,
    validate_key,
    validate_prefix,
)
from momento.storage.local import FileUrlSigner, LocalDiskStorage

__all__ = [
    "FileUrlSigner",
    "InvalidKey",
    "LocalDiskStorage",
    "ObjectInfo",
    "Storage",
    "StorageError",
    "StorageNotFound",
    "TooLarge",
    "UnsafePath",
    "UploadTarget",
    "from_url",
    "is_local",
    "validate_content_type",
    "validate_key",
    "validate_prefix",
]


def is_local(storage_url: str | None) -> bool:
    """True when `storage_url` selects the local-disk backend."""
    return not storage_url or urlsplit(storage_url).scheme == "file"


def from_url(
    storage_url: str | None,
    data_dir: Path,
    secret: bytes | None,
    public_base_url: str,
    *,
    default_ttl: int = 3600,
) -> Storage:
    """The backend `storage_url` names (not yet opened: call `await storage.open()`).

    `secret` signs local file URLs and is required for the local backend; `public_base_url`
    is where this server is reached (local URLs are `<public_base_url>/files/<key>?...`).
    """
    if is_local(storage_url):
        if secret is None:
            raise ValueError("the local storage backend needs a signing secret")
        root = Path(data_dir) / "files"
        if storage_url:
            parts = urlsplit(storage_url)
            if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
                raise ValueError("STORAGE_URL: use file:///absolute/path")
            root = Path(unquote(parts.path))
        return LocalDiskStorage(
            root, FileUrlSigner(secret, public_base_url), default_ttl=default_ttl
        )
    assert storage_url is not None
    parts = urlsplit(storage_url)
    if parts.scheme != "s3":
        raise ValueError("STORAGE_URL must be file:///path or s3://bucket?endpoint=...")
    if not parts.hostname:
        raise ValueError("STORAGE_URL: s3:// needs a bucket name, as in s3://photos")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = set(query) - {"endpoint", "region"}
    if unknown:
        raise ValueError(f"STORAGE_URL: unknown parameter(s) {', '.join(sorted(unknown))}")
    from momento.storage.s3 import S3Storage  # imports botocore: only when S3 is used

    return S3Storage(
        parts.netloc,
        prefix=unquote(parts.path).strip("/"),
        endpoint_url=query.get("endpoint"),
        region=query.get("region"),
        default_ttl=default_ttl,
    )
