-- Sign in with Apple: identities as GoTrue keeps them, proof that an address was reached by a
-- mailed link, and Apple refresh tokens kept (encrypted) until account deletion revokes them.

-- auth.identities: GoTrue's table (its columns and names), one row per (provider, the
-- provider's id of the person). Users are found by Apple's `sub` here. The `email` identity of
-- a password account is not stored: the API still synthesizes it from auth.users.
CREATE TABLE auth.identities (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  provider_id text NOT NULL,
  user_id uuid NOT NULL REFERENCES auth.users(id) ON DELETE CASCADE,
  identity_data jsonb NOT NULL,
  provider text NOT NULL,
  last_sign_in_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  email text GENERATED ALWAYS AS (lower(identity_data ->> 'email')) STORED,
  CONSTRAINT identities_provider_id_provider_unique UNIQUE (provider_id, provider)
);
CREATE INDEX identities_user_id_idx ON auth.identities (user_id);
CREATE INDEX identities_email_idx ON auth.identities (email text_pattern_ops);

REVOKE ALL ON auth.identities FROM PUBLIC, anon, authenticated, service_role;

-- When the account's current address was last proven reachable through a link or code mailed
-- to it (signup confirmation, recovery, an applied email change). With MOMENTO_EMAIL_CONFIRM
-- off, accounts are confirmed with no mail at all, so email_confirmed_at proves nothing: an
-- Apple sign-in links to an existing account by address only when this is set (otherwise
-- whoever registered someone else's address with a password would get their Apple login).
-- Not a GoTrue column.
ALTER TABLE auth.users ADD COLUMN email_verified_by_mail_at timestamptz;

-- Apple refresh tokens (from POST /v1/me/apple/authorization-code), AES-GCM encrypted under a
-- server secret with the user id as associated data (`token` = 12-byte nonce || ciphertext).
-- Deliberately no foreign key: the row must outlive the account, whose deletion must revoke
-- the token at Apple (the App Store requires it), and Apple may be down at that moment.
CREATE TABLE auth.apple_tokens (
  user_id uuid PRIMARY KEY,
  -- The client id (bundle id or services id) the code was issued to: revoking needs it.
  client_id text NOT NULL,
  token bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

REVOKE ALL ON auth.apple_tokens FROM PUBLIC, anon, authenticated, service_role;

-- Whatever deletes an account (DELETE /v1/me, an admin command, a cleanup job), the revoke of
-- its Apple token is queued in that same transaction: no deleted account without a job to
-- revoke its token. Only the user id goes in the job's arguments, never the token. The job row
-- is written as procrastinate 3.10's defer function writes it (see 0011); the queueing lock
-- keeps one waiting job per user.
CREATE FUNCTION private.queue_apple_revoke() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM auth.apple_tokens WHERE user_id = OLD.id) THEN
    INSERT INTO public.procrastinate_jobs (queue_name, task_name, queueing_lock, args)
    VALUES ('auth', 'auth:revoke_apple_token', 'auth:revoke_apple_token:' || OLD.id,
            jsonb_build_object('user_id', OLD.id::text))
    ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END
$$;

REVOKE ALL ON FUNCTION private.queue_apple_revoke() FROM PUBLIC;

CREATE TRIGGER queue_apple_revoke AFTER DELETE ON auth.users
  FOR EACH ROW EXECUTE FUNCTION private.queue_apple_revoke();
