"""Factories: users with real tokens, made straight in the database (fast, no HTTP)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from momento.services import Services


@dataclass
class TestUser:
    __test__ = False

    id: uuid.UUID
    email: str
    username: str
    token: str
    session_id: uuid.UUID

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def claims(self) -> dict[str, Any]:
        return {
            "sub": str(self.id),
            "role": "authenticated",
            "aud": "authenticated",
            "session_id": str(self.session_id),
        }


async def create_user(
    services: Services, username: str | None = None, email: str | None = None
) -> TestUser:
    username = username or f"u_{secrets.token_hex(4)}"
    email = email or f"{username}@example.com"
    async with services.db.privileged() as conn:
        cur = await conn.execute(
            "INSERT INTO auth.users (email, email_confirmed_at, raw_user_meta_data,"
            " raw_app_meta_data) VALUES (%s, now(), jsonb_build_object('username', %s::text),"
            ' \'{"provider":"email","providers":["email"]}\') RETURNING id',
            (email, username),
        )
        row = await cur.fetchone()
        assert row is not None
        user_id = row["id"]
        cur = await conn.execute(
            "INSERT INTO auth.sessions (user_id) VALUES (%s) RETURNING id", (user_id,)
        )
        srow = await cur.fetchone()
        assert srow is not None
    token, _ = services.tokens.mint(
        user_id=user_id,
        session_id=srow["id"],
        email=email,
        app_metadata={"provider": "email", "providers": ["email"]},
        user_metadata={"username": username},
        amr=[{"method": "password", "timestamp": 0}],
    )
    return TestUser(user_id, email, username, token, srow["id"])
