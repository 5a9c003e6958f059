"""The username shown with a photo is its owner's current one: a rename (PATCH /v1/me) updates
the photos in its own transaction (migration 0022), also against a photo inserted meanwhile."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import psycopg
from psycopg.rows import dict_row

from momento.services import Services
from tests.factories import add_photo, create_users, like, make_event, sql
from tests.photos.helpers import feed, liked

NEW_PHOTO = (
    "INSERT INTO public.photos (id, event_id, user_id, storage_path)"
    " VALUES (%(id)s, %(event)s, %(user)s, 'events/' || %(event)s::text || '/' || %(id)s::text)"
)


async def test_rename_shows_everywhere(client: httpx.AsyncClient, services: Services) -> None:
    alice, bob = await create_users(services, 2)
    event = await make_event(services, alice, revealed=True, members=[bob])
    photo = await add_photo(services, event, bob)
    pending = await add_photo(services, event, bob, status="pending")
    await like(services, photo, alice)
    other = await add_photo(services, await make_event(services, bob), bob)

    r = await client.patch("/v1/me", headers=bob.headers, json={"username": "bobby_tables"})
    assert r.status_code == 200, r.text

    [item] = (await feed(client, alice, event))["items"]
    assert item["username"] == "bobby_tables"
    [item] = (await liked(client, alice, event))["items"]
    assert item["username"] == "bobby_tables"
    r = await client.get(f"/v1/events/{event}/photos/mine", headers=bob.headers)
    assert {i["username"] for i in r.json()["items"]} == {"bobby_tables"}
    for who, what in ((alice, photo), (bob, pending), (bob, other)):
        r = await client.get(f"/v1/photos/{what}", headers=who.headers)
        assert r.json()["username"] == "bobby_tables"
    # Every stored copy, and nobody else's.
    rows = await sql(
        services, "SELECT DISTINCT username FROM public.photos WHERE user_id = %s", bob.id
    )
    assert rows == [{"username": "bobby_tables"}]
    assert (
        await sql(services, "SELECT username FROM public.photos WHERE user_id = %s", alice.id) == []
    )
    # A change of something else leaves the photos alone.
    r = await client.patch("/v1/me", headers=bob.headers, json={"display_name": "Bob"})
    assert r.status_code == 200
    [item] = (await feed(client, alice, event))["items"]
    assert item["username"] == "bobby_tables"


async def _connect(services: Services) -> psycopg.AsyncConnection[dict[str, object]]:
    return await psycopg.AsyncConnection.connect(services.db.url, row_factory=dict_row)


async def _stored_name(services: Services, photo: uuid.UUID) -> str:
    [row] = await sql(services, "SELECT username FROM public.photos WHERE id = %s", photo)
    name: str = row["username"]
    return name


async def test_photo_inserted_during_a_rename_gets_the_new_name(services: Services) -> None:
    """The rename holds the profile row; the insert copying the name waits for it, then
    copies the new one (without the lock it would copy the old name and keep it)."""
    [alice] = await create_users(services, 1)
    event = await make_event(services, alice)
    photo = uuid.uuid4()
    renaming = await _connect(services)
    inserting = await _connect(services)
    try:
        await renaming.execute(
            "UPDATE public.profiles SET username = 'renamed' WHERE id = %s", (alice.id,)
        )
        insert = asyncio.create_task(
            inserting.execute(NEW_PHOTO, {"id": photo, "event": event, "user": alice.id})
        )
        await asyncio.sleep(0.3)
        assert not insert.done()  # waiting for the rename
        await renaming.commit()
        await asyncio.wait_for(insert, 10)
        await inserting.commit()
    finally:
        await renaming.close()
        await inserting.close()
    assert await _stored_name(services, photo) == "renamed"


async def test_rename_during_an_insert_updates_the_new_photo(services: Services) -> None:
    """The insert holds the profile row; the rename waits for it to commit, then updates the
    photo it did not see when it started."""
    [alice] = await create_users(services, 1)
    event = await make_event(services, alice)
    photo = uuid.uuid4()
    renaming = await _connect(services)
    inserting = await _connect(services)
    try:
        await inserting.execute(NEW_PHOTO, {"id": photo, "event": event, "user": alice.id})
        rename = asyncio.create_task(
            renaming.execute(
                "UPDATE public.profiles SET username = 'renamed' WHERE id = %s", (alice.id,)
            )
        )
        await asyncio.sleep(0.3)
        assert not rename.done()  # waiting for the insert
        await inserting.commit()
        await asyncio.wait_for(rename, 10)
        await renaming.commit()
    finally:
        await renaming.close()
        await inserting.close()
    assert await _stored_name(services, photo) == "renamed"
