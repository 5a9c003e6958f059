"""Accounts: signing up, and the signed-in user reading and changing theirs (password, email
address, metadata). A profile comes with each account (the database's trigger makes it from
the `username` in the metadata).
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from psycopg import errors as pg_errors
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from momento import logs
from momento.auth import passwords, pkce
from momento.auth import queries as q
from momento.auth.errors import (
    AnonymousProviderDisabled,
    AuthError,
    EmailExists,
    InvalidUsername,
    SamePassword,
    SignupDisabled,
    UserAlreadyExists,
    UsernameTaken,
    ValidationFailed,
)
from momento.auth.links import mail_or_fail, verify_url
from momento.auth.sessions import sign_in
from momento.auth.shared import (
    ClientInfo,
    Identity,
    address_key,
    check_password,
    current_user,
    limit,
    new_otp,
    normalize_email,
    otp_hash,
)
from momento.auth.views import user_json
from momento.errors import raised_by, raises
from momento.kit import names

if TYPE_CHECKING:
    # For types only: the kernel imports the job queue, which imports the domains' tasks.
    from momento.services import Services

log = logs.get("momento.auth")

APP_METADATA = {"provider": "email", "providers": ["email"]}
# GoTrue's answer to a guest setting a password without an address.
GUEST_NEEDS_AN_ADDRESS = (
    "Updating password of an anonymous user without an email or phone is not allowed"
)


@raises(InvalidUsername)
def checked_names(data: dict[str, Any]) -> dict[str, Any]:
    """The metadata with its names in their stored form, or InvalidUsername saying which and
    why. The database's trigger makes the profile's username and display name from these at
    signup, so they follow the rules of /v1/me (momento.kit.names); null leaves them out."""
    out = dict(data)
    try:
        if out.get("username") is not None:
            out["username"] = names.username(out["username"])
        if out.get("display_name") is not None:
            out["display_name"] = names.clean_name(
                out["display_name"], field="display_name", max_length=names.DISPLAY_NAME_MAX
            )
    except names.InvalidName as exc:
        extra = {"field": exc.field, "reason": exc.reason}
        raise InvalidUsername(exc.detail, extra=extra) from None
    return out


@raises(
    SignupDisabled,
    *raised_by(limit, normalize_email, check_password),
    InvalidUsername,
    UserAlreadyExists,
    UsernameTaken,
    *raised_by(mail_or_fail),
)
async def signup(
    services: Services,
    email_in: str | None,
    password: str | None,
    data: dict[str, Any] | None,
    redirect_to: str | None,
    client: ClientInfo,
    challenge: pkce.Challenge | None = None,
) -> dict[str, Any]:
    """Create an account: a session, or (with email confirmation on) the user, mailed a link."""
    settings = services.settings
    if settings.disable_signup:
        raise SignupDisabled()
    await limit(services, [(f"signup:ip:{client.ip}", settings.rate_limit_signup_per_ip)])
    email = normalize_email(email_in)
    if not password:
        raise ValidationFailed("Signup requires a valid password")
    await check_password(settings, password)
    meta = checked_names(data or {})
    username = meta.get("username")

    confirm = settings.email_confirm
    async with services.db.privileged() as conn:
        cur = await conn.execute(q.USER_BY_EMAIL, (email,))
        existing = await cur.fetchone()
    if existing is not None:
        return await _signup_existing(services, existing, redirect_to, challenge)
    if username is not None:
        await check_username_free(services, username)

    hashed = await passwords.hash_password_async(password)
    otp = new_otp() if confirm else None
    async with services.db.privileged() as conn:
        try:
            cur = await conn.execute(
                q.INSERT_USER,
                {
                    "email": email,
                    "password": hashed,
                    "confirmed": not confirm,
                    "app": Jsonb(APP_METADATA),
                    "meta": Jsonb(meta),
                    "ctoken": otp_hash(services, email, otp) if otp else None,
                },
            )
        except pg_errors.UniqueViolation as exc:
            raise _signup_conflict(exc) from None
        user = await cur.fetchone()
        assert user is not None
        session = None if confirm else await sign_in(services, conn, user, client, "password")
        if otp is not None and challenge is not None:
            await pkce.remember(
                conn, user["id"], otp_hash(services, email, otp), challenge, "signup"
            )
    if session is not None:
        log.info("user signed up", user_id=str(user["id"]), confirmed=True)
        return session
    log.info("user signed up", user_id=str(user["id"]), confirmed=False)
    assert otp is not None
    await _mail_confirmation(services, email, otp, redirect_to, challenge)
    return user_json(user)


@raises(
    AnonymousProviderDisabled,
    *raised_by(limit, checked_names),
    SignupDisabled,
    UsernameTaken,
    UserAlreadyExists,
)
async def signup_anonymous(
    services: Services, data: dict[str, Any] | None, client: ClientInfo
) -> dict[str, Any]:
    """A guest: a session for a new user without email or password (GoTrue's anonymous
    sign-in), who may add an address later (`update_user`). `data` is kept as the user's
    metadata, as on a signup: the profile trigger takes its username (or generates one) and
    display name."""
    settings = services.settings
    if not settings.anonymous_signins:
        raise AnonymousProviderDisabled()
    # Its own limit and window: a venue's guests share one address (see config.py).
    await limit(
        services,
        [
            (
                f"anon:ip:{address_key(client.ip)}",
                settings.rate_limit_anonymous_per_ip,
                settings.rate_limit_anonymous_window,
            )
        ],
    )
    if settings.disable_signup:
        raise SignupDisabled()
    meta = checked_names(data or {})
    username = meta.get("username")
    if username is not None:
        await check_username_free(services, username)
    async with services.db.privileged() as conn:
        try:
            cur = await conn.execute(q.INSERT_ANONYMOUS_USER, {"meta": Jsonb(meta)})
        except pg_errors.UniqueViolation as exc:
            raise _signup_conflict(exc) from None
        user = await cur.fetchone()
        assert user is not None
        session = await sign_in(services, conn, user, client, "anonymous")
    log.info("guest signed in", user_id=str(user["id"]))
    return session


async def _signup_existing(
    services: Services,
    existing: DictRow,
    redirect_to: str | None,
    challenge: pkce.Challenge | None,
) -> dict[str, Any]:
    if not services.settings.email_confirm:
        raise UserAlreadyExists()
    if existing["email_confirmed_at"] is not None:
        # As GoTrue: do not reveal that the address has an account.
        return _fake_user(existing["email"])
    # Signed up before and never confirmed: mail a fresh link (at most one a minute).
    email = existing["email"]
    otp = new_otp()
    async with services.db.privileged() as conn:
        cur = await conn.execute(
            q.CONFIRMATION_RECENT, (services.settings.email_send_interval, existing["id"])
        )
        row = await cur.fetchone()
        if row is None or row["recent"]:
            return user_json(existing)
        await conn.execute(q.SET_CONFIRMATION, (otp_hash(services, email, otp), existing["id"]))
        if challenge is not None:
            await pkce.remember(
                conn, existing["id"], otp_hash(services, email, otp), challenge, "signup"
            )
    await _mail_confirmation(services, email, otp, redirect_to, challenge)
    return user_json(existing)


async def _mail_confirmation(
    services: Services,
    email: str,
    otp: str,
    redirect_to: str | None,
    challenge: pkce.Challenge | None,
) -> None:
    await mail_or_fail(
        services,
        email,
        "Confirm your signup",
        "Follow this link to confirm your account:",
        verify_url(
            services.settings, otp_hash(services, email, otp), "signup", redirect_to, challenge
        ),
        otp,
    )


def _fake_user(email: str) -> dict[str, Any]:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {
        "id": str(uuid.uuid4()),
        "aud": "authenticated",
        "role": "authenticated",
        "email": email,
        "phone": "",
        "confirmation_sent_at": now,
        "app_metadata": dict(APP_METADATA),
        "user_metadata": {},
        "identities": [],
        "created_at": now,
        "updated_at": now,
        "is_anonymous": False,
    }


async def check_username_free(services: Services, username: str) -> None:
    async with services.db.privileged() as conn:
        cur = await conn.execute(q.USERNAME_TAKEN, (username,))
        if await cur.fetchone() is not None:
            raise UsernameTaken()


def _signup_conflict(exc: pg_errors.UniqueViolation) -> AuthError:
    """Two signups raced past the checks: the unique index that refused this one says why."""
    constraint = exc.diag.constraint_name or ""
    if "username" in constraint:
        return UsernameTaken()
    return UserAlreadyExists()


# --- the signed-in user ----------------------------------------------------------------------


@raises(*raised_by(current_user))
async def get_user(services: Services, who: Identity) -> dict[str, Any]:
    """The caller's account, as GoTrue's User object."""
    async with services.db.privileged() as conn:
        return user_json(await current_user(conn, who))


@raises(
    *raised_by(check_password),
    InvalidUsername,
    *raised_by(normalize_email, current_user),
    SamePassword,
    EmailExists,
    InvalidUsername,
    *raised_by(mail_or_fail),
)
async def update_user(
    services: Services,
    who: Identity,
    email_in: str | None,
    password: str | None,
    data: dict[str, Any] | None,
    redirect_to: str | None,
    challenge: pkce.Challenge | None = None,
) -> dict[str, Any]:
    """Change the caller's password, email address (mailed for confirmation when that is on)
    or metadata. A new password ends the caller's other sessions.

    A guest (anonymous user) adding an address becomes a permanent user, the same user id
    (their photos and events stay theirs): at once when email confirmation is off, else when
    the link mailed to the new address is followed (a guest has no current address to
    confirm). A guest sets a password only together with an address, as on GoTrue."""
    settings = services.settings
    if password is not None:
        await check_password(settings, password)
    if data is not None:
        data = checked_names(data)
    email = normalize_email(email_in) if email_in is not None else None
    async with services.db.privileged() as conn:
        current = await current_user(conn, who)
    if current["is_anonymous"] and password and email is None:
        # GoTrue's 422 validation_failed (the class of that code at that status).
        raise InvalidUsername(GUEST_NEEDS_AN_ADDRESS)
    new_hash = None
    if password is not None:
        if current["encrypted_password"]:
            same = await passwords.verify_password_async(current["encrypted_password"], password)
            if same.ok:
                raise SamePassword()
        new_hash = await passwords.hash_password_async(password)
    meta = None
    if data is not None:
        merged = {**(current["raw_user_meta_data"] or {}), **data}
        meta = Jsonb({k: v for k, v in merged.items() if v is not None})
    # A new address is only ever taken after its mailed link is followed, and (secure email
    # change) the current address's too: an access token alone cannot move the account. A
    # guest has no account to move: with confirmation off, as a signup (and GoTrue with
    # autoconfirm), the address is taken at once.
    change_to = change_token = current_token = convert_to = None
    otp = current_otp = None
    old_email = current["email"] or ""
    if (
        email is not None
        and email != old_email.lower()
        and (current["is_anonymous"] and not settings.email_confirm)
    ):
        convert_to = email
    elif email is not None and email != old_email.lower():
        otp = new_otp()
        change_to, change_token = email, otp_hash(services, email, otp)
        if settings.secure_email_change and old_email:
            current_otp = new_otp()
            current_token = otp_hash(services, old_email, current_otp)

    async with services.db.privileged() as conn:
        if change_to or convert_to:
            cur = await conn.execute(q.EMAIL_TAKEN, (change_to or convert_to, who.user_id))
            if await cur.fetchone() is not None:
                raise EmailExists()
        try:
            cur = await conn.execute(
                q.UPDATE_USER,
                {
                    "uid": who.user_id,
                    "meta": meta,
                    "password": new_hash,
                    "new_email": change_to,
                    "change_token": change_token,
                    "current_token": current_token,
                },
            )
            if convert_to:
                cur = await conn.execute(q.CONVERT_GUEST, {"uid": who.user_id, "email": convert_to})
        except pg_errors.UniqueViolation:
            raise EmailExists() from None
        user = await cur.fetchone()
        if user is None:  # converted meanwhile by a racing request: answer what is now
            cur = await conn.execute(q.USER_BY_ID, (who.user_id,))
            user = await cur.fetchone()
        assert user is not None
        if convert_to:
            log.info("guest converted", user_id=str(who.user_id), confirmed=True)
        if challenge is not None:
            for token in (change_token, current_token):
                if token is not None:
                    await pkce.remember(conn, who.user_id, token, challenge, "email_change")
        if new_hash is not None:
            # A new password ends every other signed-in device.
            await conn.execute(q.END_OTHER_SESSIONS, (who.user_id, who.session_id))
    if new_hash is not None:
        log.info("password changed", user_id=str(who.user_id))
    if change_to and otp:
        await mail_or_fail(
            services,
            change_to,
            "Confirm your new email address",
            "Follow this link to confirm the change of your email address:",
            verify_url(
                settings, otp_hash(services, change_to, otp), "email_change", redirect_to, challenge
            ),
            otp,
        )
    if current_token and current_otp:
        await mail_or_fail(
            services,
            old_email,
            "Confirm the change of your email address",
            f"Follow this link to confirm changing your email address to {change_to}:",
            verify_url(settings, current_token, "email_change", redirect_to, challenge),
            current_otp,
        )
    return user_json(user)
