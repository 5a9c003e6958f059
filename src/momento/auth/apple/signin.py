"""`POST /auth/v1/token?grant_type=id_token` with `provider=apple`, as GoTrue (token_oidc.go).

The app signs in with Apple on the device and posts the identity token Apple gave it, with
the raw nonce whose SHA-256 hex it asked Apple to put in the token (supabase-swift's
`signInWithIdToken`). The nonce is required here (GoTrue accepts a token without one): without
it a token lifted from another app's request could be replayed for as long as it is valid.

Who signs in:
- the account whose `apple` identity has the token's `sub`;
- else the account with the token's (verified) address, linked to the Apple identity, but only
  if that account's address was proven through a link or code mailed to it
  (`auth.users.email_verified_by_mail_at`). An account merely auto-confirmed
  (MOMENTO_EMAIL_CONFIRM off: nothing was mailed) could have been registered by anyone who
  typed the victim's address; linking it would hand the victim's Apple login the attacker's
  account (with the attacker's password on it), or the reverse. Such an address answers 422
  `email_exists` and nothing is linked; its owner proves it (a password reset) and tries again;
- else a new account: confirmed, `app_metadata.provider` `apple`, the token's address (a
  private relay `@privaterelay.appleid.com` one included, flagged `is_private_email` in the
  identity's custom claims), no name (Apple puts none in the token), a generated username.
The session's amr method is `oauth`, as GoTrue's for this grant.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from psycopg import errors as pg_errors
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from momento import logs
from momento.auth import queries as q
from momento.auth.apple import keys as apple_keys
from momento.auth.apple import queries as aq
from momento.auth.errors import (
    EmailExists,
    InvalidCredentials,
    ProviderDisabled,
    ProviderUnavailable,
    SignupDisabled,
    UserBanned,
    ValidationFailed,
    bad_id_token,
)
from momento.auth.sessions import sign_in
from momento.auth.shared import ClientInfo, limit
from momento.db.pool import Conn
from momento.errors import Conflict, raised_by, raises

if TYPE_CHECKING:
    from momento.services import Services

log = logs.get("momento.auth.apple")

PROVIDER = "apple"
PRIVATE_RELAY_DOMAIN = "@privaterelay.appleid.com"
# GoTrue's other id_token providers: disabled here (GoTrue's answer when not configured).
_OTHER_PROVIDERS = frozenset(
    {"google", "azure", "facebook", "keycloak", "kakao", "snapchat", "vercel_marketplace"}
)


def _truthy(value: Any) -> bool:
    """Apple sends some booleans as strings ("true")."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return value is True


@raises(
    ValidationFailed,
    ProviderDisabled,
    *raised_by(limit),
    InvalidCredentials,
    ProviderUnavailable,
    EmailExists,
    SignupDisabled,
    UserBanned,
    Conflict,
)
async def id_token_grant(
    services: Services,
    provider: str | None,
    id_token: str | None,
    nonce: str | None,
    issuer: str | None,
    client_id: str | None,
    client: ClientInfo,
) -> dict[str, Any]:
    """Sign in with an Apple identity token (GoTrue's id_token grant)."""
    settings = services.settings
    if not id_token:
        raise ValidationFailed("id_token required")
    if not provider and not (client_id and issuer):
        raise ValidationFailed("provider or client_id and issuer required")
    if provider != PROVIDER and issuer not in apple_keys.ISSUERS:
        if provider in _OTHER_PROVIDERS:
            raise ProviderDisabled(f"Provider ({provider}) is not enabled")
        raise ValidationFailed(f'Custom OIDC provider "{provider or issuer}" not allowed')
    try:
        detected = apple_keys.unverified_claims(id_token).get("iss")
    except apple_keys.BadToken:
        raise ValidationFailed("Unable to detect issuer in ID token for Apple provider") from None
    if detected not in apple_keys.ISSUERS:
        raise ValidationFailed("Detected ID token issuer is not an Apple ID token issuer")
    if issuer and issuer != detected:
        raise ValidationFailed("Provided issuer does not match ID token issuer")
    if not settings.apple_enabled:
        raise ProviderDisabled(f'Provider (issuer "{detected}") is not enabled')
    await limit(services, [(f"idtoken:ip:{client.ip}", settings.rate_limit_login_per_ip)])

    try:
        claims = await apple_keys.verify(
            services.apple_keys,
            id_token,
            base_url=settings.apple_url,
            audiences=settings.apple_client_ids,
            ttl=settings.apple_keys_ttl,
            wait=settings.apple_timeout,
        )
    except apple_keys.KeysUnavailable:
        raise ProviderUnavailable() from None
    except apple_keys.BadToken as exc:
        log.info("apple id token refused", reason=str(exc))
        if str(exc) == "audience":
            aud = apple_keys.unverified_claims(id_token).get("aud")
            raise bad_id_token(f"Unacceptable audience in id_token: [{aud}]") from None
        raise bad_id_token() from None
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise bad_id_token("Missing sub claim in id_token")
    token_nonce = claims.get("nonce") or ""
    if bool(token_nonce) != bool(nonce):
        raise bad_id_token("Passed nonce and nonce in id_token should either both exist or not.")
    if not nonce:
        raise bad_id_token("A nonce is required: the raw nonce whose SHA-256 hex is in id_token.")
    if hashlib.sha256(nonce.encode()).hexdigest() != token_nonce:
        raise bad_id_token("Nonces mismatch", error="invalid nonce")

    data = identity_data(claims)
    email = data.get("email") if _truthy(claims.get("email_verified", True)) else None
    for attempt in (1, 2):
        try:
            async with services.db.privileged() as conn:
                return await _sign_in(services, conn, sub, email, data, client)
        except Conflict as exc:
            # The same person's first sign-in twice at once (two taps): the other request
            # created the account or the identity; the second attempt finds it.
            if attempt == 2 or not isinstance(exc.__cause__, pg_errors.UniqueViolation):
                raise
    raise AssertionError("unreachable")


def identity_data(claims: dict[str, Any]) -> dict[str, Any]:
    """The identity's data as GoTrue stores an Apple one (parseAppleIDToken)."""
    sub = str(claims["sub"])
    data: dict[str, Any] = {
        "iss": claims.get("iss"),
        "sub": sub,
        "provider_id": sub,
        "email_verified": True,
        "phone_verified": False,
    }
    email = claims.get("email")
    custom: dict[str, Any] = {}
    if isinstance(email, str) and email:
        data["email"] = email.strip().lower()
        private = claims.get("is_private_email")
        if private is not None or data["email"].endswith(PRIVATE_RELAY_DOMAIN):
            custom["is_private_email"] = _truthy(private) or data["email"].endswith(
                PRIVATE_RELAY_DOMAIN
            )
    if claims.get("auth_time") is not None:
        custom["auth_time"] = claims["auth_time"]
    if claims.get("transfer_sub"):
        custom["transfer_sub"] = claims["transfer_sub"]
    if custom:
        data["custom_claims"] = custom
    return data


async def _sign_in(
    services: Services,
    conn: Conn,
    sub: str,
    email: str | None,
    data: dict[str, Any],
    client: ClientInfo,
) -> dict[str, Any]:
    cur = await conn.execute(aq.IDENTITY_BY_SUB, {"sub": sub})
    identity = await cur.fetchone()
    if identity is not None:
        await conn.execute(aq.TOUCH_IDENTITY, {"id": identity["id"], "data": Jsonb(data)})
        await conn.execute(aq.ADD_APPLE_TO_USER, {"uid": identity["user_id"], "data": Jsonb(data)})
        user = await _user(conn, identity["user_id"])
        return await sign_in(services, conn, user, client, "oauth")

    if email:
        cur = await conn.execute(aq.ACCOUNT_BY_EMAIL, {"email": email})
        existing = await cur.fetchone()
        if existing is not None:
            if not existing["proven"] or existing["has_apple"]:
                log.info(
                    "apple sign-in not linked: the address's account was not proven by mail",
                    user_id=str(existing["id"]),
                    has_apple=existing["has_apple"],
                )
                raise EmailExists()
            await conn.execute(
                aq.INSERT_IDENTITY, {"sub": sub, "uid": existing["id"], "data": Jsonb(data)}
            )
            await conn.execute(aq.ADD_APPLE_TO_USER, {"uid": existing["id"], "data": Jsonb(data)})
            user = await _user(conn, existing["id"])
            log.info("apple identity linked", user_id=str(existing["id"]))
            return await sign_in(services, conn, user, client, "oauth")

    if services.settings.disable_signup:
        raise SignupDisabled()
    cur = await conn.execute(aq.INSERT_APPLE_USER, {"email": email, "data": Jsonb(data)})
    created = await cur.fetchone()
    assert created is not None
    await conn.execute(aq.INSERT_IDENTITY, {"sub": sub, "uid": created["id"], "data": Jsonb(data)})
    log.info("user signed up", user_id=str(created["id"]), provider=PROVIDER)
    return await sign_in(services, conn, created, client, "oauth")


@raises(UserBanned)
async def _user(conn: Conn, user_id: Any) -> DictRow:
    cur = await conn.execute(q.USER_BY_ID, (user_id,))
    user = await cur.fetchone()
    if user is None:
        # The identity's account is soft-deleted: GoTrue answers user_not_found-alike; a
        # refusal without detail is enough here.
        raise UserBanned("User is banned")
    if user["banned"]:
        raise UserBanned()
    return user
