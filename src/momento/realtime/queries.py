"""SQL of the realtime streams (migration 0026). The hub reads as the owner: what each
subscriber may see is decided by momento.realtime.policy, not by the policies per row."""

from typing import LiteralString

MAX_ID: LiteralString = "SELECT coalesce(max(id), 0) AS id FROM momento.changes"

NEW_CHANGES: LiteralString = """
SELECT id, at, event_id, kind, photo_id, user_id, actor_id, reason, reporters
FROM momento.changes
WHERE id > %(last)s OR id = ANY(%(gaps)s::bigint[])
ORDER BY id LIMIT 5000
"""

# A resuming client's missed rows of its event, up to what the hub had read when it came.
MISSED: LiteralString = """
SELECT id, at, event_id, kind, photo_id, user_id, actor_id, reason, reporters
FROM momento.changes
WHERE event_id = %(event)s AND id > %(after)s AND id <= %(upto)s
ORDER BY id
"""

RESUME_POINT: LiteralString = """
SELECT coalesce((SELECT h.pruned_upto FROM momento.changes_horizon h), 0) AS pruned_upto,
  (SELECT max(id) FROM momento.changes) AS max_id,
  (SELECT c.at < e.release_at FROM momento.changes c, public.events e
   WHERE c.id = %(after)s AND e.id = %(event)s) AS before_release
"""

PRUNE: LiteralString = """
WITH gone AS (
  DELETE FROM momento.changes WHERE at < now() - make_interval(secs => %(keep)s) RETURNING id
)
INSERT INTO momento.changes_horizon AS h (pruned_upto)
SELECT max(id) FROM gone HAVING max(id) IS NOT NULL
ON CONFLICT (only_row) DO UPDATE SET pruned_upto = greatest(h.pruned_upto, excluded.pruned_upto)
"""

# Details, once per process per batch. revealed and the photo counts by the database's clock.
EVENTS: LiteralString = """
SELECT e.id, e.name, e.creator_id, e.starts_at, e.release_at, coalesce(e.is_deleted, false)
  AS is_deleted, e.release_at <= now() AS revealed,
  coalesce((SELECT t.photo_count FROM momento.event_photo_totals t WHERE t.event_id = e.id), 0)
  AS photo_count
FROM public.events e WHERE e.id = ANY(%(ids)s)
"""

PHOTOS: LiteralString = """
SELECT p.id, p.event_id, p.user_id, p.username, p.captured_at, p.width, p.height, p.blurhash,
  p.like_count, p.storage_path, p.upload_status, coalesce(p.is_flagged, false) AS is_flagged,
  ARRAY(SELECT r.reporter_id FROM momento.photo_reports r WHERE r.photo_id = p.id) AS reporters,
  CASE WHEN %(likers)s
    THEN ARRAY(SELECT l.user_id FROM public.photo_likes l WHERE l.photo_id = p.id)
    ELSE '{}'::uuid[] END AS likers
FROM public.photos p WHERE p.id = ANY(%(ids)s)
"""

USERNAMES: LiteralString = "SELECT id, username FROM public.profiles WHERE id = ANY(%(ids)s)"

# The reveal timer: seconds left by the database's clock.
UNTIL_RELEASE: LiteralString = """
SELECT extract(epoch FROM e.release_at - now())::float8 AS left FROM public.events e
WHERE e.id = %(id)s
"""

LIVE_SESSIONS: LiteralString = "SELECT id FROM auth.sessions WHERE id = ANY(%(ids)s)"

# Opening a stream, as the caller (the events policy decides membership).
OPEN: LiteralString = """
SELECT e.id, extract(epoch FROM e.release_at - now())::float8 AS until_release,
  EXISTS (SELECT 1 FROM public.event_members m
          WHERE m.event_id = e.id AND m.user_id = auth.uid()) AS member
FROM public.events e WHERE e.id = %(id)s
"""

SESSION_ALIVE: LiteralString = "SELECT 1 AS alive FROM auth.sessions WHERE id = %(id)s"
