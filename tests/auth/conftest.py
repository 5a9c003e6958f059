"""Auth test fixtures: a real SMTP server, apps with other settings, a real HTTP server.

Mail goes over SMTP to an aiosmtpd server on 127.0.0.1 (a free port), so the bytes are what
production sends. The supabase_auth client talks to uvicorn serving the app on 127.0.0.1 in
the test's own event loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
import re
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from aiosmtpd.controller import Controller

from momento.app import create_app
from momento.kit.ratelimit import RateLimiter
from momento.mail import Mailer, SmtpMailer
from momento.services import Services


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Mail:
    sender: str
    to: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        body = self.message.get_body(("plain",))
        assert body is not None
        content: str = body.get_content()
        return content

    @property
    def link(self) -> str:
        found = re.search(r"https?://\S+/auth/v1/verify\?\S+", self.text)
        assert found, self.text
        return found.group(0)

    @property
    def token_hash(self) -> str:
        return parse_qs(urlsplit(self.link).query)["token"][0]

    @property
    def otp(self) -> str:
        found = re.search(r"\b(\d{6})\b", self.text)
        assert found, self.text
        return found.group(1)


@dataclass
class Inbox:
    """What the SMTP server received."""

    mails: list[Mail] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"

    def to(self, address: str) -> list[Mail]:
        return [m for m in self.mails if address in m.to]


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[Controller, Inbox]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


@pytest.fixture
def inbox(smtp_server: tuple[Controller, Inbox]) -> Inbox:
    _, box = smtp_server
    box.mails.clear()
    return box


@pytest.fixture
def smtp_url(smtp_server: tuple[Controller, Inbox]) -> str:
    controller, _ = smtp_server
    return f"smtp://127.0.0.1:{controller.port}"


def services_with(services: Services, mailer: Mailer | None = None, **overrides: Any) -> Services:
    settings = services.settings.model_copy(update=overrides)
    return dataclasses.replace(
        services,
        settings=settings,
        mailer=mailer or services.mailer,
        limiter=RateLimiter(services.db, settings.rate_limit_window),
    )


def client_for(services: Services, client_ip: str = "127.0.0.1") -> httpx.AsyncClient:
    app = create_app(services, manage_pool=False)
    transport = httpx.ASGITransport(app=app, client=(client_ip, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def mail_client(services: Services, smtp_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client for an app that mails through the test SMTP server."""
    svc = services_with(
        services, SmtpMailer(smtp_url, services.settings.mail_from), smtp_url=smtp_url
    )
    async with client_for(svc) as c:
        yield c


@pytest.fixture
async def confirm_client(services: Services, smtp_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """As `mail_client`, with email confirmation on."""
    svc = services_with(
        services,
        SmtpMailer(smtp_url, services.settings.mail_from),
        smtp_url=smtp_url,
        email_confirm=True,
    )
    async with client_for(svc) as c:
        yield c


@asynccontextmanager
async def serve_live(services: Services) -> AsyncIterator[str]:
    """A real uvicorn server serving the app, in this event loop: its /auth/v1 base URL."""
    async with serve_asgi(create_app(services, manage_pool=False)) as origin:
        yield f"{origin}/auth/v1"


@asynccontextmanager
async def serve_asgi(app: Any) -> AsyncIterator[str]:
    """A real uvicorn server serving an ASGI app on 127.0.0.1, in this event loop: its origin
    (http://127.0.0.1:<port>)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_config=None, lifespan="off", ws="none", access_log=False, log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture
async def live_url(services: Services) -> AsyncIterator[str]:
    """The base URL of a real uvicorn server serving the app, in this event loop."""
    async with serve_live(services) as url:
        yield url
