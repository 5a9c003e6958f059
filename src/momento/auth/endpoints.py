"""The Supabase Auth (GoTrue) compatible routes, mounted at /auth/v1.

Handlers only parse the request, call `AuthService` and shape the HTTP answer. Bodies are
parsed here rather than by FastAPI so that malformed ones get GoTrue's codes (`bad_json`,
`validation_failed`) and members the Supabase clients add on their own are ignored.
"""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, ValidationError
from starlette.responses import JSONResponse, RedirectResponse, Response

from momento import __version__
from momento.auth import pkce
from momento.auth.errors import AuthError
from momento.auth.schemas import (
    PasswordGrantBody,
    PkceGrantBody,
    RecoverBody,
    RefreshGrantBody,
    SignupBody,
    UpdateUserBody,
    VerifyBody,
)
from momento.auth.service import VERIFY_TYPES, AuthService, ClientInfo, Identity
from momento.deps import ServicesDep, bearer_token, client_ip

router = APIRouter(tags=["auth"])

Body = TypeVar("Body", bound=BaseModel)


async def parse_body(request: Request, model: type[Body]) -> Body:
    raw = await request.body()
    data: Any = {}
    if raw.strip():
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise AuthError(400, "bad_json", "Could not parse request body as JSON") from None
    if not isinstance(data, dict):
        raise AuthError(400, "bad_json", "The request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in err["loc"]) or "body" for err in exc.errors())
        raise AuthError(400, "validation_failed", f"Invalid request body: {fields}") from None


def client_info(request: Request) -> ClientInfo:
    return ClientInfo(client_ip(request), request.headers.get("user-agent"))


def identity(service: AuthService, request: Request) -> Identity:
    return service.identify(bearer_token(request))


@router.post("/signup", summary="Create an account (email and password)")
async def signup(
    request: Request, services: ServicesDep, redirect_to: str | None = None
) -> dict[str, Any]:
    body = await parse_body(request, SignupBody)
    challenge = pkce.challenge_from(body.code_challenge, body.code_challenge_method)
    return await AuthService(services).signup(
        body.email, body.password, body.data, redirect_to, client_info(request), challenge
    )


@router.post(
    "/token",
    summary="Sign in (grant_type=password), refresh (refresh_token) or exchange a code (pkce)",
)
async def token(
    request: Request, services: ServicesDep, grant_type: str | None = None
) -> dict[str, Any]:
    service = AuthService(services)
    if grant_type == "password":
        pw = await parse_body(request, PasswordGrantBody)
        return await service.password_grant(pw.email, pw.password, client_info(request))
    if grant_type == "refresh_token":
        rt = await parse_body(request, RefreshGrantBody)
        return await service.refresh_grant(rt.refresh_token, client_info(request))
    if grant_type == "pkce":
        code = await parse_body(request, PkceGrantBody)
        return await service.pkce_grant(code.auth_code, code.code_verifier, client_info(request))
    raise AuthError(400, "invalid_credentials", "unsupported_grant_type")


@router.post("/logout", status_code=204, summary="End this session, the others, or all")
async def logout(request: Request, services: ServicesDep, scope: str | None = None) -> Response:
    service = AuthService(services)
    await service.logout(identity(service, request), scope)
    return Response(status_code=204)


@router.get("/user", summary="The signed-in user")
async def get_user(request: Request, services: ServicesDep) -> dict[str, Any]:
    service = AuthService(services)
    return await service.get_user(identity(service, request))


@router.put("/user", summary="Change the signed-in user's password, email or metadata")
async def update_user(
    request: Request, services: ServicesDep, redirect_to: str | None = None
) -> dict[str, Any]:
    service = AuthService(services)
    who = identity(service, request)
    body = await parse_body(request, UpdateUserBody)
    challenge = pkce.challenge_from(body.code_challenge, body.code_challenge_method)
    return await service.update_user(
        who, body.email, body.password, body.data, redirect_to, challenge
    )


@router.post("/recover", summary="Mail a password reset link")
async def recover(
    request: Request, services: ServicesDep, redirect_to: str | None = None
) -> dict[str, Any]:
    body = await parse_body(request, RecoverBody)
    challenge = pkce.challenge_from(body.code_challenge, body.code_challenge_method)
    await AuthService(services).recover(body.email, redirect_to, client_info(request), challenge)
    return {}


@router.post("/verify", summary="Exchange a mailed code for a session")
async def verify(request: Request, services: ServicesDep) -> dict[str, Any]:
    body = await parse_body(request, VerifyBody)
    session, _ = await AuthService(services).verify(
        body.type, body.email, body.token, body.token_hash, client_info(request)
    )
    return session


@router.get(
    "/verify",
    summary="The mailed link: verify, then redirect with the session (or, PKCE, a code)",
)
async def verify_link(
    request: Request,
    services: ServicesDep,
    token: str | None = None,
    type: str | None = None,
    redirect_to: str | None = None,
) -> Response:
    service = AuthService(services)
    if not token or type not in VERIFY_TYPES:
        raise AuthError(400, "validation_failed", "Verify requires a token and a valid type")
    target = service.redirect_target(redirect_to)
    # A PKCE app reads what the link answers from the query, an implicit one from the fragment.
    answer = with_query if token.startswith(pkce.PREFIX) else with_fragment
    try:
        session, kind, code = await service.verify_link(type, token, client_info(request))
    except AuthError as exc:
        if exc.status == 429:
            raise
        error = {
            "error": "access_denied" if exc.status == 403 else "invalid_request",
            "error_code": exc.code,
            "error_description": (
                "Email link is invalid or has expired" if exc.code == "otp_expired" else exc.detail
            ),
        }
        return RedirectResponse(answer(target, urlencode(error)), status_code=303)
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
            "anonymous_users": False,
            "email": True,
            "phone": False,
            "apple": False,
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
