"""The embedded PostgreSQL that runs when no DATABASE_URL is given.

`pgserver` ships PostgreSQL 16 binaries in a wheel; it initialises the cluster under the data
directory on first use, starts it listening on a Unix socket only, and stops it when the last
process holding it exits (several `momento` processes may share one). When `pgserver` cannot
be used, PostgreSQL binaries installed on the system (`initdb`, `pg_ctl`) are used instead.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

DB_NAME = "momento"
log = logging.getLogger("momento.db.embedded")


@dataclass
class EmbeddedPostgres:
    pgdata: Path
    url: str
    _handle: Any = field(default=None, repr=False)
    _system_bindir: Path | None = None

    def stop(self) -> None:
        """Stop the server if this process is the last one using it."""
        if self._handle is not None:
            self._handle.cleanup()
            self._handle = None
        elif self._system_bindir is not None:
            subprocess.run(  # noqa: S603
                [
                    str(self._system_bindir / "pg_ctl"),
                    "-D",
                    str(self.pgdata),
                    "-m",
                    "fast",
                    "-w",
                    "stop",
                ],
                check=False,
                capture_output=True,
            )
            self._system_bindir = None


def _ensure_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if row is None:
            conn.execute(f'CREATE DATABASE "{name}"')  # name is a constant of ours


def _with_database(url: str, name: str) -> str:
    # pgserver URIs look like postgresql://postgres:@/postgres?host=/socket/dir
    head, _, query = url.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{query}" if query else "")


def has_cluster(data_dir: Path) -> bool:
    """Whether `data_dir` holds an embedded cluster (`start` made one there before)."""
    # initdb writes PG_VERSION into a cluster's directory; pgserver runs initdb.
    return (data_dir / "pg" / "PG_VERSION").is_file()


def start(data_dir: Path, database: str = DB_NAME) -> EmbeddedPostgres:
    """Start (or attach to) the embedded cluster under `data_dir/pg`; return its URL."""
    pgdata = (data_dir / "pg").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    # pgserver keeps its lock file in the XDG runtime directory, read when it is imported.
    if not os.environ.get("XDG_RUNTIME_DIR"):
        runtime = (data_dir / "run").resolve()
        runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    try:
        from pgserver.postgres_server import get_server

        handle = get_server(pgdata, cleanup_mode="stop")
        admin_url = handle.get_uri()
        _ensure_database(admin_url, database)
        return EmbeddedPostgres(pgdata, _with_database(admin_url, database), _handle=handle)
    except ImportError:
        log.warning("pgserver is not installed; trying the system's PostgreSQL binaries")
    bindir = find_system_bindir()
    if bindir is None:
        raise RuntimeError(
            "no embedded PostgreSQL: install the 'pgserver' package or PostgreSQL's binaries,"
            " or set DATABASE_URL"
        )
    return _start_system(pgdata, bindir, database)


def find_system_bindir() -> Path | None:
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for c in candidates:
        if (Path(c) / "pg_ctl").exists():
            return Path(c)
    return None


def _start_system(pgdata: Path, bindir: Path, database: str) -> EmbeddedPostgres:
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        raise RuntimeError(
            "system PostgreSQL binaries refuse to run as root; install 'pgserver' or set"
            " DATABASE_URL"
        )
    if not (pgdata / "PG_VERSION").exists():
        subprocess.run(  # noqa: S603
            [
                str(bindir / "initdb"),
                "-D",
                str(pgdata),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
            ],
            check=True,
            capture_output=True,
        )
    status = subprocess.run(  # noqa: S603
        [str(bindir / "pg_ctl"), "-D", str(pgdata), "status"], check=False, capture_output=True
    )
    if status.returncode != 0:
        subprocess.run(  # noqa: S603
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(pgdata),
                "-w",
                "-l",
                str(pgdata / "log"),
                "-o",
                f"-h '' -k {pgdata}",
                "start",
            ],
            check=True,
            capture_output=True,
        )
    admin_url = f"postgresql://postgres:@/postgres?host={pgdata}"
    _ensure_database(admin_url, database)
    return EmbeddedPostgres(pgdata, _with_database(admin_url, database), _system_bindir=bindir)
