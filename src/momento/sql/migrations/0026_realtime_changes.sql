-- Realtime (issue 15): a change log written in the changing transaction, read by every API
-- process to fan changes out to the members' streams (momento.realtime).
--
-- Each row names what changed (an event, a photo, a member), never what a member may see of
-- it: the processes read the details once each and decide per subscriber (momento.realtime.
-- policy). Ids come from the identity sequence; they are the SSE message ids, so a client
-- reconnecting with Last-Event-ID gets the rows after its id. Rows live
-- MOMENTO_STREAM_RESUME_SECONDS (pruned by the processes, which record the highest pruned id in
-- momento.changes_horizon: a client behind it is told to resync).
--
-- NOTIFY momento_changes carries the event id only (PostgreSQL folds identical notifications of
-- one transaction into one), far under the 8000-byte limit.
CREATE TABLE momento.changes (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT clock_timestamp(),
  event_id uuid NOT NULL,
  -- member_joined, member_left, photo_added, photo_removed, like_count, event_updated,
  -- event_deleted
  kind text NOT NULL,
  photo_id uuid,
  -- The member who joined or left; the photo's owner for photo changes.
  user_id uuid,
  -- Who made the change (auth.uid()): tells leaving from being removed. Never sent.
  actor_id uuid,
  -- photo_removed: 'deleted' (it was shown), 'deleted_hidden' (hidden: only its owner saw it)
  -- or 'hidden'; event_updated: 'release_at' when the reveal moved.
  reason text,
  -- A deleted photo's reporters, who did not see it (their reports go with it). Never sent.
  reporters uuid[]
);
CREATE INDEX changes_at_idx ON momento.changes (at);
-- The like throttle looks for a recent like_count row of the photo.
CREATE INDEX changes_likes_idx ON momento.changes (photo_id, at) WHERE kind = 'like_count';
ALTER TABLE momento.changes ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON momento.changes FROM PUBLIC, anon, authenticated, service_role;

-- One row, written by the first prune (no row: nothing pruned yet).
CREATE TABLE momento.changes_horizon (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  pruned_upto bigint NOT NULL DEFAULT 0
);
ALTER TABLE momento.changes_horizon ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON momento.changes_horizon FROM PUBLIC, anon, authenticated, service_role;

CREATE FUNCTION private.record_change(
  p_event uuid, p_kind text, p_photo uuid, p_user uuid, p_reason text,
  p_reporters uuid[] DEFAULT NULL
) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
  INSERT INTO momento.changes (event_id, kind, photo_id, user_id, actor_id, reason, reporters)
  VALUES (p_event, p_kind, p_photo, p_user, auth.uid(), p_reason, p_reporters);
  PERFORM pg_notify('momento_changes', p_event::text);
END
$$;

CREATE FUNCTION private.realtime_members() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM private.record_change(NEW.event_id, 'member_joined', NULL, NEW.user_id, NULL);
  ELSE
    PERFORM private.record_change(OLD.event_id, 'member_left', NULL, OLD.user_id, NULL);
  END IF;
  RETURN NULL;
END
$$;

-- A photo counts as shown when uploaded and not hidden: it enters and leaves the feed with
-- photo_added / photo_removed. Likes: at most one like_count row (and notification) per photo
-- per half second; the processes read the count after the window closes, so the last like of
-- a burst is still delivered.
CREATE FUNCTION private.realtime_photos() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  was boolean := false;
  now_shown boolean := false;
BEGIN
  IF TG_OP = 'UPDATE' THEN
    was := OLD.upload_status = 'uploaded' AND OLD.is_flagged IS NOT TRUE;
  END IF;
  now_shown := NEW.upload_status = 'uploaded' AND NEW.is_flagged IS NOT TRUE;
  IF now_shown AND NOT was THEN
    PERFORM private.record_change(NEW.event_id, 'photo_added', NEW.id, NEW.user_id, NULL);
  ELSIF was AND NOT now_shown THEN
    PERFORM private.record_change(NEW.event_id, 'photo_removed', NEW.id, NEW.user_id, 'hidden');
  ELSIF TG_OP = 'UPDATE' AND NEW.like_count <> OLD.like_count AND now_shown
    AND NOT EXISTS (
      SELECT 1 FROM momento.changes c
      WHERE c.kind = 'like_count' AND c.photo_id = NEW.id
        AND c.at > clock_timestamp() - interval '500 milliseconds'
    ) THEN
    PERFORM private.record_change(NEW.event_id, 'like_count', NEW.id, NEW.user_id, NULL);
  END IF;
  RETURN NULL;
END
$$;

-- Before the row goes: its reports are still there (they go with it, by cascade).
CREATE FUNCTION private.realtime_photo_deleting() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
  IF OLD.upload_status = 'uploaded' THEN
    PERFORM private.record_change(OLD.event_id, 'photo_removed', OLD.id, OLD.user_id,
      CASE WHEN OLD.is_flagged IS TRUE THEN 'deleted_hidden' ELSE 'deleted' END,
      ARRAY(SELECT r.reporter_id FROM momento.photo_reports r WHERE r.photo_id = OLD.id));
  END IF;
  RETURN OLD;
END
$$;

CREATE FUNCTION private.realtime_events() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF NOT OLD.is_deleted THEN
      PERFORM private.record_change(OLD.id, 'event_deleted', NULL, NULL, NULL);
    END IF;
  ELSIF NEW.is_deleted AND NOT coalesce(OLD.is_deleted, false) THEN
    PERFORM private.record_change(NEW.id, 'event_deleted', NULL, NULL, NULL);
  ELSIF NOT NEW.is_deleted AND (NEW.name, NEW.starts_at, NEW.release_at)
      IS DISTINCT FROM (OLD.name, OLD.starts_at, OLD.release_at) THEN
    PERFORM private.record_change(NEW.id, 'event_updated', NULL, NULL,
      CASE WHEN NEW.release_at IS DISTINCT FROM OLD.release_at THEN 'release_at' END);
  END IF;
  RETURN NULL;
END
$$;

-- Signing out ends the session's streams on every process: the ended session ids, or '*' when
-- too many for one payload (the processes then check their streams' sessions).
CREATE FUNCTION private.realtime_sessions() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  payload text;
BEGIN
  SELECT string_agg(o.id::text, ' ') INTO payload FROM old_rows o;
  IF payload IS NULL THEN
    RETURN NULL;
  END IF;
  IF octet_length(payload) > 7000 THEN
    payload := '*';
  END IF;
  PERFORM pg_notify('momento_sessions', payload);
  RETURN NULL;
END
$$;

REVOKE ALL ON FUNCTION private.record_change(uuid, text, uuid, uuid, text, uuid[]),
  private.realtime_members(), private.realtime_photos(), private.realtime_photo_deleting(),
  private.realtime_events(),
  private.realtime_sessions() FROM PUBLIC;

CREATE TRIGGER realtime_changes AFTER INSERT OR DELETE ON public.event_members
  FOR EACH ROW EXECUTE FUNCTION private.realtime_members();
CREATE TRIGGER realtime_changes AFTER INSERT ON public.photos
  FOR EACH ROW EXECUTE FUNCTION private.realtime_photos();
CREATE TRIGGER realtime_changes_delete BEFORE DELETE ON public.photos
  FOR EACH ROW EXECUTE FUNCTION private.realtime_photo_deleting();
CREATE TRIGGER realtime_changes_update AFTER UPDATE ON public.photos
  FOR EACH ROW
  WHEN (OLD.upload_status IS DISTINCT FROM NEW.upload_status
        OR OLD.is_flagged IS DISTINCT FROM NEW.is_flagged
        OR OLD.like_count <> NEW.like_count)
  EXECUTE FUNCTION private.realtime_photos();
CREATE TRIGGER realtime_changes AFTER UPDATE OR DELETE ON public.events
  FOR EACH ROW EXECUTE FUNCTION private.realtime_events();
CREATE TRIGGER realtime_sessions AFTER DELETE ON auth.sessions
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION private.realtime_sessions();
