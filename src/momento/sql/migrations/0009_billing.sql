-- BILLING: premium through RevenueCat. Where premium comes from, kept by the server alone.
--
-- public.events.is_premium stays the one column the rest of the server reads (photo limits,
-- cleanup). It is derived from the tables below and recomputed in the same transaction that
-- changes them (private.refresh_event_premium / private.refresh_creator_premium):
--
--   an event is premium  <=>  it has a purchase that is not refunded
--                             OR its creator holds an active host entitlement that was
--                                already active when the event was created
--
-- * momento.premium_purchases: one store transaction each, tied to at most one event (a
--   transaction can never serve two events; an event may have several, e.g. a refunded one
--   and the one bought again). Written by POST /v1/events/{id}/premium after RevenueCat's REST
--   API confirmed the transaction, and by webhooks (a purchase seen before the app verified
--   it, a refund). A refund (CANCELLATION with cancel_reason CUSTOMER_SUPPORT) takes premium
--   away; a purchase does not expire otherwise.
-- * momento.host_entitlements: the host subscription (the configured entitlement) per user.
--   Active while expires_at is null (lifetime) or in the future. active_since is when the
--   current unbroken period began (the store's purchase time, so an event created between the
--   purchase and the webhook's arrival counts). Events created during the current period are
--   premium while it lasts; when it ends (EXPIRATION, a refund, or expires_at passing, which
--   private.refresh_expired_entitlements() picks up) they fall back to their own purchases.
-- * momento.revenuecat_events: every webhook delivery, stored by event id (a retry is a no-op)
--   and applied later, in event-timestamp order, by the billing job.
--
-- Ordering: webhooks arrive out of order. Each purchase and entitlement keeps the
-- event_timestamp_ms of the last event applied to it; an event that is not newer changes
-- nothing (it is still stored and marked processed).
--
-- Nothing here is readable or writable by users: the momento schema is closed to them, the
-- functions are granted to nobody, and users have no grant on events.is_premium.

CREATE TABLE momento.revenuecat_events (
  id text PRIMARY KEY,
  type text NOT NULL,
  app_user_id text,
  event_timestamp_ms bigint NOT NULL,
  body jsonb NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  processed_at timestamptz,
  -- What applying it did: applied, stale (an older event than one already applied), test,
  -- ignored (a type or product premium does not depend on), unknown_user, failed.
  outcome text,
  error text
);

CREATE INDEX revenuecat_events_pending ON momento.revenuecat_events (event_timestamp_ms, id)
  WHERE processed_at IS NULL;

CREATE TABLE momento.premium_purchases (
  transaction_id text PRIMARY KEY,
  -- The event it made premium; null until the app verifies it (POST /v1/events/{id}/premium).
  -- Kept (set null) if the event row is ever removed: the transaction stays used.
  event_id uuid REFERENCES public.events(id) ON DELETE SET NULL,
  -- The Momento user it belongs to, when known (not a foreign key: purchases outlive accounts
  -- in the books, and RevenueCat may name users we never saw).
  user_id uuid,
  app_user_id text,
  product_id text NOT NULL,
  purchased_at timestamptz,
  price numeric,
  currency text,
  refunded_at timestamptz,
  source text NOT NULL CHECK (source IN ('verify', 'webhook')),
  -- event_timestamp_ms of the last webhook applied; null when only verification wrote it.
  last_event_ts_ms bigint,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX premium_purchases_event ON momento.premium_purchases (event_id)
  WHERE event_id IS NOT NULL;

CREATE TABLE momento.host_entitlements (
  user_id uuid NOT NULL,
  entitlement text NOT NULL,
  active_since timestamptz NOT NULL,
  expires_at timestamptz,
  -- The subscriber turned auto-renew off (a plain CANCELLATION): still active until expires_at.
  unsubscribed_at timestamptz,
  last_event_ts_ms bigint NOT NULL,
  -- Whether the events were last refreshed while this was active; lets the sweep find
  -- entitlements that ran out without a webhook saying so.
  premium_applied boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, entitlement)
);

CREATE INDEX host_entitlements_to_sweep ON momento.host_entitlements (expires_at)
  WHERE premium_applied;

REVOKE ALL ON momento.revenuecat_events, momento.premium_purchases, momento.host_entitlements
  FROM PUBLIC, anon, authenticated;
-- No policies: even a grant made by mistake later would show users nothing.
ALTER TABLE momento.revenuecat_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE momento.premium_purchases ENABLE ROW LEVEL SECURITY;
ALTER TABLE momento.host_entitlements ENABLE ROW LEVEL SECURITY;

-- Does the creator's host entitlement cover an event created at p_created (now)?
CREATE FUNCTION private.host_covers(p_creator uuid, p_created timestamptz)
RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
  SELECT EXISTS (
    SELECT 1 FROM momento.host_entitlements h
    WHERE h.user_id = p_creator
      AND h.active_since <= p_created
      AND (h.expires_at IS NULL OR h.expires_at > now())
  )
$$;

-- Should this event be premium, from the billing tables alone?
CREATE FUNCTION private.event_premium_state(p_event uuid, p_creator uuid, p_created timestamptz)
RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
  SELECT EXISTS (
      SELECT 1 FROM momento.premium_purchases p
      WHERE p.event_id = p_event AND p.refunded_at IS NULL
    )
    OR private.host_covers(p_creator, p_created)
$$;

-- Bring one event's is_premium in line with the billing tables; returns the new value.
CREATE FUNCTION private.refresh_event_premium(p_event uuid) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  state boolean;
BEGIN
  UPDATE public.events e
  SET is_premium = private.event_premium_state(e.id, e.creator_id, e.created_at)
  WHERE e.id = p_event
  RETURNING e.is_premium INTO state;
  RETURN coalesce(state, false);
END
$$;

-- The same for every event a user created (after their host entitlement changed); returns how
-- many events changed. Deleted events are left as they are.
CREATE FUNCTION private.refresh_creator_premium(p_user uuid) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  changed integer;
BEGIN
  UPDATE public.events e
  SET is_premium = private.event_premium_state(e.id, e.creator_id, e.created_at)
  WHERE e.creator_id = p_user
    AND NOT coalesce(e.is_deleted, false)
    AND coalesce(e.is_premium, false)
        IS DISTINCT FROM private.event_premium_state(e.id, e.creator_id, e.created_at);
  GET DIAGNOSTICS changed = ROW_COUNT;
  UPDATE momento.host_entitlements h
  SET premium_applied = (h.expires_at IS NULL OR h.expires_at > now())
  WHERE h.user_id = p_user;
  RETURN changed;
END
$$;

-- Entitlements that ran out since their events were last refreshed (no EXPIRATION webhook
-- yet, or none coming): refresh their holders' events. Returns how many users were refreshed.
CREATE FUNCTION private.refresh_expired_entitlements() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  holder uuid;
  n integer := 0;
BEGIN
  FOR holder IN
    SELECT DISTINCT h.user_id FROM momento.host_entitlements h
    WHERE h.premium_applied AND h.expires_at IS NOT NULL AND h.expires_at <= now()
  LOOP
    PERFORM private.refresh_creator_premium(holder);
    n := n + 1;
  END LOOP;
  RETURN n;
END
$$;

-- A new event of a host with an active entitlement is premium from the start. The trigger
-- sets the column itself (users cannot write it); it never turns premium off.
CREATE FUNCTION private.premium_for_host_events() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
  IF NOT coalesce(NEW.is_premium, false)
     AND private.host_covers(NEW.creator_id, coalesce(NEW.created_at, now())) THEN
    NEW.is_premium := true;
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER premium_for_host_events
  BEFORE INSERT ON public.events
  FOR EACH ROW EXECUTE FUNCTION private.premium_for_host_events();

REVOKE ALL ON FUNCTION private.host_covers(uuid, timestamptz),
  private.event_premium_state(uuid, uuid, timestamptz), private.refresh_event_premium(uuid),
  private.refresh_creator_premium(uuid), private.refresh_expired_entitlements(),
  private.premium_for_host_events()
  FROM PUBLIC;
