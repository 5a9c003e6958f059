"""GET /v1/events/{id}/export.zip: the photos a member may see as one streamed ZIP, on the
local disk and on S3 (moto), with multi-megabyte originals read in chunks; the browser's
single-use download link; the premium-only setting."""

from __future__ import annotations

import io
import os
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime

from momento.photos import export, files
from momento.photos.service import ORIGINAL, key
from tests.factories import (
    BASE,
    HOUR,
    TestUser,
    add_photos,
    assert_problem,
    create_user,
    make_event,
    reveal,
    sql,
)
from tests.photos.uploads import Backend


async def _original(
    b: Backend, event: uuid.UUID, photo: uuid.UUID, data: bytes, content_type: str
) -> None:
    await b.storage.put(key(f"events/{event}/{photo}", ORIGINAL), data, content_type)
    await sql(
        b.services,
        "UPDATE public.photo_media SET content_type = %s, byte_size = %s WHERE photo_id = %s",
        content_type,
        len(data),
        photo,
    )


async def test_the_archive_holds_what_the_member_may_see(backend: Backend) -> None:
    b = backend
    ana = await create_user(b.services, "ana")
    bob = await create_user(b.services, "bob")
    event = await make_event(b.services, ana, name="Wedding", members=[bob])
    big = os.urandom(5 * 1024 * 1024 + 123)  # several S3 network chunks
    heic = os.urandom(300_000)
    (p1,) = await add_photos(b.services, event, ana, [BASE])
    (p2, p3) = await add_photos(b.services, event, bob, [BASE + HOUR, BASE + HOUR])
    (hidden,) = await add_photos(b.services, event, bob, [BASE], flagged=True)
    (failed,) = await add_photos(b.services, event, bob, [BASE], status="failed")
    await _original(b, event, p1, big, "image/jpeg")
    await _original(b, event, p2, heic, "image/heic")
    await _original(b, event, p3, b"\xff\xd8small", "image/jpeg")
    await _original(b, event, hidden, b"hidden", "image/jpeg")

    # Before the reveal: nothing to download.
    r = await b.client.get(f"/v1/events/{event}/export.zip", headers=ana.headers)
    assert_problem(r, 409, "not_revealed")
    await reveal(b.services, event)

    r = await b.client.get(f"/v1/events/{event}/export.zip", headers=ana.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert int(r.headers["content-length"]) == len(r.content)
    assert r.headers["content-disposition"] == 'attachment; filename="Wedding.zip"'
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        assert z.testzip() is None
        names = z.namelist()
        # Capture order; the HEIC original keeps its type; hidden and failed ones are left out.
        assert names[0] == "ana-20250601-120000.jpg"
        assert sorted(names[1:]) == ["bob-20250601-130000.heic", "bob-20250601-130000.jpg"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
        assert z.read("ana-20250601-120000.jpg") == big
        assert z.read("bob-20250601-130000.heic") == heic
        assert z.read("bob-20250601-130000.jpg") == b"\xff\xd8small"
    assert failed not in {p1, p2, p3}

    # Bob, the owner of the hidden photo, gets it too (as the feed shows it to him).
    r = await b.client.get(f"/v1/events/{event}/export.zip", headers=bob.headers)
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        assert len(z.namelist()) == 4
        assert b"hidden" in {z.read(n) for n in z.namelist()}

    stranger = await create_user(b.services)
    r = await b.client.get(f"/v1/events/{event}/export.zip", headers=stranger.headers)
    assert_problem(r, 404, "event_not_found")
    r = await b.client.get(f"/v1/events/{event}/export.zip")
    assert r.status_code == 401


async def test_a_download_link_works_once(backend: Backend) -> None:
    b = backend
    ana = await create_user(b.services)
    event = await make_event(b.services, ana, revealed=True)
    (p1,) = await add_photos(b.services, event, ana, [BASE])
    await _original(b, event, p1, b"photo bytes", "image/jpeg")

    r = await b.client.post(f"/v1/events/{event}/export/link", headers=ana.headers)
    assert r.status_code == 200, r.text
    url = r.json()["url"]
    assert url.startswith(f"/v1/events/{event}/export.zip?ticket=")
    assert ana.token not in url
    # No Authorization header: the ticket alone.
    r = await b.client.get(url)
    assert r.status_code == 200, r.text
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        assert [z.read(n) for n in z.namelist()] == [b"photo bytes"]
    r = await b.client.get(url)
    assert_problem(r, 401, "invalid_ticket")
    # A ticket is for its event only.
    other = await make_event(b.services, ana, revealed=True)
    r = await b.client.post(f"/v1/events/{event}/export/link", headers=ana.headers)
    r = await b.client.get(r.json()["url"].replace(str(event), str(other)))
    assert_problem(r, 401, "invalid_ticket")
    # No link before the reveal.
    later = await make_event(b.services, ana)
    r = await b.client.post(f"/v1/events/{later}/export/link", headers=ana.headers)
    assert_problem(r, 409, "not_revealed")


async def test_premium_only_when_configured(backend: Backend) -> None:
    b = backend
    ana: TestUser = await create_user(b.services)
    free = await make_event(b.services, ana, revealed=True)
    paid = await make_event(b.services, ana, revealed=True, premium=True)
    b.configure(export_zip="premium")
    r = await b.client.get(f"/v1/events/{free}/export.zip", headers=ana.headers)
    assert_problem(r, 403, "premium_required")
    r = await b.client.post(f"/v1/events/{free}/export/link", headers=ana.headers)
    assert_problem(r, 403, "premium_required")
    r = await b.client.get(f"/v1/events/{paid}/export.zip", headers=ana.headers)
    assert r.status_code == 200
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        assert z.namelist() == []


def test_entry_names() -> None:
    at = datetime(2026, 5, 8, 20, 30, 12, tzinfo=UTC)
    assert files.original_filename("ana", at, "image/jpeg") == "ana-20260508-203012.jpg"
    assert files.original_filename("ana", at, "image/heic") == "ana-20260508-203012.heic"
    assert files.original_filename("ana", at, "image/png") == "ana-20260508-203012.png"
    assert files.original_filename("ana", at, None) == "ana-20260508-203012.jpg"
    # Two photos in the same second.
    assert export.unique_names(["a-1.jpg", "a-1.jpg", "a-1.heic", "a-1.jpg"]) == [
        "a-1.jpg",
        "a-1-2.jpg",
        "a-1.heic",
        "a-1-3.jpg",
    ]


async def test_zip64_past_4_gb_streams_in_flat_memory() -> None:
    """The library's ZIP64 path with a sized stream: a 4.1 GB entry of zeros, never held."""
    import zipstream

    size = (1 << 32) + 1024
    chunk = bytes(1 << 20)

    def zeros() -> Iterator[bytes]:
        left = size
        while left:
            n = min(left, len(chunk))
            left -= n
            yield chunk[:n]

    zs = zipstream.ZipStream(compress_type=zipstream.ZIP_STORED, sized=True)
    zs.add(zeros(), "big.bin", size=size)
    length = len(zs)
    assert length > size
    total = 0
    tail = b""
    for part in zs:
        total += len(part)
        tail = (tail + part)[-200:]
    assert total == length
    # The ZIP64 end-of-central-directory record's signature.
    assert b"PK\x06\x06" in tail
