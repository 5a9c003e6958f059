-- Guests (GoTrue's anonymous sign-ins, auth.users.is_anonymous): the daily cleanup looks for
-- those unused for a month, oldest first; this keeps that look at the guests alone however
-- many permanent accounts there are.
CREATE INDEX users_anonymous_created_at_idx ON auth.users (created_at, id) WHERE is_anonymous;
