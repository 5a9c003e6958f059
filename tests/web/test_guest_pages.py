"""The guest pages in a real browser (headless Chromium, tests/browser.py), against the app
served by uvicorn with photos on the local disk: a guest opens the join link, signs in
anonymously, uploads two photos (a JPEG and a HEIC) with the upload button, sees only their
own before the reveal and everyone's after it, likes one, finds it under "photos I liked",
downloads the ZIP and opens it; the slideshow shows the countdown and the waiting count, then
starts by itself at release_at, and goes on through a network drop; a guest's upload goes
straight to S3. With MOMENTO_SCREENSHOTS=1 the README's screenshots are written to
docs/screenshots/ (otherwise they are taken and dropped, so a test run changes no file).
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import os
import socket
import zipfile
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from PIL import Image, ImageDraw
from playwright.async_api import Browser, Page, ViewportSize, expect

from momento.app import create_app
from momento.db.listener import listening
from momento.photos.service import DISPLAY, ORIGINAL, THUMB, key
from momento.realtime.hub import Hub
from momento.services import Services, process_listener
from momento.storage import FileUrlSigner, LocalDiskStorage, Storage
from momento.storage.deletions import DenyList
from tests.conftest import with_settings
from tests.factories import add_photos, create_user, make_event, reveal, scalar, sql
from tests.photos.images import heic
from tests.storage.helpers import SECRET, make_bucket, s3_storage

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE: ViewportSize = {"width": 390, "height": 844}
TV: ViewportSize = {"width": 1280, "height": 720}


@dataclasses.dataclass
class Live:
    origin: str
    services: Services
    client: httpx.AsyncClient


@asynccontextmanager
async def live_app(
    services: Services, folder: Path, s3: Callable[[str], Storage] | None = None
) -> AsyncIterator[Live]:
    """The app under uvicorn on 127.0.0.1 with photos in `folder`, its signed file URLs
    pointing at itself (the browser fetches and PUTs them); or with photos in the S3 storage
    `s3(origin)` makes."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    origin = f"http://127.0.0.1:{sock.getsockname()[1]}"
    storage: Storage
    if s3 is not None:
        storage = s3(origin)
    else:
        storage = LocalDiskStorage(
            folder / "files", FileUrlSigner(SECRET, origin), default_ttl=3600
        )
    await storage.open()
    # An API process of its own, as `momento serve` starts one: its realtime hub on its LISTEN
    # connection (the pages follow the event through the stream).
    svc = dataclasses.replace(
        with_settings(services, public_url=origin),
        storage=storage,
        realtime=Hub(),
        deleted_files=DenyList(services.settings.signed_url_ttl),
    )
    listener = process_listener(svc)
    stack = AsyncExitStack()
    await stack.enter_async_context(listening(listener))
    await asyncio.wait_for(listener.listening.wait(), 10)
    svc.realtime.start()
    config = uvicorn.Config(
        create_app(svc, manage_pool=False),
        log_config=None,
        lifespan="off",
        ws="none",
        access_log=False,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        assert server.started
        async with httpx.AsyncClient(base_url=origin) as client:
            yield Live(origin, svc, client)
    finally:
        server.should_exit = True
        await task
        sock.close()
        await svc.realtime.stop()
        await stack.aclose()
        await storage.close()


def picture(seed: int, size: tuple[int, int] = (1200, 900)) -> Image.Image:
    """A colourful test picture (so the screenshots show something)."""
    hues = [(255, 176, 32), (80, 160, 255), (250, 90, 120), (80, 200, 140), (170, 110, 240)]
    a, b = hues[seed % len(hues)], hues[(seed + 2) % len(hues)]
    image = Image.new("RGB", size, a)
    draw = ImageDraw.Draw(image)
    w, h = size
    for i in range(0, w + h, 60):
        draw.line([(i, 0), (i - h, h)], fill=b, width=24)
    draw.ellipse([w // 3, h // 4, 2 * w // 3, 3 * h // 4], fill=(255, 255, 255))
    return image


def jpeg(image: Image.Image, scale: float = 1.0) -> bytes:
    out = io.BytesIO()
    if scale != 1.0:
        image = image.resize((int(image.width * scale), int(image.height * scale)))
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


async def photos_by(live: Live, event: Any, owner: Any, n: int, seed: int) -> list[Any]:
    """Uploaded photos straight into the database and the storage (not the guest's)."""
    now = datetime.now(UTC)
    ids = await add_photos(live.services, event, owner, [now - timedelta(minutes=30)] * n)
    for i, photo_id in enumerate(ids):
        path = f"events/{event}/{photo_id}"
        image = picture(seed + i)
        await live.services.storage.put(key(path, ORIGINAL), jpeg(image), "image/jpeg")
        await live.services.storage.put(key(path, DISPLAY), jpeg(image), "image/jpeg")
        await live.services.storage.put(key(path, THUMB), jpeg(image, 0.3), "image/jpeg")
        await sql(
            live.services,
            "UPDATE public.photo_media SET content_type = 'image/jpeg' WHERE photo_id = %s",
            photo_id,
        )
    return ids


async def phone(browser: Browser) -> Page:
    context = await browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    return await context.new_page()


async def shot(page: Page, name: str) -> None:
    await page.wait_for_timeout(400)  # the images' fade-in
    if os.environ.get("MOMENTO_SCREENSHOTS"):
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / f"{name}.png"))
    else:
        await page.screenshot()


async def test_a_guest_joins_uploads_sees_the_reveal_likes_and_downloads(
    services: Services, browser: Browser, tmp_path: Path
) -> None:
    async with live_app(services, tmp_path) as live:
        host = await create_user(live.services, "hannah")
        event = await make_event(
            live.services, host, name="Hannah & Sam's wedding", release_in=timedelta(hours=5)
        )
        await photos_by(live, event, host, 3, seed=0)
        code = await scalar(
            live.services, "SELECT join_code FROM public.events WHERE id = %s", event
        )

        page = await phone(browser)
        response = await page.goto(f"{live.origin}/j/{code}")
        assert response is not None
        assert response.headers["referrer-policy"] == "no-referrer"
        await expect(page.locator("#join")).to_be_visible()
        await page.fill("#display-name", "Gus")
        await shot(page, "join")
        await page.click("#join-button")
        await expect(page.locator("#event-name")).to_have_text("Hannah & Sam's wedding")
        await expect(page.locator("#countdown")).to_contain_text(":")
        # The session is in localStorage, and no cookie was set.
        stored = await page.evaluate("localStorage.getItem('momento.session')")
        assert '"access_token"' in stored
        assert await page.context.cookies() == []

        # Two files at once through the upload button: a JPEG and a HEIC.
        one = tmp_path / "beach.jpg"
        one.write_bytes(jpeg(picture(7)))
        two = tmp_path / "cake.heic"
        two.write_bytes(heic(picture(8, (800, 600))))
        await page.set_input_files("#files", [str(one), str(two)])
        await expect(page.locator(".upload-row.done")).to_have_count(2, timeout=30_000)
        # Before the reveal: only my two photos, and the totals count everyone's.
        await expect(page.locator("#grid .tile")).to_have_count(2)
        await expect(page.locator("#event-totals")).to_contain_text("5 photos")
        await expect(page.locator("#tabs")).to_be_hidden()
        await expect(page.locator("#grid img.loaded")).to_have_count(2)
        await shot(page, "event-before-reveal")

        guest_id = await scalar(
            live.services,
            "SELECT user_id FROM public.photos WHERE event_id = %s AND user_id <> %s LIMIT 1",
            event,
            host.id,
        )
        assert await scalar(
            live.services, "SELECT is_anonymous FROM auth.users WHERE id = %s", guest_id
        )

        # The reveal: everyone's photos, without a reload, told by the realtime stream well
        # before the page's next look of its own (a minute while the stream is open).
        await reveal(live.services, event)
        await expect(page.locator("#grid .tile")).to_have_count(5, timeout=5_000)
        await expect(page.locator("#tabs")).to_be_visible()
        await expect(page.locator("#grid img.loaded")).to_have_count(5)
        await shot(page, "gallery")

        # Like one of the host's photos.
        await page.locator("#grid .tile").first.click()
        await expect(page.locator("#viewer")).to_be_visible()
        await page.click("#viewer-like")
        await expect(page.locator("#viewer-like")).to_have_attribute("aria-pressed", "true")
        await page.click("#viewer-close")
        likes = await scalar(
            live.services, "SELECT count(*) FROM public.photo_likes WHERE user_id = %s", guest_id
        )
        assert likes == 1
        await page.click("#tabs [data-tab=liked]")
        await expect(page.locator("#grid-title")).to_have_text("Photos I liked")
        await expect(page.locator("#grid .tile")).to_have_count(1)

        # The ZIP, through a single-use link.
        async with page.expect_download() as info:
            await page.click("#zip")
        download = await info.value
        data = await asyncio.to_thread(Path(await download.path()).read_bytes)
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = z.namelist()
            assert len(names) == 5
            assert sum(n.endswith(".heic") for n in names) == 1
            assert sum(n.startswith("hannah-") for n in names) == 3
            assert z.testzip() is None

        # The guest keeps their photos: an email and a password make an account of the same
        # user (email confirmation is off here: at once), the page says so, photos stay theirs.
        await page.click("#keep summary")
        await page.fill("#keep-email", "gus@example.com")
        await page.fill("#keep-password", "a long enough secret")
        await page.click("#keep-form button")
        await expect(page.locator("#keep-result")).to_contain_text("gus@example.com")
        row = await sql(
            live.services,
            "SELECT email, is_anonymous FROM auth.users WHERE id = %s",
            guest_id,
        )
        assert row == [{"email": "gus@example.com", "is_anonymous": False}]
        owned = "SELECT count(*) FROM public.photos WHERE user_id = %s AND event_id = %s"
        assert await scalar(live.services, owned, guest_id, event) == 2
        await page.context.close()


async def test_the_slideshow_waits_then_starts_at_release(
    services: Services, browser: Browser, tmp_path: Path
) -> None:
    async with live_app(services, tmp_path) as live:
        host = await create_user(live.services, "hannah")
        event = await make_event(
            live.services, host, name="Hannah & Sam's wedding", release_in=timedelta(seconds=8)
        )
        await photos_by(live, event, host, 4, seed=1)
        code = await scalar(
            live.services, "SELECT join_code FROM public.events WHERE id = %s", event
        )

        context = await browser.new_context(viewport=TV)
        page = await context.new_page()
        await page.goto(f"{live.origin}/j/{code}/show?every=1500&poll=1000")
        await page.fill("#display-name", "Living room TV")
        await page.click("#guest-form button")
        await expect(page.locator("#waiting")).to_be_visible()
        await expect(page.locator("#waiting-count")).to_have_text("4 photos are waiting")
        await expect(page.locator("#countdown")).to_contain_text("00:00:0")
        # Never a photo before the reveal.
        await expect(page.locator("#slide")).to_be_hidden()
        assert await page.get_attribute("#slide-img", "src") is None
        await shot(page, "slideshow-countdown")

        # At release_at it starts by itself, and moves on.
        first = page.locator("#slide-img[data-photo-id]")
        await expect(first).to_be_visible(timeout=20_000)
        await expect(page.locator("#waiting")).to_be_hidden()
        img = page.locator("#slide-img")
        shown = await img.get_attribute("data-photo-id")
        assert shown is not None
        await expect(img).not_to_have_attribute("data-photo-id", shown, timeout=10_000)
        await shot(page, "slideshow")
        # Keyboard: pause, then next by hand.
        await page.keyboard.press(" ")
        before = await img.get_attribute("data-photo-id")
        assert before is not None
        await page.keyboard.press("ArrowRight")
        await expect(img).not_to_have_attribute("data-photo-id", before)
        await page.keyboard.press(" ")

        # A network drop: the show says so and goes on; back online, new photos join.
        await context.set_offline(True)
        await expect(page.locator("#offline")).to_be_visible(timeout=10_000)
        await expect(img).to_be_visible()
        await photos_by(live, event, host, 1, seed=9)
        await context.set_offline(False)
        await expect(page.locator("#offline")).to_be_hidden(timeout=30_000)
        await expect(page.locator("body")).to_have_attribute("data-photos", "5", timeout=10_000)
        await context.close()


async def test_a_guest_uploads_from_the_browser_to_s3(
    services: Services, browser: Browser, tmp_path: Path, moto_endpoint: str, s3_admin: Any
) -> None:
    """The browser PUTs straight to the bucket's presigned URL (another origin): it works with
    the CORS rule the README gives."""
    bucket = make_bucket(s3_admin)

    def storage(origin: str) -> Storage:
        s3_admin.put_bucket_cors(
            Bucket=bucket,
            CORSConfiguration={
                "CORSRules": [
                    {
                        "AllowedOrigins": [origin],
                        "AllowedMethods": ["PUT", "GET", "HEAD"],
                        "AllowedHeaders": ["content-type"],
                        "ExposeHeaders": ["ETag"],
                        "MaxAgeSeconds": 3600,
                    }
                ]
            },
        )
        return s3_storage(moto_endpoint, bucket)

    async with live_app(services, tmp_path, s3=storage) as live:
        host = await create_user(live.services)
        event = await make_event(live.services, host, name="On S3")
        code = await scalar(
            live.services, "SELECT join_code FROM public.events WHERE id = %s", event
        )
        page = await phone(browser)
        await page.goto(f"{live.origin}/j/{code}")
        await page.fill("#display-name", "Sam")
        await page.click("#join-button")
        await expect(page.locator("#event-name")).to_have_text("On S3")
        photo = tmp_path / "s3.jpg"
        photo.write_bytes(jpeg(picture(3)))
        await page.set_input_files("#files", [str(photo)])
        await expect(page.locator(".upload-row.done")).to_have_count(1, timeout=30_000)
        # The thumbnail loads from S3 too.
        await expect(page.locator("#grid img.loaded")).to_have_count(1)
        objects = s3_admin.list_objects_v2(Bucket=bucket)["Contents"]
        assert any(o["Key"].endswith("/original") for o in objects)
        await page.context.close()
