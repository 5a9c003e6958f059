-- What the upload flow, the reveal feed and moderation need beyond the design document's
-- photos table, whose columns stay exactly as designed.

-- The feed pages by (captured_at, id): this index serves the keyset condition
-- `(captured_at, id) > (cursor)` directly, so the last page costs what the first does.
CREATE INDEX idx_photos_event_feed ON photos (event_id, captured_at, id);

-- Files live under events/<event>/<photo>; a user's insert cannot point a photo elsewhere
-- (at another photo's files, say).
ALTER TABLE photos ADD CONSTRAINT photos_storage_path_layout
  CHECK (storage_path = 'events/' || event_id::text || '/' || id::text);

-- One row per photo for what the upload flow learns about its file: what the client declared,
-- what the bytes turned out to be, the blurhash placeholder, and why processing failed.
CREATE TABLE public.photo_media (
  photo_id uuid PRIMARY KEY REFERENCES public.photos(id) ON DELETE CASCADE,
  declared_type text NOT NULL,
  declared_size bigint NOT NULL CHECK (declared_size > 0),
  content_type text,
  byte_size bigint,
  blurhash text,
  failure_code text,
  failure_reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  processed_at timestamptz
);

ALTER TABLE photo_media ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON photo_media FROM anon, authenticated;
GRANT SELECT ON photo_media TO authenticated;
GRANT INSERT (photo_id, declared_type, declared_size) ON photo_media TO authenticated;
GRANT ALL ON photo_media TO service_role;

-- The photos policy decides: the subquery runs under the caller's RLS.
CREATE POLICY "Media details are visible with their photo."
  ON photo_media FOR SELECT TO authenticated
  USING (EXISTS (SELECT 1 FROM public.photos p WHERE p.id = photo_id));

CREATE POLICY "Owners describe their own uploads."
  ON photo_media FOR INSERT TO authenticated
  WITH CHECK (
    EXISTS (SELECT 1 FROM public.photos p WHERE p.id = photo_id AND p.user_id = (SELECT auth.uid()))
  );

-- Reports, for the operator's review (`momento moderation list`). Never readable by users.
CREATE TABLE momento.photo_reports (
  photo_id uuid NOT NULL REFERENCES public.photos(id) ON DELETE CASCADE,
  reporter_id uuid NOT NULL REFERENCES auth.users(id) ON DELETE CASCADE,
  by_creator boolean NOT NULL DEFAULT false,
  reason text CHECK (reason IS NULL OR char_length(reason) <= 500),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (photo_id, reporter_id)
);

-- Report a photo (or, for the event's creator, hide it): sets is_flagged, which hides it from
-- everyone but its owner. The caller must be able to see the photo now, or have reported it
-- before (a second report of a hidden photo is a no-op, not an error). Returns false when the
-- photo is not the caller's to report.
CREATE FUNCTION public.report_photo(p_photo uuid, p_reason text)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  uid uuid := auth.uid();
  target record;
BEGIN
  IF uid IS NULL THEN
    RAISE EXCEPTION 'not signed in' USING ERRCODE = '42501';
  END IF;
  SELECT p.id, p.event_id, p.is_flagged, e.creator_id INTO target
  FROM public.photos p JOIN public.events e ON e.id = p.event_id
  WHERE p.id = p_photo
    AND p.upload_status = 'uploaded'
    AND p.event_id IN (SELECT private.my_revealed_event_ids())
  FOR UPDATE OF p;
  IF target.id IS NULL THEN
    RETURN false;
  END IF;
  IF target.is_flagged IS TRUE AND NOT EXISTS (
    SELECT 1 FROM momento.photo_reports r WHERE r.photo_id = p_photo AND r.reporter_id = uid
  ) AND target.creator_id <> uid THEN
    -- Hidden by someone else: not visible to this caller any more.
    RETURN false;
  END IF;
  UPDATE public.photos SET is_flagged = true WHERE id = p_photo;
  INSERT INTO momento.photo_reports (photo_id, reporter_id, by_creator, reason)
  VALUES (p_photo, uid, target.creator_id = uid, nullif(btrim(p_reason), ''))
  ON CONFLICT (photo_id, reporter_id) DO NOTHING;
  RETURN true;
END
$$;

GRANT EXECUTE ON FUNCTION public.report_photo(uuid, text) TO authenticated;
