"""The SQL of Sign in with Apple: auth.identities rows of provider `apple`, the accounts they
belong to, and the encrypted refresh tokens of auth.apple_tokens (migration 0018)."""

from __future__ import annotations

from typing import LiteralString

from momento.auth.queries import USER_COLUMNS

IDENTITY_BY_SUB: LiteralString = """
SELECT id, user_id FROM auth.identities
WHERE provider = 'apple' AND provider_id = %(sub)s
FOR UPDATE
"""

# Every Apple sign-in refreshes the identity's data, as GoTrue does.
TOUCH_IDENTITY: LiteralString = """
UPDATE auth.identities
SET identity_data = %(data)s, last_sign_in_at = now(), updated_at = now()
WHERE id = %(id)s
"""

INSERT_IDENTITY: LiteralString = """
INSERT INTO auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at)
VALUES (%(sub)s, %(uid)s, %(data)s, 'apple', now())
"""

# The account an Apple address may link to, locked, with what decides whether it may: the
# address proven by a mailed link, and no Apple identity of someone else already on it.
ACCOUNT_BY_EMAIL: LiteralString = """
SELECT u.id, u.email_verified_by_mail_at IS NOT NULL AND u.email_confirmed_at IS NOT NULL
         AS proven,
  EXISTS (SELECT 1 FROM auth.identities i WHERE i.user_id = u.id AND i.provider = 'apple')
    AS has_apple
FROM auth.users u
WHERE lower(u.email) = lower(%(email)s) AND u.deleted_at IS NULL
FOR UPDATE
"""

# GoTrue merges the identity's data into user_metadata on each sign-in and lists every
# provider the account has in app_metadata.providers.
ADD_APPLE_TO_USER: LiteralString = """
UPDATE auth.users u SET
  raw_user_meta_data = u.raw_user_meta_data || %(data)s,
  raw_app_meta_data = u.raw_app_meta_data || jsonb_build_object(
    'provider', coalesce(u.raw_app_meta_data ->> 'provider', 'email'),
    'providers', (
      SELECT jsonb_agg(DISTINCT p ORDER BY p) FROM (
        SELECT jsonb_array_elements_text(
          coalesce(u.raw_app_meta_data -> 'providers', '["email"]'::jsonb)) AS p
        UNION SELECT 'apple') ps)),
  updated_at = now()
WHERE u.id = %(uid)s
"""

INSERT_APPLE_USER: LiteralString = (
    """
INSERT INTO auth.users AS u (aud, role, email, email_confirmed_at, raw_app_meta_data,
  raw_user_meta_data)
VALUES ('authenticated', 'authenticated', %(email)s, now(),
  '{"provider": "apple", "providers": ["apple"]}'::jsonb, %(data)s)
RETURNING"""
    + USER_COLUMNS
)

HAS_APPLE_IDENTITY: LiteralString = """
SELECT provider_id FROM auth.identities WHERE user_id = %s AND provider = 'apple'
"""

SAVE_TOKEN: LiteralString = """
INSERT INTO auth.apple_tokens (user_id, client_id, token) VALUES (%(uid)s, %(client)s, %(token)s)
ON CONFLICT (user_id) DO UPDATE
SET client_id = excluded.client_id, token = excluded.token, updated_at = now()
"""  # noqa: S105 (an SQL statement, not a secret)

# The token of a deleted account (none while the account exists: it is revoked only once
# the account is gone), locked so two runs of the job do not revoke it twice at once.
TOKEN_TO_REVOKE: LiteralString = """
SELECT t.user_id, t.client_id, t.token FROM auth.apple_tokens t
WHERE t.user_id = %s AND NOT EXISTS (SELECT 1 FROM auth.users u WHERE u.id = t.user_id)
FOR UPDATE SKIP LOCKED
"""  # noqa: S105 (an SQL statement, not a secret)

DELETE_TOKEN: LiteralString = "DELETE FROM auth.apple_tokens WHERE user_id = %s"  # noqa: S105

# Tokens of deleted accounts with no revoke job waiting (one failed for good, or was lost).
ORPHANED_TOKENS: LiteralString = """
SELECT t.user_id FROM auth.apple_tokens t
WHERE NOT EXISTS (SELECT 1 FROM auth.users u WHERE u.id = t.user_id)
  AND NOT EXISTS (
    SELECT 1 FROM public.procrastinate_jobs j
    WHERE j.queueing_lock = 'auth:revoke_apple_token:' || t.user_id
      AND j.status IN ('todo', 'doing'))
ORDER BY t.updated_at
LIMIT 1000
"""
