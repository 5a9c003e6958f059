"""POST /v1/events/join, DELETE /v1/events/{id}/membership, GET /v1/events/{id}/members."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from momento.services import Services
from tests.conftest import app_for
from tests.events.helpers import member_ids
from tests.factories import (
    assert_problem,
    create_event,
    create_user,
    join,
    join_code,
    make_event,
    scalar,
)


class TestJoin:
    async def test_join_then_join_again(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        ana = await create_user(services)
        bob = await create_user(services)
        event = await create_event(client, ana)
        r = await client.post(
            "/v1/events/join", headers=bob.headers, json={"join_code": event["join_code"]}
        )
        assert r.status_code == 201, r.text
        assert r.json()["id"] == event["id"]
        assert r.json()["member_count"] == 2
        assert r.json()["join_code"] == event["join_code"]
        # Idempotent: 200, and still one membership.
        r = await client.post(
            "/v1/events/join", headers=bob.headers, json={"join_code": event["join_code"]}
        )
        assert r.status_code == 200
        assert r.json()["member_count"] == 2
        assert await member_ids(services, event["id"]) == {ana.id, bob.id}
        # The creator "joining" their own event is a no-op too.
        r = await client.post(
            "/v1/events/join", headers=ana.headers, json={"join_code": event["join_code"]}
        )
        assert r.status_code == 200
        r = await client.get(f"/v1/events/{event['id']}", headers=bob.headers)
        assert r.status_code == 200

    @pytest.mark.parametrize("shape", [str.lower, lambda c: f"  {c.lower()} \n", str.title])
    async def test_code_is_case_insensitive(
        self, client: httpx.AsyncClient, services: Services, shape: Any
    ) -> None:
        ana = await create_user(services)
        bob = await create_user(services)
        event = await create_event(client, ana)
        r = await client.post(
            "/v1/events/join", headers=bob.headers, json={"join_code": shape(event["join_code"])}
        )
        assert r.status_code == 201, r.text
        assert await member_ids(services, event["id"]) == {ana.id, bob.id}

    @pytest.mark.parametrize("code", ["ZZZZZZ", "ABCDE", "ABCDEFG", "0O1IL0", "", "ab-cde"])
    async def test_wrong_code(
        self, client: httpx.AsyncClient, services: Services, code: str
    ) -> None:
        ana = await create_user(services)
        bob = await create_user(services)
        event = await create_event(client, ana)
        if code.upper() == event["join_code"]:  # pragma: no cover - 1 in 887 million
            code = "YYYYYY" if event["join_code"] != "YYYYYY" else "XXXXXX"
        r = await client.post("/v1/events/join", headers=bob.headers, json={"join_code": code})
        assert_problem(r, 404, "join_code_invalid")
        assert await member_ids(services, event["id"]) == {ana.id}

    async def test_deleted_event_cannot_be_joined(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        ana = await create_user(services)
        bob = await create_user(services)
        event = await create_event(client, ana)
        assert (await client.delete(f"/v1/events/{event['id']}", headers=ana.headers)).is_success
        r = await client.post(
            "/v1/events/join", headers=bob.headers, json={"join_code": event["join_code"]}
        )
        assert_problem(r, 404, "join_code_invalid")
        assert await member_ids(services, event["id"]) == {ana.id}

    @pytest.mark.parametrize(
        "body",
        [{}, {"join_code": None}, {"join_code": 123456}, {"join_code": "A" * 33}, {"code": "X"}],
    )
    async def test_bad_bodies(
        self, client: httpx.AsyncClient, services: Services, body: dict[str, Any]
    ) -> None:
        ana = await create_user(services)
        event = await create_event(client, ana)
        r = await client.post("/v1/events/join", headers=ana.headers, json=body)
        assert_problem(r, 422, "validation_failed")
        r = await client.post(
            "/v1/events/join",
            headers=ana.headers,
            json={"join_code": event["join_code"], "extra": True},
        )
        assert_problem(r, 422, "validation_failed")
        r = await client.post(
            "/v1/events/join",
            headers={**ana.headers, "Content-Type": "application/json"},
            content=b"{",
        )
        assert_problem(r, 400, "bad_request")

    async def test_needs_a_token(self, client: httpx.AsyncClient) -> None:
        r = await client.post("/v1/events/join", json={"join_code": "ABCDEF"})
        assert_problem(r, 401, "unauthorized")


class TestJoinRateLimit:
    async def test_per_account(self, services: Services) -> None:
        ana = await create_user(services)
        bob = await create_user(services)
        async with app_for(services, rate_limit_join_per_account=2) as client:
            event = await create_event(client, ana)
            for _ in range(2):
                r = await client.post(
                    "/v1/events/join", headers=bob.headers, json={"join_code": "ZZZZZZ"}
                )
                assert_problem(r, 404, "join_code_invalid")
            r = await client.post(
                "/v1/events/join", headers=bob.headers, json={"join_code": event["join_code"]}
            )
            assert_problem(r, 429, "rate_limited")
            retry_after = int(r.headers["Retry-After"])
            assert 1 <= retry_after <= services.settings.rate_limit_window
            assert r.json()["retry_after"] == retry_after
            assert await member_ids(services, event["id"]) == {ana.id}
            # Another account from the same address is not held back by Bob's count.
            carl = await create_user(services)
            r = await client.post(
                "/v1/events/join", headers=carl.headers, json={"join_code": event["join_code"]}
            )
            assert r.status_code == 201

    async def test_per_address(self, services: Services) -> None:
        ana = await create_user(services)
        event_id = await make_event(services, ana, name="x")
        event: dict[str, Any] = {"id": event_id, "code": await join_code(services, event_id)}
        users = [await create_user(services) for _ in range(3)]
        async with app_for(services, rate_limit_join_per_ip=2) as client:
            for user in users[:2]:
                r = await client.post(
                    "/v1/events/join", headers=user.headers, json={"join_code": event["code"]}
                )
                assert r.status_code == 201
            r = await client.post(
                "/v1/events/join", headers=users[2].headers, json={"join_code": event["code"]}
            )
            assert_problem(r, 429, "rate_limited")
            assert int(r.headers["Retry-After"]) >= 1
        assert users[2].id not in await member_ids(services, event["id"])


class TestLeave:
    async def test_member_leaves(self, client: httpx.AsyncClient, services: Services) -> None:
        ana = await create_user(services)
        bob = await create_user(services)
        event = await create_event(client, ana)
        await join(client, bob, event)
        r = await client.delete(f"/v1/events/{event['id']}/membership", headers=bob.headers)
        assert r.status_code == 204
        assert r.content == b""
        assert await member_ids(services, event["id"]) == {ana.id}
        r = await client.get(f"/v1/events/{event['id']}", headers=bob.headers)
        assert_problem(r, 404, "event_not_found")
        assert (await client.get("/v1/events", headers=bob.headers)).json() == []
        # Leaving again: no longer a member, so no such event for Bob.
        r = await client.delete(f"/v1/events/{event['id']}/membership", headers=bob.headers)
        assert_problem(r, 404, "event_not_found")
        # He can come back with the code.
        await join(client, bob, event)
        assert await member_ids(services, event["id"]) == {ana.id, bob.id}

    async def test_creator_cannot_leave(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        ana = await create_user(services)
        event = await create_event(client, ana)
        r = await client.delete(f"/v1/events/{event['id']}/membership", headers=ana.headers)
        assert_problem(r, 409, "creator_cannot_leave")
        assert await member_ids(services, event["id"]) == {ana.id}

    async def test_non_member_gets_404(self, client: httpx.AsyncClient, services: Services) -> None:
        ana = await create_user(services)
        eve = await create_user(services)
        event = await create_event(client, ana)
        r = await client.delete(f"/v1/events/{event['id']}/membership", headers=eve.headers)
        assert_problem(r, 404, "event_not_found")
        r = await client.delete(f"/v1/events/{uuid.uuid4()}/membership", headers=eve.headers)
        assert_problem(r, 404, "event_not_found")
        assert await member_ids(services, event["id"]) == {ana.id}

    async def test_deleted_event(self, client: httpx.AsyncClient, services: Services) -> None:
        ana = await create_user(services)
        bob = await create_user(services)
        event = await create_event(client, ana)
        await join(client, bob, event)
        assert (await client.delete(f"/v1/events/{event['id']}", headers=ana.headers)).is_success
        r = await client.delete(f"/v1/events/{event['id']}/membership", headers=bob.headers)
        assert_problem(r, 404, "event_not_found")
        assert await member_ids(services, event["id"]) == {ana.id, bob.id}


class TestMembers:
    async def test_members_see_each_other(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        ana = await create_user(services, "ana")
        bob = await create_user(services, "bob")
        await client.patch("/v1/me", headers=bob.headers, json={"display_name": "Bob"})
        event = await create_event(client, ana)
        await join(client, bob, event)
        r = await client.get(f"/v1/events/{event['id']}/members", headers=bob.headers)
        assert r.status_code == 200
        members = r.json()
        assert [(m["username"], m["is_creator"]) for m in members] == [
            ("ana", True),
            ("bob", False),
        ]
        assert members[1] == {
            "user_id": str(bob.id),
            "username": "bob",
            "display_name": "Bob",
            "avatar_url": None,
            "joined_at": members[1]["joined_at"],
            "is_creator": False,
        }
        assert members[1]["joined_at"].endswith("Z")
        assert await scalar(services, "SELECT count(*) FROM public.event_members") == 2

    async def test_non_member_gets_404(self, client: httpx.AsyncClient, services: Services) -> None:
        ana = await create_user(services)
        eve = await create_user(services)
        event = await create_event(client, ana)
        r = await client.get(f"/v1/events/{event['id']}/members", headers=eve.headers)
        assert_problem(r, 404, "event_not_found")
        r = await client.get(f"/v1/events/{uuid.uuid4()}/members", headers=eve.headers)
        assert_problem(r, 404, "event_not_found")
