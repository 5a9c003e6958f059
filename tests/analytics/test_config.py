"""GET /v1/config: PostHog's project key and host, photo limits, the caller's flags."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from momento.analytics import NoAnalytics, PostHogAnalytics, from_settings
from momento.config import Settings, SettingsError, load_settings
from momento.services import Services
from tests.analytics.helpers import Wired
from tests.factories import TestUser, assert_problem, create_user
from tests.fakes.posthog import API_KEY

BOUND = 5.0


async def _config(client: httpx.AsyncClient, user: TestUser) -> dict[str, Any]:
    r = await asyncio.wait_for(client.get("/v1/config", headers=user.headers), BOUND)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_config_with_flags(wired: Wired, services: Services) -> None:
    alice, bob = await create_user(services), await create_user(services)
    wired.fake.set_flags(alice.id, {"new-feed": True, "layout": "grid", "beta": False})
    body = await _config(wired.client, alice)
    settings = wired.services.settings
    assert body == {
        "posthog": {"api_key": API_KEY, "host": wired.fake.url},
        "photo_limits": {
            "free": settings.photo_limit_free,
            "premium": settings.photo_limit_premium,
        },
        "max_upload_bytes": settings.max_upload_bytes,
        "feature_flags": {"new-feed": True, "layout": "grid", "beta": False},
    }
    assert (await _config(wired.client, bob))["feature_flags"] == {}
    asked = [r["distinct_id"] for r in wired.fake.flag_requests]
    assert asked == [str(alice.id), str(bob.id)]
    assert all(r["api_key"] == API_KEY for r in wired.fake.flag_requests)


@pytest.mark.parametrize("status", [500, 503, 401])
async def test_flags_failing(wired: Wired, services: Services, status: int) -> None:
    alice = await create_user(services)
    wired.fake.set_flags(alice.id, {"new-feed": True})
    wired.fake.fail_flags(status)
    body = await _config(wired.client, alice)
    assert body["feature_flags"] == {}
    assert body["posthog"]["api_key"] == API_KEY


async def test_flags_hanging(wired: Wired, services: Services) -> None:
    alice = await create_user(services)
    wired.fake.set_flags(alice.id, {"new-feed": True})
    wired.fake.hold()
    # The flags timeout is 0.5 s; the fake holds until released.
    assert (await _config(wired.client, alice))["feature_flags"] == {}
    assert wired.fake.held >= 1
    wired.fake.release()


async def test_flags_posthog_down(wired: Wired, services: Services) -> None:
    alice = await create_user(services)
    wired.fake.stop()
    assert (await _config(wired.client, alice))["feature_flags"] == {}


async def test_flags_cached_for_ttl(wired: Wired, services: Services) -> None:
    alice = await create_user(services)
    wired.analytics.flags_ttl = 60
    wired.fake.set_flags(alice.id, {"new-feed": True})
    assert (await _config(wired.client, alice))["feature_flags"] == {"new-feed": True}
    wired.fake.set_flags(alice.id, {"new-feed": False})
    assert (await _config(wired.client, alice))["feature_flags"] == {"new-feed": True}
    assert len(wired.fake.flag_requests) == 1
    # A failure is not cached.
    bob = await create_user(services)
    wired.fake.fail_flags(500)
    assert (await _config(wired.client, bob))["feature_flags"] == {}
    wired.fake.fail_flags(0)
    wired.fake.set_flags(bob.id, {"beta": True})
    assert (await _config(wired.client, bob))["feature_flags"] == {"beta": True}


async def test_config_needs_a_token(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/config"), 401, "unauthorized")


async def test_config_not_configured(client: httpx.AsyncClient, services: Services) -> None:
    alice = await create_user(services)
    body = await _config(client, alice)
    assert body["posthog"] == {"api_key": None, "host": "https://us.i.posthog.com"}
    assert body["feature_flags"] == {}


async def test_openapi_documents_config(client: httpx.AsyncClient) -> None:
    operation = (await client.get("/openapi.json")).json()["paths"]["/v1/config"]["get"]
    assert operation["summary"]
    assert set(operation["responses"]) == {"200", "401"}


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTHOG_API_KEY", " phc_from_env ")
    monkeypatch.setenv("POSTHOG_HOST", "https://eu.i.posthog.com/")
    settings = Settings(_env_file=None)
    assert settings.posthog_api_key == "phc_from_env"
    assert settings.posthog_host == "https://eu.i.posthog.com"
    monkeypatch.setenv("POSTHOG_API_KEY", "  ")
    assert Settings(_env_file=None).posthog_api_key is None


def test_settings_refuse_a_bad_host() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(posthog_host="eu.i.posthog.com", posthog_api_key="phc_secret_value")
    assert caught.value.problems[0].startswith("POSTHOG_HOST:")
    assert "phc_secret_value" not in str(caught.value)


async def test_analytics_built_only_with_a_key(settings: Settings) -> None:
    assert isinstance(from_settings(settings), NoAnalytics)
    configured = from_settings(settings.model_copy(update={"posthog_api_key": API_KEY}))
    assert isinstance(configured, PostHogAnalytics)
    await configured.close()
