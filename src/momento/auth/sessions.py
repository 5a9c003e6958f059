"""Sessions: signing in (password, a refreshed token, a PKCE code), signing out, and what a
new session answers (GoTrue's session object: an access token and a refresh token).

Refresh tokens are stored as SHA-256 hex; each use revokes the token and issues a child; a
revoked token presented again outside `refresh_reuse_interval` deletes its whole session.
"""

from __future__ import annotations

import ipaddress
import secrets
import uuid
from typing import TYPE_CHECKING, Any

from psycopg.rows import DictRow

from momento import logs
from momento.auth import passwords, pkce
from momento.auth import queries as q
from momento.auth.errors import (
    AuthError,
    EmailNotConfirmed,
    InvalidCredentials,
    RefreshTokenAlreadyUsed,
    RefreshTokenNotFound,
    SessionExpired,
    UserBanned,
    UserNotFound,
    ValidationFailed,
)
from momento.auth.shared import (
    ClientInfo,
    Identity,
    account_key,
    address_hash,
    address_key,
    current_user,
    limit,
    new_refresh_token,
    sha256_hex,
)
from momento.auth.views import user_json
from momento.db.pool import Conn
from momento.errors import raised_by, raises

if TYPE_CHECKING:
    # For types only: the kernel imports the job queue, which imports the domains' tasks.
    from momento.services import Services

log = logs.get("momento.auth")

LOGOUT_SCOPES = ("global", "local", "others")


@raises(*raised_by(limit), ValidationFailed, InvalidCredentials, UserBanned, EmailNotConfirmed)
async def password_grant(
    services: Services, email_in: str | None, password: str | None, client: ClientInfo
) -> dict[str, Any]:
    """Sign in with an email address and a password."""
    if not email_in or not password:
        raise ValidationFailed("An email address and a password are required.")
    email = email_in.strip().lower()
    await _limit_login(services, email, client)
    async with services.db.privileged() as conn:
        cur = await conn.execute(q.USER_BY_EMAIL, (email,))
        user = await cur.fetchone()
    stored = user["encrypted_password"] if user is not None else None
    verdict = await passwords.verify_password_async(stored, password)
    if user is None or not verdict.ok:
        log.info("password login refused", reason="invalid_credentials")
        raise InvalidCredentials()
    if user["banned"]:
        raise UserBanned()
    if user["email_confirmed_at"] is None:
        raise EmailNotConfirmed()
    new_hash = await passwords.hash_password_async(password) if verdict.needs_rehash else None
    async with services.db.privileged() as conn:
        if new_hash is not None:
            await conn.execute(q.REHASH, (new_hash, user["id"], stored))
        return await sign_in(services, conn, user, client, "password")


@raises(*raised_by(limit))
async def _limit_login(services: Services, email: str, client: ClientInfo) -> None:
    """The abuse rules of password sign-in, counted in PostgreSQL (shared by every process):
    attempts per client address, per (account, address) pair, and per account, except that a
    pair that signed in lately is not held to the account ceiling. A guesser can exhaust the
    account ceiling, but the owner's own devices keep their allowance."""
    settings = services.settings
    account = account_key(email)
    address = address_hash(services, client.ip)
    async with services.db.privileged() as conn:
        cur = await conn.execute(
            q.KNOWN_ADDRESS,
            {"email": email, "address": address, "days": settings.login_known_address_days},
        )
        row = await cur.fetchone()
    known = row is not None and bool(row["known"])
    limits = [
        (f"login:ip:{address_key(client.ip)}", settings.rate_limit_login_per_ip),
        (f"login:pair:{account}:{address.hex()[:32]}", settings.rate_limit_login_per_account_ip),
    ]
    if not known:
        limits.append((f"login:acct:{account}", settings.rate_limit_login_per_account))
    await limit(services, limits)


@raises(ValidationFailed, RefreshTokenNotFound, UserBanned, SessionExpired, RefreshTokenAlreadyUsed)
async def refresh_grant(
    services: Services, refresh_token: str | None, client: ClientInfo
) -> dict[str, Any]:
    """A new access token (and refresh token) for a refresh token."""
    if not refresh_token:
        raise ValidationFailed("A refresh_token is required.")
    # Raised after the transaction: ending a session for a reused token must stay done.
    failure: AuthError | None = None
    async with services.db.privileged() as conn:
        cur = await conn.execute(
            q.REFRESH_LOOKUP,
            {
                "hash": sha256_hex(refresh_token),
                "reuse": services.settings.refresh_reuse_interval,
                "ttl": services.settings.refresh_token_ttl,
            },
        )
        token = await cur.fetchone()
        user = None
        if token is not None:
            cur = await conn.execute(q.USER_BY_ID, (token["user_id"],))
            user = await cur.fetchone()
        if token is None or user is None:
            failure = RefreshTokenNotFound()
        elif user["banned"]:
            failure = UserBanned()
        elif token["session_expired"] or token["token_expired"]:
            await conn.execute(q.DELETE_SESSION, (token["session_id"],))
            failure = SessionExpired()
        else:
            parent = sha256_hex(refresh_token)
            child = services.tokens.child_refresh_token(refresh_token)
            is_parent_of_active = False
            if token["revoked"]:
                # Only a used token can be the parent of the active one (one more query, never
                # on the ordinary rotation path).
                cur = await conn.execute(
                    q.ACTIVE_CHILD,
                    {"child": sha256_hex(child), "parent": parent, "session": token["session_id"]},
                )
                is_parent_of_active = await cur.fetchone() is not None
            if is_parent_of_active:
                # The token just before the active one, at any time (as GoTrue): the app did
                # not get or keep the answer of its refresh (killed mid-request, a lost
                # response). It gets that answer again, the same active token.
                pass
            elif token["revoked"] and not token["within_reuse"]:
                # An older token came back: it was copied. End the session it belongs to.
                await conn.execute(q.DELETE_SESSION, (token["session_id"],))
                log.warning(
                    "refresh token reused; session revoked",
                    user_id=str(token["user_id"]),
                    session_id=str(token["session_id"]),
                )
                failure = RefreshTokenAlreadyUsed()
            else:
                if token["revoked"]:
                    # Reused moments ago, after its child was rotated in turn by a racing
                    # request of the same client: a sibling, leaving the others valid.
                    child = new_refresh_token()
                else:
                    await conn.execute(q.REVOKE_REFRESH, (token["id"],))
                await conn.execute(
                    q.INSERT_REFRESH,
                    (sha256_hex(child), token["user_id"], token["session_id"], parent),
                )
            if failure is None:
                await conn.execute(q.TOUCH_SESSION, (token["session_id"],))
                assert user is not None
                # The session keeps the amr it was signed in with (a guest's stays anonymous,
                # an Apple one oauth), as GoTrue's.
                return session_json(
                    services,
                    user,
                    token["session_id"],
                    child,
                    token["amr_method"],
                    int(token["started"]),
                )
    assert failure is not None
    raise failure


@raises(*raised_by(limit, pkce.take), UserNotFound, UserBanned)
async def pkce_grant(
    services: Services, auth_code: str | None, code_verifier: str | None, client: ClientInfo
) -> dict[str, Any]:
    """Exchange the code of a followed PKCE link, with its verifier, for a session."""
    await limit(services, [(f"pkce:ip:{client.ip}", services.settings.rate_limit_login_per_ip)])
    async with services.db.privileged() as conn:
        flow = await pkce.take(conn, auth_code, code_verifier)
        cur = await conn.execute(q.USER_BY_ID, (flow["user_id"],))
        user = await cur.fetchone()
        if user is None:
            # 403, as GoTrue answers user_not_found everywhere.
            raise UserNotFound()
        if user["banned"]:
            raise UserBanned()
        kind = flow["authentication_method"]
        method = "recovery" if kind == "recovery" else "otp"
        session = await sign_in(services, conn, user, client, method)
    log.info("pkce code exchanged", user_id=str(flow["user_id"]), type=kind)
    return session


@raises(ValidationFailed, *raised_by(current_user))
async def logout(services: Services, who: Identity, scope: str | None) -> None:
    """End the caller's session (`local`), the others (`others`) or all (`global`)."""
    scope = scope or "global"
    if scope not in LOGOUT_SCOPES:
        raise ValidationFailed(f"Unsupported logout scope {scope!r}")
    async with services.db.privileged() as conn:
        await current_user(conn, who)
        await conn.execute(q.LOGOUT[scope], {"uid": who.user_id, "sid": who.session_id})
    if scope != "others":
        services.tokens.forget(who.token)


# --- a new session -------------------------------------------------------------------------


async def sign_in(
    services: Services, conn: Conn, user: DictRow, client: ClientInfo, method: str
) -> dict[str, Any]:
    """Start a session for `user`: the session row, its first refresh token, the JWT."""
    cur = await conn.execute(
        q.INSERT_SESSION, (user["id"], _user_agent(client.user_agent), _inet(client.ip), method)
    )
    session = await cur.fetchone()
    assert session is not None
    refresh = new_refresh_token()
    await conn.execute(q.INSERT_REFRESH, (sha256_hex(refresh), user["id"], session["id"], None))
    cur = await conn.execute(q.SIGNED_IN, (user["id"],))
    signed_in = await cur.fetchone()
    assert signed_in is not None
    # This address is now known for the account (the abuse rules of `_limit_login`).
    await conn.execute(q.REMEMBER_ADDRESS, (user["id"], address_hash(services, client.ip)))
    if secrets.randbelow(100) == 0:
        await conn.execute(q.FORGET_OLD_ADDRESSES, (services.settings.login_known_address_days,))
    return session_json(
        services, signed_in, session["id"], refresh, method, int(session["started"])
    )


def session_json(
    services: Services,
    user: DictRow,
    session_id: uuid.UUID,
    refresh: str,
    method: str,
    started: int,
) -> dict[str, Any]:
    """GoTrue's session object: a fresh access token, the refresh token, the user."""
    body = user_json(user)
    access, exp = services.tokens.mint(
        user_id=user["id"],
        session_id=session_id,
        email=user["email"],
        app_metadata=body["app_metadata"],
        user_metadata=body["user_metadata"],
        amr=[{"method": method, "timestamp": started}],
        is_anonymous=bool(user["is_anonymous"]),
    )
    return {
        "access_token": access,
        "token_type": "bearer",
        "expires_in": services.tokens.ttl,
        "expires_at": exp,
        "refresh_token": refresh,
        "user": body,
    }


def _inet(ip: str) -> str | None:
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        return None


def _user_agent(value: str | None) -> str | None:
    return value[:512] if value else None
