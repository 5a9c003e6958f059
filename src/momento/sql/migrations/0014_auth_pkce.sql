-- PKCE for mailed links (GoTrue's flow state; RFC 7636), the flow supabase-swift uses by default.
--
-- A signup, recovery or email-change request that carries a code_challenge gets a flow state
-- tied to the mailed token. Its link carries the token with a `pkce_` prefix; following it
-- verifies the token as before but, instead of a session in the URL fragment, redirects with
-- `?code=<auth_code>`. Only the app that holds the code_verifier can exchange that code for a
-- session (POST /auth/v1/token?grant_type=pkce), once, within a few minutes: a link opened in
-- another browser, or a code read off a URL, is useless without it.
CREATE TABLE auth.flow_state (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES auth.users(id) ON DELETE CASCADE,
  -- The mailed token's hash: the link this flow state belongs to (a later mail without PKCE
  -- has another token and so no flow state).
  token_hash text NOT NULL,
  code_challenge text NOT NULL CHECK (length(code_challenge) BETWEEN 43 AND 128),
  code_challenge_method text NOT NULL CHECK (code_challenge_method IN ('s256', 'plain')),
  -- What the mail was for: 'signup', 'recovery' or 'email_change' (the session's amr).
  authentication_method text NOT NULL,
  auth_code uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
  -- Set when the link is followed: the code is valid from then, for a few minutes.
  auth_code_issued_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX flow_state_user_token ON auth.flow_state (user_id, token_hash);
CREATE INDEX flow_state_created ON auth.flow_state (created_at);

-- The auth service's own: no user role reads or writes it.
REVOKE ALL ON auth.flow_state FROM PUBLIC, anon, authenticated, service_role;
