"""A real browser for tests: headless Chromium from Debian's `chromium` package, driven by
Playwright (its Python package only: no browser download). Generic, for any test that needs
a page: `async with browser_page() as page: ...`.

The first use installs the package when missing (`apt-get install chromium`; tests run as
root in the development container)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from playwright.async_api import Page, async_playwright

CHROMIUM = os.environ.get("MOMENTO_TEST_CHROMIUM", "/usr/bin/chromium")


def chromium() -> str:
    """The Chromium executable, installed from Debian's package if missing."""
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        apt = shutil.which("apt-get") or "/usr/bin/apt-get"
        subprocess.run([apt, "update", "-qq"], check=True, env=env)  # noqa: S603
        subprocess.run([apt, "install", "-y", "-qq", "chromium"], check=True, env=env)  # noqa: S603
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    assert path, "chromium is not installed"
    return path


@asynccontextmanager
async def browser_page() -> AsyncIterator[Page]:
    """A fresh page in a headless Chromium, closed afterwards."""
    executable = chromium()
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=executable,
            headless=True,
            # In a container as root: no user namespaces for Chromium's sandbox.
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        )
        try:
            page = await browser.new_page()
            yield page
        finally:
            await browser.close()
