"""/v1/me: the signed-in user's profile, device token, stats, and account deletion."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from momento.deps import ServicesDep, UserDep
from momento.errors import raised_by
from momento.kit.schemas import (
    SIGNED_IN,
    WITH_BODY,
    problems,
    summaries_from_docstrings,
)
from momento.profiles import service
from momento.profiles.schemas import USERNAME_RULES, DeviceToken, Profile, ProfileUpdate, Stats

router = APIRouter(prefix="/me", tags=["profiles"])


@router.get(
    "", response_model=Profile, responses=problems(*SIGNED_IN, *raised_by(service.get_profile))
)
async def get_me(services: ServicesDep, user: UserDep) -> Profile:
    """Get my profile."""
    return await service.get_profile(services, user)


@router.patch(
    "",
    response_model=Profile,
    responses=problems(*WITH_BODY, *raised_by(service.update_profile)),
    description=f"Absent fields stay as they are. Username: {USERNAME_RULES}",
)
async def update_me(services: ServicesDep, user: UserDep, body: ProfileUpdate) -> Profile:
    """Update my profile."""
    return await service.update_profile(services, user, body)


@router.put(
    "/device-token",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(*WITH_BODY, *raised_by(service.set_device_token)),
)
async def put_device_token(services: ServicesDep, user: UserDep, body: DeviceToken) -> None:
    """Set (or clear) this device's APNs token."""
    await service.set_device_token(services, user, body.token)


@router.get(
    "/stats", response_model=Stats, responses=problems(*SIGNED_IN, *raised_by(service.get_stats))
)
async def get_my_stats(services: ServicesDep, user: UserDep) -> Stats:
    """Get my stats."""
    return await service.get_stats(services, user)


@router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(*SIGNED_IN, *raised_by(service.delete_account)),
    description=(
        "Removes the account and everything that is the user's: profile, sessions, likes,"
        " photos, memberships, and the events they created (with everyone's photos in them)."
        " Afterwards the access token answers 401 `user_not_found`."
    ),
)
async def delete_me(services: ServicesDep, user: UserDep) -> None:
    """Delete my account."""
    await service.delete_account(services, user)


summaries_from_docstrings(router)
