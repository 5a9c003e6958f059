"""Guests (anonymous sign-ins) and invitations (issue 17): the invite link and its QR codes,
the host's web-guests switch and join-code rotation, and what a guest cannot do (create an
event, pay), refused by the database as well as by the routes."""

from __future__ import annotations

import io
import uuid
from typing import Any

import httpx
import psycopg
import pytest
import segno
from PIL import Image

from momento.errors import Forbidden
from momento.services import Services
from tests.auth.helpers import API
from tests.factories import assert_problem, create_event, create_user, schedule


async def guest(client: httpx.AsyncClient, name: str = "Gus") -> dict[str, str]:
    """A guest's bearer header: POST /auth/v1/signup with no email (anonymous sign-in)."""
    r = await client.post("/auth/v1/signup", json={"data": {"display_name": name}}, headers=API)
    assert r.status_code == 200, r.text
    assert r.json()["user"]["is_anonymous"] is True
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def test_members_get_the_invite_link_and_its_qr_codes(
    services: Services, client: httpx.AsyncClient
) -> None:
    host = await create_user(services)
    event = await create_event(client, host)
    r = await client.get(f"/v1/events/{event['id']}/invite", headers=host.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "join_code": event["join_code"],
        "url": f"http://testserver/j/{event['join_code']}",
        "web_guests": True,
    }

    svg = await client.get(f"/v1/events/{event['id']}/invite.svg", headers=host.headers)
    assert svg.status_code == 200
    assert svg.headers["content-type"] == "image/svg+xml"
    assert svg.content.startswith(b"<?xml")
    assert b"<svg" in svg.content

    png = await client.get(f"/v1/events/{event['id']}/invite.png?scale=4", headers=host.headers)
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(png.content))
    # The code's modules plus two 4-module quiet zones, 4 px each.
    modules = segno.make(f"http://testserver/j/{event['join_code']}", error="m").symbol_size(
        border=4, scale=4
    )
    assert image.size == modules

    # A non-member learns nothing.
    other = await create_user(services)
    for path in ("invite", "invite.svg", "invite.png"):
        r = await client.get(f"/v1/events/{event['id']}/{path}", headers=other.headers)
        assert_problem(r, 404, "event_not_found")


def _decode_qr(png: bytes) -> str | None:
    """The QR code's text, if a decoder is installed here (zbar); None otherwise."""
    try:
        from pyzbar import pyzbar  # type: ignore[import-not-found]
    except ImportError:
        return None
    found = pyzbar.decode(Image.open(io.BytesIO(png)))
    return found[0].data.decode() if found else ""


async def test_the_qr_code_holds_the_join_url(
    services: Services, client: httpx.AsyncClient
) -> None:
    host = await create_user(services)
    event = await create_event(client, host)
    png = await client.get(f"/v1/events/{event['id']}/invite.png", headers=host.headers)
    text = _decode_qr(png.content)
    if text is None:
        # No decoder installed: segno's own matrix of the same URL is what was drawn.
        expected = segno.make(f"http://testserver/j/{event['join_code']}", error="m")
        image = Image.open(io.BytesIO(png.content)).convert("1")
        scale, border = 10, 4
        for row, bits in enumerate(expected.matrix):
            for col, bit in enumerate(bits):
                x, y = (col + border) * scale + scale // 2, (row + border) * scale + scale // 2
                assert (image.getpixel((x, y)) == 0) == bool(bit), (row, col)
    else:
        assert text == f"http://testserver/j/{event['join_code']}"


async def test_a_guest_joins_by_code_but_cannot_create_events(
    services: Services, client: httpx.AsyncClient
) -> None:
    host = await create_user(services)
    event = await create_event(client, host)
    headers = await guest(client)

    r = await client.post("/v1/events", headers=headers, json={"name": "Mine", **schedule()})
    assert_problem(r, 403, "guest_not_allowed")
    r = await client.post(
        "/v1/events/join", headers=headers, json={"join_code": event["join_code"]}
    )
    assert r.status_code == 201, r.text
    r = await client.get(f"/v1/events/{event['id']}", headers=headers)
    assert r.status_code == 200
    # Not the host: cannot rotate the code, change the event, or pay for it.
    r = await client.post(f"/v1/events/{event['id']}/join-code", headers=headers)
    assert_problem(r, 403, "not_event_creator")
    r = await client.patch(f"/v1/events/{event['id']}", headers=headers, json={"name": "x"})
    assert_problem(r, 403, "not_event_creator")
    r = await client.post(
        f"/v1/events/{event['id']}/premium", headers=headers, json={"transaction_id": "1"}
    )
    assert_problem(r, 403, "guest_not_allowed")


async def test_the_database_refuses_a_guests_event(
    services: Services, client: httpx.AsyncClient
) -> None:
    """The insert policy itself, whatever route or statement tries it."""
    headers = await guest(client)
    token = headers["Authorization"].removeprefix("Bearer ")
    claims: dict[str, Any] = services.tokens.verify(token)
    with pytest.raises(Forbidden) as refused:
        async with services.db.as_user(claims) as conn:
            await conn.execute(
                "INSERT INTO public.events (name, creator_id, starts_at, release_at)"
                " VALUES ('x', auth.uid(), now(), now() + interval '1 day')"
            )
    assert isinstance(refused.value.__cause__, psycopg.errors.InsufficientPrivilege)
    assert "row-level security" in str(refused.value.__cause__)


async def test_a_guest_who_signs_up_can_create_events(
    services: Services, client: httpx.AsyncClient
) -> None:
    headers = await guest(client)
    r = await client.put(
        "/auth/v1/user",
        headers={**headers, **API},
        json={"email": f"g{uuid.uuid4().hex[:8]}@example.com", "password": "a long passphrase 1"},
    )
    assert r.status_code == 200, r.text
    # The account, not the token's claim, decides: the same access token now creates events.
    # (Email confirmation is off here: the guest's address is taken at once.)
    r = await client.post("/v1/events", headers=headers, json={"name": "Mine", **schedule()})
    assert r.status_code == 201, r.text


async def test_the_host_turns_web_guests_off(services: Services, client: httpx.AsyncClient) -> None:
    host = await create_user(services)
    member = await create_user(services)
    event = await create_event(client, host)
    early = await guest(client, "Early")
    r = await client.post("/v1/events/join", headers=early, json={"join_code": event["join_code"]})
    assert r.status_code == 201

    r = await client.patch(
        f"/v1/events/{event['id']}", headers=host.headers, json={"web_guests": False}
    )
    assert r.status_code == 200, r.text
    assert r.json()["web_guests"] is False
    r = await client.get(f"/v1/events/{event['id']}/invite", headers=host.headers)
    assert r.json()["web_guests"] is False

    late = await guest(client, "Late")
    r = await client.post("/v1/events/join", headers=late, json={"join_code": event["join_code"]})
    assert_problem(r, 403, "web_guests_off")
    # Members with an account still join; a guest already in stays in.
    r = await client.post(
        "/v1/events/join", headers=member.headers, json={"join_code": event["join_code"]}
    )
    assert r.status_code == 201
    r = await client.post("/v1/events/join", headers=early, json={"join_code": event["join_code"]})
    assert r.status_code == 200
    # null is not "off".
    r = await client.patch(
        f"/v1/events/{event['id']}", headers=host.headers, json={"web_guests": None}
    )
    assert r.status_code == 422

    r = await client.patch(
        f"/v1/events/{event['id']}", headers=host.headers, json={"web_guests": True}
    )
    assert r.json()["web_guests"] is True
    r = await client.post("/v1/events/join", headers=late, json={"join_code": event["join_code"]})
    assert r.status_code == 201


async def test_the_host_rotates_the_join_code(
    services: Services, client: httpx.AsyncClient
) -> None:
    host, member, newcomer = [await create_user(services) for _ in range(3)]
    event = await create_event(client, host)
    old = event["join_code"]
    r = await client.post("/v1/events/join", headers=member.headers, json={"join_code": old})
    assert r.status_code == 201

    r = await client.post(f"/v1/events/{event['id']}/join-code", headers=host.headers)
    assert r.status_code == 200, r.text
    new = r.json()["join_code"]
    assert new != old
    assert len(new) == 6
    assert r.json()["member_count"] == 2

    r = await client.post("/v1/events/join", headers=newcomer.headers, json={"join_code": old})
    assert_problem(r, 404, "join_code_invalid")
    r = await client.post("/v1/events/join", headers=newcomer.headers, json={"join_code": new})
    assert r.status_code == 201
    r = await client.get(f"/v1/events/{event['id']}/invite", headers=member.headers)
    assert r.json()["url"].endswith(f"/j/{new}")
    # A member who is not the host cannot; a stranger is told nothing.
    r = await client.post(f"/v1/events/{event['id']}/join-code", headers=member.headers)
    assert_problem(r, 403, "not_event_creator")
    stranger = await create_user(services)
    r = await client.post(f"/v1/events/{event['id']}/join-code", headers=stranger.headers)
    assert_problem(r, 404, "event_not_found")
