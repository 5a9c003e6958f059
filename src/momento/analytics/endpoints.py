"""GET /v1/config: what the app needs at start, feature flags for the caller included."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from momento.analytics.client import FlagValue
from momento.deps import ServicesDep, UserDep
from momento.errors import InvalidToken, Unauthorized
from momento.kit.schemas import problems, summaries_from_docstrings

router = APIRouter(tags=["config"])


class PostHogConfig(BaseModel):
    api_key: str | None = Field(
        description="The PostHog project key for the app's own capture; null: analytics off."
    )
    host: str = Field(description="The PostHog host to send to.")


class PhotoLimits(BaseModel):
    free: int = Field(description="Photos one member may add to a free event.")
    premium: int = Field(description="Photos one member may add to a premium event.")


class AppConfig(BaseModel):
    posthog: PostHogConfig
    photo_limits: PhotoLimits
    max_upload_bytes: int = Field(description="The largest photo file accepted.")
    feature_flags: dict[str, FlagValue] = Field(
        description="Flags evaluated for the caller by PostHog (true/false or a variant);"
        " empty when analytics is off or PostHog did not answer in time."
    )


@router.get(
    "/config",
    response_model=AppConfig,
    responses=problems(Unauthorized, InvalidToken),
    description="Feature flags come from PostHog under a short timeout: a slow or unreachable"
    " PostHog gives an empty set, never an error.",
)
async def get_config(services: ServicesDep, user: UserDep) -> AppConfig:
    """Get the app's configuration."""
    settings = services.settings
    return AppConfig(
        posthog=PostHogConfig(
            api_key=settings.posthog_api_key,
            host=settings.posthog_host,
        ),
        photo_limits=PhotoLimits(
            free=settings.photo_limit_free, premium=settings.photo_limit_premium
        ),
        max_upload_bytes=settings.max_upload_bytes,
        feature_flags=await services.analytics.flags(user.id),
    )


summaries_from_docstrings(router)
