"""Signing in by mail (GoTrue's `POST /otp` for an email address): a magic link and its 6-digit
code, checked by `POST`/`GET /verify` with type `magiclink` or `email` (momento.auth.links).

As GoTrue (internal/api/otp.go, magic_link.go):
- an account whose address is confirmed is mailed a sign-in link. Its code is stored where
  GoTrue stores it, as the recovery code (`recovery_token`, `recovery_sent_at`), so a sign-in
  link and a password reset share one send interval and type `magiclink` checks either;
- an address without a confirmed account, with `create_user` (the default), gets a
  password-less account: with email confirmation on it is mailed the signup confirmation
  (GoTrue's "the confirmation mail already is a magic link"), otherwise a sign-in link;
- an address without an account and `create_user` false is 422 `otp_disabled`.
Every other answer is 200 `{}`, so the answer says no more about the address than GoTrue's.

One difference, on purpose: with email confirmation off GoTrue marks a new account's address
confirmed when it is created, before anyone followed a link. Here the address stays
unconfirmed until its link or code is used (verifying confirms it), so a confirmed address
always means a mailed code came back; nothing else differs, as the account has no password
and can only be entered through that link.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg import errors as pg_errors
from psycopg.types.json import Jsonb

from momento import logs
from momento.auth import pkce
from momento.auth import queries as q
from momento.auth.errors import (
    OtpDisabled,
    PhoneProviderDisabled,
    SignupDisabled,
    UsernameTaken,
    ValidationFailed,
)
from momento.auth.links import (
    limit_mails,
    mail_or_fail,
    refuse_if_recent,
    verify_url,
)
from momento.auth.shared import ClientInfo, limit, new_otp, normalize_email, otp_hash
from momento.auth.users import APP_METADATA, check_username_free, checked_names
from momento.errors import raised_by, raises

if TYPE_CHECKING:
    # For types only: the kernel imports the job queue, which imports the domains' tasks.
    from momento.services import Services

log = logs.get("momento.auth")

# The mails, as GoTrue's default templates word them (subject, the line before the link).
SIGN_IN_MAIL = ("Your sign-in link", "Follow this link to sign in:")
CONFIRM_MAIL = ("Confirm your signup", "Follow this link to confirm your account:")


@raises(ValidationFailed, PhoneProviderDisabled)
def _address(email: str | None, phone: str | None, channel: str | None) -> str:
    """The address to mail, checked as GoTrue checks an /otp request (there is no SMS here)."""
    if email and phone:
        raise ValidationFailed("Only an email address or phone number should be provided")
    if email and channel:
        raise ValidationFailed("Channel should only be specified with Phone OTP")
    if phone:
        raise PhoneProviderDisabled()
    if not email:
        raise ValidationFailed("One of email or phone must be set")
    return normalize_email(email)


@raises(*raised_by(checked_names))
def _metadata(data: dict[str, Any] | None) -> tuple[dict[str, Any], str | None]:
    """A new account's user metadata, and its username (checked as signup checks them)."""
    meta = checked_names(data or {})
    return meta, meta.get("username")


@raises(
    *raised_by(_address, limit, limit_mails, refuse_if_recent, mail_or_fail, _metadata),
    OtpDisabled,
    SignupDisabled,
    UsernameTaken,
)
async def sign_in_with_otp(
    services: Services,
    email_in: str | None,
    phone: str | None,
    channel: str | None,
    create_user: bool | None,
    data: dict[str, Any] | None,
    redirect_to: str | None,
    client: ClientInfo,
    challenge: pkce.Challenge | None = None,
) -> None:
    """Mail a sign-in link and code (or, for a new account with confirmation on, the signup
    confirmation), creating a password-less account for a new address if `create_user`."""
    email = _address(email_in, phone, channel)
    settings = services.settings
    # Before any lookup, so that asking about addresses (create_user false) is throttled too.
    await limit_mails(services, client, email)
    otp = new_otp()
    async with services.db.privileged() as conn:
        cur = await conn.execute(
            q.OTP_LOOKUP, {"email": email, "interval": settings.email_send_interval}
        )
        row = await cur.fetchone()
        if row is None:
            if create_user is False:
                raise OtpDisabled()
        elif not row["confirmed"] and settings.email_confirm:
            # Signed up and never confirmed: the confirmation again, as GoTrue's signup does
            # (the metadata sent now is not applied: nobody has proven the address yet).
            refuse_if_recent(
                {"recent": row["confirmation_recent"], "wait": row["confirmation_wait"]}
            )
            kind, address = "signup", row["email"]
            token_hash = otp_hash(services, address, otp)
            await conn.execute(q.SET_CONFIRMATION, (token_hash, row["id"]))
            if challenge is not None:
                await pkce.remember(conn, row["id"], token_hash, challenge, kind)
        else:
            refuse_if_recent({"recent": row["link_recent"], "wait": row["link_wait"]})
            kind, address = "magiclink", row["email"]
            token_hash = otp_hash(services, address, otp)
            await conn.execute(q.SET_RECOVERY, (token_hash, row["id"]))
            if challenge is not None:
                await pkce.remember(conn, row["id"], token_hash, challenge, kind)
    if row is None:
        created = await _create(services, email, otp, data, client, challenge)
        if created is None:
            return
        kind, token_hash = created
        address = email
    subject, intro = SIGN_IN_MAIL if kind == "magiclink" else CONFIRM_MAIL
    await mail_or_fail(
        services,
        address,
        subject,
        intro,
        verify_url(settings, token_hash, kind, redirect_to, challenge),
        otp,
    )


async def _create(
    services: Services,
    email: str,
    otp: str,
    data: dict[str, Any] | None,
    client: ClientInfo,
    challenge: pkce.Challenge | None,
) -> tuple[str, str] | None:
    """A new password-less account for `email`, its code stored: (the mail's type, the code's
    hash), or None when a concurrent request created the account first (that one mails)."""
    settings = services.settings
    if settings.disable_signup:
        raise SignupDisabled()
    # An account made here counts against the same per-address limit as a password signup.
    await limit(services, [(f"signup:ip:{client.ip}", settings.rate_limit_signup_per_ip)])
    meta, username = _metadata(data)
    if username is not None:
        await check_username_free(services, username)
    kind = "signup" if settings.email_confirm else "magiclink"
    token_hash = otp_hash(services, email, otp)
    async with services.db.privileged() as conn:
        try:
            cur = await conn.execute(
                q.INSERT_USER,
                {
                    "email": email,
                    "password": None,
                    "confirmed": False,
                    "app": Jsonb(APP_METADATA),
                    "meta": Jsonb(meta),
                    "ctoken": token_hash if kind == "signup" else None,
                },
            )
        except pg_errors.UniqueViolation as exc:
            if "username" in (exc.diag.constraint_name or ""):
                raise UsernameTaken() from None
            log.info("otp signup raced another for the same address")
            return None
        user = await cur.fetchone()
        assert user is not None
        if kind == "magiclink":
            await conn.execute(q.SET_RECOVERY, (token_hash, user["id"]))
        if challenge is not None:
            await pkce.remember(conn, user["id"], token_hash, challenge, kind)
    log.info("user signed up", user_id=str(user["id"]), method="otp", confirmed=False)
    return kind, token_hash
