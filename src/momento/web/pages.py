"""The guest pages (issue 17): what a QR code on the table opens in a phone's browser.

- `/j/{code}`: join (a display name signs in a guest, or email and password an account),
  then the event page: the countdown, your own photos and the totals before the reveal, the
  upload button (camera or library, several files, per-file progress and retry), and after
  it the gallery (likes, one photo's download, "photos I liked", the ZIP).
- `/j/{code}/show`: the slideshow for a TV or projector: the countdown and how many photos
  are waiting until `release_at` (never a photo), then the revealed photos in a loop, new
  ones joining as they arrive.

Server-rendered shells (Jinja2) and plain JS from `/web/static`: no build step, no CDN. The
pages call the same API as the app (`/auth/v1`, `/v1`), with the session kept in the
browser's localStorage and sent as a bearer token: no cookie authenticates anything. The
join code is in these URLs, so they are sent with `Referrer-Policy: no-referrer` (a photo's
storage host or a link never learns it), and nothing here is cached by shared caches.
"""

from __future__ import annotations

import re
from importlib.resources import files
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse, Response

STATIC_PATH = "/web/static"
_HERE = files("momento.web")
_TEMPLATES = Environment(
    loader=FileSystemLoader(str(_HERE / "templates")),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
)
_CODE = re.compile(r"[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}")

# No inline script or style: scripts and styles come from this server only. Photos come from
# the storage's signed URLs (this server's /files or an S3 host) and blurhash canvases; the
# uploads PUT to those URLs too.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: http: data:"
    " blob:; connect-src 'self' https: http:; object-src 'none'; base-uri 'none';"
    " frame-ancestors 'none'; form-action 'self'"
)
HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
}

router = APIRouter(include_in_schema=False)


def _page(template: str, status: int = 200, **context: Any) -> Response:
    html = _TEMPLATES.get_template(template).render(static=STATIC_PATH, **context)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _code(code: str) -> str | None:
    cleaned = code.strip().upper()
    return cleaned if _CODE.fullmatch(cleaned) else None


@router.get("/j/{code}")
async def join_page(code: str) -> Response:
    """Join the event, then its page."""
    found = _code(code)
    if found is None:
        return _page("missing.html", status=404)
    return _page("event.html", code=found)


@router.get("/j/{code}/show")
async def slideshow_page(code: str) -> Response:
    """The slideshow."""
    found = _code(code)
    if found is None:
        return _page("missing.html", status=404)
    return _page("show.html", code=found)


def install_pages(app: FastAPI) -> None:
    """The guest pages and their static files."""
    app.include_router(router)
    app.mount(STATIC_PATH, _Static(directory=str(_HERE / "static")), name="web-static")


class _Static(StaticFiles):
    """Static files, revalidated (they change with the server, without a build hash)."""

    async def get_response(self, path: str, scope: Any) -> Response:
        response = await super().get_response(path, scope)
        response.headers.setdefault("Cache-Control", "no-cache")
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
