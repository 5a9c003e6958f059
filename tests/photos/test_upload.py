"""The upload flow end to end, on the local disk and on S3: create, PUT, complete, and every
way it refuses.

Each refusal asserts the answer and that nothing stored changed: the photo rows and their
media details (read as the table owner), and every stored object (with the local backend,
every file under the test's folder, beside the storage root included).

moto checks neither the signature nor the expiry of a presigned URL (it stores whatever is
PUT to any key of the bucket), so the tests of refused signed URLs run on the local backend,
whose /files routes are ours; on S3 the refusal is S3's job, and tests/storage/test_sigv4.py
shows our presigned URLs are exactly botocore's. What the server controls on S3 (the size
check and the sniffing at completion) is tested on both backends.
"""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pillow_heif
import pytest
import pyvips

from tests.factories import TestUser, assert_problem, iso, join
from tests.photos.images import (
    SECRETS,
    assert_no_identifying_metadata,
    camera_jpeg,
    heic,
    identifying_exif,
    picture,
    plain_jpeg,
    png_bomb,
)
from tests.photos.uploads import (
    NOT_AN_IMAGE,
    Backend,
    complete,
    create,
    created,
    open_event,
    photo_path,
    put,
    rejected,
    row_of,
    uploaded,
)

HOUR = timedelta(hours=1)
# For tests whose subject does not depend on the backend, and for refusals of bad signed URLs:
# on local disk those are our /files routes' job, on S3 they are S3's, which moto does not
# do (it accepts whatever is PUT to any key).
LOCAL_ONLY = pytest.mark.parametrize("backend", ["local"], indirect=True)


def _png() -> bytes:
    buffer = io.BytesIO()
    picture(320, 240).save(buffer, "PNG", exif=identifying_exif(1).tobytes())
    return buffer.getvalue()


def _webp() -> bytes:
    buffer = io.BytesIO()
    picture(320, 240).save(buffer, "WEBP", exif=identifying_exif(1).tobytes())
    return buffer.getvalue()


def _size(data: bytes) -> tuple[int, int]:
    image = pyvips.Image.new_from_buffer(data, "")
    return image.width, image.height


# --- happy paths --------------------------------------------------------------------------

FORMATS: dict[str, tuple[Callable[[], bytes], str, tuple[int, int]]] = {
    # name: (make the upload, declared type, size once oriented)
    "jpeg": (lambda: camera_jpeg(640, 480, orientation=6), "image/jpeg", (480, 640)),
    "heic": (lambda: heic(picture(160, 120), identifying_exif(6)), "image/heic", (120, 160)),
    "png": (_png, "image/png", (320, 240)),
    "webp": (_webp, "image/webp", (320, 240)),
}


@pytest.mark.parametrize("kind", list(FORMATS))
async def test_upload_complete_and_fetch(backend: Backend, alice: TestUser, kind: str) -> None:
    make, content_type, (width, height) = FORMATS[kind]
    data = make()
    assert b"Jane Doe" in data  # the identifying Exif is really there
    event = await open_event(backend, alice)
    body = await created(backend, alice, event, data, content_type)
    upload = body["upload"]
    assert upload["method"] == "PUT"
    assert upload["headers"] == {"Content-Type": content_type}
    assert upload["max_bytes"] == backend.services.settings.max_upload_bytes
    assert datetime.fromisoformat(upload["expires_at"]) > datetime.now(UTC)
    photo_id = body["photo"]["id"]
    path = photo_path(body["photo"])
    assert (await put(backend, upload, data)).status_code == 200
    assert await backend.keys() == {f"{path}/upload"}

    r = await complete(backend, alice, photo_id)

    assert r.status_code == 200, r.text
    photo = r.json()
    assert photo["upload_status"] == "uploaded"
    assert (photo["width"], photo["height"]) == (width, height)  # orientation applied
    assert photo["blurhash"]
    assert photo["failure"] is None
    row = row_of(await backend.rows(), photo_id)
    assert (row["upload_status"], row["width"], row["height"]) == ("uploaded", width, height)
    assert (row["content_type"], row["byte_size"]) == (content_type, len(data))
    assert row["blurhash"] == photo["blurhash"]
    assert row["failure_code"] is None
    # The raw upload (location included) is gone; only what members may fetch is left.
    assert await backend.keys() == {f"{path}/original", f"{path}/display.jpg", f"{path}/thumb.jpg"}
    assert await backend.storage.stat(f"{path}/upload") is None

    r = await backend.client.get(f"/v1/events/{event['id']}/photos", headers=alice.headers)
    assert r.status_code == 200, r.text
    [item] = r.json()["items"]
    assert (item["id"], item["width"], item["height"]) == (photo_id, width, height)
    assert item["blurhash"] == photo["blurhash"]
    files: dict[str, bytes] = {}
    types: dict[str, str] = {}
    for name, url in item["urls"].items():
        got = await backend.client.get(url)
        assert got.status_code == 200, (name, got.text[:200])
        files[name] = got.content
        types[name] = got.headers["content-type"]
    longest = max(width, height)
    if kind == "heic":
        # The phone's HEIC stays the original, served as such, its Exif gone (issue 14);
        # libvips here cannot decode HEVC, so pillow-heif checks it.
        assert types["original"] == "image/heic"
        original_heif = pillow_heif.open_heif(files.pop("original"))
        assert original_heif.info.get("exif") is None
        assert original_heif.size == (width, height)
    for name, content in files.items():
        assert_no_identifying_metadata(content)
        for secret in SECRETS:
            assert secret not in content, name
        assert b"GPS" not in content
    thumb = _size(files["thumbnail"])
    assert thumb in ((width, height), (height, width)) or max(thumb) == 400
    assert max(thumb) == min(400, longest)
    assert _size(files["display"]) == (width, height)
    assert max(_size(files["display"])) <= 2048
    if kind != "heic":
        original = pyvips.Image.new_from_buffer(files["original"], "").autorot()
        assert (original.width, original.height) == (width, height)
    for name in ("thumbnail", "display"):
        assert files[name].startswith(b"\xff\xd8\xff")

    # One photo's download: the original in its own type, named with its own extension.
    r = await backend.client.get(f"/v1/photos/{photo_id}", headers=alice.headers)
    assert r.status_code == 200, r.text
    got = await backend.client.get(r.json()["download"])
    assert got.status_code == 200
    assert got.headers["content-type"] == content_type
    ext = {"image/jpeg": "jpg", "image/heic": "heic", "image/png": "png", "image/webp": "webp"}
    disposition = got.headers["content-disposition"]
    assert disposition.startswith("attachment; filename=")
    assert disposition.endswith(f'.{ext[content_type]}"'), disposition
    assert f'filename="{alice.username}-' in disposition


# The variants' sizes do not depend on the backend: one is enough.
@LOCAL_ONLY
async def test_large_photo_gets_2048_display(backend: Backend, alice: TestUser) -> None:
    noise = pyvips.Image.gaussnoise(3000, 1000, sigma=40, mean=128).cast("uchar")
    data = bytes(noise.jpegsave_buffer(Q=70))
    event = await open_event(backend, alice)
    photo = await uploaded(backend, alice, event, data, "image/jpeg")
    assert (photo["width"], photo["height"]) == (3000, 1000)
    path = photo_path(photo)
    assert _size(await backend.storage.read(f"{path}/display.jpg")) == (2048, 683)
    assert _size(await backend.storage.read(f"{path}/thumb.jpg")) == (400, 133)
    assert _size(await backend.storage.read(f"{path}/original")) == (3000, 1000)


# --- retries ------------------------------------------------------------------------------


async def test_retry_with_the_same_id_returns_the_same_photo(
    backend: Backend, alice: TestUser, bob: TestUser
) -> None:
    event = await open_event(backend, alice)
    photo_id = uuid.uuid4()
    first = await create(backend, alice, event, photo_id=photo_id)
    assert first.status_code == 201, first.text
    assert first.json()["photo"]["id"] == str(photo_id)
    before = await backend.state()

    again = await create(backend, alice, event, photo_id=photo_id)

    assert again.status_code == 200, again.text
    assert again.json()["photo"] == first.json()["photo"]
    assert again.json()["upload"] is not None
    assert (
        urlsplit(again.json()["upload"]["url"]).path == urlsplit(first.json()["upload"]["url"]).path
    )
    assert await backend.state() == before
    assert len(before.rows) == 1

    # The same id for another event of hers, or by someone else: taken.
    other = await open_event(backend, alice)
    await join(backend.client, bob, event)
    for user, target in ((alice, other), (bob, event), (bob, other)):
        r = await create(backend, user, target, photo_id=photo_id)
        if user is bob and target is other:
            assert_problem(r, 404, "event_not_found")
        else:
            assert_problem(r, 409, "photo_id_taken")
    assert await backend.state() == before

    # Once uploaded, a retry still answers the photo, with nothing left to upload.
    data = plain_jpeg()
    assert (await put(backend, first.json()["upload"], data)).status_code == 200
    assert (await complete(backend, alice, str(photo_id))).status_code == 200
    after = await backend.state()
    r = await create(backend, alice, event, photo_id=photo_id)
    assert r.status_code == 200, r.text
    assert r.json()["upload"] is None
    assert r.json()["photo"]["upload_status"] == "uploaded"
    assert (r.json()["photo"]["width"], r.json()["photo"]["height"]) == (64, 48)
    assert await backend.state() == after


# --- who and when -------------------------------------------------------------------------


async def test_non_member_bad_id_and_deleted_event_are_refused(
    backend: Backend, alice: TestUser, bob: TestUser
) -> None:
    event = await open_event(backend, alice)
    before = await backend.state()

    assert_problem(await create(backend, bob, event), 404, "event_not_found")
    assert_problem(await create(backend, alice, str(uuid.uuid4())), 404, "event_not_found")
    r = await create(backend, alice, "not-a-uuid")
    assert r.status_code == 422, r.text
    r = await backend.client.post(
        f"/v1/events/{event['id']}/photos",
        json={"captured_at": iso(datetime.now(UTC)), "content_type": "image/jpeg", "byte_size": 1},
    )
    assert r.status_code == 401, r.text
    assert await backend.state() == before

    await join(backend.client, bob, event)
    r = await backend.client.delete(f"/v1/events/{event['id']}", headers=alice.headers)
    assert r.status_code == 204, r.text
    assert_problem(await create(backend, alice, event), 404, "event_not_found")
    assert_problem(await create(backend, bob, event), 404, "event_not_found")
    assert await backend.state() == before


async def test_capture_window(backend: Backend, alice: TestUser) -> None:
    now = datetime.now(UTC)
    event = await open_event(backend, alice, starts=-2 * HOUR, release=-HOUR)  # revealed
    before = await backend.state()

    for captured in (now - 3 * HOUR, now - HOUR + timedelta(minutes=1), now + HOUR):
        r = await create(backend, alice, event, captured_at=captured)
        assert_problem(r, 422, "outside_capture_window")
    assert await backend.state() == before

    # Revealed an hour ago, within the grace period (6 h): shot offline, accepted.
    data = plain_jpeg()
    r = await create(
        backend, alice, event, captured_at=now - timedelta(minutes=90), byte_size=len(data)
    )
    assert r.status_code == 201, r.text
    assert (await put(backend, r.json()["upload"], data)).status_code == 200
    assert (await complete(backend, alice, r.json()["photo"]["id"])).status_code == 200
    # The bounds themselves are inside the window.
    for bound in ("starts_at", "release_at"):
        at = datetime.fromisoformat(event[bound])
        assert (await create(backend, alice, event, captured_at=at)).status_code == 201

    # Past the grace period: closed, whatever the capture time.
    backend.configure(upload_grace=1800)
    before = await backend.state()
    for captured in (now - timedelta(minutes=90), now - 3 * HOUR):
        r = await create(backend, alice, event, captured_at=captured)
        assert_problem(r, 409, "uploads_closed")
    assert await backend.state() == before


async def test_capture_time_in_the_future_is_refused(backend: Backend, alice: TestUser) -> None:
    event = await open_event(backend, alice, release=timedelta(days=1))
    before = await backend.state()
    r = await create(backend, alice, event, captured_at=datetime.now(UTC) + HOUR)
    assert_problem(r, 422, "outside_capture_window")
    assert await backend.state() == before


# --- the photo limit ----------------------------------------------------------------------


async def test_photo_limit(backend: Backend, alice: TestUser, bob: TestUser) -> None:
    backend.configure(photo_limit_free=2, photo_limit_premium=3)
    event = await open_event(backend, alice)
    await join(backend.client, bob, event)
    first = (await create(backend, alice, event)).json()
    assert (await create(backend, alice, event)).status_code == 201
    before = await backend.state()

    r = await create(backend, alice, event)

    assert_problem(r, 409, "photo_limit_reached")
    assert r.json()["limit"] == 2
    assert await backend.state() == before
    # The limit is per member.
    assert (await create(backend, bob, event)).status_code == 201

    # A failed photo does not count.
    data = NOT_AN_IMAGE
    assert (await put(backend, first["upload"], data)).status_code == 200
    r = await complete(backend, alice, first["photo"]["id"])
    assert_problem(r, 422, "photo_rejected")
    assert (await create(backend, alice, event)).status_code == 201
    assert_problem(await create(backend, alice, event), 409, "photo_limit_reached")

    # A premium event has the premium limit.
    async with backend.services.db.privileged() as conn:
        await conn.execute(
            "UPDATE public.events SET is_premium = true WHERE id = %s", (event["id"],)
        )
    assert (await create(backend, alice, event)).status_code == 201
    before = await backend.state()
    r = await create(backend, alice, event)
    assert_problem(r, 409, "photo_limit_reached")
    assert r.json()["limit"] == 3
    assert await backend.state() == before


async def test_racing_for_the_last_slot(backend: Backend, alice: TestUser) -> None:
    backend.configure(photo_limit_free=1)
    for _ in range(3):
        event = await open_event(backend, alice)
        answers = await asyncio.gather(
            create(backend, alice, event, photo_id=uuid.uuid4()),
            create(backend, alice, event, photo_id=uuid.uuid4()),
        )
        assert sorted(r.status_code for r in answers) == [201, 409], [r.text for r in answers]
        assert_problem(next(r for r in answers if r.status_code == 409), 409, "photo_limit_reached")
        rows = [r for r in await backend.rows() if str(r["event_id"]) == event["id"]]
        assert len(rows) == 1


# --- what is declared ---------------------------------------------------------------------


async def test_declared_type_and_size_are_checked(backend: Backend, alice: TestUser) -> None:
    backend.configure(max_upload_bytes=64 * 1024)
    event = await open_event(backend, alice)
    before = await backend.state()
    for content_type in ("image/gif", "text/plain", "image/avif", "application/octet-stream"):
        r = await create(backend, alice, event, content_type=content_type)
        assert_problem(r, 422, "unsupported_type")
    assert_problem(await create(backend, alice, event, byte_size=64 * 1024 + 1), 413, "too_large")
    assert (await create(backend, alice, event, byte_size=0)).status_code == 422
    assert await backend.state() == before
    r = await create(backend, alice, event, byte_size=64 * 1024, content_type="Image/JPEG")
    assert r.status_code == 201, r.text
    assert r.json()["upload"]["headers"] == {"Content-Type": "image/jpeg"}


# --- completing ---------------------------------------------------------------------------


async def test_complete_before_upload_and_by_someone_else(
    backend: Backend, alice: TestUser, bob: TestUser
) -> None:
    event = await open_event(backend, alice)
    await join(backend.client, bob, event)
    data = plain_jpeg()
    body = await created(backend, alice, event, data, "image/jpeg")
    photo_id = body["photo"]["id"]
    before = await backend.state()

    assert_problem(await complete(backend, alice, photo_id), 409, "upload_missing")
    assert_problem(await complete(backend, bob, photo_id), 404, "photo_not_found")
    assert_problem(await complete(backend, alice, str(uuid.uuid4())), 404, "photo_not_found")
    assert await backend.state() == before
    assert row_of(before.rows, photo_id)["upload_status"] == "pending"

    assert (await put(backend, body["upload"], data)).status_code == 200
    before = await backend.state()
    assert_problem(await complete(backend, bob, photo_id), 404, "photo_not_found")
    assert await backend.state() == before

    first = await complete(backend, alice, photo_id)
    assert first.status_code == 200, first.text
    after = await backend.state()
    second = await complete(backend, alice, photo_id)
    assert second.status_code == 200, second.text
    assert second.json() == first.json()
    assert await backend.state() == after


async def test_wrong_bytes_are_refused_and_removed(backend: Backend, alice: TestUser) -> None:
    event = await open_event(backend, alice)
    body = await rejected(backend, alice, event, NOT_AN_IMAGE, "image/jpeg", "unsupported_type")
    photo_id = body["photo"]["id"]
    state = await backend.state()
    row = row_of(state.rows, photo_id)
    assert row["upload_status"] == "failed"
    assert row["failure_code"] == "unsupported_type"
    assert row["failure_reason"]
    assert row["byte_size"] == len(NOT_AN_IMAGE)
    assert (row["width"], row["height"], row["blurhash"]) == (None, None, None)
    assert await backend.keys() == set()

    # Completing again gives the same answer; the owner's retry shows why.
    r = await complete(backend, alice, photo_id)
    assert_problem(r, 422, "photo_rejected")
    assert r.json()["reason"] == "unsupported_type"
    r = await create(backend, alice, event, photo_id=uuid.UUID(photo_id))
    assert r.status_code == 200, r.text
    assert r.json()["upload"] is None
    assert r.json()["photo"]["upload_status"] == "failed"
    assert r.json()["photo"]["failure"] == {
        "code": "unsupported_type",
        "message": row["failure_reason"],
    }
    assert await backend.state() == state

    # Nobody else sees a failed photo.
    r = await backend.client.get(f"/v1/events/{event['id']}/photos", headers=alice.headers)
    assert r.json()["items"] == []


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(b"", "empty", id="empty"),
        pytest.param(plain_jpeg()[:300], "corrupt_image", id="truncated"),
        pytest.param(
            b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00;",
            "unsupported_type",
            id="gif",
        ),
        pytest.param(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "unsupported_type", id="svg"),
    ],
)
@LOCAL_ONLY  # sniffing does not depend on the backend (see wrong bytes, on both)
async def test_other_refused_files(
    backend: Backend, alice: TestUser, data: bytes, reason: str
) -> None:
    event = await open_event(backend, alice)
    body = await created(backend, alice, event, data or b"x", "image/jpeg")
    assert (await put(backend, body["upload"], data)).status_code == 200
    r = await complete(backend, alice, body["photo"]["id"])
    assert_problem(r, 422, "photo_rejected")
    assert r.json()["reason"] == reason
    row = row_of(await backend.rows(), body["photo"]["id"])
    assert (row["upload_status"], row["failure_code"]) == ("failed", reason)
    assert await backend.keys() == set()


async def test_too_large_upload(backend: Backend, alice: TestUser) -> None:
    limit = 64 * 1024
    backend.configure(max_upload_bytes=limit)
    event = await open_event(backend, alice)
    noise = pyvips.Image.gaussnoise(400, 400, sigma=60, mean=128).cast("uchar")
    data = bytes(noise.jpegsave_buffer(Q=95))
    assert len(data) > limit
    body = await created(backend, alice, event, data[:1000], "image/jpeg")  # declared small
    assert body["upload"]["max_bytes"] == limit
    photo_id = body["photo"]["id"]
    before = await backend.state()

    r = await put(backend, body["upload"], data)

    if backend.local:
        # The signed URL caps the size: refused while streaming, nothing kept.
        assert_problem(r, 413, "file_too_large")
        assert await backend.state() == before
        assert_problem(await complete(backend, alice, photo_id), 409, "upload_missing")
        assert await backend.state() == before
        return
    # A presigned S3 PUT cannot cap the size: completing refuses it and removes it.
    assert r.status_code == 200, r.text
    r = await complete(backend, alice, photo_id)
    assert_problem(r, 422, "photo_rejected")
    assert r.json()["reason"] == "too_large"
    row = row_of(await backend.rows(), photo_id)
    assert (row["upload_status"], row["failure_code"]) == ("failed", "too_large")
    assert row["byte_size"] == len(data)
    assert await backend.keys() == set()


async def test_decompression_bomb(backend: Backend, alice: TestUser) -> None:
    event = await open_event(backend, alice)
    bomb = png_bomb(30_000)
    assert len(bomb) < 500_000
    started = time.perf_counter()
    body = await rejected(backend, alice, event, bomb, "image/png", "too_many_pixels")
    assert time.perf_counter() - started < 5
    row = row_of(await backend.rows(), body["photo"]["id"])
    assert (row["upload_status"], row["failure_code"]) == ("failed", "too_many_pixels")
    assert (row["width"], row["height"]) == (None, None)
    assert await backend.keys() == set()


# --- signed upload URLs -------------------------------------------------------------------


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


async def _pending(b: Backend, user: TestUser) -> dict[str, Any]:
    event = await open_event(b, user)
    return await created(b, user, event, plain_jpeg(), "image/jpeg")


@LOCAL_ONLY
async def test_expired_upload_url_is_refused(backend: Backend, alice: TestUser) -> None:
    body = await _pending(backend, alice)
    key = photo_path(body["photo"]) + "/upload"
    target = backend.storage.signed_put(
        key, "image/jpeg", max_bytes=backend.services.settings.max_upload_bytes, expires_in=1
    )
    await asyncio.sleep(max(0.0, target.expires_at.timestamp() - time.time()) + 1.1)
    before = await backend.state()

    r = await backend.client.put(target.url, headers=target.headers, content=plain_jpeg())

    assert_problem(r, 403, "url_expired")
    assert await backend.state() == before
    assert_problem(await complete(backend, alice, body["photo"]["id"]), 409, "upload_missing")


@LOCAL_ONLY
async def test_tampered_upload_url_is_refused(backend: Backend, alice: TestUser) -> None:
    body = await _pending(backend, alice)
    other = await _pending(backend, alice)
    upload = body["upload"]
    url = upload["url"]
    query = dict(parse_qsl(urlsplit(url).query))
    sig_name = "sig" if backend.local else "X-Amz-Signature"
    sig = query[sig_name]
    flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    tampered = [
        _with_query(url, **{sig_name: flipped}),
        _with_query(
            url, **({"expires": "9999999999"} if backend.local else {"X-Amz-Expires": "604800"})
        ),
        _with_query(
            url, **({"max": "999999999"} if backend.local else {"X-Amz-Date": "20300101T000000Z"})
        ),
        # Another photo's key, with this photo's signature.
        url.replace(body["photo"]["id"], other["photo"]["id"]),
    ]
    before = await backend.state()

    answers = [await put(backend, upload, plain_jpeg(), url=bad) for bad in tampered]
    # The signed type is the only one accepted.
    answers.append(
        await backend.client.put(url, headers={"Content-Type": "text/html"}, content=b"<p>hi</p>")
    )

    for r in answers[:-1]:
        assert_problem(r, 403, "signature_invalid")
    assert_problem(answers[-1], 400, "content_type_mismatch")
    assert await backend.state() == before


@LOCAL_ONLY
@pytest.mark.parametrize(
    "segment",
    ["..%2F..%2F..%2Fescape", "%2E%2E%2F%2E%2E%2Fescape", "..%5C..%5Cescape", "../../../escape"],
)
async def test_path_traversal_upload_is_refused(
    backend: Backend, alice: TestUser, segment: str
) -> None:
    body = await _pending(backend, alice)
    upload = body["upload"]
    bad = upload["url"].replace(body["photo"]["id"], segment)
    assert bad != upload["url"]
    before = await backend.state()

    r = await put(backend, upload, plain_jpeg(), url=bad)

    assert r.status_code in (400, 403, 404), r.text
    assert r.json()["code"] in ("invalid_key", "signature_invalid", "not_found")
    assert await backend.state() == before
    assert not (backend.folder / "escape").exists()
    assert not (backend.folder / "files" / "escape").exists()


# --- completing races ---------------------------------------------------------------------


async def test_concurrent_completes_agree(backend: Backend, alice: TestUser) -> None:
    event = await open_event(backend, alice)
    for _ in range(3):
        data = plain_jpeg()
        body = await created(backend, alice, event, data, "image/jpeg")
        assert (await put(backend, body["upload"], data)).status_code == 200
        photo_id = body["photo"]["id"]
        answers = await asyncio.gather(*(complete(backend, alice, photo_id) for _ in range(3)))
        assert [r.status_code for r in answers] == [200, 200, 200], [r.text for r in answers]
        assert all(r.json() == answers[0].json() for r in answers)
        path = photo_path(body["photo"])
        assert {k for k in await backend.keys() if k.startswith(path)} == {
            f"{path}/original",
            f"{path}/display.jpg",
            f"{path}/thumb.jpg",
        }


async def test_object_replaced_after_the_size_check_is_refused(
    backend: Backend, alice: TestUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A presigned S3 PUT stays valid after the upload: the client can replace the object
    between the server's size check and its read. What is read is what must fit."""
    limit = 64 * 1024
    backend.configure(max_upload_bytes=limit)
    event = await open_event(backend, alice)
    data = plain_jpeg()
    body = await created(backend, alice, event, data, "image/jpeg")
    assert (await put(backend, body["upload"], data)).status_code == 200
    storage = backend.storage
    real_stat = storage.stat
    big = bytes(
        pyvips.Image.gaussnoise(400, 400, sigma=60, mean=128).cast("uchar").jpegsave_buffer(Q=95)
    )
    assert len(big) > limit

    async def stat_then_replace(key: str) -> Any:
        info = await real_stat(key)
        await storage.put(key, big, "image/jpeg")
        return info

    monkeypatch.setattr(storage, "stat", stat_then_replace)
    r = await complete(backend, alice, body["photo"]["id"])
    monkeypatch.undo()

    assert_problem(r, 422, "photo_rejected")
    assert r.json()["reason"] == "too_large"
    row = row_of(await backend.rows(), body["photo"]["id"])
    assert (row["upload_status"], row["failure_code"]) == ("failed", "too_large")
    assert await backend.keys() == set()


async def test_object_removed_after_the_check_is_missing_not_an_error(
    backend: Backend, alice: TestUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = await open_event(backend, alice)
    data = plain_jpeg()
    body = await created(backend, alice, event, data, "image/jpeg")
    assert (await put(backend, body["upload"], data)).status_code == 200
    storage = backend.storage
    real_stat = storage.stat

    async def stat_then_remove(key: str) -> Any:
        info = await real_stat(key)
        await storage.delete(key)
        return info

    monkeypatch.setattr(storage, "stat", stat_then_remove)
    r = await complete(backend, alice, body["photo"]["id"])
    monkeypatch.undo()

    assert_problem(r, 409, "upload_missing")
    assert row_of(await backend.rows(), body["photo"]["id"])["upload_status"] == "pending"
    assert await backend.keys() == set()


async def test_bytes_sent_again_after_completion_are_removed(
    backend: Backend, alice: TestUser
) -> None:
    """The signed PUT outlives processing: a second PUT of the original (metadata and all)
    after completion is never served, and completing again removes it."""
    event = await open_event(backend, alice)
    data = plain_jpeg()
    body = await created(backend, alice, event, data, "image/jpeg")
    assert (await put(backend, body["upload"], data)).status_code == 200
    assert (await complete(backend, alice, body["photo"]["id"])).status_code == 200
    upload_key = photo_path(body["photo"]) + "/upload"
    assert upload_key not in await backend.keys()

    assert (await put(backend, body["upload"], data)).status_code == 200
    assert upload_key in await backend.keys()
    r = await complete(backend, alice, body["photo"]["id"])
    assert r.status_code == 200
    assert r.json()["upload_status"] == "uploaded"
    assert upload_key not in await backend.keys()
