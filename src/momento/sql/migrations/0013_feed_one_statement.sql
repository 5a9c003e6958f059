-- The reveal feed and the liked list, each page in one statement and without a lookup per
-- photo.
--
-- 1. Like counts and the blurhash move onto photos. A page used to read them per photo
--    through public.photo_feed_details() (a count of photo_likes and a photo_media row for
--    each photo: about 40 % of PostgreSQL's work per page). `photos.like_count` is kept by
--    statement-level triggers on photo_likes in the liking transaction (a like and its count
--    commit together; concurrent likes of one photo queue on its row for the moment of the
--    update). `photos.blurhash` is written with the photo's status by the server when the
--    upload completes. Both are read under the photos policy, so they are visible with their
--    photo and hidden with it, as before; users cannot write them (no UPDATE grant, INSERT
--    limited to the upload columns). Like the design's `username`, they are denormalised for
--    display.
--
-- 2. A page is one statement. Until now it was two sent together (Database.user_fetch):
--    set_config of the role, the claims and the plan mode, then the page query. The page
--    functions below do both in one call: they lower the role to `authenticated`, set the
--    caller's claims and the plan mode with set_config(..., true), then run the page query, so
--    the events, photos and likes policies apply to it exactly as to a query sent after the
--    identity statement. The settings end with the transaction; the server sends the call
--    alone, in autocommit (Database.user_call), so they end with the statement.
--
--    NOT security definers: they run as their caller and can only lower its role. Executable
--    by their owner (the server's login role) alone: a user role calling them could choose
--    another user's claims.
--
--    The three set_config calls stand in both functions: moved into a helper function they
--    cost ~6 % of the page's throughput (pgbench, 8 connections: 9,800 vs 10,400 per second;
--    a SQL function's body is planned again in each transaction).
--
--    plan_cache_mode: the page query is planned once per connection as a generic plan that
--    serves every caller and cursor (the caller comes in through auth.uid() at run time);
--    left to itself, the plan cache makes a custom plan per call, because row-level security
--    makes those look cheaper, and planning costs about as much as running the page.

ALTER TABLE public.photos
  ADD COLUMN like_count integer NOT NULL DEFAULT 0 CONSTRAINT photos_like_count_not_negative
    CHECK (like_count >= 0),
  ADD COLUMN blurhash text;

-- Room on each page for a like's new row version next to the old one: like_count is in no
-- index, so such an update is HOT (no index entries written) when the page has space.
ALTER TABLE public.photos SET (fillfactor = 90);

UPDATE public.photos p SET blurhash = m.blurhash
FROM public.photo_media m
WHERE m.photo_id = p.id AND m.blurhash IS NOT NULL;

UPDATE public.photos p SET like_count = l.n
FROM (SELECT photo_id, count(*) AS n FROM public.photo_likes GROUP BY photo_id) l
WHERE l.photo_id = p.id;

-- photos.blurhash is its only home from now on; photo_feed_details() read the old one.
DROP FUNCTION public.photo_feed_details(uuid[]);
ALTER TABLE public.photo_media DROP COLUMN blurhash;

-- One UPDATE per statement and photo, whatever the number of rows (an account deletion removes
-- all its likes in one statement). A photo being deleted takes its likes with it (cascade):
-- its row is gone by then and the update finds nothing to change.
CREATE FUNCTION private.count_likes() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE public.photos p SET like_count = p.like_count + d.n
    FROM (SELECT photo_id, count(*) AS n FROM new_likes GROUP BY photo_id) d
    WHERE p.id = d.photo_id;
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE public.photos p SET like_count = p.like_count - d.n
    FROM (SELECT photo_id, count(*) AS n FROM old_likes GROUP BY photo_id) d
    WHERE p.id = d.photo_id;
  ELSE
    UPDATE public.photos p SET like_count = p.like_count + d.n
    FROM (
      SELECT photo_id, sum(n) AS n FROM (
        SELECT photo_id, 1 AS n FROM new_likes
        UNION ALL
        SELECT photo_id, -1 FROM old_likes
      ) x GROUP BY photo_id
    ) d
    WHERE p.id = d.photo_id AND d.n <> 0;
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION private.reset_like_counts() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
  UPDATE public.photos SET like_count = 0 WHERE like_count <> 0;
  RETURN NULL;
END
$$;

CREATE TRIGGER photo_likes_count_insert AFTER INSERT ON public.photo_likes
  REFERENCING NEW TABLE AS new_likes
  FOR EACH STATEMENT EXECUTE FUNCTION private.count_likes();
CREATE TRIGGER photo_likes_count_delete AFTER DELETE ON public.photo_likes
  REFERENCING OLD TABLE AS old_likes
  FOR EACH STATEMENT EXECUTE FUNCTION private.count_likes();
CREATE TRIGGER photo_likes_count_update AFTER UPDATE ON public.photo_likes
  REFERENCING OLD TABLE AS old_likes NEW TABLE AS new_likes
  FOR EACH STATEMENT EXECUTE FUNCTION private.count_likes();
CREATE TRIGGER photo_likes_count_truncate AFTER TRUNCATE ON public.photo_likes
  FOR EACH STATEMENT EXECUTE FUNCTION private.reset_like_counts();

REVOKE ALL ON FUNCTION private.count_likes() FROM PUBLIC;
REVOKE ALL ON FUNCTION private.reset_like_counts() FROM PUBLIC;

-- The feed: ev is the event if the caller is a member (else no row at all: the route's 404),
-- with its photo count, computed once per statement. page: the next p_limit photos after the
-- cursor that the photos policy lets the caller see (before release_at, their own). The outer
-- query adds whether the caller liked each photo (the count is everyone's likes, never who).
-- An empty page is one row with no photo.
CREATE FUNCTION momento.feed_page(
  p_claims text, p_event uuid, p_after_ts timestamptz, p_after_id uuid, p_limit integer
)
RETURNS TABLE (
  revealed boolean, total_count bigint, id uuid, user_id uuid, username text,
  captured_at timestamptz, width integer, height integer, storage_path text, blurhash text,
  like_count bigint, liked_by_me boolean
)
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
  PERFORM set_config('role', 'authenticated', true),
    set_config('request.jwt.claims', p_claims, true),
    set_config('plan_cache_mode', 'force_generic_plan', true);
  RETURN QUERY
  WITH ev AS (
    SELECT e.id, e.release_at <= now() AS revealed,
      (SELECT c.photo_count FROM public.event_photo_counts(ARRAY[e.id]) c) AS total_count
    FROM public.events e WHERE e.id = p_event
  ), page AS (
    SELECT p.id, p.user_id, p.username, p.captured_at, p.width, p.height, p.storage_path,
      p.blurhash, p.like_count
    FROM public.photos p
    WHERE p.event_id = (SELECT ev.id FROM ev)
      AND p.upload_status = 'uploaded'
      AND (p.captured_at, p.id) > (p_after_ts, p_after_id)
    ORDER BY p.captured_at, p.id
    LIMIT p_limit
  ), mine AS (
    SELECT l.photo_id FROM public.photo_likes l
    WHERE l.user_id = (SELECT auth.uid()) AND l.photo_id IN (SELECT page.id FROM page)
  )
  SELECT ev.revealed, ev.total_count,
    page.id, page.user_id, page.username, page.captured_at, page.width, page.height,
    page.storage_path, page.blurhash, page.like_count::bigint,
    mine.photo_id IS NOT NULL
  FROM ev
  LEFT JOIN page ON true
  LEFT JOIN mine ON mine.photo_id = page.id
  ORDER BY page.captured_at, page.id;
END
$$;

-- The caller's liked photos in the event, most recent like first, before the cursor
-- (liked_at, photo id). A non-member gets no row; an empty page is one row with no photo.
CREATE FUNCTION momento.liked_page(
  p_claims text, p_event uuid, p_before_ts timestamptz, p_before_id uuid, p_limit integer
)
RETURNS TABLE (
  id uuid, user_id uuid, username text, captured_at timestamptz, width integer,
  height integer, storage_path text, liked_at timestamptz, blurhash text, like_count bigint,
  liked_by_me boolean
)
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
  PERFORM set_config('role', 'authenticated', true),
    set_config('request.jwt.claims', p_claims, true),
    set_config('plan_cache_mode', 'force_generic_plan', true);
  RETURN QUERY
  WITH ev AS (
    SELECT e.id FROM public.events e WHERE e.id = p_event
  ), page AS (
    SELECT p.id, p.user_id, p.username, p.captured_at, p.width, p.height, p.storage_path,
      p.blurhash, p.like_count, l.created_at AS liked_at
    FROM public.photo_likes l
    JOIN public.photos p ON p.id = l.photo_id
    WHERE l.user_id = (SELECT auth.uid())
      AND p.event_id = (SELECT ev.id FROM ev)
      AND p.upload_status = 'uploaded'
      AND (l.created_at, l.photo_id) < (p_before_ts, p_before_id)
    ORDER BY l.created_at DESC, l.photo_id DESC
    LIMIT p_limit
  )
  SELECT page.id, page.user_id, page.username, page.captured_at, page.width, page.height,
    page.storage_path, page.liked_at, page.blurhash, page.like_count::bigint,
    page.id IS NOT NULL
  FROM ev
  LEFT JOIN page ON true
  ORDER BY page.liked_at DESC, page.id DESC;
END
$$;

REVOKE ALL ON FUNCTION momento.feed_page(text, uuid, timestamptz, uuid, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION momento.liked_page(text, uuid, timestamptz, uuid, integer) FROM PUBLIC;
