"""The Supabase Auth (GoTrue) compatible routes, mounted at /auth/v1.

Handlers parse the request, make one call to an auth operation (`sessions`, `users`,
`links`) and shape the HTTP answer. Bodies are parsed here rather than by FastAPI so that
malformed ones get GoTrue's codes (`bad_json`, `validation_failed`) and members the Supabase
clients add on their own are ignored. The errors each route may answer are those its
operations declare (`momento.errors.raises`), plus the parsing's own.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ValidationError
from starlette.responses import JSONResponse, RedirectResponse, Response

from momento import __version__
from momento.auth import links, otp, pkce, sessions, users
from momento.auth.apple import signin as apple_signin
from momento.auth.errors import (
    AuthError,
    BadJson,
    InvalidCredentials,
    OtpExpired,
    OverRequestRateLimit,
    ValidationFailed,
)
from momento.auth.schemas import (
    GoTrueProblem,
    IdTokenGrantBody,
    OtpBody,
    PasswordGrantBody,
    PkceGrantBody,
    RecoverBody,
    RefreshGrantBody,
    ResendBody,
    SignupBody,
    UpdateUserBody,
    VerifyBody,
)
from momento.auth.shared import ClientInfo, Identity, identify
from momento.deps import ServicesDep, bearer_token, client_ip, services_of
from momento.errors import MomentoError, PayloadTooLarge, raised_by
from momento.kit.schemas import problems

router = APIRouter(tags=["auth"])

Body = TypeVar("Body", bound=BaseModel)

_GOTRUE_PROBLEM = GoTrueProblem.model_json_schema()
# What reading a JSON body may answer (413 comes from momento.app's BodyLimit).
_BODY = (BadJson, ValidationFailed, PayloadTooLarge)
# The routes that read the bearer token themselves (not through momento.deps' UserDep).
_BEARER: dict[str, Any] = {"security": [{"bearerAuth": []}]}


def gotrue_problems(*errors: type[MomentoError]) -> dict[int | str, dict[str, Any]]:
    """`problems(...)`, with the body in GoTrue's dialect."""
    out = problems(*errors)
    for entry in out.values():
        entry["content"] = {"application/problem+json": {"schema": _GOTRUE_PROBLEM}}
    return out


async def parse_body(request: Request, model: type[Body]) -> Body:
    raw = await request.body()
    data: Any = {}
    if raw.strip():
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise BadJson() from None
    if not isinstance(data, dict):
        raise BadJson("The request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in err["loc"]) or "body" for err in exc.errors())
        raise ValidationFailed(f"Invalid request body: {fields}") from None


def client_info(request: Request) -> ClientInfo:
    return ClientInfo(client_ip(request), request.headers.get("user-agent"))


async def get_identity(request: Request) -> Identity:
    """The verified bearer token, in GoTrue's terms (401 no_authorization, 403 bad_jwt)."""
    return identify(services_of(request), bearer_token(request))


IdentityDep = Annotated[Identity, Depends(get_identity)]


@router.post(
    "/signup",
    summary="Create an account (email and password), or sign in a guest (neither)",
    responses=gotrue_problems(
        *raised_by(users.signup, users.signup_anonymous, pkce.challenge_from), *_BODY
    ),
)
async def signup(
    request: Request, services: ServicesDep, redirect_to: str | None = None
) -> dict[str, Any]:
    body = await parse_body(request, SignupBody)
    if not body.email and not body.phone and not body.password:
        # As GoTrue: no email and no phone is an anonymous sign-in. Unlike GoTrue, a password
        # without an address is refused (as a missing email), not dropped for a guest.
        return await users.signup_anonymous(services, body.data, client_info(request))
    challenge = pkce.challenge_from(body.code_challenge, body.code_challenge_method)
    return await users.signup(
        services, body.email, body.password, body.data, redirect_to, client_info(request), challenge
    )


@router.post(
    "/token",
    summary="Sign in (grant_type=password), refresh (refresh_token), exchange a code (pkce) or"
    " sign in with Apple (id_token)",
    responses=gotrue_problems(
        *raised_by(
            sessions.password_grant,
            sessions.refresh_grant,
            sessions.pkce_grant,
            apple_signin.id_token_grant,
        ),
        InvalidCredentials,
        *_BODY,
    ),
)
async def token(
    request: Request, services: ServicesDep, grant_type: str | None = None
) -> dict[str, Any]:
    if grant_type == "password":
        pw = await parse_body(request, PasswordGrantBody)
        return await sessions.password_grant(services, pw.email, pw.password, client_info(request))
    if grant_type == "refresh_token":
        rt = await parse_body(request, RefreshGrantBody)
        return await sessions.refresh_grant(services, rt.refresh_token, client_info(request))
    if grant_type == "pkce":
        code = await parse_body(request, PkceGrantBody)
        return await sessions.pkce_grant(
            services, code.auth_code, code.code_verifier, client_info(request)
        )
    if grant_type == "id_token":
        it = await parse_body(request, IdTokenGrantBody)
        return await apple_signin.id_token_grant(
            services,
            it.provider,
            it.id_token,
            it.nonce,
            it.issuer,
            it.client_id,
            client_info(request),
        )
    raise InvalidCredentials("unsupported_grant_type")


@router.post(
    "/logout",
    status_code=204,
    summary="End this session, the others, or all",
    responses=gotrue_problems(*raised_by(identify, sessions.logout)),
    openapi_extra=_BEARER,
)
async def logout(services: ServicesDep, who: IdentityDep, scope: str | None = None) -> Response:
    await sessions.logout(services, who, scope)
    return Response(status_code=204)


@router.get(
    "/user",
    summary="The signed-in user",
    responses=gotrue_problems(*raised_by(identify, users.get_user)),
    openapi_extra=_BEARER,
)
async def get_user(services: ServicesDep, who: IdentityDep) -> dict[str, Any]:
    return await users.get_user(services, who)


@router.put(
    "/user",
    summary="Change the signed-in user's password, email or metadata",
    responses=gotrue_problems(*raised_by(identify, users.update_user, pkce.challenge_from), *_BODY),
    openapi_extra=_BEARER,
)
async def update_user(
    request: Request, services: ServicesDep, who: IdentityDep, redirect_to: str | None = None
) -> dict[str, Any]:
    body = await parse_body(request, UpdateUserBody)
    challenge = pkce.challenge_from(body.code_challenge, body.code_challenge_method)
    return await users.update_user(
        services, who, body.email, body.password, body.data, redirect_to, challenge
    )


@router.post(
    "/recover",
    summary="Mail a password reset link",
    responses=gotrue_problems(*raised_by(links.recover, pkce.challenge_from), *_BODY),
)
async def recover(
    request: Request, services: ServicesDep, redirect_to: str | None = None
) -> dict[str, Any]:
    body = await parse_body(request, RecoverBody)
    challenge = pkce.challenge_from(body.code_challenge, body.code_challenge_method)
    await links.recover(services, body.email, redirect_to, client_info(request), challenge)
    return {}


@router.post(
    "/resend",
    summary="Mail the signup confirmation or the email change link again",
    responses=gotrue_problems(*raised_by(links.resend, pkce.challenge_from), *_BODY),
)
async def resend(
    request: Request, services: ServicesDep, redirect_to: str | None = None
) -> dict[str, Any]:
    body = await parse_body(request, ResendBody)
    challenge = pkce.challenge_from(body.code_challenge, body.code_challenge_method)
    await links.resend(
        services, body.type, body.email, redirect_to, client_info(request), challenge
    )
    return {}


@router.post(
    "/otp",
    summary="Sign in by mail: a magic link and a 6-digit code (a new address gets an account)",
    responses=gotrue_problems(*raised_by(otp.sign_in_with_otp, pkce.challenge_from), *_BODY),
)
async def sign_in_with_otp(
    request: Request, services: ServicesDep, redirect_to: str | None = None
) -> dict[str, Any]:
    body = await parse_body(request, OtpBody)
    challenge = pkce.challenge_from(body.code_challenge, body.code_challenge_method)
    await otp.sign_in_with_otp(
        services,
        body.email,
        body.phone,
        body.channel,
        body.create_user,
        body.data,
        redirect_to,
        client_info(request),
        challenge,
    )
    return {}


@router.post(
    "/verify",
    summary="Exchange a mailed code for a session",
    responses=gotrue_problems(*raised_by(links.verify), *_BODY),
)
async def verify(request: Request, services: ServicesDep) -> dict[str, Any]:
    body = await parse_body(request, VerifyBody)
    session, _ = await links.verify(
        services, body.type, body.email, body.token, body.token_hash, client_info(request)
    )
    return session


# A followed link answers its errors in the redirect, as GoTrue, except a rate limit.
_REDIRECTED = [e for e in raised_by(links.verify_link) if e is not OverRequestRateLimit]


@router.get(
    "/verify",
    status_code=303,
    summary="The mailed link: verify, then redirect with the session (or, PKCE, a code)",
    responses={
        303: {
            "description": "To `redirect_to` (if allowed, else the site): the session in the"
            " fragment, or for a PKCE link `?code=`; a refusal as `error`, `error_code` and"
            " `error_description`, in the query for a PKCE link, else in the fragment. The"
            " codes: " + ", ".join(sorted({f"`{e.code}`" for e in _REDIRECTED})) + "."
        },
        **gotrue_problems(ValidationFailed, OverRequestRateLimit),
    },
)
async def verify_link(
    request: Request,
    services: ServicesDep,
    token: str | None = None,
    type: str | None = None,
    redirect_to: str | None = None,
) -> Response:
    if not token or type not in links.VERIFY_TYPES:
        raise ValidationFailed("Verify requires a token and a valid type")
    target = links.redirect_target(services.settings, redirect_to)
    # A PKCE app reads what the link answers from the query, an implicit one from the fragment.
    answer = with_query if token.startswith(pkce.PREFIX) else with_fragment
    try:
        session, kind, code = await links.verify_link(services, type, token, client_info(request))
    except OverRequestRateLimit:
        raise
    except AuthError as exc:
        error = {
            "error": "access_denied" if exc.status == 403 else "invalid_request",
            "error_code": exc.code,
            "error_description": (
                "Email link is invalid or has expired"
                if isinstance(exc, OtpExpired)
                else exc.detail
            ),
        }
        return RedirectResponse(answer(target, urlencode(error)), status_code=303)
    if session is None and code is None:
        # The first of a secure email change's two links: said, as GoTrue, in `message`.
        return RedirectResponse(
            answer(target, urlencode({"message": links.ONE_OF_TWO})), status_code=303
        )
    if session is None:
        return RedirectResponse(answer(target, urlencode({"code": str(code)})), status_code=303)
    fragment_parts = {
        "access_token": session["access_token"],
        "token_type": "bearer",
        "expires_in": session["expires_in"],
        "expires_at": session["expires_at"],
        "refresh_token": session["refresh_token"],
        "type": kind,
    }
    return RedirectResponse(
        with_fragment(target, urlencode(fragment_parts) + "&sb"), status_code=303
    )


def with_fragment(url: str, fragment: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, fragment))


def with_query(url: str, query: str) -> str:
    """`url` with `query` added to its own query (parameters of the same name replaced)."""
    parts = urlsplit(url)
    added = parse_qsl(query)
    names = {name for name, _ in added}
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in names]
    return urlunsplit(
        (parts.scheme, parts.netloc, parts.path, urlencode(kept + added), parts.fragment)
    )


@router.get("/settings", summary="What this server supports")
async def settings(services: ServicesDep) -> dict[str, Any]:
    s = services.settings
    return {
        "external": {
            "anonymous_users": s.anonymous_signins,
            "email": True,
            "phone": False,
            "apple": s.apple_enabled,
            "google": False,
            "github": False,
        },
        "disable_signup": s.disable_signup,
        "mailer_autoconfirm": not s.email_confirm,
        "phone_autoconfirm": False,
        "sms_provider": "",
        "saml_enabled": False,
        "password_min_length": s.password_min_length,
    }


@router.get("/health", summary="Liveness, in GoTrue's shape")
async def health() -> dict[str, str]:
    return {
        "version": __version__,
        "name": "GoTrue",
        "description": "Momento Server's Supabase Auth (GoTrue) compatible API",
    }


@router.get("/.well-known/jwks.json", summary="Public keys that verify access tokens")
async def jwks(services: ServicesDep) -> Response:
    return JSONResponse(services.tokens.jwks(), headers={"Cache-Control": "public, max-age=600"})
