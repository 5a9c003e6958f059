"""Helpers for the push jobs' tests: the delivery ledger, the queued jobs, what the fake APNs
received. (Members with device tokens: tests/factories.py; the fake and senders pointed at
it: tests/conftest.py.)"""

from __future__ import annotations

from typing import Any

from momento.services import Services
from tests.factories import sql
from tests.fakes.apns import FakeApns


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
