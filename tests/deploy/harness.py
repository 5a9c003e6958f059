# The harness exists to run commands (apt-get, runuser, pg_ctl, momento) built from its own
# constants and OS-picked ports: the subprocess checks would flag every line of it.
# ruff: noqa: S603, S607
"""Reusable pieces of the deployment tests: real processes, real servers, faults on demand.

Everything here is synchronous (the tests are plain functions); what needs an event loop runs
it in a thread of its own. Every server listens on 127.0.0.1 on a port the OS picked.

    pg = Postgres(); pg.start()                      # Debian's PostgreSQL, run as `postgres`
    moto = MotoServer(folder); moto.start(); moto.create_bucket("photos")
    s3 = TcpProxy("127.0.0.1", moto.port); s3.start()  # s3.cut() / s3.stall() / s3.restore()
    apns = ApnsFake(folder); apns.start()            # HTTP/2+TLS, trusted via SSL_CERT_FILE
    env = momento_env(folder, database_url=pg.url, storage_url=s3_storage_url(s3.url, ...), ...)
    app = Momento(env, folder); app.run("db", "migrate")
    serve = app.serve(workers=2); worker = app.worker()
    serve.children(); serve.kill9(serve.children()[0]); pg.restart()
    client = Client(app.base_url); client.signup(...); client.assert_no_500()
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import httpx

# The proxy in front of moto: cut()/restore()/stall() make S3 outages without losing moto's
# in-memory objects (re-exported: tests import everything from here).
from tests.fakes.tcp_proxy import TcpProxy

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
MOMENTO = VENV_BIN / "momento"

# How long each piece took to set up (seconds), printed at the end of the run by conftest.
TIMINGS: dict[str, float] = {}
# What the fault tests measured (retries, 503s, recovery times), shown at the end of the run.
NOTES: list[str] = []


def note(line: str) -> None:
    NOTES.append(line)


@contextlib.contextmanager
def timed(name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        TIMINGS[name] = TIMINGS.get(name, 0.0) + time.perf_counter() - started


def free_port() -> int:
    """A port nobody listens on right now (the OS picks it; a small race is accepted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(
    predicate: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.05
) -> float:
    """Poll until `predicate()` is true; return the seconds it took, or raise TimeoutError."""
    started = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{what}: not after {timeout:.0f} s")
        time.sleep(interval)


def make_temp_dir(prefix: str) -> Path:
    """A fresh folder under /tmp (not pytest's tmp_path: /tmp/pytest-of-root is 0700, and the
    `postgres` user must be able to reach a cluster kept inside); remove_temp_dir() it, or it
    goes when the test process ends."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    REAPER.add("rm", str(path))
    return path


def remove_temp_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    REAPER.forget(f"rm {path}")


# Variables of the host's environment that would leak a configuration into the served
# processes (a developer's shell may have any of them set).
_SCRUBBED_PREFIXES = ("MOMENTO_", "APNS_", "POSTHOG_", "REVENUECAT_", "AWS_", "PG")
_SCRUBBED_NAMES = frozenset(
    {
        "DATABASE_URL",
        "JWT_PRIVATE_KEY",
        "SMTP_URL",
        "STORAGE_URL",
        "FILES_SIGNING_SECRET",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "PYTEST_CURRENT_TEST",
        "PYTHONPATH",
    }
)


def clean_environ() -> dict[str, str]:
    """A copy of os.environ without anything that configures Momento, AWS or PostgreSQL."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_SCRUBBED_PREFIXES) and name not in _SCRUBBED_NAMES
    }


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# ---------------------------------------------------------------------------------------------
# Cleanup even when the test run is killed
# ---------------------------------------------------------------------------------------------

# Run in a process of its own: waits for the test process to end, then kills what it was told
# about. A run stopped by `timeout` (SIGTERM) or SIGKILL never reaches its fixtures' teardown,
# and the postmaster (daemonized by pg_ctl) and the process groups started here would live on.
_REAPER_CODE = """
import os, shutil, signal, subprocess, sys, time
owner, registry = int(sys.argv[1]), sys.argv[2]
signal.signal(signal.SIGINT, signal.SIG_IGN)
while os.path.exists(registry):
    try:
        os.kill(owner, 0)
    except ProcessLookupError:
        break
    time.sleep(0.5)
else:
    sys.exit(0)
with open(registry) as f:
    entries = [line.rstrip("\\n").split(" ", 1) for line in f if " " in line]
for kind, arg in entries:
    if kind == "pgid":
        try:
            os.killpg(int(arg), signal.SIGKILL)
        except OSError:
            pass
for kind, arg in entries:
    if kind == "pg":
        pg_ctl, data = arg.split(" ", 1)
        subprocess.run(["runuser", "-u", "postgres", "--", pg_ctl, "-D", data, "stop",
                        "-m", "immediate"], capture_output=True, check=False)
for kind, arg in entries:
    if kind == "rm":
        shutil.rmtree(arg, ignore_errors=True)
os.unlink(registry)
"""


class _Reaper:
    """The registry of what to clean up, and the watchdog process reading it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[str] = []
        self._registry: Path | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None

    def add(self, kind: Literal["pgid", "pg", "rm"], arg: str) -> str:
        entry = f"{kind} {arg}"
        with self._lock:
            self._entries.append(entry)
            self._write()
        return entry

    def forget(self, entry: str) -> None:
        with self._lock:
            with contextlib.suppress(ValueError):
                self._entries.remove(entry)
            self._write()

    def _write(self) -> None:
        if self._registry is None:
            fd, name = tempfile.mkstemp(prefix="momento-deploy-reap-", dir="/tmp")
            os.close(fd)
            self._registry = Path(name)
            self._watchdog = subprocess.Popen(
                [sys.executable, "-c", _REAPER_CODE, str(os.getpid()), name],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                # Out of the terminal's process group: a Ctrl-C is the run's to handle.
                start_new_session=True,
            )
        tmp = self._registry.with_suffix(".new")
        tmp.write_text("".join(e + "\n" for e in self._entries))
        tmp.replace(self._registry)


REAPER = _Reaper()


# ---------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------


def postgres_bin_dir(install: bool = True) -> Path:
    """The newest installed PostgreSQL's bin folder, installing Debian's packages if none is.

    As the official postgres image does: postgresql-common first, then its createcluster.conf
    told not to make a `main` cluster (it would take port 5432 and start), then the server;
    policy-rc.d keeps the install from starting any service meanwhile.
    """
    found = _installed_postgres()
    if found or not install:
        if not found:
            raise RuntimeError("PostgreSQL is not installed")
        return found[-1]
    env = {**clean_environ(), "DEBIAN_FRONTEND": "noninteractive"}

    def apt(*args: str) -> None:
        done = subprocess.run(
            ["apt-get", *args], env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"apt-get {' '.join(args)} failed:\n{done.stderr[-2000:]}")

    policy = Path("/usr/sbin/policy-rc.d")
    wrote_policy = not policy.exists()
    if wrote_policy:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        apt("update")
        apt("install", "-y", "--no-install-recommends", "postgresql-common")
        conf = Path("/etc/postgresql-common/createcluster.conf")
        text = conf.read_text() if conf.exists() else ""
        lines = [ln for ln in text.splitlines() if "create_main_cluster" not in ln]
        conf.write_text("\n".join([*lines, "create_main_cluster = false"]) + "\n")
        apt("install", "-y", "--no-install-recommends", "postgresql")
    finally:
        if wrote_policy:
            policy.unlink(missing_ok=True)
    found = _installed_postgres()
    if not found:
        raise RuntimeError("apt-get install postgresql left no initdb under /usr/lib/postgresql")
    return found[-1]


def _installed_postgres() -> list[Path]:
    dirs = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    return sorted(dirs, key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0)


class Postgres:
    """Debian's PostgreSQL server, run by the `postgres` user in a throwaway cluster.

    The app connects over TCP (127.0.0.1) with a password, as it would to a managed database;
    the test's own checks (`psql`) go through the unix socket as the `postgres` superuser.

    The first migration creates the roles `anon`, `authenticated` and `service_role` unless
    they exist, and `service_role` has BYPASSRLS, which only a superuser may give (PostgreSQL
    15; 16+ also lets a role that has BYPASSRLS itself). So:
    - privileges="owner" (default): least privilege, as on a managed database: the cluster's
      superuser creates those three roles and grants them to the app's login role, a plain
      LOGIN role owning the database; the migrations then run without any role attribute.
    - privileges="superuser": the app's role is a SUPERUSER and the migration creates the roles.
    - privileges="createrole": a CREATEROLE owner and nothing prepared: the first migration
      fails ("must be superuser to create bypassrls users").
    """

    def __init__(
        self,
        *,
        user: str = "momento",
        password: str = "momento-deploy-pw",  # noqa: S107 (a throwaway cluster)
        database: str = "momento",
        privileges: Literal["owner", "superuser", "createrole"] = "owner",
    ) -> None:
        self.user = user
        self.password = password
        self.database = database
        self.privileges = privileges
        self.port = 0
        self.bin: Path | None = None
        self.folder: Path | None = None
        self._initialised = False

    # --- where ---

    @property
    def url(self) -> str:
        return (
            f"postgresql://{quote(self.user)}:{quote(self.password, safe='')}"
            f"@127.0.0.1:{self.port}/{self.database}"
        )

    @property
    def major(self) -> int:
        assert self.bin is not None, "start() first"
        return int(self.bin.parent.name)

    @property
    def data_dir(self) -> Path:
        assert self.folder is not None, "start() first"
        return self.folder / "data"

    @property
    def log_path(self) -> Path:
        assert self.folder is not None, "start() first"
        return self.folder / "postgres.log"

    # --- life ---

    def start(self) -> None:
        """Create the cluster (first call only) and start the server; waits until it accepts."""
        if self.bin is None:
            self.bin = postgres_bin_dir()
        if self.folder is None:
            self.folder = make_temp_dir("momento-deploy-pg-")
            pw = pwd.getpwnam("postgres")
            # mkdtemp makes it 0700 for root: hand it to postgres; /tmp itself is traversable.
            os.chown(self.folder, pw.pw_uid, pw.pw_gid)
            self.folder.chmod(0o700)
            self.port = free_port()
        if not self._initialised:
            self._initdb()
            REAPER.add("pg", f"{self.bin / 'pg_ctl'} {self.data_dir}")
        self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.log_path), "-o", self._options())
        if not self._initialised:
            self._create_role_and_database()
            self._initialised = True

    def stop(self, mode: Literal["smart", "fast", "immediate"] = "fast") -> None:
        """Stop the server (the cluster stays: start() runs it again)."""
        if self.folder is None or not (self.data_dir / "postmaster.pid").exists():
            return
        self._pg_ctl("stop", "-w", "-t", "60", "-m", mode)

    def restart(self, mode: Literal["smart", "fast", "immediate"] = "fast") -> None:
        """pg_ctl restart: every open connection is dropped; waits until it accepts again."""
        self._pg_ctl(
            "restart", "-w", "-t", "60", "-m", mode, "-l", str(self.log_path), "-o", self._options()
        )

    def kill9(self) -> None:
        """The postmaster dies as in a crash (its backends exit as they notice); start() again."""
        pid = self.postmaster_pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                wait_until(lambda: not _pid_alive(pid), timeout=10, what="postmaster exit")

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def cleanup(self) -> None:
        """Stop the server if it runs and delete the cluster's folder."""
        if self.folder is None:
            return
        with contextlib.suppress(CommandFailed):
            self.stop("immediate")
        pid = self.postmaster_pid()
        if pid is not None and _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
        REAPER.forget(f"pg {self.bin / 'pg_ctl' if self.bin else ''} {self.data_dir}")
        remove_temp_dir(self.folder)
        self.folder = None
        self._initialised = False

    def __enter__(self) -> Postgres:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cleanup()

    # --- the test's own checks ---

    def psql(self, sql: str, *, database: str | None = None) -> str:
        """Run SQL as the `postgres` superuser over the unix socket; unaligned, tuples only."""
        assert self.bin is not None, "start() first"
        assert self.folder is not None, "start() first"
        out = self._as_postgres(
            str(self.bin / "psql"),
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            str(self.folder),
            "-p",
            str(self.port),
            "-d",
            database or self.database,
            "-c",
            sql,
        )
        return out.stdout.strip()

    def connect(self) -> Any:
        """A psycopg connection as the app's role (autocommit), for checks in Python."""
        import psycopg

        return psycopg.connect(self.url, autocommit=True)

    # --- internals ---

    def _options(self) -> str:
        assert self.folder is not None
        # No durability wanted from a throwaway cluster: fsync off makes start and writes fast.
        return (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.folder}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            " -c max_connections=200 -c shared_buffers=128MB"
        )

    def _initdb(self) -> None:
        assert self.bin is not None
        self._as_postgres(
            str(self.bin / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        )

    def _create_role_and_database(self) -> None:
        attributes = {"owner": "", "superuser": " SUPERUSER", "createrole": " CREATEROLE"}
        escaped = self.password.replace("'", "''")
        self.psql(
            f"CREATE ROLE \"{self.user}\" LOGIN{attributes[self.privileges]} PASSWORD '{escaped}'",
            database="postgres",
        )
        if self.privileges == "owner":
            # What 0001_roles_and_auth.sql would create (same attributes), made by a superuser.
            self.psql(
                "CREATE ROLE anon NOLOGIN NOINHERIT;"
                " CREATE ROLE authenticated NOLOGIN NOINHERIT;"
                " CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;"
                f' GRANT anon, authenticated, service_role TO "{self.user}"',
                database="postgres",
            )
        self.psql(f'CREATE DATABASE "{self.database}" OWNER "{self.user}"', database="postgres")

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        assert self.bin is not None
        return self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data_dir), *args)

    def _as_postgres(self, *command: str) -> subprocess.CompletedProcess[str]:
        assert self.folder is not None
        env = {**clean_environ(), "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
        # pg_ctl's server inherits stdout unless -l is given (it always is): capture is safe.
        proc = subprocess.run(
            ["runuser", "-u", "postgres", "--", *command],
            env=env,
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if proc.returncode != 0:
            detail = proc.stderr.strip() or proc.stdout.strip()
            if command[0].endswith("pg_ctl"):
                detail += "\n--- postgres.log ---\n" + _tail(self.folder / "postgres.log")
            raise CommandFailed(f"{Path(command[0]).name} exited with {proc.returncode}: {detail}")
        return proc


class CommandFailed(RuntimeError):
    """A PostgreSQL tool exited with an error (its output is in the message)."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0): it is dead for our purposes.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


# ---------------------------------------------------------------------------------------------
# S3: moto's server as a process
# ---------------------------------------------------------------------------------------------

S3_ACCESS_KEY = "testing"
S3_SECRET_KEY = "testing"
S3_REGION = "us-east-1"


class MotoServer:
    """moto's S3 (and friends) server in a process of its own. Objects live in its memory:
    never restart it in the middle of a test (cut the proxy in front of it instead)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._clients: dict[str, Any] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.folder / "moto.log"

    def start(self, *, wait: bool = True, timeout: float = 30) -> None:
        """Start the process; wait=False returns at once (then wait_ready())."""
        self.port = free_port()
        env = {
            **clean_environ(),
            "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY,
            "AWS_DEFAULT_REGION": S3_REGION,
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        REAPER.add("pgid", str(self.process.pid))
        if wait:
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 30) -> None:
        def answers() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"moto_server exited:\n{_tail(self.log_path)}")
            try:
                return httpx.get(self.url + "/moto-api/", timeout=1).status_code < 500
            except httpx.TransportError:
                return False

        wait_until(answers, timeout=timeout, what="moto_server answering")

    def stop(self) -> None:
        if self.process is not None:
            _stop_process(self.process, timeout=5)
            self.process = None

    def __enter__(self) -> MotoServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- the test's own look at the bucket (straight to moto, not through any proxy) ---

    def client(self, endpoint: str | None = None) -> Any:
        """A botocore S3 client of moto (or of `endpoint`, such as the proxy in front of it:
        one attempt per call there, so a cut shows at once instead of after retries)."""
        import botocore.config
        import botocore.session

        url = endpoint or self.url
        if url not in self._clients:
            self._clients[url] = botocore.session.get_session().create_client(
                "s3",
                endpoint_url=url,
                region_name=S3_REGION,
                aws_access_key_id=S3_ACCESS_KEY,
                aws_secret_access_key=S3_SECRET_KEY,
                config=botocore.config.Config(
                    s3={"addressing_style": "path"},
                    retries={"total_max_attempts": 1 if endpoint else 3},
                    connect_timeout=5,
                    read_timeout=10,
                ),
            )
        return self._clients[url]

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        keys: list[str] = []
        paginator = self.client().get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(str(obj["Key"]) for obj in page.get("Contents", []))
        return keys

    def size(self, bucket: str, key: str) -> int:
        return int(self.client().head_object(Bucket=bucket, Key=key)["ContentLength"])

    def get(self, bucket: str, key: str) -> bytes:
        body = self.client().get_object(Bucket=bucket, Key=key)["Body"]
        try:
            return bytes(body.read())
        finally:
            body.close()


def s3_storage_url(endpoint: str, bucket: str, prefix: str = "") -> str:
    """The STORAGE_URL of a bucket behind `endpoint` (moto, or the proxy in front of it)."""
    path = f"{bucket}/{prefix.strip('/')}" if prefix else bucket
    return f"s3://{path}?endpoint={quote(endpoint, safe='')}&region={S3_REGION}"


# ---------------------------------------------------------------------------------------------
# Fakes of the outside services
# ---------------------------------------------------------------------------------------------

APNS_KEY_ID = "DEPLOYKEY1"
APNS_TEAM_ID = "DEPLOYTEAM"
APNS_TOPIC = "app.momento.deploy"


class ApnsFake:
    """tests.fakes.apns.FakeApns on an event loop of its own thread.

    Its self-signed certificate is written to `ca_file`; a child process given
    `SSL_CERT_FILE=<ca_file>` trusts it through ssl.create_default_context() (and trusts
    nothing else, which the served processes never need here).
    """

    def __init__(self, folder: Path) -> None:
        from tests.fakes.apns import FakeApns, make_provider_key

        self.key_pem, public_key = make_provider_key()
        self.fake = FakeApns(
            topic=APNS_TOPIC, key_id=APNS_KEY_ID, team_id=APNS_TEAM_ID, public_key=public_key
        )
        self.ca_file = folder / "apns-ca.pem"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.fake.url

    def start(self) -> None:
        self.ca_file.write_bytes(self.fake.cert_pem)
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="fake-apns", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.fake.start(), loop).result(10)

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self.fake.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        loop.close()

    def pause(self) -> None:
        """APNs goes away: connections closed, new ones refused (the fake keeps its port)."""
        assert self._loop is not None, "start() first"
        asyncio.run_coroutine_threadsafe(self.fake.stop(), self._loop).result(10)

    def resume(self) -> None:
        """APNs is back, at the same address."""
        assert self._loop is not None, "start() first"
        asyncio.run_coroutine_threadsafe(self.fake.start(), self._loop).result(10)

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn()` in the fake's loop thread (its state is only touched there)."""
        assert self._loop is not None, "start() first"

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def requests(self) -> list[Any]:
        """A snapshot of every request received so far (tests.fakes.apns.ReceivedRequest)."""
        return self.call(lambda: list(self.fake.requests))

    def connections(self) -> int:
        """Connections accepted so far."""
        return self.call(lambda: self.fake.connections)

    def fail(self, device_token: str, reason: str, *, times: int | None = None) -> None:
        self.call(lambda: self.fake.fail(device_token, reason, times=times))

    def drop_connections(self) -> None:
        self.call(self.fake.drop_connections)

    def reset(self) -> None:
        self.call(self.fake.reset)

    def env(self) -> dict[str, str]:
        return {
            "APNS_KEY": self.key_pem,
            "APNS_KEY_ID": APNS_KEY_ID,
            "APNS_TEAM_ID": APNS_TEAM_ID,
            "APNS_TOPIC": APNS_TOPIC,
            "APNS_URL": self.url,
            "SSL_CERT_FILE": str(self.ca_file),
        }


class SmtpSink:
    """aiosmtpd on 127.0.0.1 in its own thread, keeping every message it is given."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[tuple[str, list[str], bytes]] = []
        self._lock = threading.Lock()
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.messages.append(
                (str(envelope.mail_from), list(envelope.rcpt_tos), bytes(envelope.content))
            )
        return "250 OK"

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def mails(self) -> list[tuple[str, list[str], bytes]]:
        with self._lock:
            return list(self.messages)


# ---------------------------------------------------------------------------------------------
# The served processes
# ---------------------------------------------------------------------------------------------


def jwt_private_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def momento_env(
    data_dir: Path,
    *,
    database_url: str,
    public_url: str,
    smtp_url: str,
    storage_url: str | None = None,
    environment: Literal["production", "development"] = "production",
    apns: ApnsFake | None = None,
    posthog_url: str | None = None,
    posthog_api_key: str | None = None,
    revenuecat_url: str | None = None,
    revenuecat_api_key: str | None = None,
    revenuecat_webhook_auth: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of `momento` commands as an operator would set it: a clean copy of
    os.environ plus the given settings, the job worker out of the API processes."""
    env = clean_environ()
    env.update(
        {
            "MOMENTO_ENV": environment,
            "MOMENTO_DATA_DIR": str(data_dir),
            "MOMENTO_PUBLIC_URL": public_url,
            "DATABASE_URL": database_url,
            "JWT_PRIVATE_KEY": jwt_private_key_pem(),
            "SMTP_URL": smtp_url,
            "MOMENTO_INPROCESS_WORKER": "false",
            # Python's buffered stdout would hold log lines back from the log files.
            "PYTHONUNBUFFERED": "1",
        }
    )
    if storage_url is not None:
        env["STORAGE_URL"] = storage_url
    if not (storage_url or "").startswith("s3:"):
        # Local files (the data dir's, or a file:// URL): production requires the URL key.
        env["FILES_SIGNING_SECRET"] = "deploy-files-signing-secret-0123456789abcdef"
    else:
        env["AWS_ACCESS_KEY_ID"] = S3_ACCESS_KEY
        env["AWS_SECRET_ACCESS_KEY"] = S3_SECRET_KEY
        env["AWS_DEFAULT_REGION"] = S3_REGION
    if apns is not None:
        env.update(apns.env())
    if posthog_url is not None:
        env["POSTHOG_HOST"] = posthog_url
        env["POSTHOG_API_KEY"] = posthog_api_key or "phc_test_project_key"
    if revenuecat_url is not None:
        env["REVENUECAT_API_URL"] = revenuecat_url
        env["REVENUECAT_API_KEY"] = revenuecat_api_key or "sk_test_fake"
        env["REVENUECAT_WEBHOOK_AUTH"] = revenuecat_webhook_auth or "Bearer deploy-webhook-secret"
    if extra:
        env.update(extra)
    return env


class Proc:
    """One long-running `momento ...` process (its own session: its children go with it)."""

    def __init__(
        self, name: str, args: list[str], env: Mapping[str, str], log_path: Path, cwd: Path
    ) -> None:
        self.name = name
        self.args = args
        self.env = dict(env)
        self.log_path = log_path
        self.cwd = cwd
        self.popen: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.ready_after: float | None = None  # seconds from start to ready
        self.ready_check: Callable[[], bool] | None = None
        self.ready_what = "ready"

    def start(self) -> Proc:
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                self.args,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Own process group: terminate() can reach workers orphaned by a kill -9.
                start_new_session=True,
            )
        REAPER.add("pgid", str(self.popen.pid))
        self.started_at = time.monotonic()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None, "start() first"
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def wait_ready(
        self,
        check: Callable[[], bool] | None = None,
        *,
        timeout: float = 60,
        what: str | None = None,
    ) -> float:
        """Wait until `check()` (default: the check serve()/worker() gave it); fail at once,
        with the log's tail, if the process exits first. Returns seconds since start."""
        check = check or self.ready_check
        what = what or self.ready_what
        assert check is not None, "no readiness check given"

        def ready() -> bool:
            if not self.alive():
                raise RuntimeError(
                    f"{self.name} exited with {self.returncode} before {what}:\n"
                    + _tail(self.log_path)
                )
            return check()

        try:
            wait_until(ready, timeout=timeout, what=f"{self.name}: {what}")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n{_tail(self.log_path)}") from None
        self.ready_after = time.monotonic() - self.started_at
        return self.ready_after

    def children(self, *, all_children: bool = False) -> list[int]:
        """The process's living children: for serve, its API processes (multiprocessing's
        resource tracker, also a child, is left out unless all_children)."""
        found: set[int] = set()
        for task in Path(f"/proc/{self.pid}/task").glob("*"):
            with contextlib.suppress(OSError):
                found.update(int(p) for p in (task / "children").read_text().split())
        living = sorted(p for p in found if _pid_alive(p))
        if all_children:
            return living
        return [p for p in living if b"resource_tracker" not in _cmdline(p)]

    def kill9(self, pid: int | None = None) -> None:
        """SIGKILL this process (default) or one of its children."""
        os.kill(self.pid if pid is None else pid, signal.SIGKILL)

    def terminate(self, timeout: float = 10) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`; then anything left in its process group."""
        if self.popen is None:
            return None
        code = _stop_process(self.popen, timeout=timeout)
        return code

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_count(self, needle: str) -> int:
        return self.log_text().count(needle)

    def log_events(self) -> list[dict[str, Any]]:
        """The log's JSON lines (the default when stderr is not a terminal), parsed."""
        events: list[dict[str, Any]] = []
        for line in self.log_text().splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    parsed = json.loads(line)
                    if isinstance(parsed, dict):
                        events.append(parsed)
        return events


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _stop_process(popen: subprocess.Popen[bytes], *, timeout: float) -> int | None:
    if popen.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            popen.send_signal(signal.SIGTERM)
        try:
            popen.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                popen.kill()
            popen.wait(5)
    # Whatever of its group survived (a worker orphaned by a kill -9 of its supervisor).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, signal.SIGKILL)
    REAPER.forget(f"pgid {popen.pid}")
    return popen.returncode


# Logged by procrastinate once the worker's loop runs (after `momento worker`'s own "worker
# started", which comes before the push sender and the queue are set up).
WORKER_READY_LINE = "Starting worker"


# Logged by `momento serve --workers N` when it starts an API process in place of a dead one.
SERVE_REPLACED_LINE = "worker exited; starting another"


def _attach_readiness(proc: Proc) -> None:
    """Give a `momento serve` or `momento worker` process the check of its readiness."""
    args = proc.args
    if "serve" in args:
        workers = int(args[args.index("--workers") + 1]) if "--workers" in args else 1
        url = f"http://127.0.0.1:{args[args.index('--port') + 1]}/readyz"

        def serve_ready() -> bool:
            # uvicorn logs this once per API process started, the first N and each one the
            # supervisor started in place of a dead one: /readyz alone could be one of the N.
            replaced = proc.log_count(SERVE_REPLACED_LINE)
            if proc.log_count("Application startup complete") < workers + replaced:
                return False
            try:
                return httpx.get(url, timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        proc.ready_check, proc.ready_what = serve_ready, "ready (GET /readyz 200)"
    elif "worker" in args:
        proc.ready_check = lambda: WORKER_READY_LINE in proc.log_text()
        proc.ready_what = f"{WORKER_READY_LINE!r} logged"


class Momento:
    """Runs the shipped `momento` command with one environment; stops what it started.

    Commands run in `folder` (their logs go to folder/logs): settings also come from a `.env`
    in the working directory, and the repository's own must not leak in.
    """

    def __init__(self, env: Mapping[str, str], folder: Path, *, port: int | None = None) -> None:
        self.env = dict(env)
        self.folder = folder
        self.port = port or free_port()
        (folder / "logs").mkdir(parents=True, exist_ok=True)
        self.procs: list[Proc] = []
        self._counter = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _env(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        return {**self.env, **(extra or {})}

    def run(
        self,
        *args: str,
        extra_env: Mapping[str, str] | None = None,
        timeout: float = 120,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """A one-shot command (`db migrate`, `jobs`, ...); raises with its output on failure."""
        proc = subprocess.run(
            [str(MOMENTO), *args],
            env=self._env(extra_env),
            cwd=self.folder,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"momento {' '.join(args)} exited with {proc.returncode}:\n"
                f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
            )
        return proc

    def start(self, name: str, *args: str, extra_env: Mapping[str, str] | None = None) -> Proc:
        """Start `momento <args>` in the background (no readiness wait)."""
        self._counter += 1
        log_path = self.folder / "logs" / f"{self._counter:02d}-{name}.log"
        proc = Proc(name, [str(MOMENTO), *args], self._env(extra_env), log_path, self.folder)
        self.procs.append(proc)
        return proc.start()

    def serve(
        self,
        workers: int = 2,
        *,
        port: int | None = None,
        extra_env: Mapping[str, str] | None = None,
        wait: bool = True,
        timeout: float = 60,
    ) -> Proc:
        """`momento serve --workers N`; ready when each API process logged its start and
        /readyz answers 200 (wait=False: call proc.wait_ready() later)."""
        port = port or self.port
        proc = self.start(
            "serve",
            "serve",
            "--workers",
            str(workers),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            extra_env=extra_env,
        )
        _attach_readiness(proc)
        if wait:
            proc.wait_ready(timeout=timeout)
        return proc

    def worker(
        self,
        *args: str,
        extra_env: Mapping[str, str] | None = None,
        wait: bool = True,
        timeout: float = 60,
    ) -> Proc:
        """`momento worker`; ready once procrastinate runs its loop (see WORKER_READY_LINE)."""
        proc = self.start("worker", "worker", *args, extra_env=extra_env)
        _attach_readiness(proc)
        if wait:
            proc.wait_ready(timeout=timeout)
        return proc

    def restart(self, proc: Proc, *, wait: bool = True, timeout: float = 60) -> Proc:
        """Stop `proc` if it still runs and start the same command again (new log file)."""
        proc.terminate()
        self._counter += 1
        log_path = self.folder / "logs" / f"{self._counter:02d}-{proc.name}.log"
        again = Proc(proc.name, proc.args, proc.env, log_path, self.folder)
        self.procs.append(again)
        again.start()
        _attach_readiness(again)
        if wait:
            again.wait_ready(timeout=timeout)
        return again

    def stop_all(self, timeout: float = 10) -> None:
        """Stop every process started (all at once: SIGTERM to all, then wait)."""
        living = [p for p in self.procs if p.popen is not None]
        for proc in living:
            if proc.alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGTERM)
        for proc in living:
            proc.terminate(timeout)


# ---------------------------------------------------------------------------------------------
# Camera-sized photos
# ---------------------------------------------------------------------------------------------

PHOTO_WIDTH, PHOTO_HEIGHT = 4032, 3024


@dataclass(frozen=True)
class Photos:
    jpeg: Path  # 12 MP, ~4 MB, camera EXIF with GPS
    heic: Path  # 12 MP, ~5 MB, same EXIF
    seconds: float  # how long making them took


def _pixels() -> Any:
    """A photo-like 12 MP image: smooth gradients, large blotches and fine grain (the grain
    keeps JPEG and HEIC near a phone's file sizes; a flat image would compress to nothing)."""
    import pyvips

    xy = pyvips.Image.xyz(PHOTO_WIDTH, PHOTO_HEIGHT)
    gx = xy[0] * (255 / PHOTO_WIDTH)
    gy = xy[1] * (255 / PHOTO_HEIGHT)
    blotches = (
        pyvips.Image.gaussnoise(
            PHOTO_WIDTH // 64 + 1, PHOTO_HEIGHT // 64 + 1, sigma=50, mean=128, seed=7
        )
        .resize(64, kernel="cubic")
        .crop(0, 0, PHOTO_WIDTH, PHOTO_HEIGHT)
    )
    # Grain made at a quarter size and tiled: as incompressible for the encoders, 0.4 s less.
    grain = pyvips.Image.gaussnoise(
        PHOTO_WIDTH // 4, PHOTO_HEIGHT // 4, sigma=5, mean=0, seed=1007
    ).replicate(4, 4)
    red = gx * 0.5 + blotches * 0.5 + grain + 10
    green = gy * 0.6 + blotches * 0.4 + grain
    blue = (255 - gx) * 0.4 + blotches * 0.3 + grain + 40
    return red.bandjoin([green, blue]).cast("uchar").copy(interpretation="srgb").copy_memory()


def camera_exif() -> bytes:
    """EXIF as a phone writes it: make, model, orientation, software, artist and GPS."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = "DeployCam"  # Make
    exif[0x0110] = "DeployCam 12"  # Model
    exif[0x0112] = 1  # Orientation
    exif[0x0131] = "DeployCam firmware 1.0"  # Software
    exif[0x013B] = "A. Photographer"  # Artist
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (52.0, 22.0, 30.0)
    gps[3] = "E"
    gps[4] = (4.0, 53.0, 12.0)
    return bytes(exif.tobytes())


def make_photos(folder: Path) -> Photos:
    """Write photo.jpg and photo.heic into `folder` (reused if already there)."""
    import pillow_heif

    started = time.perf_counter()
    jpeg, heic = folder / "photo.jpg", folder / "photo.heic"
    if not (jpeg.exists() and heic.exists()):
        folder.mkdir(parents=True, exist_ok=True)
        image = _pixels()
        exif = camera_exif()
        data = bytes(image.jpegsave_buffer(Q=92, keep="none"))
        payload = exif if exif.startswith(b"Exif\x00\x00") else b"Exif\x00\x00" + exif
        app1 = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
        jpeg.write_bytes(data[:2] + app1 + data[2:])
        heif = pillow_heif.from_bytes("RGB", (image.width, image.height), image.write_to_memory())
        buffer = io.BytesIO()
        heif.save(buffer, quality=70, exif=exif, enc_params={"preset": "ultrafast"})
        heic.write_bytes(buffer.getvalue())
    return Photos(jpeg, heic, time.perf_counter() - started)


# ---------------------------------------------------------------------------------------------
# The test's HTTP client
# ---------------------------------------------------------------------------------------------

# A dropped connection: the server process died or was restarted under the request.
RETRIED_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.RemoteProtocolError,
    httpx.ReadError,
    httpx.WriteError,
)


@dataclass
class Exchange:
    method: str
    path: str
    status: int
    seconds: float


@dataclass
class Client:
    """httpx against the served API, retrying requests whose connection failed.

    A retried POST may have been applied before the connection dropped: tests that count
    effects must expect that (or pass `retry=False`). Every answer is recorded.
    """

    base_url: str
    max_retries: int = 40
    retry_sleep: float = 0.25
    timeout: float = 30.0
    retries: int = 0  # connection failures retried so far
    exchanges: list[Exchange] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _http: httpx.Client | None = None

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(base_url=self.base_url, timeout=self.timeout)
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    def request(
        self, method: str, path: str, *, retry: bool = True, **kwargs: Any
    ) -> httpx.Response:
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                response = self.http.request(method, path, **kwargs)
            except RETRIED_ERRORS:
                if not retry or attempt >= self.max_retries:
                    raise
                attempt += 1
                with self._lock:
                    self.retries += 1
                time.sleep(self.retry_sleep)
                continue
            with self._lock:
                self.exchanges.append(
                    Exchange(method, path, response.status_code, time.perf_counter() - started)
                )
            return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    @property
    def statuses(self) -> list[int]:
        with self._lock:
            return [e.status for e in self.exchanges]

    def assert_no_500(self) -> None:
        """No answer was a 500 (faults must show as 503/507, never an unhandled error)."""
        with self._lock:
            bad = [e for e in self.exchanges if e.status == 500]
        assert not bad, f"{len(bad)} answers were 500: " + ", ".join(
            f"{e.method} {e.path}" for e in bad[:10]
        )

    @staticmethod
    def auth_headers(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def signup(self, email: str, password: str) -> tuple[str, str]:
        """A new confirmed account (MOMENTO_EMAIL_CONFIRM off): (user id, access token)."""
        r = self.post("/auth/v1/signup", json={"email": email, "password": password})
        assert r.status_code == 200, f"signup: {r.status_code} {r.text}"
        body = r.json()
        return str(body["user"]["id"]), str(body["access_token"])


def child_trusts(ca_file: Path, url: str) -> subprocess.CompletedProcess[str]:
    """Does a child process with SSL_CERT_FILE=<ca_file> accept the TLS server at `url`
    through ssl.create_default_context()? (exit 0 and "ok" when it does)"""
    host, port = url.removeprefix("https://").rsplit(":", 1)
    code = (
        "import socket, ssl\n"
        "ctx = ssl.create_default_context()\n"
        "ctx.set_alpn_protocols(['h2'])\n"
        f"with socket.create_connection(({host!r}, {int(port)}), timeout=5) as raw:\n"
        f"    with ctx.wrap_socket(raw, server_hostname={host!r}) as tls:\n"
        "        print('ok', tls.selected_alpn_protocol())\n"
    )
    env = {**clean_environ(), "SSL_CERT_FILE": str(ca_file)}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30
    )


# ---------------------------------------------------------------------------------------------
# The whole deployment
# ---------------------------------------------------------------------------------------------


class Stack:
    """Everything a deployment test needs, started in order, each step timed into TIMINGS:
    PostgreSQL, moto behind a TcpProxy (the served processes' STORAGE_URL), the APNs, PostHog,
    RevenueCat and SMTP fakes, `momento db migrate`, `momento serve --workers N` and M
    `momento worker` processes with the job worker out of the API processes.

    heal() puts back whatever a test broke (a cut proxy, a stopped database, a killed
    process), so one Stack can serve a whole session of fault-injecting tests.
    """

    def __init__(
        self,
        *,
        api_workers: int = 2,
        job_workers: int = 2,
        bucket: str = "momento-photos",
        environment: Literal["production", "development"] = "production",
        pg_privileges: Literal["owner", "superuser", "createrole"] = "owner",
        pg_user: str = "momento",
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.folder = make_temp_dir("momento-deploy-")
        self.api_workers = api_workers
        self.job_workers = job_workers
        self.bucket = bucket
        self.environment = environment
        self.extra_env = dict(extra_env or {})
        # The role an operator would most likely pick. Named like the app's `momento` schema,
        # it makes PostgreSQL's default search_path ("$user", public) put unqualified tables
        # there: a real-world case the migrations have to get right.
        self.pg = Postgres(user=pg_user, privileges=pg_privileges)
        self.moto = MotoServer(self.folder)
        self.s3_proxy: TcpProxy | None = None
        self.apns: ApnsFake | None = None
        self.posthog: Any = None  # tests.fakes.posthog.FakePostHog
        self.revenuecat: Any = None  # tests.fakes.revenuecat.FakeRevenueCat
        self.smtp: SmtpSink | None = None
        self.momento: Momento | None = None
        self.serve_proc: Proc | None = None
        self.worker_procs: list[Proc] = []
        self.migrate_output = ""

    @property
    def app(self) -> Momento:
        assert self.momento is not None, "start() first"
        return self.momento

    @property
    def base_url(self) -> str:
        return self.app.base_url

    def client(self, **options: Any) -> Client:
        return Client(self.base_url, **options)

    def start(self) -> Stack:
        from tests.fakes.posthog import FakePostHog
        from tests.fakes.revenuecat import FakeRevenueCat

        with timed("stack: total"):
            # moto's process imports for a second or two: let it do so while PostgreSQL starts.
            with timed("moto: spawn"):
                self.moto.start(wait=False)
            with timed("postgres: initdb + start + role"):
                self.pg.start()
            with timed("moto: ready + bucket"):
                self.moto.wait_ready()
                self.moto.create_bucket(self.bucket)
            with timed("fakes: s3 proxy, apns, posthog, revenuecat, smtp"):
                self.s3_proxy = TcpProxy("127.0.0.1", self.moto.port)
                self.s3_proxy.start()
                self.apns = ApnsFake(self.folder)
                self.apns.start()
                self.posthog = FakePostHog()
                self.posthog.start()
                self.revenuecat = FakeRevenueCat()
                self.revenuecat.start()
                self.smtp = SmtpSink()
                self.smtp.start()
            port = free_port()
            env = momento_env(
                self.folder / "data",
                database_url=self.pg.url,
                public_url=f"http://127.0.0.1:{port}",
                smtp_url=self.smtp.url,
                storage_url=s3_storage_url(self.s3_proxy.url, self.bucket),
                environment=self.environment,
                apns=self.apns,
                posthog_url=self.posthog.url,
                posthog_api_key=self.posthog.api_key,
                revenuecat_url=self.revenuecat.url,
                revenuecat_api_key=self.revenuecat.api_key,
                extra=self.extra_env,
            )
            self.momento = Momento(env, self.folder, port=port)
            with timed("momento db migrate"):
                done = self.momento.run("db", "migrate")
                self.migrate_output = done.stdout + done.stderr
            with timed("momento serve + workers: ready"):
                # All at once: each spends its first second or two importing.
                self.serve_proc = self.momento.serve(self.api_workers, wait=False)
                self.worker_procs = [
                    self.momento.worker(wait=False) for _ in range(self.job_workers)
                ]
                for proc in [self.serve_proc, *self.worker_procs]:
                    proc.wait_ready()
        return self

    def heal(self, timeout: float = 60) -> None:
        """Undo what a test broke: proxy back, database up, dead processes started again."""
        if self.s3_proxy is not None:
            self.s3_proxy.restore()  # a no-op unless cut or stalled
        if self.pg.postmaster_pid() is None or not _pid_alive(self.pg.postmaster_pid() or 0):
            self.pg.start()
        restarted: list[Proc] = []
        serve = self.serve_proc
        if serve is not None and not self._serving(serve):
            if serve.alive():
                # The supervisor replaces a killed API process by itself within a second or so.
                with contextlib.suppress(TimeoutError):
                    wait_until(lambda: self._serving(serve), timeout=15, what="serve healing")
            if not self._serving(serve):
                self.serve_proc = self.app.restart(serve, wait=False)
                restarted.append(self.serve_proc)
        for i, proc in enumerate(self.worker_procs):
            if not proc.alive():
                self.worker_procs[i] = self.app.restart(proc, wait=False)
                restarted.append(self.worker_procs[i])
        for proc in restarted:
            proc.wait_ready(timeout=timeout)

    def _serving(self, serve: Proc) -> bool:
        """All N API processes are up (replacements too) and /readyz answers 200."""
        if not serve.alive() or len(serve.children()) < self.api_workers:
            return False
        return serve.ready_check is not None and serve.ready_check()

    def stop(self) -> None:
        """Stop everything (each step guarded: one failure must not leave the rest running)."""
        steps: list[Callable[[], None]] = []
        if self.momento is not None:
            steps.append(self.momento.stop_all)
        steps.append(self.moto.stop)
        for piece in (self.s3_proxy, self.apns, self.posthog, self.revenuecat, self.smtp):
            if piece is not None:
                steps.append(piece.stop)
        steps.append(self.pg.cleanup)
        errors: list[BaseException] = []
        with timed("stack: stop"):
            for step in steps:
                try:
                    step()
                except Exception as exc:
                    errors.append(exc)
            remove_temp_dir(self.folder)
        if errors:
            raise errors[0]

    def __enter__(self) -> Stack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
