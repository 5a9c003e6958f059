"""`momento moderation list | restore | remove`, driven through click with a real database.

The command opens its own pool and storage (and runs `asyncio.run`), so it is invoked in a
worker thread while the test's loop waits. Its storage is the session's local storage folder
(STORAGE_URL), so files put through `services.storage` are the ones it removes.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from momento.cli import main
from momento.photos.service import UPLOAD, key
from momento.services import Services
from tests.conftest import app_for
from tests.factories import (
    TestUser,
    add_photo,
    add_report,
    create_user,
    create_users,
    like,
    make_event,
    sql,
    storage_path,
)
from tests.photos.helpers import VARIANTS, feed, is_flagged, put_files, stored_keys

# A log line (structlog's default rendering, which the moderation commands leave on stdout).
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[")


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    output: str  # stdout and stderr, log lines left out


class Cli:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.runner = CliRunner()

    async def __call__(self, *args: str) -> Outcome:
        result = await asyncio.to_thread(
            self.runner.invoke, main, ["moderation", *args], env=self.env, catch_exceptions=False
        )
        lines = [line for line in result.output.splitlines() if not LOG_LINE.match(line)]
        return Outcome(result.exit_code, "\n".join(lines))


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """One member's report hides a photo for everyone here (MOMENTO_REPORTS_TO_HIDE=1), as
    before issue 14: these tests are about the operator's review of hidden photos."""
    async with app_for(services, reports_to_hide=1) as c:
        yield c


@pytest.fixture
def cli(services: Services, database_url: str, tmp_path: Path) -> Cli:
    files = Path(services.settings.data_dir).resolve() / "files"
    return Cli(
        {
            "DATABASE_URL": database_url,
            "MOMENTO_DATA_DIR": str(tmp_path),
            "STORAGE_URL": files.as_uri(),
            "FILES_SIGNING_SECRET": "moderation-test-secret-" + "s" * 32,
            "MOMENTO_LOG_LEVEL": "warning",
        }
    )


async def report(
    client: httpx.AsyncClient, user: TestUser, photo: uuid.UUID, reason: str | None = None
) -> None:
    body = {"reason": reason} if reason else None
    r = await client.post(f"/v1/photos/{photo}/report", headers=user.headers, json=body)
    assert r.status_code == 204, r.text


async def report_count(services: Services, photo: uuid.UUID) -> int:
    found = await sql(
        services, "SELECT count(*) AS n FROM momento.photo_reports WHERE photo_id = %s", photo
    )
    n: int = found[0]["n"]
    return n


async def test_list_without_flagged_photos(cli: Cli) -> None:
    result = await cli("list")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "no flagged photos"


async def test_list_shows_flagged_photos_most_recently_reported_first(
    cli: Cli, client: httpx.AsyncClient, services: Services
) -> None:
    alice, bob, carol = await create_users(services, 3)
    event = await make_event(services, alice, revealed=True, members=[bob, carol], name="Beach")
    by_members = await add_photo(services, event, bob)
    by_creator = await add_photo(services, event, carol)
    await add_photo(services, event, carol)  # not flagged: not listed
    await report(client, bob, by_members, "spam")
    # Once hidden, other members no longer see the photo; a second report is one that raced
    # with the first.
    await add_report(services, by_members, carol, reason="not ok")
    await report(client, alice, by_creator)
    # Report times a second apart, so the order does not hang on the clock's resolution.
    start = datetime.now(UTC) - timedelta(minutes=10)
    for n, (photo, reporter) in enumerate(
        ((by_members, bob), (by_members, carol), (by_creator, alice))
    ):
        await sql(
            services,
            "UPDATE momento.photo_reports SET created_at = %s"
            " WHERE photo_id = %s AND reporter_id = %s RETURNING 1",
            start + timedelta(seconds=n),
            photo,
            reporter.id,
        )

    result = await cli("list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines == [
        f"{by_creator}  'Beach'  by {carol.username}  hidden by the event's creator",
        f"{by_members}  'Beach'  by {bob.username}  2 report(s)",
        "    - spam",
        "    - not ok",
    ]

    result = await cli("list", "--limit", "1")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == lines[:1]


async def test_restore_makes_the_photo_visible_and_clears_its_reports(
    cli: Cli, client: httpx.AsyncClient, services: Services
) -> None:
    alice, bob, carol = await create_users(services, 3)
    event = await make_event(services, alice, revealed=True, members=[bob, carol])
    photo = await add_photo(services, event, bob)
    other = await add_photo(services, event, bob)
    await like(services, photo, alice)
    await report(client, carol, photo, "meh")
    await report(client, carol, other)
    assert str(photo) not in [i["id"] for i in (await feed(client, alice, event))["items"]]

    result = await cli("restore", str(photo))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"restored {photo}"
    assert await is_flagged(services, photo) is False
    assert await report_count(services, photo) == 0
    (item,) = [i for i in (await feed(client, alice, event))["items"] if i["id"] == str(photo)]
    assert item["like_count"] == 1  # the likes were kept
    # The other flagged photo is untouched.
    assert await is_flagged(services, other) is True
    assert await report_count(services, other) == 1
    # Reported afresh by the same member, it is hidden again.
    await report(client, carol, photo)
    assert await is_flagged(services, photo) is True

    result = await cli("list")
    assert {line.split()[0] for line in result.output.splitlines()} == {str(photo), str(other)}


async def test_remove_deletes_the_row_and_its_files(
    cli: Cli, client: httpx.AsyncClient, services: Services
) -> None:
    alice, bob = await create_users(services, 2)
    event = await make_event(services, alice, revealed=True, members=[bob])
    photo = await add_photo(services, event, bob)
    kept = await add_photo(services, event, bob)
    for p in (photo, kept):
        await put_files(services, event, p)
    await like(services, photo, alice)
    await report(client, alice, photo)

    result = await cli("remove", str(photo))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"removed {photo}"
    assert await sql(services, "SELECT 1 FROM public.photos WHERE id = %s", photo) == []
    assert await report_count(services, photo) == 0
    assert await stored_keys(services, event, photo) == set()
    expected = {key(storage_path(event, kept), n) for n in (*VARIANTS, UPLOAD)}
    assert await stored_keys(services, event, kept) == expected
    assert await is_flagged(services, kept) is False

    result = await cli("list")
    assert result.output.strip() == "no flagged photos"


@pytest.mark.parametrize("command", ["restore", "remove"])
async def test_unknown_or_unflagged_photo_is_refused(
    cli: Cli, services: Services, command: str
) -> None:
    alice = await create_user(services)
    event = await make_event(services, alice, revealed=True)
    unflagged = await add_photo(services, event, alice)
    await put_files(services, event, unflagged)
    for target in (uuid.uuid4(), unflagged):
        result = await cli(command, str(target))
        assert result.exit_code == 1, result.output
        assert f"Error: no flagged photo {target}" in result.output
    assert await is_flagged(services, unflagged) is False
    assert await stored_keys(services, event, unflagged) == {
        key(storage_path(event, unflagged), n) for n in (*VARIANTS, UPLOAD)
    }

    result = await cli(command, "not-a-uuid")
    assert result.exit_code == 2
    assert "not a valid UUID" in result.output
