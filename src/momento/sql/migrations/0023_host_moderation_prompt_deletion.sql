-- Issue 14, part B: moderation the event's host controls, and deletions that take effect at
-- once.
--
-- 1. MODERATION. Until now one report from any member set photos.is_flagged, hiding the photo
--    from everyone but its owner, and only the operator could undo it. Now:
--
--    * A report hides the photo from its reporter at once: the photos policy leaves out, in its
--      "everyone's once revealed" arm, the photos the caller reported
--      (private.my_reported_photo_ids(), read once per statement through an index on the
--      reporter). The owner's arm is unchanged: an owner always sees their own photos.
--    * photos.is_flagged keeps its meaning, "hidden from everyone but the owner". It is set when
--      the event's host hides the photo (public.hide_photo(), or the host's own report, as
--      before), or by momento.report_photo() once the photo has as many distinct reporters as
--      the server's MOMENTO_REPORTS_TO_HIDE (default 3). Reports by anonymous users
--      (auth.users.is_anonymous) and reports the host dismissed do not count.
--    * The host restores a photo of their event (public.restore_photo()): the flag goes, the
--      host's own hiding report goes, and the other reports are dismissed (kept, so each
--      reporter still does not see the photo, but no longer counted: hiding it for everyone
--      again takes that many new reports). The operator's `momento moderation restore` still
--      clears everything, across events.
--    * The host lists what was reported in their event (public.event_reports()).
--
--    Every host function checks, in the database, that the caller created the (live) event of
--    the photo; for anyone else they return nothing, which the API answers as 404.
--
--    The threshold is the server's setting, so the report is a call only the server's login
--    role may make (like the feed's page functions of 0013): momento.report_photo() takes the
--    caller's claims and the threshold. public.report_photo(), granted to users, goes: with it
--    a user with direct database access could hide a photo for everyone alone.
--
-- 2. PROMPT DELETION. Deleting a photo or an event records the storage prefix of its files in
--    momento.deleted_files and announces it with NOTIFY momento_deleted_files (sent at commit),
--    so each API process refuses signed local URLs under that prefix at once
--    (momento.storage.deletions), without a database query per file request. On (re)connecting
--    a listener reads the recent rows (its catch-up) before waiting for notifications. Rows are
--    kept 8 days (longer than the longest signed URL lives, 7 days) and pruned by the hourly
--    sweep. The host's public.delete_event() also queues cleanup:purge_event for the event in
--    its own transaction, so its files go as soon as a worker runs instead of at the daily
--    expiry run; the free-event expiry keeps its daily two steps.

-- --- 1. moderation -----------------------------------------------------------------------------

ALTER TABLE momento.photo_reports
  -- Anonymous (guest) reporters hide the photo for themselves but never for everyone.
  ADD COLUMN by_anonymous boolean NOT NULL DEFAULT false,
  -- Set when the host restored the photo after this report: it no longer counts.
  ADD COLUMN dismissed_at timestamptz;

-- The policy's per-caller lookup: a caller's reports, by reporter.
CREATE INDEX idx_photo_reports_reporter ON momento.photo_reports (reporter_id, photo_id);

-- Photos the caller reported. SECURITY DEFINER: users cannot read momento.photo_reports.
-- PL/pgSQL so its plan is kept for the session (0007); ROWS: a caller reports few photos.
CREATE FUNCTION private.my_reported_photo_ids() RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' ROWS 10
AS $$
BEGIN
  RETURN QUERY
  SELECT r.photo_id FROM momento.photo_reports r WHERE r.reporter_id = auth.uid();
END
$$;

REVOKE ALL ON FUNCTION private.my_reported_photo_ids() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION private.my_reported_photo_ids() TO authenticated, service_role;

-- The reveal rule of 0004, plus: not a photo the caller reported. `NOT IN (SELECT ...)` is a
-- hashed subplan, computed once per statement; the photos' own arm is untouched.
DROP POLICY "Members see their own photos, and everyone's once revealed." ON public.photos;
CREATE POLICY "Members see their own photos, and everyone's once revealed."
  ON public.photos FOR SELECT TO authenticated
  USING (
    user_id = (SELECT auth.uid())
    OR (
      upload_status = 'uploaded'
      AND is_flagged IS NOT TRUE
      AND event_id IN (SELECT private.my_revealed_event_ids())
      AND id NOT IN (SELECT private.my_reported_photo_ids())
    )
  );

DROP FUNCTION public.report_photo(uuid, text);

-- Report a photo as the caller of p_claims. The caller must see the photo (uploaded, in a
-- revealed event of theirs, not hidden for everyone unless they are the host), or have
-- reported it already (then this is a no-op). The host's report hides it for everyone, as
-- before; anyone else's hides it for them, and for everyone once p_reports_to_hide distinct
-- counted reporters reported it. Returns false when the photo is not the caller's to report.
-- Runs as its caller, the server's login role (executable by it alone), with the claims set
-- for auth.uid().
CREATE FUNCTION momento.report_photo(
  p_claims text, p_photo uuid, p_reason text, p_reports_to_hide integer
) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = ''
AS $$
DECLARE
  uid uuid;
  target record;
  already boolean;
  anonymous boolean;
  counted bigint;
BEGIN
  PERFORM set_config('request.jwt.claims', p_claims, true);
  uid := auth.uid();
  IF uid IS NULL THEN
    RAISE EXCEPTION 'not signed in' USING ERRCODE = '42501';
  END IF;
  SELECT p.id, p.user_id, p.is_flagged, e.creator_id INTO target
  FROM public.photos p JOIN public.events e ON e.id = p.event_id
  WHERE p.id = p_photo
    AND p.upload_status = 'uploaded'
    AND p.event_id IN (SELECT private.my_revealed_event_ids())
  FOR UPDATE OF p;
  IF target.id IS NULL THEN
    RETURN false;
  END IF;
  already := EXISTS (
    SELECT 1 FROM momento.photo_reports r WHERE r.photo_id = p_photo AND r.reporter_id = uid
  );
  IF already THEN
    RETURN true;
  END IF;
  IF target.is_flagged IS TRUE AND target.creator_id <> uid AND target.user_id <> uid THEN
    -- Hidden for everyone: not visible to this caller any more.
    RETURN false;
  END IF;
  SELECT coalesce(u.is_anonymous, false) INTO anonymous FROM auth.users u WHERE u.id = uid;
  INSERT INTO momento.photo_reports (photo_id, reporter_id, by_creator, by_anonymous, reason)
  VALUES (p_photo, uid, target.creator_id = uid, coalesce(anonymous, false),
    nullif(btrim(p_reason), ''));
  IF target.is_flagged IS TRUE THEN
    RETURN true;
  END IF;
  IF target.creator_id = uid THEN
    UPDATE public.photos SET is_flagged = true WHERE id = p_photo;
    RETURN true;
  END IF;
  SELECT count(*) INTO counted FROM momento.photo_reports r
  WHERE r.photo_id = p_photo AND NOT r.by_anonymous AND NOT r.by_creator
    AND r.dismissed_at IS NULL;
  IF counted >= greatest(p_reports_to_hide, 1) THEN
    UPDATE public.photos SET is_flagged = true WHERE id = p_photo;
  END IF;
  RETURN true;
END
$$;

REVOKE ALL ON FUNCTION momento.report_photo(text, uuid, text, integer) FROM PUBLIC;

-- The host hides a photo of their live event for everyone (its owner still sees it). Recorded
-- as the host's report (by_creator), which is what `momento moderation list` shows. Returns
-- false (the API's 404) unless the caller created the photo's event.
CREATE FUNCTION public.hide_photo(p_photo uuid) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  uid uuid := auth.uid();
  target uuid;
BEGIN
  IF uid IS NULL THEN
    RETURN false;
  END IF;
  SELECT p.id INTO target
  FROM public.photos p JOIN public.events e ON e.id = p.event_id
  WHERE p.id = p_photo AND e.creator_id = uid AND NOT e.is_deleted
  FOR UPDATE OF p;
  IF target IS NULL THEN
    RETURN false;
  END IF;
  INSERT INTO momento.photo_reports (photo_id, reporter_id, by_creator)
  VALUES (p_photo, uid, true)
  ON CONFLICT (photo_id, reporter_id) DO UPDATE SET by_creator = true, dismissed_at = NULL;
  UPDATE public.photos SET is_flagged = true WHERE id = p_photo AND is_flagged IS NOT TRUE;
  RETURN true;
END
$$;

-- The host makes a photo of their live event visible again: see the header. Returns false
-- (the API's 404) unless the caller created the photo's event.
CREATE FUNCTION public.restore_photo(p_photo uuid) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  uid uuid := auth.uid();
  target uuid;
BEGIN
  IF uid IS NULL THEN
    RETURN false;
  END IF;
  SELECT p.id INTO target
  FROM public.photos p JOIN public.events e ON e.id = p.event_id
  WHERE p.id = p_photo AND e.creator_id = uid AND NOT e.is_deleted
  FOR UPDATE OF p;
  IF target IS NULL THEN
    RETURN false;
  END IF;
  DELETE FROM momento.photo_reports WHERE photo_id = p_photo AND by_creator;
  UPDATE momento.photo_reports SET dismissed_at = now()
  WHERE photo_id = p_photo AND dismissed_at IS NULL;
  UPDATE public.photos SET is_flagged = false WHERE id = p_photo AND is_flagged IS NOT FALSE;
  RETURN true;
END
$$;

-- What was reported in the host's event: photos hidden for everyone or with reports not
-- dismissed, by (captured_at, id) after the cursor. No row at all unless the caller created
-- the (live) event; an empty page is one row with no photo. `reports` counts the open reports
-- of members and guests (the host's own hiding is `hidden_by_host`), `counted_reports` those
-- that count toward hiding it for everyone.
CREATE FUNCTION public.event_reports(
  p_event uuid, p_after_ts timestamptz, p_after_id uuid, p_limit integer
)
RETURNS TABLE (
  id uuid, user_id uuid, username text, captured_at timestamptz, storage_path text,
  hidden boolean, hidden_by_host boolean, reports bigint, counted_reports bigint,
  last_report_at timestamptz, reasons text[]
)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
  RETURN QUERY
  WITH ev AS (
    SELECT e.id FROM public.events e
    WHERE e.id = p_event AND e.creator_id = auth.uid() AND NOT e.is_deleted
  ), page AS (
    SELECT p.id, p.user_id, p.username, p.captured_at, p.storage_path,
      coalesce(p.is_flagged, false) AS hidden, s.*
    FROM public.photos p
    CROSS JOIN LATERAL (
      SELECT coalesce(bool_or(r.by_creator), false) AS hidden_by_host,
        count(*) FILTER (WHERE NOT r.by_creator AND r.dismissed_at IS NULL) AS reports,
        count(*) FILTER (
          WHERE NOT r.by_creator AND r.dismissed_at IS NULL AND NOT r.by_anonymous
        ) AS counted_reports,
        max(r.created_at) FILTER (WHERE r.dismissed_at IS NULL) AS last_report_at,
        array_remove(
          array_agg(r.reason ORDER BY r.created_at) FILTER (WHERE r.dismissed_at IS NULL),
          NULL
        ) AS reasons
      FROM momento.photo_reports r WHERE r.photo_id = p.id
    ) s
    WHERE p.event_id = (SELECT ev.id FROM ev)
      AND (p.captured_at, p.id) > (p_after_ts, p_after_id)
      AND (p.is_flagged OR s.reports > 0)
    ORDER BY p.captured_at, p.id
    LIMIT p_limit
  )
  SELECT page.id, page.user_id, page.username, page.captured_at, page.storage_path,
    page.hidden, page.hidden_by_host, page.reports, page.counted_reports,
    page.last_report_at, coalesce(page.reasons, '{}')
  FROM ev LEFT JOIN page ON true
  ORDER BY page.captured_at, page.id;
END
$$;

REVOKE ALL ON FUNCTION public.hide_photo(uuid), public.restore_photo(uuid),
  public.event_reports(uuid, timestamptz, uuid, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.hide_photo(uuid), public.restore_photo(uuid),
  public.event_reports(uuid, timestamptz, uuid, integer) TO authenticated;

-- --- 2. prompt deletion ------------------------------------------------------------------------

CREATE TABLE momento.deleted_files (
  -- As in momento.file_purges: 'events/<event>/<photo>/' or 'events/<event>/'.
  prefix text PRIMARY KEY,
  deleted_at timestamptz NOT NULL DEFAULT now()
);

-- The listeners' catch-up and the sweep's pruning read by time.
CREATE INDEX idx_deleted_files_time ON momento.deleted_files (deleted_at);

ALTER TABLE momento.deleted_files ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON momento.deleted_files FROM PUBLIC;

-- Record prefixes and announce them. The payload lists them separated by spaces (prefixes
-- have none); past NOTIFY's 8000-byte limit it is '*', and listeners read the table instead.
CREATE FUNCTION private.announce_deleted_files(p_prefixes text[]) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  payload text;
BEGIN
  IF coalesce(cardinality(p_prefixes), 0) = 0 THEN
    RETURN;
  END IF;
  INSERT INTO momento.deleted_files AS d (prefix)
  SELECT DISTINCT unnest(p_prefixes) ORDER BY 1
  ON CONFLICT (prefix) DO UPDATE SET deleted_at = now();
  payload := array_to_string(p_prefixes, ' ');
  IF octet_length(payload) > 7000 THEN
    payload := '*';
  END IF;
  PERFORM pg_notify('momento_deleted_files', payload);
END
$$;

CREATE FUNCTION private.photos_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
  PERFORM private.announce_deleted_files(
    ARRAY(SELECT o.storage_path || '/' FROM old_rows o ORDER BY 1)
  );
  RETURN NULL;
END
$$;

CREATE FUNCTION private.events_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM private.announce_deleted_files(
      ARRAY(SELECT 'events/' || o.id::text || '/' FROM old_rows o ORDER BY 1)
    );
    RETURN NULL;
  END IF;
  PERFORM private.announce_deleted_files(ARRAY['events/' || NEW.id::text || '/']);
  RETURN NULL;
END
$$;

REVOKE ALL ON FUNCTION private.announce_deleted_files(text[]), private.photos_deleted(),
  private.events_deleted() FROM PUBLIC;

CREATE TRIGGER announce_deleted_files AFTER DELETE ON public.photos
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION private.photos_deleted();
CREATE TRIGGER announce_deleted_files AFTER DELETE ON public.events
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION private.events_deleted();
-- A soft delete (the host's, or the free-event expiry's): its files are no longer served.
CREATE TRIGGER announce_soft_deleted AFTER UPDATE OF is_deleted ON public.events
  FOR EACH ROW WHEN (NEW.is_deleted AND NOT coalesce(OLD.is_deleted, false))
  EXECUTE FUNCTION private.events_deleted();

-- Events soft-deleted before this migration still wait for their purge.
INSERT INTO momento.deleted_files (prefix)
SELECT 'events/' || e.id::text || '/' FROM public.events e WHERE e.is_deleted
ON CONFLICT DO NOTHING;

-- Queue the hard delete of one soft-deleted event, as cleanup.tasks.defer_purge does (its
-- queueing lock: a purge already waiting covers it). The row as procrastinate 3.10 writes it
-- (see private.record_file_purges of 0011, and its search_path).
CREATE FUNCTION private.queue_purge_event(p_event uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
BEGIN
  INSERT INTO public.procrastinate_jobs (queue_name, task_name, queueing_lock, args)
  VALUES ('maintenance', 'cleanup:purge_event', 'cleanup:purge_event:' || p_event::text,
    jsonb_build_object('event_id', p_event::text))
  ON CONFLICT DO NOTHING;
END
$$;

REVOKE ALL ON FUNCTION private.queue_purge_event(uuid) FROM PUBLIC;

-- 0003's soft delete by the creator, now with its purge queued in the same transaction.
CREATE OR REPLACE FUNCTION public.delete_event(p_event uuid) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
  UPDATE public.events SET is_deleted = true
  WHERE id = p_event AND creator_id = auth.uid() AND NOT is_deleted;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  PERFORM private.queue_purge_event(p_event);
  RETURN true;
END
$$;
