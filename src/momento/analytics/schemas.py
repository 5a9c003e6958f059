"""What GET /v1/config answers."""

from __future__ import annotations

from pydantic import BaseModel, Field

from momento.analytics.client import FlagValue


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
