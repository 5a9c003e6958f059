"""Authentication: a Supabase Auth (GoTrue) compatible API under /auth/v1.

The operations run as the owner of the tables (`Database.privileged`): nothing here acts on
behalf of a signed-in user's row-level identity. Answers are shaped as GoTrue's (`views`),
errors carry GoTrue's codes (`errors`), and every secret is stored only as a hash (`shared`).

- `endpoints`: the routes; `schemas`: their bodies;
- `sessions`: signing in (password, refresh token, PKCE code) and out;
- `users`: signing up, reading and changing the signed-in user;
- `links`: mailed links and codes (recovery, verification);
- `shared`: the caller, input checks, rate limits, hashes; `queries`: the SQL;
- `pkce`, `passwords`, `tokens` (access tokens), `keys` (their signing key).
"""
