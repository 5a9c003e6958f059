-- EVENTS and EVENT_MEMBERS: the Momentos and who is in them. Columns as in the design document.
CREATE TABLE public.events (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL,
  join_code text NOT NULL UNIQUE,
  creator_id uuid NOT NULL REFERENCES auth.users(id),
  starts_at timestamptz NOT NULL,
  release_at timestamptz NOT NULL,
  is_premium boolean DEFAULT false,
  is_deleted boolean DEFAULT false,
  created_at timestamptz DEFAULT now()
);

CREATE INDEX idx_events_join_code ON events(join_code) WHERE NOT is_deleted;
CREATE INDEX idx_events_creator ON events(creator_id) WHERE NOT is_deleted;

ALTER TABLE events ADD CONSTRAINT events_release_after_start CHECK (release_at > starts_at);
ALTER TABLE events ADD CONSTRAINT events_name_length
  CHECK (char_length(btrim(name)) BETWEEN 1 AND 100);
ALTER TABLE events ADD CONSTRAINT events_join_code_format
  CHECK (join_code ~ '^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}$');

CREATE TABLE public.event_members (
  event_id uuid NOT NULL REFERENCES events(id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES auth.users(id),
  joined_at timestamptz DEFAULT now(),
  PRIMARY KEY (event_id, user_id)
);

CREATE INDEX idx_event_members_user ON event_members(user_id);

-- A join code: 6 characters from an alphabet without look-alikes (no 0/O, 1/I/L), drawn from
-- gen_random_uuid()'s strong randomness with rejection sampling so every character is equally
-- likely. Callers retry on the rare unique violation.
CREATE FUNCTION private.new_join_code() RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = ''
AS $$
DECLARE
  alphabet constant text := '23456789ABCDEFGHJKMNPQRSTUVWXYZ';  -- 31 characters
  code text := '';
  bytes bytea;
  b int;
  i int;
BEGIN
  WHILE length(code) < 6 LOOP
    bytes := uuid_send(gen_random_uuid());
    FOR i IN 0..15 LOOP
      b := get_byte(bytes, i);
      -- 248 = 31 * 8: bytes at or above it would favour the first characters.
      IF b < 248 AND length(code) < 6 THEN
        code := code || substr(alphabet, (b % 31) + 1, 1);
      END IF;
    END LOOP;
  END LOOP;
  RETURN code;
END
$$;

ALTER TABLE events ALTER COLUMN join_code SET DEFAULT private.new_join_code();

-- Events the caller belongs to (deleted events excluded). Security definer so that policies
-- on event_members can use it without recursing into their own policy; evaluated once per
-- statement when wrapped as `IN (SELECT ...)`.
CREATE FUNCTION private.my_event_ids() RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
  SELECT m.event_id
  FROM public.event_members m
  JOIN public.events e ON e.id = m.event_id
  WHERE m.user_id = auth.uid() AND NOT e.is_deleted
$$;

-- Events the caller belongs to whose photos are revealed (release_at reached).
CREATE FUNCTION private.my_revealed_event_ids() RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
  SELECT m.event_id
  FROM public.event_members m
  JOIN public.events e ON e.id = m.event_id
  WHERE m.user_id = auth.uid() AND NOT e.is_deleted AND e.release_at <= now()
$$;

CREATE FUNCTION private.is_event_creator(p_event uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
  SELECT EXISTS (
    SELECT 1 FROM public.events WHERE id = p_event AND creator_id = auth.uid()
  )
$$;

GRANT EXECUTE ON FUNCTION private.my_event_ids(), private.my_revealed_event_ids(),
  private.is_event_creator(uuid), private.new_join_code()
  TO authenticated, service_role;

ALTER TABLE events ENABLE ROW LEVEL SECURITY;
ALTER TABLE event_members ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON events, event_members FROM anon, authenticated;
-- is_premium and is_deleted are never writable by a user: premium comes from verified
-- purchases, deletion goes through delete_event() below.
GRANT SELECT ON events TO authenticated;
GRANT INSERT (name, creator_id, starts_at, release_at) ON events TO authenticated;
GRANT UPDATE (name, starts_at, release_at) ON events TO authenticated;
GRANT SELECT, DELETE ON event_members TO authenticated;
GRANT ALL ON events, event_members TO service_role;

-- `= ANY (ARRAY(...))` rather than `IN (SELECT ...)`: the array is computed once per statement
-- and, unlike a hashed subplan, can drive an index scan, so together with the creator arm
-- the planner reads the caller's events through two indexes (a BitmapOr) instead of scanning
-- every event. The creator arm is what lets INSERT ... RETURNING see the new event before
-- the trigger has made the creator a member.
CREATE POLICY "Members can read the events they belong to."
  ON events FOR SELECT TO authenticated
  USING (
    NOT is_deleted
    AND (
      creator_id = (SELECT auth.uid())
      OR id = ANY (ARRAY(SELECT private.my_event_ids()))
    )
  );

CREATE POLICY "Users can create events as themselves."
  ON events FOR INSERT TO authenticated
  WITH CHECK (creator_id = (SELECT auth.uid()));

CREATE POLICY "Only the creator can update an event."
  ON events FOR UPDATE TO authenticated
  USING (creator_id = (SELECT auth.uid()) AND NOT is_deleted)
  WITH CHECK (creator_id = (SELECT auth.uid()));

CREATE POLICY "Members can see who else is in their events."
  ON event_members FOR SELECT TO authenticated
  USING (event_id IN (SELECT private.my_event_ids()));

CREATE POLICY "Members can leave an event, except its creator."
  ON event_members FOR DELETE TO authenticated
  USING (user_id = (SELECT auth.uid()) AND NOT private.is_event_creator(event_id));

-- The creator is a member from the start.
CREATE FUNCTION private.add_creator_as_member() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
  INSERT INTO public.event_members (event_id, user_id) VALUES (NEW.id, NEW.creator_id);
  RETURN NEW;
END
$$;

CREATE TRIGGER on_event_created
  AFTER INSERT ON events
  FOR EACH ROW EXECUTE FUNCTION private.add_creator_as_member();

-- Once an event is revealed its release time is history: it can no longer move.
CREATE FUNCTION private.guard_event_update() RETURNS trigger
LANGUAGE plpgsql SET search_path = ''
AS $$
BEGIN
  IF NEW.release_at IS DISTINCT FROM OLD.release_at AND OLD.release_at <= now() THEN
    RAISE EXCEPTION 'release_at cannot change once the event is revealed'
      USING ERRCODE = 'MO001', HINT = 'release_locked';
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER guard_event_update
  BEFORE UPDATE ON events
  FOR EACH ROW EXECUTE FUNCTION private.guard_event_update();

-- Soft delete by the creator: the only way a user request sets is_deleted.
-- Returns false when the caller is not the creator or the event is gone.
CREATE FUNCTION public.delete_event(p_event uuid) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
  UPDATE public.events SET is_deleted = true
  WHERE id = p_event AND creator_id = auth.uid() AND NOT is_deleted;
  RETURN FOUND;
END
$$;

-- Join by code: case-insensitive, idempotent, never for deleted events. Returns the event id
-- and whether this call added the membership; no row when the code matches nothing.
CREATE FUNCTION public.join_event(p_code text)
RETURNS TABLE (event_id uuid, joined boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  target uuid;
  uid uuid := auth.uid();
BEGIN
  IF uid IS NULL THEN
    RAISE EXCEPTION 'not signed in' USING ERRCODE = '42501';
  END IF;
  SELECT e.id INTO target
  FROM public.events e
  WHERE e.join_code = upper(btrim(p_code)) AND NOT e.is_deleted;
  IF target IS NULL THEN
    RETURN;
  END IF;
  INSERT INTO public.event_members (event_id, user_id) VALUES (target, uid)
  ON CONFLICT DO NOTHING;
  event_id := target;
  joined := FOUND;
  RETURN NEXT;
END
$$;

GRANT EXECUTE ON FUNCTION public.delete_event(uuid), public.join_event(text) TO authenticated;
