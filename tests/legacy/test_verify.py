"""`momento legacy verify`: source and result compared; any difference listed."""

from __future__ import annotations

from momento.legacy import importer, verify
from momento.services import Services
from tests.legacy.conftest import source_execute


async def test_verify_after_import_finds_no_difference(services: Services, old_db: str) -> None:
    before = await verify.verify(services, old_db)
    assert not before.ok
    assert before.counts["users"] == (6, 0)

    await importer.run(services, old_db)
    result = await verify.verify(services, old_db)
    assert result.ok, result.render()
    assert result.counts == {
        "users": (6, 6),
        "profiles": (5, 5),
        "events": (5, 5),
        "members": (8, 8),
        "photos": (6, 6),
        "likes": (3, 3),
    }


async def test_verify_lists_every_difference(services: Services, old_db: str) -> None:
    await importer.run(services, old_db)
    async with services.db.privileged() as conn:
        await conn.execute(
            "DELETE FROM public.photo_likes WHERE photo_id = 'f0000000-0000-0000-0000-000000000002'"
        )
        await conn.execute(
            "UPDATE auth.users SET encrypted_password = '$2a$04$changed'"
            " WHERE email = 'dave@old.example'"
        )
    await source_execute(
        old_db, "DELETE FROM public.photos WHERE id = 'f0000000-0000-0000-0000-000000000006'"
    )
    result = await verify.verify(services, old_db)
    assert result.render()
    assert not result.ok
    found = {d.what: d.examples for d in result.differences}
    assert found["liked pairs missing here"] == [
        "f0000000-0000-0000-0000-000000000002/a1000000-0000-4000-8000-000000000001"
    ]
    assert found["users whose password hash differs"] == ["dave@old.example"]
    assert found["photos imported before and gone at the source since"] == [
        "f0000000-0000-0000-0000-000000000006"
    ]
