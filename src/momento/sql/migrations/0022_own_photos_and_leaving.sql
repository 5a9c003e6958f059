-- Issue 14, part A: an owner's own uploads (listed, read one by one, a failed one retried),
-- leaving an event with or without one's photos, and usernames under photos that stay true.
--
-- The policies of 0004/0006 are unchanged: they already let an owner read and delete their own
-- photos whatever their status and whether or not they are still a member, and show anyone
-- else's only to members of a revealed event (tests/rls/test_own_photos.py holds them to the
-- former member's rule). What a former member lacks is a way to name the event, which no
-- longer shows them its row: private.my_photo_event_ids() below.

-- 1. Usernames stay true. photos.username is the design's denormalised copy of the owner's
--    username, made at insert by set_photo_username() (0004). Kept (the feed reads it with
--    the photo, no join per page) and now kept right: a rename updates the owner's photos in
--    the rename's own transaction.
--
--    The insert side locks the owner's profile row (FOR SHARE) while copying the name, so a
--    photo inserted concurrently with a rename cannot keep the old name: either the insert
--    waits for the rename to commit and copies the new name (READ COMMITTED reads the row's
--    newest version after the wait), or the rename waits for the insert to commit and its
--    trigger's UPDATE (a new statement, a new snapshot) finds the new photo.
CREATE OR REPLACE FUNCTION private.set_photo_username() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
  SELECT p.username INTO NEW.username FROM public.profiles p WHERE p.id = NEW.user_id
  FOR SHARE;
  IF NEW.username IS NULL THEN
    RAISE EXCEPTION 'photo owner has no profile' USING ERRCODE = '23503';
  END IF;
  RETURN NEW;
END
$$;

CREATE FUNCTION private.sync_photo_usernames() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
  UPDATE public.photos SET username = NEW.username
  WHERE user_id = NEW.id AND username IS DISTINCT FROM NEW.username;
  RETURN NULL;
END
$$;

REVOKE ALL ON FUNCTION private.sync_photo_usernames() FROM PUBLIC;

CREATE TRIGGER sync_photo_usernames AFTER UPDATE OF username ON public.profiles
  FOR EACH ROW WHEN (OLD.username IS DISTINCT FROM NEW.username)
  EXECUTE FUNCTION private.sync_photo_usernames();

-- Names left stale by renames before this migration.
UPDATE public.photos p SET username = pr.username
FROM public.profiles pr
WHERE pr.id = p.user_id AND p.username IS DISTINCT FROM pr.username;

-- 2. An owner's photos of one event, newest first (GET /v1/events/{id}/photos/mine): this
--    index serves the keyset condition `(captured_at, id) < (cursor)` for (user, event)
--    directly. Its prefix serves every lookup by owner, so idx_photos_user (0004) goes.
CREATE INDEX idx_photos_user_event_time ON public.photos (user_id, event_id, captured_at, id);
DROP INDEX public.idx_photos_user;

-- 3. The events whose photos the caller may ask about by event: the live events they belong
--    to, and the live events they left while keeping photos there (the former member still
--    lists and deletes their own photos; anyone else's stay hidden by the photos policy, which
--    shows others' photos to members only). Deleted events are excluded, as everywhere.
--    A security definer (a former member cannot read the event's row), PL/pgSQL so that its
--    plan is kept for the session (0007).
CREATE FUNCTION private.my_photo_event_ids() RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
  RETURN QUERY
  SELECT m.event_id
  FROM public.event_members m
  JOIN public.events e ON e.id = m.event_id
  WHERE m.user_id = auth.uid() AND NOT e.is_deleted
  UNION
  SELECT e.id
  FROM public.events e
  WHERE NOT e.is_deleted
    AND EXISTS (SELECT 1 FROM public.photos p WHERE p.event_id = e.id AND p.user_id = auth.uid());
END
$$;

REVOKE ALL ON FUNCTION private.my_photo_event_ids() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION private.my_photo_event_ids() TO authenticated, service_role;

-- 4. Leaving (DELETE /v1/events/{id}/membership): the membership goes and, when asked, the
--    leaver's photos of the event and their likes there, all in one transaction. The photos'
--    files are then recorded and their purge queued by record_file_purges (0011), in this
--    same transaction. The creator cannot leave (as the event_members policy of 0003 says).
--
--    A security definer because the likes to remove include likes of photos the caller can
--    no longer see (hidden since); everything it touches is the caller's own (auth.uid()).
--    It takes the lock create_photo takes for the caller's uploads to the event, so a photo
--    being created meanwhile is either removed with the others or refused (no longer a
--    member).
--
--    Returns 'left', 'creator' (refused) or 'not_member' (not a member of a live event).
CREATE FUNCTION public.leave_event(p_event uuid, p_remove_photos boolean)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  uid uuid := auth.uid();
  creator uuid;
BEGIN
  IF uid IS NULL THEN
    RAISE EXCEPTION 'not signed in' USING ERRCODE = '42501';
  END IF;
  PERFORM pg_advisory_xact_lock(hashtextextended(p_event::text || ':' || uid::text, 7));
  SELECT e.creator_id INTO creator
  FROM public.events e
  JOIN public.event_members m ON m.event_id = e.id AND m.user_id = uid
  WHERE e.id = p_event AND NOT e.is_deleted;
  IF NOT FOUND THEN
    RETURN 'not_member';
  END IF;
  IF creator = uid THEN
    RETURN 'creator';
  END IF;
  DELETE FROM public.event_members WHERE event_id = p_event AND user_id = uid;
  IF p_remove_photos THEN
    DELETE FROM public.photo_likes l
    USING public.photos p
    WHERE l.user_id = uid AND l.photo_id = p.id AND p.event_id = p_event;
    DELETE FROM public.photos p WHERE p.event_id = p_event AND p.user_id = uid;
  END IF;
  RETURN 'left';
END
$$;

REVOKE ALL ON FUNCTION public.leave_event(uuid, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.leave_event(uuid, boolean) TO authenticated;

-- 5. Retrying a failed upload (POST /v1/photos/{id}/retry): the caller's own failed photo,
--    in a live event they are still a member of, goes back to pending with what the client
--    now declares about the file; the failure is forgotten. Users cannot write the status
--    (0004's grants), hence a security definer limited to exactly this change. The server
--    checks the rest first (declared type and size, the upload window, the photo limit) in
--    the same transaction, under create_photo's lock. Returns false when the photo is not
--    such a photo.
CREATE FUNCTION public.retry_photo(p_photo uuid, p_type text, p_size bigint)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
  IF auth.uid() IS NULL THEN
    RAISE EXCEPTION 'not signed in' USING ERRCODE = '42501';
  END IF;
  UPDATE public.photos p SET upload_status = 'pending'
  WHERE p.id = p_photo
    AND p.user_id = auth.uid()
    AND p.upload_status = 'failed'
    AND p.event_id IN (SELECT private.my_event_ids());
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  UPDATE public.photo_media SET declared_type = p_type, declared_size = p_size,
    content_type = NULL, byte_size = NULL, failure_code = NULL, failure_reason = NULL,
    processed_at = NULL
  WHERE photo_id = p_photo;
  RETURN true;
END
$$;

REVOKE ALL ON FUNCTION public.retry_photo(uuid, text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.retry_photo(uuid, text, bigint) TO authenticated;
