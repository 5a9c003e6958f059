"""/v1/me: the signed-in user's profile, device token, stats, and account deletion."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from momento.analytics import events as analytics_events
from momento.deps import ServicesDep, UserDep
from momento.errors import InvalidToken, PayloadTooLarge, Unauthorized, ValidationFailed
from momento.kit.schemas import problems, summaries_from_docstrings
from momento.profiles import service
from momento.profiles.errors import UsernameTaken, UserNotFound
from momento.profiles.schemas import USERNAME_RULES, DeviceToken, Profile, ProfileUpdate, Stats

router = APIRouter(prefix="/me", tags=["profiles"])

# Every route needs a token whose account still exists.
_AUTH = (Unauthorized, InvalidToken, UserNotFound)


@router.get("", response_model=Profile, responses=problems(*_AUTH))
async def get_me(services: ServicesDep, user: UserDep) -> Profile:
    """Get my profile."""
    return await service.get_profile(services.db, user.claims)


@router.patch(
    "",
    response_model=Profile,
    responses=problems(*_AUTH, UsernameTaken, PayloadTooLarge, ValidationFailed),
    description=f"Absent fields stay as they are. Username: {USERNAME_RULES}",
)
async def update_me(services: ServicesDep, user: UserDep, body: ProfileUpdate) -> Profile:
    """Update my profile."""
    return await service.update_profile(services.db, user.claims, body)


@router.put(
    "/device-token",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(*_AUTH, PayloadTooLarge, ValidationFailed),
)
async def put_device_token(services: ServicesDep, user: UserDep, body: DeviceToken) -> None:
    """Set (or clear) this device's APNs token."""
    await service.set_device_token(services.db, user.claims, body.token)


@router.get("/stats", response_model=Stats, responses=problems(*_AUTH))
async def get_my_stats(services: ServicesDep, user: UserDep) -> Stats:
    """Get my stats."""
    return await service.get_stats(services.db, user.claims)


@router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(*_AUTH),
    description=(
        "Removes the account and everything that is the user's: profile, sessions, likes,"
        " photos, memberships, and the events they created (with everyone's photos in them)."
        " Afterwards the access token answers 401 `user_not_found`."
    ),
)
async def delete_me(services: ServicesDep, user: UserDep) -> None:
    """Delete my account."""
    await service.delete_account(services.db, user.id)
    analytics_events.account_deleted(services.analytics, user.id)


summaries_from_docstrings(router)
