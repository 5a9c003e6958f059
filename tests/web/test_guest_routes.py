"""A guest's requests go through exactly the API and policies an app user's do (issue 17):
every route of the OpenAPI document is called with an anonymous guest's access token and
answers what this table says. A route missing from the table fails the test, so a new route
has to say what a guest gets from it.

The guest is a member of two events of a host with an account: one before its reveal
(`open`) and one revealed (`shown`), each with a photo of the host's; the guest has a photo
of their own in `open`. Calls that end the session or the account use a second guest
(`spare`) so the walk goes on.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from momento.services import Services
from tests.auth.helpers import API
from tests.conftest import app_client
from tests.factories import add_photo, create_user, make_event, scalar

EVENT_OPEN = "{open}"
EVENT_SHOWN = "{shown}"


@dataclasses.dataclass(frozen=True)
class Call:
    status: int
    # Placeholders: {open}, {shown} (events), {host_photo} (the host's, revealed),
    # {own_photo} (the guest's), {spare_photo} (the spare guest's own photo), {refresh}.
    path: str
    body: Any = None
    spare: bool = False  # as the second guest (calls that end its session or account)


# What a guest gets, route by route. 403s are the rules guests live by: no events of their
# own, no paying, nothing of the host's. 404s are the host-only routes that do not say
# whether the photo or event exists.
TABLE: dict[tuple[str, str], Call] = {
    # --- /auth/v1: GoTrue ---
    ("POST", "/auth/v1/signup"): Call(200, "/auth/v1/signup", {"data": {}}),
    ("POST", "/auth/v1/token"): Call(
        200, "/auth/v1/token?grant_type=refresh_token", {"refresh_token": "{refresh}"}, spare=True
    ),
    ("POST", "/auth/v1/logout"): Call(204, "/auth/v1/logout", spare=True),
    ("GET", "/auth/v1/user"): Call(200, "/auth/v1/user"),
    ("PUT", "/auth/v1/user"): Call(200, "/auth/v1/user", {"data": {"display_name": "Gus"}}),
    ("POST", "/auth/v1/recover"): Call(200, "/auth/v1/recover", {"email": "nobody@example.com"}),
    ("POST", "/auth/v1/resend"): Call(
        200, "/auth/v1/resend", {"type": "signup", "email": "nobody@example.com"}
    ),
    ("POST", "/auth/v1/otp"): Call(
        422, "/auth/v1/otp", {"email": "nobody@example.com", "create_user": False}
    ),
    ("POST", "/auth/v1/verify"): Call(
        403, "/auth/v1/verify", {"type": "email", "email": "nobody@example.com", "token": "1"}
    ),
    ("GET", "/auth/v1/verify"): Call(303, "/auth/v1/verify?type=signup&token=nope"),
    ("GET", "/auth/v1/settings"): Call(200, "/auth/v1/settings"),
    ("GET", "/auth/v1/health"): Call(200, "/auth/v1/health"),
    ("GET", "/auth/v1/.well-known/jwks.json"): Call(200, "/auth/v1/.well-known/jwks.json"),
    # --- /v1/me ---
    ("GET", "/v1/me"): Call(200, "/v1/me"),
    ("PATCH", "/v1/me"): Call(200, "/v1/me", {"display_name": "Gus"}),
    ("DELETE", "/v1/me"): Call(204, "/v1/me", spare=True),
    ("PUT", "/v1/me/device-token"): Call(204, "/v1/me/device-token", {"token": "ab" * 32}),
    ("GET", "/v1/me/stats"): Call(200, "/v1/me/stats"),
    ("POST", "/v1/me/apple/authorization-code"): Call(
        503, "/v1/me/apple/authorization-code", {"code": "x"}
    ),
    ("GET", "/v1/config"): Call(200, "/v1/config"),
    # --- events: members' reads yes, the host's writes no, no events of their own ---
    ("GET", "/v1/events"): Call(200, "/v1/events"),
    ("POST", "/v1/events"): Call(403, "/v1/events", "{new_event}"),
    ("POST", "/v1/events/join"): Call(200, "/v1/events/join", {"join_code": "{open_code}"}),
    ("GET", "/v1/events/{event_id}"): Call(200, "/v1/events/{open}"),
    ("PATCH", "/v1/events/{event_id}"): Call(403, "/v1/events/{open}", {"name": "Mine now"}),
    ("DELETE", "/v1/events/{event_id}"): Call(403, "/v1/events/{open}"),
    ("DELETE", "/v1/events/{event_id}/membership"): Call(
        204, "/v1/events/{open}/membership", spare=True
    ),
    ("GET", "/v1/events/{event_id}/members"): Call(200, "/v1/events/{open}/members"),
    ("POST", "/v1/events/{event_id}/join-code"): Call(403, "/v1/events/{open}/join-code"),
    ("GET", "/v1/events/{event_id}/invite"): Call(200, "/v1/events/{open}/invite"),
    ("GET", "/v1/events/{event_id}/invite.svg"): Call(200, "/v1/events/{open}/invite.svg"),
    ("GET", "/v1/events/{event_id}/invite.png"): Call(200, "/v1/events/{open}/invite.png"),
    ("POST", "/v1/events/{event_id}/premium"): Call(
        403, "/v1/events/{open}/premium", {"transaction_id": "2000001"}
    ),
    # --- photos: the same upload flow, feed and likes as anyone's ---
    ("POST", "/v1/events/{event_id}/photos"): Call(201, "/v1/events/{open}/photos", "{photo}"),
    ("GET", "/v1/events/{event_id}/photos"): Call(200, "/v1/events/{shown}/photos"),
    # Completing an uploaded photo again answers it as it is.
    ("POST", "/v1/photos/{photo_id}/complete"): Call(200, "/v1/photos/{own_photo}/complete"),
    ("POST", "/v1/photos/{photo_id}/retry"): Call(409, "/v1/photos/{own_photo}/retry"),
    ("GET", "/v1/events/{event_id}/photos/liked"): Call(200, "/v1/events/{shown}/photos/liked"),
    ("GET", "/v1/events/{event_id}/photos/mine"): Call(200, "/v1/events/{open}/photos/mine"),
    ("GET", "/v1/photos/{photo_id}"): Call(200, "/v1/photos/{host_photo}"),
    ("DELETE", "/v1/photos/{photo_id}"): Call(204, "/v1/photos/{spare_photo}", spare=True),
    ("PUT", "/v1/photos/{photo_id}/like"): Call(204, "/v1/photos/{host_photo}/like"),
    ("DELETE", "/v1/photos/{photo_id}/like"): Call(204, "/v1/photos/{host_photo}/like"),
    ("POST", "/v1/photos/{photo_id}/report"): Call(
        204, "/v1/photos/{host_photo}/report", {"reason": "spam"}
    ),
    ("GET", "/v1/events/{event_id}/reports"): Call(404, "/v1/events/{shown}/reports"),
    ("POST", "/v1/photos/{photo_id}/hide"): Call(404, "/v1/photos/{host_photo}/hide"),
    ("POST", "/v1/photos/{photo_id}/restore"): Call(404, "/v1/photos/{host_photo}/restore"),
    ("POST", "/v1/events/{event_id}/export/link"): Call(200, "/v1/events/{shown}/export/link"),
    ("GET", "/v1/events/{event_id}/export.zip"): Call(200, "/v1/events/{shown}/export.zip"),
    # The stream itself answers as long as it is open: asked of an event the guest is not in
    # (404, as for anyone); its ticket, for their own event, as for any member.
    ("POST", "/v1/events/{event_id}/stream-ticket"): Call(200, "/v1/events/{open}/stream-ticket"),
    ("GET", "/v1/events/{event_id}/stream"): Call(
        404, "/v1/events/8f0e2f8e-7d4c-4c1e-9a57-2f6d0f4b7e11/stream"
    ),
    # --- no user at all ---
    # (RevenueCat's webhooks are not configured in the tests.)
    ("POST", "/webhooks/revenuecat"): Call(503, "/webhooks/revenuecat", {"event": {}}),
    ("GET", "/healthz"): Call(200, "/healthz"),
    ("GET", "/readyz"): Call(200, "/readyz"),
}


def _fill(value: Any, names: dict[str, Any]) -> Any:
    if isinstance(value, str):
        if value.startswith("{") and value.endswith("}") and value[1:-1] in names:
            found = names[value[1:-1]]
            return found if not isinstance(found, uuid.UUID) else str(found)
        return value.format(**{k: v for k, v in names.items() if isinstance(v, str | uuid.UUID)})
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    return value


async def _guest(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.post("/auth/v1/signup", json={"data": {"display_name": "G"}}, headers=API)
    assert r.status_code == 200, r.text
    assert r.json()["user"]["is_anonymous"] is True
    session: dict[str, Any] = r.json()
    return session


async def test_every_route_answers_a_guest_as_the_table_says(services: Services) -> None:
    async with app_client(services) as client:
        doc = (await client.get("/openapi.json")).json()
        routes = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
        assert routes - TABLE.keys() == set(), "routes missing from the table"
        assert TABLE.keys() - routes == set(), "the table names routes that do not exist"

        host = await create_user(services)
        opened = await make_event(services, host)
        shown = await make_event(services, host, revealed=True)
        host_photo = await add_photo(services, shown, host)
        await add_photo(services, opened, host)
        guest, spare = await _guest(client), await _guest(client)
        for session in (guest, spare):
            for event in (opened, shown):
                code = await scalar(
                    services, "SELECT join_code FROM public.events WHERE id = %s", event
                )
                r = await client.post(
                    "/v1/events/join",
                    json={"join_code": code},
                    headers={"Authorization": f"Bearer {session['access_token']}"},
                )
                assert r.status_code == 201, r.text
        own_photo = await add_photo(services, opened, uuid.UUID(guest["user"]["id"]))
        spare_photo = await add_photo(services, opened, uuid.UUID(spare["user"]["id"]))
        names: dict[str, Any] = {
            "open": opened,
            "shown": shown,
            "open_code": await scalar(
                services, "SELECT join_code FROM public.events WHERE id = %s", opened
            ),
            "host_photo": host_photo,
            "own_photo": own_photo,
            "spare_photo": spare_photo,
            "refresh": spare["refresh_token"],
            "new_event": {
                "name": "Mine",
                "starts_at": "2030-01-01T10:00:00Z",
                "release_at": "2030-01-02T10:00:00Z",
            },
            "photo": {
                "captured_at": datetime.now(UTC).isoformat(),
                "content_type": "image/jpeg",
                "byte_size": 1000,
            },
        }

        wrong = []
        # The spare guest's calls last: they end its session and its account.
        order = sorted(TABLE.items(), key=lambda kv: (kv[1].spare, kv[0] == ("DELETE", "/v1/me")))
        for (method, route), call in order:
            session = spare if call.spare else guest
            headers = {"Authorization": f"Bearer {session['access_token']}", **API}
            body = _fill(call.body, names)
            r = await client.request(
                method,
                _fill(call.path, names),
                headers=headers,
                json=body,
                follow_redirects=False,
            )
            if r.status_code != call.status:
                wrong.append((method, route, call.status, r.status_code, r.text[:200]))
        assert wrong == []
