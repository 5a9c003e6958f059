"""The `momento` command: serve the API and manage the database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote

import click
import psycopg
import psycopg.conninfo

from momento import logs
from momento.config import Settings, SettingsError, load_settings
from momento.db import migrate as migrations
from momento.supervisor import STARTUP_FAILURE, claim_port, serve_workers

if TYPE_CHECKING:
    pass


def _settings(**overrides: Any) -> Settings:
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        if len(exc.problems) == 1:
            raise click.ClickException(f"invalid setting {exc.problems[0]}") from None
        raise click.ClickException(str(exc)) from None


def connection_fault(exc: BaseException) -> bool:
    """Whether `exc` is (or wraps, as procrastinate's ConnectorException does) a fault of the
    database connection itself: down, unreachable, refused, a pool that gave up. A failing
    statement is a bug and keeps its traceback."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, psycopg.OperationalError | psycopg.InterfaceError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def redact(text: str, url: str) -> str:
    """`text` with the password of `url` (a URL or key=value conninfo) replaced by ***."""
    secrets: set[str] = set()
    userinfo = re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)@", url)
    if userinfo and ":" in userinfo.group(1):
        password = userinfo.group(1).split(":", 1)[1]
        secrets.update({password, unquote(password)})
    for match in re.finditer(r"password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", url):
        secrets.update({match.group(1), match.group(1).strip("'")})
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _database_problem(exc: BaseException, url: str) -> str:
    shown = redact(url, url) if "://" in url else "(DATABASE_URL)"
    reason = _one_line(str(exc)).rstrip(" .")
    return redact(f"cannot use the database {shown}: {reason}", url)


def _check_database(url: str) -> None:
    """Fail in one line, before anything starts, when `url` is malformed or unreachable."""
    try:
        # Malformed URLs are refused here by libpq's own parser, before any connection.
        psycopg.conninfo.conninfo_to_dict(url)
        with psycopg.connect(url, connect_timeout=10, autocommit=True):
            pass
    except psycopg.Error as exc:
        raise click.ClickException(_database_problem(exc, url)) from None


@contextmanager
def database_url(settings: Settings, *, create: bool = False) -> Iterator[str]:
    """The configured DATABASE_URL, or an embedded PostgreSQL started for the duration.

    Only with `create` is an embedded database made in a data directory without one: any
    other command run from the wrong folder would otherwise leave an empty `.momento` there
    and report nothing of the real one.
    """
    from momento.db import embedded

    if settings.database_url:
        url = settings.database_url
        _check_database(url)
        try:
            yield url
        except Exception as exc:
            if not connection_fault(exc):
                raise
            raise click.ClickException(_database_problem(exc, url)) from None
        return
    data_dir = Path(settings.data_dir).resolve()
    if not create and not embedded.has_cluster(data_dir):
        raise click.ClickException(
            f"no Momento database in {data_dir}: run this command where `momento serve` runs,"
            " or set MOMENTO_DATA_DIR to its data directory (or DATABASE_URL to its database)"
        )
    click.echo(f"Starting embedded PostgreSQL in {data_dir / 'pg'} ...", err=True)
    try:
        pg = embedded.start(data_dir)
    except Exception as exc:
        raise click.ClickException(
            _one_line(f"could not start the embedded PostgreSQL: {exc}")
        ) from exc
    try:
        yield pg.url
    except Exception as exc:
        if not connection_fault(exc):
            raise
        raise click.ClickException(_database_problem(exc, pg.url)) from None
    finally:
        click.echo("Stopping embedded PostgreSQL ...", err=True)
        pg.stop()


def _check_storage(settings: Settings) -> None:
    """Fail in one line, before the banner, when S3 answers that the bucket is missing or our
    credentials are refused (in the app's startup it would end in uvicorn's traceback). An S3
    that is down or silent is no reason not to start: the server checks it again in the
    background. A backend of its own, closed after: the app's is started in its own loop."""
    if settings.local_storage:
        return
    from momento.services import build_storage
    from momento.storage import StorageMisconfigured

    async def probe() -> None:
        storage = build_storage(settings)
        try:
            await storage.start()
        finally:
            await storage.close()

    try:
        asyncio.run(probe())
    except StorageMisconfigured as exc:
        raise click.ClickException(_one_line(f"cannot use the storage: {exc}")) from None


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

    import uvicorn

    from momento.app import create_app
    from momento.services import build_services

    settings = _settings(host=host, port=port)
    logs.configure(settings.log_level, settings.log_json)
    # Before anything starts: a port in use is one line, not a log after the banner.
    claimed = claim_port(settings.host, settings.port)
    port = claimed.getsockname()[1]
    with contextlib.closing(claimed), database_url(settings, create=True) as url:
        _apply_migrations(url)
        try:
            # Also creates the data directory's keys once, before any worker starts.
            services = build_services(settings, url)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        _check_storage(settings)
        base = f"http://{settings.host}:{port}"
        click.echo(f"Momento API  {base}/v1", err=True)
        click.echo(f"Auth API     {base}/auth/v1", err=True)
        click.echo(f"API docs     {base}/docs", err=True)
        options: dict[str, Any] = {
            "host": settings.host,
            "port": port,
            "log_config": None,
            # Below info the access log would be dropped anyway: skip building its lines.
            "access_log": settings.log_level in ("debug", "info"),
            "proxy_headers": True,
            "forwarded_allow_ips": settings.forwarded_allow_ips,
            "server_header": False,
        }
        if workers == 1:
            # Serve on the socket claimed above (what uvicorn.run does, on its own socket).
            server = uvicorn.Server(uvicorn.Config(create_app(services), **options))
            # uvicorn shuts down gracefully on SIGINT/SIGTERM, then raises the signal again
            # with the handler found before it started: Ctrl-C's KeyboardInterrupt (caught
            # here, as uvicorn.run does) and, for SIGTERM, ours, so that both end in a clean
            # exit 0 through the `with` above, which stops the embedded PostgreSQL (SIGTERM's
            # default would kill this process and leave the database running).
            signal.signal(signal.SIGTERM, _exit_on_sigterm)
            with contextlib.suppress(KeyboardInterrupt):
                server.run(sockets=[claimed])
            if not server.started:
                raise SystemExit(STARTUP_FAILURE)
            return
        if services.image_executor is not None:
            services.image_executor.shutdown(wait=False)
        # The workers bind with SO_REUSEPORT, which the claim (a plain bind) would refuse.
        claimed.close()
        # Each worker process builds its own app and pool from the environment.
        os.environ["DATABASE_URL"] = url
        os.environ["MOMENTO_HOST"] = settings.host
        os.environ["MOMENTO_PORT"] = str(port)
        config = uvicorn.Config("momento.app:factory", factory=True, workers=workers, **options)
        raise SystemExit(serve_workers(config, workers))


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


@main.group()
def db() -> None:
    """Database commands."""


@db.command("migrate")
def db_migrate() -> None:
    """Apply pending migrations."""
    settings = _settings()
    with database_url(settings, create=True) as url:
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
        click.echo("worker started; Ctrl-C stops it after the jobs in hand", err=True)
        await run_worker(
            services,
            concurrency=concurrency or settings.worker_concurrency,
            name="worker",
            queues=list(queues) or None,
        )

    _run_with_services(settings, work, log_level=settings.log_level, push=True)


@main.command()
@click.option("--limit", type=int, default=20, show_default=True, help="Jobs listed per state.")
def jobs(limit: int) -> None:
    """Show queued, running, failed and scheduled jobs."""
    from momento.jobs import admin

    settings = _settings()
    summary = _run_with_services(settings, lambda s: admin.summary(s, limit))
    click.echo(admin.render(summary))


@main.group()
def moderation() -> None:
    """Review flagged photos."""


def _run_with_services(
    settings: Settings, work: Any, log_level: str = "warning", *, push: bool = False
) -> Any:
    """Run `work(services)` with the services running (`momento.services.running`); with
    `push`, the push sender too."""
    from momento.services import build_services, running
    from momento.storage import StorageError

    # Logs go to stderr, apart from the command's own output on stdout.
    logs.configure(log_level, settings.log_json)
    with database_url(settings) as url:
        services = build_services(settings, url)

        async def go() -> Any:
            try:
                # A worker keeps running while S3 is down (storage jobs fail and are retried
                # until it is back); a missing bucket or refused credentials stop it here.
                async with running(services, push=push):
                    return await work(services)
            except StorageError as exc:
                raise click.ClickException(_one_line(f"cannot use the storage: {exc}")) from None

        return asyncio.run(go())


@moderation.command("list")
@click.option("--limit", type=int, default=100, show_default=True)
def moderation_list(limit: int) -> None:
    """List flagged photos, most recently reported first."""
    from momento.photos import moderation as mod

    settings = _settings()
    rows = _run_with_services(settings, lambda s: mod.list_flagged(s, limit))
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
    _on_flagged(photo_id, "restore", "restored")


@moderation.command("remove")
@click.argument("photo_id", type=click.UUID)
def moderation_remove(photo_id: uuid.UUID) -> None:
    """Delete a flagged photo and its files."""
    _on_flagged(photo_id, "remove", "removed")


def _on_flagged(photo_id: uuid.UUID, action: Literal["restore", "remove"], done: str) -> None:
    """Run `momento.photos.moderation.<action>` on one flagged photo and say what happened."""
    from momento.photos import moderation as mod

    act = mod.restore if action == "restore" else mod.remove
    if not _run_with_services(_settings(), lambda s: act(s, photo_id)):
        raise click.ClickException(f"no flagged photo {photo_id}")
    click.echo(f"{done} {photo_id}")


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


@main.group()
def legacy() -> None:
    """Move an old Momento deployment (Supabase, the old schema) onto this server."""


def _legacy_problem(exc: BaseException, url: str) -> click.ClickException:
    return click.ClickException(redact(_one_line(f"legacy: {exc}"), url))


@legacy.command("inspect")
@click.option("--from", "source", required=True, help="The old database's URL (read only).")
def legacy_inspect(source: str) -> None:
    """Say which schema the old database is on and what would block or lose data."""
    from momento.legacy import command

    try:
        asyncio.run(command.inspect(source))
    except psycopg.Error as exc:
        raise _legacy_problem(exc, source) from None


@legacy.command("import")
@click.option("--from", "source", required=True, help="The old database's URL (never written).")
@click.option(
    "--files",
    "files_url",
    default=None,
    help="The old bucket, s3://KEY:SECRET@host[:port]/bucket (Supabase Storage's S3 endpoint).",
)
@click.option("--dry-run", is_flag=True, help="Print the plan and the report; write nothing.")
@click.option(
    "--in-worker", is_flag=True, help="Queue the files' copy as a job instead of running it here."
)
def legacy_import(source: str, files_url: str | None, dry_run: bool, in_worker: bool) -> None:
    """Copy the old deployment here (again: only what is new since the last run)."""
    from momento.legacy import command, importer

    try:
        _run_with_services(
            _settings(),
            lambda s: command.import_rows(
                s, source, dry_run=dry_run, files_url=files_url, in_worker=in_worker
            ),
        )
    except (psycopg.Error, importer.LegacyError) as exc:
        raise _legacy_problem(exc, source) from None


@legacy.command("verify")
@click.option("--from", "source", required=True, help="The old database's URL (read only).")
@click.option("--files", is_flag=True, help="Also check every imported photo's file is here.")
def legacy_verify(source: str, files: bool) -> None:
    """Compare the old deployment with this server; exit 1 on any difference."""
    from momento.legacy import command, importer

    try:
        _run_with_services(_settings(), lambda s: command.verify_all(s, source, files=files))
    except (psycopg.Error, importer.LegacyError) as exc:
        raise _legacy_problem(exc, source) from None


@legacy.command("migrate-in-place")
@click.option("--database-url", "url", required=True, help="The old (Supabase) database's URL.")
@click.option(
    "--dry-run", is_flag=True, help="Run it in a transaction rolled back; say what it did."
)
def legacy_migrate_in_place(url: str, dry_run: bool) -> None:
    """Run the design document's Phase 1 on the old database itself (backup first, one
    transaction, re-runnable)."""
    from momento.legacy import inplace

    try:
        click.echo(asyncio.run(inplace.migrate(url, dry_run=dry_run)).render())
    except (psycopg.Error, inplace.InPlaceError) as exc:
        raise _legacy_problem(exc, url) from None


@legacy.command("rollback")
@click.option("--database-url", "url", required=True, help="The database migrated in place.")
@click.option("--force", is_flag=True, help="Roll back even if that loses rows written since.")
def legacy_rollback(url: str, force: bool) -> None:
    """Put the old schema and rows back from migrate-in-place's backup."""
    from momento.legacy import inplace

    try:
        for line in asyncio.run(inplace.rollback(url, force=force)):
            click.echo(line)
    except (psycopg.Error, inplace.InPlaceError) as exc:
        raise _legacy_problem(exc, url) from None


if __name__ == "__main__":
    main()
