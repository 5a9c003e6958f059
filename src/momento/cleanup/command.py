"""`momento cleanup`: what the cleanup jobs do, run now by an operator (or shown with --dry-run)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from momento.cleanup import service

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

    from momento.services import Services


def _stderr_bar(length: int, label: str) -> ProgressBar[int]:
    # On stderr: stdout holds the report only.
    return click.progressbar(length=length, label=label, file=sys.stderr, show_pos=True)


async def run(services: Services, *, dry_run: bool, orphans: bool) -> None:
    if dry_run:
        render_plan(await service.plan(services, orphans=orphans), services, orphans=orphans)
        return
    expired = await service.expire_free_events(services)
    # Before the purge: the files of the guests' photos are drained with the rest.
    guests = await service.delete_stale_guests(services)
    purged = service.PurgeResult()
    for event_id in await service.deleted_events(services):
        purged.add(await service.delete_event_rows(services, event_id))
    queued = await service.pending_purges(services)
    with _stderr_bar(queued, "removing files") as bar:
        drained = await service.drain_file_purges(
            services, progress=lambda _prefix, _files: bar.update(1)
        )
    purged.add(drained)
    click.echo(f"soft-deleted {len(expired)} free event(s)")
    click.echo(
        f"deleted {len(guests)} guest(s) unused for"
        f" {services.settings.anonymous_user_retention_days} day(s)"
    )
    click.echo(
        f"purged {purged.events} event(s) with {purged.photos} photo(s);"
        f" removed {purged.files} file(s) under {purged.prefixes} prefix(es)"
    )
    if not orphans:
        return
    expired_photos, expired_files = await service.expire_pending_uploads(services)
    removed = await service.remove_orphan_files(services)
    click.echo(f"expired {len(expired_photos)} pending upload(s), removing {expired_files} file(s)")
    click.echo(f"removed {len(removed)} orphan file(s)")


def render_plan(plan: service.Plan, services: Services, *, orphans: bool) -> None:
    settings = services.settings
    click.echo("dry run: nothing is changed")
    click.echo(
        f"would soft-delete {len(plan.to_expire)} free event(s) released more than"
        f" {settings.free_event_retention_days} day(s) ago:"
    )
    for e in plan.to_expire:
        released = e.release_at.isoformat() if e.release_at else "?"
        click.echo(
            f"  {e.id}  {e.name!r}  released {released}: {e.photos} photo(s), {e.files} file(s)"
        )
    click.echo(
        f"would delete {plan.stale_guests} guest(s) unused for"
        f" {settings.anonymous_user_retention_days} day(s), with their data"
    )
    click.echo(f"would purge {len(plan.to_purge)} deleted event(s):")
    for e in plan.to_purge:
        click.echo(f"  {e.id}  {e.name!r}: {e.photos} photo(s), {e.files} file(s)")
    click.echo(
        f"would remove {plan.queued_files} file(s) under {len(plan.queued_prefixes)}"
        " prefix(es) already queued for removal"
    )
    if not orphans:
        return
    hours = settings.pending_upload_expiry / 3600
    click.echo(
        f"would mark {len(plan.pending_to_expire)} upload(s) pending more than {hours:g} h"
        " as failed, removing their files"
    )
    click.echo(f"would remove {len(plan.orphans)} orphan file(s):")
    for info in plan.orphans:
        click.echo(f"  {info.key}  ({info.size} bytes, {info.modified.isoformat()})")
