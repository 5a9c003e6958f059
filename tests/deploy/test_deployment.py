"""The shipped configuration, run as an operator runs it, and the faults an operator meets.

One Stack for the session (tests/deploy/conftest.py): Debian's PostgreSQL reached only through
DATABASE_URL, `momento db migrate`, `momento serve --workers 2` with the job worker out of the
API processes, two `momento worker` processes, S3 on a moto server behind a TCP proxy, and the
APNs (HTTP/2 + TLS), PostHog, RevenueCat and SMTP fakes, all on 127.0.0.1. Everything goes
over HTTP with camera-sized photos. Each fault test asserts the answers (2xx, or a problem with
a stable code: 503 + Retry-After, 507; never a 500), the recovery without a hand restart, and
that nothing stored was lost.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pillow_heif
import pytest
from PIL import Image

from tests.deploy.harness import (
    Client,
    Momento,
    Photos,
    Stack,
    free_port,
    make_temp_dir,
    momento_env,
    note,
    wait_until,
)

PASSWORD = "correct horse battery staple"
HOST_ENTITLEMENT = "host_pro"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def now() -> datetime:
    return datetime.now(UTC)


def headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Person:
    id: str
    token: str
    device: str  # the APNs device token this person's phone registered

    @property
    def headers(self) -> dict[str, str]:
        return headers(self.token)


def person(api: Client, label: str) -> Person:
    user_id, token = api.signup(f"{label}-{secrets.token_hex(4)}@example.com", PASSWORD)
    device = secrets.token_hex(32)
    r = api.request("PUT", "/v1/me/device-token", headers=headers(token), json={"token": device})
    assert r.status_code == 204, r.text
    return Person(user_id, token, device)


def create_event(api: Client, host: Person, *, release_in: timedelta) -> dict[str, Any]:
    r = api.post(
        "/v1/events",
        headers=host.headers,
        json={
            "name": f"Deploy party {secrets.token_hex(2)}",
            "starts_at": iso(now() - timedelta(hours=1)),
            "release_at": iso(now() + release_in),
        },
    )
    assert r.status_code == 201, r.text
    event: dict[str, Any] = r.json()
    return event


def join(api: Client, who: Person, event: dict[str, Any]) -> None:
    r = api.post("/v1/events/join", headers=who.headers, json={"join_code": event["join_code"]})
    assert r.status_code in (200, 201), r.text


def release_in(api: Client, host: Person, event: dict[str, Any], seconds: float) -> datetime:
    at = now() + timedelta(seconds=seconds)
    r = api.request(
        "PATCH", f"/v1/events/{event['id']}", headers=host.headers, json={"release_at": iso(at)}
    )
    assert r.status_code == 200, r.text
    return at


def start_upload(
    api: Client, who: Person, event_id: str, data: bytes, content_type: str
) -> dict[str, Any]:
    r = api.post(
        f"/v1/events/{event_id}/photos",
        headers=who.headers,
        json={
            "captured_at": iso(now() - timedelta(minutes=5)),
            "content_type": content_type,
            "byte_size": len(data),
        },
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def put_bytes(api: Client, upload: dict[str, Any], data: bytes) -> httpx.Response:
    """Step 2: the bytes straight to storage through the signed URL (S3 here: the proxy)."""
    return api.request(upload["method"], upload["url"], headers=upload["headers"], content=data)


def complete(api: Client, who: Person, photo_id: str) -> httpx.Response:
    return api.post(f"/v1/photos/{photo_id}/complete", headers=who.headers, timeout=120)


def upload(api: Client, who: Person, event_id: str, path: Path, content_type: str) -> str:
    data = path.read_bytes()
    created = start_upload(api, who, event_id, data, content_type)
    put = put_bytes(api, created["upload"], data)
    assert put.status_code in (200, 201, 204), put.text
    r = complete(api, who, created["photo"]["id"])
    assert r.status_code == 200, r.text
    assert r.json()["upload_status"] == "uploaded", r.text
    return str(created["photo"]["id"])


def feed(api: Client, who: Person, event_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
        r = api.get(f"/v1/events/{event_id}/photos", headers=who.headers, params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        items.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return items


def reveal_requests(stack: Stack, event_id: str) -> list[Any]:
    """What the fake APNs received of this event's reveal."""
    assert stack.apns is not None
    found = []
    for request in stack.apns.requests():
        with contextlib.suppress(ValueError, TypeError):
            data = request.json()
            if data.get("event_id") == event_id and data.get("type") == "reveal":
                found.append(request)
    return found


def psql(stack: Stack, sql: str) -> str:
    return stack.pg.psql(sql).strip()


def ledger(stack: Stack, event_id: str) -> dict[str, int]:
    rows = psql(
        stack,
        "SELECT status || '=' || count(*) FROM momento.push_deliveries"
        f" WHERE kind = 'reveal' AND event_id = '{event_id}' GROUP BY status",
    )
    counts: dict[str, int] = {}
    for line in rows.splitlines():
        status, _, n = line.strip().partition("=")
        if status:
            counts[status] = int(n)
    return counts


def assert_reveal_delivered(
    stack: Stack, event_id: str, devices: set[str], *, timeout: float, at_most: int = 1
) -> dict[str, list[Any]]:
    """Every device got the reveal (at most `at_most` times, the same apns-id each time) and
    the ledger says delivered for all of them."""

    def all_delivered() -> bool:
        return ledger(stack, event_id) == {"delivered": len(devices)}

    wait_until(all_delivered, timeout=timeout, what=f"reveal of {event_id} delivered")
    time.sleep(0.5)  # a duplicate would show up now
    per_device: dict[str, list[Any]] = {}
    for request in reveal_requests(stack, event_id):
        per_device.setdefault(request.device_token, []).append(request)
    assert set(per_device) == devices, "a device got no reveal notification"
    for device, requests in per_device.items():
        assert len(requests) <= at_most, f"{device[:8]}… got {len(requests)} reveal pushes"
        assert len({r.apns_id for r in requests}) == 1, "a resend carried another apns-id"
    return per_device


def s3_keys(stack: Stack, prefix: str) -> list[str]:
    return stack.moto.keys(stack.bucket, prefix)


# HEIC originals stay HEIC: Pillow reads them through pillow-heif's opener.
pillow_heif.register_heif_opener()


def exif_gps(data: bytes) -> bool:
    with Image.open(io.BytesIO(data)) as image:
        return bool(image.getexif().get_ifd(0x8825))


# --- the whole story ----------------------------------------------------------------------


def test_the_whole_story_over_http(deployed: Stack, api: Client, photos: Photos) -> None:
    """Sign-up, event, join, camera-sized uploads (JPEG with GPS, HEIC), the feed before and
    after release_at, the reveal push once per device across two workers, likes, premium by
    webhook, account deletion with its files gone."""
    host, alice, bob = (person(api, name) for name in ("host", "alice", "bob"))
    event = create_event(api, host, release_in=timedelta(minutes=10))
    event_id = event["id"]
    join(api, alice, event)
    join(api, bob, event)

    jpeg_id = upload(api, alice, event_id, photos.jpeg, "image/jpeg")
    heic_id = upload(api, bob, event_id, photos.heic, "image/heic")

    # Before the reveal: each member sees only their own photo, never the other's.
    assert [p["id"] for p in feed(api, alice, event_id)] == [jpeg_id]
    assert [p["id"] for p in feed(api, bob, event_id)] == [heic_id]
    assert feed(api, host, event_id) == []

    # The reveal: moved to a few seconds from now, sent by whichever worker takes the job.
    release_in(api, host, event, 2)
    devices = {host.device, alice.device, bob.device}
    assert_reveal_delivered(deployed, event_id, devices, timeout=30)

    # After: everyone sees both, with working signed URLs to S3.
    items = feed(api, host, event_id)
    assert {p["id"] for p in items} == {jpeg_id, heic_id}
    by_id = {p["id"]: p for p in items}
    thumb = api.get(by_id[jpeg_id]["urls"]["thumbnail"])
    assert thumb.status_code == 200
    assert thumb.headers["content-type"] == "image/jpeg"
    original = api.get(by_id[jpeg_id]["urls"]["original"])
    assert original.status_code == 200
    assert len(original.content) > 1_000_000, "the original is the camera-sized file"
    assert not exif_gps(original.content), "the GPS position left the server"
    heic_original = api.get(by_id[heic_id]["urls"]["original"])
    assert heic_original.status_code == 200
    # The iPhone's file is kept: still HEIC (metadata stripped without re-encoding).
    assert heic_original.headers["content-type"] == "image/heic"
    assert len(heic_original.content) > 500_000, "the original is the camera-sized file"
    assert not exif_gps(heic_original.content)

    # Likes, counted on the photo.
    for who in (host, bob):
        r = api.request("PUT", f"/v1/photos/{jpeg_id}/like", headers=who.headers)
        assert r.status_code in (200, 201, 204), r.text
    liked = {p["id"]: p for p in feed(api, alice, event_id)}
    assert liked[jpeg_id]["like_count"] == 2

    # Premium by webhook: the host subscribes; events created in its period become premium.
    assert deployed.revenuecat is not None
    ts = int(time.time() * 1000)
    body = {
        "api_version": "1.0",
        "event": {
            "id": secrets.token_hex(16).upper(),
            "type": "INITIAL_PURCHASE",
            "app_user_id": host.id,
            "original_app_user_id": host.id,
            "aliases": [host.id],
            "event_timestamp_ms": ts,
            "purchased_at_ms": ts - 3_600_000 * 2,
            "expiration_at_ms": ts + 30 * 24 * 3_600_000,
            "product_id": "host_monthly",
            "entitlement_ids": [HOST_ENTITLEMENT],
            "period_type": "NORMAL",
            "environment": "PRODUCTION",
            "store": "APP_STORE",
            "transaction_id": "deploy-tx-1",
            "original_transaction_id": "deploy-tx-1",
            "price": 9.99,
            "currency": "USD",
        },
    }
    auth = {"Authorization": deployed.app.env["REVENUECAT_WEBHOOK_AUTH"]}
    r = api.post("/webhooks/revenuecat", json=body, headers=auth)
    assert r.status_code == 200, r.text

    def premium() -> bool:
        answer = api.get(f"/v1/events/{event_id}", headers=host.headers)
        return answer.status_code == 200 and answer.json()["is_premium"] is True

    wait_until(premium, timeout=20, what="premium from the webhook")

    # Analytics reached PostHog (batched by the API processes and the workers).
    assert deployed.posthog is not None
    assert deployed.posthog.wait_for_events(1, timeout=15)

    # Account deletion: bob's photo and its files go (purged by a worker from S3).
    prefix = f"events/{event_id}/{heic_id}/"
    assert s3_keys(deployed, prefix), "the HEIC's files are in the bucket"
    r = api.request("DELETE", "/v1/me", headers=bob.headers)
    assert r.status_code == 204, r.text
    assert api.get("/v1/me", headers=bob.headers).status_code == 401
    wait_until(lambda: not s3_keys(deployed, prefix), timeout=30, what="bob's files purged")
    assert {p["id"] for p in feed(api, host, event_id)} == {jpeg_id}
    assert s3_keys(deployed, f"events/{event_id}/{jpeg_id}/"), "alice's files are kept"
    api.assert_no_500()


# --- kill -9 an API process mid-upload -------------------------------------------------------


def test_kill9_an_api_process_mid_upload(deployed: Stack, api: Client, photos: Photos) -> None:
    """Four uploads complete at once (each a 12 MP JPEG of image work) while one of the two
    API processes is killed: the dropped requests are retried by the client, every upload
    ends `uploaded`, and `serve --workers 2` starts another process by itself."""
    serve = deployed.serve_proc
    assert serve is not None
    host = person(api, "host")
    event = create_event(api, host, release_in=timedelta(hours=1))
    data = photos.jpeg.read_bytes()
    created = [start_upload(api, host, event["id"], data, "image/jpeg") for _ in range(4)]
    for item in created:
        assert put_bytes(api, item["upload"], data).status_code in (200, 201, 204)

    before = set(serve.children())
    assert len(before) == 2, f"serve --workers 2 runs {sorted(before)}"
    answers: dict[str, httpx.Response] = {}

    def finish(photo_id: str) -> None:
        answers[photo_id] = complete(api, host, photo_id)

    threads = [threading.Thread(target=finish, args=(item["photo"]["id"],)) for item in created]
    for thread in threads:
        thread.start()
    # Kill the process that is busiest with the image work, mid-request.
    victim = _busiest(sorted(before))
    os.kill(victim, signal.SIGKILL)
    for thread in threads:
        thread.join(120)

    for photo_id, answer in answers.items():
        assert answer.status_code == 200, f"{photo_id}: {answer.status_code} {answer.text}"
        assert answer.json()["upload_status"] == "uploaded"
    assert len(answers) == 4
    # The supervisor replaced the killed process.
    wait_until(
        lambda: victim not in serve.children() and len(serve.children()) == 2,
        timeout=10,
        what="serve replacing the killed API process",
    )
    assert serve.alive()
    assert len(feed(api, host, event["id"])) == 4
    assert api.retries >= 1, "no request was cut off by the kill: the test proved nothing"
    note(f"kill -9 API process: {api.retries} connection failures retried by the client")
    api.assert_no_500()


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _busiest(pids: list[int]) -> int:
    """The process using the most CPU over the next moments (waits until one is busy)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        start = {pid: _cpu_ticks(pid) for pid in pids}
        time.sleep(0.15)
        used = {pid: _cpu_ticks(pid) - ticks for pid, ticks in start.items()}
        pid, ticks = max(used.items(), key=lambda item: item[1])
        if ticks >= 5:  # 50 ms of CPU in 150 ms: decoding a photo
            return pid
    raise AssertionError("no API process got busy with the uploads")


# --- kill -9 a worker mid-reveal ------------------------------------------------------------


def test_kill9_a_worker_mid_reveal(deployed: Stack, api: Client) -> None:
    """APNs holds every answer for a while, so the whole reveal is in flight when the worker
    sending it is killed. The other worker runs the job again once the dead one's heartbeat
    is stale and the ledger's lease is over (both shortened for the test): every device gets
    the reveal, at most twice, with the same apns-id; the ledger ends all delivered."""
    assert deployed.apns is not None
    host = person(api, "host")
    members = [person(api, f"m{i}") for i in range(12)]
    event = create_event(api, host, release_in=timedelta(hours=1))
    for member in members:
        join(api, member, event)
    devices = {host.device, *(m.device for m in members)}

    deployed.apns.call(lambda: setattr(deployed.apns.fake, "delay", 4.0))  # type: ignore[union-attr]
    try:
        release_in(api, host, event, 1)
        wait_until(
            lambda: len(reveal_requests(deployed, event["id"])) == len(devices),
            timeout=20,
            what="the reveal in flight",
        )
        sender = _worker_sending(deployed, event["id"])
        os.kill(sender, signal.SIGKILL)
    finally:
        deployed.apns.call(lambda: setattr(deployed.apns.fake, "delay", 0.0))  # type: ignore[union-attr]
    assert ledger(deployed, event["id"]).get("sending") == len(devices)

    per_device = assert_reveal_delivered(deployed, event["id"], devices, timeout=40, at_most=2)
    resent = sum(1 for requests in per_device.values() if len(requests) == 2)
    note(f"kill -9 worker mid-reveal: {len(devices)} devices, {resent} sent again")
    survivors = [p for p in deployed.worker_procs if p.pid != sender]
    assert survivors
    assert all(p.alive() for p in survivors)
    api.assert_no_500()


def _worker_sending(stack: Stack, event_id: str) -> int:
    """The pid of the worker process that is sending this event's reveal (its log says so)."""
    for proc in stack.worker_procs:
        for line in proc.log_events() if proc.alive() else []:
            if line.get("event") == "reveal sending" and line.get("event_id") == event_id:
                return proc.pid
    raise AssertionError("no worker log shows the reveal being sent")


# --- APNs away at start and at the reveal ----------------------------------------------------


def test_apns_down_at_start_and_at_the_reveal(deployed: Stack, api: Client) -> None:
    """With APNs refusing connections, `momento serve` (restarted now, on uvloop) starts and
    is ready at once, /readyz tells the push channel is not connected, a reveal that falls
    due waits in the queue without claiming anything, and once APNs is back every device gets
    it exactly once, and the API processes' senders connect by themselves."""
    assert deployed.apns is not None
    assert deployed.serve_proc is not None
    deployed.apns.pause()
    try:
        started = time.monotonic()
        deployed.serve_proc = deployed.app.restart(deployed.serve_proc)
        took = time.monotonic() - started
        ready = api.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["push"] in ("connecting", "unavailable"), ready.text

        host = person(api, "host")
        members = [person(api, f"m{i}") for i in range(3)]
        event = create_event(api, host, release_in=timedelta(hours=1))
        for member in members:
            join(api, member, event)
        release_in(api, host, event, 1)
        time.sleep(5)  # due, tried by a worker, put back in the queue
        assert ledger(deployed, event["id"]) == {}, "claimed while APNs was away"
    finally:
        deployed.apns.resume()
    devices = {host.device, *(m.device for m in members)}
    assert_reveal_delivered(deployed, event["id"], devices, timeout=40)

    def connected() -> bool:
        return bool(api.get("/readyz").json().get("push") == "connected")

    wait_until(connected, timeout=70, what="the API's push sender connecting by itself")
    note(f"APNs down at start: serve ready in {took:.1f} s; the reveal waited, then went once")
    api.assert_no_500()


# --- PostgreSQL restarted under load ----------------------------------------------------------


@dataclass
class Load:
    """Members paging the feed and liking/unliking in threads; what they were told is kept."""

    api: Client
    people: list[Person]
    event_id: str
    photo_ids: list[str]
    stop: threading.Event = field(default_factory=threading.Event)
    answers: list[tuple[float, int, str]] = field(default_factory=list)
    liked: dict[tuple[str, str], bool] = field(default_factory=dict)  # acknowledged states
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, who: Person) -> None:
        i = 0
        while not self.stop.is_set():
            photo = self.photo_ids[i % len(self.photo_ids)]
            like = (i // len(self.photo_ids)) % 2 == 0
            method = "PUT" if like else "DELETE"
            r = self.api.request(method, f"/v1/photos/{photo}/like", headers=who.headers)
            self._note(r)
            if r.status_code in (200, 201, 204):
                with self.lock:
                    self.liked[(who.id, photo)] = like
            elif r.status_code == 404:
                # Before the reveal the other members cannot see the photo (RLS): no like.
                with self.lock:
                    self.liked[(who.id, photo)] = False
            r = self.api.get(f"/v1/events/{self.event_id}/photos", headers=who.headers)
            self._note(r)
            i += 1
            time.sleep(0.02)

    def _note(self, r: httpx.Response) -> None:
        code = ""
        if r.status_code >= 400 and r.headers.get("content-type", "").endswith("json"):
            with contextlib.suppress(ValueError):
                code = str(r.json().get("code", ""))
        if r.status_code == 503:
            assert int(r.headers["retry-after"]) >= 1, "a 503 without Retry-After"
        with self.lock:
            self.answers.append((time.monotonic(), r.status_code, code))

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        threads = [threading.Thread(target=self.run, args=(p,)) for p in self.people]
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            self.stop.set()
            for thread in threads:
                thread.join(60)


def test_postgres_restart_while_requests_and_the_reveal_run(
    deployed: Stack, api: Client, photos: Photos
) -> None:
    """PostgreSQL stopped for 3 s while members page and like and the reveal is due: answers
    are 2xx or 503 database_unavailable with Retry-After, the service is back within 10 s of
    the database, no acknowledged like is lost, the reveal reaches every device, and the
    same worker processes go on (their listeners reconnect)."""
    host = person(api, "host")
    members = [person(api, f"m{i}") for i in range(4)]
    event = create_event(api, host, release_in=timedelta(hours=1))
    for member in members:
        join(api, member, event)
    photo_ids = [upload(api, members[0], event["id"], photos.jpeg, "image/jpeg")]
    devices = {host.device, *(m.device for m in members)}
    workers = [p.pid for p in deployed.worker_procs]

    load = Load(api, members, event["id"], photo_ids)
    with load.running():
        time.sleep(1.0)
        release_in(api, host, event, 2)
        time.sleep(1.5)
        restart_started = time.monotonic()
        # A restart with some downtime (a minor upgrade, a failover): down for 3 s.
        deployed.pg.stop("fast")
        time.sleep(3)
        deployed.pg.start()
        back = time.monotonic()
        # The service answers again within 10 s of the database being back.
        wait_until(
            lambda: api.get("/v1/events", headers=host.headers).status_code == 200,
            timeout=10,
            what="the API answering after the restart",
        )
        recovered = time.monotonic() - back
        # The load goes on past the 10 s the service has to recover in.
        time.sleep(max(0.0, back + 11.0 - time.monotonic()))

    statuses = {status for _, status, _ in load.answers}
    assert statuses <= {200, 201, 204, 404, 503}, f"answers: {sorted(statuses)}"
    not_found = {code for _, status, code in load.answers if status == 404}
    assert not_found <= {"photo_not_found"}, not_found
    unavailable = [a for a in load.answers if a[1] == 503]
    assert all(code == "database_unavailable" for _, _, code in unavailable), unavailable[:5]
    after = [a for a in load.answers if a[0] > back + 10.0]
    assert after, "no load after the recovery"
    late = [round(a[0] - back, 1) for a in after if a[1] == 503]
    assert not late, f"503s more than 10 s after the database was back (at +{late} s)"
    last_503 = max((a[0] - back for a in unavailable), default=0.0)
    note(
        f"restart took {back - restart_started:.1f} s; {len(load.answers)} answers,"
        f" {len(unavailable)} were 503 (the last {last_503:+.1f} s from the database's"
        f" return); a request answered 200 {recovered:.1f} s after it;"
        f" {api.retries} connection failures retried"
    )

    # Nothing acknowledged was lost: each like the API confirmed is in the table, each unlike
    # it confirmed is not.
    stored = set(
        psql(
            deployed,
            "SELECT user_id || ':' || photo_id FROM public.photo_likes"
            f" WHERE photo_id = '{photo_ids[0]}'",
        ).split()
    )
    for (user_id, photo_id), liked in load.liked.items():
        assert (f"{user_id}:{photo_id}" in stored) == liked, (user_id, liked)

    assert_reveal_delivered(deployed, event["id"], devices, timeout=40, at_most=2)
    # The same worker processes, still working (their listeners reconnected).
    assert [p.pid for p in deployed.worker_procs] == workers
    assert all(p.alive() for p in deployed.worker_procs)
    api.assert_no_500()


# --- S3 cut off ---------------------------------------------------------------------------


def test_s3_cut_off_during_uploads_and_purges(deployed: Stack, api: Client, photos: Photos) -> None:
    """The proxy in front of moto refuses every connection: an upload's completion answers
    503 storage_unavailable with Retry-After (its photo stays pending), reads of the feed
    still work (URLs are signed locally), a deleted photo's purge waits; once S3 is back
    the same upload completes and the purge finishes by itself."""
    assert deployed.s3_proxy is not None
    host = person(api, "host")
    event = create_event(api, host, release_in=timedelta(hours=1))
    kept = upload(api, host, event["id"], photos.jpeg, "image/jpeg")
    doomed = upload(api, host, event["id"], photos.jpeg, "image/jpeg")
    data = photos.jpeg.read_bytes()
    pending = start_upload(api, host, event["id"], data, "image/jpeg")
    kept_files = {
        key: deployed.moto.get(deployed.bucket, key)
        for key in s3_keys(deployed, f"events/{event['id']}/{kept}/")
    }
    assert kept_files

    deployed.s3_proxy.cut()
    try:
        with pytest.raises(httpx.TransportError):
            put_bytes(api, pending["upload"], data).raise_for_status()
        started = time.monotonic()
        r = complete(api, host, pending["photo"]["id"])
        took = time.monotonic() - started
        assert r.status_code == 503, r.text
        assert r.json()["code"] == "storage_unavailable"
        assert int(r.headers["retry-after"]) >= 1
        assert took < 20, f"the 503 took {took:.1f} s"
        assert {p["id"] for p in feed(api, host, event["id"])} >= {kept, doomed}
        r = api.request("DELETE", f"/v1/photos/{doomed}", headers=host.headers)
        assert r.status_code == 204, r.text
        time.sleep(3)  # the purge job runs now, and fails
        assert s3_keys(deployed, f"events/{event['id']}/{doomed}/"), "purged without S3?"
        waiting = psql(deployed, "SELECT count(*) FROM momento.file_purges")
        assert int(waiting) >= 1, "the purge record went before its files"
    finally:
        deployed.s3_proxy.restore()

    # The same upload goes through now, and completes.
    assert put_bytes(api, pending["upload"], data).status_code in (200, 201, 204)
    r = complete(api, host, pending["photo"]["id"])
    assert r.status_code == 200, r.text
    # The purge resumes on its own (the job's retry) and the kept photo is untouched.
    wait_until(
        lambda: not s3_keys(deployed, f"events/{event['id']}/{doomed}/"),
        timeout=60,
        what="the purge resuming after S3 came back",
    )
    for key, content in kept_files.items():
        assert deployed.moto.get(deployed.bucket, key) == content
    api.assert_no_500()


# --- a full disk --------------------------------------------------------------------------


@contextlib.contextmanager
def tmpfs(size: str) -> Iterator[Path]:
    """A small tmpfs; the test fails (never skips) where it cannot be mounted."""
    folder = make_temp_dir("momento-deploy-disk-")
    done = subprocess.run(  # noqa: S603
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"cannot mount a tmpfs (root is needed): {done.stderr}"
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)  # noqa: S603, S607
        with contextlib.suppress(OSError):
            folder.rmdir()


def _files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


def test_a_full_disk_refuses_uploads_with_507_and_keeps_what_is_stored(
    deployed: Stack, photos: Photos
) -> None:
    """`momento serve` on local storage mounted on a 24 MB tmpfs (its own database on the
    same server): the disk filled up, an upload is refused with 507 insufficient_storage,
    what was stored is intact, and once space is back the same upload works."""
    database = "momento_disk"
    pg = deployed.pg
    if database not in psql(deployed, "SELECT datname FROM pg_database"):
        pg.psql(f"CREATE DATABASE {database} OWNER {pg.user}")
    url = pg.url.rsplit("/", 1)[0] + f"/{database}"
    with tmpfs("24m") as disk:
        files = disk / "files"
        port = free_port()
        env = momento_env(
            make_temp_dir("momento-deploy-disk-data-"),
            database_url=url,
            public_url=f"http://127.0.0.1:{port}",
            smtp_url=deployed.app.env["SMTP_URL"],
            storage_url=f"file://{files}",
            environment="production",
            extra={"MOMENTO_INPROCESS_WORKER": "true"},
        )
        app = Momento(env, deployed.folder / "disk", port=port)
        app.run("db", "migrate")
        serve = app.serve(1)
        api = Client(app.base_url)
        try:
            host = person(api, "host")
            event = create_event(api, host, release_in=timedelta(hours=1))
            first = upload(api, host, event["id"], photos.jpeg, "image/jpeg")
            stored = _files(files)
            assert any(first in name for name in stored)

            free = os.statvfs(disk)
            filler = disk / "filler"
            filler.write_bytes(b"\0" * (free.f_bavail * free.f_frsize - 512 * 1024))

            data = photos.jpeg.read_bytes()
            pending = start_upload(api, host, event["id"], data, "image/jpeg")
            r = put_bytes(api, pending["upload"], data)
            assert r.status_code == 507, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["code"] == "insufficient_storage"
            assert int(r.headers["retry-after"]) >= 1
            assert _files(files) == stored, "a stored file changed, or a partial one stayed"

            filler.unlink()
            r = put_bytes(api, pending["upload"], data)
            assert r.status_code in (200, 201, 204), r.text
            r = complete(api, host, pending["photo"]["id"])
            assert r.status_code == 200, r.text
            assert {p["id"] for p in feed(api, host, event["id"])} == {
                first,
                pending["photo"]["id"],
            }
            api.assert_no_500()
        finally:
            api.close()
            serve.terminate()
