from __future__ import annotations

import httpx

from momento.services import Services
from tests.factories import create_user


async def test_health(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    r = await client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["database"] == "ok"
    assert r.json()["push"] == "console"  # APNs not configured: notifications are logged


async def test_unknown_route_is_problem_json(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/nope")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "not_found"


async def test_user_fetch_runs_as_authenticated_with_claims(services: Services) -> None:
    user = await create_user(services)
    rows = await services.db.user_fetch(
        user.claims, "SELECT current_user AS role, auth.uid() AS uid", ()
    )
    assert rows == [{"role": "authenticated", "uid": user.id}]
    # The role and claims ended with that statement's implicit transaction.
    async with services.db.pool.connection() as conn:
        cur = await conn.execute("SELECT current_user AS role, auth.uid() AS uid")
        assert await cur.fetchone() == {"role": "postgres", "uid": None}


async def test_as_user_transaction(services: Services) -> None:
    user = await create_user(services)
    async with services.db.as_user(user.claims) as conn:
        cur = await conn.execute("SELECT current_user AS role, auth.uid() AS uid")
        assert await cur.fetchone() == {"role": "authenticated", "uid": user.id}
    async with services.db.pool.connection() as conn:
        cur = await conn.execute("SELECT current_user AS role")
        assert await cur.fetchone() == {"role": "postgres"}
