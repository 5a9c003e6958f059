"""GET /v1/config: what the app needs at start, feature flags for the caller included."""

from __future__ import annotations

from fastapi import APIRouter

from momento.analytics import service
from momento.analytics.schemas import AppConfig
from momento.deps import ServicesDep, UserDep
from momento.errors import raised_by
from momento.kit.schemas import SIGNED_IN, problems, summaries_from_docstrings

router = APIRouter(tags=["config"])


@router.get(
    "/config",
    response_model=AppConfig,
    responses=problems(*SIGNED_IN, *raised_by(service.app_config)),
    description="Feature flags come from PostHog under a short timeout: a slow or unreachable"
    " PostHog gives an empty set, never an error.",
)
async def get_config(services: ServicesDep, user: UserDep) -> AppConfig:
    """Get the app's configuration."""
    return await service.app_config(services, user)


summaries_from_docstrings(router)
