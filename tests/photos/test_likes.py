"""Likes: PUT / DELETE /v1/photos/{id}/like, and the liked list GET .../photos/liked."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest

from momento.services import Services
from tests.factories import (
    BASE,
    TestUser,
    add_photo,
    add_photos,
    assert_problem,
    create_user,
    create_users,
    like,
    make_event,
    sql,
)
from tests.photos.helpers import feed, like_rows, liked, snapshot

# --- PUT / DELETE --------------------------------------------------------------------------


async def test_like_is_idempotent(client: httpx.AsyncClient, services: Services) -> None:
    alice, bob = await create_users(services, 2)
    event = await make_event(services, alice, revealed=True, members=[bob])
    photo = await add_photo(services, event, alice)
    for _ in range(2):
        r = await client.put(f"/v1/photos/{photo}/like", headers=bob.headers)
        assert r.status_code == 204, r.text
        assert r.content == b""
    assert await like_rows(services, photo) == [bob.id]
    (item,) = (await feed(client, bob, event))["items"]
    assert (item["like_count"], item["liked_by_me"]) == (1, True)


async def test_unlike_is_idempotent(client: httpx.AsyncClient, services: Services) -> None:
    alice, bob = await create_users(services, 2)
    event = await make_event(services, alice, revealed=True, members=[bob])
    photo = await add_photo(services, event, alice)
    await like(services, photo, bob)
    await like(services, photo, alice)
    for _ in range(2):
        r = await client.delete(f"/v1/photos/{photo}/like", headers=bob.headers)
        assert r.status_code == 204, r.text
    assert await like_rows(services, photo) == [alice.id]  # only bob's like went
    (item,) = (await feed(client, bob, event))["items"]
    assert (item["like_count"], item["liked_by_me"]) == (1, False)


async def test_unlike_without_a_like_is_204(client: httpx.AsyncClient, services: Services) -> None:
    alice, bob = await create_users(services, 2)
    event = await make_event(services, alice, revealed=True, members=[bob])
    photo = await add_photo(services, event, alice)
    r = await client.delete(f"/v1/photos/{photo}/like", headers=bob.headers)
    assert r.status_code == 204, r.text
    assert await like_rows(services, photo) == []


async def test_own_photo_can_be_liked_before_the_reveal(
    client: httpx.AsyncClient, services: Services
) -> None:
    alice = await create_user(services)
    event = await make_event(services, alice, revealed=False)
    photo = await add_photo(services, event, alice)
    r = await client.put(f"/v1/photos/{photo}/like", headers=alice.headers)
    assert r.status_code == 204, r.text
    assert await like_rows(services, photo) == [alice.id]


@pytest.mark.parametrize(
    "case",
    [
        "others_before_reveal",
        "other_event",
        "others_flagged",
        "others_pending",
        "others_failed",
        "own_pending",
        "own_flagged",
        "deleted_event",
        "no_such_photo",
    ],
)
async def test_like_of_a_photo_out_of_reach_is_404(
    client: httpx.AsyncClient, services: Services, case: str
) -> None:
    alice, bob, mallory = await create_users(services, 3)
    revealed = case != "others_before_reveal"
    event = await make_event(services, alice, revealed=revealed, members=[bob])
    elsewhere = await make_event(services, mallory, revealed=True)
    await add_photo(services, elsewhere, mallory)
    visible = await add_photo(services, event, alice)
    await like(services, visible, alice)
    photo = {
        "others_before_reveal": lambda: add_photo(services, event, alice, BASE),
        "other_event": lambda: add_photo(services, elsewhere, mallory),
        "others_flagged": lambda: add_photo(services, event, alice, flagged=True),
        "others_pending": lambda: add_photo(services, event, alice, status="pending"),
        "others_failed": lambda: add_photo(services, event, alice, status="failed"),
        "own_pending": lambda: add_photo(services, event, bob, status="pending"),
        "own_flagged": lambda: add_photo(services, event, bob, flagged=True),
        "deleted_event": lambda: add_photo(services, event, alice),
    }
    target = await photo[case]() if case in photo else uuid.uuid4()
    if case == "deleted_event":
        await sql(
            services,
            "UPDATE public.events SET is_deleted = true WHERE id = %s RETURNING id",
            event,
        )
    before = (await snapshot(services, event), await snapshot(services, elsewhere))

    r = await client.put(f"/v1/photos/{target}/like", headers=bob.headers)
    assert_problem(r, 404, "photo_not_found")
    r = await client.delete(f"/v1/photos/{target}/like", headers=bob.headers)
    if case.startswith("own_"):
        assert r.status_code == 204, r.text  # he sees his own photo: nothing to remove
    else:
        assert_problem(r, 404, "photo_not_found")

    assert await like_rows(services, target) == []
    assert (await snapshot(services, event), await snapshot(services, elsewhere)) == before


async def test_like_refusals_for_bad_requests(
    client: httpx.AsyncClient, services: Services
) -> None:
    alice = await create_user(services)
    event = await make_event(services, alice, revealed=True)
    photo = await add_photo(services, event, alice)
    r = await client.put("/v1/photos/not-a-uuid/like", headers=alice.headers)
    assert r.status_code == 422, r.text
    r = await client.put(f"/v1/photos/{photo}/like")
    assert r.status_code == 401, r.text
    r = await client.delete(f"/v1/photos/{photo}/like")
    assert r.status_code == 401, r.text
    assert await like_rows(services, photo) == []


async def test_a_like_of_a_photo_since_hidden_can_be_removed(
    client: httpx.AsyncClient, services: Services
) -> None:
    """The policies let a user remove their like of a photo they can no longer see (see
    tests/rls/test_likes.py); the route does too, so the like does not come back with the
    photo if an operator restores it."""
    alice, bob = await create_users(services, 2)
    event = await make_event(services, alice, revealed=True, members=[bob])
    photo = await add_photo(services, event, alice)
    await like(services, photo, bob)
    await sql(
        services, "UPDATE public.photos SET is_flagged = true WHERE id = %s RETURNING id", photo
    )
    r = await client.delete(f"/v1/photos/{photo}/like", headers=bob.headers)
    assert r.status_code == 204, r.text
    assert await like_rows(services, photo) == []
    # Still not likeable, and a second DELETE (no like left, photo hidden) is a 404.
    r = await client.put(f"/v1/photos/{photo}/like", headers=bob.headers)
    assert_problem(r, 404, "photo_not_found")
    r = await client.delete(f"/v1/photos/{photo}/like", headers=bob.headers)
    assert_problem(r, 404, "photo_not_found")


# --- counts, never likers ------------------------------------------------------------------


async def test_members_see_counts_but_never_who_liked(
    client: httpx.AsyncClient, services: Services
) -> None:
    alice, bob, carol, dave = await create_users(services, 4)
    event = await make_event(services, alice, revealed=True, members=[bob, carol, dave])
    photo = await add_photo(services, event, alice)
    for user in (bob, carol):
        r = await client.put(f"/v1/photos/{photo}/like", headers=user.headers)
        assert r.status_code == 204
        assert r.content == b""

    for viewer in (alice, bob, carol, dave):
        (item,) = (await feed(client, viewer, event))["items"]
        assert item["like_count"] == 2
        assert item["liked_by_me"] is (viewer in (bob, carol))
    # Nothing a member can read names the likers (bob and carol own no photo).
    for viewer in (alice, bob, carol, dave):
        for path in (f"/v1/events/{event}/photos", f"/v1/events/{event}/photos/liked"):
            r = await client.get(path, headers=viewer.headers)
            assert r.status_code == 200
            for liker in (bob, carol):
                if liker is not viewer:
                    assert str(liker.id) not in r.text
                    assert liker.username not in r.text


# --- the liked list ------------------------------------------------------------------------


async def test_liked_list_most_recent_like_first(
    client: httpx.AsyncClient, services: Services
) -> None:
    alice, bob, carol = await create_users(services, 3)
    event = await make_event(services, alice, revealed=True, members=[bob, carol])
    other = await make_event(services, bob, revealed=True)
    p1, p2, p3, p4 = await add_photos(
        services, event, alice, [BASE + timedelta(seconds=i) for i in range(4)]
    )
    mine = await add_photo(services, event, bob, BASE + timedelta(seconds=9))
    elsewhere = await add_photo(services, other, bob)
    # Liked in the order p3, mine, p1: the list is the reverse.
    await like(services, p3, bob, BASE + timedelta(hours=1))
    await like(services, mine, bob, BASE + timedelta(hours=2))
    await like(services, p1, bob, BASE + timedelta(hours=3))
    await like(services, elsewhere, bob, BASE + timedelta(hours=4))  # another event
    await like(services, p2, carol)  # someone else's like
    await like(services, p1, carol)

    page = await liked(client, bob, event)
    assert [i["id"] for i in page["items"]] == [str(p1), str(mine), str(p3)]
    assert page["next_cursor"] is None
    assert [(i["like_count"], i["liked_by_me"]) for i in page["items"]] == [
        (2, True),
        (1, True),
        (1, True),
    ]
    assert set(page) == {"items", "next_cursor"}
    assert set(page["items"][0]) >= {"id", "user_id", "username", "urls", "blurhash"}

    assert [i["id"] for i in (await liked(client, carol, event))["items"]] == [str(p1), str(p2)]
    assert (await liked(client, alice, event))["items"] == []
    assert p4


async def test_liked_list_pages(client: httpx.AsyncClient, services: Services) -> None:
    alice, bob = await create_users(services, 2)
    event = await make_event(services, alice, revealed=True, members=[bob])
    photos = await add_photos(
        services, event, alice, [BASE + timedelta(seconds=i) for i in range(7)]
    )
    # Distinct like times, and three likes at one moment (ordered by photo id, descending).
    for n, p in enumerate(photos[:4]):
        await like(services, p, bob, BASE + timedelta(minutes=n))
    for p in photos[4:]:
        await like(services, p, bob, BASE + timedelta(minutes=10))
    expected = [str(p) for p in sorted(photos[4:], reverse=True)]
    expected += [str(p) for p in reversed(photos[:4])]

    seen: list[str] = []
    sizes: list[int] = []
    cursor = None
    while True:
        page = await liked(client, bob, event, limit=2, cursor=cursor)
        seen += [i["id"] for i in page["items"]]
        sizes.append(len(page["items"]))
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    assert sizes == [2, 2, 2, 1]


async def test_liked_list_pages_with_real_like_times(
    client: httpx.AsyncClient, services: Services
) -> None:
    alice, bob = await create_users(services, 2)
    event = await make_event(services, alice, revealed=True, members=[bob])
    p1, p2 = await add_photos(services, event, alice, [BASE, BASE + timedelta(seconds=1)])
    await like(services, p1, bob, BASE.replace(microsecond=500))
    await like(services, p2, bob, BASE.replace(microsecond=999))
    first = await liked(client, bob, event, limit=1)
    second = await liked(client, bob, event, limit=1, cursor=first["next_cursor"])
    assert [i["id"] for i in first["items"] + second["items"]] == [str(p2), str(p1)]


async def test_liked_list_drops_photos_no_longer_visible(
    client: httpx.AsyncClient, services: Services
) -> None:
    alice, bob = await create_users(services, 2)
    event = await make_event(services, alice, revealed=True, members=[bob])
    kept, hidden = await add_photos(services, event, alice, [BASE, BASE + timedelta(seconds=1)])
    await like(services, kept, bob)
    await like(services, hidden, bob)
    await sql(
        services, "UPDATE public.photos SET is_flagged = true WHERE id = %s RETURNING id", hidden
    )
    assert [i["id"] for i in (await liked(client, bob, event))["items"]] == [str(kept)]


async def test_liked_list_of_an_event_one_has_left_is_404(
    client: httpx.AsyncClient, services: Services
) -> None:
    alice, bob = await create_users(services, 2)
    event = await make_event(services, alice, revealed=True, members=[bob])
    photo = await add_photo(services, event, alice)
    await like(services, photo, bob)
    r = await client.delete(f"/v1/events/{event}/membership", headers=bob.headers)
    assert r.status_code == 204, r.text
    r = await client.get(f"/v1/events/{event}/photos/liked", headers=bob.headers)
    assert_problem(r, 404, "event_not_found")
    r = await client.put(f"/v1/photos/{photo}/like", headers=bob.headers)
    assert_problem(r, 404, "photo_not_found")


async def test_concurrent_likes_and_unlikes_keep_the_count(
    client: httpx.AsyncClient, services: Services
) -> None:
    """Members liking one photo at once (the reveal), then half of them unliking at once and
    liking again twice: the count the feed shows is always the number of likes."""
    alice, *members = await create_users(services, 13)
    event = await make_event(services, alice, revealed=True, members=members)
    photo = await add_photo(services, event, alice)

    async def send(method: str, user: TestUser) -> None:
        r = await client.request(method, f"/v1/photos/{photo}/like", headers=user.headers)
        assert r.status_code == 204, r.text

    await asyncio.gather(*(send("PUT", m) for m in members))
    (item,) = (await feed(client, alice, event))["items"]
    assert item["like_count"] == len(await like_rows(services, photo)) == 12
    leaving = members[::2]
    await asyncio.gather(
        *(send("DELETE", m) for m in leaving), *(send("PUT", m) for m in members[1::2] * 2)
    )
    (item,) = (await feed(client, alice, event))["items"]
    assert item["like_count"] == len(await like_rows(services, photo)) == 6
