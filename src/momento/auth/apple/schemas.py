"""The body of POST /v1/me/apple/authorization-code."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AuthorizationCode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(
        min_length=1,
        max_length=2048,
        description="ASAuthorizationAppleIDCredential.authorizationCode, as UTF-8 text."
        " Single use, valid for 5 minutes.",
    )
    client_id: str | None = Field(
        None,
        max_length=255,
        description="The client id the code was issued to (a services id for web sign-in);"
        " default: the first of MOMENTO_APPLE_CLIENT_IDS, the app's bundle id.",
    )
