"""GET/PATCH /v1/me, PUT /v1/me/device-token, GET /v1/me/stats."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from momento.services import Services
from tests.conftest import app_for
from tests.factories import TestUser, assert_problem, create_event, create_user, join, scalar


async def profile_row(services: Services, user: TestUser) -> dict[str, Any]:
    async with services.db.privileged() as conn:
        cur = await conn.execute("SELECT * FROM public.profiles WHERE id = %s", (user.id,))
        row = await cur.fetchone()
    assert row is not None
    return dict(row)


class TestGetMe:
    async def test_returns_my_profile(self, client: httpx.AsyncClient, services: Services) -> None:
        user = await create_user(services, "ana")
        r = await client.get("/v1/me", headers=user.headers)
        assert r.status_code == 200
        body = r.json()
        assert body["id"] == str(user.id)
        assert body["username"] == "ana"
        assert body["display_name"] is None
        assert body["avatar_url"] is None
        assert body["created_at"].endswith("Z")
        # The device token is write-only.
        assert "device_token" not in body

    async def test_needs_a_token(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.get("/v1/me"), 401, "unauthorized")
        r = await client.get("/v1/me", headers={"Authorization": "Bearer nope"})
        assert_problem(r, 401, "invalid_token")


class TestPatchMe:
    async def test_updates_fields(self, client: httpx.AsyncClient, services: Services) -> None:
        user = await create_user(services, "ana")
        r = await client.patch(
            "/v1/me",
            headers=user.headers,
            json={
                "username": "ana.b_2",
                "display_name": "  Ana B  ",
                "avatar_url": "https://cdn.example.com/a.png",
            },
        )
        assert r.status_code == 200, r.text
        assert r.json()["username"] == "ana.b_2"
        assert r.json()["display_name"] == "Ana B"
        row = await profile_row(services, user)
        assert (row["username"], row["display_name"], row["avatar_url"]) == (
            "ana.b_2",
            "Ana B",
            "https://cdn.example.com/a.png",
        )

    async def test_absent_fields_stay_and_null_clears(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        user = await create_user(services, "ana")
        await client.patch(
            "/v1/me",
            headers=user.headers,
            json={"display_name": "Ana", "avatar_url": "https://x.example/a.png"},
        )
        r = await client.patch("/v1/me", headers=user.headers, json={"display_name": None})
        assert r.status_code == 200
        assert r.json()["display_name"] is None
        assert r.json()["avatar_url"] == "https://x.example/a.png"
        assert r.json()["username"] == "ana"
        r = await client.patch("/v1/me", headers=user.headers, json={})
        assert r.status_code == 200
        assert r.json()["avatar_url"] == "https://x.example/a.png"

    async def test_upper_case_username_is_stored_lower_case(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        user = await create_user(services, "ana")
        r = await client.patch("/v1/me", headers=user.headers, json={"username": "Ana.Banana"})
        assert r.status_code == 200
        assert r.json()["username"] == "ana.banana"
        assert (await profile_row(services, user))["username"] == "ana.banana"
        # My own name in another case is still mine.
        r = await client.patch("/v1/me", headers=user.headers, json={"username": "ANA.BANANA"})
        assert r.status_code == 200

    @pytest.mark.parametrize(
        ("username", "code"),
        [
            *(
                (name, "invalid_name")
                for name in ("ab", "a" * 31, "ana b", "ana-b", "ana@b", "añá", "\u212aelvin", "")
            ),
            (None, "validation_failed"),
            (123, "validation_failed"),
        ],
    )
    async def test_bad_username_is_refused(
        self, client: httpx.AsyncClient, services: Services, username: object, code: str
    ) -> None:
        user = await create_user(services, "ana")
        r = await client.patch("/v1/me", headers=user.headers, json={"username": username})
        assert_problem(r, 422, code)
        assert r.json()["errors"][0]["field"] == "username"
        assert (await profile_row(services, user))["username"] == "ana"

    async def test_username_taken_in_any_case(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        await create_user(services, "bob")
        user = await create_user(services, "ana")
        for wanted in ("bob", "BOB", "Bob"):
            r = await client.patch("/v1/me", headers=user.headers, json={"username": wanted})
            assert_problem(r, 409, "username_taken")
        assert (await profile_row(services, user))["username"] == "ana"

    @pytest.mark.parametrize(
        "body",
        [
            {"avatar_url": "ftp://example.com/a.png"},
            {"avatar_url": "not a url"},
            {"avatar_url": "https://example.com/" + "a" * 2048},
            {"device_token": "ab" * 16},
            {"is_premium": True},
            {"id": "00000000-0000-0000-0000-000000000000"},
        ],
    )
    async def test_bad_fields_are_refused(
        self, client: httpx.AsyncClient, services: Services, body: dict[str, Any]
    ) -> None:
        user = await create_user(services, "ana")
        before = await profile_row(services, user)
        r = await client.patch("/v1/me", headers=user.headers, json=body)
        assert_problem(r, 422, "validation_failed")
        assert await profile_row(services, user) == before

    @pytest.mark.parametrize(
        ("display_name", "reason"),
        [("", "empty"), ("   ", "empty"), ("x" * 61, "too_long")],
    )
    async def test_bad_display_name_is_refused(
        self, client: httpx.AsyncClient, services: Services, display_name: str, reason: str
    ) -> None:
        # Hostile names of every kind: tests/test_names.py.
        user = await create_user(services, "ana")
        before = await profile_row(services, user)
        r = await client.patch("/v1/me", headers=user.headers, json={"display_name": display_name})
        assert_problem(r, 422, "invalid_name")
        assert (r.json()["field"], r.json()["reason"]) == ("display_name", reason)
        assert await profile_row(services, user) == before

    async def test_malformed_json(self, client: httpx.AsyncClient, services: Services) -> None:
        user = await create_user(services, "ana")
        r = await client.patch(
            "/v1/me",
            headers={**user.headers, "Content-Type": "application/json"},
            content=b'{"username": "x',
        )
        assert_problem(r, 400, "bad_request")
        r = await client.patch("/v1/me", headers=user.headers, json=["username"])
        assert_problem(r, 422, "validation_failed")

    async def test_oversize_body(self, services: Services) -> None:
        user = await create_user(services, "ana")
        async with app_for(services, max_body_bytes=1024) as client:
            r = await client.patch(
                "/v1/me", headers=user.headers, json={"display_name": "x" * 2000}
            )
        assert_problem(r, 413, "payload_too_large")
        assert (await profile_row(services, user))["display_name"] is None


class TestDeviceToken:
    async def test_set_and_clear(self, client: httpx.AsyncClient, services: Services) -> None:
        user = await create_user(services)
        token = "AbCdEf0123456789" * 4
        r = await client.put("/v1/me/device-token", headers=user.headers, json={"token": token})
        assert r.status_code == 204
        assert r.content == b""
        assert (await profile_row(services, user))["device_token"] == token.lower()
        assert "device_token" not in (await client.get("/v1/me", headers=user.headers)).json()
        r = await client.put("/v1/me/device-token", headers=user.headers, json={"token": None})
        assert r.status_code == 204
        assert (await profile_row(services, user))["device_token"] is None

    @pytest.mark.parametrize(
        "body",
        [
            {"token": "zz" * 32},
            {"token": "ab" * 15},
            {"token": "a" * 201},
            {"token": "ab cd" * 10},
            {"token": ""},
            {"token": 1234},
            {},
            {"token": "ab" * 16, "platform": "ios"},
        ],
    )
    async def test_bad_token_is_refused(
        self, client: httpx.AsyncClient, services: Services, body: dict[str, Any]
    ) -> None:
        user = await create_user(services)
        good = "ab" * 32
        await client.put("/v1/me/device-token", headers=user.headers, json={"token": good})
        r = await client.put("/v1/me/device-token", headers=user.headers, json=body)
        assert_problem(r, 422, "validation_failed")
        assert (await profile_row(services, user))["device_token"] == good

    async def test_needs_a_token(self, client: httpx.AsyncClient) -> None:
        r = await client.put("/v1/me/device-token", json={"token": "ab" * 16})
        assert_problem(r, 401, "unauthorized")


class TestStats:
    async def test_user_number_and_events_joined(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        first = await create_user(services)
        second = await create_user(services)
        third = await create_user(services)
        for number, user in enumerate((first, second, third), start=1):
            r = await client.get("/v1/me/stats", headers=user.headers)
            assert r.status_code == 200
            assert r.json() == {"user_number": number, "events_joined": 0}

        mine = await create_event(client, second, "Mine")
        theirs = await create_event(client, first, "Theirs")
        deleted = await create_event(client, first, "Deleted")
        await create_event(client, third, "Not joined")
        await join(client, second, theirs)
        await join(client, second, deleted)
        r = await client.delete(f"/v1/events/{deleted['id']}", headers=first.headers)
        assert r.status_code == 204
        r = await client.get("/v1/me/stats", headers=second.headers)
        # My own event and the one I joined; the deleted one no longer counts.
        assert r.json() == {"user_number": 2, "events_joined": 2}
        assert mine["creator_id"] == str(second.id)
        total = await scalar(services, "SELECT count(*) FROM public.profiles")
        assert total == 3
