"""The interactive API docs (/docs) served without a network, and the OpenAPI additions.

FastAPI's own /docs page loads Swagger UI from a CDN, so on a server without internet access
(or a phone on the event's Wi-Fi) it is a blank page. The JS and CSS come from the
`fastapi-offline` package instead: it is released every few months with the Swagger UI 5
bundle FastAPI's page uses (`swagger-ui-bundle`, the other packaged copy, is still on Swagger
UI 4 from 2022). Only its static files are used: its `FastAPIOffline` factory would replace
the app's constructor.

The schema gains what FastAPI cannot infer: the bearer JWT scheme, marked on every route that
depends on the signed-in user (so "Authorize" in /docs works), and how a photo upload goes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import fastapi.routing
from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

from momento.deps import get_current_user

if TYPE_CHECKING:
    from momento.config import Settings

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/assets"
BEARER = "bearerAuth"

_ASSETS_DIR = files("fastapi_offline") / "static"


def install_docs(app: FastAPI) -> None:
    """Serve /docs from local assets and document authentication and the upload flow.

    Create the app with `docs_url=None`; routes may be added before or after this call (the
    schema is built on the first request for it).
    """
    app.mount(ASSETS_PATH, StaticFiles(directory=str(_ASSETS_DIR)), name="docs-assets")

    @app.get(DOCS_PATH, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        # Behind a proxy that strips a path prefix, links must carry it back.
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - API docs",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            # Swagger UI would otherwise send the schema to validator.swagger.io for a badge.
            swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True},
        )

    completed: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        # FastAPI builds the schema again when routes were added since; add ours to each
        # new one, once.
        schema = FastAPI.openapi(app)
        if not any(done is schema for done in completed):
            settings = getattr(getattr(app.state, "services", None), "settings", None)
            _add_bearer_auth(schema, app)
            _add_upload_guide(schema, settings)
            completed[:] = [schema]
        return schema

    # FastAPI's documented way to customise the schema: replace the app's `openapi` method.
    app.openapi = openapi  # type: ignore[method-assign]


def needs_user(dependant: Dependant) -> bool:
    """Whether the route (or any dependency under it) depends on the signed-in user."""
    return any(dep.call is get_current_user or needs_user(dep) for dep in dependant.dependencies)


def _add_bearer_auth(schema: dict[str, Any], app: FastAPI) -> None:
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes[BEARER] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "The `access_token` from `POST /auth/v1/token?grant_type=password`"
        " (or `/auth/v1/signup`).",
    }
    paths = schema.get("paths", {})
    for path, methods, dependant in api_routes(app):
        if not needs_user(dependant):
            continue
        for method in methods:
            operation = paths.get(path, {}).get(method.lower())
            if operation is not None:
                operation["security"] = [{BEARER: []}]


def api_routes(app: FastAPI) -> Iterator[tuple[str, set[str], Dependant]]:
    """(path as in the schema, methods, dependencies) of each route the schema documents.

    FastAPI up to 0.13x copies an included router's routes into the app (`app.routes` are
    the APIRoutes); later versions keep the router and resolve its routes with their
    prefix and dependencies through `fastapi.routing.iter_route_contexts`, which is what
    the schema generation itself walks.
    """
    iter_contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    routes: Iterable[Any] = app.routes if iter_contexts is None else iter_contexts(app.routes)
    for route in routes:
        original = getattr(route, "original_route", route)
        if not isinstance(original, APIRoute) or not route.include_in_schema:
            continue
        dependant = route.dependant
        if route.path_format and route.methods and dependant is not None:
            yield route.path_format, set(route.methods), dependant


def _duration(seconds: int) -> str:
    if seconds and seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour" + ("s" if hours != 1 else "")
    if seconds and seconds % 60 == 0:
        return f"{seconds // 60} minutes"
    return f"{seconds} seconds"


def upload_guide(settings: Settings | None) -> str:
    """How to upload a photo (Markdown), with this server's limits when they are known."""
    if settings is None:
        grace = "`MOMENTO_UPLOAD_GRACE` (6 hours by default)"
        size = "`MOMENTO_MAX_UPLOAD_BYTES` (25 MB by default)"
        limits = "`MOMENTO_PHOTO_LIMIT_FREE` / `MOMENTO_PHOTO_LIMIT_PREMIUM` (100 / 1000)"
        ttl = "`MOMENTO_SIGNED_URL_TTL`"
        where = "this server's `/files/...` (local disk) or the S3 bucket"
    else:
        grace = f"`MOMENTO_UPLOAD_GRACE` ({_duration(settings.upload_grace)} on this server)"
        size = f"`MOMENTO_MAX_UPLOAD_BYTES` ({settings.max_upload_bytes} bytes on this server)"
        limits = (
            f"{settings.photo_limit_free} photos per member in a free event,"
            f" {settings.photo_limit_premium} in a premium one"
        )
        ttl = f"{_duration(settings.signed_url_ttl)} (`MOMENTO_SIGNED_URL_TTL`)"
        where = (
            "this server's `/files/...`, a URL signed by it (local-disk storage)"
            if settings.local_storage
            else "the S3 bucket, a presigned URL (this server never sees the bytes)"
        )
    return f"""\
A photo is uploaded in three steps:

1. **Create it**: `POST /v1/events/{{event_id}}/photos` with `captured_at`, `content_type`
   and `byte_size` (and your own `id`, so a retry returns the same photo instead of a second
   one). The answer (201, or 200 for a retry) holds the pending `photo` and an `upload`
   target: `url`, `method`, `headers`, `expires_at`, `max_bytes`.
2. **Send the bytes**: `PUT` the file to `upload.url` with exactly `upload.headers`
   (`Content-Type`), before `upload.expires_at`: {where}. The URL is valid for {ttl}; create
   the photo again with the same `id` for a fresh one.
3. **Complete it**: `POST /v1/photos/{{photo_id}}/complete`. The server checks and processes
   the file (type, size, pixel count, orientation, metadata stripped, display size, thumbnail,
   blurhash) and answers the photo, `uploaded`; a refused file answers 422 `photo_rejected`
   and the photo is `failed`.

Rules checked when the photo is created:

- **Capture window**: `captured_at` must lie between the event's `starts_at` and its
  `release_at` (and not more than 10 minutes in our future), else 422
  `outside_capture_window`.
- **Uploads close** at `release_at` plus {grace}, so photos shot offline before the reveal can
  still arrive; after that, 409 `uploads_closed`.
- **Size and type**: `content_type` one of image/jpeg, image/heic, image/heif, image/png,
  image/webp; `byte_size` at most {size}.
- **Photo limit**: {limits} (failed uploads do not count), else 409 `photo_limit_reached`.
"""


def _add_upload_guide(schema: dict[str, Any], settings: Settings | None) -> None:
    guide = upload_guide(settings)
    info = schema.setdefault("info", {})
    info["description"] = (
        info.get("description", "")
        + "\n\nSign in with `POST /auth/v1/token?grant_type=password`, then use **Authorize**"
        " with the `access_token`. Uploading a photo takes three requests: see the **photos**"
        " section."
    )
    tags: list[dict[str, Any]] = schema.setdefault("tags", [])
    for tag in tags:
        if tag.get("name") == "photos":
            tag["description"] = (tag.get("description", "") + "\n\n" + guide).strip()
            return
    tags.append({"name": "photos", "description": guide})
