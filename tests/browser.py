"""A headless Chromium for the tests that need a real browser (the guest pages).

Debian's `chromium` package, driven by Playwright's Python client pointed at it: no browser
is downloaded by Playwright. When Chromium is missing it is installed with apt-get (the test
machines run as root); where that cannot happen the tests that need it are skipped with the
reason.

    async def test_x(browser: Browser) -> None:
        context = await browser.new_context()    # fresh: no storage shared between tests
        page = await context.new_page()

Use it from a conftest: `from tests.browser import browser`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright

CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


def chromium_path() -> str | None:
    """Debian's Chromium, installed now with apt-get if missing and possible."""
    for path in CHROMIUM_PATHS:
        if os.access(path, os.X_OK):
            return path
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [apt, "install", "-y", "--no-install-recommends", "chromium"]
    if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:  # noqa: S603
        subprocess.run([apt, "update"], env=env, capture_output=True, check=False)  # noqa: S603
        subprocess.run(install, env=env, capture_output=True, check=False)  # noqa: S603
    return next((p for p in CHROMIUM_PATHS if os.access(p, os.X_OK)), None)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium for the session (each test takes a fresh context)."""
    path = chromium_path()
    if path is None:
        pytest.skip("Chromium is not installed and cannot be (apt-get install chromium)")
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(
            executable_path=path,
            headless=True,
            # Containers: no user namespaces for the sandbox, a small /dev/shm.
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        )
        try:
            yield chromium
        finally:
            await chromium.close()
