"""Moderation the host controls, through HTTP (issue 14): a report hides the photo from its
reporter; the host's hide, or MOMENTO_REPORTS_TO_HIDE counted reporters (guests' reports do
not count), hide it from everyone but its owner; the host lists reports and restores; anyone
but the host gets 404 on the host's routes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from momento.services import Services
from tests.conftest import app_for
from tests.factories import (
    TestUser,
    add_photo,
    add_photos,
    assert_problem,
    create_users,
    make_event,
    sql,
)
from tests.photos.helpers import feed, feed_ids, is_flagged


async def report(
    client: httpx.AsyncClient, user: TestUser, photo: uuid.UUID, reason: str | None = None
) -> None:
    r = await client.post(
        f"/v1/photos/{photo}/report", headers=user.headers, json={"reason": reason}
    )
    assert r.status_code == 204, r.text


async def make_anonymous(services: Services, user: TestUser) -> None:
    await sql(
        services, "UPDATE auth.users SET is_anonymous = true WHERE id = %s RETURNING 1", user.id
    )


async def test_hidden_for_everyone_at_the_threshold_of_member_reports(
    client: httpx.AsyncClient, services: Services
) -> None:
    host, owner, m1, m2, m3, guest, viewer = await create_users(services, 7)
    await make_anonymous(services, guest)
    event = await make_event(
        services, host, revealed=True, members=[owner, m1, m2, m3, guest, viewer]
    )
    photo = await add_photo(services, event, owner)

    await report(client, m1, photo, "spam")
    await report(client, guest, photo)  # a guest's report hides it for the guest only
    await report(client, m2, photo)
    assert await is_flagged(services, photo) is False
    for reporter in (m1, guest, m2):
        assert str(photo) not in await feed_ids(client, reporter, event)
    for other in (host, viewer, m3):
        assert str(photo) in await feed_ids(client, other, event)

    await report(client, m3, photo)  # the third member
    assert await is_flagged(services, photo) is True
    for other in (host, viewer):
        assert str(photo) not in await feed_ids(client, other, event)
    assert str(photo) in await feed_ids(client, owner, event)  # the owner always sees it


async def test_the_threshold_is_a_setting(services: Services) -> None:
    host, owner, m1, m2 = await create_users(services, 4)
    event = await make_event(services, host, revealed=True, members=[owner, m1, m2])
    photo = await add_photo(services, event, owner)
    async with app_for(services, reports_to_hide=1) as one:
        await report(one, m1, photo)
    assert await is_flagged(services, photo) is True
    other = await add_photo(services, event, owner)
    async with app_for(services, reports_to_hide=2) as two:
        await report(two, m1, other)
        assert await is_flagged(services, other) is False
        await report(two, m2, other)
    assert await is_flagged(services, other) is True


async def test_the_host_lists_hides_and_restores(
    client: httpx.AsyncClient, services: Services
) -> None:
    host, owner, m1, m2 = await create_users(services, 4)
    event = await make_event(services, host, revealed=True, members=[owner, m1, m2])
    base = datetime.now(UTC) - timedelta(hours=5)
    reported, hidden, quiet = await add_photos(
        services, event, owner, [base + timedelta(minutes=i) for i in range(3)]
    )

    r = await client.get(f"/v1/events/{event}/reports", headers=host.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"items": [], "next_cursor": None}

    await report(client, m1, reported, "blurry")
    await report(client, m2, reported)
    r = await client.post(f"/v1/photos/{hidden}/hide", headers=host.headers)
    assert r.status_code == 204, r.text
    assert await is_flagged(services, hidden) is True
    assert str(hidden) not in await feed_ids(client, m1, event)
    assert str(hidden) in await feed_ids(client, owner, event)

    r = await client.get(f"/v1/events/{event}/reports", headers=host.headers)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["id"] for i in items] == [str(reported), str(hidden)]
    first, second = items
    assert first["reports"] == 2
    assert first["counted_reports"] == 2
    assert first["reasons"] == ["blurry"]
    assert first["hidden"] is False
    assert first["hidden_by_host"] is False
    assert first["username"] == owner.username
    assert first["user_id"] == str(owner.id)
    assert set(first["urls"]) == {"thumbnail", "display", "original"}
    assert second["hidden"] is True
    assert second["hidden_by_host"] is True
    assert second["reports"] == 0

    # Paged, with the feed's cursor.
    r = await client.get(f"/v1/events/{event}/reports?limit=1", headers=host.headers)
    page = r.json()
    assert [i["id"] for i in page["items"]] == [str(reported)]
    r = await client.get(
        f"/v1/events/{event}/reports",
        headers=host.headers,
        params={"limit": 1, "cursor": page["next_cursor"]},
    )
    assert [i["id"] for i in r.json()["items"]] == [str(hidden)]
    assert r.json()["next_cursor"] is None

    # Restore: visible to everyone again, except to those who reported it.
    for photo in (hidden, reported):
        r = await client.post(f"/v1/photos/{photo}/restore", headers=host.headers)
        assert r.status_code == 204, r.text
        assert await is_flagged(services, photo) is False
    assert str(hidden) in await feed_ids(client, m1, event)
    assert str(reported) not in await feed_ids(client, m1, event)
    assert str(reported) in await feed_ids(client, host, event)
    r = await client.get(f"/v1/events/{event}/reports", headers=host.headers)
    assert r.json()["items"] == []  # reports dismissed
    assert quiet  # never reported, never listed

    # Idempotent.
    r = await client.post(f"/v1/photos/{hidden}/restore", headers=host.headers)
    assert r.status_code == 204


@pytest.mark.parametrize("who", ["member", "owner", "other_host", "stranger", "no_token"])
async def test_anyone_but_the_host_gets_404(
    client: httpx.AsyncClient, services: Services, who: str
) -> None:
    host, owner, member, other_host, stranger = await create_users(services, 5)
    event = await make_event(services, host, revealed=True, members=[owner, member])
    await make_event(services, other_host, revealed=True)
    photo = await add_photo(services, event, owner)
    caller = {"member": member, "owner": owner, "other_host": other_host, "stranger": stranger}
    headers = caller[who].headers if who in caller else {}
    for method, path in (
        ("GET", f"/v1/events/{event}/reports"),
        ("POST", f"/v1/photos/{photo}/hide"),
        ("POST", f"/v1/photos/{photo}/restore"),
    ):
        r = await client.request(method, path, headers=headers)
        if who == "no_token":
            assert r.status_code == 401, r.text
        elif path.endswith("reports"):
            assert_problem(r, 404, "event_not_found")
        else:
            assert_problem(r, 404, "photo_not_found")
    assert await is_flagged(services, photo) is False
    # An unknown photo is the same 404 for the host.
    r = await client.post(f"/v1/photos/{uuid.uuid4()}/hide", headers=host.headers)
    assert_problem(r, 404, "photo_not_found")


async def test_the_hosts_report_still_hides_for_everyone(
    client: httpx.AsyncClient, services: Services
) -> None:
    host, owner, member = await create_users(services, 3)
    event = await make_event(services, host, revealed=True, members=[owner, member])
    photo = await add_photo(services, event, owner)
    await report(client, host, photo)
    assert await is_flagged(services, photo) is True
    page = await feed(client, member, event)
    assert str(photo) not in [i["id"] for i in page["items"]]
