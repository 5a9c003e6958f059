"""What every request handler may depend on: the services and the caller's identity."""

from __future__ import annotations

import uuid
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Annotated, Any

import procrastinate
from fastapi import Depends, Request

from momento.analytics.client import Analytics, NoAnalytics
from momento.auth.tokens import TokenService
from momento.config import Settings
from momento.db import Database
from momento.errors import Unauthorized
from momento.kit.ratelimit import RateLimiter
from momento.mail import Mailer
from momento.push.apns import ConsoleSender, Sender
from momento.storage import NoStorage, Storage


@dataclass
class Services:
    """Built once at start and shared by every request (see `momento.app.create_app`)."""

    settings: Settings
    db: Database
    tokens: TokenService
    mailer: Mailer
    limiter: RateLimiter
    # The job queue (procrastinate); opened with the app, also what workers run.
    jobs: procrastinate.App
    # Photo files; `momento.app.build_services` sets the configured backend.
    storage: Storage = field(default_factory=NoStorage)
    # Where image work runs, off the event loop (None: the loop's default thread pool).
    image_executor: Executor | None = None
    # Product analytics (PostHog); `build_services` sets it when POSTHOG_API_KEY is set.
    analytics: Analytics = field(default_factory=NoAnalytics)
    # Push notifications: APNs when configured (`momento.push.from_settings`), else logged.
    push: Sender = field(default_factory=ConsoleSender)


@dataclass(frozen=True)
class CurrentUser:
    id: uuid.UUID
    claims: dict[str, Any]
    token: str


# Dependencies are `async def` on purpose: FastAPI runs a plain `def` dependency in a worker
# thread, a thread hop per dependency per request; these do no blocking work.
async def get_services(request: Request) -> Services:
    return services_of(request)


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def get_current_user(request: Request) -> CurrentUser:
    token = bearer_token(request)
    if token is None:
        raise Unauthorized("An access token is required (Authorization: Bearer <token>).")
    claims = services_of(request).tokens.verify(token)
    return CurrentUser(uuid.UUID(claims["sub"]), claims, token)


ServicesDep = Annotated[Services, Depends(get_services)]
UserDep = Annotated[CurrentUser, Depends(get_current_user)]


def client_ip(request: Request) -> str:
    """The caller's address (uvicorn resolves X-Forwarded-For from trusted proxies)."""
    return request.client.host if request.client else "unknown"
