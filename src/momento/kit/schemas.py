"""Pieces every domain's schemas share: UTC timestamps and what OpenAPI says about routes."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import AfterValidator, BaseModel

from momento.errors import (
    BadRequest,
    InvalidToken,
    MomentoError,
    PayloadTooLarge,
    Unauthorized,
    ValidationFailed,
)


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


# A timestamp sent to clients: converted to UTC whatever the session time zone, so it is
# serialised as RFC 3339 with a "Z" suffix ("2026-05-01T18:00:00Z").
UtcDatetime = Annotated[datetime, AfterValidator(_to_utc)]


class Problem(BaseModel):
    """An error, as RFC 9457 application/problem+json."""

    type: str
    title: str
    status: int
    detail: str
    code: str


_PROBLEM_SCHEMA = Problem.model_json_schema()


# What a signed-in route can answer before its operation runs, for `problems(...)`: no token
# or a bad one; with path or query parameters, one that does not parse; with a body, one that
# is not JSON, is invalid or is too large.
SIGNED_IN: tuple[type[MomentoError], ...] = (Unauthorized, InvalidToken)
WITH_PARAMS = (*SIGNED_IN, ValidationFailed)
WITH_BODY = (*WITH_PARAMS, BadRequest, PayloadTooLarge)


def problems(*errors: type[MomentoError]) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status with the stable codes it may answer.

    Routes with a body or path parameters list ValidationFailed too, which replaces FastAPI's
    own 422 entry (a body the app never sends).
    """
    by_status: dict[int, list[type[MomentoError]]] = defaultdict(list)
    for err in errors:
        if err not in by_status[err.status]:
            by_status[err.status].append(err)
    out: dict[int | str, dict[str, Any]] = {}
    for status, errs in sorted(by_status.items()):
        lines = [f"`{e.code}`: {(e.__doc__ or e.title).strip()}" for e in errs]
        out[status] = {
            "description": "\n\n".join(lines),
            "content": {"application/problem+json": {"schema": _PROBLEM_SCHEMA}},
        }
    return out


def summaries_from_docstrings(router: APIRouter) -> None:
    """Make each handler's one-line docstring its OpenAPI summary (FastAPI would use it as the
    description and derive the summary from the function name)."""
    for route in router.routes:
        if isinstance(route, APIRoute) and route.summary is None and route.endpoint.__doc__:
            doc = route.endpoint.__doc__.strip()
            route.summary = doc
            if route.description == doc:
                route.description = ""
