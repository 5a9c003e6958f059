"""A browser's EventSource (headless Chromium) follows an event through a stream ticket: the
access token never in the URL, messages with their ids and types."""

from __future__ import annotations

from typing import Any

import httpx

from momento.services import Services
from tests.browser import browser_page
from tests.factories import add_members, create_users, make_event
from tests.realtime.helpers import instance

OPEN = """
(url) => {
  window.got = [];
  window.opened = false;
  window.errors = 0;
  const es = new EventSource(url);
  window.es = es;
  es.onopen = () => { window.opened = true; };
  es.onerror = () => { window.errors += 1; };
  for (const type of ["member_joined", "photo_added", "end", "resync"]) {
    es.addEventListener(type, (e) => {
      window.got.push({type: e.type, id: e.lastEventId, data: JSON.parse(e.data)});
    });
  }
}
"""


async def test_eventsource_in_chromium_receives_messages_through_a_ticket(
    services: Services,
) -> None:
    host, newcomer = await create_users(services, 2)
    event = await make_event(services, host)
    async with instance(services) as (_, origin), browser_page() as page:
        await page.goto(f"{origin}/healthz")  # same origin as the stream
        async with httpx.AsyncClient(base_url=origin) as client:
            r = await client.post(f"/v1/events/{event}/stream-ticket", headers=host.headers)
            assert r.status_code == 200, r.text
            ticket = r.json()["ticket"]
        await page.evaluate(OPEN, f"/v1/events/{event}/stream?ticket={ticket}")
        await page.wait_for_function("window.opened === true", timeout=10_000)
        await add_members(services, event, [newcomer])
        await page.wait_for_function("window.got.length > 0", timeout=10_000)
        got: list[dict[str, Any]] = await page.evaluate("window.got")
        await page.evaluate("window.es.close()")
        assert got[0]["type"] == "member_joined"
        assert got[0]["data"] == {"user_id": str(newcomer.id), "username": newcomer.username}
        assert int(got[0]["id"]) > 0
