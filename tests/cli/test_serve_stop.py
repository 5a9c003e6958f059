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

from tests.cli.helpers import MOMENTO, clean_env, free_port


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
    port = free_port()
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


def _children(pid: int) -> set[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return set()
    return {int(p) for p in text.split()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (ProcessLookupError, OSError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited


def test_api_processes_die_with_a_killed_supervisor(database_url: str, tmp_path: Path) -> None:
    """`serve --workers 2` killed with SIGKILL (no chance to stop its processes): they go too,
    and the port is free for the next `momento serve`."""
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603
        [MOMENTO, "serve", "--workers", "2", "--port", str(port)],
        cwd=tmp_path,
        env=clean_env(DATABASE_URL=database_url, MOMENTO_INPROCESS_WORKER="false"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None
            workers = {p for p in _children(proc.pid) if "spawn_main" in _cmdline(p)}
            try:
                ok = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                ok = False
            if ok and len(workers) == 2:
                break
            assert time.monotonic() < deadline, "serve --workers 2 did not get ready"
            time.sleep(0.2)
        proc.kill()
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in workers):
            assert time.monotonic() < deadline, "API processes outlived their supervisor"
            time.sleep(0.1)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))  # free again
    finally:
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
