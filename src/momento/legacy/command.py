"""`momento legacy ...`: the operator's side of moving an old deployment here (output and exit
codes; the work is in inspection, importer, files, verify, inplace)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from momento.legacy import importer, inspection, verify

if TYPE_CHECKING:
    from momento.services import Services


def _say(line: str) -> None:
    # Progress on stderr: stdout holds the report only.
    click.echo(f"... {line}", err=True)


async def inspect(source_url: str) -> None:
    click.echo((await inspection.inspect(source_url)).render())


async def import_rows(
    services: Services,
    source_url: str,
    *,
    dry_run: bool,
    files_url: str | None,
    in_worker: bool = False,
) -> None:
    report = await importer.run(services, source_url, dry_run=dry_run, progress=_say)
    click.echo(report.render())
    if files_url is None or dry_run:
        if files_url is not None:
            click.echo("files: not copied in a dry run")
        return
    if in_worker:
        from procrastinate.exceptions import AlreadyEnqueued

        try:
            await services.jobs.configure_task("legacy:copy_files").defer_async(
                storage_url=files_url
            )
        except AlreadyEnqueued:
            click.echo("files: a copy is already queued")
            return
        click.echo("files: the copy is queued for a worker (`momento jobs` shows it)")
        return
    await copy_files(services, files_url)


async def copy_files(services: Services, url: str) -> None:
    """The files of the imported photos, with a progress bar on stderr."""
    from momento.legacy import files
    from momento.storage import StorageError

    try:
        old = files.old_bucket(services.settings, url)
    except ValueError as exc:
        raise click.ClickException(f"legacy: --files: {exc}") from None
    try:
        await old.open()
        total = await files.left(services)
        with click.progressbar(
            length=total, label="copying photo files", file=sys.stderr, show_pos=True
        ) as bar:
            done = await files.copy_all(services, old, bar.update)
    except StorageError as exc:
        raise click.ClickException(
            f"legacy: the old bucket or this server's storage: {exc}"
        ) from None
    finally:
        await old.close()
    click.echo(f"files: {done.copied} copied, {done.failed} not copied (verify --files lists them)")


async def verify_all(services: Services, source_url: str, *, files: bool) -> None:
    result = await verify.verify(services, source_url, files=files)
    click.echo(result.render())
    if not result.ok:
        sys.exit(1)
