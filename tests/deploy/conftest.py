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
    NOTES,
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

# Settings of the deployment under test beyond the production-like defaults of Stack.
STACK_ENV = {
    # A dead worker is noticed, and the notification it held is sent again, within seconds
    # instead of minutes (defaults: heartbeat 10 s, stalled after 30 s, lease 300 s).
    "MOMENTO_WORKER_HEARTBEAT_INTERVAL": "1",
    "MOMENTO_WORKER_STALLED_AFTER": "5",
    "MOMENTO_PUSH_SENDING_LEASE": "10",
    # Every test user signs up and signs in from 127.0.0.1: the per-address limits (made for
    # one person's phone) would answer 429 after a few tests.
    "MOMENTO_RATE_LIMIT_SIGNUP_PER_IP": "100000",
    "MOMENTO_RATE_LIMIT_LOGIN_PER_IP": "100000",
    "MOMENTO_RATE_LIMIT_JOIN_PER_IP": "100000",
    "MOMENTO_RATE_LIMIT_RECOVER_PER_IP": "100000",
    # The host subscription the tests buy through the RevenueCat webhook.
    "MOMENTO_HOST_ENTITLEMENT_ID": "host_pro",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "deploy: runs the shipped commands as processes (tests/deploy)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    slots = [i for i, item in enumerate(items) if _HERE in Path(str(item.path)).parents]
    for i in slots:
        items[i].add_marker(pytest.mark.deploy)
    # The harness's own tests first: when a piece of it is broken, that is the failure shown,
    # not its consequences in every deployment test (and they see an unused stack).
    ordered = sorted((items[i] for i in slots), key=lambda it: it.path.name != "test_harness.py")
    for i, item in zip(slots, ordered, strict=True):
        items[i] = item


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        terminalreporter.section("deployment setup times")
        for name, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{name:<52} {seconds:6.2f} s")
    if NOTES:
        terminalreporter.section("deployment faults: what was measured")
        for line in NOTES:
            terminalreporter.write_line(line)


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
    with Stack(extra_env=STACK_ENV) as running:
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
