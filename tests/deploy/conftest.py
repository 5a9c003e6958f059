"""Session fixtures of the deployment tests: one Stack (PostgreSQL, moto behind a proxy, the
fakes, `momento serve --workers 2` and two `momento worker`) for the whole run, healed before
each test that asks for it, and the camera-sized photos made once.

Every test under tests/deploy gets the `deploy` mark (`pytest -m deploy`, or `-m "not
deploy"` to skip them); `pytest tests/deploy` selects them by path. The setup time of each
piece is printed at the end of the run.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from tests.deploy.harness import (
    TIMINGS,
    Client,
    Photos,
    Stack,
    make_photos,
    make_temp_dir,
    remove_temp_dir,
    timed,
)

_HERE = Path(__file__).parent
_STACKS: list[Stack] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "deploy: runs the shipped commands as processes (tests/deploy)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.deploy)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TIMINGS:
        return
    terminalreporter.section("deployment setup times")
    for name, seconds in TIMINGS.items():
        terminalreporter.write_line(f"{name:<52} {seconds:6.2f} s")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    # A failing test shows the end of each served process's log next to its traceback.
    if report.failed and _STACKS:
        for stack in _STACKS:
            for proc in stack.app.procs if stack.momento is not None else []:
                tail = "\n".join(proc.log_text().splitlines()[-25:])
                report.sections.append((f"log {proc.log_path.name} (pid {proc.pid})", tail))
    return report


@pytest.fixture(scope="package")
def stack() -> Iterator[Stack]:
    """The running deployment; a test that breaks it should ask for `deployed` instead."""
    with Stack() as running:
        _STACKS.append(running)
        try:
            yield running
        finally:
            _STACKS.remove(running)


@pytest.fixture
def deployed(stack: Stack) -> Stack:
    """The deployment, healed first (proxy restored, database up, dead processes restarted)."""
    with timed("heal before tests"):
        stack.heal()
    return stack


@pytest.fixture
def api(deployed: Stack) -> Iterator[Client]:
    """A retrying client of the served API (connection errors retried and counted)."""
    client = deployed.client()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="package")
def photos() -> Iterator[Photos]:
    """A 12 MP camera JPEG (~4 MB) and HEIC (~5 MB), both with EXIF and GPS."""
    folder = make_temp_dir("momento-deploy-photos-")
    try:
        with timed("photos: 12 MP JPEG + HEIC"):
            made = make_photos(folder)
        yield made
    finally:
        remove_temp_dir(folder)
