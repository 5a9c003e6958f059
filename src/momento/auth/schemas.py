"""Request bodies of the GoTrue API, and the shape of its errors (for OpenAPI).

Supabase clients add members of their own (`gotrue_meta_security`, ...), so unknown members
are ignored, never refused. Required-ness is checked by the operations, which answer with
GoTrue's error codes.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _PkceBody(_Body):
    """A request that mails a link may carry a PKCE challenge (see momento.auth.pkce)."""

    code_challenge: str | None = None
    code_challenge_method: str | None = None


class SignupBody(_PkceBody):
    email: str | None = None
    # Only to tell a phone signup (not supported: refused as a missing email) from a guest's.
    phone: str | None = None
    password: str | None = None
    data: dict[str, Any] | None = None


class PasswordGrantBody(_Body):
    email: str | None = None
    password: str | None = None


class RefreshGrantBody(_Body):
    refresh_token: str | None = None


class PkceGrantBody(_Body):
    auth_code: str | None = None
    code_verifier: str | None = None


class IdTokenGrantBody(_Body):
    """GoTrue's id_token grant (Sign in with Apple): `provider` or `issuer` (and `client_id`,
    accepted as GoTrue does, not needed), the identity token, the raw nonce."""

    provider: str | None = None
    id_token: str | None = None
    nonce: str | None = None
    issuer: str | None = None
    client_id: str | None = None
    access_token: str | None = None


class RecoverBody(_PkceBody):
    email: str | None = None


class ResendBody(_PkceBody):
    type: str | None = None
    email: str | None = None


class OtpBody(_PkceBody):
    """`POST /otp`. `create_user` null counts as its default (true), as GoTrue's Go bool does;
    `phone` and `channel` are read only to answer what GoTrue answers without SMS."""

    email: str | None = None
    phone: str | None = None
    channel: str | None = None
    create_user: bool | None = True
    data: dict[str, Any] | None = None


class VerifyBody(_Body):
    type: str | None = None
    email: str | None = None
    token: str | None = None
    token_hash: str | None = None


class UpdateUserBody(_PkceBody):
    email: str | None = None
    password: str | None = None
    data: dict[str, Any] | None = None


class GoTrueProblem(BaseModel):
    """An auth error: the problem+json members, and GoTrue's. With `X-Supabase-Api-Version` in
    the request (the Supabase clients send it): `code` (the error code) and `message`, and the
    header echoed; without: `code` (the status), `error_code` and `msg`."""

    type: str
    title: str
    status: int
    detail: str
    code: str | int
    message: str | None = None
    error_code: str | None = None
    msg: str | None = None
