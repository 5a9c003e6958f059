"""Where photos live: one interface, two backends chosen by `STORAGE_URL`.

- unset or `file:///absolute/path`: `LocalDiskStorage`, files under `<data dir>/files` (or the
  path), served by this server at `/files/<key>` through HMAC-signed, expiring URLs;
- `s3://bucket[/prefix]?endpoint=http://host:9000&region=us-east-1`: `S3Storage`, reached
  through presigned URLs.

Clients only ever get signed, expiring URLs: `signed_get_url` to read, `signed_put` to upload.
"""

from __future__ import annotations

from pathlib import Path

from momento.storage.base import (
    InvalidKey,
    NoStorage,
    ObjectInfo,
    Storage,
    StorageDown,
    StorageError,
    StorageFull,
    StorageMisconfigured,
    StorageNotFound,
    StorageState,
    TooLarge,
    UnsafePath,
    UploadTarget,
    validate_content_type,
    validate_key,
    validate_prefix,
)
from momento.storage.local import FileUrlSigner, LocalDiskStorage
from momento.storage.url import parse as parse_url

__all__ = [
    "FileUrlSigner",
    "InvalidKey",
    "LocalDiskStorage",
    "NoStorage",
    "ObjectInfo",
    "Storage",
    "StorageDown",
    "StorageError",
    "StorageFull",
    "StorageMisconfigured",
    "StorageNotFound",
    "StorageState",
    "TooLarge",
    "UnsafePath",
    "UploadTarget",
    "from_url",
    "parse_url",
    "validate_content_type",
    "validate_key",
    "validate_prefix",
]


def from_url(
    storage_url: str | None,
    data_dir: Path,
    secret: bytes | None,
    public_base_url: str,
    *,
    default_ttl: int = 3600,
    access_key: str | None = None,
    secret_key: str | None = None,
) -> Storage:
    """The backend `storage_url` names (not yet opened: `await storage.start()` in a server,
    `await storage.open()` to check it at once).

    `secret` signs local file URLs and is required for the local backend; `public_base_url`
    is where this server is reached (local URLs are `<public_base_url>/files/<key>?...`).
    S3 uses `access_key`/`secret_key` when both are given, else the AWS credential chain.
    Raises ValueError for an unusable URL.
    """
    where = parse_url(storage_url)
    if where.kind == "file":
        if secret is None:
            raise ValueError("the local storage backend needs a signing secret")
        root = where.path or Path(data_dir) / "files"
        return LocalDiskStorage(
            root, FileUrlSigner(secret, public_base_url), default_ttl=default_ttl
        )
    from momento.storage.s3 import S3Storage  # imports botocore: only when S3 is used

    return S3Storage(
        where.bucket,
        prefix=where.prefix,
        endpoint_url=where.endpoint,
        region=where.region,
        default_ttl=default_ttl,
        access_key=access_key,
        secret_key=secret_key,
    )
