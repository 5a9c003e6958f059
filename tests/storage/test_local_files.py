"""The local backend's `/files` routes: every refusal, and what a valid URL gets.

Each refusal test checks the answer (status and stable code) and that nothing stored, and
nothing on disk around the storage root, changed. (The same refusals on S3 are the S3
server's job; moto does not check signatures, see test_sigv4.py for why ours are right.)
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message

from momento.storage import LocalDiskStorage, NoStorage, UnsafePath
from momento.storage.endpoints import parse_range
from tests.storage.helpers import files_app, http_client, stored, tree

KEY = "events/e1/p1/original"
OTHER = "events/e1/p1/thumb.jpg"
DATA = b"0123456789" * 100


@pytest.fixture
async def filled(local_storage: LocalDiskStorage) -> LocalDiskStorage:
    await local_storage.put(KEY, DATA, "image/heic")
    await local_storage.put(OTHER, b"thumb", "image/jpeg")
    return local_storage


def _problem(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    if r.request.method != "HEAD":
        assert r.json()["code"] == code
    assert r.headers["cache-control"] == "no-store"


def _with_query(url: str, **changes: str | None) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return parts._replace(query=urlencode(query)).geturl()


class Unchanged:
    """Snapshots of the stored objects and of the whole folder around the root."""

    def __init__(self, storage: LocalDiskStorage, around: Path) -> None:
        self.storage = storage
        self.around = around

    async def __aenter__(self) -> Unchanged:
        self.objects = await stored(self.storage)
        self.files = tree(self.around)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if exc[0] is None:
            assert await stored(self.storage) == self.objects
            assert tree(self.around) == self.files


@pytest.fixture
def unchanged(filled: LocalDiskStorage, tmp_path: Path) -> Callable[[], Unchanged]:
    return lambda: Unchanged(filled, tmp_path)


# --- expiry and signatures ------------------------------------------------------------------


async def test_valid_url_works(filled: LocalDiskStorage, local_http: httpx.AsyncClient) -> None:
    r = await local_http.get(filled.signed_get_url(KEY))
    assert r.status_code == 200
    assert r.content == DATA


async def test_expired_urls_are_refused(
    filled: LocalDiskStorage, local_http: httpx.AsyncClient, unchanged: Callable[[], Unchanged]
) -> None:
    past = int(time.time()) - 1
    async with unchanged():
        _problem(await local_http.get(filled.signer.get_url(KEY, past)), 403, "url_expired")
        _problem(await local_http.head(filled.signer.get_url(KEY, past)), 403, "url_expired")
        put_url = filled.signer.put_url(KEY, past, "image/jpeg", 10_000)
        r = await local_http.put(put_url, content=b"new", headers={"Content-Type": "image/jpeg"})
        _problem(r, 403, "url_expired")


TAMPERINGS: dict[str, Callable[[str], str]] = {
    "signature flipped": lambda u: (
        _with_query(u, sig=dict(parse_qsl(urlsplit(u).query))["sig"][:-1] + "0")
        if not u.endswith("0")
        else _with_query(u, sig=dict(parse_qsl(urlsplit(u).query))["sig"][:-1] + "1")
    ),
    "signature removed": lambda u: _with_query(u, sig=None),
    "signature not hex": lambda u: _with_query(u, sig="z" * 64),
    "signature empty": lambda u: _with_query(u, sig=""),
    "expiry extended": lambda u: _with_query(
        u, expires=str(int(dict(parse_qsl(urlsplit(u).query))["expires"]) + 3600)
    ),
    "expiry removed": lambda u: _with_query(u, expires=None),
    "expiry not a number": lambda u: _with_query(u, expires="1e99"),
    "other key": lambda u: u.replace("/p1/original", "/p1/thumb.jpg"),
    "other folder": lambda u: u.replace("/e1/", "/e2/"),
    "download name added": lambda u: _with_query(u, filename="x.html"),
}


@pytest.mark.parametrize("how", TAMPERINGS)
async def test_tampered_get_urls_are_refused(
    filled: LocalDiskStorage,
    local_http: httpx.AsyncClient,
    unchanged: Callable[[], Unchanged],
    how: str,
) -> None:
    url = TAMPERINGS[how](filled.signed_get_url(KEY))
    async with unchanged():
        _problem(await local_http.get(url), 403, "signature_invalid")
        _problem(await local_http.head(url), 403, "signature_invalid")


PUT_TAMPERINGS: dict[str, Callable[[str], str]] = {
    **{k: v for k, v in TAMPERINGS.items() if k != "download name added"},
    "larger cap": lambda u: _with_query(u, max="999999999"),
    "cap removed": lambda u: _with_query(u, max=None),
    "other type": lambda u: _with_query(u, type="text/html"),
}


@pytest.mark.parametrize("how", PUT_TAMPERINGS)
async def test_tampered_put_urls_are_refused(
    filled: LocalDiskStorage,
    local_http: httpx.AsyncClient,
    unchanged: Callable[[], Unchanged],
    how: str,
) -> None:
    target = filled.signed_put(KEY, "image/jpeg", max_bytes=10_000)
    url = PUT_TAMPERINGS[how](target.url)
    ctype = dict(parse_qsl(urlsplit(url).query)).get("type", "image/jpeg")
    async with unchanged():
        r = await local_http.put(url, content=b"evil", headers={"Content-Type": ctype})
        _problem(r, 403, "signature_invalid")


async def test_get_and_put_signatures_are_not_interchangeable(
    filled: LocalDiskStorage, local_http: httpx.AsyncClient, unchanged: Callable[[], Unchanged]
) -> None:
    get_url = filled.signed_get_url(KEY)
    put = filled.signed_put(KEY, "image/jpeg", max_bytes=10_000)
    async with unchanged():
        # A read URL, dressed up as an upload URL.
        forged = _with_query(get_url, type="image/jpeg", max="10000")
        r = await local_http.put(forged, content=b"evil", headers={"Content-Type": "image/jpeg"})
        _problem(r, 403, "signature_invalid")
        r = await local_http.put(get_url, content=b"evil", headers={"Content-Type": "image/jpeg"})
        _problem(r, 403, "signature_invalid")
        # An upload URL used to read.
        _problem(await local_http.get(put.url), 403, "signature_invalid")
        r = await local_http.post(get_url, content=b"evil")
        assert r.status_code == 405


async def test_another_secret_is_refused(
    filled: LocalDiskStorage, local_http: httpx.AsyncClient, unchanged: Callable[[], Unchanged]
) -> None:
    from momento.storage import FileUrlSigner

    forged = FileUrlSigner(b"another secret of enough length!", "http://testserver")
    async with unchanged():
        r = await local_http.get(forged.get_url(KEY, int(time.time()) + 60))
        _problem(r, 403, "signature_invalid")


# --- uploads ----------------------------------------------------------------------------------


async def test_upload_replaces_atomically(
    filled: LocalDiskStorage, local_http: httpx.AsyncClient
) -> None:
    """While an upload streams in, readers get the old file; then the new one."""
    target = filled.signed_put(KEY, "image/jpeg", max_bytes=100_000)
    halfway = asyncio.Event()
    go_on = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield b"N" * 30_000
        halfway.set()
        await go_on.wait()
        yield b"N" * 30_000

    upload = asyncio.create_task(local_http.put(target.url, content=body(), headers=target.headers))
    await halfway.wait()
    await asyncio.sleep(0.05)
    r = await local_http.get(filled.signed_get_url(KEY))
    assert r.content == DATA
    assert r.headers["content-type"] == "image/heic"
    go_on.set()
    assert (await upload).status_code == 200
    r = await local_http.get(filled.signed_get_url(KEY))
    assert r.content == b"N" * 60_000
    assert r.headers["content-type"] == "image/jpeg"
    assert os.listdir(filled.root / ".incoming") == []


async def test_wrong_content_type_is_refused(
    filled: LocalDiskStorage, local_http: httpx.AsyncClient, unchanged: Callable[[], Unchanged]
) -> None:
    target = filled.signed_put(KEY, "image/jpeg", max_bytes=10_000)
    async with unchanged():
        for sent in ({"Content-Type": "text/html"}, {"Content-Type": "image/jpeg; x=1"}, {}):
            r = await local_http.put(target.url, content=b"evil", headers=sent)
            _problem(r, 400, "content_type_mismatch")


async def test_oversize_upload_is_refused(
    filled: LocalDiskStorage, local_http: httpx.AsyncClient, unchanged: Callable[[], Unchanged]
) -> None:
    target = filled.signed_put(KEY, "image/jpeg", max_bytes=1000)

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
        for _ in range(5):
            yield b"x" * 300

    async with unchanged():
        r = await local_http.put(target.url, content=b"x" * 1001, headers=target.headers)
        _problem(r, 413, "file_too_large")
        r = await local_http.put(target.url, content=chunks(), headers=target.headers)
        _problem(r, 413, "file_too_large")
    assert os.listdir(filled.root / ".incoming") == []
    r = await local_http.put(target.url, content=b"x" * 1000, headers=target.headers)
    assert r.status_code == 200
    assert await filled.read(KEY) == b"x" * 1000


async def test_upload_over_the_app_body_limit_is_fine(local_storage: LocalDiskStorage) -> None:
    """The app's JSON body limit does not apply to /files: the signed cap does."""
    target = local_storage.signed_put(KEY, "image/jpeg", max_bytes=50_000)
    async with http_client(files_app(local_storage, max_body_bytes=1024)) as client:
        r = await client.put(target.url, content=b"y" * 40_000, headers=target.headers)
    assert r.status_code == 200, r.text
    assert await local_storage.read(KEY) == b"y" * 40_000


async def test_empty_upload(local_storage: LocalDiskStorage, local_http: httpx.AsyncClient) -> None:
    target = local_storage.signed_put(KEY, "image/jpeg", max_bytes=10)
    assert (
        await local_http.put(target.url, content=b"", headers=target.headers)
    ).status_code == 200
    r = await local_http.get(local_storage.signed_get_url(KEY))
    assert (r.status_code, r.content, r.headers["content-length"]) == (200, b"", "0")


# --- keys that leave the root -----------------------------------------------------------------


async def raw_request(
    app: FastAPI,
    method: str,
    raw_path: str,
    query: dict[str, str],
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes = b"",
) -> tuple[int, dict[str, str], bytes]:
    """One request straight into the ASGI app, with the path exactly as given (httpx would
    normalise `..` away before our code could see it)."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode("latin-1"),
        "root_path": "",
        "query_string": urlencode(query).encode(),
        "headers": [(b"host", b"testserver"), *(headers or [])],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    sent = False
    status = 0
    out_headers: dict[str, str] = {}
    chunks: list[bytes] = []

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            out_headers.update((k.decode(), v.decode()) for k, v in message["headers"])
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, out_headers, b"".join(chunks)


ESCAPES = [
    "/files/../outside/secret.txt",
    "/files/events/../../outside/secret.txt",
    "/files/%2e%2e/outside/secret.txt",
    "/files/%2E%2E%2Foutside%2Fsecret.txt",
    "/files/events/%2e%2e/%2e%2e/outside/secret.txt",
    "/files//etc/passwd",
    "/files/%2Fetc%2Fpasswd",
    f"/files/{Path('/etc/passwd').as_posix()}",
    "/files/..%5Coutside%5Csecret.txt",
    "/files/..\\outside\\secret.txt",
    "/files/events%00/secret.txt",
    "/files/events/e1//original",
    "/files/events/./e1/p1/original",
    "/files/.incoming/anything",
    "/files/events/e1/p1/.original.meta",
    "/files/",
    "/files/~/secret.txt",
]


@pytest.mark.parametrize("raw_path", ESCAPES)
async def test_keys_that_leave_the_root_are_refused(
    filled: LocalDiskStorage, unchanged: Callable[[], Unchanged], raw_path: str
) -> None:
    """Refused even when correctly signed for exactly that path: no way out of the root."""
    app = files_app(filled)
    key = unquote(raw_path).removeprefix("/files/")
    expires = int(time.time()) + 60
    get_query = {"expires": str(expires), "sig": filled.signer.signature("GET", key, expires, "")}
    put_query = {
        "expires": str(expires),
        "type": "image/jpeg",
        "max": "100",
        "sig": filled.signer.signature("PUT", key, expires, "image/jpeg", "100"),
    }
    async with unchanged():
        for method in ("GET", "HEAD"):
            status, _, body = await raw_request(app, method, raw_path, get_query)
            assert status == 400, (method, status, body)
            assert b"top secret" not in body
            assert b"invalid_key" in body or method == "HEAD"
        status, _, body = await raw_request(
            app, "PUT", raw_path, put_query, [(b"content-type", b"image/jpeg")], b"pwned"
        )
        assert status == 400, body
        assert b"invalid_key" in body
    assert (filled.root.parent / "outside" / "secret.txt").read_bytes() == b"top secret"


# --- symbolic links and other strangers inside the root ----------------------------------------


@pytest.fixture
def planted(filled: LocalDiskStorage, outside: Path) -> LocalDiskStorage:
    """A link to a file outside, a link to a folder outside, and a FIFO, inside the root."""
    (filled.root / "events" / "e1" / "p1" / "link.jpg").symlink_to(outside / "secret.txt")
    (filled.root / "evil").symlink_to(outside, target_is_directory=True)
    os.mkfifo(filled.root / "events" / "e1" / "p1" / "pipe.jpg")
    return filled


async def test_links_are_not_followed_over_http(
    planted: LocalDiskStorage,
    local_http: httpx.AsyncClient,
    unchanged: Callable[[], Unchanged],
    outside: Path,
) -> None:
    async with unchanged():
        for key in ("events/e1/p1/link.jpg", "evil/secret.txt", "events/e1/p1/pipe.jpg"):
            url = planted.signed_get_url(key)
            r = await local_http.get(url)
            _problem(r, 404, "not_found")
            assert b"top secret" not in r.content
            assert (await local_http.head(url)).status_code == 404
        for key in ("events/e1/p1/link.jpg", "evil/secret.txt", "evil/new.jpg", "evil/a/b.jpg"):
            target = planted.signed_put(key, "image/jpeg", max_bytes=100)
            r = await local_http.put(target.url, content=b"pwned", headers=target.headers)
            _problem(r, 409, "key_conflict")
    assert sorted(os.listdir(outside)) == ["secret.txt"]
    assert (outside / "secret.txt").read_bytes() == b"top secret"
    assert (planted.root / "evil").is_symlink()
    assert (planted.root / "events" / "e1" / "p1" / "link.jpg").is_symlink()


async def test_links_are_not_followed_by_the_api(
    planted: LocalDiskStorage, unchanged: Callable[[], Unchanged], outside: Path
) -> None:
    async with unchanged():
        for key in ("events/e1/p1/link.jpg", "evil/secret.txt"):
            with pytest.raises(UnsafePath):
                await planted.read(key)
            with pytest.raises(UnsafePath):
                await planted.stat(key)
            with pytest.raises(UnsafePath):
                await planted.put(key, b"pwned", "image/jpeg")
            with pytest.raises(UnsafePath):
                async with planted.local_file(key):
                    pass
        with pytest.raises(UnsafePath):
            await planted.put("evil/new.jpg", b"pwned", "image/jpeg")
        with pytest.raises(UnsafePath):
            [i async for i in planted.list("evil/")]
        with pytest.raises(UnsafePath):
            await planted.delete_prefix("evil/")
        # Listings skip links and FIFOs: only real files are objects.
        assert [i.key async for i in planted.list("")] == [KEY, OTHER]
    assert await planted.stat("events/e1/p1/pipe.jpg") is None


async def test_deleting_a_folder_removes_links_not_their_targets(
    planted: LocalDiskStorage, outside: Path
) -> None:
    assert await planted.delete_prefix("events/") == 2
    await planted.delete("evil")
    assert sorted(os.listdir(outside)) == ["secret.txt"]
    assert (outside / "secret.txt").read_bytes() == b"top secret"
    assert [i.key async for i in planted.list("")] == []


async def test_a_linked_root_folder_of_the_operator_is_fine(tmp_path: Path) -> None:
    """The root itself may be a link (an operator's choice); links below it are refused."""
    from momento.storage import FileUrlSigner
    from tests.storage.helpers import BASE_URL, SECRET

    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "root-link").symlink_to(real, target_is_directory=True)
    storage = LocalDiskStorage(tmp_path / "root-link", FileUrlSigner(SECRET, BASE_URL))
    await storage.open()
    await storage.put(KEY, b"ok", "image/jpeg")
    assert (real / KEY).read_bytes() == b"ok"


# --- what a valid URL gets --------------------------------------------------------------------


async def test_response_headers(filled: LocalDiskStorage, local_http: httpx.AsyncClient) -> None:
    url = filled.signed_get_url(KEY, 600)
    r = await local_http.get(url)
    assert r.status_code == 200
    h = r.headers
    assert h["content-type"] == "image/heic"  # stored with the object, not from the name
    assert h["content-length"] == str(len(DATA))
    assert h["accept-ranges"] == "bytes"
    assert h["x-content-type-options"] == "nosniff"
    assert h["etag"].startswith('"')
    assert h["last-modified"].endswith("GMT")
    directive, max_age = h["cache-control"].split("=")
    assert directive == "private, max-age"
    assert 590 <= int(max_age) <= 600

    head = await local_http.head(url)
    assert head.status_code == 200
    assert head.content == b""
    for name in ("content-type", "content-length", "etag", "accept-ranges", "cache-control"):
        assert head.headers[name] == h[name]

    r = await local_http.get(url, headers={"If-None-Match": h["etag"]})
    assert (r.status_code, r.content, r.headers["etag"]) == (304, b"", h["etag"])
    r = await local_http.get(url, headers={"If-None-Match": '"other"'})
    assert r.status_code == 200


async def test_ranges(filled: LocalDiskStorage, local_http: httpx.AsyncClient) -> None:
    url = filled.signed_get_url(KEY)
    etag = (await local_http.head(url)).headers["etag"]
    r = await local_http.get(url, headers={"Range": "bytes=10-19"})
    assert (r.status_code, r.content, r.headers["content-range"]) == (
        206,
        DATA[10:20],
        f"bytes 10-19/{len(DATA)}",
    )
    r = await local_http.get(url, headers={"Range": "bytes=10-19", "If-Range": etag})
    assert r.status_code == 206
    # A stale If-Range, several ranges, or nonsense: the whole file.
    for headers in (
        {"Range": "bytes=10-19", "If-Range": '"stale"'},
        {"Range": "bytes=0-1,5-6"},
        {"Range": "bytes=abc"},
        {"Range": "lines=1-2"},
        {"Range": "bytes=9-3"},
    ):
        r = await local_http.get(url, headers=headers)
        assert (r.status_code, r.content) == (200, DATA), headers
    r = await local_http.get(url, headers={"Range": f"bytes={len(DATA)}-"})
    _problem(r, 416, "range_not_satisfiable")
    assert r.headers["content-range"] == f"bytes */{len(DATA)}"
    # Bigger than one read chunk.
    await filled.put("big", bytes(range(256)) * 4096, "application/octet-stream")
    r = await local_http.get(filled.signed_get_url("big"), headers={"Range": "bytes=1000-"})
    assert r.content == (bytes(range(256)) * 4096)[1000:]


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-0", 1, (0, 0)),
        ("bytes=-1", 5, (4, 4)),
        ("bytes=-10", 5, (0, 4)),
        ("bytes = 1-2", 5, (1, 2)),
        ("bytes=1-2", 5, (1, 2)),
        ("BYTES=1-", 5, (1, 4)),
        ("bytes=-", 5, None),
        ("bytes=", 5, None),
        ("bytes=1-2-3", 5, None),
        ("bytes=+1-2", 5, None),
    ],
)
def test_parse_range(header: str, size: int, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(("header", "size"), [("bytes=-0", 5), ("bytes=0-", 0), ("bytes=5-", 5)])
def test_parse_range_unsatisfiable(header: str, size: int) -> None:
    from momento.storage.endpoints import RangeNotSatisfiable

    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, size)


async def test_files_routes_answer_404_without_local_storage(
    local_storage: LocalDiskStorage,
) -> None:
    url = local_storage.signed_get_url(KEY)
    async with http_client(files_app(NoStorage())) as client:
        _problem(await client.get(url), 404, "not_found")
