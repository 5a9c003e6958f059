-- The reveal feed's hot path (bench/reveal.py): same rules, less work per statement.

-- 1. The helpers that policies and the feed call on every request become PL/pgSQL. A
-- SECURITY DEFINER SQL function is never inlined, and PostgreSQL plans a non-inlined SQL
-- function's body again on every call; PL/pgSQL keeps the plan for the session. Bodies, and
-- so results, are those of 0003-0005, unchanged.
CREATE OR REPLACE FUNCTION private.my_event_ids() RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
  RETURN QUERY
  SELECT m.event_id
  FROM public.event_members m
  JOIN public.events e ON e.id = m.event_id
  WHERE m.user_id = auth.uid() AND NOT e.is_deleted;
END
$$;

CREATE OR REPLACE FUNCTION private.my_revealed_event_ids() RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
  RETURN QUERY
  SELECT m.event_id
  FROM public.event_members m
  JOIN public.events e ON e.id = m.event_id
  WHERE m.user_id = auth.uid() AND NOT e.is_deleted AND e.release_at <= now();
END
$$;

CREATE OR REPLACE FUNCTION public.photo_like_counts(p_photos uuid[])
RETURNS TABLE (photo_id uuid, like_count bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
  RETURN QUERY
  SELECT p.id, (SELECT count(*) FROM public.photo_likes l WHERE l.photo_id = p.id)
  FROM public.photos p
  WHERE p.id = ANY (p_photos)
    AND (
      p.user_id = (SELECT auth.uid())
      OR (
        p.upload_status = 'uploaded'
        AND p.is_flagged IS NOT TRUE
        AND p.event_id IN (SELECT private.my_revealed_event_ids())
      )
    );
END
$$;

-- 2. Photo counts kept up to date instead of counted: the feed shows an event's total on every
-- page, and counting 2,000 photos per page request cost more than the rest of the page. The
-- count is exactly what 0005 counted (photos not failed and not flagged), maintained by
-- statement-level triggers on photos, so a batch costs one update per event it touches.
-- Not readable by users (schema momento); event_photo_counts() reads it for members only.
CREATE TABLE momento.event_photo_totals (
  event_id uuid PRIMARY KEY REFERENCES public.events(id) ON DELETE CASCADE,
  photo_count bigint NOT NULL DEFAULT 0
);

-- Ordered by event so that concurrent batches lock the counters in the same order.
CREATE FUNCTION private.add_event_photo_totals() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO momento.event_photo_totals AS t (event_id, photo_count)
    SELECT n.event_id, count(*) FROM new_rows n
    WHERE n.upload_status IS DISTINCT FROM 'failed' AND NOT coalesce(n.is_flagged, false)
    GROUP BY n.event_id ORDER BY n.event_id
    ON CONFLICT (event_id) DO UPDATE SET photo_count = t.photo_count + excluded.photo_count;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO momento.event_photo_totals AS t (event_id, photo_count)
    SELECT d.event_id, sum(d.n) FROM (
      SELECT n.event_id, 1 AS n FROM new_rows n
      WHERE n.upload_status IS DISTINCT FROM 'failed' AND NOT coalesce(n.is_flagged, false)
      UNION ALL
      SELECT o.event_id, -1 FROM old_rows o
      WHERE o.upload_status IS DISTINCT FROM 'failed' AND NOT coalesce(o.is_flagged, false)
    ) d
    GROUP BY d.event_id HAVING sum(d.n) <> 0 ORDER BY d.event_id
    ON CONFLICT (event_id) DO UPDATE SET photo_count = t.photo_count + excluded.photo_count;
  ELSIF TG_OP = 'DELETE' THEN
    -- An event being deleted takes its counter with it (cascade): nothing left to update.
    UPDATE momento.event_photo_totals t SET photo_count = t.photo_count - d.n
    FROM (
      SELECT o.event_id, count(*) AS n FROM old_rows o
      WHERE o.upload_status IS DISTINCT FROM 'failed' AND NOT coalesce(o.is_flagged, false)
      GROUP BY o.event_id ORDER BY o.event_id
    ) d
    WHERE t.event_id = d.event_id;
  ELSE  -- TRUNCATE
    DELETE FROM momento.event_photo_totals;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER event_photo_totals_insert AFTER INSERT ON public.photos
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION private.add_event_photo_totals();
CREATE TRIGGER event_photo_totals_update AFTER UPDATE ON public.photos
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION private.add_event_photo_totals();
CREATE TRIGGER event_photo_totals_delete AFTER DELETE ON public.photos
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION private.add_event_photo_totals();
CREATE TRIGGER event_photo_totals_truncate AFTER TRUNCATE ON public.photos
  FOR EACH STATEMENT EXECUTE FUNCTION private.add_event_photo_totals();

INSERT INTO momento.event_photo_totals (event_id, photo_count)
SELECT p.event_id, count(*) FROM public.photos p
WHERE p.upload_status IS DISTINCT FROM 'failed' AND NOT coalesce(p.is_flagged, false)
GROUP BY p.event_id;

CREATE OR REPLACE FUNCTION public.event_photo_counts(p_events uuid[])
RETURNS TABLE (event_id uuid, photo_count bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
  RETURN QUERY
  SELECT ev.id,
    coalesce((SELECT t.photo_count FROM momento.event_photo_totals t WHERE t.event_id = ev.id), 0)
  FROM (SELECT DISTINCT unnest(p_events) AS id) ev
  WHERE ev.id IN (SELECT private.my_event_ids());
END
$$;
