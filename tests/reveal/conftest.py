"""Fixtures for the push jobs: the fake APNs, Services whose sender points at it, members."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, LiteralString

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from momento.push.apns import ApnsConfig, ApnsSender
from momento.services import Services
from tests.factories import TestUser, create_user
from tests.fakes.apns import FakeApns, make_provider_key

KEY_ID = "PUSHKEY001"
TEAM_ID = "PUSHTEAM01"
TOPIC = "app.momento.test"


def token(i: int) -> str:
    """A 64-hex-digit device token, told apart by its first 8 digits."""
    return f"{i:08x}" + "5eed" * 14


@pytest.fixture(scope="session")
def provider_key() -> tuple[str, ec.EllipticCurvePublicKey]:
    return make_provider_key()


@pytest.fixture
async def fake(provider_key: tuple[str, ec.EllipticCurvePublicKey]) -> AsyncIterator[FakeApns]:
    async with FakeApns(
        topic=TOPIC, key_id=KEY_ID, team_id=TEAM_ID, public_key=provider_key[1]
    ) as server:
        yield server


@pytest.fixture
def apns_config(fake: FakeApns, provider_key: tuple[str, ec.EllipticCurvePublicKey]) -> ApnsConfig:
    return ApnsConfig(
        key_pem=provider_key[0],
        key_id=KEY_ID,
        team_id=TEAM_ID,
        topic=TOPIC,
        base_url=fake.url,
        ssl_context=fake.client_ssl_context(),
        backoff_base=0.001,
        backoff_max=0.01,
        timeout=5.0,
    )


SenderFactory = Callable[[], ApnsSender]


@pytest.fixture
async def new_sender(apns_config: ApnsConfig) -> AsyncIterator[SenderFactory]:
    """Makes open-on-first-use senders to the fake (one per simulated worker)."""
    made: list[ApnsSender] = []

    def make() -> ApnsSender:
        sender = ApnsSender(apns_config)
        made.append(sender)
        return sender

    yield make
    for sender in made:
        await sender.close()


@pytest.fixture
async def pushing(services: Services, new_sender: SenderFactory) -> Services:
    """The session's services with an APNs sender pointed at the fake (what a worker has)."""
    sender = new_sender()
    await sender.open()
    return dataclasses.replace(services, push=sender)


async def with_sender(services: Services, sender: ApnsSender) -> Services:
    await sender.open()
    return dataclasses.replace(services, push=sender)


async def sql(services: Services, query: LiteralString, *params: Any) -> list[dict[str, Any]]:
    async with services.db.privileged() as conn:
        cur = await conn.execute(query, params)
        return [dict(r) for r in await cur.fetchall()] if cur.description else []


async def set_token(services: Services, user: TestUser | uuid.UUID, device: str | None) -> None:
    user_id = user.id if isinstance(user, TestUser) else user
    await sql(
        services, "UPDATE public.profiles SET device_token = %s WHERE id = %s", device, user_id
    )


async def device_token(services: Services, user: TestUser) -> str | None:
    rows = await sql(services, "SELECT device_token FROM public.profiles WHERE id = %s", user.id)
    value: str | None = rows[0]["device_token"]
    return value


async def make_event(
    services: Services,
    creator: TestUser,
    *,
    release_in: timedelta = -timedelta(minutes=5),
    name: str = "Beach party",
) -> uuid.UUID:
    """An event straight in the database (no job deferred), revealed `release_in` from now."""
    now = datetime.now(UTC)
    release_at = now + release_in
    rows = await sql(
        services,
        "INSERT INTO public.events (name, creator_id, starts_at, release_at)"
        " VALUES (%s, %s, %s, %s) RETURNING id",
        name,
        creator.id,
        release_at - timedelta(hours=3),
        release_at,
    )
    event_id: uuid.UUID = rows[0]["id"]
    return event_id


async def add_members(services: Services, event_id: uuid.UUID, users: list[TestUser]) -> None:
    for user in users:
        await sql(
            services,
            "INSERT INTO public.event_members (event_id, user_id) VALUES (%s, %s)"
            " ON CONFLICT DO NOTHING",
            event_id,
            user.id,
        )


async def users_with_tokens(services: Services, n: int, first: int = 1) -> list[TestUser]:
    users = []
    for i in range(first, first + n):
        user = await create_user(services)
        await set_token(services, user, token(i))
        users.append(user)
    return users


async def ledger(services: Services, kind: str = "reveal") -> list[dict[str, Any]]:
    return await sql(
        services,
        "SELECT * FROM momento.push_deliveries WHERE kind = %s ORDER BY device_token",
        kind,
    )


async def jobs(services: Services, task: str) -> list[dict[str, Any]]:
    return await sql(
        services,
        "SELECT id, status::text AS status, scheduled_at, queueing_lock, lock, args"
        " FROM procrastinate_jobs WHERE task_name = %s ORDER BY id",
        task,
    )


def counts(fake: FakeApns) -> dict[str, int]:
    """Requests the fake received, per device token."""
    out: dict[str, int] = {}
    for r in fake.requests:
        if r.device_token is not None:
            out[r.device_token] = out.get(r.device_token, 0) + 1
    return out
