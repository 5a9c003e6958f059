"""Errors of the /v1 Sign in with Apple extension (problem+json, stable codes)."""

from __future__ import annotations

from momento.errors import BadRequest, ServiceUnavailable, ValidationFailed


class AppleNotConfigured(ServiceUnavailable):
    """Apple authorization codes cannot be exchanged: the server has no Sign in with Apple key
    (MOMENTO_APPLE_TEAM_ID, _KEY_ID, _PRIVATE_KEY)."""

    code = "apple_not_configured"
    retry_after = 3600


class AppleUnavailable(ServiceUnavailable):
    """Apple cannot be reached right now; try again shortly."""

    code = "apple_unavailable"
    retry_after = 10


class NoAppleIdentity(ValidationFailed):
    """This account has no Apple identity: sign in with Apple first."""

    code = "no_apple_identity"


class AppleCodeRejected(BadRequest):
    """Apple refused the authorization code: it was used already, expired (after 5 minutes), or
    was issued to another app."""

    code = "invalid_authorization_code"


class AppleIdentityMismatch(ValidationFailed):
    """The authorization code belongs to another Apple account than this account's."""

    code = "apple_identity_mismatch"


class UnknownClientId(ValidationFailed):
    """That client_id is not one of this server's Apple client ids."""

    code = "unknown_client_id"
