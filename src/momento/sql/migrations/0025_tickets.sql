-- Tickets: short-lived, single-use stand-ins for the access token where a browser cannot send
-- an Authorization header (EventSource for the realtime stream, a download link for the ZIP).
-- Only the SHA-256 of the 256-bit ticket is stored; each is bound to the user, the session
-- (signing out deletes it), a purpose and one resource (an event), and is redeemed once on any
-- API process. The claims are the access token's, so the redeemer acts as the user under the
-- same policies; the token itself is never stored.
CREATE TABLE momento.tickets (
  hash bytea PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES auth.users(id) ON DELETE CASCADE,
  session_id uuid NOT NULL REFERENCES auth.sessions(id) ON DELETE CASCADE,
  purpose text NOT NULL,
  resource_id uuid NOT NULL,
  claims jsonb NOT NULL,
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tickets_expires_at_idx ON momento.tickets (expires_at);
CREATE INDEX tickets_user_id_idx ON momento.tickets (user_id);
CREATE INDEX tickets_session_id_idx ON momento.tickets (session_id);

REVOKE ALL ON momento.tickets FROM PUBLIC, anon, authenticated, service_role;
