-- Abuse rules (issue 13.4): sign-in throttling that does not lock an account's owner out.
--
-- Each rate-limit counter keeps its own window: mailed codes are capped per hour while
-- sign-in attempts are counted per minute, and pruning must know how long a row matters.
ALTER TABLE momento.rate_limits ADD COLUMN seconds integer NOT NULL DEFAULT 60
  CONSTRAINT rate_limits_seconds_check CHECK (seconds > 0);

-- The client addresses each account signed in from lately (any successful sign-in: password,
-- mailed code, PKCE code). A password attempt from such a known (account, address) pair is
-- not held to the per-account ceiling, so a guesser elsewhere cannot lock the owner out of
-- their own devices. The address is stored only as a keyed hash (HMAC-SHA256 under a server
-- key), and rows older than the known-address period (30 days by default) are pruned.
CREATE TABLE auth.known_addresses (
  user_id uuid NOT NULL REFERENCES auth.users(id) ON DELETE CASCADE,
  address_hash bytea NOT NULL CHECK (length(address_hash) = 32),
  last_sign_in_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, address_hash)
);

CREATE INDEX known_addresses_last_sign_in ON auth.known_addresses (last_sign_in_at);

-- The auth service's own: no user role reads or writes it.
REVOKE ALL ON auth.known_addresses FROM PUBLIC, anon, authenticated, service_role;
