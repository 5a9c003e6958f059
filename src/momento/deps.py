"""FastAPI dependencies: what every request handler may depend on (the services and the
caller's identity). Only the web layer imports this module; domain code takes `Services`
from `momento.services`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request

from momento.errors import Unauthorized
from momento.identity import CurrentUser
from momento.services import Services
from momento.web.http import bearer_of


# Dependencies are `async def` on purpose: FastAPI runs a plain `def` dependency in a worker
# thread, a thread hop per dependency per request; these do no blocking work.
async def get_services(request: Request) -> Services:
    return services_of(request)


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def bearer_token(request: Request) -> str | None:
    return bearer_of(request.headers.get("authorization"))


def authenticate(services: Services, token: str) -> CurrentUser:
    """The caller a verified access token names (raises InvalidToken)."""
    claims = services.tokens.verify(token)
    return CurrentUser(uuid.UUID(claims["sub"]), claims, token)


async def get_current_user(request: Request) -> CurrentUser:
    token = bearer_token(request)
    if token is None:
        raise Unauthorized("An access token is required (Authorization: Bearer <token>).")
    return authenticate(services_of(request), token)


ServicesDep = Annotated[Services, Depends(get_services)]
UserDep = Annotated[CurrentUser, Depends(get_current_user)]


def client_ip(request: Request) -> str:
    """The caller's address (uvicorn resolves X-Forwarded-For from trusted proxies)."""
    return request.client.host if request.client else "unknown"
