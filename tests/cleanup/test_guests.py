"""The daily job that deletes guests (anonymous users) not used for a month, with their data
and their photos' files; guests still in use, former guests and accounts stay."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from momento.cleanup import service
from momento.cli import main
from momento.jobs.queue import run_worker
from momento.services import Services
from tests.auth.helpers import API, PASSWORD, bearer, refresh
from tests.cleanup.helpers import check_invariants, photos_with_files, purge_records, stored
from tests.conftest import with_settings
from tests.factories import create_user, make_event, sql


async def _guest(client: httpx.AsyncClient) -> tuple[uuid.UUID, dict[str, Any]]:
    r = await client.post("/auth/v1/signup", json={"data": {"display_name": "G"}}, headers=API)
    assert r.status_code == 200, r.text
    session: dict[str, Any] = r.json()
    return uuid.UUID(session["user"]["id"]), session


async def _age(
    svc: Services, user: uuid.UUID, days: int, *, last_sign_in: int | None = None
) -> None:
    """Make the user and their sessions look `days` old (signed in `last_sign_in` days ago)."""
    await sql(
        svc,
        "UPDATE auth.users SET created_at = now() - make_interval(days => %s),"
        " updated_at = now() - make_interval(days => %s),"
        " last_sign_in_at = now() - make_interval(days => %s) WHERE id = %s",
        days,
        days,
        days if last_sign_in is None else last_sign_in,
        user,
    )
    await sql(
        svc,
        "UPDATE auth.sessions SET created_at = now() - make_interval(days => %s),"
        " updated_at = now() - make_interval(days => %s),"
        " refreshed_at = now() - make_interval(days => %s) WHERE user_id = %s",
        days,
        days,
        days,
        user,
    )


async def _users(svc: Services) -> set[uuid.UUID]:
    return {r["id"] for r in await sql(svc, "SELECT id FROM auth.users")}


def test_the_guest_cleanup_is_a_daily_job(services: Services) -> None:
    assert "cleanup:delete_stale_guests" in services.jobs.tasks
    registry = services.jobs.periodic_registry.periodic_tasks
    periodic = {p.task.name: p.cron for p in registry.values()}
    assert periodic["cleanup:delete_stale_guests"] == "29 3 * * *"


async def test_guests_unused_for_a_month_go_with_their_data(
    svc: Services, svc_client: httpx.AsyncClient
) -> None:
    host = await create_user(svc, "host")
    # A guest gone for a month: in the host's event with photos, and creator of an event.
    stale, _ = await _guest(svc_client)
    hosts_event = await make_event(svc, host, members=[stale])
    stales_event = await make_event(svc, stale, members=[host])
    hosts_files = await photos_with_files(svc, hosts_event, host, 2)
    stales_files = await photos_with_files(svc, hosts_event, stale, 2)
    stales_files |= await photos_with_files(svc, stales_event, stale, 1)
    stales_files |= await photos_with_files(svc, stales_event, host, 1)  # goes with the event
    await _age(svc, stale, 31)
    # Signed out two months ago: no session left.
    signed_out, session = await _guest(svc_client)
    r = await svc_client.post("/auth/v1/logout", headers=bearer(session))
    assert r.status_code == 204, r.text
    await _age(svc, signed_out, 70)
    # Created long ago, but the app refreshed its token yesterday: in use.
    refreshing, session = await _guest(svc_client)
    await _age(svc, refreshing, 90)
    assert (await refresh(svc_client, session["refresh_token"])).status_code == 200
    # Created long ago, signed in two days ago.
    recent, _ = await _guest(svc_client)
    await _age(svc, recent, 90, last_sign_in=2)
    # A guest of two weeks.
    young, _ = await _guest(svc_client)
    await _age(svc, young, 14)
    # A former guest (added an address), unused for months: an account now.
    converted, session = await _guest(svc_client)
    r = await svc_client.put(
        "/auth/v1/user",
        json={"email": "was.guest@example.com", "password": PASSWORD},
        headers=bearer(session),
    )
    assert r.status_code == 200, r.text
    await _age(svc, converted, 120)
    # An account unused for months.
    dormant = await create_user(svc, "dormant")
    await _age(svc, dormant.id, 200)

    # The retention is a setting: with 60 days, only the guest gone for 70 goes.
    sixty = with_settings(svc, anonymous_user_retention_days=60)
    assert await service.delete_stale_guests(sixty) == [signed_out]
    await svc.jobs.tasks["cleanup:delete_stale_guests"].defer_async(timestamp=0)
    await check_invariants(svc, hosts_files | stales_files)
    await run_worker(svc, install_signal_handlers=False, wait=False, concurrency=1)

    assert await _users(svc) == {host.id, refreshing, recent, young, converted, dormant.id}
    for query in (
        "SELECT 1 FROM public.profiles WHERE id = %s",
        "SELECT 1 FROM public.event_members WHERE user_id = %s",
        "SELECT 1 FROM public.photos WHERE user_id = %s",
        "SELECT 1 FROM auth.sessions WHERE user_id = %s",
        "SELECT 1 FROM auth.refresh_tokens WHERE user_id = %s",
    ):
        assert await sql(svc, query, stale) == [], query
    assert {r["id"] for r in await sql(svc, "SELECT id FROM public.events")} == {hosts_event}
    # The files went with the rows (the deletion queued purge_files, which the worker ran).
    assert await stored(svc) == set().union(*hosts_files.values())
    assert await purge_records(svc) == set()
    # Run again: nothing more goes.
    assert await service.delete_stale_guests(svc) == []


async def test_guests_go_in_batches(
    svc: Services, svc_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "GUEST_BATCH", 2)
    guests = [(await _guest(svc_client))[0] for _ in range(5)]
    for guest in guests:
        await _age(svc, guest, 45)
    kept, _ = await _guest(svc_client)
    assert sorted(await service.delete_stale_guests(svc)) == sorted(guests)
    assert await _users(svc) == {kept}


async def test_the_cleanup_command_shows_and_deletes_unused_guests(
    svc: Services, svc_client: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    host = await create_user(svc, "host")
    stale, _ = await _guest(svc_client)
    event = await make_event(svc, host, members=[stale])
    files = await photos_with_files(svc, event, stale, 1)
    await _age(svc, stale, 31)
    young, _ = await _guest(svc_client)

    out = (await _cleanup(database_url, tmp_path, "--dry-run")).output
    assert "would delete 1 guest(s) unused for 30 day(s), with their data" in out
    assert await _users(svc) == {host.id, stale, young}

    out = (await _cleanup(database_url, tmp_path)).output
    assert "deleted 1 guest(s) unused for 30 day(s)" in out
    assert await _users(svc) == {host.id, young}
    assert await stored(svc) == set()  # the guest's photo files, drained by the same run
    assert set().union(*files.values())
    out = (await _cleanup(database_url, tmp_path)).output
    assert "deleted 0 guest(s)" in out


async def _cleanup(database_url: str, data_dir: Path, *args: str) -> Result:
    result = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        ["cleanup", "--no-orphans", *args],
        env={"DATABASE_URL": database_url, "MOMENTO_DATA_DIR": str(data_dir)},
    )
    assert result.exit_code == 0, result.output
    return result
