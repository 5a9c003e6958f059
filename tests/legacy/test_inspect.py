"""`momento legacy inspect`: the schema's state and everything that would block or lose data."""

from __future__ import annotations

from momento.legacy import inspection
from tests.legacy.conftest import source_execute


async def test_inspect_finds_every_kind_of_dirt(old_db: str) -> None:
    found = await inspection.inspect(old_db)
    assert found.render()
    assert found.state == "old"
    assert found.counts["auth.users"] == 6
    assert found.counts["public.photo_interactions"] == 8
    assert found.counts["public.event_members"] == 9
    assert "public.photo_likes" not in found.counts
    by_what = {f.what.split(" (")[0]: f for f in found.findings}
    assert by_what["duplicate memberships"].count == 1
    assert by_what["likes pointing to a photo that is gone"].count == 1
    assert by_what["likes by a user that is gone"].count == 1
    assert by_what["duplicate likes"].count == 1
    status = by_what["photos with an upload_status outside pending/uploaded/failed"]
    assert (status.count, status.examples) == (1, ["complete"])
    assert by_what["photos without a username"].count == 2
    assert by_what["users without a profile"].count == 1
    assert by_what["usernames the current rules refuse"].count == 3
    assert by_what["event names blank or over 100 characters"].count == 2
    assert by_what["join codes invalid here"].count == 2
    assert by_what["events whose release is missing or not after their start"].count == 1
    assert sorted(found.blockers) == [
        'policy "revealed photos" on photos uses photos.is_revealed',
        "view event_cards uses events.member_count",
        "view event_cards uses events.photo_count",
        "view event_cards uses events.title",
    ]


async def test_inspect_tells_a_partly_migrated_schema(old_db: str) -> None:
    await source_execute(
        old_db,
        "DROP VIEW public.event_cards; ALTER TABLE public.events RENAME COLUMN title TO name;"
        " CREATE TABLE public.photo_likes (photo_id uuid, user_id uuid, created_at timestamptz,"
        " PRIMARY KEY (photo_id, user_id))",
    )
    found = await inspection.inspect(old_db)
    assert found.state == "partly migrated"
    assert "events.title dropped or renamed" not in found.pending
    assert "photos.captured_by_username dropped or renamed" in found.pending
    assert found.counts["public.photo_likes"] == 0
