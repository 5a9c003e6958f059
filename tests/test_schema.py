"""momento/sql/schema.sql is the schema the migrations make: a migration that changes the schema
without the snapshot being made again (`make schema`) fails here. So does a test that changes
the session's schema and leaves it changed."""

from __future__ import annotations

import difflib

import pytest

from momento.db import snapshot

MAX_DIFF_LINES = 60


def test_schema_snapshot_is_what_the_migrations_make(database_url: str) -> None:
    """The session's database was migrated from nothing; its data, if any, is not dumped."""
    made = snapshot.render(database_url)
    path = snapshot.schema_file()
    kept = path.read_text(encoding="utf-8") if path.is_file() else ""
    if made == kept:
        return
    diff = list(
        difflib.unified_diff(
            kept.splitlines(),
            made.splitlines(),
            f"{path.name} (checked in)",
            f"{path.name} (from the migrations)",
            n=2,
            lineterm="",
        )
    )
    shown = diff[:MAX_DIFF_LINES]
    if len(diff) > len(shown):
        shown.append(f"... {len(diff) - len(shown)} more lines")
    pytest.fail(
        f"{path} does not match the migrations; run `make schema` and commit it.\n"
        + "\n".join(shown),
        pytrace=False,
    )
