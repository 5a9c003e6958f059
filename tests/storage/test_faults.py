"""Storage faults: camera-sized reads, S3 cut off, hung or failing, local disks that fail.

S3 is cut off with a TCP proxy in front of moto (`tests.fakes.tcp_proxy`), never by stopping
moto, which keeps its objects in memory. Answers moto never gives (5xx, SlowDown, MinIO's
"storage full") come from a small S3-speaking server on 127.0.0.1 that answers every request
with the error chosen. The local disk faults are real: a storage root replaced by a file, a
read-only tmpfs. The full disk has its own module (test_full_disk.py).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.client import BaseClient

from momento.storage import (
    FileUrlSigner,
    LocalDiskStorage,
    Storage,
    StorageDown,
    StorageFull,
    TooLarge,
)
from momento.storage.s3 import S3Storage
from tests.fakes.tcp_proxy import TcpProxy
from tests.storage.disks import remount, tmpfs
from tests.storage.helpers import (
    AWS,
    BASE_URL,
    SECRET,
    assert_retry_later,
    fast_s3,
    files_app,
    http_client,
    make_bucket,
    tree,
)

MB = 1024 * 1024
# An S3 that is down must answer within seconds (three attempts, short timeouts).
DOWN_WITHIN = 20.0


@pytest.fixture
def proxy(moto_endpoint: str) -> Iterator[TcpProxy]:
    with TcpProxy.to_url(moto_endpoint) as running:
        yield running


@pytest.fixture
async def cut_s3(proxy: TcpProxy, s3_admin: BaseClient) -> AsyncIterator[S3Storage]:
    """S3 storage reached through `proxy` (open, bucket made)."""
    storage = fast_s3(proxy.url, make_bucket(s3_admin))
    await storage.open()
    try:
        yield storage
    finally:
        await storage.close()


async def _down(call: Callable[[], Awaitable[Any]]) -> StorageDown:
    started = time.monotonic()
    with pytest.raises(StorageDown) as info:
        await call()
    assert time.monotonic() - started < DOWN_WITHIN
    assert info.value.__cause__ is not None  # the real cause is kept for the logs
    return info.value


# --- camera-sized objects -----------------------------------------------------------------


async def test_a_camera_sized_object_is_read_whole(storage: Storage) -> None:
    data = os.urandom(5 * MB + 12345)
    await storage.put("events/e/p/upload", data, "image/jpeg")
    assert await storage.read("events/e/p/upload") == data
    # With a cap the S3 read is ranged and arrives in many network chunks: all of them.
    assert await storage.read("events/e/p/upload", max_bytes=len(data)) == data
    assert await storage.read("events/e/p/upload", max_bytes=len(data) + MB) == data
    for cap in (len(data) - 1, MB, 100):
        with pytest.raises(TooLarge) as info:
            await storage.read("events/e/p/upload", max_bytes=cap)
        assert info.value.size == len(data)
    async with storage.local_file("events/e/p/upload") as path:
        assert path.read_bytes() == data


# --- S3 cut off, hung, failing ------------------------------------------------------------


async def test_every_s3_operation_raises_storage_down_when_cut_off(
    cut_s3: S3Storage, proxy: TcpProxy
) -> None:
    await cut_s3.put("events/e/p/original", b"kept", "image/jpeg")
    proxy.cut()
    await _down(lambda: cut_s3.put("events/e/p/new", b"x", "image/jpeg"))
    await _down(lambda: cut_s3.stat("events/e/p/original"))
    await _down(lambda: cut_s3.read("events/e/p/original"))
    await _down(lambda: cut_s3.read("events/e/p/original", max_bytes=100))
    await _down(lambda: cut_s3.delete("events/e/p/original"))
    await _down(lambda: cut_s3.delete_prefix("events/e/"))

    async def listing() -> list[str]:
        return [info.key async for info in cut_s3.list("events/")]

    await _down(listing)

    async def download() -> None:
        async with cut_s3.local_file("events/e/p/original") as path:
            path.read_bytes()

    await _down(download)
    # Back: nothing was lost or half done.
    proxy.restore()
    assert await listing() == ["events/e/p/original"]
    assert await cut_s3.read("events/e/p/original") == b"kept"


async def test_the_caller_s_own_errors_in_local_file_are_not_storage_faults(
    cut_s3: S3Storage,
) -> None:
    await cut_s3.put("a/b", b"x", "text/plain")
    with pytest.raises(PermissionError):
        async with cut_s3.local_file("a/b"):
            raise PermissionError("the caller's own")


async def test_opening_s3_while_it_is_down_says_so(proxy: TcpProxy, s3_admin: BaseClient) -> None:
    storage = fast_s3(proxy.url, make_bucket(s3_admin))
    proxy.cut()
    started = time.monotonic()
    with pytest.raises(StorageDown, match="cannot be reached") as info:
        await storage.open()
    assert time.monotonic() - started < DOWN_WITHIN
    assert proxy.url in str(info.value)
    await storage.close()
    proxy.restore()
    await storage.open()  # and once it is back, it opens
    await storage.close()


async def test_a_hung_s3_times_out_as_storage_down(cut_s3: S3Storage, proxy: TcpProxy) -> None:
    await cut_s3.put("a/b", b"x", "text/plain")
    proxy.stall()
    await _down(lambda: cut_s3.stat("a/b"))
    await _down(lambda: cut_s3.read("a/b"))
    await _down(lambda: cut_s3.put("a/c", b"y" * MB, "text/plain"))  # no endless 100-continue
    proxy.restore()
    assert await cut_s3.read("a/b") == b"x"


async def test_s3_timeouts_are_short_by_default(moto_endpoint: str, s3_admin: BaseClient) -> None:
    storage = S3Storage(
        make_bucket(s3_admin),
        endpoint_url=moto_endpoint,
        access_key=AWS["aws_access_key_id"],
        secret_key=AWS["aws_secret_access_key"],
    )
    await storage.open()
    try:
        config: Any = storage.client.meta.config
        assert (config.connect_timeout, config.read_timeout) == (5, 30)
    finally:
        await storage.close()


class FailingS3:
    """Answers every request with `status` and an S3 error `code`; the bucket check (the
    HEAD of `open`) too when `fail_open`, else with 200."""

    def __init__(self, *, fail_open: bool = False) -> None:
        self.status = 503
        self.code = "SlowDown"
        self.requests: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                fake.requests.append(f"{self.command} {self.path}")
                bucket_check = self.command == "HEAD" and self.path.rstrip("/").count("/") == 1
                if bucket_check and not fail_open:
                    self.send_response(200)  # HEAD /bucket: open() works
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = (
                    f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{fake.code}</Code>"
                    f"<Message>failing on purpose</Message></Error>"
                ).encode()
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _answer

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
async def failing() -> AsyncIterator[tuple[FailingS3, S3Storage]]:
    fake = FailingS3()
    storage = fast_s3(fake.url, "bucket")
    try:
        await storage.open()
        yield fake, storage
    finally:
        await storage.close()
        fake.stop()


async def test_s3_5xx_and_slowdown_raise_storage_down_after_retries(
    failing: tuple[FailingS3, S3Storage],
) -> None:
    fake, storage = failing
    for status, code in ((503, "SlowDown"), (500, "InternalError")):
        fake.status, fake.code = status, code
        fake.requests.clear()
        error = await _down(lambda: storage.put("a/b", b"x", "text/plain"))
        assert code in str(error)
        assert len(fake.requests) == 2  # botocore retried (once, as told) before giving up
        await _down(lambda: storage.stat("a/b"))
        await _down(lambda: storage.read("a/b"))
        await _down(lambda: storage.delete("a/b"))
        await _down(lambda: storage.delete_prefix("a/"))

        async def listing() -> list[str]:
            return [info.key async for info in storage.list("")]

        await _down(listing)


async def test_s3_saying_it_is_full_raises_storage_full(
    failing: tuple[FailingS3, S3Storage],
) -> None:
    fake, storage = failing
    fake.status, fake.code = 507, "XMinioStorageFull"
    with pytest.raises(StorageFull) as info:
        await storage.put("a/b", b"x", "text/plain")
    assert info.value.__cause__ is not None


async def test_opening_a_failing_s3_raises_storage_down() -> None:
    fake = FailingS3(fail_open=True)
    fake.status, fake.code = 500, "InternalError"
    storage = fast_s3(fake.url, "bucket")
    try:
        with pytest.raises(StorageDown, match="HTTP 500"):
            await storage.open()
    finally:
        await storage.close()
        fake.stop()


# --- local disk faults --------------------------------------------------------------------


def _signed_put(storage: LocalDiskStorage, key: str, body: bytes) -> dict[str, Any]:
    target = storage.signed_put(key, "image/jpeg", max_bytes=len(body) + 10)
    return {"method": "PUT", "url": target.url, "headers": target.headers, "content": body}


async def test_a_storage_root_replaced_by_a_file_is_a_503_not_a_500(
    local_storage: LocalDiskStorage, local_http: httpx.AsyncClient
) -> None:
    await local_storage.put("events/e/p/original", b"photo", "image/jpeg")
    get_url = local_storage.signed_get_url("events/e/p/original")
    root = local_storage.root
    shutil.rmtree(root)
    root.write_bytes(b"an operator's mistake")
    r = await local_http.request(**_signed_put(local_storage, "events/e/p/upload", b"x" * 100))
    assert_retry_later(r, 503, "storage_unavailable")
    r = await local_http.get(get_url)
    assert_retry_later(r, 503, "storage_unavailable")
    for call in (
        lambda: local_storage.put("events/e/p/upload", b"x", "image/jpeg"),
        lambda: local_storage.stat("events/e/p/original"),
        lambda: local_storage.read("events/e/p/original"),
        lambda: local_storage.delete("events/e/p/original"),
        lambda: local_storage.delete_prefix("events/e/"),
        local_storage.open,
    ):
        with pytest.raises(StorageDown) as info:
            await call()
        # NotADirectoryError, or FileExistsError for open()'s mkdir.
        assert isinstance(info.value.__cause__, NotADirectoryError | FileExistsError)
    with pytest.raises(StorageDown):
        [info async for info in local_storage.list("")]
    assert root.read_bytes() == b"an operator's mistake"


async def test_a_storage_root_below_a_file_is_a_503(
    tmp_path: Path, local_http: httpx.AsyncClient
) -> None:
    (tmp_path / "data").write_bytes(b"not a folder")
    storage = LocalDiskStorage(tmp_path / "data" / "files", FileUrlSigner(SECRET, BASE_URL))
    with pytest.raises(StorageDown, match="NotADirectoryError"):
        await storage.open()
    async with http_client(files_app(storage)) as client:
        r = await client.request(**_signed_put(storage, "events/e/p/upload", b"x"))
    assert_retry_later(r, 503, "storage_unavailable")


async def test_the_uploads_folder_replaced_by_a_file_is_the_server_s_fault(
    local_storage: LocalDiskStorage, local_http: httpx.AsyncClient
) -> None:
    incoming = local_storage.root / ".incoming"
    shutil.rmtree(incoming)
    incoming.write_bytes(b"in the way")
    r = await local_http.request(**_signed_put(local_storage, "events/e/p/upload", b"x"))
    assert_retry_later(r, 503, "storage_unavailable")
    with pytest.raises(StorageDown):
        await local_storage.put("events/e/p/upload", b"x", "image/jpeg")
    assert [info async for info in local_storage.list("")] == []


async def test_an_event_folder_replaced_by_a_file_is_a_key_conflict(
    local_storage: LocalDiskStorage, local_http: httpx.AsyncClient
) -> None:
    (local_storage.root / "events").mkdir()
    (local_storage.root / "events" / "e").write_bytes(b"in the way")
    r = await local_http.request(**_signed_put(local_storage, "events/e/p/upload", b"x"))
    assert r.status_code == 409, r.text
    assert (local_storage.root / "events" / "e").read_bytes() == b"in the way"


async def test_a_read_only_disk_refuses_writes_with_503_and_still_serves(
    tmp_path: Path,
) -> None:
    with tmpfs(tmp_path / "disk", "4m") as disk:
        storage = LocalDiskStorage(disk / "files", FileUrlSigner(SECRET, BASE_URL))
        await storage.open()
        await storage.put("events/e/p/original", b"photo", "image/jpeg")
        before = tree(disk)
        async with http_client(files_app(storage)) as client:
            remount(disk, "ro")
            try:
                put = _signed_put(storage, "events/e/p/upload", b"y" * 1000)
                r = await client.request(**put)
                assert_retry_later(r, 503, "storage_unavailable")
                with pytest.raises(StorageDown) as info:
                    await storage.put("events/e/p/original", b"new", "image/jpeg")
                assert isinstance(info.value.__cause__, OSError)
                assert not isinstance(info.value, StorageFull)
                r = await client.get(storage.signed_get_url("events/e/p/original"))
                assert (r.status_code, r.content) == (200, b"photo")
                assert tree(disk) == before
            finally:
                remount(disk, "rw")
            r = await client.request(**put)
            assert r.status_code == 200, r.text
        assert await storage.read("events/e/p/upload") == b"y" * 1000
