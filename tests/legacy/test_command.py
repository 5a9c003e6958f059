"""`momento legacy inspect|import|verify` as an operator runs them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner, Result

from momento.cli import main
from momento.services import Services
from tests.legacy.test_import import rows


async def _momento(database_url: str, data_dir: Path, *args: str) -> Result:
    return await asyncio.to_thread(
        CliRunner().invoke,
        main,
        ["legacy", *args],
        env={"DATABASE_URL": database_url, "MOMENTO_DATA_DIR": str(data_dir)},
    )


async def test_inspect_import_verify_from_the_command_line(
    services: Services, database_url: str, old_db: str, tmp_path: Path
) -> None:
    inspected = await _momento(database_url, tmp_path, "inspect", "--from", old_db)
    assert inspected.exit_code == 0, inspected.output
    assert "schema old" in inspected.stdout
    assert "duplicate memberships" in inspected.stdout

    before = await _momento(database_url, tmp_path, "verify", "--from", old_db)
    assert before.exit_code == 1
    assert "DIFFERENCE: 6 users missing here" in before.stdout

    planned = await _momento(database_url, tmp_path, "import", "--from", old_db, "--dry-run")
    assert planned.exit_code == 0, planned.output
    assert "Plan (dry run, nothing written)" in planned.stdout
    assert await rows(services, "SELECT 1 FROM auth.users") == []

    imported = await _momento(database_url, tmp_path, "import", "--from", old_db)
    assert imported.exit_code == 0, imported.output
    assert "users        6" in imported.stdout
    assert "duplicate memberships merged" in imported.stdout

    after = await _momento(database_url, tmp_path, "verify", "--from", old_db)
    assert after.exit_code == 0, after.output
    assert "no difference" in after.stdout


async def test_an_unreachable_source_is_one_line_without_its_password(
    database_url: str, tmp_path: Path
) -> None:
    url = "postgresql://momento:s3cret-pw@127.0.0.1:1/old"
    result = await _momento(database_url, tmp_path, "inspect", "--from", url)
    assert result.exit_code == 1
    assert "s3cret-pw" not in result.output
    assert result.output.startswith("Error: legacy:")


async def test_migrate_in_place_and_rollback_from_the_command_line(
    database_url: str, old_db: str, tmp_path: Path
) -> None:
    done = await _momento(database_url, tmp_path, "migrate-in-place", "--database-url", old_db)
    assert done.exit_code == 0, done.output
    assert "now on the new schema" in done.stdout
    from tests.legacy.conftest import source_execute

    await source_execute(old_db, "UPDATE public.events SET name = 'Renamed' WHERE is_premium")
    refused = await _momento(database_url, tmp_path, "rollback", "--database-url", old_db)
    assert refused.exit_code == 1
    assert "events: 5 rows at the migration, 5 now, and changed since" in refused.output
    assert "--force" in refused.output
    forced = await _momento(database_url, tmp_path, "rollback", "--database-url", old_db, "--force")
    assert forced.exit_code == 0, forced.output
