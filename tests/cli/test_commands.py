"""The `momento` command as an operator meets it: run from the wrong folder, pointed at a
database that is down or a URL that is mistyped, or at a port already taken, each command
says what is wrong in one line (no traceback, no password) and leaves nothing behind."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from momento.cli import redact
from tests.cli.helpers import MOMENTO, clean_env, free_port

PASSWORD = "s3cr3t-Pa55"

# Commands that only read or run an existing database.
USERS = [
    ["jobs"],
    ["cleanup", "--dry-run"],
    ["moderation", "list"],
    ["moderation", "restore", "00000000-0000-0000-0000-000000000000"],
    ["db", "status"],
    ["worker"],
]


def momento(
    *args: str, cwd: Path, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [MOMENTO, *args],
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def output_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]


def assert_one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = output_lines(result)
    assert result.returncode == 1, (result.returncode, lines)
    assert "Traceback" not in result.stderr, result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert len(lines) == 1, lines
    assert lines[0].startswith("Error: "), lines
    return lines[0]


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


@pytest.mark.parametrize("command", USERS, ids=" ".join)
def test_command_run_from_a_folder_without_database_refuses_and_creates_nothing(
    command: list[str], cwd: Path
) -> None:
    line = assert_one_line_error(momento(*command, cwd=cwd))
    assert str(cwd / ".momento") in line
    assert "MOMENTO_DATA_DIR" in line
    assert "DATABASE_URL" in line
    assert list(cwd.iterdir()) == []


def test_the_data_dir_looked_in_is_the_configured_one(cwd: Path, tmp_path: Path) -> None:
    empty = tmp_path / "no-data-here"
    empty.mkdir()
    line = assert_one_line_error(momento("jobs", cwd=cwd, MOMENTO_DATA_DIR=str(empty)))
    assert f"no Momento database in {empty}:" in line
    assert list(cwd.iterdir()) == []
    assert list(empty.iterdir()) == []


def closed_port_url() -> str:
    return f"postgresql://momento:{PASSWORD}@127.0.0.1:{free_port()}/momento"


DATABASE_COMMANDS = [
    ["serve", "--port", "0"],  # the port is replaced per test
    ["db", "migrate"],
    ["db", "status"],
    ["worker"],
    ["jobs"],
]


def with_free_port(command: list[str]) -> list[str]:
    return [str(free_port()) if arg == "0" else arg for arg in command]


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=" ".join)
def test_unreachable_database_is_one_line_without_password(command: list[str], cwd: Path) -> None:
    url = closed_port_url()
    line = assert_one_line_error(momento(*with_free_port(command), cwd=cwd, DATABASE_URL=url))
    assert "cannot use the database postgresql://momento:***@127.0.0.1:" in line
    assert "Connection refused" in line
    assert "Momento API" not in line
    assert list(cwd.iterdir()) == []


@pytest.mark.parametrize(
    "url",
    [
        # Refused by the settings' URL check.
        f"postgresql://u:{PASSWORD}@[bad",
        # Accepted as a URL, refused by libpq's parser.
        f"postgresql://u:{PASSWORD}@db.invalid/momento?no_such_option=1",
        f"postgresql://u:{PASSWORD}@db.invalid:notaport/momento",
    ],
)
@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=" ".join)
def test_malformed_database_url_is_one_line_without_password(
    command: list[str], url: str, cwd: Path
) -> None:
    line = assert_one_line_error(momento(*with_free_port(command), cwd=cwd, DATABASE_URL=url))
    assert "DATABASE_URL" in line or "postgresql://u:***@" in line, line
    assert list(cwd.iterdir()) == []


def test_redact_hides_the_password_in_every_spelling() -> None:
    url = "postgresql://bob:p%40ss@host/db"
    assert redact("failed for postgresql://bob:p%40ss@host/db", url) == (
        "failed for postgresql://bob:***@host/db"
    )
    assert redact("password p@ss rejected", url) == "password *** rejected"
    assert redact("x password=hunter2 y", "host=h password=hunter2") == "x password=*** y"
    assert redact("no secret here", "postgresql://bob@host/db") == "no secret here"


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_port_in_use_is_reported_before_the_banner(
    workers: str, taken_port: int, cwd: Path
) -> None:
    result = momento("serve", "--port", str(taken_port), "--workers", workers, cwd=cwd)
    line = assert_one_line_error(result)
    assert f"cannot listen on 127.0.0.1:{taken_port}" in line
    assert "in use" in line
    assert "Momento API" not in result.stderr
    # Refused before the embedded database started: nothing made in the folder.
    assert list(cwd.iterdir()) == []


def test_serve_with_one_worker_serves_on_the_claimed_port(database_url: str, cwd: Path) -> None:
    """The positive side of the checks above: a reachable database and a free port serve."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [MOMENTO, "serve", "--port", str(port)],
        cwd=cwd,
        env=clean_env(DATABASE_URL=database_url, MOMENTO_INPROCESS_WORKER="false"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        with httpx.Client() as client:
            while True:
                assert process.poll() is None, process.communicate()
                try:
                    r = client.get(f"http://127.0.0.1:{port}/healthz")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "serve did not answer in 60 s"
                    time.sleep(0.2)
        assert r.status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert f"Momento API  http://127.0.0.1:{port}/v1" in stderr
    assert "Traceback" not in stderr


def test_db_status_reads_a_reachable_database(database_url: str, cwd: Path) -> None:
    result = momento("db", "status", cwd=cwd, DATABASE_URL=database_url)
    assert result.returncode == 0, result.stderr
    assert "0 pending" in result.stdout
    assert list(cwd.iterdir()) == []
