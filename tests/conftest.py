"""Test fixtures: one embedded PostgreSQL per run, a clean database per test, real HTTP.

The cluster starts once (pgserver, a second or so), migrations run once, and every test
starts from empty tables (TRUNCATE of every table, see TABLES). Requests go through the
real ASGI app with real tokens, so row-level security runs exactly as in production.

What a test of any domain starts from: `services` (the session's), `client` (the app on
them), `app_for` / `with_settings` / `app_client` (the app with other settings); the fake
APNs and senders pointed at it (`fake_apns`, `apns_config`, `new_sender`, `pushing`); an S3
server (`moto_endpoint`, `s3_admin`). What it stores comes from tests/factories.py.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, LiteralString

import botocore.session
import httpx
import psycopg
import pytest
import structlog
from botocore.client import BaseClient
from psycopg import sql

from momento.app import create_app
from momento.config import Environment, Settings
from momento.db import embedded
from momento.db import migrate as migrations
from momento.kit.ratelimit import RateLimiter
from momento.push.apns import ApnsConfig, ApnsSender
from momento.services import Services, build_services, running
from tests.fakes.apns import FakeApns, ProviderKey, make_provider_key, new_fake, sender_config
from tests.storage.helpers import AWS

for _name in list(os.environ):
    if _name.startswith(("MOMENTO_", "APNS_")) or _name in (
        "DATABASE_URL",
        "SMTP_URL",
        "JWT_PRIVATE_KEY",
        "STORAGE_URL",
        "FILES_SIGNING_SECRET",
        "POSTHOG_API_KEY",
        "POSTHOG_HOST",
    ):
        del os.environ[_name]

# Before each test every table is emptied. Which tables comes from the catalog, once per
# session after the migrations ran, so a table a new migration adds is emptied without anyone
# listing it. Kept: the migrations' bookkeeping (named in src/momento/db/migrate.py); emptied,
# the next migrate() would apply every migration again. No migration inserts rows anywhere
# else (no seed data to keep): tests/test_clean_database.py checks that, and that the tables
# the hand-kept lists used to name are all among those emptied.
KEEP_TABLES = frozenset({("momento", "schema_migrations")})

TABLES: LiteralString = """
SELECT n.nspname AS schema, c.relname AS name
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                  AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2
"""


def writable_tables(url: str) -> list[tuple[str, str]]:
    """(schema, table) of every table in the database's own schemas (not the catalog's, not
    an extension's), less KEEP_TABLES. (Blocking: clean_database asks for it lazily, from a
    running event loop, where an async fixture cannot be set up.)"""
    with psycopg.connect(url, autocommit=True) as conn:
        found = [(schema, name) for schema, name in conn.execute(TABLES).fetchall()]
    return [table for table in found if table not in KEEP_TABLES]


def truncate(tables: list[tuple[str, str]]) -> sql.Composed:
    """TRUNCATE ... CASCADE, as the hand-kept statement was (identities are not restarted)."""
    names = sql.SQL(", ").join(sql.Identifier(schema, name) for schema, name in tables)
    return sql.SQL("TRUNCATE {} CASCADE").format(names)


@pytest.fixture(scope="session")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[embedded.EmbeddedPostgres]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = embedded.start(tmp_path_factory.mktemp("momento-pg"), database="momento_test")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
async def database_url(pg: embedded.EmbeddedPostgres) -> str:
    await migrations.migrate(pg.url)
    return pg.url


@pytest.fixture(scope="session")
def truncate_tables(database_url: str) -> sql.Composed:
    """The statement that empties every table a test may write (see TABLES)."""
    return truncate(writable_tables(database_url))


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Settings:
    return Settings(
        env=Environment.test,
        data_dir=tmp_path_factory.mktemp("momento-data"),
        database_url=database_url,
        public_url="http://testserver",
        site_url="http://app.test",
        db_pool_min=1,
        db_pool_max=8,
    )


@pytest.fixture(scope="session")
async def services(settings: Settings, database_url: str) -> AsyncIterator[Services]:
    async with running(build_services(settings, database_url), check_storage=True) as svc:
        yield svc


@pytest.fixture(autouse=True, scope="session")
def _structlog_without_cache() -> Iterator[None]:
    """Tests that run commands in-process configure logging as the process would, with
    structlog's cache_logger_on_first_use: a module's logger first used then keeps that
    configuration for good, past the reset below, and later tests reading structlog's default
    output (capsys) saw nothing. Every configuration made during the run keeps the cache off."""
    original = structlog.configure

    def configure(*args: Any, **kwargs: Any) -> None:
        kwargs["cache_logger_on_first_use"] = False
        original(*args, **kwargs)

    structlog.configure = configure
    try:
        yield
    finally:
        structlog.configure = original


@pytest.fixture(autouse=True)
def _keep_logging_config() -> Iterator[None]:
    """Commands run in-process configure logging for their process; that configuration
    (structlog routed to the stdlib, the root level) must not leak into later tests."""
    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]
    try:
        yield
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers
        structlog.reset_defaults()


@pytest.fixture(autouse=True)
async def clean_database(request: pytest.FixtureRequest) -> None:
    """Every test that touches the database starts from empty tables."""
    if "services" not in request.fixturenames and "database_url" not in request.fixturenames:
        return
    url: str = request.getfixturevalue("database_url")
    statement: sql.Composed = request.getfixturevalue("truncate_tables")
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(statement)


def with_settings(services: Services, **setting_overrides: object) -> Services:
    """The same services (database, keys, storage) with these settings changed, and a rate
    limiter of their own."""
    settings = services.settings.model_copy(update=setting_overrides)
    return dataclasses.replace(
        services, settings=settings, limiter=RateLimiter(services.db, settings.rate_limit_window)
    )


def app_client(services: Services) -> httpx.AsyncClient:
    """A client of the app built on `services`: requests go to it in process (ASGI)."""
    app = create_app(services, manage_pool=False)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(services) as c:
        yield c


def app_for(services: Services, **setting_overrides: object) -> httpx.AsyncClient:
    """A client for an app whose settings differ (same database and keys)."""
    return app_client(with_settings(services, **setting_overrides))


# --- APNs: the fake server and senders pointed at it (tests/push, tests/reveal, tests/cli) --

SenderFactory = Callable[[], ApnsSender]


@pytest.fixture(scope="session")
def provider_key() -> ProviderKey:
    return make_provider_key()


@pytest.fixture
async def fake_apns(provider_key: ProviderKey) -> AsyncIterator[FakeApns]:
    """The fake APNs, serving on 127.0.0.1 for the test."""
    async with new_fake(provider_key[1]) as server:
        yield server


@pytest.fixture
def apns_config(fake_apns: FakeApns, provider_key: ProviderKey) -> ApnsConfig:
    """A sender's settings for the fake (change fields with dataclasses.replace)."""
    return sender_config(fake_apns, provider_key[0])


@pytest.fixture
async def new_sender(apns_config: ApnsConfig) -> AsyncIterator[SenderFactory]:
    """Makes open-on-first-use senders to the fake (one per simulated worker), closed after
    the test."""
    made: list[ApnsSender] = []

    def make() -> ApnsSender:
        sender = ApnsSender(apns_config)
        made.append(sender)
        return sender

    yield make
    for sender in made:
        await sender.close()


async def with_sender(services: Services, sender: ApnsSender) -> Services:
    """`services` sending pushes with `sender`, opened."""
    await sender.open()
    return dataclasses.replace(services, push=sender)


@pytest.fixture
async def pushing(services: Services, new_sender: SenderFactory) -> Services:
    """The session's services with an APNs sender pointed at the fake (what a worker has)."""
    return await with_sender(services, new_sender())


# --- S3: a moto server (S3's protocol on 127.0.0.1) for the tests that ask for one -----------


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer  # slow to import: only when a test needs S3

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_admin(moto_endpoint: str) -> Iterator[BaseClient]:
    """A plain (blocking) client of the S3 server for the tests' own chores (make_bucket)."""
    client = botocore.session.get_session().create_client(
        "s3",
        region_name="us-east-1",
        endpoint_url=moto_endpoint,
        aws_access_key_id=AWS["aws_access_key_id"],
        aws_secret_access_key=AWS["aws_secret_access_key"],
    )
    try:
        yield client
    finally:
        client.close()


__all__ = ["Path", "SenderFactory", "app_client", "app_for", "with_sender", "with_settings"]
