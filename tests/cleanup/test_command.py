"""`momento cleanup`: --dry-run shows what would go and changes nothing; a real run does it
and prints totals."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from momento.cli import main
from momento.services import Services
from tests.cleanup.helpers import age, photos_with_files, purge_records, stored
from tests.factories import DAY, create_user, make_event, sql


async def _cleanup(database_url: str, data_dir: Path, *args: str) -> Result:
    result = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        ["cleanup", *args],
        env={"DATABASE_URL": database_url, "MOMENTO_DATA_DIR": str(data_dir)},
    )
    assert result.exit_code == 0, result.output
    return result


async def _state(svc: Services) -> dict[str, Any]:
    return {
        "events": await sql(svc, "SELECT id, is_deleted FROM public.events ORDER BY id"),
        "photos": await sql(svc, "SELECT id, upload_status FROM public.photos ORDER BY id"),
        "purges": await purge_records(svc),
        "files": await stored(svc),
    }


async def _scene(svc: Services) -> dict[str, Any]:
    ana = await create_user(svc, "ana")
    expired = await make_event(svc, ana, release_in=-9 * DAY, name="Old")
    deleted = await make_event(svc, ana, release_in=-DAY, deleted=True, name="Gone")
    kept = await make_event(svc, ana, release_in=-DAY, name="Kept")
    await photos_with_files(svc, expired, ana, 2)
    await photos_with_files(svc, deleted, ana, 1)
    kept_files = await photos_with_files(svc, kept, ana, 1)
    (pending,) = await photos_with_files(svc, kept, ana, 1, status="pending")
    async with svc.db.privileged() as conn:
        await conn.execute(
            "UPDATE public.photo_media SET created_at = now() - interval '2 days'"
            " WHERE photo_id = %s",
            (pending,),
        )
    orphan = f"events/{kept}/{uuid.uuid4()}/original"
    await svc.storage.put(orphan, b"x", "image/jpeg")
    age(svc, orphan, hours=3)
    return {
        "expired": expired,
        "deleted": deleted,
        "kept": kept,
        "kept_files": set().union(*kept_files.values()),
        "pending": pending,
        "orphan": orphan,
    }


async def test_dry_run_shows_what_would_go_and_changes_nothing(
    svc: Services, database_url: str, tmp_path: Path
) -> None:
    scene = await _scene(svc)
    before = await _state(svc)
    result = await _cleanup(database_url, tmp_path, "--dry-run")
    out = result.output
    assert "would soft-delete 1 free event(s)" in out
    assert f"{scene['expired']}  'Old'" in out
    assert "2 photo(s), 6 file(s)" in out
    assert "would purge 1 deleted event(s)" in out
    assert f"{scene['deleted']}  'Gone': 1 photo(s), 3 file(s)" in out
    assert "would mark 1 upload(s) pending more than 24 h as failed" in out
    assert "would remove 1 orphan file(s)" in out
    assert scene["orphan"] in out
    assert await _state(svc) == before
    assert await sql(svc, "SELECT id FROM procrastinate_jobs") == []


async def test_a_real_run_does_it_all_and_prints_totals(
    svc: Services, database_url: str, tmp_path: Path
) -> None:
    scene = await _scene(svc)
    result = await _cleanup(database_url, tmp_path)
    out = result.output
    assert "soft-deleted 1 free event(s)" in out
    assert "purged 2 event(s) with 3 photo(s); removed 9 file(s) under 5 prefix(es)" in out
    assert "expired 1 pending upload(s), removing 1 file(s)" in out
    assert "removed 1 orphan file(s)" in out
    after = await _state(svc)
    assert [e["id"] for e in after["events"]] == [scene["kept"]]
    assert after["files"] == scene["kept_files"]
    assert after["purges"] == set()
    statuses = {p["id"]: p["upload_status"] for p in after["photos"]}
    assert statuses[scene["pending"]] == "failed"
    # Run again: nothing left.
    again = (await _cleanup(database_url, tmp_path)).output
    assert "soft-deleted 0 free event(s)" in again
    assert "purged 0 event(s) with 0 photo(s); removed 0 file(s) under 0 prefix(es)" in again
    assert "removed 0 orphan file(s)" in again


async def test_no_orphans_leaves_the_sweep_out(
    svc: Services, database_url: str, tmp_path: Path
) -> None:
    scene = await _scene(svc)
    out = (await _cleanup(database_url, tmp_path, "--no-orphans")).output
    assert "orphan" not in out
    assert scene["orphan"] in await stored(svc)
    [row] = await sql(
        svc, "SELECT upload_status FROM public.photos WHERE id = %s", scene["pending"]
    )
    assert row["upload_status"] == "pending"
