"""Mailed links and codes: the mail itself, password recovery, and checking a code, typed
(`POST /verify`) or followed as a link (`GET /verify`).

A mailed code is stored as GoTrue's `token_hash`, is used once, and is valid for `otp_ttl`.
A link requested with a PKCE challenge gets a flow state (`pkce`): following it answers a
code for the app holding the verifier instead of a session.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, LiteralString
from urllib.parse import urlencode, urlsplit

from psycopg import errors as pg_errors

from momento import logs
from momento.auth import pkce
from momento.auth import queries as q
from momento.auth.errors import (
    EmailExists,
    OtpExpired,
    OverEmailSendRateLimit,
    UnexpectedFailure,
    UserBanned,
    ValidationFailed,
)
from momento.auth.sessions import sign_in
from momento.auth.shared import (
    ClientInfo,
    account_key,
    address_key,
    limit,
    new_otp,
    normalize_email,
    otp_hash,
)
from momento.config import Settings
from momento.errors import MomentoError, raised_by, raises

if TYPE_CHECKING:
    # For types only: the kernel imports the job queue, which imports the domains' tasks.
    from momento.services import Services

log = logs.get("momento.auth")

VERIFY_TYPES = tuple(q.VERIFY)

# GoTrue's answer to the first of the two links of a secure email change.
ONE_OF_TWO = "Confirmation link accepted. Please proceed to confirm link sent to the other email"


@raises(*raised_by(limit))
async def limit_mails(services: Services, client: ClientInfo, email: str) -> None:
    """The limits of requests that mail a link to an address (recovery, resend)."""
    settings = services.settings
    await limit(
        services,
        [
            (f"recover:ip:{client.ip}", settings.rate_limit_recover_per_ip),
            (f"recover:acct:{account_key(email)}", settings.rate_limit_recover_per_account),
        ],
    )


@raises(OverEmailSendRateLimit)
def refuse_if_recent(row: Mapping[str, Any]) -> None:
    """One mail of a kind per address per send interval, as GoTrue: a second is 429, said
    rather than silently dropped. `row` has `recent` and `wait` (seconds until allowed)."""
    if row["recent"]:
        wait = max(1, int(row["wait"]))
        raise OverEmailSendRateLimit(
            retry_after=wait,
            detail=f"For security purposes, you can only request this after {wait} seconds.",
        )


@raises(*raised_by(normalize_email, limit_mails, refuse_if_recent))
async def recover(
    services: Services,
    email_in: str | None,
    redirect_to: str | None,
    client: ClientInfo,
    challenge: pkce.Challenge | None = None,
) -> None:
    """Mail a password reset link; the answer never says whether the address exists."""
    email = normalize_email(email_in)
    settings = services.settings
    await limit_mails(services, client, email)
    otp = new_otp()
    async with services.db.privileged() as conn:
        cur = await conn.execute(
            q.RECOVER_LOOKUP, {"email": email, "interval": settings.email_send_interval}
        )
        row = await cur.fetchone()
        if row is None:
            return
        refuse_if_recent(row)
        address = row["email"]
        token_hash = otp_hash(services, address, otp)
        await conn.execute(q.SET_RECOVERY, (token_hash, row["id"]))
        if challenge is not None:
            await pkce.remember(conn, row["id"], token_hash, challenge, "recovery")
    try:
        await send(
            services,
            address,
            "Reset your password",
            "Follow this link to reset the password for your account:",
            verify_url(settings, token_hash, "recovery", redirect_to, challenge),
            otp,
        )
    except Exception as exc:
        # Answering differently would tell the caller the address has an account.
        log.error("recovery mail not sent", user_id=str(row["id"]), error=type(exc).__name__)


_CHECK_ERRORS: tuple[type[MomentoError], ...] = (
    ValidationFailed,
    *raised_by(limit),
    OtpExpired,
    UserBanned,
    EmailExists,
)


@raises(*_CHECK_ERRORS)
async def verify(
    services: Services,
    kind: str | None,
    email_in: str | None,
    token: str | None,
    token_hash: str | None,
    client: ClientInfo,
) -> tuple[dict[str, Any], str]:
    """Check a mailed code; return a session and the verification type."""
    session, kind, _ = await _check(services, kind, email_in, token, token_hash, client, False)
    if session is None:  # the first of a secure email change's two links
        # "200" as a string, as GoTrue sends it: supabase_auth compares with "200" and, on
        # anything else, fails to read the answer as a user.
        return {"msg": ONE_OF_TWO, "code": "200"}, kind
    return session, kind


@raises(*_CHECK_ERRORS, *raised_by(pkce.issue_code))
async def verify_link(
    services: Services, kind: str | None, link_token: str, client: ClientInfo
) -> tuple[dict[str, Any] | None, str, uuid.UUID | None]:
    """The mailed link was followed: a session, or for a PKCE link (`pkce_` token) no
    session but the code that its app exchanges with the verifier."""
    token_hash, is_pkce = pkce.split_link_token(link_token)
    return await _check(services, kind, None, None, token_hash, client, is_pkce)


async def _check(
    services: Services,
    kind: str | None,
    email_in: str | None,
    token: str | None,
    token_hash: str | None,
    client: ClientInfo,
    is_pkce: bool,
) -> tuple[dict[str, Any] | None, str, uuid.UUID | None]:
    if token_hash:
        token_hash = pkce.split_link_token(token_hash)[0]
    if kind not in VERIFY_TYPES:
        raise ValidationFailed("Verify requires a verification type")
    if token_hash and (token or email_in):
        raise ValidationFailed("Only the token_hash and type should be provided")
    if not token_hash and not (token and email_in):
        raise ValidationFailed("Verify requires either a token or a token hash")
    settings = services.settings
    # Wrong codes are capped per address, and per account when the email names it, so that a
    # 6-digit code cannot be guessed even from many addresses. Every attempt is counted first
    # (parallel guesses cannot slip past the cap) and a correct one is taken back.
    window = settings.rate_limit_verify_window
    limits = [(f"verify:ip:{address_key(client.ip)}", settings.rate_limit_verify_per_ip, window)]
    email = None
    if not token_hash:
        email = normalize_email(email_in)
        acct = f"verify:acct:{account_key(email)}"
        limits.append((acct, settings.rate_limit_verify_per_account, window))
    await limit(services, limits)
    result = await _use_code(services, kind, email, token, token_hash, client, is_pkce)
    await services.limiter.refund([key for key, _, _ in limits])
    return result


async def _use_code(
    services: Services,
    kind: str,
    email: str | None,
    token: str | None,
    token_hash: str | None,
    client: ClientInfo,
    is_pkce: bool,
) -> tuple[dict[str, Any] | None, str, uuid.UUID | None]:
    settings = services.settings
    wanted = token_hash or otp_hash(services, email or "", (token or "").strip())

    find, use = q.VERIFY[kind]
    params = {"hash": wanted, "ttl": settings.otp_ttl, "email": email}
    async with services.db.privileged() as conn:
        cur = await conn.execute(find, params)
        found = await cur.fetchone()
        if found is None:
            raise OtpExpired()
        if found["banned"]:
            raise UserBanned()
        try:
            cur = await conn.execute(use, {"hash": wanted, "id": found["id"]})
        except pg_errors.UniqueViolation:
            raise EmailExists() from None
        if kind == "email_change":
            used = await cur.fetchone()
            if used is not None and not used["applied"]:
                # One of the two addresses of a secure change: the other's link applies it.
                await pkce.forget(conn, found["id"], wanted)
                log.info("code verified", user_id=str(found["id"]), type=kind, applied=False)
                return None, kind, None
        if is_pkce:
            # Verified; the session waits for the app holding the code verifier.
            code = await pkce.issue_code(conn, found["id"], wanted)
            log.info("code verified", user_id=str(found["id"]), type=kind, flow="pkce")
            return None, kind, code
        await pkce.forget(conn, found["id"], wanted)
        cur = await conn.execute(q.USER_BY_ID, (found["id"],))
        user = await cur.fetchone()
        assert user is not None
        method = "recovery" if kind == "recovery" else "otp"
        session = await sign_in(services, conn, user, client, method)
    log.info("code verified", user_id=str(found["id"]), type=kind)
    return session, kind, None


# --- links and mail --------------------------------------------------------------------------


def redirect_target(settings: Settings, redirect_to: str | None) -> str:
    """`redirect_to` if it is the site or in the allow list, else the site URL."""
    default = settings.site_url or settings.base_url
    if not redirect_to:
        return default
    target = urlsplit(redirect_to)
    site = urlsplit(default)
    if target.scheme in ("http", "https") and (target.scheme, target.netloc) == (
        site.scheme,
        site.netloc,
    ):
        return redirect_to
    for pattern in settings.redirect_allow_list:
        if redirect_to == pattern or fnmatchcase(redirect_to, pattern):
            return redirect_to
    return default


def verify_url(
    settings: Settings,
    token_hash: str,
    kind: str,
    redirect_to: str | None,
    challenge: pkce.Challenge | None = None,
) -> str:
    """The link a mail carries: this server's GET /verify, then on to `redirect_to`."""
    query = urlencode(
        {
            "token": pkce.link_token(token_hash, challenge),
            "type": kind,
            "redirect_to": redirect_target(settings, redirect_to),
        }
    )
    return f"{settings.base_url}/auth/v1/verify?{query}"


async def send(services: Services, to: str, subject: str, intro: str, link: str, otp: str) -> None:
    text = f"{intro}\n\n{link}\n\nOr enter this code in the app: {otp}\n"
    await services.mailer.send(to, subject, text)


@raises(UnexpectedFailure)
async def mail_or_fail(
    services: Services, to: str, subject: str, intro: str, link: str, otp: str
) -> None:
    """`send`, answering 500 unexpected_failure (as GoTrue) when the mail could not go."""
    try:
        await send(services, to, subject, intro, link, otp)
    except Exception as exc:
        log.error("mail not sent", subject=subject, error=type(exc).__name__)
        raise UnexpectedFailure() from None


# What `resend` mails, by GoTrue's type: the lookup, how the new code is stored, the mail.
_RESEND: dict[str, tuple[LiteralString, LiteralString, str, str]] = {
    "signup": (
        q.RESEND_SIGNUP,
        q.SET_CONFIRMATION,
        "Confirm your signup",
        "Follow this link to confirm your account:",
    ),
    "email_change": (
        q.RESEND_EMAIL_CHANGE,
        q.SET_EMAIL_CHANGE_CODE,
        "Confirm your new email address",
        "Follow this link to confirm the change of your email address:",
    ),
}


@raises(*raised_by(normalize_email, limit_mails, refuse_if_recent, mail_or_fail), ValidationFailed)
async def resend(
    services: Services,
    kind: str | None,
    email_in: str | None,
    redirect_to: str | None,
    client: ClientInfo,
    challenge: pkce.Challenge | None = None,
) -> None:
    """Mail the signup confirmation or the email change link again (GoTrue's /resend).

    As GoTrue: an address without such a pending mail answers the same as one with it
    (nothing is sent), and a second mail inside the send interval is 429."""
    if kind not in _RESEND:
        raise ValidationFailed("Missing one of these types: signup, email_change.")
    if not email_in:
        raise ValidationFailed("Type provided requires an email address.")
    email = normalize_email(email_in)
    settings = services.settings
    await limit_mails(services, client, email)
    lookup, store, subject, intro = _RESEND[kind]
    otp = new_otp()
    async with services.db.privileged() as conn:
        cur = await conn.execute(lookup, {"email": email, "interval": settings.email_send_interval})
        row = await cur.fetchone()
        if row is None or row["done"]:
            return
        refuse_if_recent(row)
        address = row["email"]
        token_hash = otp_hash(services, address, otp)
        await conn.execute(store, (token_hash, row["id"]))
        if challenge is not None:
            await pkce.remember(conn, row["id"], token_hash, challenge, kind)
    await mail_or_fail(
        services,
        address,
        subject,
        intro,
        verify_url(settings, token_hash, kind, redirect_to, challenge),
        otp,
    )
