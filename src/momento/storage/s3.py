"""Objects in an S3-compatible bucket (AWS S3, MinIO, Garage, R2, ...).

`STORAGE_URL=s3://bucket[/key/prefix]?endpoint=http://127.0.0.1:9000&region=us-east-1`.
Credentials come from the standard AWS chain (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`,
profiles, instance roles), never from the URL. With an `endpoint`, requests use path-style
addressing, which every S3 clone understands.

Object I/O goes through one aiobotocore client made at `open`. Presigned URLs are signed
locally (`momento.storage.sigv4`): pure CPU, no network, a few microseconds; temporary
credentials are refreshed in the background before they expire. Presigned PUTs sign the
Content-Type header, so S3 refuses an upload of another type; they cannot cap the size, so
whoever completes an upload checks it with `stat`.

Starting never waits out an outage: `start()` makes the client and the presigner (no network
with credentials from the environment or files) and checks the bucket (`head_bucket`) in a
background task, again and again with capped exponential backoff and jitter until it answers.
Until then every object operation raises `StorageDown`, while presigned URLs are made as usual
(they fail at S3 until it is back). A bucket that is missing or credentials that are refused
are a configuration mistake: `start()` raises `StorageMisconfigured` when S3 says so within
`start_wait` seconds, and later answers are logged as errors; `health()` tells which it is.
`open()` is the strict form for tools and tests: one check now, raising what fails.

Faults: every operation raises `StorageDown` (the cause chained) when S3 cannot be reached or
fails it (refused or reset connections, timeouts, 5xx and SlowDown after botocore's own
retries, any other error answer), and `StorageFull` when it says it has no room (MinIO's
XMinioStorageFull, quota errors, HTTP 507). Timeouts are short (connect 5 s, read 30 s) so a
dead endpoint answers within seconds, not botocore's minute.
"""

from __future__ import annotations

import asyncio
import builtins
import collections.abc
import contextlib
import functools
import os
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.credentials import AioRefreshableCredentials
from aiobotocore.session import AioSession, get_session
from botocore.credentials import ReadOnlyCredentials
from botocore.exceptions import (
    ChecksumError,
    ClientError,
    CredentialRetrievalError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.handlers import add_expect_header

from momento import logs
from momento.kit.backoff import doubling, jittered, log_retry
from momento.kit.tasks import cancel_and_wait
from momento.storage.base import (
    MAX_EXPIRES_IN,
    ObjectInfo,
    StorageDown,
    StorageError,
    StorageFull,
    StorageMisconfigured,
    StorageNotFound,
    StorageState,
    TooLarge,
    UploadTarget,
    content_disposition,
    expiry,
    lifetime,
    put_target,
    validate_content_type,
    validate_delete_prefix,
    validate_expires_in,
    validate_key,
    validate_prefix,
)
from momento.storage.local import write_all
from momento.storage.sigv4 import Credentials, Presigner

if TYPE_CHECKING:
    from types_aiobotocore_s3.client import S3Client

log = logs.get("momento.storage.s3")

DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
RETRIES = 3  # after the first attempt, with botocore's jittered exponential backoff
# The background bucket check after `start()`: the waits between failed checks (about base *
# 2**n, jittered), and how long `start()` waits for the first answer, which is what lets a
# missing bucket fail the start while an S3 that hangs delays it by at most this.
CHECK_BACKOFF_BASE = 0.5
CHECK_BACKOFF_MAX = 30.0
START_WAIT = 1.0
# One bucket check's connect and read timeouts: a HEAD has nothing to transfer, and an S3 that
# hangs holds the next check back by this much.
CHECK_TIMEOUT = 5.0
READ_CHUNK = 1024 * 1024
_MISSING = {"404", "NoSuchKey", "NotFound"}
# "No room" as S3 and its clones say it (MinIO: a full disk, a bucket quota).
_FULL = {
    "XMinioStorageFull",
    "XMinioAdminBucketQuotaExceeded",
    "QuotaExceeded",
    "InsufficientStorage",
}
# The transport failing, whatever layer noticed: botocore's wrappers (connection refused or
# closed, timeouts, a body cut short), aiohttp's own errors and timeouts when they escape
# botocore (body reads), credentials that could not be fetched (an instance role's endpoint).
_NETWORK: tuple[type[BaseException], ...] = (
    HTTPClientError,
    BotoConnectionError,
    IncompleteReadError,
    ChecksumError,
    NoCredentialsError,
    CredentialRetrievalError,
    aiohttp.ClientError,
    asyncio.TimeoutError,
    OSError,
)


@functools.cache
def _session() -> AioSession:
    # One session per process: it caches the (large) S3 service model between clients.
    return get_session()


def _credentials(frozen: ReadOnlyCredentials) -> Credentials:
    if not frozen.access_key or not frozen.secret_key:
        raise StorageMisconfigured("the AWS credentials have no access key or secret key")
    return Credentials(frozen.access_key, frozen.secret_key, frozen.token)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code"))


def _total_size(response: Mapping[str, Any]) -> int | None:
    """The object's whole size: after `/` in Content-Range for a ranged answer, else the
    Content-Length of a whole one."""
    content_range = response.get("ContentRange")
    if content_range:
        total = str(content_range).rpartition("/")[2]
        return int(total) if total.isdigit() else None
    length = response.get("ContentLength")
    return int(length) if length is not None else None


def _status(exc: ClientError) -> int | None:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None


def _missing(exc: ClientError) -> bool:
    return _code(exc) in _MISSING or _status(exc) == 404


def _fault(exc: BaseException, action: str) -> StorageError:
    """What a failed S3 call means for the caller: no room, or S3 not doing its job."""
    if isinstance(exc, ClientError):
        code, status = _code(exc), _status(exc)
        if code in _FULL or status == 507:
            return StorageFull(f"S3 has no room for the {action} ({code}, HTTP {status})")
        # 5xx and SlowDown come here once botocore's retries are spent; anything else (a 403
        # from revoked credentials, a vanished bucket) is as much an outage to the client.
        return StorageDown(f"S3 failed the {action} ({code}, HTTP {status})")
    return StorageDown(f"S3 cannot be reached for the {action} ({type(exc).__name__}: {exc})")


@contextlib.contextmanager
def _faults(action: str) -> collections.abc.Iterator[None]:
    """Raise what S3 and the network throw as `StorageFull`/`StorageDown`, cause chained.

    `StorageError`s raised inside (not found, too large) pass through unchanged. Never wrap
    a `yield` to the caller's code in this: its own errors are not S3's.
    """
    try:
        yield
    except ClientError as exc:
        raise _fault(exc, action) from exc
    except _NETWORK as exc:
        raise _fault(exc, action) from exc


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
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        retries: int = RETRIES,
        check_backoff_base: float = CHECK_BACKOFF_BASE,
        check_backoff_max: float = CHECK_BACKOFF_MAX,
        start_wait: float = START_WAIT,
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
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.retries = retries
        self.check_backoff_base = check_backoff_base
        self.check_backoff_max = check_backoff_max
        self.start_wait = start_wait
        self.state: StorageState = "connecting"
        self.error: str | None = None  # why the storage is not usable, without secrets
        self._checker: asyncio.Task[None] | None = None  # start()'s background bucket check
        self._started = False
        self._stack: AsyncExitStack | None = None
        self._client: S3Client | None = None
        self._presigner: Presigner | None = None
        self._refreshable: AioRefreshableCredentials | None = None
        self._refreshing: asyncio.Task[None] | None = None

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
            # `max_attempts` here counts the retries after the first try (botocore's naming).
            "retries": {"max_attempts": self.retries, "mode": "standard"},
            # Per attempt: botocore's default of 60 s each would keep a request of ours
            # hanging for minutes on an S3 that accepts connections and never answers.
            "connect_timeout": self.connect_timeout,
            "read_timeout": self.read_timeout,
        }
        if self.endpoint_url:
            config["s3"] = {"addressing_style": "path"}
        return config

    def _create_client(
        self, stack: AsyncExitStack, config: dict[str, Any], pool: int
    ) -> collections.abc.Awaitable[S3Client]:
        creator = _session().create_client(
            "s3", config=AioConfig(**config, max_pool_connections=pool), **self._client_args()
        )
        return stack.enter_async_context(creator)

    async def _make_client(self) -> None:
        """The client and the presigner: no request is sent (credentials from a role's
        metadata endpoint excepted), so this works whether S3 is up or not."""
        if self._client is not None:
            return
        stack = AsyncExitStack()
        try:
            client = await self._create_client(stack, self._config(), 32)
            # botocore sends every PUT with `Expect: 100-continue`, and aiohttp waits for the
            # "100 Continue" with no timeout at all: an S3 that accepts connections and never
            # answers would hang each upload forever. Our bodies are small (photos), so send
            # them straight away; the read timeout then covers the wait for the answer.
            client.meta.events.unregister("before-call.s3", add_expect_header)
            self._presigner = await self._make_presigner(client)
        except BaseException:
            self._presigner = None
            await stack.aclose()
            raise
        self._client = client
        self._stack = stack

    async def _check(self, client: S3Client) -> StorageError | None:
        """HEAD the bucket: None when usable, else what is wrong (`StorageDown`: S3 out of
        reach or failing, may work later; `StorageMisconfigured`: S3 refused us)."""
        where = self.endpoint_url or "AWS"
        try:
            await client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code, status = _code(exc), _status(exc)
            if (status is not None and (status >= 500 or status in (408, 429))) or (
                code == "SlowDown"
            ):
                down = StorageDown(
                    f"S3 at {where} is failing: checking bucket {self.bucket!r} got"
                    f" {code} (HTTP {status})"
                )
                down.__cause__ = exc
                return down
            # 404 (no such bucket), 403 (credentials refused), 301/400 (wrong region): S3
            # answered, and waiting will not change its answer.
            return StorageMisconfigured(
                f"S3 bucket {self.bucket!r} at {where} is not usable ({code}, HTTP {status})"
            )
        except _NETWORK as exc:
            down = StorageDown(
                f"S3 at {where} cannot be reached to open bucket {self.bucket!r}"
                f" ({type(exc).__name__}: {exc})"
            )
            down.__cause__ = exc
            return down
        return None

    async def _make_client_or_fail(self) -> None:
        """The client (no network needed), its failure (no credentials) kept as the state."""
        try:
            await self._make_client()
        except StorageError as exc:
            self._failed(exc)
            raise

    def _failed(self, problem: StorageError) -> None:
        self.state = "misconfigured" if isinstance(problem, StorageMisconfigured) else "unavailable"
        self.error = str(problem)

    def _became_ready(self) -> None:
        self.state, self.error = "ready", None
        log.info(
            "s3 storage ready", bucket=self.bucket, prefix=self.prefix, endpoint=self.endpoint_url
        )

    async def open(self) -> None:
        """Make the client and check the bucket with a HEAD, now.

        Raises `StorageDown` when S3 cannot be reached or answers 5xx (it may work later),
        and `StorageMisconfigured` when the bucket is missing or refused (a configuration
        mistake that waiting will not fix).
        """
        if self.state == "ready" and self._client is not None:
            return
        await self._make_client_or_fail()
        problem = await self._check(self.client_unchecked)
        if problem is not None:
            self._failed(problem)
            raise problem
        self._became_ready()

    async def start(self) -> None:
        """Make the client and check the bucket in the background until S3 answers.

        Returns within `start_wait` seconds whatever S3 does (down, refusing connections,
        hanging); raises `StorageMisconfigured` when S3 answers within that time that the
        bucket is missing or our credentials are refused, or when there are no credentials.
        """
        if self._checker is not None and not self._checker.done():
            return
        if self.state == "ready" and self._client is not None:
            return
        await self._make_client_or_fail()
        self.state, self.error = "connecting", None
        self._started = False
        answered = asyncio.Event()
        self._checker = asyncio.create_task(self._keep_checking(answered), name="s3-check")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(answered.wait(), self.start_wait)
        # (Read through health(): mypy would keep `state` narrowed to the value set above.)
        if self.health()["storage"] == "misconfigured":
            error = self.error or "S3 storage is misconfigured"
            await self.close()
            self.state, self.error = "misconfigured", error
            raise StorageMisconfigured(error)
        # From now on a misconfiguration is this process's to log: the start went through.
        self._started = True

    async def _keep_checking(self, answered: asyncio.Event) -> None:
        """Checks the bucket until it is usable, with capped exponential backoff and jitter
        (`check_backoff_base` doubling up to `check_backoff_max`). An outage is a warning the
        first time and debug lines after; a misconfiguration is an error each time it is new.

        The checks use a client of their own without botocore's retries (each check is one
        attempt; this loop is the retrying) and with short timeouts, so that a refused
        connection is known at once and a hung S3 costs one timeout, not four.
        """
        stack = AsyncExitStack()
        try:
            config = self._config()
            config["retries"] = {"max_attempts": 0, "mode": "standard"}
            config["connect_timeout"] = min(self.connect_timeout, CHECK_TIMEOUT)
            config["read_timeout"] = min(self.read_timeout, CHECK_TIMEOUT)
            probe = await self._create_client(stack, config, 1)
            attempt = 0
            while True:
                problem = await self._check(probe)
                if problem is None:
                    self._became_ready()
                    answered.set()
                    return
                previous = (self.state, self.error)
                self._failed(problem)
                answered.set()
                delay = jittered(doubling(attempt, self.check_backoff_base, self.check_backoff_max))
                attempt += 1
                fields = {"bucket": self.bucket, "endpoint": self.endpoint_url}
                if self.state == "misconfigured":
                    # At start, `start()` raises it; afterwards nobody else will say it.
                    if self._started and previous != (self.state, self.error):
                        log.error(
                            "s3 storage misconfigured; checking again in the background",
                            error=self.error,
                            retry_in=round(delay, 1),
                            **fields,
                        )
                else:
                    log_retry(
                        log,
                        attempt,
                        delay,
                        "s3 not reachable; checking the bucket in the background",
                        "s3 still not reachable",
                        error=self.error,
                        **fields,
                    )
                await asyncio.sleep(delay)
        except Exception as exc:
            # A bug here must not leave the storage "connecting" for ever without a word.
            log.exception("the s3 bucket check stopped", bucket=self.bucket)
            self.state, self.error = "unavailable", f"the bucket check stopped ({exc!r})"
            answered.set()
        finally:
            await stack.aclose()

    def health(self) -> dict[str, str | None]:
        return {"storage": self.state, "storage_error": self.error}

    async def _make_presigner(self, client: S3Client) -> Presigner:
        access_key, secret_key = self._credentials
        if access_key and secret_key:
            credentials = Credentials(access_key, secret_key)
        else:
            source = await _session().get_credentials()
            if source is None:
                raise StorageMisconfigured(
                    "no AWS credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
                )
            if isinstance(source, AioRefreshableCredentials):
                self._refreshable = source
            credentials = _credentials(await source.get_frozen_credentials())
        # With an endpoint (MinIO & co.) or a dotted bucket name: path-style, else virtual-host.
        path_style = bool(self.endpoint_url) or "." in self.bucket
        return Presigner(
            client.meta.endpoint_url,
            self.bucket,
            client.meta.region_name,
            credentials,
            path_style=path_style,
        )

    def _refresh_credentials_soon(self) -> None:
        """Temporary credentials (roles, SSO) near expiry: refresh them in the background."""
        source = self._refreshable
        if source is None or self._refreshing is not None or not source.refresh_needed():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._refreshing = loop.create_task(self._refresh(source))

    async def _refresh(self, source: AioRefreshableCredentials) -> None:
        try:
            frozen = await source.get_frozen_credentials()
            if self._presigner is not None:
                self._presigner.credentials = _credentials(frozen)
        except Exception:
            log.exception("refreshing the S3 credentials failed")
        finally:
            self._refreshing = None

    async def close(self) -> None:
        checker, self._checker = self._checker, None
        await cancel_and_wait(checker)
        self.state, self.error = "connecting", None
        self._presigner = None
        if self._refreshing is not None:
            self._refreshing.cancel()
            self._refreshing = None
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None
        self._client = None

    @property
    def client(self) -> S3Client:
        """The client, once the bucket check has succeeded; until then `StorageDown` (a 503
        to the client), so no request waits on an S3 that is known to be away."""
        if self._client is None:
            raise StorageDown("S3 storage is not started")
        if self.state != "ready":
            raise StorageDown(f"S3 storage is {self.state}: {self.error or 'checking the bucket'}")
        return self._client

    @property
    def client_unchecked(self) -> S3Client:
        """The client whatever the bucket check says (for that check, and for tests)."""
        if self._client is None:
            raise StorageDown("S3 storage is not started")
        return self._client

    def _key(self, key: str) -> str:
        return self.prefix + validate_key(key)

    # --- objects ----------------------------------------------------------------------

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        s3_key = self._key(key)
        validate_content_type(content_type)
        with _faults(f"put of {key}"):
            await self.client.put_object(
                Bucket=self.bucket, Key=s3_key, Body=data, ContentType=content_type
            )

    async def stat(self, key: str) -> ObjectInfo | None:
        s3_key = self._key(key)
        with _faults(f"stat of {key}"):
            try:
                head = await self.client.head_object(Bucket=self.bucket, Key=s3_key)
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

    async def read(self, key: str, max_bytes: int | None = None) -> bytes:
        """With `max_bytes`, a ranged GET of its first `max_bytes` + 1 bytes: an object
        replaced by a bigger one since a `stat` is refused by what is read, never loaded."""
        s3_key = self._key(key)
        with _faults(f"read of {key}"):
            try:
                if max_bytes is None:
                    response = await self.client.get_object(Bucket=self.bucket, Key=s3_key)
                else:
                    response = await self.client.get_object(
                        Bucket=self.bucket, Key=s3_key, Range=f"bytes=0-{max_bytes}"
                    )
            except ClientError as exc:
                if _missing(exc):
                    raise StorageNotFound(key) from None
                if _code(exc) != "InvalidRange":
                    raise
                # An empty object has no byte 0 to range over.
                response = await self.client.get_object(Bucket=self.bucket, Key=s3_key)
            total = _total_size(response)
            if max_bytes is not None and total is not None and total > max_bytes:
                response["Body"].close()
                raise TooLarge(f"{key} is larger than {max_bytes} bytes", size=total)
            async with response["Body"] as body:
                if max_bytes is None:
                    data: bytes = await body.read()  # no size: aiohttp reads to the end
                else:
                    # read(n) gives what one network chunk brought (64-128 KB), not n bytes:
                    # read until the end or until more than max_bytes came, never further.
                    chunks: builtins.list[bytes] = []
                    got = 0
                    while got <= max_bytes:
                        chunk = await body.read(max_bytes + 1 - got)
                        if not chunk:
                            break
                        chunks.append(chunk)
                        got += len(chunk)
                    data = b"".join(chunks)
        if max_bytes is not None and len(data) > max_bytes:  # a server that ignored the Range
            raise TooLarge(f"{key} is larger than {max_bytes} bytes")
        if total is not None and max_bytes is None and len(data) != total:
            raise StorageDown(f"S3 sent {len(data)} of the {total} bytes of {key}")
        return data

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        s3_key = self._key(key)
        with _faults(f"read of {key}"):
            try:
                response = await self.client.get_object(Bucket=self.bucket, Key=s3_key)
            except ClientError as exc:
                if _missing(exc):
                    raise StorageNotFound(key) from None
                raise
        total = _total_size(response)
        sent = 0
        async with response["Body"] as body:
            while True:
                # Each read gives at most one network chunk (not READ_CHUNK bytes); only
                # the read is guarded, the consumer's code runs at the yield.
                with _faults(f"read of {key}"):
                    chunk = await body.read(READ_CHUNK)
                if not chunk:
                    break
                sent += len(chunk)
                yield chunk
        if total is not None and sent != total:
            raise StorageDown(f"S3 sent {sent} of the {total} bytes of {key}")

    @contextlib.asynccontextmanager
    async def local_file(self, key: str) -> AsyncIterator[Path]:
        s3_key = self._key(key)
        with _faults(f"read of {key}"):
            try:
                response = await self.client.get_object(Bucket=self.bucket, Key=s3_key)
            except ClientError as exc:
                if _missing(exc):
                    raise StorageNotFound(key) from None
                raise
        total = _total_size(response)
        try:
            fd, name = await asyncio.to_thread(tempfile.mkstemp, prefix="momento-", suffix=".obj")
        except BaseException:
            response["Body"].close()
            raise
        path = Path(name)
        try:
            written = 0
            # Only the download is S3's: the caller's block below raises what it raises.
            # (A full temporary folder is an OSError too: no room here means a 503 as well.)
            with _faults(f"download of {key}"):
                async with response["Body"] as body:
                    # Each read gives at most one network chunk; the loop ends at EOF only.
                    while chunk := await body.read(READ_CHUNK):
                        await asyncio.to_thread(write_all, fd, chunk)
                        written += len(chunk)
                if total is not None and written != total:
                    raise StorageDown(f"S3 sent {written} of the {total} bytes of {key}")
                await asyncio.to_thread(os.close, fd)
                fd = -1
            yield path
        finally:
            if fd >= 0:
                os.close(fd)
            await asyncio.to_thread(path.unlink, missing_ok=True)

    async def delete(self, key: str) -> None:
        s3_key = self._key(key)
        with _faults(f"delete of {key}"):
            await self.client.delete_object(Bucket=self.bucket, Key=s3_key)

    async def delete_prefix(self, prefix: str) -> int:
        validate_delete_prefix(prefix)
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
        with _faults(f"delete of {len(keys)} objects"):
            response = await self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True},
            )
        errors = response.get("Errors", [])
        if errors:
            first = errors[0]
            # Per-key errors are S3 failing (InternalError, SlowDown): the caller tries later.
            raise StorageDown(
                f"S3 kept {len(errors)} of {len(keys)} objects "
                f"(first: {first.get('Key')}: {first.get('Code')})"
            )
        return len(keys)

    async def list(self, prefix: str) -> AsyncIterator[ObjectInfo]:
        validate_prefix(prefix)
        paginator = self.client.get_paginator("list_objects_v2")
        strip = len(self.prefix)
        pages = paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix).__aiter__()
        while True:
            # Only the fetch of a page is guarded: the consumer's code runs at the yield.
            with _faults(f"listing of {prefix or '/'}"):
                try:
                    page = await anext(pages)
                except StopAsyncIteration:
                    break
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
    def presigner(self) -> Presigner:
        # Ready from `start()` on, bucket check or not: signing needs only the credentials.
        if self._presigner is None:
            raise StorageDown("S3 storage is not started")
        self._refresh_credentials_soon()
        return self._presigner

    def signed_get_url(
        self,
        key: str,
        expires_in: int | None = None,
        *,
        expires_at: int | None = None,
        filename: str | None = None,
    ) -> str:
        key = self._key(key)
        now = int(time.time())
        expires = expiry(now, self.default_ttl, expires_in, expires_at)
        if expires_at is None:
            signed_at, ttl = now, expires - now
        else:
            # Same expiry, same URL: sign at a time derived from the expiry alone, the start
            # of the default-TTL-sized window that covers now.
            windows = -(-(expires - now) // self.default_ttl)
            ttl = min(windows * self.default_ttl, MAX_EXPIRES_IN)
            signed_at = expires - ttl
        params = {"response-cache-control": f"private, max-age={ttl}"}
        if filename:
            params["response-content-disposition"] = content_disposition(filename)
        return self.presigner.presign(
            "GET", key, expires_in=ttl, signed_at=signed_at, params=params
        )

    def signed_put(
        self,
        key: str,
        content_type: str,
        *,
        max_bytes: int | None = None,
        expires_in: int | None = None,
    ) -> UploadTarget:
        key = self._key(key)
        validate_content_type(content_type)
        ttl = lifetime(expires_in, self.default_ttl)
        now = int(time.time())
        url = self.presigner.presign(
            "PUT", key, expires_in=ttl, signed_at=now, headers={"content-type": content_type}
        )
        return put_target(url, content_type, now + ttl, max_bytes)
