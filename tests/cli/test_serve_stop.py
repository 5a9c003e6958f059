"""`momento serve` on the embedded defaults stops cleanly on Ctrl-C and on SIGTERM (what
systemd, docker stop and kill send): exit status 0, and the embedded PostgreSQL it started is
stopped too, not left running without its server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.cli.test_commands import MOMENTO, clean_env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _postmaster_running(data_dir: Path) -> bool:
    pid_file = data_dir / "pg" / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_cleanly_with_its_database(tmp_path: Path, stop: signal.Signals) -> None:
    data_dir = tmp_path / "data"
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603
            [MOMENTO, "serve", "--port", str(port)],
            cwd=tmp_path,
            env=clean_env(MOMENTO_DATA_DIR=str(data_dir), MOMENTO_INPROCESS_WORKER="false"),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "serve did not get ready:\n" + log.read_text()
            time.sleep(0.2)
        assert _postmaster_running(data_dir)
        proc.send_signal(stop)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log.read_text()
    assert code == 0, output
    assert "Aborted" not in output
    assert "Traceback" not in output
    assert "Stopping embedded PostgreSQL" in output
    assert not _postmaster_running(data_dir), "the embedded PostgreSQL was left running"
