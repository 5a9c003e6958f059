"""GET /v1/events/{id}/photos/mine (my uploads in every status), GET /v1/photos/{id} (one photo,
under the feed's rules) and POST /v1/photos/{id}/retry (a failed upload, uploaded again)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from momento.services import Services
from tests.factories import (
    BASE,
    HOUR,
    TestUser,
    add_photo,
    add_photos,
    assert_problem,
    create_users,
    like,
    make_event,
    sql,
)
from tests.photos.helpers import feed
from tests.photos.images import plain_jpeg
from tests.photos.uploads import (
    NOT_AN_IMAGE,
    Backend,
    complete,
    open_event,
    put,
    rejected,
    uploaded,
)

MINUTE = timedelta(minutes=1)
LOCAL_ONLY = pytest.mark.parametrize("backend", ["local"], indirect=True)


async def fail(services: Services, photo: uuid.UUID, code: str, reason: str) -> None:
    """What a refused completion leaves in the media row."""
    await sql(
        services,
        "UPDATE public.photo_media SET failure_code = %s, failure_reason = %s,"
        " processed_at = now() WHERE photo_id = %s",
        code,
        reason,
        photo,
    )


async def mine(
    client: httpx.AsyncClient,
    user: TestUser,
    event: uuid.UUID | str,
    **params: str | int,
) -> httpx.Response:
    return await client.get(f"/v1/events/{event}/photos/mine", headers=user.headers, params=params)


async def all_mine(client: httpx.AsyncClient, user: TestUser, event: uuid.UUID | str) -> list[Any]:
    items: list[Any] = []
    cursor: str | None = None
    while True:
        r = await mine(client, user, event, limit=100, **({"cursor": cursor} if cursor else {}))
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return items


# --- my uploads -----------------------------------------------------------------------------


async def test_my_uploads_in_every_status_newest_first(
    client: httpx.AsyncClient, services: Services
) -> None:
    alice, bob = await create_users(services, 2)
    event = await make_event(services, alice, members=[bob])  # not revealed yet
    [old_up, mid_up] = await add_photos(services, event, alice, [BASE, BASE + HOUR])
    pending = await add_photo(services, event, alice, BASE + 2 * HOUR, status="pending")
    failed = await add_photo(services, event, alice, BASE + 3 * HOUR, status="failed")
    await fail(services, failed, "corrupt_image", "The file is not a readable image.")
    # Same capture time: the id breaks the tie, newest (largest) first.
    twins = sorted(await add_photos(services, event, alice, [BASE + 4 * HOUR] * 2), reverse=True)
    await add_photo(services, event, bob, BASE + 5 * HOUR)  # Bob's: never in Alice's list
    other = await make_event(services, alice)
    await add_photo(services, other, alice)  # another event's: not listed
    await like(services, mid_up, alice)
    await like(services, mid_up, bob)

    expected = [*twins, failed, pending, mid_up, old_up]
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        r = await mine(client, alice, event, limit=2, **({"cursor": cursor} if cursor else {}))
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= 2
        seen += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert [item["id"] for item in seen] == [str(p) for p in expected]
    by_id = {item["id"]: item for item in seen}

    assert by_id[str(failed)]["upload_status"] == "failed"
    assert by_id[str(failed)]["failure"] == {
        "code": "corrupt_image",
        "message": "The file is not a readable image.",
    }
    assert by_id[str(failed)]["urls"] is None
    assert by_id[str(pending)]["upload_status"] == "pending"
    assert (by_id[str(pending)]["failure"], by_id[str(pending)]["urls"]) == (None, None)
    up = by_id[str(mid_up)]
    assert up["upload_status"] == "uploaded"
    assert up["failure"] is None
    assert set(up["urls"]) == {"thumbnail", "display", "original"}
    assert (up["like_count"], up["liked_by_me"]) == (2, True)
    assert (up["username"], up["user_id"], up["event_id"]) == (
        alice.username,
        str(alice.id),
        str(event),
    )
    assert (up["width"], up["height"]) == (4032, 3024)

    # Bob sees only his own; before the reveal, the feed shows Alice none of them but the
    # uploaded ones (and never pending or failed).
    assert [i["user_id"] for i in await all_mine(client, bob, event)] == [str(bob.id)]
    assert {i["id"] for i in (await feed(client, alice, event))["items"]} == {
        str(p) for p in (old_up, mid_up, *twins)
    }


async def test_my_uploads_empty_and_refusals(client: httpx.AsyncClient, services: Services) -> None:
    alice, bob, carol = await create_users(services, 3)
    event = await make_event(services, alice, members=[bob])
    await add_photo(services, event, alice)
    r = await mine(client, bob, event)
    assert r.status_code == 200, r.text
    assert r.json() == {"items": [], "next_cursor": None}
    # Not a member, no such event, a deleted one: the same 404.
    assert_problem(await mine(client, carol, event), 404, "event_not_found")
    assert_problem(await mine(client, alice, uuid.uuid4()), 404, "event_not_found")
    gone = await make_event(services, alice, deleted=True)
    await add_photo(services, gone, alice)
    assert_problem(await mine(client, alice, gone), 404, "event_not_found")
    # Bad parameters.
    assert_problem(await mine(client, alice, event, cursor="not-a-cursor"), 400, "invalid_cursor")
    r = await mine(client, alice, event, limit=101)
    assert r.status_code == 422
    r = await client.get(f"/v1/events/{event}/photos/mine")
    assert r.status_code == 401


# --- one photo ------------------------------------------------------------------------------


async def test_one_photo_under_the_feeds_rules(
    client: httpx.AsyncClient, services: Services
) -> None:
    alice, bob, carol = await create_users(services, 3)
    event = await make_event(services, alice, revealed=True, members=[bob])
    up = await add_photo(services, event, alice)
    pending = await add_photo(services, event, alice, status="pending")
    failed = await add_photo(services, event, alice, status="failed")
    await fail(services, failed, "too_many_pixels", "Too many pixels.")
    hidden = await add_photo(services, event, alice, flagged=True)
    await like(services, up, bob)

    def get(user: TestUser, photo: uuid.UUID) -> Any:
        return client.get(f"/v1/photos/{photo}", headers=user.headers)

    # A member sees an uploaded photo of a revealed event, as in the feed (same URLs).
    r = await get(bob, up)
    assert r.status_code == 200, r.text
    photo = r.json()
    [item] = [i for i in (await feed(client, bob, event))["items"] if i["id"] == str(up)]
    assert photo["urls"] == item["urls"]
    assert (photo["like_count"], photo["liked_by_me"]) == (1, True)
    assert (photo["username"], photo["upload_status"], photo["failure"]) == (
        alice.username,
        "uploaded",
        None,
    )
    # Not the owner's unfinished or hidden ones; nothing for a non-member; nothing unknown.
    for who, what in ((bob, pending), (bob, failed), (bob, hidden), (carol, up)):
        assert_problem(await get(who, what), 404, "photo_not_found")
    assert_problem(await get(bob, uuid.uuid4()), 404, "photo_not_found")
    # The owner sees their own in every status, with why one failed.
    r = await get(alice, pending)
    assert (r.json()["upload_status"], r.json()["urls"]) == ("pending", None)
    r = await get(alice, failed)
    assert r.json()["failure"] == {"code": "too_many_pixels", "message": "Too many pixels."}
    assert (await get(alice, hidden)).status_code == 200

    # Before the reveal, a member sees only their own.
    later = await make_event(services, alice, members=[bob])
    before = await add_photo(services, later, alice)
    assert_problem(await get(bob, before), 404, "photo_not_found")
    assert (await get(alice, before)).status_code == 200
    # A deleted event's photos are nobody's to see, the owner's included.
    await sql(services, "UPDATE public.events SET is_deleted = true WHERE id = %s", later)
    assert_problem(await get(alice, before), 404, "photo_not_found")


# --- retrying a failed upload ---------------------------------------------------------------


async def retry(
    b: Backend, user: TestUser, photo_id: str, body: dict[str, Any] | None = None
) -> httpx.Response:
    return await b.client.post(f"/v1/photos/{photo_id}/retry", headers=user.headers, json=body)


async def test_a_failed_upload_is_retried_and_completes(backend: Backend, alice: TestUser) -> None:
    event = await open_event(backend, alice)
    body = await rejected(backend, alice, event, NOT_AN_IMAGE, "image/jpeg", "unsupported_type")
    photo_id = body["photo"]["id"]
    [item] = (await mine(backend.client, alice, event["id"])).json()["items"]
    assert (item["id"], item["upload_status"]) == (photo_id, "failed")
    assert item["failure"]["code"] == "unsupported_type"

    data = plain_jpeg()
    r = await retry(
        backend, alice, photo_id, {"content_type": "image/jpeg", "byte_size": len(data)}
    )
    assert r.status_code == 200, r.text
    again = r.json()
    assert again["photo"]["id"] == photo_id
    assert (again["photo"]["upload_status"], again["photo"]["failure"]) == ("pending", None)
    assert again["upload"] is not None
    [item] = (await mine(backend.client, alice, event["id"])).json()["items"]
    assert (item["upload_status"], item["failure"]) == ("pending", None)
    [row] = await sql(
        backend.services,
        "SELECT declared_size, failure_code, byte_size, processed_at FROM public.photo_media"
        " WHERE photo_id = %s",
        uuid.UUID(photo_id),
    )
    assert row == {
        "declared_size": len(data),
        "failure_code": None,
        "byte_size": None,
        "processed_at": None,
    }

    # Sent twice: a fresh target for the same pending photo.
    r = await retry(backend, alice, photo_id)
    assert r.status_code == 200, r.text
    assert r.json()["photo"]["upload_status"] == "pending"
    assert r.json()["upload"] is not None

    assert (await put(backend, again["upload"], data)).status_code == 200
    r = await complete(backend, alice, photo_id)
    assert r.status_code == 200, r.text
    assert r.json()["upload_status"] == "uploaded"
    [item] = (await mine(backend.client, alice, event["id"])).json()["items"]
    assert item["upload_status"] == "uploaded"
    assert item["urls"] is not None

    # An uploaded photo is not retried.
    assert_problem(await retry(backend, alice, photo_id), 409, "not_failed")


@LOCAL_ONLY
async def test_retry_refusals(backend: Backend, alice: TestUser, bob: TestUser) -> None:
    event = await open_event(backend, alice)
    r = await backend.client.post(
        "/v1/events/join", headers=bob.headers, json={"join_code": event["join_code"]}
    )
    assert r.status_code == 201, r.text
    body = await rejected(backend, alice, event, NOT_AN_IMAGE, "image/jpeg", "unsupported_type")
    photo_id = body["photo"]["id"]
    before = await backend.rows()

    # Someone else's, or none: 404. Bad declarations: as for a new upload.
    assert_problem(await retry(backend, bob, photo_id), 404, "photo_not_found")
    assert_problem(await retry(backend, alice, str(uuid.uuid4())), 404, "photo_not_found")
    r = await retry(backend, alice, photo_id, {"content_type": "image/gif"})
    assert_problem(r, 422, "unsupported_type")
    backend.configure(max_upload_bytes=5000)
    assert_problem(await retry(backend, alice, photo_id, {"byte_size": 6000}), 413, "too_large")
    r = await retry(backend, alice, photo_id, {"colour": "red"})
    assert r.status_code == 422
    # The limit counts the retried photo again: with the limit reached, no retry.
    backend.configure(photo_limit_premium=1, photo_limit_free=1)
    await uploaded(backend, alice, event, plain_jpeg(), "image/jpeg")
    r = await retry(backend, alice, photo_id)
    assert_problem(r, 409, "photo_limit_reached")
    backend.configure(photo_limit_premium=10, photo_limit_free=10)
    # Past the reveal and its grace (6 h), uploads are closed.
    await sql(
        backend.services,
        "UPDATE public.events SET starts_at = now() - interval '8 hours',"
        " release_at = now() - interval '7 hours' WHERE id = %s",
        uuid.UUID(event["id"]),
    )
    assert_problem(await retry(backend, alice, photo_id), 409, "uploads_closed")
    rows = await backend.rows()
    assert [r for r in rows if str(r["id"]) == photo_id] == [
        r for r in before if str(r["id"]) == photo_id
    ]

    # A failed upload can also be given up: deleted like any photo.
    r = await backend.client.delete(f"/v1/photos/{photo_id}", headers=alice.headers)
    assert r.status_code == 204
    assert_problem(await retry(backend, alice, photo_id), 404, "photo_not_found")


@LOCAL_ONLY
async def test_no_retry_after_leaving(backend: Backend, alice: TestUser, bob: TestUser) -> None:
    event = await open_event(backend, alice)
    r = await backend.client.post(
        "/v1/events/join", headers=bob.headers, json={"join_code": event["join_code"]}
    )
    assert r.status_code == 201, r.text
    body = await rejected(backend, bob, event, NOT_AN_IMAGE, "image/jpeg", "unsupported_type")
    r = await backend.client.delete(f"/v1/events/{event['id']}/membership", headers=bob.headers)
    assert r.status_code == 204
    assert_problem(await retry(backend, bob, body["photo"]["id"]), 404, "event_not_found")
    # Still his to see and delete.
    [item] = (await mine(backend.client, bob, event["id"])).json()["items"]
    assert item["upload_status"] == "failed"
    r = await backend.client.delete(f"/v1/photos/{item['id']}", headers=bob.headers)
    assert r.status_code == 204
    assert (await mine(backend.client, bob, event["id"])).status_code == 404
