"""The ASGI application: routers, error rendering, limits, health checks."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import orjson
import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from procrastinate.exceptions import ConnectorException
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from momento import __version__, logs
from momento.analytics.endpoints import router as analytics_router
from momento.auth.apple.endpoints import router as apple_router
from momento.auth.endpoints import router as auth_router
from momento.auth.errors import gotrue_response, render_gotrue
from momento.billing.endpoints import router as billing_router
from momento.billing.endpoints import webhook_router as revenuecat_webhook_router
from momento.config import Environment, load_settings
from momento.db.listener import listening
from momento.errors import (
    BadRequest,
    DatabaseUnavailable,
    InsufficientStorage,
    MomentoError,
    NotFound,
    PayloadTooLarge,
    StorageUnavailable,
    ValidationFailed,
    problem_response,
    render,
)
from momento.events.endpoints import router as events_router
from momento.jobs.queue import run_worker
from momento.photos.endpoints import router as photos_router
from momento.photos.fastpath import FeedFastPath
from momento.profiles.endpoints import router as profiles_router
from momento.realtime.endpoints import router as realtime_router
from momento.services import Services, build_services, process_listener, running
from momento.storage import StorageError, StorageFull, StorageNotFound
from momento.storage.endpoints import router as files_router
from momento.web.docs import install_docs
from momento.web.pages import install_pages

log = logs.get("momento.app")


class BodyLimit:
    """Refuse request bodies over the limit before they are read into memory.

    A declared Content-Length over the limit is answered at once. A chunked body is counted
    as it streams; once over, this middleware answers 413 itself, tells the app the client
    went away (so it stops reading) and drops whatever the app tries to send afterwards.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Signed file uploads carry their own size cap (momento.storage.endpoints).
        if scope["type"] != "http" or scope["path"].startswith("/files/"):
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await render(BadRequest("Content-Length is not a number."))(
                        scope, receive, send
                    )
                    return
                if declared > self.max_bytes:
                    await render(self._error())(scope, receive, send)
                    return
        seen = 0
        refused = False
        started = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        async def limited() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes and not refused:
                    if not started:
                        await render(self._error())(scope, receive, send)
                    refused = True
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, limited, guarded_send)

    def _error(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"The request body is larger than {self.max_bytes} bytes.")


def _validation_detail(exc: RequestValidationError) -> tuple[MomentoError, list[dict[str, Any]]]:
    problems = []
    malformed = False
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            malformed = True
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        problems.append(
            {
                "field": ".".join(loc),
                "message": err.get("msg", "invalid"),
                "type": err.get("type", ""),
            }
        )
    if malformed:
        return BadRequest("The request body is not valid JSON."), problems
    fields = ", ".join(p["field"] or "body" for p in problems)
    return ValidationFailed(f"Invalid request: {fields}."), problems


def _render(request: Request, exc: MomentoError) -> Response:
    if request.app.state.check_declared and undeclared(request, exc):
        log.error(
            "undeclared error",
            path=request.url.path,
            route=getattr(request.scope.get("route"), "path", None),
            status=exc.status,
            code=exc.code,
        )
        return problem_response(
            500,
            "undeclared_problem",
            f"{exc.status} `{exc.code}` is not in this route's declared responses.",
            "Internal Server Error",
        )
    if request.url.path.startswith("/auth/v1"):
        return render_gotrue(request, exc)
    return render(exc)


def dependency_fault(exc: BaseException) -> MomentoError | None:
    """The answer to an error from the database or the storage that no handler caught.

    Domain code translates what it can explain; this is the net under it, so that a database
    restart, a storage outage or a full disk is a 503 (or 507) the client retries, never a 500.
    """
    if isinstance(exc, StorageFull):
        return InsufficientStorage()
    if isinstance(exc, StorageNotFound):
        return NotFound("The file is not stored (any more).")
    if isinstance(exc, StorageError):
        return StorageUnavailable()
    # A lost connection or a pool timeout (psycopg_pool.PoolTimeout is an OperationalError),
    # or a job deferred by the request meeting the same outage in the job queue's own pool.
    if isinstance(exc, psycopg.OperationalError | ConnectorException):
        return DatabaseUnavailable()
    return None


def undeclared(request: Request, exc: MomentoError) -> bool:
    """Whether a route answers a client error (4xx) that its OpenAPI `responses` do not list.

    Each route declares its errors once (`momento.errors.raises` on the operation, read by
    `problems(...)`); in tests every error answered is checked against that declaration, so
    the documentation cannot fall behind the code. 5xx answers are the dependency faults any
    route may give (`dependency_fault`), not part of a route's contract."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not 400 <= exc.status < 500:
        return False
    entry = route.responses.get(exc.status) or route.responses.get(str(exc.status)) or {}
    return f"`{exc.code}`" not in str(entry.get("description", ""))


def install_error_handlers(app: FastAPI, *, check_declared: bool = False) -> None:
    app.state.check_declared = check_declared

    async def momento_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, MomentoError)
        return _render(request, exc)

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        err, problems = _validation_detail(exc)
        err.extra["errors"] = problems
        return _render(request, err)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        codes = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}
        code = codes.get(exc.status_code, "http_error")
        if request.url.path.startswith("/auth/v1"):
            # An unknown auth route (or method) in the dialect the Supabase clients read.
            return gotrue_response(
                request,
                exc.status_code,
                code,
                str(exc.detail),
                code.replace("_", " ").capitalize(),
                dict(exc.headers or {}),
            )
        return problem_response(
            exc.status_code,
            code,
            str(exc.detail),
            code.replace("_", " ").capitalize(),
            headers=dict(exc.headers or {}),
        )

    async def unhandled(request: Request, exc: Exception) -> Response:
        if isinstance(exc, ClientDisconnect):
            # The client went away, or BodyLimit cut the body off and answered already.
            return Response(status_code=400)
        fault = dependency_fault(exc)
        if fault is not None:
            # A dependency is down or full: a clear answer the client can retry, not a 500.
            log.warning(
                "dependency fault",
                path=request.url.path,
                method=request.method,
                code=fault.code,
                error=type(exc).__name__,
            )
            return _render(request, fault)
        log.exception("unhandled error", path=request.url.path, method=request.method)
        return problem_response(
            500, "internal_error", "Something went wrong on our side.", "Internal Server Error"
        )

    app.add_exception_handler(MomentoError, momento_error)
    # Handled inside the app (the catch-all below runs in the outermost middleware, which
    # logs a traceback and re-raises after answering).
    for kind in (psycopg.OperationalError, ConnectorException, StorageError):
        app.add_exception_handler(kind, unhandled)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unhandled)


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def create_app(services: Services, *, manage_pool: bool = True) -> FastAPI:
    """The application. With `manage_pool`, the pool opens and closes with the lifespan."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not manage_pool:
            yield
            return
        async with AsyncExitStack() as stack:
            try:
                await stack.enter_async_context(running(services))
            except StorageError as exc:
                # S3 down or hanging does not stop or delay the start (it is checked in the
                # background); a missing bucket or refused credentials do, said in one line
                # before uvicorn's traceback of the failed startup.
                log.error("cannot use the storage; not starting", error=str(exc))
                raise
            # One LISTEN connection per process: signed local URLs of deleted files are
            # refused at once (issue 14), and the realtime streams' changes fan out (issue 15).
            await stack.enter_async_context(listening(process_listener(services)))
            services.realtime.start()
            stack.push_async_callback(services.realtime.stop)
            if services.settings.inprocess_worker:
                # Embedded mode needs one command: the job worker runs beside the API.
                worker = asyncio.create_task(
                    run_worker(
                        services,
                        install_signal_handlers=False,
                        name="serve",
                        concurrency=services.settings.worker_concurrency,
                    ),
                    name="momento-worker",
                )
                stack.push_async_callback(_stop, worker)
            # Everything made at start lives as long as the process: out of the collector's
            # sight, a full collection no longer walks it (tens of ms, a latency spike).
            gc.freeze()
            yield

    app = FastAPI(
        title="Momento Server",
        version=__version__,
        description="Shared event photos with a timed reveal.",
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
    install_error_handlers(app, check_declared=services.settings.env == Environment.test)
    install_docs(app)
    install_pages(app)
    app.include_router(auth_router, prefix="/auth/v1")
    app.include_router(profiles_router, prefix="/v1")
    app.include_router(apple_router, prefix="/v1")
    app.include_router(photos_router, prefix="/v1")
    app.include_router(events_router, prefix="/v1")
    app.include_router(realtime_router, prefix="/v1")
    app.include_router(analytics_router, prefix="/v1")
    app.include_router(billing_router, prefix="/v1")
    app.include_router(files_router)
    app.include_router(revenuecat_webhook_router)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> Response:
        """Ready when the database answers. The push channel's state is reported too
        (`push`: console, connecting, connected, unavailable, misconfigured) without deciding
        readiness: notifications wait in the job queue while APNs is away. So is the
        storage's (`storage`: local, connecting, ready, unavailable, misconfigured, and
        `storage_error`): feeds and auth work without S3, uploads answer 503 until it is back."""
        if not await services.db.ping():
            raise DatabaseUnavailable("The database is not reachable.")
        return Response(
            orjson.dumps(
                {
                    "status": "ok",
                    "database": "ok",
                    **services.push.health(),
                    **services.storage.health(),
                }
            ),
            media_type="application/json",
        )

    app.add_middleware(FeedFastPath, services=services)
    app.add_middleware(BodyLimit, max_bytes=services.settings.max_body_bytes)
    return app


def factory() -> FastAPI:
    """The app from the environment's settings, for `uvicorn --factory momento.app:factory`
    (what `momento serve --workers N` runs in each worker). DATABASE_URL must be set."""
    settings = load_settings()
    if settings.database_url is None:
        raise RuntimeError("DATABASE_URL must be set to run the app from a factory")
    logs.configure(settings.log_level, settings.log_json)
    return create_app(build_services(settings, settings.database_url))
