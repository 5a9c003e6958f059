"""Starting while S3 is away: the API and the worker start and answer, and storage comes
back by itself; a bucket S3 says does not exist still stops the start, in one clear line.

S3 is moto on 127.0.0.1 behind a TCP proxy (`tests.fakes.tcp_proxy`) that is cut (connections
refused) or stalled (accepted, never answered) before the process starts. The app's own
lifespan runs in-process for the upload flow; `momento serve` and `momento worker` run as
real processes for what an operator sees.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.client import BaseClient

from momento.app import create_app
from momento.config import Settings
from momento.services import Services, build_services
from momento.storage import StorageDown
from momento.storage.s3 import S3Storage
from tests.deploy.harness import MOMENTO, Proc, free_port, momento_env, s3_storage_url
from tests.factories import create_user
from tests.fakes.tcp_proxy import TcpProxy
from tests.photos.images import camera_sized_jpeg
from tests.photos.uploads import Backend, complete, created, open_event, put
from tests.storage.helpers import AWS, BASE_URL, assert_retry_later, http_client, make_bucket

# The start may wait this long for S3's first answer (`START_WAIT`, 1 s), never longer.
STARTS_WITHIN = 3.0
# After the proxy is restored: the next background check (backoff 0.5 s doubling, jittered,
# and the cut in these tests lasts a second or two) finds the bucket; after a stall, the
# check in flight ends at its 5 s timeout first.
BACK_WITHIN = 10.0


@pytest.fixture
def proxy(moto_endpoint: str) -> Any:
    with TcpProxy.to_url(moto_endpoint) as running:
        yield running


@asynccontextmanager
async def app_started(
    settings: Settings, database_url: str, storage: S3Storage, folder: Path
) -> AsyncIterator[tuple[Backend, float]]:
    """The whole app with its own services, started and stopped by its real lifespan (the
    pool, the storage's start, the job queue, push), S3 in `storage`; and how long the
    start took."""
    built = build_services(settings.model_copy(update={"inprocess_worker": False}), database_url)
    services: Services = dataclasses.replace(built, storage=storage)
    app = create_app(services)
    started = time.monotonic()
    async with app.router.lifespan_context(app):
        took = time.monotonic() - started
        async with http_client(app) as client:
            client.base_url = httpx.URL(BASE_URL)
            yield Backend("s3", services, client, folder), took


async def readyz(b: Backend) -> dict[str, Any]:
    r = await b.client.get("/readyz")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def wait_for_storage(b: Backend, state: str, within: float) -> None:
    started = time.monotonic()
    while (await readyz(b))["storage"] != state:
        assert time.monotonic() - started < within, await readyz(b)
        await _sleep(0.05)


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


def s3_through(proxy: TcpProxy, bucket: str) -> S3Storage:
    # Production defaults (timeouts, retries, backoff, start wait); only the keys are given.
    return S3Storage(
        bucket,
        endpoint_url=proxy.url,
        region="us-east-1",
        access_key=AWS["aws_access_key_id"],
        secret_key=AWS["aws_secret_access_key"],
    )


@pytest.mark.parametrize("fault", ["cut", "stall"])
async def test_the_api_starts_and_answers_while_s3_is_down_and_recovers_by_itself(
    settings: Settings,
    database_url: str,
    s3_admin: BaseClient,
    proxy: TcpProxy,
    tmp_path: Path,
    fault: str,
) -> None:
    storage = s3_through(proxy, make_bucket(s3_admin))
    proxy.cut() if fault == "cut" else proxy.stall()
    async with app_started(settings, database_url, storage, tmp_path) as (b, took):
        assert took < STARTS_WITHIN
        health = await readyz(b)
        assert health["status"] == "ok"
        assert health["storage"] in ("connecting", "unavailable"), health
        if health["storage"] == "unavailable":
            assert proxy.url in health["storage_error"]
            assert AWS["aws_secret_access_key"] not in json.dumps(health)
        alice = await create_user(b.services, "alice")
        event = await open_event(b, alice)
        # Presigning needs only the credentials: the upload URL is made while S3 is away.
        data = camera_sized_jpeg(320, 240)
        body = await created(b, alice, event, data, "image/jpeg")
        photo_id = body["photo"]["id"]
        asked = time.monotonic()
        r = await complete(b, alice, photo_id)
        assert_retry_later(r, 503, "storage_unavailable")
        # Known to be away: answered at once, not after the client's timeouts and retries.
        assert time.monotonic() - asked < 2.0
        with pytest.raises(StorageDown):
            await storage.stat("anything")
        proxy.restore()
        await wait_for_storage(b, "ready", BACK_WITHIN)
        health = await readyz(b)
        assert health["storage_error"] is None
        r = await put(b, body["upload"], data)  # the URL signed while S3 was away
        assert r.status_code == 200, r.text
        r = await complete(b, alice, photo_id)
        assert r.status_code == 200, r.text
        assert r.json()["upload_status"] == "uploaded"


async def test_a_missing_bucket_stops_the_app_s_start(
    settings: Settings, database_url: str, moto_endpoint: str, tmp_path: Path
) -> None:
    storage = S3Storage(
        "no-such-bucket-here",
        endpoint_url=moto_endpoint,
        access_key=AWS["aws_access_key_id"],
        secret_key=AWS["aws_secret_access_key"],
    )
    with pytest.raises(Exception, match=r"no-such-bucket-here.*not usable.*404"):
        async with app_started(settings, database_url, storage, tmp_path):
            pass
    assert storage.health() == {
        "storage": "misconfigured",
        "storage_error": f"S3 bucket 'no-such-bucket-here' at {moto_endpoint} is not usable"
        " (404, HTTP 404)",
    }


async def test_a_bucket_made_after_the_start_is_an_error_until_then_and_then_ready(
    moto_endpoint: str, s3_admin: BaseClient, proxy: TcpProxy, caplog: pytest.LogCaptureFixture
) -> None:
    """S3 out of reach at start, and once it answers, the bucket is missing: logged as an
    error and reported; made by the operator, the storage becomes ready by itself."""
    bucket = f"late-{make_bucket(s3_admin)}"
    storage = S3Storage(
        bucket,
        endpoint_url=proxy.url,
        access_key=AWS["aws_access_key_id"],
        secret_key=AWS["aws_secret_access_key"],
        check_backoff_max=0.5,
    )
    proxy.cut()
    await storage.start()
    try:
        proxy.restore()
        started = time.monotonic()
        while storage.health()["storage"] != "misconfigured":
            assert time.monotonic() - started < BACK_WITHIN, storage.health()
            await _sleep(0.05)
        assert bucket in str(storage.health()["storage_error"])
        with pytest.raises(StorageDown):
            await storage.put("a/b", b"x", "text/plain")
        s3_admin.create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
        while storage.health()["storage"] != "ready":
            assert time.monotonic() - started < BACK_WITHIN, storage.health()
            await _sleep(0.05)
        await storage.put("a/b", b"x", "text/plain")
        assert await storage.read("a/b") == b"x"
    finally:
        await storage.close()


# --- the commands, as separate processes ---------------------------------------------------


def _env(tmp_path: Path, database_url: str, storage_url: str) -> dict[str, str]:
    return momento_env(
        tmp_path / "data",
        database_url=database_url,
        public_url="http://127.0.0.1",
        smtp_url="smtp://127.0.0.1:9",
        storage_url=storage_url,
        environment="development",
        extra={"MOMENTO_PORT": str(free_port()), "MOMENTO_LOG_JSON": "true"},
    )


def test_momento_serve_answers_while_s3_is_cut_and_becomes_ready_by_itself(
    database_url: str, s3_admin: BaseClient, proxy: TcpProxy, tmp_path: Path
) -> None:
    env = _env(tmp_path, database_url, s3_storage_url(proxy.url, make_bucket(s3_admin)))
    base = f"http://127.0.0.1:{env['MOMENTO_PORT']}"
    proxy.cut()
    serve = Proc("serve", [str(MOMENTO), "serve"], env, tmp_path / "serve.log", tmp_path)
    serve.start()
    try:
        state: dict[str, Any] = {}

        def storage_is(*states: str) -> bool:
            try:
                r = httpx.get(base + "/readyz", timeout=2)
            except httpx.TransportError:
                return False
            state.update(r.json())
            return r.status_code == 200 and state.get("storage") in states

        serve.wait_ready(
            lambda: storage_is("connecting", "unavailable"), timeout=60, what="/readyz, S3 cut"
        )
        proxy.restore()
        serve.wait_ready(lambda: storage_is("ready"), timeout=BACK_WITHIN, what="storage ready")
    finally:
        serve.terminate()


def test_momento_serve_with_a_missing_bucket_fails_in_one_clear_line(
    database_url: str, moto_endpoint: str, tmp_path: Path
) -> None:
    env = _env(tmp_path, database_url, s3_storage_url(moto_endpoint, "no-such-bucket-here"))
    serve = Proc("serve", [str(MOMENTO), "serve"], env, tmp_path / "serve.log", tmp_path)
    serve.start()
    try:
        assert serve.popen is not None
        assert serve.popen.wait(timeout=60) != 0
    finally:
        serve.terminate()
    # One line before the banner, no traceback, nothing served.
    text = serve.log_text()
    lines = [line for line in text.splitlines() if "cannot use the storage" in line]
    assert len(lines) == 1, text
    assert lines[0].startswith("Error: cannot use the storage:"), text
    assert "'no-such-bucket-here'" in lines[0]
    assert "not usable (404, HTTP 404)" in lines[0]
    assert "Traceback" not in text
    assert "Momento API" not in text


def test_momento_worker_starts_while_s3_is_cut_and_stops_on_a_missing_bucket(
    database_url: str, s3_admin: BaseClient, proxy: TcpProxy, moto_endpoint: str, tmp_path: Path
) -> None:
    env = _env(tmp_path, database_url, s3_storage_url(proxy.url, make_bucket(s3_admin)))
    proxy.cut()
    worker = Proc("worker", [str(MOMENTO), "worker"], env, tmp_path / "worker.log", tmp_path)
    worker.start()
    try:
        worker.wait_ready(lambda: "worker started" in worker.log_text(), timeout=60)
        time.sleep(1.5)  # past the first (failed) bucket check: still running
        assert worker.alive(), worker.log_text()
    finally:
        worker.terminate()

    env = _env(tmp_path, database_url, s3_storage_url(moto_endpoint, "no-such-bucket-here"))
    missing = Proc("worker", [str(MOMENTO), "worker"], env, tmp_path / "missing.log", tmp_path)
    missing.start()
    try:
        assert missing.popen is not None
        assert missing.popen.wait(timeout=60) == 1
    finally:
        missing.terminate()
    errors = [line for line in missing.log_text().splitlines() if line.startswith("Error:")]
    assert errors == [
        f"Error: cannot use the storage: S3 bucket 'no-such-bucket-here' at {moto_endpoint}"
        " is not usable (404, HTTP 404)"
    ], missing.log_text()
    assert "Traceback" not in missing.log_text()
