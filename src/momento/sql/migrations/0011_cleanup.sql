-- Cleanup (design doc, "Cleanup Policy"): expired free events, their hard delete, account
-- deletion's files and the orphan sweep all remove stored files through one queue.
--
-- The rule that makes every removal crash-safe: a row that points at files is never deleted
-- without recording, in the same transaction, the storage prefix of those files in
-- momento.file_purges. Files are removed only afterwards, prefix by prefix, and a record is
-- deleted only once its files are gone (`momento.cleanup.service.drain_file_purges`). So at
-- every moment each stored file is reachable from a photo row or from a purge record, and no
-- row's files are gone while the row is still there. A crash anywhere leaves the records,
-- and running the purge again finishes the work (deleting a prefix twice is harmless).
--
-- The records are written by triggers, so every way a photo or event row goes (the hard
-- delete of an event, private.delete_account of 0005, a user deleting their own photo,
-- moderation) is covered without its author having to remember files.

CREATE TABLE momento.file_purges (
  -- 'events/<event>/<photo>/' (one photo's files) or 'events/<event>/' (what remains of an
  -- event once its photos are gone).
  prefix text PRIMARY KEY CHECK (prefix ~ '^events/[A-Za-z0-9_-][A-Za-z0-9._-]*/([A-Za-z0-9_-][A-Za-z0-9._-]*/)?$'),
  -- Not a reference: the event is gone, or going.
  event_id uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idx_file_purges_event ON momento.file_purges (event_id);

ALTER TABLE momento.file_purges ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON momento.file_purges FROM PUBLIC;

-- Record the files of deleted photos / events, and queue the job that removes them
-- (cleanup:purge_files, coalesced by its queueing lock while one waits). The job is queued in
-- the deleting transaction itself, so records never exist without a job to drain them (the
-- hourly orphan sweep drains them too, should a job ever fail for good). The job row is
-- written as procrastinate 3.10's defer function writes it (0008; the version is pinned).
--
-- search_path: procrastinate's own triggers on its jobs table name its tables unqualified, so
-- they need `public`; pg_temp comes last so no temporary table can stand in for one.
CREATE FUNCTION private.record_file_purges() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
BEGIN
  IF TG_TABLE_NAME = 'photos' THEN
    INSERT INTO momento.file_purges (prefix, event_id)
    SELECT o.storage_path || '/', o.event_id FROM old_rows o
    ORDER BY 1
    ON CONFLICT (prefix) DO NOTHING;
  ELSE
    INSERT INTO momento.file_purges (prefix, event_id)
    SELECT 'events/' || o.id::text || '/', o.id FROM old_rows o
    ORDER BY 1
    ON CONFLICT (prefix) DO NOTHING;
  END IF;
  IF FOUND THEN
    -- Conflicts only with a purge_files job already waiting (its queueing lock): that one
    -- will see these records too.
    INSERT INTO public.procrastinate_jobs (queue_name, task_name, queueing_lock, args)
    VALUES ('maintenance', 'cleanup:purge_files', 'cleanup:purge_files', '{}'::jsonb)
    ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END
$$;

REVOKE ALL ON FUNCTION private.record_file_purges() FROM PUBLIC;

CREATE TRIGGER record_file_purges AFTER DELETE ON public.photos
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION private.record_file_purges();
CREATE TRIGGER record_file_purges AFTER DELETE ON public.events
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION private.record_file_purges();

-- Free events past their retention: found by release time among live, non-premium events.
CREATE INDEX idx_events_free_release ON public.events (release_at)
  WHERE NOT coalesce(is_deleted, false) AND NOT coalesce(is_premium, false);
-- Soft-deleted events waiting for their hard delete.
CREATE INDEX idx_events_deleted ON public.events (id) WHERE is_deleted;
