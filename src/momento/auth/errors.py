"""GoTrue's errors, one class per error code, and GoTrue's error dialect for /auth/v1.

Each class carries GoTrue's status and code; its docstring is GoTrue's message, the detail
when the raiser gives none (and the line OpenAPI shows). `title` is made from the code, as
GoTrue clients never read it.

`validation_failed` is the one code answered at two statuses, as GoTrue does too: 400 for a
malformed request (`ValidationFailed`), 422 for a username of the wrong form
(`InvalidUsername`).

Supabase clients parse auth errors themselves: with `X-Supabase-Api-Version` in the request
they read `{"code": "<error_code>", "message": ...}` and expect the header echoed; without it,
the legacy `{"code": <status>, "error_code": ..., "msg": ...}`. The problem+json members
(`type`, `title`, `status`, `detail`) ride along so generic clients get the usual shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from momento.errors import PROBLEM_JSON, MomentoError, RateLimited, ServiceUnavailable

API_VERSION_HEADER = "X-Supabase-Api-Version"
API_VERSION = "2024-01-01"


class AuthError(MomentoError):
    """An authentication error with one of GoTrue's error codes (raise a subclass)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "title" not in cls.__dict__:
            cls.title = cls.code.replace("_", " ").capitalize()


# --- the request ---------------------------------------------------------------------------


class BadJson(AuthError):
    """Could not parse request body as JSON"""

    status = 400
    code = "bad_json"


class ValidationFailed(AuthError):
    """A required value is missing, or a value is not in the accepted form"""

    status = 400
    code = "validation_failed"


class InvalidUsername(ValidationFailed):
    """A username is 3 to 30 characters: letters, digits, '_' and '.'."""

    # GoTrue's one 422 validation_failed, so also the answer for a display name that
    # momento.kit.names refuses: the detail then names the field and the reason.
    status = 422


class OverRequestRateLimit(AuthError, RateLimited):
    """Request rate limit reached"""

    status = 429
    code = "over_request_rate_limit"


class OverEmailSendRateLimit(AuthError, RateLimited):
    """Email rate limit exceeded"""

    status = 429
    code = "over_email_send_rate_limit"


# --- the caller's access token -------------------------------------------------------------


class NoAuthorization(AuthError):
    """This endpoint requires a valid Bearer token"""

    status = 401
    code = "no_authorization"


class BadJwt(AuthError):
    """invalid JWT: unable to parse or verify signature"""

    status = 403
    code = "bad_jwt"


class UserNotFound(AuthError):
    """User not found"""

    status = 403
    code = "user_not_found"


class SessionNotFound(AuthError):
    """Session from session_id claim in JWT does not exist"""

    status = 403
    code = "session_not_found"


# --- accounts --------------------------------------------------------------------------------


class SignupDisabled(AuthError):
    """Signups not allowed for this instance"""

    status = 422
    code = "signup_disabled"


class AnonymousProviderDisabled(AuthError):
    """Anonymous sign-ins are disabled"""

    status = 422
    code = "anonymous_provider_disabled"


class UserAlreadyExists(AuthError):
    """User already registered"""

    status = 422
    code = "user_already_exists"


class UsernameTaken(AuthError):
    """That username is already taken."""

    # Not GoTrue's: Momento's profiles have unique usernames, chosen at signup.
    status = 422
    code = "username_taken"


class EmailExists(AuthError):
    """A user with this email address has already been registered"""

    status = 422
    code = "email_exists"


class WeakPassword(AuthError):
    """The password is too short"""

    status = 422
    code = "weak_password"

    def __init__(self, minimum: int, reasons: Sequence[str] = (), message: str = "") -> None:
        """Too short (`minimum`), or refused for `reasons` (GoTrue's `length`, `characters`,
        `pwned`) said in `message`; the clients read `weak_password.reasons`."""
        super().__init__(
            message or f"Password should be at least {minimum} characters.",
            extra={"weak_password": {"reasons": list(reasons or ["length"])}},
        )


class SamePassword(AuthError):
    """New password should be different from the old password."""

    status = 422
    code = "same_password"


class UserBanned(AuthError):
    """User is banned"""

    status = 400
    code = "user_banned"


# --- signing in ------------------------------------------------------------------------------


class InvalidCredentials(AuthError):
    """Invalid login credentials"""

    status = 400
    code = "invalid_credentials"


class EmailNotConfirmed(AuthError):
    """Email not confirmed"""

    status = 400
    code = "email_not_confirmed"


class RefreshTokenNotFound(AuthError):
    """Invalid Refresh Token: Refresh Token Not Found"""

    status = 400
    code = "refresh_token_not_found"


class RefreshTokenAlreadyUsed(AuthError):
    """Invalid Refresh Token: Already Used"""

    status = 400
    code = "refresh_token_already_used"


class SessionExpired(AuthError):
    """Invalid Refresh Token: Session Expired"""

    status = 400
    code = "session_expired"


# --- Sign in with Apple (the id_token grant) -------------------------------------------------


class ProviderDisabled(AuthError):
    """Provider (issuer "https://appleid.apple.com") is not enabled"""

    status = 400
    code = "provider_disabled"


def bad_id_token(detail: str = "Bad ID token", error: str = "invalid request") -> AuthError:
    """A refused identity token. GoTrue answers these as an OAuth error, 400 `{"error":
    "invalid request", "error_description": ...}` with no error code; both members ride along
    here, with GoTrue's code for credentials that sign nobody in."""
    return InvalidCredentials(detail, extra={"error": error, "error_description": detail})


class ProviderUnavailable(AuthError, ServiceUnavailable):
    """Apple's keys cannot be fetched right now; try again shortly."""

    # Not GoTrue's (it answers 500): the provider is down, the client may retry.
    status = 503
    code = "provider_unavailable"
    retry_after = 5


# --- mailed codes and PKCE -------------------------------------------------------------------


class OtpExpired(AuthError):
    """Token has expired or is invalid"""

    status = 403
    code = "otp_expired"


class FlowStateNotFound(AuthError):
    """invalid flow state, no valid flow state found"""

    status = 404
    code = "flow_state_not_found"


class FlowStateExpired(AuthError):
    """invalid flow state, flow state has expired"""

    status = 403
    code = "flow_state_expired"


class BadCodeVerifier(AuthError):
    """code challenge does not match previously saved code verifier"""

    status = 403
    code = "bad_code_verifier"


class OtpDisabled(AuthError):
    """Signups not allowed for otp"""

    status = 422
    code = "otp_disabled"


class PhoneProviderDisabled(AuthError):
    """Unsupported phone provider"""

    status = 400
    code = "phone_provider_disabled"


class UnexpectedFailure(AuthError):
    """Error sending email"""

    status = 500
    code = "unexpected_failure"


def render_gotrue(request: Request, exc: MomentoError) -> Response:
    return gotrue_response(
        request, exc.status, exc.code, exc.detail, exc.title, dict(exc.headers), exc.extra
    )


def gotrue_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    title: str,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    """An error in GoTrue's dialect (for the request's API version), problem+json alongside."""
    body: dict[str, Any] = {
        "type": f"https://momento.app/problems/{code}",
        "title": title,
        "status": status,
        "detail": message,
        **(extra or {}),
    }
    headers = dict(headers or {})
    if request.headers.get(API_VERSION_HEADER):
        body["code"] = code
        body["message"] = message
        headers[API_VERSION_HEADER] = API_VERSION
    else:
        body["code"] = status
        body["error_code"] = code
        body["msg"] = message
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )
