"""DELETE /v1/photos/{id} (the owner removes a photo and its files) and
POST /v1/photos/{id}/report (members report, the event's creator hides)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from momento.photos.service import UPLOAD, key
from momento.services import Services
from tests.factories import (
    add_photo,
    add_report,
    assert_problem,
    create_user,
    create_users,
    like,
    make_event,
    sql,
    storage_path,
)
from tests.photos.helpers import VARIANTS, feed, is_flagged, put_files, snapshot, stored_keys


def all_keys(event: uuid.UUID, photo: uuid.UUID) -> set[str]:
    return {key(storage_path(event, photo), name) for name in (*VARIANTS, UPLOAD)}


async def reports(services: Services, photo: uuid.UUID) -> list[dict[str, Any]]:
    found = await sql(
        services,
        "SELECT reporter_id, by_creator, reason FROM momento.photo_reports WHERE photo_id = %s"
        " ORDER BY created_at",
        photo,
    )
    return [dict(r) for r in found]


# --- delete --------------------------------------------------------------------------------


async def test_owner_deletes_the_row_and_every_file(
    client: httpx.AsyncClient, services: Services
) -> None:
    alice, bob = await create_users(services, 2)
    event = await make_event(services, alice, revealed=True, members=[bob])
    other_event = await make_event(services, bob, revealed=True, members=[alice])
    photo = await add_photo(services, event, alice)
    sibling = await add_photo(services, event, alice)
    bobs = await add_photo(services, event, bob)
    elsewhere = await add_photo(services, other_event, alice)
    for e, p in ((event, photo), (event, sibling), (event, bobs), (other_event, elsewhere)):
        await put_files(services, e, p)
    await like(services, photo, bob)
    await like(services, sibling, bob)
    await add_report(services, photo, bob)

    r = await client.delete(f"/v1/photos/{photo}", headers=alice.headers)
    assert r.status_code == 204, r.text
    assert r.content == b""

    for table, column in (
        ("public.photos", "id"),
        ("public.photo_media", "photo_id"),
        ("public.photo_likes", "photo_id"),
        ("momento.photo_reports", "photo_id"),
    ):
        found = await sql(services, f"SELECT 1 FROM {table} WHERE {column} = %s", photo)
        assert found == [], table
    assert await stored_keys(services, event, photo) == set()
    # Everyone else's photos, likes and files are untouched.
    for e, p in ((event, sibling), (event, bobs), (other_event, elsewhere)):
        assert await stored_keys(services, e, p) == all_keys(e, p)
        assert await is_flagged(services, p) is False
    assert (
        len(await sql(services, "SELECT 1 FROM public.photo_likes WHERE photo_id = %s", sibling))
        == 1
    )
    assert [i["id"] for i in (await feed(client, bob, event))["items"]] == sorted(
        [str(sibling), str(bobs)], key=lambda i: uuid.UUID(i)
    )

    # A second DELETE: the photo is gone.
    r = await client.delete(f"/v1/photos/{photo}", headers=alice.headers)
    assert_problem(r, 404, "photo_not_found")


async def test_owner_deletes_before_the_reveal_and_while_pending(
    client: httpx.AsyncClient, services: Services
) -> None:
    alice = await create_user(services)
    event = await make_event(services, alice, revealed=False)
    for status in ("uploaded", "pending", "failed"):
        photo = await add_photo(services, event, alice, status=status)
        await put_files(services, event, photo)
        r = await client.delete(f"/v1/photos/{photo}", headers=alice.headers)
        assert r.status_code == 204, r.text
        assert await sql(services, "SELECT 1 FROM public.photos WHERE id = %s", photo) == []
        assert await stored_keys(services, event, photo) == set()


@pytest.mark.parametrize("who", ["member", "creator", "non_member", "no_such_photo"])
async def test_only_the_owner_deletes(
    client: httpx.AsyncClient, services: Services, who: str
) -> None:
    alice, bob, carol, mallory = await create_users(services, 4)
    event = await make_event(services, carol, revealed=True, members=[alice, bob])
    photo = await add_photo(services, event, alice)
    await put_files(services, event, photo)
    await like(services, photo, bob)
    before = await snapshot(services, event)
    caller = {"member": bob, "creator": carol, "non_member": mallory, "no_such_photo": alice}[who]
    target = uuid.uuid4() if who == "no_such_photo" else photo

    r = await client.delete(f"/v1/photos/{target}", headers=caller.headers)
    assert_problem(r, 404, "photo_not_found")
    assert await snapshot(services, event) == before
    assert await stored_keys(services, event, photo) == all_keys(event, photo)


async def test_delete_refusals_for_bad_requests(
    client: httpx.AsyncClient, services: Services
) -> None:
    alice = await create_user(services)
    event = await make_event(services, alice, revealed=True)
    photo = await add_photo(services, event, alice)
    await put_files(services, event, photo)
    before = await snapshot(services, event)
    r = await client.delete(f"/v1/photos/{photo}")
    assert r.status_code == 401, r.text
    r = await client.delete("/v1/photos/not-a-uuid", headers=alice.headers)
    assert r.status_code == 422, r.text
    assert await snapshot(services, event) == before
    assert await stored_keys(services, event, photo) == all_keys(event, photo)


# --- report --------------------------------------------------------------------------------


async def test_a_report_hides_the_photo_from_its_reporter_only(
    client: httpx.AsyncClient, services: Services
) -> None:
    alice, bob, carol, dave = await create_users(services, 4)
    event = await make_event(services, dave, revealed=True, members=[alice, bob, carol])
    photo = await add_photo(services, event, alice)
    kept = await add_photo(services, event, alice)
    assert (await feed(client, carol, event))["total_count"] == 2

    r = await client.post(
        f"/v1/photos/{photo}/report", headers=bob.headers, json={"reason": "  not from here  "}
    )
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert await is_flagged(services, photo) is False  # one report of 3 (the default)
    assert await reports(services, photo) == [
        {"reporter_id": bob.id, "by_creator": False, "reason": "not from here"}
    ]
    assert [i["id"] for i in (await feed(client, bob, event))["items"]] == [str(kept)]
    for viewer in (alice, carol, dave):
        ids = [i["id"] for i in (await feed(client, viewer, event))["items"]]
        assert sorted(ids) == sorted([str(photo), str(kept)])
    # The reporter can no longer like it; others can.
    r = await client.put(f"/v1/photos/{photo}/like", headers=bob.headers)
    assert_problem(r, 404, "photo_not_found")
    r = await client.put(f"/v1/photos/{photo}/like", headers=carol.headers)
    assert r.status_code == 204, r.text

    # Reporting again is a no-op: 204, one report, the first reason kept.
    r = await client.post(f"/v1/photos/{photo}/report", headers=bob.headers, json={"reason": "x"})
    assert r.status_code == 204, r.text
    assert await reports(services, photo) == [
        {"reporter_id": bob.id, "by_creator": False, "reason": "not from here"}
    ]
    assert await is_flagged(services, kept) is False


async def test_report_without_a_body_or_reason(
    client: httpx.AsyncClient, services: Services
) -> None:
    alice, bob, carol = await create_users(services, 3)
    event = await make_event(services, alice, revealed=True, members=[bob, carol])
    p1 = await add_photo(services, event, alice)
    p2 = await add_photo(services, event, alice)
    r = await client.post(f"/v1/photos/{p1}/report", headers=bob.headers)
    assert r.status_code == 204, r.text
    r = await client.post(f"/v1/photos/{p2}/report", headers=carol.headers, json={"reason": "  "})
    assert r.status_code == 204, r.text
    assert (await reports(services, p1))[0]["reason"] is None
    assert (await reports(services, p2))[0]["reason"] is None


async def test_reason_of_500_characters_is_accepted(
    client: httpx.AsyncClient, services: Services
) -> None:
    alice, bob = await create_users(services, 2)
    event = await make_event(services, alice, revealed=True, members=[bob])
    photo = await add_photo(services, event, alice)
    r = await client.post(
        f"/v1/photos/{photo}/report", headers=bob.headers, json={"reason": "é" * 500}
    )
    assert r.status_code == 204, r.text
    assert (await reports(services, photo))[0]["reason"] == "é" * 500


@pytest.mark.parametrize(
    "body",
    [{"reason": "x" * 501}, {"reason": 5}, {"reason": "ok", "extra": 1}, ["reason"]],
)
async def test_bad_report_bodies_are_422(
    client: httpx.AsyncClient, services: Services, body: Any
) -> None:
    alice, bob = await create_users(services, 2)
    event = await make_event(services, alice, revealed=True, members=[bob])
    photo = await add_photo(services, event, alice)
    before = await snapshot(services, event)
    r = await client.post(f"/v1/photos/{photo}/report", headers=bob.headers, json=body)
    assert r.status_code == 422, r.text
    assert await snapshot(services, event) == before


@pytest.mark.parametrize(
    "case",
    [
        "before_reveal",
        "non_member",
        "pending",
        "failed",
        "hidden_by_someone_else",
        "deleted_event",
        "no_such_photo",
        "bad_uuid",
        "no_token",
    ],
)
async def test_report_of_a_photo_out_of_reach_is_refused(
    client: httpx.AsyncClient, services: Services, case: str
) -> None:
    alice, bob, carol, mallory = await create_users(services, 4)
    event = await make_event(
        services, alice, revealed=case != "before_reveal", members=[bob, carol]
    )
    status = case if case in ("pending", "failed") else "uploaded"
    photo = await add_photo(services, event, alice, status=status)
    if case == "hidden_by_someone_else":  # hidden for everyone (by the host, or the threshold)
        await sql(
            services, "UPDATE public.photos SET is_flagged = true WHERE id = %s RETURNING 1", photo
        )
    if case == "deleted_event":
        await sql(
            services,
            "UPDATE public.events SET is_deleted = true WHERE id = %s RETURNING 1",
            event,
        )
    before = await snapshot(services, event)
    flagged = await is_flagged(services, photo)
    caller = mallory if case == "non_member" else bob
    target: object = {"no_such_photo": uuid.uuid4(), "bad_uuid": "not-a-uuid"}.get(case, photo)
    headers = {} if case == "no_token" else caller.headers

    r = await client.post(f"/v1/photos/{target}/report", headers=headers, json={"reason": "r"})
    if case == "bad_uuid":
        assert r.status_code == 422, r.text
    elif case == "no_token":
        assert r.status_code == 401, r.text
    else:
        assert_problem(r, 404, "photo_not_found")
    assert await is_flagged(services, photo) is flagged
    assert await snapshot(services, event) == before


async def test_the_creator_hides_a_photo(client: httpx.AsyncClient, services: Services) -> None:
    alice, bob, carol = await create_users(services, 3)
    event = await make_event(services, alice, revealed=True, members=[bob, carol])
    photo = await add_photo(services, event, bob)
    reported = await add_photo(services, event, bob)

    r = await client.post(f"/v1/photos/{photo}/report", headers=alice.headers)
    assert r.status_code == 204, r.text
    assert await is_flagged(services, photo) is True
    assert await reports(services, photo) == [
        {"reporter_id": alice.id, "by_creator": True, "reason": None}
    ]
    for viewer in (alice, carol):
        assert str(photo) not in [i["id"] for i in (await feed(client, viewer, event))["items"]]
    assert str(photo) in [i["id"] for i in (await feed(client, bob, event))["items"]]

    # A photo already hidden by a member's report: the creator can still add theirs.
    r = await client.post(f"/v1/photos/{reported}/report", headers=carol.headers)
    assert r.status_code == 204
    r = await client.post(
        f"/v1/photos/{reported}/report", headers=alice.headers, json={"reason": "off topic"}
    )
    assert r.status_code == 204, r.text
    assert await reports(services, reported) == [
        {"reporter_id": carol.id, "by_creator": False, "reason": None},
        {"reporter_id": alice.id, "by_creator": True, "reason": "off topic"},
    ]


async def test_the_creator_cannot_hide_before_the_reveal(
    client: httpx.AsyncClient, services: Services
) -> None:
    alice, bob = await create_users(services, 2)
    event = await make_event(services, alice, revealed=False, members=[bob])
    photo = await add_photo(services, event, bob)
    r = await client.post(f"/v1/photos/{photo}/report", headers=alice.headers)
    assert_problem(r, 404, "photo_not_found")
    assert await is_flagged(services, photo) is False
    assert await reports(services, photo) == []
