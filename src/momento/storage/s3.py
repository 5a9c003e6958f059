"""Objects in an S3-compatible bucket (AWS S3, MinIO, Garage, R2, ...).

`STORAGE_URL=s3://bucket[/key/prefix]?endpoint=http://127.0.0.1:9000&region=us-east-1`.
Credentials come from the standard AWS chain (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`,
profiles, instance roles), never from the URL. With an `endpoint`, requests use path-style
addressing, which every S3 clone understands.

Object I/O goes through one aiobotocore client made at `open`. Presigned URLs are made by a
synchronous botocore client created once at `open` too: signing is pure CPU (SigV4 over the
method, path, signed headers and expiry), with no network call while credentials are static.
Presigned PUTs sign the Content-Type header, so S3 refuses an upload of another type; they
cannot cap the size, so whoever completes an upload checks it with `stat`.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import functools
import os
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

import botocore.session
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session
from botocore.config import Config
from botocore.exceptions import ClientError

from momento import logs
from momento.storage.base import (
    ObjectInfo,
    StorageError,
    StorageNotFound,
    UploadTarget,
    clean_filename,
    content_disposition,
    validate_content_type,
    validate_expires_in,
    validate_key,
    validate_prefix,
)

if TYPE_CHECKING:
    from types_aiobotocore_s3.client import S3Client

log = logs.get("momento.storage.s3")

DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys
_MISSING = {"404", "NoSuchKey", "NotFound"}


class _Presigner(Protocol):
    def generate_presigned_url(
        self,
        ClientMethod: str,
        Params: Mapping[str, Any] | None = None,
        ExpiresIn: int = 3600,
        HttpMethod: str | None = None,
    ) -> str: ...

    def close(self) -> None: ...


@functools.cache
def _sync_session() -> botocore.session.Session:
    # One session per process: it caches the (large) S3 service model between clients.
    return botocore.session.get_session()


@functools.cache
def _async_session() -> AioSession:
    return get_session()


def _missing(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return str(error.get("Code")) in _MISSING or status == 404


class S3Storage:
    """A bucket, optionally under a key prefix that every key is placed below."""

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        default_ttl: int = 3600,
    ) -> None:
        if prefix:
            validate_key(prefix.strip("/"))
            prefix = prefix.strip("/") + "/"
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint_url = endpoint_url
        self.region = region
        self.default_ttl = validate_expires_in(default_ttl)
        self._credentials = (access_key, secret_key)
        self._stack: AsyncExitStack | None = None
        self._client: S3Client | None = None
        self._presigner: _Presigner | None = None

    def __repr__(self) -> str:
        return f"S3Storage(bucket={self.bucket!r}, prefix={self.prefix!r})"

    # --- lifecycle --------------------------------------------------------------------

    def _client_args(self) -> dict[str, Any]:
        access_key, secret_key = self._credentials
        args: dict[str, Any] = {"region_name": self.region or "us-east-1"}
        if self.endpoint_url:
            args["endpoint_url"] = self.endpoint_url
        if access_key and secret_key:
            args["aws_access_key_id"] = access_key
            args["aws_secret_access_key"] = secret_key
        return args

    def _config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "signature_version": "s3v4",
            "retries": {"max_attempts": 3, "mode": "standard"},
        }
        if self.endpoint_url:
            config["s3"] = {"addressing_style": "path"}
        return config

    def _make_presigner(self) -> _Presigner:
        client = _sync_session().create_client("s3", config=Config(**self._config()), **self._client_args())
        return cast(_Presigner, client)

    async def open(self) -> None:
        if self._client is not None:
            return
        stack = AsyncExitStack()
        try:
            creator = _async_session().create_client(
                "s3",
                config=AioConfig(**self._config(), max_pool_connections=32),
                **self._client_args(),
            )
            self._client = await stack.enter_async_context(creator)
            # Creating a client may read credential files or ask an instance-metadata service.
            self._presigner = await asyncio.to_thread(self._make_presigner)
            try:
                await self._client.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                raise StorageError(f"S3 bucket {self.bucket!r} is not usable ({code})") from None
        except BaseException:
            self._client = None
            await stack.aclose()
            raise
        self._stack = stack
        log.info(
            "s3 storage ready", bucket=self.bucket, prefix=self.prefix, endpoint=self.endpoint_url
        )

    async def close(self) -> None:
        if self._presigner is not None:
            self._presigner.close()
            self._presigner = None
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None
        self._client = None

    @property
    def client(self) -> S3Client:
        if self._client is None:
            raise RuntimeError("S3Storage.open() has not been called")
        return self._client

    def _key(self, key: str) -> str:
        return self.prefix + validate_key(key)

    # --- objects ----------------------------------------------------------------------

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await self.client.put_object(
            Bucket=self.bucket,
            Key=self._key(key),
            Body=data,
            ContentType=validate_content_type(content_type),
        )

    async def stat(self, key: str) -> ObjectInfo | None:
        try:
            head = await self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
        return ObjectInfo(
            key=key,
            size=head["ContentLength"],
            modified=head["LastModified"],
            content_type=head.get("ContentType"),
            etag=head.get("ETag"),
        )

    async def read(self, key: str) -> bytes:
        try:
            response = await self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _missing(exc):
                raise StorageNotFound(key) from None
            raise
        async with response["Body"] as body:
            return await body.read()

    @contextlib.asynccontextmanager
    async def local_file(self, key: str) -> AsyncIterator[Path]:
        try:
            response = await self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _missing(exc):
                raise StorageNotFound(key) from None
            raise
        fd, name = await asyncio.to_thread(tempfile.mkstemp, prefix="momento-", suffix=".obj")
        path = Path(name)
        try:
            async with response["Body"] as body:
                while chunk := await body.read(1024 * 1024):
                    await asyncio.to_thread(os.write, fd, chunk)
            await asyncio.to_thread(os.close, fd)
            fd = -1
            yield path
        finally:
            if fd >= 0:
                os.close(fd)
            await asyncio.to_thread(path.unlink, missing_ok=True)

    async def delete(self, key: str) -> None:
        await self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    async def delete_prefix(self, prefix: str) -> int:
        validate_prefix(prefix, allow_empty=False)
        if not prefix.endswith("/"):
            raise StorageError("delete_prefix needs a prefix ending with '/'")
        count = 0
        batch: list[str] = []
        async for info in self.list(prefix):
            batch.append(self.prefix + info.key)
            if len(batch) == DELETE_BATCH:
                count += await self._delete_batch(batch)
                batch = []
        if batch:
            count += await self._delete_batch(batch)
        return count

    async def _delete_batch(self, keys: builtins.list[str]) -> int:
        response = await self.client.delete_objects(
            Bucket=self.bucket,
            Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True},
        )
        errors = response.get("Errors", [])
        if errors:
            first = errors[0]
            raise StorageError(
                f"S3 kept {len(errors)} of {len(keys)} objects "
                f"(first: {first.get('Key')}: {first.get('Code')})"
            )
        return len(keys)

    async def list(self, prefix: str) -> AsyncIterator[ObjectInfo]:
        validate_prefix(prefix)
        paginator = self.client.get_paginator("list_objects_v2")
        strip = len(self.prefix)
        async for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            for obj in page.get("Contents", []):
                yield ObjectInfo(
                    key=obj["Key"][strip:],
                    size=obj["Size"],
                    modified=obj["LastModified"],
                    content_type=None,
                    etag=obj.get("ETag"),
                )

    # --- signed URLs --------------------------------------------------------------------

    @property
    def presigner(self) -> _Presigner:
        if self._presigner is None:
            raise RuntimeError("S3Storage.open() has not been called")
        return self._presigner

    def signed_get_url(
        self, key: str, expires_in: int | None = None, *, filename: str | None = None
    ) -> str:
        ttl = validate_expires_in(self.default_ttl if expires_in is None else expires_in)
        params = {
            "Bucket": self.bucket,
            "Key": self._key(key),
            "ResponseCacheControl": f"private, max-age={ttl}",
        }
        if filename:
            params["ResponseContentDisposition"] = content_disposition(clean_filename(filename))
        return self.presigner.generate_presigned_url("get_object", Params=params, ExpiresIn=ttl)

    def signed_put(
        self,
        key: str,
        content_type: str,
        *,
        max_bytes: int | None = None,
        expires_in: int | None = None,
    ) -> UploadTarget:
        ttl = validate_expires_in(self.default_ttl if expires_in is None else expires_in)
        params = {
            "Bucket": self.bucket,
            "Key": self._key(key),
            "ContentType": validate_content_type(content_type),
        }
        expires_at = datetime.fromtimestamp(int(time.time()) + ttl, tz=UTC)
        url = self.presigner.generate_presigned_url("put_object", Params=params, ExpiresIn=ttl)
        return UploadTarget(
            url=url,
            method="PUT",
            headers={"Content-Type": content_type},
            expires_at=expires_at,
            max_bytes=max_bytes,
        )
