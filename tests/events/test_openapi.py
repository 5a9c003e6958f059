"""The OpenAPI document describes the /v1 profile and event routes and their errors."""

from __future__ import annotations

import httpx

# A body that is not JSON answers 400 `bad_request`; creating an event can answer 409 when no
# free join code was drawn (both documented since each route's errors are declared once).
ROUTES = {
    ("/v1/me", "get"): {"200", "401"},
    ("/v1/me", "patch"): {"200", "400", "401", "409", "413", "422"},
    ("/v1/me", "delete"): {"204", "401"},
    ("/v1/me/device-token", "put"): {"204", "400", "401", "413", "422"},
    ("/v1/me/stats", "get"): {"200", "401"},
    ("/v1/events", "get"): {"200", "401"},
    ("/v1/events", "post"): {"201", "400", "401", "403", "409", "413", "422"},
    ("/v1/events/join", "post"): {"200", "201", "400", "401", "403", "404", "413", "422", "429"},
    ("/v1/events/{event_id}", "get"): {"200", "401", "404", "422"},
    ("/v1/events/{event_id}", "patch"): {"200", "400", "401", "403", "404", "409", "413", "422"},
    ("/v1/events/{event_id}", "delete"): {"204", "401", "403", "404", "422"},
    ("/v1/events/{event_id}/membership", "delete"): {"204", "401", "404", "409", "422"},
    ("/v1/events/{event_id}/members", "get"): {"200", "401", "404", "422"},
}


async def test_routes_document_their_errors(client: httpx.AsyncClient) -> None:
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for (path, method), statuses in ROUTES.items():
        operation = paths[path][method]
        assert operation["summary"], (path, method)
        assert set(operation["responses"]) == statuses, (path, method)
        for status, response in operation["responses"].items():
            if status.startswith("4"):
                assert "application/problem+json" in response["content"], (path, method, status)
    join = paths["/v1/events/join"]["post"]["responses"]
    assert "`join_code_invalid`" in join["404"]["description"]
    assert "`rate_limited`" in join["429"]["description"]
    patch_me = paths["/v1/me"]["patch"]
    assert "lower-case" in patch_me["description"]
