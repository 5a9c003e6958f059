"""The app's start-up configuration: PostHog's project key, photo limits, feature flags."""

from __future__ import annotations

from typing import TYPE_CHECKING

from momento.analytics.schemas import AppConfig, PhotoLimits, PostHogConfig
from momento.errors import raises
from momento.identity import CurrentUser

if TYPE_CHECKING:
    from momento.services import Services


@raises()
async def app_config(services: Services, user: CurrentUser) -> AppConfig:
    """Feature flags are the caller's, from PostHog under a short timeout (empty when PostHog
    is off, slow or unreachable)."""
    settings = services.settings
    return AppConfig(
        posthog=PostHogConfig(api_key=settings.posthog_api_key, host=settings.posthog_host),
        photo_limits=PhotoLimits(
            free=settings.photo_limit_free, premium=settings.photo_limit_premium
        ),
        max_upload_bytes=settings.max_upload_bytes,
        feature_flags=await services.analytics.flags(user.id),
    )
