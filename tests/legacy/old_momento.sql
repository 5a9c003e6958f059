-- The OLD Momento schema, as the design document's Implementation Plan finds it before Phase 1:
-- photo_interactions (likes among other statuses), keepsakes, reveal progress, and the columns
-- Phase 1.5 drops or renames (events.title, photos.captured_by_username, event_members.id ...).
-- No foreign keys on photo_interactions, so likes can point at photos or users that are gone.
CREATE TABLE public.profiles (
  id uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
  username text UNIQUE,
  first_name text,
  last_name text,
  display_name text,
  avatar_url text,
  is_premium boolean DEFAULT false,
  total_events_joined integer DEFAULT 0,
  created_at timestamptz DEFAULT now(),
  updated_at timestamptz DEFAULT now()
);

CREATE TABLE public.events (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  title text NOT NULL,
  description text,
  join_code text UNIQUE,
  creator_id uuid REFERENCES auth.users (id),
  starts_at timestamptz,
  ends_at timestamptz,
  release_at timestamptz,
  is_premium boolean DEFAULT false,
  is_deleted boolean DEFAULT false,
  is_private boolean DEFAULT false,
  is_corporate boolean DEFAULT false,
  max_photos_per_user integer,
  location_name text,
  location_lat double precision,
  location_lng double precision,
  member_count integer DEFAULT 0,
  photo_count integer DEFAULT 0,
  is_revealed boolean DEFAULT false,
  reveal_job_scheduled boolean DEFAULT false,
  created_at timestamptz DEFAULT now()
);

CREATE TABLE public.event_members (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  event_id uuid REFERENCES public.events (id) ON DELETE CASCADE,
  user_id uuid REFERENCES auth.users (id),
  joined_at timestamptz DEFAULT now(),
  invited_by uuid,
  role text DEFAULT 'member'
);

CREATE TABLE public.photos (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  event_id uuid REFERENCES public.events (id) ON DELETE CASCADE,
  user_id uuid REFERENCES auth.users (id),
  storage_path text NOT NULL,
  captured_at timestamptz DEFAULT now(),
  captured_by_username text,
  upload_status text DEFAULT 'pending',
  device_type text,
  file_size bigint,
  is_revealed boolean DEFAULT false,
  reactions jsonb DEFAULT '{}'
);

CREATE TABLE public.photo_interactions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  photo_id uuid NOT NULL,
  user_id uuid NOT NULL,
  status text NOT NULL,
  created_at timestamptz DEFAULT now()
);

CREATE TABLE public.keepsakes (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL,
  description text
);
CREATE TABLE public.user_keepsakes (
  user_id uuid REFERENCES auth.users (id),
  keepsake_id uuid REFERENCES public.keepsakes (id),
  earned_at timestamptz DEFAULT now(),
  PRIMARY KEY (user_id, keepsake_id)
);
CREATE TABLE public.user_reveal_progress (
  user_id uuid REFERENCES auth.users (id),
  event_id uuid REFERENCES public.events (id) ON DELETE CASCADE,
  last_photo_index integer DEFAULT 0,
  completed boolean DEFAULT false,
  PRIMARY KEY (user_id, event_id)
);

-- Objects that use what Phase 1.5 drops: they block the drop.
CREATE VIEW public.event_cards AS SELECT id, title, member_count, photo_count FROM public.events;
ALTER TABLE public.photos ENABLE ROW LEVEL SECURITY;
CREATE POLICY "revealed photos" ON public.photos FOR SELECT TO authenticated
  USING (is_revealed OR user_id = auth.uid());
GRANT SELECT ON public.event_cards TO authenticated;
