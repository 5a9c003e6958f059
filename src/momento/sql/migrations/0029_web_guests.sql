-- Guests in the browser (issue 17). A guest is an anonymous user (GoTrue's anonymous sign-in,
-- auth.users.is_anonymous); the database, not only the routes, keeps them to taking part:
--   * they cannot create events (the insert policy), so they are never a host and cannot pay
--     (only an event's creator verifies a purchase);
--   * they join only by code, and only events whose host lets web guests in
--     (events.web_guests, on by default; join_event refuses with 42501 otherwise);
--   * the host may turn web guests off and draw a new join code (the old one stops working).
-- The account table is read, not the token's is_anonymous claim, so a guest who adds an email
-- and password has a full account's rights at once, with the access token they already hold.

ALTER TABLE public.events ADD COLUMN web_guests boolean NOT NULL DEFAULT true;
COMMENT ON COLUMN public.events.web_guests IS
  'Guests (anonymous users) may join by code; the host turns it off to keep them out.';

-- The creator switches it through the existing update policy (creator only, not deleted).
GRANT UPDATE (web_guests) ON public.events TO authenticated;

CREATE FUNCTION private.is_guest() RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  SELECT coalesce((SELECT u.is_anonymous FROM auth.users u WHERE u.id = auth.uid()), false)
$$;
REVOKE ALL ON FUNCTION private.is_guest() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION private.is_guest() TO authenticated, service_role;

DROP POLICY "Users can create events as themselves." ON public.events;
CREATE POLICY "Signed-up users can create events as themselves." ON public.events
  FOR INSERT TO authenticated
  WITH CHECK (creator_id = (SELECT auth.uid()) AND NOT (SELECT private.is_guest()));

CREATE OR REPLACE FUNCTION public.join_event(p_code text) RETURNS TABLE(event_id uuid, joined boolean)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
  target uuid;
  guests_allowed boolean;
  uid uuid := auth.uid();
BEGIN
  IF uid IS NULL THEN
    RAISE EXCEPTION 'not signed in' USING ERRCODE = '42501';
  END IF;
  SELECT e.id, e.web_guests INTO target, guests_allowed
  FROM public.events e
  WHERE e.join_code = upper(btrim(p_code)) AND NOT e.is_deleted;
  IF target IS NULL THEN
    RETURN;
  END IF;
  IF NOT guests_allowed AND private.is_guest() THEN
    -- Already a member (joined before the host turned guests off): stays a member.
    IF NOT EXISTS (SELECT 1 FROM public.event_members m
                   WHERE m.event_id = target AND m.user_id = uid) THEN
      RAISE EXCEPTION 'web guests are off for this event' USING ERRCODE = '42501',
        HINT = 'web_guests_off';
    END IF;
  END IF;
  INSERT INTO public.event_members (event_id, user_id) VALUES (target, uid)
  ON CONFLICT DO NOTHING;
  event_id := target;
  joined := FOUND;
  RETURN NEXT;
END
$$;

-- A new join code for the caller's event (creator only, not deleted): the old code, its links
-- and printed QR codes stop working; members stay. The code is drawn here, never chosen by a
-- user (join_code stays unwritable). NULL: not the creator's event (the caller tells 403 from
-- 404 by reading the event). A collision with another event's code draws again.
CREATE FUNCTION public.rotate_join_code(p_event uuid) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
  uid uuid := auth.uid();
  fresh text;
BEGIN
  IF uid IS NULL THEN
    RAISE EXCEPTION 'not signed in' USING ERRCODE = '42501';
  END IF;
  FOR attempt IN 1..5 LOOP
    BEGIN
      UPDATE public.events e SET join_code = private.new_join_code()
      WHERE e.id = p_event AND e.creator_id = uid AND NOT e.is_deleted
      RETURNING e.join_code INTO fresh;
      RETURN fresh;
    EXCEPTION WHEN unique_violation THEN
      IF attempt = 5 THEN
        RAISE;
      END IF;
    END;
  END LOOP;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION public.rotate_join_code(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.rotate_join_code(uuid) TO authenticated;
