"""Sign in with Apple, as GoTrue and the Supabase clients do it, plus what the App Store asks.

- `keys`: Apple's signing keys (fetched, cached) and the identity token's verification;
- `signin`: `POST /auth/v1/token?grant_type=id_token` with `provider=apple` (the nonce
  required), finding users by Apple's `sub` (an `apple` row of auth.identities) and linking to
  an existing account by address only when that address was proven by a mailed link;
- `client`: Apple's token and revoke endpoints (the ES256 client secret) and the encryption of
  the refresh token at rest (AES-GCM, the user id as associated data);
- `service`: the app's authorization code (`POST /v1/me/apple/authorization-code`, `endpoints`)
  and the revoke after account deletion; `tasks`: the revoke job and its sweep.
"""
