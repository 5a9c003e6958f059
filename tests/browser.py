"""A headless Chromium for the tests that need a real browser (the guest pages, the realtime
stream's EventSource).

Debian's `chromium` package, driven by Playwright's Python client pointed at it: no browser is
downloaded by Playwright. When Chromium is missing it is installed with apt-get (the test
machines run as root); when that fails the tests fail saying so, never skip: a skipped browser
test would hide the check in CI.

    async def test_x(browser: Browser) -> None:      # the session's browser (a conftest
        context = await browser.new_context()         # imports `browser` from here)
        page = await context.new_page()

    async with browser_page() as page: ...            # a browser of its own, closed after
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from playwright.async_api import Browser, Page, async_playwright

CHROMIUM_PATHS = (
    os.environ.get("MOMENTO_TEST_CHROMIUM", "/usr/bin/chromium"),
    "/usr/bin/chromium-browser",
)
# Containers: no user namespaces for Chromium's sandbox, a small /dev/shm.
LAUNCH_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]


def chromium_path() -> str:
    """Debian's Chromium, installed now with apt-get if missing."""
    for path in CHROMIUM_PATHS:
        if os.access(path, os.X_OK):
            return path
    apt = shutil.which("apt-get") or "/usr/bin/apt-get"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [apt, "install", "-y", "-qq", "--no-install-recommends", "chromium"]
    if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:  # noqa: S603
        subprocess.run([apt, "update", "-qq"], env=env, capture_output=True, check=False)  # noqa: S603
        subprocess.run(install, env=env, capture_output=True, check=False)  # noqa: S603
    found = next((p for p in CHROMIUM_PATHS if os.access(p, os.X_OK)), None)
    assert found, "Chromium is not installed and apt-get could not install it"
    return found


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium for the session (each test takes a fresh context)."""
    path = chromium_path()
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=path, headless=True, args=LAUNCH_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@asynccontextmanager
async def browser_page() -> AsyncIterator[Page]:
    """A fresh page in a headless Chromium of its own, closed afterwards."""
    path = chromium_path()
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=path, headless=True, args=LAUNCH_ARGS)
        try:
            yield await chromium.new_page()
        finally:
            await chromium.close()
