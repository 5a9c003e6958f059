-- PHOTOS and PHOTO_LIKES: the content and who liked it. Columns as in the design document.
CREATE TABLE public.photos (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  event_id uuid NOT NULL REFERENCES events(id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES auth.users(id),
  storage_path text NOT NULL,
  captured_at timestamptz DEFAULT now(),
  username text NOT NULL,         -- Denormalized for display
  width integer,                  -- For UI placeholder sizing
  height integer,                 -- For UI placeholder sizing
  upload_status text DEFAULT 'pending' CHECK (upload_status IN ('pending', 'uploaded', 'failed')),
  is_flagged boolean DEFAULT false  -- Moderation flag
);

CREATE INDEX idx_photos_event_time ON photos(event_id, captured_at);
CREATE INDEX idx_photos_user ON photos(user_id);
CREATE INDEX idx_photos_pending ON photos(upload_status) WHERE upload_status = 'pending';

CREATE TABLE public.photo_likes (
  photo_id uuid NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES auth.users(id),
  created_at timestamptz DEFAULT now(),
  PRIMARY KEY (photo_id, user_id)
);

CREATE INDEX idx_photo_likes_user ON photo_likes(user_id);

-- The username shown under a photo is the owner's, copied at insert.
CREATE FUNCTION private.set_photo_username() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
  SELECT p.username INTO NEW.username FROM public.profiles p WHERE p.id = NEW.user_id;
  IF NEW.username IS NULL THEN
    RAISE EXCEPTION 'photo owner has no profile' USING ERRCODE = '23503';
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER set_photo_username
  BEFORE INSERT ON photos
  FOR EACH ROW EXECUTE FUNCTION private.set_photo_username();

ALTER TABLE photos ENABLE ROW LEVEL SECURITY;
ALTER TABLE photo_likes ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON photos, photo_likes FROM anon, authenticated;
-- Upload status, dimensions and the flag are written by the server, never by a user request.
GRANT SELECT, DELETE ON photos TO authenticated;
GRANT INSERT (id, event_id, user_id, storage_path, captured_at) ON photos TO authenticated;
GRANT SELECT, DELETE ON photo_likes TO authenticated;
GRANT INSERT (photo_id, user_id) ON photo_likes TO authenticated;
GRANT ALL ON photos, photo_likes TO service_role;

-- The reveal rule. A photo is visible to its owner always; to the other members of its event
-- only once the event is revealed (release_at reached), and only when it is uploaded and not
-- flagged. Written out here rather than in a helper function: a SQL function whose body holds
-- a subquery is never inlined, so it would look the membership up once per photo row; here
-- `(SELECT auth.uid())` and `IN (SELECT ...)` run once per statement. The same rule is
-- repeated in photo_like_counts() below; tests/rls/test_photos.py and test_likes.py hold
-- both to it.
CREATE POLICY "Members see their own photos, and everyone's once revealed."
  ON photos FOR SELECT TO authenticated
  USING (
    user_id = (SELECT auth.uid())
    OR (
      upload_status = 'uploaded'
      AND is_flagged IS NOT TRUE
      AND event_id IN (SELECT private.my_revealed_event_ids())
    )
  );

CREATE POLICY "Members can add their own photos to their events."
  ON photos FOR INSERT TO authenticated
  WITH CHECK (
    user_id = (SELECT auth.uid())
    AND event_id IN (SELECT private.my_event_ids())
  );

CREATE POLICY "Only the owner can delete a photo."
  ON photos FOR DELETE TO authenticated
  USING (user_id = (SELECT auth.uid()));

-- Who liked what stays private: a user reads only their own likes.
CREATE POLICY "Users can read their own likes."
  ON photo_likes FOR SELECT TO authenticated
  USING (user_id = (SELECT auth.uid()));

CREATE POLICY "Users can like photos they can see, as themselves."
  ON photo_likes FOR INSERT TO authenticated
  WITH CHECK (
    user_id = (SELECT auth.uid())
    AND EXISTS (
      SELECT 1 FROM public.photos p
      WHERE p.id = photo_id AND p.upload_status = 'uploaded' AND NOT p.is_flagged
    )
  );

CREATE POLICY "Users can remove their own likes."
  ON photo_likes FOR DELETE TO authenticated
  USING (user_id = (SELECT auth.uid()));

-- Like counts for photos the caller can see; who liked stays hidden. Photos the caller
-- cannot see are simply absent from the result.
CREATE FUNCTION public.photo_like_counts(p_photos uuid[])
RETURNS TABLE (photo_id uuid, like_count bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
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
    )
$$;

GRANT EXECUTE ON FUNCTION public.photo_like_counts(uuid[]) TO authenticated;
