"""The guest pages' shells and assets over HTTP (the browser tests drive them for real):
headers for pages that carry a join code, no cookie, every asset served by the server."""

from __future__ import annotations

import re

import httpx


async def test_pages_carry_no_referrer_and_set_no_cookie(client: httpx.AsyncClient) -> None:
    for path in ("/j/ABCDEF", "/j/abcdef", "/j/ABCDEF/show"):
        r = await client.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith("text/html")
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["cache-control"] == "no-store"
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert "set-cookie" not in r.headers
        assert 'data-code="ABCDEF"' in r.text
    r = await client.get("/j/NOT-A-CODE")
    assert r.status_code == 404
    assert r.headers["referrer-policy"] == "no-referrer"


async def test_every_asset_is_served_here(client: httpx.AsyncClient) -> None:
    """No CDN: each script and stylesheet a page names is a local path that answers."""
    for path in ("/j/ABCDEF", "/j/ABCDEF/show"):
        html = (await client.get(path)).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert assets
        for asset in assets:
            assert asset.startswith("/web/static/"), asset
            r = await client.get(asset)
            assert r.status_code == 200, asset
            assert r.headers["x-content-type-options"] == "nosniff"
            kind = "javascript" if asset.endswith(".js") else "css"
            assert kind in r.headers["content-type"], asset
