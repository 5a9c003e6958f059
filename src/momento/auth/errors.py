"""GoTrue's error dialect for the /auth/v1 routes.

Supabase clients parse auth errors themselves: with `X-Supabase-Api-Version` in the request
they read `{"code": "<error_code>", "message": ...}` and expect the header echoed; without it,
the legacy `{"code": <status>, "error_code": ..., "msg": ...}`. The problem+json members
(`type`, `title`, `status`, `detail`) ride along so generic clients get the usual shape.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from momento.errors import PROBLEM_JSON, MomentoError

API_VERSION_HEADER = "X-Supabase-Api-Version"
API_VERSION = "2024-01-01"


class AuthError(MomentoError):
    """An authentication error with one of GoTrue's error codes."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, headers=headers, extra=extra)
        self._status = status
        self._code = code

    @property
    def status(self) -> int:  # type: ignore[override]
        return self._status

    @property
    def code(self) -> str:  # type: ignore[override]
        return self._code

    @property
    def title(self) -> str:  # type: ignore[override]
        return self._code.replace("_", " ").capitalize()


def render_gotrue(request: Request, exc: MomentoError) -> Response:
    status, code, message = exc.status, exc.code, exc.detail
    body: dict[str, Any] = {
        "type": f"https://momento.app/problems/{code}",
        "title": exc.title,
        "status": status,
        "detail": message,
        **exc.extra,
    }
    headers = dict(exc.headers)
    if request.headers.get(API_VERSION_HEADER):
        body["code"] = code
        body["message"] = message
        headers[API_VERSION_HEADER] = API_VERSION
    else:
        body["code"] = status
        body["error_code"] = code
        body["msg"] = message
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )
