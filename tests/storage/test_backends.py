"""The behaviour every backend shares, run against the local disk and a real S3 server."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from botocore.client import BaseClient

from momento.storage import (
    InvalidKey,
    LocalDiskStorage,
    Storage,
    StorageError,
    StorageNotFound,
    TooLarge,
)
from momento.storage import s3 as s3_module
from momento.storage.s3 import S3Storage
from tests.storage.helpers import make_bucket, s3_storage, stored

JPEG = b"\xff\xd8\xff\xe0" + b"jpeg-bytes" * 100
KEY = "events/e1/p1/original"

BAD_KEYS = [
    "",
    "/abs/path",
    "../escape",
    "a/../../escape",
    "a/./b",
    ".",
    "..",
    "a//b",
    "a/b/",
    "a\\..\\b",
    "a\x00b",
    "a b",
    "événement/photo",
    ".hidden/x",
    "a/.meta",
    "x" * 256,
    "a/" * 600 + "b",
]


async def test_put_stat_read(storage: Storage) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    await storage.put(KEY, JPEG, "image/heic")
    info = await storage.stat(KEY)
    assert info is not None
    assert info.key == KEY
    assert info.size == len(JPEG)
    assert info.content_type == "image/heic"
    assert info.modified.tzinfo is not None
    assert before <= info.modified <= datetime.now(UTC) + timedelta(seconds=5)
    assert info.etag
    assert await storage.read(KEY) == JPEG


@pytest.mark.parametrize("size", [0, 1, 999, 1000])
async def test_read_within_a_limit_is_the_whole_object(storage: Storage, size: int) -> None:
    data = bytes(range(256)) * 4
    await storage.put(KEY, data[:size], "image/jpeg")
    assert await storage.read(KEY, max_bytes=1000) == data[:size]


@pytest.mark.parametrize("size", [1001, 1024, 5 * 1024 * 1024])
async def test_read_over_a_limit_is_refused_with_the_size(storage: Storage, size: int) -> None:
    """What complete relies on: an object over the limit is refused by the read itself (a
    ranged GET on S3, a bounded read on disk), whatever a stat said before."""
    await storage.put(KEY, b"\x01" * size, "image/jpeg")
    with pytest.raises(TooLarge) as refused:
        await storage.read(KEY, max_bytes=1000)
    assert refused.value.size == size
    assert await storage.read(KEY) == b"\x01" * size  # the object itself is untouched


async def test_put_replaces(storage: Storage) -> None:
    await storage.put(KEY, b"first", "image/jpeg")
    await storage.put(KEY, b"second version", "image/png")
    info = await storage.stat(KEY)
    assert info is not None
    assert (info.size, info.content_type) == (len(b"second version"), "image/png")
    assert await storage.read(KEY) == b"second version"


async def test_missing_objects(storage: Storage) -> None:
    assert await storage.stat("events/nope") is None
    with pytest.raises(StorageNotFound):
        await storage.read("events/nope")
    with pytest.raises(StorageNotFound):
        async with storage.local_file("events/nope"):
            pass
    await storage.delete("events/nope")  # not an error
    assert await storage.delete_prefix("events/nope/") == 0


async def test_empty_object(storage: Storage) -> None:
    await storage.put("e/empty", b"", "application/octet-stream")
    info = await storage.stat("e/empty")
    assert info is not None
    assert info.size == 0
    assert await storage.read("e/empty") == b""


async def test_delete(storage: Storage) -> None:
    await storage.put(KEY, JPEG, "image/jpeg")
    await storage.put("events/e1/p1/thumb.jpg", b"t", "image/jpeg")
    await storage.delete(KEY)
    assert await storage.stat(KEY) is None
    assert await stored(storage) == {"events/e1/p1/thumb.jpg": b"t"}


async def test_list(storage: Storage) -> None:
    keys = [
        "events/e1/p1/original",
        "events/e1/p1/display.jpg",
        "events/e1/p2/original",
        "events/e10/p3/original",
        "events/e2/p4/original",
        "other",
    ]
    for i, key in enumerate(keys):
        await storage.put(key, b"x" * (i + 1), "image/jpeg")
    listed = [info async for info in storage.list("events/e1/")]
    assert [i.key for i in listed] == [
        "events/e1/p1/display.jpg",
        "events/e1/p1/original",
        "events/e1/p2/original",
    ]
    assert [i.size for i in listed] == [2, 1, 3]
    assert all(i.modified.tzinfo is not None for i in listed)
    assert all(i.content_type is None for i in listed)
    # A prefix is a string prefix, as in S3: "events/e1" also matches "events/e10/...".
    assert [i.key async for i in storage.list("events/e1")] == [
        "events/e1/p1/display.jpg",
        "events/e1/p1/original",
        "events/e1/p2/original",
        "events/e10/p3/original",
    ]
    assert [i.key async for i in storage.list("events/e1/p1/orig")] == ["events/e1/p1/original"]
    assert [i.key async for i in storage.list("")] == sorted(keys)
    assert [i.key async for i in storage.list("nothing/")] == []


async def test_delete_prefix(storage: Storage) -> None:
    for key in ("events/e1/p1/original", "events/e1/p1/thumb.jpg", "events/e1/p2/original"):
        await storage.put(key, b"x", "image/jpeg")
    await storage.put("events/e10/p3/original", b"keep", "image/jpeg")
    await storage.put("events/e2/p4/original", b"keep", "image/jpeg")

    assert await storage.delete_prefix("events/e1/p1/") == 2
    assert await storage.delete_prefix("events/e1/") == 1
    assert await stored(storage) == {
        "events/e10/p3/original": b"keep",
        "events/e2/p4/original": b"keep",
    }
    # A stored object can be put again where a deleted folder was.
    await storage.put("events/e1/p1/original", b"again", "image/jpeg")
    assert await storage.read("events/e1/p1/original") == b"again"


async def test_delete_prefix_refuses_partial_and_empty_prefixes(storage: Storage) -> None:
    await storage.put("events/e1/p1", b"x", "image/jpeg")
    await storage.put("events/e10/p1", b"y", "image/jpeg")
    before = await stored(storage)
    with pytest.raises(StorageError):
        await storage.delete_prefix("events/e1")
    with pytest.raises(StorageError):
        await storage.delete_prefix("")
    with pytest.raises(InvalidKey):
        await storage.delete_prefix("../")
    assert await stored(storage) == before


async def test_delete_prefix_in_batches(storage: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(s3_module, "DELETE_BATCH", 2)
    for i in range(5):
        await storage.put(f"events/e1/p{i}/original", b"x", "image/jpeg")
    await storage.put("events/e2/p/original", b"keep", "image/jpeg")
    assert await storage.delete_prefix("events/e1/") == 5
    assert await stored(storage) == {"events/e2/p/original": b"keep"}


async def test_local_file(storage: Storage) -> None:
    await storage.put(KEY, JPEG, "image/jpeg")
    async with storage.local_file(KEY) as path:
        assert path.read_bytes() == JPEG
        size = path.stat().st_size
    assert size == len(JPEG)


@pytest.mark.parametrize("bad", BAD_KEYS)
async def test_invalid_keys_are_refused_everywhere(storage: Storage, bad: str) -> None:
    await storage.put(KEY, JPEG, "image/jpeg")
    before = await stored(storage)
    with pytest.raises(InvalidKey):
        await storage.put(bad, b"evil", "image/jpeg")
    with pytest.raises(InvalidKey):
        await storage.stat(bad)
    with pytest.raises(InvalidKey):
        await storage.read(bad)
    with pytest.raises(InvalidKey):
        await storage.delete(bad)
    with pytest.raises(InvalidKey):
        storage.signed_get_url(bad)
    with pytest.raises(InvalidKey):
        storage.signed_put(bad, "image/jpeg")
    with pytest.raises(InvalidKey):
        async with storage.local_file(bad):
            pass
    if bad not in ("", "a/b/"):  # valid prefixes
        with pytest.raises(InvalidKey):
            [i async for i in storage.list(bad)]
    assert await stored(storage) == before


@pytest.mark.parametrize("bad", ["", "image", "image/jpeg\r\nX-Evil: 1", "image/jpeg\nx", "a/b/c"])
async def test_invalid_content_types_are_refused(storage: Storage, bad: str) -> None:
    with pytest.raises(InvalidKey):
        await storage.put(KEY, b"x", bad)
    with pytest.raises(InvalidKey):
        storage.signed_put(KEY, bad)
    assert await stored(storage) == {}


async def test_expires_in_is_bounded(storage: Storage) -> None:
    with pytest.raises(InvalidKey):
        storage.signed_get_url(KEY, 0)
    with pytest.raises(InvalidKey):
        storage.signed_put(KEY, "image/jpeg", expires_in=8 * 24 * 3600)


async def test_signed_put_then_get_over_http(storage: Storage, http: httpx.AsyncClient) -> None:
    target = storage.signed_put(KEY, "image/jpeg", max_bytes=10_000, expires_in=600)
    assert target.method == "PUT"
    assert target.headers == {"Content-Type": "image/jpeg"}
    assert target.max_bytes == 10_000
    expected = datetime.now(UTC) + timedelta(seconds=600)
    assert abs((target.expires_at - expected).total_seconds()) < 5

    r = await http.request(target.method, target.url, headers=target.headers, content=JPEG)
    assert r.status_code == 200, r.text
    info = await storage.stat(KEY)
    assert info is not None
    assert (info.size, info.content_type) == (len(JPEG), "image/jpeg")

    r = await http.get(storage.signed_get_url(KEY, 300))
    assert r.status_code == 200
    assert r.content == JPEG
    assert r.headers["content-type"] == "image/jpeg"
    assert r.headers["content-length"] == str(len(JPEG))
    cache = r.headers["cache-control"]
    assert cache.startswith("private, max-age=")
    assert 290 <= int(cache.rsplit("=", 1)[1]) <= 300
    assert "content-disposition" not in r.headers


async def test_download_name(storage: Storage, http: httpx.AsyncClient) -> None:
    await storage.put(KEY, JPEG, "image/jpeg")
    r = await http.get(storage.signed_get_url(KEY, filename='Beach "day".jpg'))
    assert r.status_code == 200
    assert r.headers["content-disposition"] == 'attachment; filename="Beach _day_.jpg"'
    r = await http.get(storage.signed_get_url(KEY, filename="Été.jpg"))
    assert r.headers["content-disposition"] == (
        "attachment; filename=\"_t_.jpg\"; filename*=UTF-8''%C3%89t%C3%A9.jpg"
    )


@pytest.mark.parametrize(
    ("header", "status", "body", "content_range"),
    [
        ("bytes=0-3", 206, b"0123", "bytes 0-3/10"),
        ("bytes=4-", 206, b"456789", "bytes 4-9/10"),
        ("bytes=-3", 206, b"789", "bytes 7-9/10"),
        ("bytes=8-100", 206, b"89", "bytes 8-9/10"),
        ("bytes=10-", 416, None, "bytes */10"),
        ("bytes=50-60", 416, None, "bytes */10"),
    ],
)
async def test_range_requests(
    storage: Storage,
    http: httpx.AsyncClient,
    header: str,
    status: int,
    body: bytes | None,
    content_range: str,
) -> None:
    await storage.put("e/digits", b"0123456789", "text/plain")
    r = await http.get(storage.signed_get_url("e/digits"), headers={"Range": header})
    assert r.status_code == status
    if status == 206 or isinstance(storage, LocalDiskStorage):
        assert r.headers["content-range"] == content_range  # S3 omits it on 416
    if body is not None:
        assert r.content == body
        assert r.headers["content-length"] == str(len(body))
        assert r.headers["accept-ranges"] == "bytes"


async def test_expires_at_gives_the_same_url_all_window_long(
    storage: Storage, http: httpx.AsyncClient
) -> None:
    await storage.put(KEY, JPEG, "image/jpeg")
    expires_at = int(time.time()) + 1800
    first = storage.signed_get_url(KEY, expires_at=expires_at)
    await asyncio.sleep(1.1)
    assert storage.signed_get_url(KEY, expires_at=expires_at) == first
    assert storage.signed_get_url(KEY, expires_at=expires_at + 1) != first
    r = await http.get(first)
    assert r.status_code == 200
    assert r.content == JPEG
    max_age = int(r.headers["cache-control"].rsplit("=", 1)[1])
    assert 0 < max_age <= 3600
    with pytest.raises(InvalidKey):
        storage.signed_get_url(KEY, expires_at=int(time.time()) - 1)


async def test_presigning_is_a_pure_function_of_key_and_expiry(storage: Storage) -> None:
    """A feed page presigns 60 URLs inline: no I/O, the same URL for the same key and expiry
    (so an unchanged page keeps its ETag), a different one for another key."""
    expires_at = int(time.time()) + 600
    urls = [
        storage.signed_get_url(f"events/e1/p{i}/thumb.jpg", expires_at=expires_at)
        for i in range(60)
    ]
    assert len(set(urls)) == 60
    again = [
        storage.signed_get_url(f"events/e1/p{i}/thumb.jpg", expires_at=expires_at)
        for i in range(60)
    ]
    assert again == urls


async def test_s3_presigned_urls_sign_expiry_and_content_type(
    moto_endpoint: str, s3_admin: BaseClient
) -> None:
    storage = s3_storage(moto_endpoint, make_bucket(s3_admin))
    await storage.open()
    try:
        await _check_s3_presigned_urls(storage)
    finally:
        await storage.close()


async def _check_s3_presigned_urls(storage: S3Storage) -> None:
    url = storage.signed_get_url(KEY, 120)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.path == f"/{storage.bucket}/{KEY}"  # path-style with an endpoint
    assert query["X-Amz-Expires"] == ["120"]
    assert query["response-cache-control"] == ["private, max-age=120"]
    assert query["X-Amz-SignedHeaders"] == ["host"]
    target = storage.signed_put(KEY, "image/jpeg", expires_in=60)
    query = parse_qs(urlsplit(target.url).query)
    assert query["X-Amz-Expires"] == ["60"]
    # S3 refuses an upload whose Content-Type differs from the signed one.
    assert query["X-Amz-SignedHeaders"] == ["content-type;host"]


async def test_local_urls_point_at_files_route(local_storage: LocalDiskStorage) -> None:
    storage = local_storage
    parts = urlsplit(storage.signed_get_url(KEY, 120))
    assert (parts.scheme, parts.netloc, parts.path) == ("http", "testserver", f"/files/{KEY}")
    query = parse_qs(parts.query)
    assert set(query) == {"expires", "sig"}
    assert int(query["expires"][0]) - time.time() == pytest.approx(120, abs=5)
