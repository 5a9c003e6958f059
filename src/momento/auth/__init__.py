"""Authentication: a Supabase Auth (GoTrue) compatible API under /auth/v1."""
