"""The SQL of the auth operations (tables of schema `auth`, as GoTrue's; see the migrations).

Mailed codes are checked by the verification type's own statement (`VERIFY`): each names the
token and sent-at columns that type is stored in. Using a code also records that the address was
proven by mail (`email_verified_by_mail_at`: Apple sign-in links to an account by its address
only then, see auth/apple).
"""

from __future__ import annotations

from typing import LiteralString

# --- users ---------------------------------------------------------------------------------

# The identities stored in auth.identities, timestamps written as the user JSON writes them
# (RFC 3339, UTC, `T` and `Z`: Swift needs them).
USER_COLUMNS: LiteralString = """
  u.id, u.aud, u.role, u.email, u.phone, u.encrypted_password, u.email_confirmed_at,
  u.invited_at, u.confirmation_sent_at, u.recovery_sent_at, u.email_change,
  u.email_change_sent_at, u.last_sign_in_at, u.raw_app_meta_data, u.raw_user_meta_data,
  u.created_at, u.updated_at, u.is_anonymous,
  coalesce(u.banned_until > now(), false) AS banned,
  (SELECT coalesce(jsonb_agg(jsonb_build_object(
      'identity_id', i.id, 'id', i.provider_id, 'provider', i.provider,
      'identity_data', i.identity_data, 'email', i.email,
      'last_sign_in_at',
      to_char(i.last_sign_in_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
      'created_at', to_char(i.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
      'updated_at', to_char(i.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
    ORDER BY i.created_at), '[]'::jsonb)
   FROM auth.identities i WHERE i.user_id = u.id) AS identities
"""

USER_BY_EMAIL: LiteralString = (
    "SELECT" + USER_COLUMNS + "FROM auth.users u"
    " WHERE lower(u.email) = lower(%s) AND u.deleted_at IS NULL"
)

USER_BY_ID: LiteralString = (
    "SELECT" + USER_COLUMNS + "FROM auth.users u WHERE u.id = %s AND u.deleted_at IS NULL"
)

USER_WITH_SESSION: LiteralString = (
    "SELECT"  # noqa: S608 (constants only)
    + USER_COLUMNS
    + """, EXISTS (SELECT 1 FROM auth.sessions s WHERE s.id = %(sid)s AND s.user_id = u.id)
      AS has_session
FROM auth.users u WHERE u.id = %(uid)s AND u.deleted_at IS NULL"""
)

USERNAME_TAKEN: LiteralString = "SELECT 1 FROM public.profiles WHERE lower(username) = lower(%s)"

EMAIL_TAKEN: LiteralString = "SELECT 1 FROM auth.users WHERE lower(email) = lower(%s) AND id <> %s"

INSERT_USER: LiteralString = (
    """
INSERT INTO auth.users AS u (aud, role, email, encrypted_password, email_confirmed_at,
  raw_app_meta_data, raw_user_meta_data, confirmation_token, confirmation_sent_at)
VALUES ('authenticated', 'authenticated', %(email)s, %(password)s,
  CASE WHEN %(confirmed)s THEN now() END, %(app)s, %(meta)s, %(ctoken)s::text,
  CASE WHEN %(ctoken)s::text IS NOT NULL THEN now() END)
RETURNING"""
    + USER_COLUMNS
)

# A guest (GoTrue's anonymous sign-in): no email, no password, no provider in app_metadata.
INSERT_ANONYMOUS_USER: LiteralString = (
    """
INSERT INTO auth.users AS u (aud, role, is_anonymous, raw_app_meta_data, raw_user_meta_data)
VALUES ('authenticated', 'authenticated', true, '{}'::jsonb, %(meta)s)
RETURNING"""
    + USER_COLUMNS
)

# A guest takes an address at once (email confirmation off): the same user, now permanent.
CONVERT_GUEST: LiteralString = (
    """
UPDATE auth.users u SET
  email = %(email)s, email_confirmed_at = now(), is_anonymous = false,
  email_change = NULL, email_change_token_new = NULL, email_change_token_current = '',
  email_change_confirm_status = 0,
  raw_app_meta_data = u.raw_app_meta_data || '{"provider": "email", "providers": ["email"]}',
  updated_at = now()
WHERE u.id = %(uid)s AND u.is_anonymous
RETURNING"""
    + USER_COLUMNS
)

CONFIRMATION_RECENT: LiteralString = """
SELECT coalesce(confirmation_sent_at > now() - make_interval(secs => %s), false) AS recent
FROM auth.users WHERE id = %s FOR UPDATE
"""

SET_CONFIRMATION: LiteralString = (
    "UPDATE auth.users SET confirmation_token = %s, confirmation_sent_at = now(),"
    " updated_at = now() WHERE id = %s"
)

UPDATE_USER: LiteralString = (
    """
UPDATE auth.users u SET
  raw_user_meta_data = coalesce(%(meta)s::jsonb, u.raw_user_meta_data),
  encrypted_password = coalesce(%(password)s::text, u.encrypted_password),
  recovery_token = CASE WHEN %(password)s::text IS NULL THEN u.recovery_token END,
  email_change = coalesce(%(new_email)s::text, u.email_change),
  email_change_token_new = coalesce(%(change_token)s::text, u.email_change_token_new),
  email_change_token_current = CASE WHEN %(change_token)s::text IS NOT NULL
                               THEN coalesce(%(current_token)s::text, '')
                               ELSE u.email_change_token_current END,
  email_change_confirm_status = CASE WHEN %(change_token)s::text IS NOT NULL THEN 0
                                ELSE u.email_change_confirm_status END,
  email_change_sent_at = CASE WHEN %(change_token)s::text IS NOT NULL THEN now()
                         ELSE u.email_change_sent_at END,
  updated_at = now()
WHERE u.id = %(uid)s
RETURNING"""
    + USER_COLUMNS
)

# --- sessions and refresh tokens -------------------------------------------------------------

INSERT_SESSION: LiteralString = (
    "INSERT INTO auth.sessions (user_id, user_agent, ip, amr_method) VALUES (%s, %s, %s, %s)"
    " RETURNING id, extract(epoch FROM created_at)::bigint AS started"
)

INSERT_REFRESH: LiteralString = (
    "INSERT INTO auth.refresh_tokens (token_hash, user_id, session_id, parent)"
    " VALUES (%s, %s, %s, %s)"
)

SIGNED_IN: LiteralString = (
    "UPDATE auth.users u SET last_sign_in_at = now(), updated_at = now() WHERE u.id = %s"  # noqa: S608
    " RETURNING" + USER_COLUMNS
)

REHASH: LiteralString = (
    "UPDATE auth.users SET encrypted_password = %s WHERE id = %s AND encrypted_password = %s"
)

REFRESH_LOOKUP: LiteralString = """
SELECT rt.id, rt.revoked, rt.session_id, rt.user_id,
  rt.updated_at > now() - make_interval(secs => %(reuse)s) AS within_reuse,
  rt.created_at < now() - make_interval(secs => %(ttl)s) AS token_expired,
  coalesce(s.not_after < now(), false) AS session_expired,
  extract(epoch FROM s.created_at)::bigint AS started, s.amr_method
FROM auth.refresh_tokens rt JOIN auth.sessions s ON s.id = rt.session_id
WHERE rt.token_hash = %(hash)s
FOR UPDATE OF rt
"""

# Is `child` (derived from the presented token) the session's active token, issued by
# rotating the presented one?
ACTIVE_CHILD: LiteralString = """
SELECT 1 FROM auth.refresh_tokens
WHERE token_hash = %(child)s AND parent = %(parent)s AND session_id = %(session)s AND NOT revoked
"""

REVOKE_REFRESH: LiteralString = (
    "UPDATE auth.refresh_tokens SET revoked = true, updated_at = now() WHERE id = %s"
)

TOUCH_SESSION: LiteralString = (
    "UPDATE auth.sessions SET refreshed_at = now(), updated_at = now() WHERE id = %s"
)

DELETE_SESSION: LiteralString = "DELETE FROM auth.sessions WHERE id = %s"

# By logout scope.
LOGOUT: dict[str, LiteralString] = {
    "global": "DELETE FROM auth.sessions WHERE user_id = %(uid)s",
    "local": "DELETE FROM auth.sessions WHERE user_id = %(uid)s AND id = %(sid)s",
    "others": "DELETE FROM auth.sessions WHERE user_id = %(uid)s AND id <> %(sid)s",
}

END_OTHER_SESSIONS: LiteralString = "DELETE FROM auth.sessions WHERE user_id = %s AND id <> %s"

# --- mailed codes ----------------------------------------------------------------------------

RECOVER_LOOKUP: LiteralString = """
SELECT id, email,
  coalesce(recovery_sent_at > now() - make_interval(secs => %(interval)s), false) AS recent,
  ceil(extract(epoch FROM recovery_sent_at + make_interval(secs => %(interval)s) - now()))::int
    AS wait
FROM auth.users
WHERE lower(email) = lower(%(email)s) AND deleted_at IS NULL
FOR UPDATE
"""

SET_RECOVERY: LiteralString = (
    "UPDATE auth.users SET recovery_token = %s, recovery_sent_at = now() WHERE id = %s"
)

# Checking a code: the account whose code of that type has the hash %(hash)s and was sent
# less than %(ttl)s seconds ago (of the address %(email)s, when the code was typed), locked;
# then using it (%(id)s): the code cleared, the address confirmed (or, for a change, replaced).

FIND_CONFIRMATION: LiteralString = """
SELECT id, banned_until > now() AS banned FROM auth.users
WHERE deleted_at IS NULL
  AND confirmation_token = %(hash)s
  AND confirmation_sent_at > now() - make_interval(secs => %(ttl)s)
  AND (%(email)s::text IS NULL OR lower(email) = %(email)s)
LIMIT 1 FOR UPDATE
"""

USE_CONFIRMATION: LiteralString = """
UPDATE auth.users SET confirmation_token = NULL,
  email_confirmed_at = coalesce(email_confirmed_at, now()), email_verified_by_mail_at = now(),
  updated_at = now()
WHERE id = %(id)s
"""

FIND_RECOVERY: LiteralString = """
SELECT id, banned_until > now() AS banned FROM auth.users
WHERE deleted_at IS NULL
  AND recovery_token = %(hash)s
  AND recovery_sent_at > now() - make_interval(secs => %(ttl)s)
  AND (%(email)s::text IS NULL OR lower(email) = %(email)s)
LIMIT 1 FOR UPDATE
"""

USE_RECOVERY: LiteralString = """
UPDATE auth.users SET recovery_token = NULL,
  email_confirmed_at = coalesce(email_confirmed_at, now()), email_verified_by_mail_at = now(),
  updated_at = now()
WHERE id = %(id)s
"""

# Type `email`: the code of either mail (the signup confirmation or the sign-in link).
FIND_EITHER: LiteralString = """
SELECT id, banned_until > now() AS banned FROM auth.users
WHERE deleted_at IS NULL
  AND ((confirmation_token = %(hash)s
        AND confirmation_sent_at > now() - make_interval(secs => %(ttl)s))
    OR (recovery_token = %(hash)s
        AND recovery_sent_at > now() - make_interval(secs => %(ttl)s)))
  AND (%(email)s::text IS NULL OR lower(email) = %(email)s)
LIMIT 1 FOR UPDATE
"""

USE_EITHER: LiteralString = """
UPDATE auth.users SET
  confirmation_token = CASE WHEN confirmation_token = %(hash)s THEN NULL
                       ELSE confirmation_token END,
  recovery_token = CASE WHEN recovery_token = %(hash)s THEN NULL ELSE recovery_token END,
  email_confirmed_at = coalesce(email_confirmed_at, now()), email_verified_by_mail_at = now(),
  updated_at = now()
WHERE id = %(id)s
"""

# A code of an email change: mailed to the new address (typed with that address) or, for a
# secure change, to the current one (typed with it).
FIND_EMAIL_CHANGE: LiteralString = """
SELECT id, banned_until > now() AS banned FROM auth.users
WHERE deleted_at IS NULL
  AND email_change_sent_at > now() - make_interval(secs => %(ttl)s)
  AND ((email_change_token_new = %(hash)s
        AND (%(email)s::text IS NULL OR lower(email_change) = %(email)s))
    OR (email_change_token_current = %(hash)s
        AND (%(email)s::text IS NULL OR lower(email) = %(email)s)))
LIMIT 1 FOR UPDATE
"""

# Uses the code; the change is applied once no code of it is left (`applied`), else it waits
# for the other address's link (email_change_confirm_status 1).
USE_EMAIL_CHANGE: LiteralString = """
WITH used AS (
  SELECT id,
    coalesce(email_change_token_new, '') IN ('', %(hash)s)
      AND coalesce(email_change_token_current, '') IN ('', %(hash)s) AS applied
  FROM auth.users WHERE id = %(id)s
)
UPDATE auth.users u SET
  email_change_token_new = CASE WHEN used.applied OR u.email_change_token_new = %(hash)s
                           THEN NULL ELSE u.email_change_token_new END,
  email_change_token_current = CASE WHEN used.applied OR u.email_change_token_current = %(hash)s
                               THEN '' ELSE u.email_change_token_current END,
  email = CASE WHEN used.applied THEN u.email_change ELSE u.email END,
  email_change = CASE WHEN used.applied THEN NULL ELSE u.email_change END,
  email_confirmed_at = CASE WHEN used.applied THEN now() ELSE u.email_confirmed_at END,
  email_verified_by_mail_at = CASE WHEN used.applied THEN now()
                              ELSE u.email_verified_by_mail_at END,
  email_change_confirm_status = CASE WHEN used.applied THEN 0 ELSE 1 END,
  -- A guest whose address is confirmed is a guest no more (as GoTrue).
  is_anonymous = u.is_anonymous AND NOT used.applied,
  raw_app_meta_data = CASE WHEN used.applied AND u.is_anonymous
    THEN u.raw_app_meta_data || '{"provider": "email", "providers": ["email"]}'::jsonb
    ELSE u.raw_app_meta_data END,
  updated_at = now()
FROM used WHERE u.id = used.id
RETURNING used.applied
"""

# By verification type: (find the account, use its code).
VERIFY: dict[str, tuple[LiteralString, LiteralString]] = {
    "signup": (FIND_CONFIRMATION, USE_CONFIRMATION),
    "invite": (FIND_CONFIRMATION, USE_CONFIRMATION),
    "recovery": (FIND_RECOVERY, USE_RECOVERY),
    "magiclink": (FIND_RECOVERY, USE_RECOVERY),
    "email": (FIND_EITHER, USE_EITHER),
    "email_change": (FIND_EMAIL_CHANGE, USE_EMAIL_CHANGE),
}


# --- resend ----------------------------------------------------------------------------------
# The account a resend is for, with whether a mail of that kind went out within %(interval)s
# seconds (and how long until the next may): the signup confirmation by the account's address,
# the email change by the new address it waits to confirm.

RESEND_SIGNUP: LiteralString = """
SELECT id, email, email_confirmed_at IS NOT NULL AS done,
  coalesce(confirmation_sent_at > now() - make_interval(secs => %(interval)s), false) AS recent,
  ceil(extract(epoch FROM confirmation_sent_at + make_interval(secs => %(interval)s) - now()))::int
    AS wait
FROM auth.users
WHERE lower(email) = lower(%(email)s) AND deleted_at IS NULL
FOR UPDATE
"""

RESEND_EMAIL_CHANGE: LiteralString = """
SELECT id, email_change AS email, email_change_token_new IS NULL AS done,
  coalesce(email_change_sent_at > now() - make_interval(secs => %(interval)s), false) AS recent,
  ceil(extract(epoch FROM email_change_sent_at + make_interval(secs => %(interval)s) - now()))::int
    AS wait
FROM auth.users
WHERE lower(email_change) = lower(%(email)s) AND deleted_at IS NULL
FOR UPDATE
"""

SET_EMAIL_CHANGE_CODE: LiteralString = (
    "UPDATE auth.users SET email_change_token_new = %s, email_change_sent_at = now(),"
    " updated_at = now() WHERE id = %s"
)


# --- sign-in by mail (POST /otp) -------------------------------------------------------------
# The account of an address, locked, with whether each of the two mails /otp may send went out
# within %(interval)s seconds and how long until the next may: the sign-in link (stored where
# GoTrue stores it, as the recovery code, so it shares recovery's send interval) and the signup
# confirmation.

OTP_LOOKUP: LiteralString = """
SELECT id, email, email_confirmed_at IS NOT NULL AS confirmed,
  coalesce(recovery_sent_at > now() - make_interval(secs => %(interval)s), false) AS link_recent,
  ceil(extract(epoch FROM recovery_sent_at + make_interval(secs => %(interval)s) - now()))::int
    AS link_wait,
  coalesce(confirmation_sent_at > now() - make_interval(secs => %(interval)s), false)
    AS confirmation_recent,
  ceil(extract(epoch FROM confirmation_sent_at + make_interval(secs => %(interval)s) - now()))::int
    AS confirmation_wait
FROM auth.users
WHERE lower(email) = lower(%(email)s) AND deleted_at IS NULL
FOR UPDATE
"""

# --- known client addresses (the abuse rules) ------------------------------------------------

KNOWN_ADDRESS: LiteralString = """
SELECT EXISTS (
  SELECT 1 FROM auth.known_addresses k JOIN auth.users u ON u.id = k.user_id
  WHERE lower(u.email) = lower(%(email)s) AND u.deleted_at IS NULL
    AND k.address_hash = %(address)s
    AND k.last_sign_in_at > now() - make_interval(days => %(days)s)
) AS known
"""

REMEMBER_ADDRESS: LiteralString = """
INSERT INTO auth.known_addresses (user_id, address_hash) VALUES (%s, %s)
ON CONFLICT (user_id, address_hash) DO UPDATE SET last_sign_in_at = now()
"""

FORGET_OLD_ADDRESSES: LiteralString = """
DELETE FROM auth.known_addresses WHERE last_sign_in_at < now() - make_interval(days => %s)
"""
