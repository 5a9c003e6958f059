"""The `momento` command: serve the API and manage the database."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from momento import logs
from momento.config import Settings, SettingsError, load_settings
from momento.db import migrate as migrations


def _settings(**overrides: Any) -> Settings:
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """The configured DATABASE_URL, or an embedded PostgreSQL started for the duration."""
    if settings.database_url:
        yield settings.database_url
        return
    from momento.db import embedded

    data_dir = Path(settings.data_dir)
    click.echo(f"Starting embedded PostgreSQL in {(data_dir / 'pg').resolve()} ...", err=True)
    try:
        pg = embedded.start(data_dir)
    except Exception as exc:
        raise click.ClickException(f"could not start the embedded PostgreSQL: {exc}") from exc
    try:
        yield pg.url
    finally:
        click.echo("Stopping embedded PostgreSQL ...", err=True)
        pg.stop()


def _apply_migrations(url: str) -> None:
    try:
        applied = asyncio.run(migrations.migrate(url))
    except migrations.MigrationError as exc:
        raise click.ClickException(str(exc)) from None
    for m in applied:
        click.echo(f"applied {m.version}_{m.name}", err=True)


@click.group()
def main() -> None:
    """Momento Server: shared event photos with a timed reveal."""


@main.command()
@click.option("--host", default=None, help="Address to listen on (MOMENTO_HOST).")
@click.option("--port", type=int, default=None, help="Port to listen on (MOMENTO_PORT).")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Server processes sharing the port, each with its own database pool.",
)
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Run the API (starting an embedded PostgreSQL when DATABASE_URL is not set)."""
    import os

    import uvicorn

    from momento.app import build_services, create_app

    settings = _settings(host=host, port=port)
    logs.configure(settings.log_level, settings.log_json)
    with database_url(settings) as url:
        _apply_migrations(url)
        try:
            # Also creates the data directory's keys once, before any worker starts.
            services = build_services(settings, url)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        base = f"http://{settings.host}:{settings.port}"
        click.echo(f"Momento API  {base}/v1", err=True)
        click.echo(f"Auth API     {base}/auth/v1", err=True)
        click.echo(f"API docs     {base}/docs", err=True)
        options: dict[str, Any] = {
            "host": settings.host,
            "port": settings.port,
            "log_config": None,
            # Below info the access log would be dropped anyway: skip building its lines.
            "access_log": settings.log_level in ("debug", "info"),
            "proxy_headers": True,
            "forwarded_allow_ips": settings.forwarded_allow_ips,
            "server_header": False,
        }
        if workers == 1:
            uvicorn.run(create_app(services), **options)
            return
        if services.image_executor is not None:
            services.image_executor.shutdown(wait=False)
        # Each worker process builds its own app and pool from the environment.
        os.environ["DATABASE_URL"] = url
        os.environ["MOMENTO_HOST"] = settings.host
        os.environ["MOMENTO_PORT"] = str(settings.port)
        uvicorn.run("momento.app:factory", factory=True, workers=workers, **options)


@main.group()
def db() -> None:
    """Database commands."""


@db.command("migrate")
def db_migrate() -> None:
    """Apply pending migrations."""
    settings = _settings()
    with database_url(settings) as url:
        _apply_migrations(url)
        click.echo("database is up to date")


@db.command("status")
def db_status() -> None:
    """List migrations and whether each is applied."""
    settings = _settings()
    with database_url(settings) as url:
        states = asyncio.run(migrations.status(url))
    pending = 0
    for s in states:
        if s.applied_at is None:
            pending += 1
            state = "pending"
        else:
            state = f"applied {s.applied_at:%Y-%m-%d %H:%M:%S}"
            if not s.checksum_ok:
                state += "  (file changed since it was applied!)"
        click.echo(f"{s.migration.version}_{s.migration.name:<30} {state}")
    click.echo(f"{len(states) - pending} applied, {pending} pending")
    if any(not s.checksum_ok for s in states):
        sys.exit(1)


@main.command()
@click.option(
    "--concurrency",
    type=click.IntRange(1, 200),
    default=None,
    help="Jobs run at once (MOMENTO_WORKER_CONCURRENCY).",
)
@click.option("--queue", "queues", multiple=True, help="Only these queues (default: all).")
def worker(concurrency: int | None, queues: tuple[str, ...]) -> None:
    """Run a job worker (several may run, on several machines; each job runs once)."""
    from momento.jobs.queue import run_worker

    settings = _settings()
    logs.configure(settings.log_level, settings.log_json)

    async def work(services: Any) -> None:
        from momento.push import start as start_push

        click.echo("worker started; Ctrl-C stops it after the jobs in hand", err=True)
        await start_push(services.push)
        try:
            await run_worker(
                services,
                concurrency=concurrency or settings.worker_concurrency,
                name="worker",
                queues=list(queues) or None,
            )
        finally:
            await services.push.close()

    _run_with_services(settings, work, log_level=settings.log_level)


@main.command()
@click.option("--limit", type=int, default=20, show_default=True, help="Jobs listed per state.")
def jobs(limit: int) -> None:
    """Show queued, running, failed and scheduled jobs."""
    from momento.jobs import admin

    settings = _settings()
    summary = _run_with_services(settings, lambda s: admin.summary(s.db, limit))
    click.echo(admin.render(summary))


@main.group()
def moderation() -> None:
    """Review flagged photos."""


def _run_with_services(settings: Settings, work: Any, log_level: str = "warning") -> Any:
    """Run `work(services)` with the database pool, storage and job queue open."""
    from momento.app import build_services

    # Logs go to stderr, apart from the command's own output on stdout.
    logs.configure(log_level, settings.log_json)
    with database_url(settings) as url:
        services = build_services(settings, url)

        async def go() -> Any:
            await services.db.open()
            await services.storage.open()
            await services.jobs.open_async()
            try:
                return await work(services)
            finally:
                await services.analytics.close()
                await services.jobs.close_async()
                await services.storage.close()
                await services.db.close()
                if services.image_executor is not None:
                    services.image_executor.shutdown()

        return asyncio.run(go())


@moderation.command("list")
@click.option("--limit", type=int, default=100, show_default=True)
def moderation_list(limit: int) -> None:
    """List flagged photos, most recently reported first."""
    from momento.photos import moderation as mod

    settings = _settings()
    rows = _run_with_services(settings, lambda s: mod.list_flagged(s.db, limit))
    if not rows:
        click.echo("no flagged photos")
        return
    for p in rows:
        who = "hidden by the event's creator" if p.hidden_by_creator else f"{p.reports} report(s)"
        click.echo(f"{p.id}  {p.event_name!r}  by {p.username}  {who}")
        for reason in p.reasons:
            click.echo(f"    - {reason}")


@moderation.command("restore")
@click.argument("photo_id", type=click.UUID)
def moderation_restore(photo_id: uuid.UUID) -> None:
    """Unflag a photo: it is visible again."""
    from momento.photos import moderation as mod

    settings = _settings()
    if not _run_with_services(settings, lambda s: mod.restore(s.db, photo_id)):
        raise click.ClickException(f"no flagged photo {photo_id}")
    click.echo(f"restored {photo_id}")


@moderation.command("remove")
@click.argument("photo_id", type=click.UUID)
def moderation_remove(photo_id: uuid.UUID) -> None:
    """Delete a flagged photo and its files."""
    from momento.photos import moderation as mod

    settings = _settings()
    if not _run_with_services(settings, lambda s: mod.remove(s.db, s.storage, photo_id)):
        raise click.ClickException(f"no flagged photo {photo_id}")
    click.echo(f"removed {photo_id}")


@main.command()
@click.option("--dry-run", is_flag=True, help="Show what would go; change nothing.")
@click.option(
    "--orphans/--no-orphans",
    default=True,
    show_default=True,
    help="Also expire abandoned uploads and remove files no row points to.",
)
def cleanup(dry_run: bool, orphans: bool) -> None:
    """Remove expired free events, deleted events' files and orphans (or show them)."""
    from momento.cleanup import command

    settings = _settings()
    _run_with_services(settings, lambda s: command.run(s, dry_run=dry_run, orphans=orphans))


if __name__ == "__main__":
    main()
