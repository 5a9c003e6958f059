"""POST/GET /v1/events, GET/PATCH/DELETE /v1/events/{id}."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from momento.services import Services
from tests.conftest import app_for
from tests.events.helpers import event_row, member_ids
from tests.factories import (
    add_photo,
    assert_problem,
    create_event,
    create_user,
    iso,
    join,
    scalar,
    schedule,
)

JOIN_CODE = re.compile(r"[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}")
NOW = datetime.now(UTC)


class TestCreate:
    async def test_creates_with_code_and_creator_as_member(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        ana = await create_user(services)
        body = {
            "name": "  Ana's 30th  ",
            "starts_at": "2030-05-01T20:00:00+02:00",
            "release_at": "2030-05-02T10:00:00Z",
        }
        r = await client.post("/v1/events", headers=ana.headers, json=body)
        assert r.status_code == 201, r.text
        event = r.json()
        assert set(event) == {
            "id",
            "name",
            "join_code",
            "creator_id",
            "starts_at",
            "release_at",
            "is_premium",
            "created_at",
            "revealed",
            "member_count",
            "photo_count",
            "web_guests",
        }
        assert event["name"] == "Ana's 30th"
        assert JOIN_CODE.fullmatch(event["join_code"])
        assert event["creator_id"] == str(ana.id)
        assert event["starts_at"] == "2030-05-01T18:00:00Z"
        assert event["release_at"] == "2030-05-02T10:00:00Z"
        assert event["created_at"].endswith("Z")
        assert event["is_premium"] is False
        assert event["revealed"] is False
        assert event["member_count"] == 1
        assert event["photo_count"] == 0
        assert await member_ids(services, event["id"]) == {ana.id}
        # The answer is what a later read says.
        r = await client.get(f"/v1/events/{event['id']}", headers=ana.headers)
        assert r.json() == event

    async def test_codes_differ(self, client: httpx.AsyncClient, services: Services) -> None:
        ana = await create_user(services)
        codes = {(await create_event(client, ana))["join_code"] for _ in range(20)}
        assert len(codes) == 20

    async def test_code_collision_is_retried(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """The column default draws a taken code twice; the insert is retried until it fits."""
        ana = await create_user(services)
        taken = await create_event(client, ana)
        async with services.db.privileged() as conn:
            await conn.execute("CREATE SEQUENCE public.test_code_draws")
            await conn.execute("GRANT USAGE ON SEQUENCE public.test_code_draws TO authenticated")
            await conn.execute(
                "ALTER TABLE public.events ALTER COLUMN join_code SET DEFAULT CASE WHEN"
                " nextval('public.test_code_draws') <= 2 THEN '"
                + taken["join_code"]
                + "' ELSE private.new_join_code() END"
            )
        try:
            event = await create_event(client, ana)
            draws = await scalar(services, "SELECT last_value FROM public.test_code_draws")
        finally:
            async with services.db.privileged() as conn:
                await conn.execute(
                    "ALTER TABLE public.events ALTER COLUMN join_code"
                    " SET DEFAULT private.new_join_code()"
                )
                await conn.execute("DROP SEQUENCE public.test_code_draws")
        assert draws == 3
        assert event["join_code"] != taken["join_code"]
        assert JOIN_CODE.fullmatch(event["join_code"])
        assert await scalar(services, "SELECT count(*) FROM public.events") == 2

    @pytest.mark.parametrize(
        ("starts_at", "release_at"),
        [
            ("2030-01-01T10:00:00Z", "2030-01-01T10:00:00Z"),
            ("2030-01-01T10:00:00Z", "2030-01-01T09:59:59Z"),
            ("2030-01-01T12:00:00+02:00", "2030-01-01T10:00:00Z"),
        ],
    )
    async def test_release_must_follow_start(
        self, client: httpx.AsyncClient, services: Services, starts_at: str, release_at: str
    ) -> None:
        ana = await create_user(services)
        r = await client.post(
            "/v1/events",
            headers=ana.headers,
            json={"name": "x", "starts_at": starts_at, "release_at": release_at},
        )
        assert_problem(r, 422, "release_before_start")
        assert await scalar(services, "SELECT count(*) FROM public.events") == 0

    @pytest.mark.parametrize(
        "change",
        [
            {"name": None},
            {"starts_at": "2030-01-01T10:00:00"},  # no time zone
            {"starts_at": "tomorrow"},
            {"release_at": None},
            {"is_premium": True},
            {"is_deleted": True},
            {"join_code": "ABCDEF"},
            {"creator_id": "00000000-0000-0000-0000-000000000000"},
        ],
    )
    async def test_bad_bodies_are_refused(
        self, client: httpx.AsyncClient, services: Services, change: dict[str, Any]
    ) -> None:
        ana = await create_user(services)
        r = await client.post(
            "/v1/events", headers=ana.headers, json={"name": "x", **schedule(), **change}
        )
        assert_problem(r, 422, "validation_failed")
        assert await scalar(services, "SELECT count(*) FROM public.events") == 0

    @pytest.mark.parametrize(
        ("name", "reason"), [("", "empty"), ("   ", "empty"), ("x" * 101, "too_long")]
    )
    async def test_bad_names_are_refused(
        self, client: httpx.AsyncClient, services: Services, name: str, reason: str
    ) -> None:
        # Hostile names of every kind: tests/test_names.py.
        ana = await create_user(services)
        r = await client.post("/v1/events", headers=ana.headers, json={"name": name, **schedule()})
        assert_problem(r, 422, "invalid_name")
        assert (r.json()["field"], r.json()["reason"]) == ("name", reason)
        assert await scalar(services, "SELECT count(*) FROM public.events") == 0

    async def test_missing_fields(self, client: httpx.AsyncClient, services: Services) -> None:
        ana = await create_user(services)
        r = await client.post("/v1/events", headers=ana.headers, json={"name": "x"})
        assert_problem(r, 422, "validation_failed")
        fields = {e["field"] for e in r.json()["errors"]}
        assert fields == {"starts_at", "release_at"}
        r = await client.post("/v1/events", headers=ana.headers)
        assert_problem(r, 422, "validation_failed")

    async def test_malformed_json(self, client: httpx.AsyncClient, services: Services) -> None:
        ana = await create_user(services)
        r = await client.post(
            "/v1/events",
            headers={**ana.headers, "Content-Type": "application/json"},
            content=b'{"name": ',
        )
        assert_problem(r, 400, "bad_request")
        assert await scalar(services, "SELECT count(*) FROM public.events") == 0

    async def test_oversize_body(self, services: Services) -> None:
        ana = await create_user(services)
        async with app_for(services, max_body_bytes=1024) as client:
            r = await client.post(
                "/v1/events", headers=ana.headers, json={"name": "x" * 2000, **schedule()}
            )
        assert_problem(r, 413, "payload_too_large")
        assert await scalar(services, "SELECT count(*) FROM public.events") == 0

    async def test_needs_a_token(self, client: httpx.AsyncClient, services: Services) -> None:
        r = await client.post("/v1/events", json={"name": "x", **schedule()})
        assert_problem(r, 401, "unauthorized")
        assert_problem(await client.get("/v1/events"), 401, "unauthorized")


class TestList:
    async def test_mine_newest_first_deleted_excluded(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        ana = await create_user(services)
        bob = await create_user(services)
        first = await create_event(client, ana, "first")
        bobs = await create_event(client, bob, "bob's")
        await create_event(client, bob, "not mine")
        gone = await create_event(client, ana, "deleted")
        last = await create_event(client, ana, "last")
        await join(client, ana, bobs)
        await join(client, bob, first)
        assert (await client.delete(f"/v1/events/{gone['id']}", headers=ana.headers)).is_success
        await add_photo(services, first["id"], bob)
        await add_photo(services, first["id"], ana)

        r = await client.get("/v1/events", headers=ana.headers)
        assert r.status_code == 200
        events = r.json()
        assert [e["name"] for e in events] == ["last", "bob's", "first"]
        counts = {e["name"]: (e["member_count"], e["photo_count"]) for e in events}
        assert counts == {"last": (1, 0), "bob's": (2, 0), "first": (2, 2)}
        assert (
            events[0] == (await client.get(f"/v1/events/{last['id']}", headers=ana.headers)).json()
        )

    async def test_empty(self, client: httpx.AsyncClient, services: Services) -> None:
        ana = await create_user(services)
        r = await client.get("/v1/events", headers=ana.headers)
        assert r.status_code == 200
        assert r.json() == []


class TestGet:
    async def test_member_sees_counts_and_reveal(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        ana = await create_user(services)
        bob = await create_user(services)
        event = await create_event(client, ana)
        await join(client, bob, event)
        await add_photo(services, event["id"], ana)
        await add_photo(services, event["id"], ana, status="pending")
        await add_photo(services, event["id"], bob)
        await add_photo(services, event["id"], bob, status="failed")
        await add_photo(services, event["id"], bob, flagged=True)
        r = await client.get(f"/v1/events/{event['id']}", headers=bob.headers)
        assert r.status_code == 200
        # Before the reveal Bob sees only his own photos, yet the count says what is coming:
        # all but the failed upload and the flagged photo.
        assert r.json()["photo_count"] == 3
        assert r.json()["member_count"] == 2
        assert r.json()["revealed"] is False

        revealed = await create_event(client, ana, revealed=True)
        r = await client.get(f"/v1/events/{revealed['id']}", headers=ana.headers)
        assert r.json()["revealed"] is True

    async def test_non_member_gets_404(self, client: httpx.AsyncClient, services: Services) -> None:
        ana = await create_user(services)
        eve = await create_user(services)
        event = await create_event(client, ana)
        r = await client.get(f"/v1/events/{event['id']}", headers=eve.headers)
        assert_problem(r, 404, "event_not_found")
        unknown = await client.get(f"/v1/events/{uuid.uuid4()}", headers=eve.headers)
        # Exactly the same answer as for an event that does not exist.
        assert unknown.json() == r.json()

    @pytest.mark.parametrize("path", ["not-a-uuid", "1", "00000000-0000-0000-0000-00000000000g"])
    async def test_bad_uuid(self, client: httpx.AsyncClient, services: Services, path: str) -> None:
        ana = await create_user(services)
        for method in ("GET", "PATCH", "DELETE"):
            r = await client.request(method, f"/v1/events/{path}", headers=ana.headers, json={})
            assert_problem(r, 422, "validation_failed")
        for suffix, method in (("members", "GET"), ("membership", "DELETE")):
            r = await client.request(method, f"/v1/events/{path}/{suffix}", headers=ana.headers)
            assert_problem(r, 422, "validation_failed")


class TestUpdate:
    async def test_creator_changes_fields(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        ana = await create_user(services)
        event = await create_event(client, ana)
        new_release = iso(NOW + timedelta(days=3))
        r = await client.patch(
            f"/v1/events/{event['id']}",
            headers=ana.headers,
            json={"name": " Renamed ", "release_at": new_release},
        )
        assert r.status_code == 200, r.text
        assert r.json()["name"] == "Renamed"
        assert r.json()["release_at"] == new_release
        assert r.json()["starts_at"] == event["starts_at"]
        assert r.json()["join_code"] == event["join_code"]
        assert r.json()["member_count"] == 1
        row = await event_row(services, event["id"])
        assert row["name"] == "Renamed"
        assert iso(row["release_at"]) == new_release

    async def test_empty_patch_changes_nothing(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        ana = await create_user(services)
        event = await create_event(client, ana)
        r = await client.patch(f"/v1/events/{event['id']}", headers=ana.headers, json={})
        assert r.status_code == 200
        assert r.json() == event

    async def test_member_not_creator_gets_403(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        ana = await create_user(services)
        bob = await create_user(services)
        event = await create_event(client, ana)
        await join(client, bob, event)
        before = await event_row(services, event["id"])
        r = await client.patch(f"/v1/events/{event['id']}", headers=bob.headers, json={"name": "x"})
        assert_problem(r, 403, "not_event_creator")
        assert await event_row(services, event["id"]) == before

    async def test_non_member_gets_404(self, client: httpx.AsyncClient, services: Services) -> None:
        ana = await create_user(services)
        eve = await create_user(services)
        event = await create_event(client, ana)
        before = await event_row(services, event["id"])
        r = await client.patch(f"/v1/events/{event['id']}", headers=eve.headers, json={"name": "x"})
        assert_problem(r, 404, "event_not_found")
        r = await client.patch(f"/v1/events/{uuid.uuid4()}", headers=eve.headers, json={})
        assert_problem(r, 404, "event_not_found")
        assert await event_row(services, event["id"]) == before

    async def test_release_locked_once_revealed(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        ana = await create_user(services)
        event = await create_event(client, ana, revealed=True)
        before = await event_row(services, event["id"])
        for release in (NOW + timedelta(days=1), NOW - timedelta(minutes=1)):
            r = await client.patch(
                f"/v1/events/{event['id']}", headers=ana.headers, json={"release_at": iso(release)}
            )
            assert_problem(r, 409, "release_locked")
        assert await event_row(services, event["id"]) == before
        # Other fields can still change, and the same release_at is no move.
        r = await client.patch(
            f"/v1/events/{event['id']}",
            headers=ana.headers,
            json={"name": "After", "release_at": event["release_at"]},
        )
        assert r.status_code == 200, r.text
        assert r.json()["name"] == "After"

    async def test_release_must_follow_start(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        ana = await create_user(services)
        event = await create_event(client, ana)
        before = await event_row(services, event["id"])
        starts = datetime.fromisoformat(event["starts_at"])
        cases = [
            {"release_at": event["starts_at"]},  # against the stored starts_at
            {"starts_at": iso(NOW + timedelta(days=5))},  # after the stored release_at
            {"starts_at": iso(starts), "release_at": iso(starts - timedelta(seconds=1))},
        ]
        for change in cases:
            r = await client.patch(f"/v1/events/{event['id']}", headers=ana.headers, json=change)
            assert_problem(r, 422, "release_before_start")
        assert await event_row(services, event["id"]) == before

    @pytest.mark.parametrize(
        "change",
        [
            {"name": None},
            {"starts_at": None},
            {"release_at": "2030-01-01"},
            {"is_premium": True},
            {"is_deleted": True},
            {"join_code": "ABCDEF"},
            {"creator_id": "00000000-0000-0000-0000-000000000000"},
        ],
    )
    async def test_bad_bodies_are_refused(
        self, client: httpx.AsyncClient, services: Services, change: dict[str, Any]
    ) -> None:
        ana = await create_user(services)
        event = await create_event(client, ana)
        before = await event_row(services, event["id"])
        r = await client.patch(f"/v1/events/{event['id']}", headers=ana.headers, json=change)
        assert_problem(r, 422, "validation_failed")
        assert await event_row(services, event["id"]) == before

    async def test_malformed_json_and_oversize(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        ana = await create_user(services)
        event = await create_event(client, ana)
        before = await event_row(services, event["id"])
        r = await client.patch(
            f"/v1/events/{event['id']}",
            headers={**ana.headers, "Content-Type": "application/json"},
            content=b"{name: 1}",
        )
        assert_problem(r, 400, "bad_request")
        async with app_for(services, max_body_bytes=1024) as small:
            r = await small.patch(
                f"/v1/events/{event['id']}", headers=ana.headers, json={"name": "x" * 2000}
            )
        assert_problem(r, 413, "payload_too_large")
        assert await event_row(services, event["id"]) == before

    async def test_deleted_event_cannot_change(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        ana = await create_user(services)
        event = await create_event(client, ana)
        assert (await client.delete(f"/v1/events/{event['id']}", headers=ana.headers)).is_success
        r = await client.patch(f"/v1/events/{event['id']}", headers=ana.headers, json={"name": "x"})
        assert_problem(r, 404, "event_not_found")
        assert (await event_row(services, event["id"]))["name"] == "Party"


class TestDelete:
    async def test_creator_soft_deletes(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        ana = await create_user(services)
        bob = await create_user(services)
        event = await create_event(client, ana)
        await join(client, bob, event)
        await add_photo(services, event["id"], bob)
        r = await client.delete(f"/v1/events/{event['id']}", headers=ana.headers)
        assert r.status_code == 204
        assert r.content == b""
        # Soft: the row, its members and photos are still stored.
        assert (await event_row(services, event["id"]))["is_deleted"] is True
        assert await member_ids(services, event["id"]) == {ana.id, bob.id}
        assert await scalar(services, "SELECT count(*) FROM public.photos") == 1
        # ...but gone for everyone.
        for user in (ana, bob):
            assert (await client.get("/v1/events", headers=user.headers)).json() == []
            r = await client.get(f"/v1/events/{event['id']}", headers=user.headers)
            assert_problem(r, 404, "event_not_found")
            r = await client.get(f"/v1/events/{event['id']}/members", headers=user.headers)
            assert_problem(r, 404, "event_not_found")
        r = await client.delete(f"/v1/events/{event['id']}", headers=ana.headers)
        assert_problem(r, 404, "event_not_found")

    async def test_member_not_creator_gets_403(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        ana = await create_user(services)
        bob = await create_user(services)
        event = await create_event(client, ana)
        await join(client, bob, event)
        r = await client.delete(f"/v1/events/{event['id']}", headers=bob.headers)
        assert_problem(r, 403, "not_event_creator")
        assert (await event_row(services, event["id"]))["is_deleted"] is False

    async def test_non_member_gets_404(self, client: httpx.AsyncClient, services: Services) -> None:
        ana = await create_user(services)
        eve = await create_user(services)
        event = await create_event(client, ana)
        r = await client.delete(f"/v1/events/{event['id']}", headers=eve.headers)
        assert_problem(r, 404, "event_not_found")
        r = await client.delete(f"/v1/events/{uuid.uuid4()}", headers=eve.headers)
        assert_problem(r, 404, "event_not_found")
        assert (await event_row(services, event["id"]))["is_deleted"] is False
