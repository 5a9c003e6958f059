"""The harness itself works: each piece is started, answers and can be broken and healed.

Short on purpose (the whole deployment suite has three minutes, setup included): one pass
over every piece, timings printed at the end of the run.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import botocore.exceptions
import httpx
import pytest

from tests.deploy.harness import (
    SERVE_REPLACED_LINE,
    TIMINGS,
    Client,
    Photos,
    Stack,
    child_trusts,
    timed,
    wait_until,
)


def test_stack_serves_a_signup(deployed: Stack, api: Client) -> None:
    # The real CLI applied every migration file to Debian's PostgreSQL.
    files = sorted(Path("src/momento/sql/migrations").glob("[0-9][0-9][0-9][0-9]_*.sql"))
    applied = deployed.pg.psql("SELECT count(*) FROM momento.schema_migrations")
    assert int(applied) == len(files), deployed.migrate_output
    assert deployed.pg.major >= 15
    assert deployed.pg.psql("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == "t"
    app_role = deployed.pg.psql(
        f"SELECT rolsuper FROM pg_roles WHERE rolname = '{deployed.pg.user}'"
    )
    assert app_role == "f"  # least privilege: the app's login role is no superuser

    # serve --workers 2: a supervisor and two API processes; two job workers.
    assert deployed.serve_proc is not None
    assert len(deployed.serve_proc.children()) == 2
    assert all(w.alive() for w in deployed.worker_procs)
    assert len(deployed.worker_procs) == 2

    assert api.get("/readyz").status_code == 200
    user_id, token = api.signup("smoke@example.com", "correct horse battery")
    me = api.get("/auth/v1/user", headers=api.auth_headers(token))
    assert me.status_code == 200
    assert me.json()["id"] == user_id
    assert deployed.pg.psql(f"SELECT count(*) FROM auth.users WHERE id = '{user_id}'") == "1"
    api.assert_no_500()


def test_fakes_answer_the_served_processes(deployed: Stack) -> None:
    assert deployed.apns is not None
    # A child process trusts the fake APNs through SSL_CERT_FILE alone (no code change).
    trusted = child_trusts(deployed.apns.ca_file, deployed.apns.url)
    assert trusted.returncode == 0, trusted.stderr
    assert trusted.stdout.split() == ["ok", "h2"]
    # ...and the served processes did connect to it (their push senders opened at start).
    apns = deployed.apns
    wait_until(lambda: apns.connections() > 0, timeout=10, what="a connection to the fake APNs")
    assert isinstance(apns.requests(), list)  # a snapshot, taken in the fake's loop thread

    batch = {"api_key": deployed.posthog.api_key, "batch": [{"event": "smoke"}]}
    assert httpx.post(deployed.posthog.url + "/batch/", json=batch, timeout=5).status_code == 200
    assert deployed.posthog.events("smoke")
    subscriber = httpx.get(
        deployed.revenuecat.url + "/v1/subscribers/smoke-user",
        headers={"Authorization": f"Bearer {deployed.revenuecat.api_key}"},
        timeout=5,
    )
    assert subscriber.status_code == 201
    assert deployed.smtp is not None
    assert deployed.smtp.url.startswith("smtp://127.0.0.1:")


def test_s3_through_a_proxy_that_cuts(deployed: Stack) -> None:
    assert deployed.s3_proxy is not None
    proxy = deployed.s3_proxy
    moto = deployed.moto
    moto.client().put_object(Bucket=deployed.bucket, Key="smoke/a.txt", Body=b"hello")
    assert moto.keys(deployed.bucket, "smoke/") == ["smoke/a.txt"]
    assert moto.size(deployed.bucket, "smoke/a.txt") == 5

    # The same object read through the proxy, then with the proxy cut, then restored.
    through = moto.client(proxy.url)
    read = through.get_object(Bucket=deployed.bucket, Key="smoke/a.txt")["Body"].read()
    assert read == b"hello"
    proxy.cut()
    with pytest.raises(botocore.exceptions.EndpointConnectionError):
        through.get_object(Bucket=deployed.bucket, Key="smoke/a.txt")
    proxy.restore()
    read = through.get_object(Bucket=deployed.bucket, Key="smoke/a.txt")["Body"].read()
    assert read == b"hello"
    moto.client().delete_object(Bucket=deployed.bucket, Key="smoke/a.txt")


def test_kill_and_restart_under_requests(deployed: Stack, api: Client) -> None:
    """A killed API process is replaced and a PostgreSQL restart is survived, while a
    client keeps asking: it sees retries and 503s, never a 500."""
    serve = deployed.serve_proc
    assert serve is not None
    stop = threading.Event()
    seen: list[int] = []

    def load() -> None:
        while not stop.is_set():
            seen.append(api.get("/readyz").status_code)
            time.sleep(0.02)

    loader = threading.Thread(target=load)
    loader.start()
    try:
        victim = serve.children()[0]
        replaced = serve.log_count(SERVE_REPLACED_LINE)  # earlier tests may have killed some
        serve.kill9(victim)
        with timed("smoke: API process replaced after kill -9"):
            wait_until(
                lambda: serve.log_count(SERVE_REPLACED_LINE) == replaced + 1,
                timeout=10,
                what="serve noticing the killed API process",
            )
            serve.wait_ready(timeout=30)  # the replacement's startup logged, /readyz 200
        assert victim not in serve.children()
        assert len(serve.children()) == 2
        with timed("smoke: pg restart until /readyz 200"):
            deployed.pg.restart()
            wait_until(
                lambda: httpx.get(deployed.base_url + "/readyz", timeout=5).status_code == 200,
                timeout=30,
                what="/readyz after the PostgreSQL restart",
            )
    finally:
        stop.set()
        loader.join(30)
    assert seen, "the client made no request"
    assert set(seen) <= {200, 503}, seen
    api.assert_no_500()
    print(f"requests {len(seen)}, connection retries {api.retries}, statuses {set(seen)}")  # noqa: T201


def test_camera_photos(photos: Photos) -> None:
    import pyvips
    from PIL import Image

    assert 3_000_000 < photos.jpeg.stat().st_size < 6_000_000
    assert 3_000_000 < photos.heic.stat().st_size < 8_000_000
    image = pyvips.Image.new_from_file(str(photos.jpeg))
    assert (image.width, image.height) == (4032, 3024)
    with Image.open(photos.jpeg) as jpeg:
        exif = jpeg.getexif()
        assert exif[0x010F] == "DeployCam"
        assert exif.get_ifd(0x8825)[1] == "N"  # GPS latitude reference
    # ~3.5 s alone on 2 cores; the bound only catches a generator gone wrong, not a busy CPU.
    assert photos.seconds < 30, f"making the photos took {photos.seconds:.1f} s"
    assert TIMINGS  # filled by the fixtures
