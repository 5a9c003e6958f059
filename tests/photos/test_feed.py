"""The reveal feed, GET /v1/events/{id}/photos, and the liked list, GET .../photos/liked."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta

import httpx
import pytest

from momento.photos.service import DISPLAY, ORIGINAL, THUMB, key
from momento.services import Services
from tests.factories import (
    BASE,
    add_photo,
    add_photos,
    assert_problem,
    create_user,
    create_users,
    like,
    make_event,
    reveal,
    sql,
    storage_path,
)
from tests.photos.helpers import counting_client, feed, put_files

# --- before the reveal ---------------------------------------------------------------------


async def test_before_reveal_only_own_photos_and_the_total(
    client: httpx.AsyncClient, services: Services
) -> None:
    alice, bob, carol = await create_users(services, 3)
    event = await make_event(services, alice, revealed=False, members=[bob, carol])
    mine = await add_photos(services, event, alice, [BASE, BASE + timedelta(seconds=1)])
    await add_photos(services, event, bob, [BASE + timedelta(seconds=i) for i in range(3)])
    # Counted: pending uploads (the reveal may show them). Not counted: failed or flagged.
    await add_photo(services, event, carol, status="pending")
    await add_photo(services, event, carol, status="failed")
    flagged = await add_photo(services, event, carol, flagged=True)

    page = await feed(client, alice, event)
    assert page["revealed"] is False
    assert [i["id"] for i in page["items"]] == [str(p) for p in mine]
    assert {i["user_id"] for i in page["items"]} == {str(alice.id)}
    assert page["total_count"] == 2 + 3 + 1
    assert page["next_cursor"] is None

    # Carol's pending and failed photos are in no feed; her flagged one only in hers.
    page = await feed(client, carol, event)
    assert [i["id"] for i in page["items"]] == [str(flagged)]
    assert page["total_count"] == 6


async def test_before_reveal_own_flagged_photo_is_listed_for_its_owner(
    client: httpx.AsyncClient, services: Services
) -> None:
    alice, bob = await create_users(services, 2)
    event = await make_event(services, alice, revealed=False, members=[bob])
    hidden = await add_photo(services, event, bob, flagged=True)
    page = await feed(client, bob, event)
    assert [i["id"] for i in page["items"]] == [str(hidden)]
    assert page["total_count"] == 0


# --- after the reveal ----------------------------------------------------------------------


async def test_after_reveal_every_uploaded_unflagged_photo(
    client: httpx.AsyncClient, services: Services
) -> None:
    alice, bob, carol = await create_users(services, 3)
    event = await make_event(services, alice, revealed=True, members=[bob, carol])
    visible = await add_photos(services, event, alice, [BASE, BASE + timedelta(minutes=2)])
    visible += await add_photos(services, event, bob, [BASE + timedelta(minutes=1)])
    pending = await add_photo(services, event, carol, status="pending")
    failed = await add_photo(services, event, carol, status="failed")
    flagged = await add_photo(services, event, carol, flagged=True)
    carols = await add_photo(services, event, carol, BASE + timedelta(minutes=3))

    page = await feed(client, bob, event)
    assert page["revealed"] is True
    ids = [i["id"] for i in page["items"]]
    assert ids == [str(p) for p in (visible[0], visible[2], visible[1], carols)]
    assert not {str(pending), str(failed), str(flagged)} & set(ids)
    assert page["total_count"] == 5  # pending included, failed and flagged not

    # The owner of the flagged photo still sees it; nobody sees a pending or failed one.
    ids = [i["id"] for i in (await feed(client, carol, event))["items"]]
    assert str(flagged) in ids
    assert not {str(pending), str(failed)} & set(ids)


async def test_an_item_carries_what_the_app_shows(
    client: httpx.AsyncClient, services: Services
) -> None:
    alice, bob = await create_users(services, 2)
    event = await make_event(services, alice, revealed=True, members=[bob])
    photo = await add_photo(services, event, alice, BASE.replace(microsecond=250000))
    page = await feed(client, bob, event)
    (item,) = page["items"]
    assert set(item) == {
        "id",
        "user_id",
        "username",
        "captured_at",
        "width",
        "height",
        "blurhash",
        "like_count",
        "liked_by_me",
        "urls",
    }
    assert item["id"] == str(photo)
    assert item["user_id"] == str(alice.id)
    assert item["username"] == alice.username
    assert item["captured_at"] == "2025-06-01T12:00:00.250000Z"
    assert (item["width"], item["height"]) == (4032, 3024)
    assert item["blurhash"] == "LEHV6nWB2yk8pyo0adR*.7kCMdnj"
    assert item["like_count"] == 0
    assert item["liked_by_me"] is False
    assert set(item["urls"]) == {"thumbnail", "display", "original"}


async def test_sorted_by_capture_time_then_id_across_pages(
    client: httpx.AsyncClient, services: Services
) -> None:
    alice, bob = await create_users(services, 2)
    event = await make_event(services, alice, revealed=True, members=[bob])
    # Ten photos share one capture time; a page of 4 ends in the middle of them.
    tied = await add_photos(services, event, alice, [BASE + timedelta(seconds=5)] * 10)
    before = await add_photos(services, event, bob, [BASE, BASE + timedelta(seconds=1)])
    after = await add_photos(services, event, bob, [BASE + timedelta(seconds=9)])
    expected = [str(p) for p in before + sorted(tied) + after]

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = await feed(client, alice, event, limit=4, cursor=cursor)
        seen += [i["id"] for i in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    assert pages == 4  # 13 photos: 4, 4, 4, 1


async def test_ties_at_a_capture_time_with_microseconds_survive_the_cursor(
    client: httpx.AsyncClient, services: Services
) -> None:
    alice = await create_user(services)
    event = await make_event(services, alice, revealed=True)
    # .000999 is one of the many microsecond values the float rounds (up, to .001000).
    tied = await add_photos(services, event, alice, [BASE.replace(microsecond=999)] * 4)
    first = await feed(client, alice, event, limit=2)
    second = await feed(client, alice, event, limit=2, cursor=first["next_cursor"])
    seen = [i["id"] for i in first["items"] + second["items"]]
    assert seen == [str(p) for p in sorted(tied)]


async def test_paging_through_45_photos(client: httpx.AsyncClient, services: Services) -> None:
    alice, bob, carol = await create_users(services, 3)
    event = await make_event(services, alice, revealed=True, members=[bob, carol])
    ids: list[uuid.UUID] = []
    for n, owner in enumerate((alice, bob, carol)):
        # Interleaved owners, capture times in steps of 2 s with ties every few photos.
        times = [BASE + timedelta(seconds=2 * ((3 * i + n) // 4)) for i in range(15)]
        ids += await add_photos(services, event, owner, times)
    expected = [
        str(r["id"])
        for r in await sql(
            services,
            "SELECT id FROM public.photos WHERE event_id = %s ORDER BY captured_at, id",
            event,
        )
    ]
    assert len(expected) == 45

    sizes: list[int] = []
    seen: list[str] = []
    cursor = None
    while True:
        page = await feed(client, carol, event, limit=20, cursor=cursor)
        sizes.append(len(page["items"]))
        seen += [i["id"] for i in page["items"]]
        assert page["total_count"] == 45
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sizes == [20, 20, 5]
    assert seen == expected
    assert len(set(seen)) == 45


async def test_default_page_is_20_and_an_exact_last_page_has_no_cursor(
    client: httpx.AsyncClient, services: Services
) -> None:
    alice = await create_user(services)
    event = await make_event(services, alice, revealed=True)
    await add_photos(services, event, alice, [BASE + timedelta(seconds=i) for i in range(40)])
    first = await feed(client, alice, event)
    assert len(first["items"]) == 20
    second = await feed(client, alice, event, cursor=first["next_cursor"])
    assert len(second["items"]) == 20
    assert second["next_cursor"] is None


async def test_empty_event(client: httpx.AsyncClient, services: Services) -> None:
    alice = await create_user(services)
    event = await make_event(services, alice, revealed=False)
    assert await feed(client, alice, event) == {
        "items": [],
        "next_cursor": None,
        "revealed": False,
        "total_count": 0,
    }


async def test_reveal_time_switches_the_feed(client: httpx.AsyncClient, services: Services) -> None:
    alice, bob = await create_users(services, 2)
    event = await make_event(services, alice, revealed=False, members=[bob])
    photo = await add_photo(services, event, alice)
    assert (await feed(client, bob, event))["items"] == []
    await reveal(services, event)
    page = await feed(client, bob, event)
    assert page["revealed"] is True
    assert [i["id"] for i in page["items"]] == [str(photo)]


# --- refusals ------------------------------------------------------------------------------


async def test_non_member_gets_the_same_404_as_for_no_event(
    client: httpx.AsyncClient, services: Services
) -> None:
    alice, mallory = await create_users(services, 2)
    event = await make_event(services, alice, revealed=True)
    await add_photo(services, event, alice)
    r = await client.get(f"/v1/events/{event}/photos", headers=mallory.headers)
    assert_problem(r, 404, "event_not_found")
    missing = await client.get(f"/v1/events/{uuid.uuid4()}/photos", headers=mallory.headers)
    assert_problem(missing, 404, "event_not_found")
    assert r.json() == missing.json()
    r = await client.get(f"/v1/events/{event}/photos/liked", headers=mallory.headers)
    assert_problem(r, 404, "event_not_found")


async def test_deleted_event_is_404(client: httpx.AsyncClient, services: Services) -> None:
    alice, bob = await create_users(services, 2)
    event = await make_event(services, alice, revealed=True, members=[bob])
    await add_photo(services, event, alice)
    r = await client.delete(f"/v1/events/{event}", headers=alice.headers)
    assert r.status_code == 204, r.text
    for user in (alice, bob):
        r = await client.get(f"/v1/events/{event}/photos", headers=user.headers)
        assert_problem(r, 404, "event_not_found")
        r = await client.get(f"/v1/events/{event}/photos/liked", headers=user.headers)
        assert_problem(r, 404, "event_not_found")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        "not base64 at all",
        _b64(b"\x00" * 23),  # one byte short
        _b64(b"\x00" * 25),  # one byte long
        _b64(b"\xff" * 24),  # a date past year 9999
        "A",  # impossible base64 length
        "é" * 8,  # not ASCII
    ],
)
@pytest.mark.parametrize("liked", [False, True])
async def test_invalid_cursor_is_400(
    client: httpx.AsyncClient, services: Services, cursor: str, liked: bool
) -> None:
    alice = await create_user(services)
    event = await make_event(services, alice, revealed=True)
    path = f"/v1/events/{event}/photos" + ("/liked" if liked else "")
    r = await client.get(path, headers=alice.headers, params={"cursor": cursor})
    assert_problem(r, 400, "invalid_cursor")


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=x", "cursor=" + "A" * 65])
async def test_bad_parameters_are_422(
    client: httpx.AsyncClient, services: Services, query: str
) -> None:
    alice = await create_user(services)
    event = await make_event(services, alice, revealed=True)
    for path in (f"/v1/events/{event}/photos", f"/v1/events/{event}/photos/liked"):
        r = await client.get(f"{path}?{query}", headers=alice.headers)
        assert r.status_code == 422, r.text


async def test_bad_event_id_is_422(client: httpx.AsyncClient, services: Services) -> None:
    alice = await create_user(services)
    for path in ("/v1/events/not-a-uuid/photos", "/v1/events/not-a-uuid/photos/liked"):
        r = await client.get(path, headers=alice.headers)
        assert r.status_code == 422, r.text


async def test_no_token_is_401(client: httpx.AsyncClient, services: Services) -> None:
    alice = await create_user(services)
    event = await make_event(services, alice, revealed=True)
    r = await client.get(f"/v1/events/{event}/photos")
    assert r.status_code == 401, r.text


# --- likes in the feed ---------------------------------------------------------------------


async def test_like_count_and_liked_by_me(client: httpx.AsyncClient, services: Services) -> None:
    alice, bob, carol = await create_users(services, 3)
    event = await make_event(services, alice, revealed=True, members=[bob, carol])
    p1, p2, p3 = await add_photos(
        services, event, alice, [BASE + timedelta(seconds=i) for i in range(3)]
    )
    for user in (alice, bob, carol):
        await like(services, p1, user)
    await like(services, p2, bob)

    def summary(page: dict[str, object]) -> list[tuple[int, bool]]:
        items = page["items"]
        assert isinstance(items, list)
        return [(i["like_count"], i["liked_by_me"]) for i in items]

    assert summary(await feed(client, bob, event)) == [(3, True), (1, True), (0, False)]
    assert summary(await feed(client, carol, event)) == [(3, True), (1, False), (0, False)]
    assert summary(await feed(client, alice, event)) == [(3, True), (1, False), (0, False)]
    assert p3


# --- signed URLs ---------------------------------------------------------------------------


async def test_signed_urls_fetch_the_variants(
    client: httpx.AsyncClient, services: Services
) -> None:
    alice, bob = await create_users(services, 2)
    event = await make_event(services, alice, revealed=True, members=[bob])
    stored = await add_photo(services, event, alice, BASE)
    missing = await add_photo(services, event, alice, BASE + timedelta(seconds=1))
    await put_files(services, event, stored)

    first, second = (await feed(client, bob, event))["items"]
    path = storage_path(event, stored)
    for name, variant in (("thumbnail", THUMB), ("display", DISPLAY), ("original", ORIGINAL)):
        url = first["urls"][name]
        assert url.startswith(f"http://testserver/files/{key(path, variant)}?")
        r = await client.get(url)
        assert r.status_code == 200, r.text
        assert r.content == key(path, variant).encode()
        # A photo whose files are gone: a 404 from /files, not an error.
        r = await client.get(second["urls"][name])
        assert r.status_code == 404, r.text
    # The signature covers the key: another photo's path with this signature is refused.
    forged = first["urls"]["original"].replace(str(stored), str(missing))
    assert (await client.get(forged)).status_code == 403
    assert missing


# --- ETag ----------------------------------------------------------------------------------


async def test_etag_and_304(client: httpx.AsyncClient, services: Services) -> None:
    alice, bob = await create_users(services, 2)
    event = await make_event(services, alice, revealed=True, members=[bob])
    photo = await add_photo(services, event, alice)
    url = f"/v1/events/{event}/photos"

    r = await client.get(url, headers=bob.headers)
    assert r.status_code == 200
    etag = r.headers["etag"]
    assert etag.startswith('"')
    assert etag.endswith('"')

    again = await client.get(url, headers={**bob.headers, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag

    other = await client.get(url, headers={**bob.headers, "If-None-Match": '"nope"'})
    assert other.status_code == 200
    assert other.json() == r.json()

    r = await client.put(f"/v1/photos/{photo}/like", headers=bob.headers)
    assert r.status_code == 204
    after = await client.get(url, headers={**bob.headers, "If-None-Match": etag})
    assert after.status_code == 200
    assert after.headers["etag"] != etag
    assert after.json()["items"][0]["like_count"] == 1

    # Someone else's like changes the count, hence the page, hence the ETag.
    etag = after.headers["etag"]
    await like(services, photo, alice)
    r = await client.get(url, headers={**bob.headers, "If-None-Match": etag})
    assert r.status_code == 200
    assert r.json()["items"][0]["like_count"] == 2


async def test_liked_list_etag(client: httpx.AsyncClient, services: Services) -> None:
    alice, bob = await create_users(services, 2)
    event = await make_event(services, alice, revealed=True, members=[bob])
    p1, p2 = await add_photos(services, event, alice, [BASE, BASE + timedelta(seconds=1)])
    await like(services, p1, bob)
    url = f"/v1/events/{event}/photos/liked"
    r = await client.get(url, headers=bob.headers)
    etag = r.headers["etag"]
    r = await client.get(url, headers={**bob.headers, "If-None-Match": etag})
    assert r.status_code == 304
    await like(services, p2, bob)
    r = await client.get(url, headers={**bob.headers, "If-None-Match": etag})
    assert r.status_code == 200
    assert [i["id"] for i in r.json()["items"]] == [str(p2), str(p1)]


# --- one database call per page ------------------------------------------------------------


async def test_a_page_is_one_statement_whatever_its_size(services: Services) -> None:
    alice, bob = await create_users(services, 2)
    small = await make_event(services, alice, revealed=True, members=[bob])
    large = await make_event(services, alice, revealed=True, members=[bob])
    (one,) = await add_photos(services, small, alice, [BASE])
    many = await add_photos(
        services, large, alice, [BASE + timedelta(seconds=i) for i in range(150)]
    )
    await add_photos(services, large, bob, [BASE + timedelta(seconds=i) for i in range(50)])
    for p in many[:60]:
        await like(services, p, bob)
    await like(services, one, bob)

    async with counting_client(services) as (c, db):
        counts = []
        # (event, route, limit, items on the page)
        for event, route, limit, size in (
            (small, "photos", 100, 1),
            (large, "photos", 100, 100),
            (large, "photos", 1, 1),
            (small, "photos/liked", 100, 1),
            (large, "photos/liked", 100, 60),
            (large, "photos/liked", 1, 1),
        ):
            db.calls.clear()
            r = await c.get(
                f"/v1/events/{event}/{route}", headers=bob.headers, params={"limit": limit}
            )
            assert r.status_code == 200, r.text
            assert len(r.json()["items"]) == size
            counts.append(dict(db.calls))
    # One statement: the call that sets the identity and runs the page query.
    assert counts == [{"user_call": 1, "execute": 1}] * 6
