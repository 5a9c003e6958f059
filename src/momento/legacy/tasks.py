"""The legacy job: copying the imported photos' files in a worker (`momento legacy import
--files URL --in-worker`), resumable as the CLI's copy is (momento.legacy.files)."""

from __future__ import annotations

from procrastinate import Blueprint, JobContext

from momento.jobs.context import services_of
from momento.jobs.retry import CappedBackoff
from momento.legacy import files

blueprint = Blueprint()

# The old bucket or this storage down for a while: try again (5 s doubling to 10 min); each
# attempt goes on from what the previous one copied.
RETRY = CappedBackoff(first=5.0, cap=600.0, max_attempts=8)


@blueprint.task(
    name="copy_files",
    queue="maintenance",
    queueing_lock="legacy:copy_files",
    retry=RETRY,
    pass_context=True,
)
async def copy_files(context: JobContext, storage_url: str) -> int:
    """Copy what is left; `storage_url` names the old bucket (its credentials are settings,
    never job arguments). Returns how many photos were copied."""
    services = services_of(context)
    old = files.old_bucket(services.settings, storage_url)
    await old.open()
    try:
        done = await files.copy_all(services, old)
    finally:
        await old.close()
    return done.copied
