-- PUSH: the delivery ledger that makes each notification go out once, and the reveals sent.
--
-- momento.push_deliveries has one row per notification meant for one device of one member:
-- (kind, event_id, ref, user_id, device_token). A job claims the rows it will send by
-- inserting them (INSERT ... ON CONFLICT DO NOTHING RETURNING): a retried job, or a second
-- worker racing the first, inserts nothing for a device already claimed, so it sends nothing
-- to it. A row stays 'sending' while its notification is in flight; one left 'sending' longer
-- than the lease (its worker died before recording the answer) is claimed again by the next
-- run, the one case where a device may get a notification twice; the apns-collapse-id then
-- makes the second replace the first on the device.
--
--   kind  'reveal'      ref ''           one per member and device, at release_at
--         'joined'      ref joiner id    the creator, once per member joining
--         'new_photos'  ref job id       the members, once per collapsed batch of uploads
--
-- momento.reveals: when an event's reveal job started and finished (finished: nothing left
-- 'sending'), with the counts reported to analytics. The safety net (reveal:safety_net) looks
-- here for revealed events whose reveal never ran or never finished.
--
-- momento.announced_photos: the photos a "New photos added" batch has covered (marked in the
-- transaction that claims its deliveries), so the next batch names only the ones since.
--
-- Nothing here is readable or writable by users: only the workers (the owner) touch it.

CREATE TABLE momento.push_deliveries (
  kind text NOT NULL CHECK (kind IN ('reveal', 'joined', 'new_photos')),
  event_id uuid NOT NULL REFERENCES public.events(id) ON DELETE CASCADE,
  ref text NOT NULL DEFAULT '',
  user_id uuid NOT NULL REFERENCES auth.users(id) ON DELETE CASCADE,
  device_token text NOT NULL,
  status text NOT NULL DEFAULT 'sending'
    CHECK (status IN ('sending', 'delivered', 'failed', 'invalid_token')),
  apns_id text,
  reason text,
  attempts integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kind, event_id, ref, user_id, device_token)
);

-- Rows still in flight, for the lease check and the safety net.
CREATE INDEX push_deliveries_sending ON momento.push_deliveries (event_id, updated_at)
  WHERE status = 'sending';
CREATE INDEX push_deliveries_user ON momento.push_deliveries (user_id);

CREATE TABLE momento.reveals (
  event_id uuid PRIMARY KEY REFERENCES public.events(id) ON DELETE CASCADE,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  member_count integer NOT NULL DEFAULT 0,
  photo_count bigint NOT NULL DEFAULT 0
);

CREATE TABLE momento.announced_photos (
  photo_id uuid PRIMARY KEY REFERENCES public.photos(id) ON DELETE CASCADE,
  event_id uuid NOT NULL REFERENCES public.events(id) ON DELETE CASCADE,
  announced_at timestamptz NOT NULL DEFAULT now()
);

-- The safety net reads the events released in the last day, every minute.
CREATE INDEX idx_events_release ON public.events (release_at) WHERE NOT is_deleted;

REVOKE ALL ON momento.push_deliveries, momento.reveals, momento.announced_photos
  FROM PUBLIC, anon, authenticated;
