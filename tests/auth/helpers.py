"""Helpers shared by the auth tests."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

from momento.auth.passwords import hash_password
from momento.services import Services

API = {"X-Supabase-Api-Version": "2024-01-01"}
PASSWORD = "correct horse battery"
# Hashed once: argon2id costs a noticeable fraction of a second per hash.
PASSWORD_HASH = hash_password(PASSWORD)
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def code(r: httpx.Response) -> str:
    """GoTrue's error code, in either dialect."""
    body = r.json()
    value = body["code"] if isinstance(body.get("code"), str) else body["error_code"]
    assert isinstance(value, str)
    return value


async def add_user(
    services: Services,
    email: str,
    *,
    password_hash: str | None = PASSWORD_HASH,
    confirmed: bool = True,
    username: str | None = None,
) -> uuid.UUID:
    """An account with a password, straight in the database (no hashing per test)."""
    async with services.db.privileged() as conn:
        cur = await conn.execute(
            "INSERT INTO auth.users (email, encrypted_password, email_confirmed_at,"
            " raw_user_meta_data) VALUES (%s, %s, CASE WHEN %s THEN now() END,"
            " jsonb_build_object('username', %s::text)) RETURNING id",
            (email, password_hash, confirmed, username),
        )
        row = await cur.fetchone()
    assert row is not None
    user_id: uuid.UUID = row["id"]
    return user_id


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post(
        "/auth/v1/token",
        params={"grant_type": "password"},
        json={"email": email, "password": password},
        headers=API,
    )


async def session_for(client: httpx.AsyncClient, email: str) -> dict[str, Any]:
    r = await login(client, email)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(
        "/auth/v1/token",
        params={"grant_type": "refresh_token"},
        json={"refresh_token": token},
        headers=API,
    )


def bearer(session: dict[str, Any]) -> dict[str, str]:
    return {**API, "Authorization": f"Bearer {session['access_token']}"}


async def scalar(services: Services, query: str, *params: Any) -> Any:
    async with services.db.privileged() as conn:
        cur = await conn.execute(query, params)
        row = await cur.fetchone()
    assert row is not None
    return next(iter(row.values()))
