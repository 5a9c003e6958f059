"""Errors every layer raises and how they reach the client.

`MomentoError` subclasses carry an HTTP status and a stable `code` that clients may switch on;
the class docstring is the default detail. They are rendered as RFC 9457
`application/problem+json`: `{"type","title","status","detail","code"}`. The auth routes under
`/auth/v1` speak GoTrue's error dialect instead (see `momento.auth.errors`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import orjson
from starlette.responses import Response

PROBLEM_JSON = "application/problem+json"


class MomentoError(Exception):
    """Something went wrong."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal Server Error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.detail = detail or (self.__doc__ or self.title).strip()
        self.headers = headers or {}
        self.extra = extra or {}
        super().__init__(self.detail)

    def body(self) -> dict[str, Any]:
        return {
            "type": f"https://momento.app/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            **self.extra,
        }


def problem_response(
    status: int,
    code: str,
    detail: str,
    title: str,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    body = {
        "type": f"https://momento.app/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        **(extra or {}),
    }
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def render(exc: MomentoError) -> Response:
    return Response(
        orjson.dumps(exc.body()),
        status_code=exc.status,
        media_type=PROBLEM_JSON,
        headers=exc.headers,
    )


# --- 4xx ---------------------------------------------------------------------------------


class BadRequest(MomentoError):
    """The request could not be understood."""

    status = 400
    code = "bad_request"
    title = "Bad Request"


class ValidationFailed(MomentoError):
    """The request body or parameters are not valid."""

    status = 422
    code = "validation_failed"
    title = "Unprocessable Content"


class Unauthorized(MomentoError):
    """A valid access token is required."""

    status = 401
    code = "unauthorized"
    title = "Unauthorized"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="momento"'})


class InvalidToken(Unauthorized):
    """The access token is invalid or has expired."""

    code = "invalid_token"


class InvalidTicket(Unauthorized):
    """The ticket is unknown, used, expired, for something else, or its session has ended."""

    code = "invalid_ticket"


class Forbidden(MomentoError):
    """You are not allowed to do that."""

    status = 403
    code = "forbidden"
    title = "Forbidden"


class NotFound(MomentoError):
    """Not found."""

    status = 404
    code = "not_found"
    title = "Not Found"


class Conflict(MomentoError):
    """The request conflicts with the current state."""

    status = 409
    code = "conflict"
    title = "Conflict"


class PayloadTooLarge(MomentoError):
    """The request body is too large."""

    status = 413
    code = "payload_too_large"
    title = "Content Too Large"


class RetryLater(MomentoError):
    """An answer the client may try again after a while: the wait goes in the `Retry-After`
    header and in the body's `retry_after` (seconds, at least 1)."""

    # The wait when the raiser names none.
    retry_after: int = 5

    def __init__(
        self,
        detail: str | None = None,
        *,
        retry_after: int | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        wait = max(1, retry_after if retry_after is not None else self.retry_after)
        super().__init__(
            detail,
            headers={"Retry-After": str(wait), **(headers or {})},
            extra={"retry_after": wait, **(extra or {})},
        )
        self.retry_after = wait


class RateLimited(RetryLater):
    """Too many requests; try again later."""

    status = 429
    code = "rate_limited"
    title = "Too Many Requests"

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        super().__init__(detail, retry_after=retry_after)


class ServiceUnavailable(RetryLater):
    """The service is not ready."""

    status = 503
    code = "unavailable"
    title = "Service Unavailable"


class DatabaseUnavailable(ServiceUnavailable):
    """The database cannot be reached right now; try again shortly."""

    code = "database_unavailable"
    retry_after = 2


class StorageUnavailable(ServiceUnavailable):
    """File storage cannot be reached right now; try again shortly."""

    code = "storage_unavailable"


class InsufficientStorage(RetryLater):
    """The server has no room to store this file right now; try again later."""

    status = 507
    code = "insufficient_storage"
    title = "Insufficient Storage"
    retry_after = 60


# Which errors a domain operation can answer with, declared once, on the operation: the
# route's OpenAPI `responses` are made from it (`raised_by`), and in tests an error a route
# answers with that its declaration lacks is reported (momento.app, `check_declared`).
_DECLARED: dict[Callable[..., Any], tuple[type[MomentoError], ...]] = {}

F = TypeVar("F", bound=Callable[..., Any])


def raises(*errors: type[MomentoError]) -> Callable[[F], F]:
    """Declare the errors the decorated operation answers with (the function is unchanged)."""

    def declare(fn: F) -> F:
        _DECLARED[fn] = errors
        return fn

    return declare


def raised_by(*operations: Callable[..., Any]) -> tuple[type[MomentoError], ...]:
    """The errors the operations declared with `raises`, in order, each once."""
    out: list[type[MomentoError]] = []
    for op in operations:
        for err in _DECLARED[op]:
            if err not in out:
                out.append(err)
    return tuple(out)
