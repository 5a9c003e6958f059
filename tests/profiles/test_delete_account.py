"""DELETE /v1/me: the account and everything that is the user's go; others' things stay."""

from __future__ import annotations

import hashlib
import secrets

import httpx

from momento.services import Services
from tests.factories import (
    TestUser,
    add_photo,
    assert_problem,
    create_event,
    create_user,
    join,
    like,
    scalar,
)


async def add_refresh_token(services: Services, user: TestUser) -> None:
    async with services.db.privileged() as conn:
        await conn.execute(
            "INSERT INTO auth.refresh_tokens (token_hash, user_id, session_id) VALUES (%s, %s, %s)",
            (hashlib.sha256(secrets.token_bytes(16)).hexdigest(), user.id, user.session_id),
        )


async def test_deletes_everything_that_is_mine(
    client: httpx.AsyncClient, services: Services
) -> None:
    ana = await create_user(services, "ana")
    bob = await create_user(services, "bob")
    await add_refresh_token(services, ana)
    await add_refresh_token(services, bob)

    # Ana's event, which Bob joined and filled with photos and likes.
    anas = await create_event(client, ana, "Ana's")
    await join(client, bob, anas)
    bob_photo_in_anas = await add_photo(services, anas["id"], bob)
    ana_photo_in_anas = await add_photo(services, anas["id"], ana)
    await like(services, ana_photo_in_anas, bob)

    # Bob's event, which Ana joined.
    bobs = await create_event(client, bob, "Bob's")
    await join(client, ana, bobs)
    ana_photo = await add_photo(services, bobs["id"], ana)
    bob_photo = await add_photo(services, bobs["id"], bob)
    await like(services, ana_photo, bob)  # Bob's like of Ana's photo goes with the photo.
    await like(services, bob_photo, ana)  # Ana's like goes.
    await like(services, bob_photo, bob)  # Bob's like of his own photo stays.

    r = await client.delete("/v1/me", headers=ana.headers)
    assert r.status_code == 204
    assert r.content == b""

    for query in (
        "SELECT count(*) FROM auth.users WHERE id = %s",
        "SELECT count(*) FROM auth.sessions WHERE user_id = %s",
        "SELECT count(*) FROM auth.refresh_tokens WHERE user_id = %s",
        "SELECT count(*) FROM public.profiles WHERE id = %s",
        "SELECT count(*) FROM public.events WHERE creator_id = %s",
        "SELECT count(*) FROM public.event_members WHERE user_id = %s",
        "SELECT count(*) FROM public.photos WHERE user_id = %s",
        "SELECT count(*) FROM public.photo_likes WHERE user_id = %s",
    ):
        assert await scalar(services, query, ana.id) == 0, query

    # Ana's event went whole (hard delete), Bob's photo and like in it included.
    assert (
        await scalar(services, "SELECT count(*) FROM public.events WHERE id = %s", anas["id"]) == 0
    )
    assert (
        await scalar(services, "SELECT count(*) FROM public.photos WHERE event_id = %s", anas["id"])
        == 0
    )
    assert (
        await scalar(
            services,
            "SELECT count(*) FROM public.photo_likes WHERE photo_id = ANY(%s)",
            [bob_photo_in_anas, ana_photo_in_anas],
        )
        == 0
    )

    # Bob's event stays, minus Ana.
    r = await client.get(f"/v1/events/{bobs['id']}", headers=bob.headers)
    assert r.status_code == 200
    assert r.json()["member_count"] == 1
    r = await client.get(f"/v1/events/{bobs['id']}/members", headers=bob.headers)
    assert [m["username"] for m in r.json()] == ["bob"]
    assert await scalar(
        services, "SELECT array_agg(id) FROM public.photos WHERE event_id = %s", bobs["id"]
    ) == [bob_photo]
    assert await scalar(services, "SELECT array_agg(user_id) FROM public.photo_likes") == [bob.id]

    # Bob's account is untouched.
    for query in (
        "SELECT count(*) FROM auth.users WHERE id = %s",
        "SELECT count(*) FROM auth.sessions WHERE user_id = %s",
        "SELECT count(*) FROM auth.refresh_tokens WHERE user_id = %s",
        "SELECT count(*) FROM public.profiles WHERE id = %s",
    ):
        assert await scalar(services, query, bob.id) == 1, query
    r = await client.get("/v1/me", headers=bob.headers)
    assert r.status_code == 200


async def test_old_token_reads_and_writes_nothing(
    client: httpx.AsyncClient, services: Services
) -> None:
    ana = await create_user(services, "ana")
    bob = await create_user(services, "bob")
    bobs = await create_event(client, bob, "Bob's")
    await join(client, ana, bobs)
    assert (await client.delete("/v1/me", headers=ana.headers)).status_code == 204

    h = ana.headers
    assert_problem(await client.get("/v1/me", headers=h), 401, "user_not_found")
    r = await client.get("/v1/me", headers=h)
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert_problem(await client.get("/v1/me/stats", headers=h), 401, "user_not_found")
    r = await client.patch("/v1/me", headers=h, json={"display_name": "Ghost"})
    assert_problem(r, 401, "user_not_found")
    r = await client.put("/v1/me/device-token", headers=h, json={"token": "ab" * 16})
    assert_problem(r, 401, "user_not_found")
    assert_problem(await client.delete("/v1/me", headers=h), 401, "user_not_found")
    r = await client.post(
        "/v1/events",
        headers=h,
        json={
            "name": "Ghost",
            "starts_at": "2030-01-01T00:00:00Z",
            "release_at": "2030-01-02T00:00:00Z",
        },
    )
    assert_problem(r, 401, "user_not_found")
    r = await client.post("/v1/events/join", headers=h, json={"join_code": bobs["join_code"]})
    assert_problem(r, 401, "user_not_found")
    assert (await client.get("/v1/events", headers=h)).json() == []
    assert_problem(await client.get(f"/v1/events/{bobs['id']}", headers=h), 404, "event_not_found")

    # Nothing was written by any of that.
    assert await scalar(services, "SELECT count(*) FROM public.profiles") == 1
    assert await scalar(services, "SELECT count(*) FROM public.events") == 1
    assert await scalar(services, "SELECT count(*) FROM public.event_members") == 1


async def test_the_username_is_free_again(client: httpx.AsyncClient, services: Services) -> None:
    ana = await create_user(services, "ana")
    bob = await create_user(services, "bob")
    assert (await client.delete("/v1/me", headers=ana.headers)).status_code == 204
    r = await client.patch("/v1/me", headers=bob.headers, json={"username": "ana"})
    assert r.status_code == 200


async def test_needs_a_token(client: httpx.AsyncClient) -> None:
    assert_problem(await client.delete("/v1/me"), 401, "unauthorized")
