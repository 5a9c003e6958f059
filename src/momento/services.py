"""The services kernel: what the app, the CLI, the worker and the tests share.

`Services` is built once from the settings (`build_services`) and opened and closed in one
place (`running`), in dependency order: the database first (everything else writes to it),
then the storage, the job queue and the push sender; closed in the reverse order. Domain
code takes a `Services` as its first argument; nothing here knows about HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import procrastinate

from momento import logs
from momento.analytics import from_settings as analytics_from_settings
from momento.analytics.client import Analytics, NoAnalytics
from momento.auth import keys
from momento.auth.apple.keys import AppleKeys
from momento.auth.tokens import TokenService
from momento.config import Settings
from momento.db import Database
from momento.db.listener import Listener
from momento.db.pool import SESSION_OPTIONS
from momento.jobs.queue import make_app as make_jobs_app
from momento.kit.ratelimit import RateLimiter
from momento.mail import Mailer
from momento.mail import from_settings as mailer_from_settings
from momento.push import from_settings as push_from_settings
from momento.push import start as start_push
from momento.push.apns import ConsoleSender, Sender
from momento.realtime.hub import Hub
from momento.storage import NoStorage, Storage
from momento.storage import from_url as storage_from_url
from momento.storage import secret as storage_secret
from momento.storage.deletions import DeletionListener, DenyList
from momento.storage.local import LocalDiskStorage

log = logs.get("momento.services")


@dataclass
class Services:
    """Built once at start and shared by every request and job."""

    settings: Settings
    db: Database
    tokens: TokenService
    mailer: Mailer
    limiter: RateLimiter
    # The job queue (procrastinate); opened with the app, also what workers run.
    jobs: procrastinate.App
    # Photo files; `build_services` sets the configured backend.
    storage: Storage = field(default_factory=NoStorage)
    # Where image work runs, off the event loop (None: the loop's default thread pool).
    image_executor: Executor | None = None
    # Product analytics (PostHog); `build_services` sets it when POSTHOG_API_KEY is set.
    analytics: Analytics = field(default_factory=NoAnalytics)
    # Push notifications: APNs when configured (`momento.push.from_settings`), else logged.
    push: Sender = field(default_factory=ConsoleSender)
    # Prefixes of deleted files whose signed local URLs are refused at once; fed in API
    # processes by `momento.storage.deletions.DeletionListener` (started with the app).
    deleted_files: DenyList = field(default_factory=lambda: DenyList(7 * 24 * 3600))
    # Realtime fan-out of this process's event streams (momento.realtime), fed by the
    # process's one LISTEN connection (started with the app).
    realtime: Hub = field(default_factory=Hub)
    # Apple's identity token keys, fetched and cached on the first Sign in with Apple.
    apple_keys: AppleKeys = field(default_factory=AppleKeys)


def build_storage(settings: Settings) -> Storage:
    """The configured storage backend (not started)."""
    files_secret = None
    if settings.local_storage:
        files_secret = (
            settings.files_signing_secret.encode()
            if settings.files_signing_secret
            else storage_secret.load_or_create(Path(settings.data_dir))
        )
    return storage_from_url(
        settings.storage_url,
        Path(settings.data_dir),
        files_secret,
        settings.base_url,
        default_ttl=settings.signed_url_ttl,
        access_key=settings.aws_access_key_id,
        secret_key=settings.aws_secret_access_key,
    )


def build_services(settings: Settings, database_url: str) -> Services:
    """Everything a request or a job needs that can be made once at start (nothing is
    connected yet: see `running`). Raises ValueError for a signing key that cannot be read."""
    if settings.jwt_private_key:
        signing_key = keys.SigningKey.from_pem(settings.jwt_private_key)
    else:
        signing_key = keys.load_or_create(Path(settings.data_dir))
    db = Database(
        database_url,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        timeout=settings.db_pool_timeout,
    )
    return Services(
        settings=settings,
        db=db,
        tokens=TokenService(signing_key, settings.base_url + "/auth/v1", settings.access_token_ttl),
        mailer=mailer_from_settings(settings.smtp_url, settings.mail_from, settings.smtp_timeout),
        limiter=RateLimiter(db, settings.rate_limit_window),
        jobs=make_jobs_app(database_url, timeout=settings.db_pool_timeout),
        storage=build_storage(settings),
        image_executor=ThreadPoolExecutor(settings.image_workers, thread_name_prefix="image"),
        analytics=analytics_from_settings(settings),
        push=push_from_settings(settings),
        deleted_files=DenyList(settings.signed_url_ttl),
    )


def deletion_listener(services: Services) -> DeletionListener:
    """The listener that keeps `services.deleted_files` up to date (one per API process)."""
    return DeletionListener(services.db.url, services.deleted_files, options=SESSION_OPTIONS)


def process_listener(services: Services) -> Listener:
    """The API process's one LISTEN connection: the deny-list of deleted files (local storage)
    and the realtime streams share it."""
    if isinstance(services.storage, LocalDiskStorage):
        listener: Listener = deletion_listener(services)
    else:
        listener = Listener(services.db.url, options=SESSION_OPTIONS)
    services.realtime.attach(services, listener)
    return listener


@asynccontextmanager
async def running(
    services: Services, *, push: bool = True, check_storage: bool = False
) -> AsyncIterator[Services]:
    """Open everything, in order, and close it all again, in reverse, however the body ends.

    - The database pool first: the storage, the queue and the push jobs all need it.
    - The storage with `start()`: an S3 that is down or hanging is checked again in the
      background (requests answer 503 until then), while a missing bucket or refused
      credentials raise `StorageError` here, with the pool closed again. `check_storage`
      uses `open()` instead, which raises for an outage too (tools and tests that need the
      storage at once).
    - The job queue, then (with `push`) the push sender, which connects in the background.

    Closing stops the sender, flushes analytics, then closes the queue, the storage and the
    pool, and lets the image threads go.
    """
    async with AsyncExitStack() as stack:
        await services.db.open()
        stack.push_async_callback(services.db.close)
        if check_storage:
            await services.storage.open()
        else:
            await services.storage.start()
        stack.push_async_callback(services.storage.close)
        await services.jobs.open_async()
        stack.push_async_callback(services.jobs.close_async)
        stack.push_async_callback(services.analytics.close)
        if services.image_executor is not None:
            executor = services.image_executor
            stack.callback(lambda: executor.shutdown(wait=False, cancel_futures=True))
        if push:
            await start_push(services.push)
            stack.push_async_callback(services.push.close)
        yield services
