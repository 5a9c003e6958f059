"""POST /v1/me/apple/authorization-code: a Momento extension of GoTrue's Apple sign-in."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from momento.auth.apple import service
from momento.auth.apple.schemas import AuthorizationCode
from momento.deps import ServicesDep, UserDep
from momento.errors import raised_by
from momento.kit.schemas import WITH_BODY, problems, summaries_from_docstrings

router = APIRouter(prefix="/me/apple", tags=["profiles"])


@router.post(
    "/authorization-code",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(*WITH_BODY, *raised_by(service.store_authorization_code)),
    description="After Sign in with Apple (POST /auth/v1/token?grant_type=id_token), send the"
    " credential's authorization code: GoTrue's grant carries none. The server exchanges it at"
    " Apple and keeps the refresh token (encrypted), so that deleting the account (DELETE"
    " /v1/me) revokes it at Apple, as the App Store requires. The caller must have an Apple"
    " identity, and the code must be of that Apple account. Sending a newer code replaces the"
    " stored token.",
)
async def post_authorization_code(
    services: ServicesDep, user: UserDep, body: AuthorizationCode
) -> None:
    """Give the server my Apple authorization code."""
    await service.store_authorization_code(services, user, body.code, body.client_id)


summaries_from_docstrings(router)
