"""The real supabase-js client (npm) through the flows the app uses: tests/auth/js/scenario.mjs.

The app is served for real on 127.0.0.1 by uvicorn in this test's event loop (`serve_asgi`,
as the `live_url` fixture does), not by a `momento serve` subprocess: it then shares the
session's embedded PostgreSQL and this test's SMTP Inbox, and takes settings per instance
without a configuration file, at no start-up cost. Two instances share the database: one with
email confirmation off, one with it on (the PKCE sign-up and the resend flows need it).

The script reads the mail it needs from a mailbox served here on 127.0.0.1 (GET ?to=<address>:
what the SMTP server caught for that address), so the codes and links it uses are the ones that
went over SMTP.

Node.js and the client are installed by the test itself: `node`/`npm` from Debian's packages
(apt-get) when missing, then `npm ci` from the committed lock file into tests/auth/js/node_modules
(git-ignored), skipped while the lock file's hash matches the stamp left by the last install.
There is deliberately no switch to skip this test: every machine the project runs on (developers'
and CI) reaches Debian's packages and the npm registry, so a missing Node.js is a broken setup
to be reported as a failure, and a skip would hide exactly the check the test exists for.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from momento.app import create_app
from momento.mail import SmtpMailer
from momento.services import Services
from tests.auth.conftest import Inbox, Mail, serve_asgi, services_with

JS = Path(__file__).parent / "js"
STAMP = JS / "node_modules" / ".momento-lock-sha256"
REDIRECT = "http://app.test/auth/callback"
# The first install (apt-get, npm ci) may take minutes; the scenario itself a few seconds.
INSTALL_TIMEOUT = 600
SCENARIO_TIMEOUT = 120
# The scenario signs in, refreshes and mails dozens of times from 127.0.0.1 within a minute.
NO_LIMITS = {
    name: 10_000
    for name in (
        "rate_limit_login_per_ip",
        "rate_limit_login_per_account",
        "rate_limit_recover_per_ip",
        "rate_limit_recover_per_account",
        "rate_limit_signup_per_ip",
    )
}


def _run(command: list[str], what: str, **kwargs: Any) -> None:
    try:
        done = subprocess.run(  # noqa: S603 (our own fixed commands)
            command,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
            **kwargs,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.fail(f"{what}: {' '.join(command)} could not run: {e}")
    if done.returncode != 0:
        pytest.fail(
            f"{what}: {' '.join(command)} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
        )


def ensure_node() -> tuple[str, str]:
    """`node` and `npm`, installed from Debian's packages if the machine lacks them."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node and npm:
        return node, npm
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        pytest.fail(
            "Node.js is needed for the supabase-js scenario: install `nodejs` and `npm`"
            " (this test installs them itself only as root on a machine with apt-get)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _run([apt, "update"], "apt-get update", env=env)
    _run(
        [apt, "install", "-y", "--no-install-recommends", "nodejs", "npm"],
        "installing Node.js",
        env=env,
    )
    node, npm = shutil.which("node"), shutil.which("npm")
    if not (node and npm):
        pytest.fail("apt-get installed nodejs and npm, but node or npm is not on PATH")
    return node, npm


def ensure_packages(npm: str) -> None:
    """`npm ci` unless node_modules was installed from this very lock file. A lock on a file
    beside it keeps two test runs from installing at once."""
    lock_hash = hashlib.sha256((JS / "package-lock.json").read_bytes()).hexdigest()
    with open(JS / ".install-lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if STAMP.exists() and STAMP.read_text().strip() == lock_hash:
            return
        _run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            "npm ci in tests/auth/js",
            cwd=JS,
        )
        STAMP.write_text(lock_hash + "\n")


@pytest.fixture(scope="session")
def node() -> str:
    """The `node` executable, with the scenario's packages installed."""
    node, npm = ensure_node()
    ensure_packages(npm)
    return node


def describe(mail: Mail) -> dict[str, Any]:
    """What the script needs of a mail: its code, its link's token and type, the link's path
    (to follow against the instance that sent it)."""
    link = urlsplit(mail.link)
    query = parse_qs(link.query)
    return {
        "subject": str(mail.message["subject"]),
        "otp": mail.otp,
        "token_hash": query["token"][0],
        "type": query["type"][0],
        "path": f"{link.path}?{link.query}",
    }


def mailbox(inbox: Inbox) -> Starlette:
    async def mails(request: Request) -> JSONResponse:
        address = request.query_params.get("to", "")
        return JSONResponse([describe(m) for m in inbox.to(address)])

    return Starlette(routes=[Route("/", mails)])


async def test_supabase_js_scenario(
    node: str, services: Services, smtp_url: str, inbox: Inbox
) -> None:
    def instance(**overrides: Any) -> Any:
        svc = services_with(
            services,
            SmtpMailer(smtp_url, services.settings.mail_from),
            smtp_url=smtp_url,
            refresh_reuse_interval=0,
            redirect_allow_list=["http://app.test/**"],
            **NO_LIMITS,
            **overrides,
        )
        return create_app(svc, manage_pool=False)

    async with (
        serve_asgi(instance(email_confirm=False)) as plain,
        serve_asgi(instance(email_confirm=True, email_send_interval=0)) as confirm,
        serve_asgi(mailbox(inbox)) as mail,
    ):
        env = {
            **os.environ,
            "MOMENTO_PLAIN_URL": plain,
            "MOMENTO_CONFIRM_URL": confirm,
            "MOMENTO_MAIL_URL": f"{mail}/",
            "MOMENTO_REDIRECT": REDIRECT,
            "NO_COLOR": "1",
        }
        child = await asyncio.create_subprocess_exec(
            node,
            "scenario.mjs",
            cwd=JS,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            output, _ = await asyncio.wait_for(child.communicate(), SCENARIO_TIMEOUT)
        except TimeoutError:
            child.kill()
            output, _ = await child.communicate()
            pytest.fail(f"the scenario ran over {SCENARIO_TIMEOUT} s:\n{output.decode()}")
    text = output.decode()  # each step's line; the failing one says what it expected
    assert child.returncode == 0, f"the supabase-js scenario failed:\n{text}"
    assert "supabase-js scenario: all" in text, text
