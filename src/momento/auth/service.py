"""The authentication domain: accounts, sessions, refresh tokens, mailed one-time codes.

Runs as the owner of the tables (`Database.privileged`): nothing here acts on behalf of a
signed-in user's row-level identity. Answers are shaped as GoTrue's (see `views`), errors
carry GoTrue's codes (`AuthError`), and every secret is stored only as a hash:

- refresh tokens as SHA-256 hex; each use revokes the token and issues a child; a revoked
  token presented again outside `refresh_reuse_interval` deletes its whole session;
- mailed codes as GoTrue's `token_hash` (hex SHA-224 of email + 6-digit code), single use,
  valid for `otp_ttl`; a link requested with a PKCE challenge gets a flow state (`pkce`).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, LiteralString
from urllib.parse import urlencode, urlsplit

from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from momento import logs
from momento.auth import passwords
from momento.auth import pkce as pkce_flow
from momento.auth.errors import AuthError
from momento.auth.views import user_json
from momento.db.pool import Conn
from momento.errors import InvalidToken, RateLimited

if TYPE_CHECKING:
    # For types only: the kernel imports the job queue, which imports this module's tasks.
    from momento.services import Services

log = logs.get("momento.auth")

APP_METADATA = {"provider": "email", "providers": ["email"]}
MAX_PASSWORD_LENGTH = 256
MAX_EMAIL_LENGTH = 255
VERIFY_TYPES = ("signup", "invite", "recovery", "magiclink", "email", "email_change")
LOGOUT_SCOPES = ("global", "local", "others")

_EMAIL = re.compile(r"^[^\s@\"<>,;:()\[\]\\]+@[^\s@\"<>,;:()\[\]\\.]+(\.[^\s@\"<>,;:()\[\]\\.]+)+$")
# The form public.profiles accepts (checked on the ASCII input, before lowering it).
_USERNAME = re.compile(r"^[A-Za-z0-9_.]{3,30}$")

# Mailed-code columns checked by each verification type: (token column, sent-at column).
_OTP_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "signup": (("confirmation_token", "confirmation_sent_at"),),
    "invite": (("confirmation_token", "confirmation_sent_at"),),
    "recovery": (("recovery_token", "recovery_sent_at"),),
    "magiclink": (("recovery_token", "recovery_sent_at"),),
    "email": (
        ("confirmation_token", "confirmation_sent_at"),
        ("recovery_token", "recovery_sent_at"),
    ),
    "email_change": (("email_change_token_new", "email_change_sent_at"),),
}

# --- SQL ---------------------------------------------------------------------------------

_USER_COLUMNS: LiteralString = """
  u.id, u.aud, u.role, u.email, u.phone, u.encrypted_password, u.email_confirmed_at,
  u.invited_at, u.confirmation_sent_at, u.recovery_sent_at, u.email_change,
  u.email_change_sent_at, u.last_sign_in_at, u.raw_app_meta_data, u.raw_user_meta_data,
  u.created_at, u.updated_at, u.is_anonymous,
  coalesce(u.banned_until > now(), false) AS banned
"""

_USER_BY_EMAIL: LiteralString = (
    "SELECT" + _USER_COLUMNS + "FROM auth.users u"
    " WHERE lower(u.email) = lower(%s) AND u.deleted_at IS NULL"
)

_USER_BY_ID: LiteralString = (
    "SELECT" + _USER_COLUMNS + "FROM auth.users u WHERE u.id = %s AND u.deleted_at IS NULL"
)

_USER_WITH_SESSION: LiteralString = (
    "SELECT"  # noqa: S608 (constants only)
    + _USER_COLUMNS
    + """, EXISTS (SELECT 1 FROM auth.sessions s WHERE s.id = %(sid)s AND s.user_id = u.id)
      AS has_session
FROM auth.users u WHERE u.id = %(uid)s AND u.deleted_at IS NULL"""
)

_USERNAME_TAKEN: LiteralString = "SELECT 1 FROM public.profiles WHERE lower(username) = lower(%s)"

_EMAIL_TAKEN: LiteralString = "SELECT 1 FROM auth.users WHERE lower(email) = lower(%s) AND id <> %s"

_INSERT_USER: LiteralString = (
    """
INSERT INTO auth.users AS u (aud, role, email, encrypted_password, email_confirmed_at,
  raw_app_meta_data, raw_user_meta_data, confirmation_token, confirmation_sent_at)
VALUES ('authenticated', 'authenticated', %(email)s, %(password)s,
  CASE WHEN %(confirmed)s THEN now() END, %(app)s, %(meta)s, %(ctoken)s::text,
  CASE WHEN %(ctoken)s::text IS NOT NULL THEN now() END)
RETURNING"""
    + _USER_COLUMNS
)

_SET_CONFIRMATION: LiteralString = (
    "UPDATE auth.users SET confirmation_token = %s, confirmation_sent_at = now(),"
    " updated_at = now() WHERE id = %s"
)

_INSERT_SESSION: LiteralString = (
    "INSERT INTO auth.sessions (user_id, user_agent, ip) VALUES (%s, %s, %s)"
    " RETURNING id, extract(epoch FROM created_at)::bigint AS started"
)

_INSERT_REFRESH: LiteralString = (
    "INSERT INTO auth.refresh_tokens (token_hash, user_id, session_id, parent)"
    " VALUES (%s, %s, %s, %s)"
)

_SIGNED_IN: LiteralString = (
    "UPDATE auth.users u SET last_sign_in_at = now(), updated_at = now() WHERE u.id = %s"  # noqa: S608
    " RETURNING" + _USER_COLUMNS
)

_REHASH: LiteralString = (
    "UPDATE auth.users SET encrypted_password = %s WHERE id = %s AND encrypted_password = %s"
)

_REFRESH_LOOKUP: LiteralString = """
SELECT rt.id, rt.revoked, rt.session_id, rt.user_id,
  rt.updated_at > now() - make_interval(secs => %(reuse)s) AS within_reuse,
  rt.created_at < now() - make_interval(secs => %(ttl)s) AS token_expired,
  coalesce(s.not_after < now(), false) AS session_expired,
  extract(epoch FROM s.created_at)::bigint AS started
FROM auth.refresh_tokens rt JOIN auth.sessions s ON s.id = rt.session_id
WHERE rt.token_hash = %(hash)s
FOR UPDATE OF rt
"""

_REVOKE_REFRESH: LiteralString = (
    "UPDATE auth.refresh_tokens SET revoked = true, updated_at = now() WHERE id = %s"
)

_TOUCH_SESSION: LiteralString = (
    "UPDATE auth.sessions SET refreshed_at = now(), updated_at = now() WHERE id = %s"
)

_DELETE_SESSION: LiteralString = "DELETE FROM auth.sessions WHERE id = %s"

_LOGOUT: dict[str, LiteralString] = {
    "global": "DELETE FROM auth.sessions WHERE user_id = %(uid)s",
    "local": "DELETE FROM auth.sessions WHERE user_id = %(uid)s AND id = %(sid)s",
    "others": "DELETE FROM auth.sessions WHERE user_id = %(uid)s AND id <> %(sid)s",
}

_RECOVER_LOOKUP: LiteralString = """
SELECT id, email,
  coalesce(recovery_sent_at > now() - make_interval(secs => %(interval)s), false) AS recent
FROM auth.users
WHERE lower(email) = lower(%(email)s) AND deleted_at IS NULL
FOR UPDATE
"""

_SET_RECOVERY: LiteralString = (
    "UPDATE auth.users SET recovery_token = %s, recovery_sent_at = now() WHERE id = %s"
)

_UPDATE_USER: LiteralString = (
    """
UPDATE auth.users u SET
  raw_user_meta_data = coalesce(%(meta)s::jsonb, u.raw_user_meta_data),
  encrypted_password = coalesce(%(password)s::text, u.encrypted_password),
  recovery_token = CASE WHEN %(password)s::text IS NULL THEN u.recovery_token END,
  email = coalesce(%(email)s::text, u.email),
  email_confirmed_at = CASE WHEN %(email)s::text IS NULL THEN u.email_confirmed_at
                            ELSE now() END,
  email_change = CASE WHEN %(email)s::text IS NULL
                 THEN coalesce(%(new_email)s::text, u.email_change) END,
  email_change_token_new = CASE WHEN %(email)s::text IS NULL
                           THEN coalesce(%(change_token)s::text, u.email_change_token_new) END,
  email_change_sent_at = CASE WHEN %(change_token)s::text IS NOT NULL THEN now()
                         ELSE u.email_change_sent_at END,
  updated_at = now()
WHERE u.id = %(uid)s
RETURNING"""
    + _USER_COLUMNS
)

_END_OTHER_SESSIONS: LiteralString = "DELETE FROM auth.sessions WHERE user_id = %s AND id <> %s"


@dataclass(frozen=True)
class ClientInfo:
    """Where a request came from: recorded on new sessions and used for rate limits."""

    ip: str
    user_agent: str | None = None


@dataclass(frozen=True)
class Identity:
    """The verified claims of the bearer token on a user call."""

    user_id: uuid.UUID
    session_id: uuid.UUID
    token: str


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def otp_hash(email: str, otp: str) -> str:
    """GoTrue's token_hash of a mailed code: hex SHA-224 of the address and the code."""
    return hashlib.sha224((email + otp).encode()).hexdigest()


def new_otp() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def normalize_email(value: str | None) -> str:
    email = (value or "").strip().lower()
    if not email:
        raise AuthError(400, "validation_failed", "An email address is required.")
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.match(email):
        raise AuthError(
            400, "validation_failed", "Unable to validate email address: invalid format"
        )
    return email


class AuthService:
    def __init__(self, services: Services) -> None:
        self.s = services
        self.settings = services.settings

    # --- identity of user calls -----------------------------------------------------------

    def identify(self, token: str | None) -> Identity:
        """Verify a bearer token as GoTrue does (401 no_authorization, 403 bad_jwt)."""
        if not token:
            raise AuthError(401, "no_authorization", "This endpoint requires a valid Bearer token")
        try:
            claims = self.s.tokens.verify(token)
            return Identity(
                uuid.UUID(str(claims["sub"])), uuid.UUID(str(claims["session_id"])), token
            )
        except InvalidToken as exc:
            raise AuthError(
                403, "bad_jwt", f"invalid JWT: unable to parse or verify signature, {exc.detail}"
            ) from None
        except (KeyError, ValueError):
            raise AuthError(403, "bad_jwt", "invalid JWT: session_id is not valid") from None

    async def _current(self, conn: Conn, who: Identity, *, lock: bool = False) -> DictRow:
        query: LiteralString = _USER_WITH_SESSION + (" FOR UPDATE OF u" if lock else "")
        cur = await conn.execute(query, {"uid": who.user_id, "sid": who.session_id})
        row = await cur.fetchone()
        if row is None:
            raise AuthError(403, "user_not_found", "User from sub claim in JWT does not exist")
        if not row["has_session"]:
            raise AuthError(
                403, "session_not_found", "Session from session_id claim in JWT does not exist"
            )
        return row

    # --- signup ---------------------------------------------------------------------------

    async def signup(
        self,
        email_in: str | None,
        password: str | None,
        data: dict[str, Any] | None,
        redirect_to: str | None,
        client: ClientInfo,
        challenge: pkce_flow.Challenge | None = None,
    ) -> dict[str, Any]:
        if self.settings.disable_signup:
            raise AuthError(422, "signup_disabled", "Signups not allowed for this instance")
        await self._limit([(f"signup:ip:{client.ip}", self.settings.rate_limit_signup_per_ip)])
        email = normalize_email(email_in)
        if not password:
            raise AuthError(400, "validation_failed", "Signup requires a valid password")
        self._check_password(password)
        meta = dict(data or {})
        username = meta.get("username")
        if username is not None:
            if not isinstance(username, str) or not _USERNAME.match(username):
                raise AuthError(
                    422,
                    "validation_failed",
                    "A username is 3 to 30 characters: letters, digits, '_' and '.'.",
                )
            meta["username"] = username = username.lower()

        confirm = self.settings.email_confirm
        async with self.s.db.privileged() as conn:
            cur = await conn.execute(_USER_BY_EMAIL, (email,))
            existing = await cur.fetchone()
        if existing is not None:
            return await self._signup_existing(existing, redirect_to, challenge)
        if username is not None:
            await self._check_username_free(username)

        hashed = await passwords.hash_password_async(password)
        otp = new_otp() if confirm else None
        async with self.s.db.privileged() as conn:
            try:
                cur = await conn.execute(
                    _INSERT_USER,
                    {
                        "email": email,
                        "password": hashed,
                        "confirmed": not confirm,
                        "app": Jsonb(APP_METADATA),
                        "meta": Jsonb(meta),
                        "ctoken": otp_hash(email, otp) if otp else None,
                    },
                )
            except pg_errors.UniqueViolation as exc:
                raise self._signup_conflict(exc) from None
            user = await cur.fetchone()
            assert user is not None
            session = None if confirm else await self._sign_in(conn, user, client, "password")
            if otp is not None and challenge is not None:
                await pkce_flow.remember(
                    conn, user["id"], otp_hash(email, otp), challenge, "signup"
                )
        if session is not None:
            log.info("user signed up", user_id=str(user["id"]), confirmed=True)
            return session
        log.info("user signed up", user_id=str(user["id"]), confirmed=False)
        assert otp is not None
        await self._mail_confirmation(email, otp, redirect_to, challenge)
        return user_json(user)

    async def _signup_existing(
        self, existing: DictRow, redirect_to: str | None, challenge: pkce_flow.Challenge | None
    ) -> dict[str, Any]:
        if not self.settings.email_confirm:
            raise AuthError(422, "user_already_exists", "User already registered")
        if existing["email_confirmed_at"] is not None:
            # As GoTrue: do not reveal that the address has an account.
            return self._fake_user(existing["email"])
        # Signed up before and never confirmed: mail a fresh link (at most one a minute).
        email = existing["email"]
        otp = new_otp()
        async with self.s.db.privileged() as conn:
            cur = await conn.execute(
                "SELECT coalesce(confirmation_sent_at > now() - make_interval(secs => %s), false)"
                " AS recent FROM auth.users WHERE id = %s FOR UPDATE",
                (self.settings.email_send_interval, existing["id"]),
            )
            row = await cur.fetchone()
            if row is None or row["recent"]:
                return user_json(existing)
            await conn.execute(_SET_CONFIRMATION, (otp_hash(email, otp), existing["id"]))
            if challenge is not None:
                await pkce_flow.remember(
                    conn, existing["id"], otp_hash(email, otp), challenge, "signup"
                )
        await self._mail_confirmation(email, otp, redirect_to, challenge)
        return user_json(existing)

    async def _mail_confirmation(
        self, email: str, otp: str, redirect_to: str | None, challenge: pkce_flow.Challenge | None
    ) -> None:
        await self._mail_or_fail(
            email,
            "Confirm your signup",
            "Follow this link to confirm your account:",
            self._verify_link(otp_hash(email, otp), "signup", redirect_to, challenge),
            otp,
        )

    def _fake_user(self, email: str) -> dict[str, Any]:
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

    async def _check_username_free(self, username: str) -> None:
        async with self.s.db.privileged() as conn:
            cur = await conn.execute(_USERNAME_TAKEN, (username,))
            if await cur.fetchone() is not None:
                raise AuthError(422, "username_taken", "That username is already taken.")

    @staticmethod
    def _signup_conflict(exc: pg_errors.UniqueViolation) -> AuthError:
        constraint = exc.diag.constraint_name or ""
        if "username" in constraint:
            return AuthError(422, "username_taken", "That username is already taken.")
        return AuthError(422, "user_already_exists", "User already registered")

    # --- password login -------------------------------------------------------------------

    async def password_grant(
        self, email_in: str | None, password: str | None, client: ClientInfo
    ) -> dict[str, Any]:
        if not email_in or not password:
            raise AuthError(
                400, "validation_failed", "An email address and a password are required."
            )
        email = email_in.strip().lower()
        await self._limit(
            [
                (f"login:ip:{client.ip}", self.settings.rate_limit_login_per_ip),
                (
                    f"login:acct:{sha256_hex(email)[:32]}",
                    self.settings.rate_limit_login_per_account,
                ),
            ]
        )
        async with self.s.db.privileged() as conn:
            cur = await conn.execute(_USER_BY_EMAIL, (email,))
            user = await cur.fetchone()
        stored = user["encrypted_password"] if user is not None else None
        verdict = await passwords.verify_password_async(stored, password)
        if user is None or not verdict.ok:
            log.info("password login refused", reason="invalid_credentials")
            raise AuthError(400, "invalid_credentials", "Invalid login credentials")
        if user["banned"]:
            raise AuthError(400, "user_banned", "User is banned")
        if user["email_confirmed_at"] is None:
            raise AuthError(400, "email_not_confirmed", "Email not confirmed")
        new_hash = await passwords.hash_password_async(password) if verdict.needs_rehash else None
        async with self.s.db.privileged() as conn:
            if new_hash is not None:
                await conn.execute(_REHASH, (new_hash, user["id"], stored))
            return await self._sign_in(conn, user, client, "password")

    # --- refresh --------------------------------------------------------------------------

    async def refresh_grant(self, refresh_token: str | None, client: ClientInfo) -> dict[str, Any]:
        if not refresh_token:
            raise AuthError(400, "validation_failed", "A refresh_token is required.")
        failure: AuthError | None = None
        async with self.s.db.privileged() as conn:
            cur = await conn.execute(
                _REFRESH_LOOKUP,
                {
                    "hash": sha256_hex(refresh_token),
                    "reuse": self.settings.refresh_reuse_interval,
                    "ttl": self.settings.refresh_token_ttl,
                },
            )
            token = await cur.fetchone()
            user = None
            if token is not None:
                cur = await conn.execute(_USER_BY_ID, (token["user_id"],))
                user = await cur.fetchone()
            if token is None or user is None:
                failure = AuthError(
                    400,
                    "refresh_token_not_found",
                    "Invalid Refresh Token: Refresh Token Not Found",
                )
            elif user["banned"]:
                failure = AuthError(400, "user_banned", "User is banned")
            elif token["session_expired"] or token["token_expired"]:
                await conn.execute(_DELETE_SESSION, (token["session_id"],))
                failure = AuthError(
                    400, "session_expired", "Invalid Refresh Token: Session Expired"
                )
            elif token["revoked"] and not token["within_reuse"]:
                # A rotated token came back: it was copied. End the session it belongs to.
                await conn.execute(_DELETE_SESSION, (token["session_id"],))
                log.warning(
                    "refresh token reused; session revoked",
                    user_id=str(token["user_id"]),
                    session_id=str(token["session_id"]),
                )
                failure = AuthError(
                    400,
                    "refresh_token_already_used",
                    "Invalid Refresh Token: Already Used",
                )
            else:
                # Not yet used, or used moments ago by a racing request of the same client:
                # issue a child (a sibling of the racer's, which stays valid).
                if not token["revoked"]:
                    await conn.execute(_REVOKE_REFRESH, (token["id"],))
                child = secrets.token_urlsafe(32)
                await conn.execute(
                    _INSERT_REFRESH,
                    (
                        sha256_hex(child),
                        token["user_id"],
                        token["session_id"],
                        sha256_hex(refresh_token),
                    ),
                )
                await conn.execute(_TOUCH_SESSION, (token["session_id"],))
                assert user is not None
                return self._session_json(
                    user, token["session_id"], child, "password", int(token["started"])
                )
        assert failure is not None
        raise failure

    # --- logout ---------------------------------------------------------------------------

    async def logout(self, who: Identity, scope: str | None) -> None:
        scope = scope or "global"
        if scope not in LOGOUT_SCOPES:
            raise AuthError(400, "validation_failed", f"Unsupported logout scope {scope!r}")
        async with self.s.db.privileged() as conn:
            await self._current(conn, who)
            await conn.execute(_LOGOUT[scope], {"uid": who.user_id, "sid": who.session_id})
        if scope != "others":
            self.s.tokens.forget(who.token)

    # --- the user -------------------------------------------------------------------------

    async def get_user(self, who: Identity) -> dict[str, Any]:
        async with self.s.db.privileged() as conn:
            return user_json(await self._current(conn, who))

    async def update_user(
        self,
        who: Identity,
        email_in: str | None,
        password: str | None,
        data: dict[str, Any] | None,
        redirect_to: str | None,
        challenge: pkce_flow.Challenge | None = None,
    ) -> dict[str, Any]:
        if password is not None:
            self._check_password(password)
        email = normalize_email(email_in) if email_in is not None else None
        async with self.s.db.privileged() as conn:
            current = await self._current(conn, who)
        new_hash = None
        if password is not None:
            same = await passwords.verify_password_async(current["encrypted_password"], password)
            if same.ok:
                raise AuthError(
                    422, "same_password", "New password should be different from the old password."
                )
            new_hash = await passwords.hash_password_async(password)
        meta = None
        if data is not None:
            merged = {**(current["raw_user_meta_data"] or {}), **data}
            meta = Jsonb({k: v for k, v in merged.items() if v is not None})
        change_to = change_token = None
        otp = None
        if email is not None and email != (current["email"] or "").lower():
            if self.settings.email_confirm:
                otp = new_otp()
                change_to, change_token, email = email, otp_hash(email, otp), None
        else:
            email = None

        async with self.s.db.privileged() as conn:
            if email or change_to:
                cur = await conn.execute(_EMAIL_TAKEN, (email or change_to, who.user_id))
                if await cur.fetchone() is not None:
                    raise AuthError(
                        422,
                        "email_exists",
                        "A user with this email address has already been registered",
                    )
            try:
                cur = await conn.execute(
                    _UPDATE_USER,
                    {
                        "uid": who.user_id,
                        "meta": meta,
                        "password": new_hash,
                        "email": email,
                        "new_email": change_to,
                        "change_token": change_token,
                    },
                )
            except pg_errors.UniqueViolation:
                raise AuthError(
                    422,
                    "email_exists",
                    "A user with this email address has already been registered",
                ) from None
            user = await cur.fetchone()
            assert user is not None
            if change_token is not None and challenge is not None:
                await pkce_flow.remember(conn, who.user_id, change_token, challenge, "email_change")
            if new_hash is not None:
                # A new password ends every other signed-in device.
                await conn.execute(_END_OTHER_SESSIONS, (who.user_id, who.session_id))
        if new_hash is not None:
            log.info("password changed", user_id=str(who.user_id))
        if change_to and otp:
            await self._mail_or_fail(
                change_to,
                "Confirm your new email address",
                "Follow this link to confirm the change of your email address:",
                self._verify_link(otp_hash(change_to, otp), "email_change", redirect_to, challenge),
                otp,
            )
        return user_json(user)

    # --- recovery and verification --------------------------------------------------------

    async def recover(
        self,
        email_in: str | None,
        redirect_to: str | None,
        client: ClientInfo,
        challenge: pkce_flow.Challenge | None = None,
    ) -> None:
        """Mail a password reset link; the answer never says whether the address exists."""
        email = normalize_email(email_in)
        await self._limit(
            [
                (f"recover:ip:{client.ip}", self.settings.rate_limit_recover_per_ip),
                (
                    f"recover:acct:{sha256_hex(email)[:32]}",
                    self.settings.rate_limit_recover_per_account,
                ),
            ]
        )
        otp = new_otp()
        async with self.s.db.privileged() as conn:
            cur = await conn.execute(
                _RECOVER_LOOKUP, {"email": email, "interval": self.settings.email_send_interval}
            )
            row = await cur.fetchone()
            if row is None or row["recent"]:
                return
            address = row["email"]
            token_hash = otp_hash(address, otp)
            await conn.execute(_SET_RECOVERY, (token_hash, row["id"]))
            if challenge is not None:
                await pkce_flow.remember(conn, row["id"], token_hash, challenge, "recovery")
        try:
            await self._send(
                address,
                "Reset your password",
                "Follow this link to reset the password for your account:",
                self._verify_link(token_hash, "recovery", redirect_to, challenge),
                otp,
            )
        except Exception as exc:
            # Answering differently would tell the caller the address has an account.
            log.error("recovery mail not sent", user_id=str(row["id"]), error=type(exc).__name__)

    async def verify(
        self,
        kind: str | None,
        email_in: str | None,
        token: str | None,
        token_hash: str | None,
        client: ClientInfo,
    ) -> tuple[dict[str, Any], str]:
        """Check a mailed code; return a session and the verification type."""
        session, kind, _ = await self._verify(kind, email_in, token, token_hash, client, False)
        assert session is not None
        return session, kind

    async def verify_link(
        self, kind: str | None, link_token: str, client: ClientInfo
    ) -> tuple[dict[str, Any] | None, str, uuid.UUID | None]:
        """The mailed link was followed: a session, or for a PKCE link (`pkce_` token) no
        session but the code that its app exchanges with the verifier."""
        token_hash, pkce = pkce_flow.split_link_token(link_token)
        return await self._verify(kind, None, None, token_hash, client, pkce)

    async def _verify(
        self,
        kind: str | None,
        email_in: str | None,
        token: str | None,
        token_hash: str | None,
        client: ClientInfo,
        pkce: bool,
    ) -> tuple[dict[str, Any] | None, str, uuid.UUID | None]:
        if token_hash:
            token_hash = pkce_flow.split_link_token(token_hash)[0]
        if kind not in VERIFY_TYPES:
            raise AuthError(400, "validation_failed", "Verify requires a verification type")
        if token_hash and (token or email_in):
            raise AuthError(
                400, "validation_failed", "Only the token_hash and type should be provided"
            )
        if not token_hash and not (token and email_in):
            raise AuthError(
                400, "validation_failed", "Verify requires either a token or a token hash"
            )
        limits = [(f"verify:ip:{client.ip}", self.settings.rate_limit_login_per_ip)]
        email = None
        if not token_hash:
            email = normalize_email(email_in)
            limits.append(
                (
                    f"verify:acct:{sha256_hex(email)[:32]}",
                    self.settings.rate_limit_login_per_account,
                )
            )
        await self._limit(limits)
        wanted = token_hash or otp_hash(email or "", (token or "").strip())

        pairs = _OTP_COLUMNS[kind]
        owner = "email_change" if kind == "email_change" else "email"
        where = sql.SQL(" OR ").join(
            sql.SQL("({t} = %(hash)s AND {s} > now() - make_interval(secs => %(ttl)s))").format(
                t=sql.Identifier(t), s=sql.Identifier(s)
            )
            for t, s in pairs
        )
        find = sql.SQL(
            "SELECT id, banned_until > now() AS banned FROM auth.users"
            " WHERE deleted_at IS NULL AND ({where})"
            " AND (%(email)s::text IS NULL OR lower({owner}) = %(email)s) LIMIT 1 FOR UPDATE"
        ).format(where=where, owner=sql.Identifier(owner))
        clear = sql.SQL(", ").join(
            sql.SQL("{t} = CASE WHEN {t} = %(hash)s THEN NULL ELSE {t} END").format(
                t=sql.Identifier(t)
            )
            for t, _ in pairs
        )
        if kind == "email_change":
            apply = sql.SQL(
                "UPDATE auth.users SET {clear}, email = email_change, email_change = NULL,"
                " email_confirmed_at = now(), updated_at = now() WHERE id = %(id)s"
            ).format(clear=clear)
        else:
            apply = sql.SQL(
                "UPDATE auth.users SET {clear},"
                " email_confirmed_at = coalesce(email_confirmed_at, now()), updated_at = now()"
                " WHERE id = %(id)s"
            ).format(clear=clear)

        params = {"hash": wanted, "ttl": self.settings.otp_ttl, "email": email}
        async with self.s.db.privileged() as conn:
            cur = await conn.execute(find, params)
            found = await cur.fetchone()
            if found is None:
                raise AuthError(403, "otp_expired", "Token has expired or is invalid")
            if found["banned"]:
                raise AuthError(400, "user_banned", "User is banned")
            try:
                await conn.execute(apply, {**params, "id": found["id"]})
            except pg_errors.UniqueViolation:
                raise AuthError(
                    422,
                    "email_exists",
                    "A user with this email address has already been registered",
                ) from None
            if pkce:
                # Verified; the session waits for the app holding the code verifier.
                code = await pkce_flow.issue_code(conn, found["id"], wanted)
                log.info("code verified", user_id=str(found["id"]), type=kind, flow="pkce")
                return None, kind, code
            await pkce_flow.forget(conn, found["id"], wanted)
            cur = await conn.execute(_USER_BY_ID, (found["id"],))
            user = await cur.fetchone()
            assert user is not None
            method = "recovery" if kind == "recovery" else "otp"
            session = await self._sign_in(conn, user, client, method)
        log.info("code verified", user_id=str(found["id"]), type=kind)
        return session, kind, None

    async def pkce_grant(
        self, auth_code: str | None, code_verifier: str | None, client: ClientInfo
    ) -> dict[str, Any]:
        """Exchange the code of a followed PKCE link, with its verifier, for a session."""
        await self._limit([(f"verify:ip:{client.ip}", self.settings.rate_limit_login_per_ip)])
        async with self.s.db.privileged() as conn:
            flow = await pkce_flow.take(conn, auth_code, code_verifier)
            cur = await conn.execute(_USER_BY_ID, (flow["user_id"],))
            user = await cur.fetchone()
            if user is None:
                raise AuthError(403, "user_not_found", "User not found")
            if user["banned"]:
                raise AuthError(400, "user_banned", "User is banned")
            kind = flow["authentication_method"]
            method = "recovery" if kind == "recovery" else "otp"
            session = await self._sign_in(conn, user, client, method)
        log.info("pkce code exchanged", user_id=str(flow["user_id"]), type=kind)
        return session

    # --- redirects ------------------------------------------------------------------------

    def redirect_target(self, redirect_to: str | None) -> str:
        """`redirect_to` if it is the site or in the allow list, else the site URL."""
        default = self.settings.site_url or self.settings.base_url
        if not redirect_to:
            return default
        target = urlsplit(redirect_to)
        site = urlsplit(default)
        if target.scheme in ("http", "https") and (target.scheme, target.netloc) == (
            site.scheme,
            site.netloc,
        ):
            return redirect_to
        for pattern in self.settings.redirect_allow_list:
            if redirect_to == pattern or fnmatchcase(redirect_to, pattern):
                return redirect_to
        return default

    def _verify_link(
        self,
        token_hash: str,
        kind: str,
        redirect_to: str | None,
        challenge: pkce_flow.Challenge | None = None,
    ) -> str:
        query = urlencode(
            {
                "token": pkce_flow.link_token(token_hash, challenge),
                "type": kind,
                "redirect_to": self.redirect_target(redirect_to),
            }
        )
        return f"{self.settings.base_url}/auth/v1/verify?{query}"

    # --- helpers --------------------------------------------------------------------------

    def _check_password(self, password: str) -> None:
        minimum = self.settings.password_min_length
        if len(password) < minimum:
            raise AuthError(
                422,
                "weak_password",
                f"Password should be at least {minimum} characters.",
                extra={"weak_password": {"reasons": ["length"]}},
            )
        if len(password) > MAX_PASSWORD_LENGTH:
            raise AuthError(
                400,
                "validation_failed",
                f"Password cannot be longer than {MAX_PASSWORD_LENGTH} characters",
            )

    async def _limit(self, limits: list[tuple[str, int]]) -> None:
        try:
            await self.s.limiter.hit(limits)
        except RateLimited as exc:
            raise AuthError(
                429,
                "over_request_rate_limit",
                "Request rate limit reached",
                headers={"Retry-After": str(exc.retry_after)},
                extra={"retry_after": exc.retry_after},
            ) from None

    async def _sign_in(
        self, conn: Conn, user: DictRow, client: ClientInfo, method: str
    ) -> dict[str, Any]:
        """Start a session for `user`: the session row, its first refresh token, the JWT."""
        cur = await conn.execute(
            _INSERT_SESSION, (user["id"], _user_agent(client.user_agent), _inet(client.ip))
        )
        session = await cur.fetchone()
        assert session is not None
        refresh = secrets.token_urlsafe(32)
        await conn.execute(_INSERT_REFRESH, (sha256_hex(refresh), user["id"], session["id"], None))
        cur = await conn.execute(_SIGNED_IN, (user["id"],))
        signed_in = await cur.fetchone()
        assert signed_in is not None
        return self._session_json(
            signed_in, session["id"], refresh, method, int(session["started"])
        )

    def _session_json(
        self, user: DictRow, session_id: uuid.UUID, refresh: str, method: str, started: int
    ) -> dict[str, Any]:
        body = user_json(user)
        access, exp = self.s.tokens.mint(
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
            "expires_in": self.s.tokens.ttl,
            "expires_at": exp,
            "refresh_token": refresh,
            "user": body,
        }

    async def _send(self, to: str, subject: str, intro: str, link: str, otp: str) -> None:
        text = f"{intro}\n\n{link}\n\nOr enter this code in the app: {otp}\n"
        await self.s.mailer.send(to, subject, text)

    async def _mail_or_fail(self, to: str, subject: str, intro: str, link: str, otp: str) -> None:
        try:
            await self._send(to, subject, intro, link, otp)
        except Exception as exc:
            log.error("mail not sent", subject=subject, error=type(exc).__name__)
            raise AuthError(500, "unexpected_failure", "Error sending email") from None


def _inet(ip: str) -> str | None:
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        return None


def _user_agent(value: str | None) -> str | None:
    return value[:512] if value else None
