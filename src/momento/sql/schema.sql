-- GENERATED FILE, DO NOT EDIT: the schema as migrations 0001 to 0029 leave it.
--
-- Regenerate with `make schema` (python -m momento.db.snapshot): a fresh embedded PostgreSQL,
-- every migration in src/momento/sql/migrations applied, then
--     pg_dump --schema-only --no-owner --no-tablespaces
-- with the server's own pg_dump, less its version banner and session settings (see
-- momento/db/snapshot.py). The schema changes through a new migration only; then run
-- `make schema` and commit this file with it: tests/test_schema.py fails until they agree.
--
-- Read it for what a table, function or policy is now; the migrations say why. It is a
-- reference, not a script: databases are made by the migrations. In pg_dump's order (types,
-- functions and tables, then constraints, indexes, triggers, policies, privileges), each
-- object under a `-- Name: <name>; Type: <kind>` heading.

--
-- Name: auth; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA auth;


--
-- Name: momento; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA momento;


--
-- Name: private; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA private;


--
-- Name: procrastinate_job_event_type; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.procrastinate_job_event_type AS ENUM (
    'deferred',
    'started',
    'deferred_for_retry',
    'failed',
    'succeeded',
    'cancelled',
    'abort_requested',
    'aborted',
    'scheduled',
    'retried'
);


--
-- Name: procrastinate_job_status; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.procrastinate_job_status AS ENUM (
    'todo',
    'doing',
    'succeeded',
    'failed',
    'cancelled',
    'aborting',
    'aborted'
);


--
-- Name: procrastinate_job_to_defer_v1; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.procrastinate_job_to_defer_v1 AS (
	queue_name character varying,
	task_name character varying,
	priority integer,
	lock text,
	queueing_lock text,
	args jsonb,
	scheduled_at timestamp with time zone
);


--
-- Name: email(); Type: FUNCTION; Schema: auth; Owner: -
--

CREATE FUNCTION auth.email() RETURNS text
    LANGUAGE sql STABLE
    AS $$
  SELECT coalesce(
    nullif(current_setting('request.jwt.claim.email', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
  )::text
$$;


--
-- Name: jwt(); Type: FUNCTION; Schema: auth; Owner: -
--

CREATE FUNCTION auth.jwt() RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
  SELECT coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;


--
-- Name: role(); Type: FUNCTION; Schema: auth; Owner: -
--

CREATE FUNCTION auth.role() RETURNS text
    LANGUAGE sql STABLE
    AS $$
  SELECT coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;


--
-- Name: uid(); Type: FUNCTION; Schema: auth; Owner: -
--

CREATE FUNCTION auth.uid() RETURNS uuid
    LANGUAGE sql STABLE
    AS $$
  SELECT coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;


--
-- Name: feed_page(text, uuid, timestamp with time zone, uuid, integer); Type: FUNCTION; Schema: momento; Owner: -
--

CREATE FUNCTION momento.feed_page(p_claims text, p_event uuid, p_after_ts timestamp with time zone, p_after_id uuid, p_limit integer) RETURNS TABLE(revealed boolean, total_count bigint, id uuid, user_id uuid, username text, captured_at timestamp with time zone, width integer, height integer, storage_path text, blurhash text, like_count bigint, liked_by_me boolean)
    LANGUAGE plpgsql
    AS $$
BEGIN
  PERFORM set_config('role', 'authenticated', true),
    set_config('request.jwt.claims', p_claims, true),
    set_config('plan_cache_mode', 'force_generic_plan', true);
  RETURN QUERY
  WITH ev AS (
    SELECT e.id, e.release_at <= now() AS revealed,
      (SELECT c.photo_count FROM public.event_photo_counts(ARRAY[e.id]) c) AS total_count
    FROM public.events e WHERE e.id = p_event
  ), page AS (
    SELECT p.id, p.user_id, p.username, p.captured_at, p.width, p.height, p.storage_path,
      p.blurhash, p.like_count
    FROM public.photos p
    WHERE p.event_id = (SELECT ev.id FROM ev)
      AND p.upload_status = 'uploaded'
      AND (p.captured_at, p.id) > (p_after_ts, p_after_id)
    ORDER BY p.captured_at, p.id
    LIMIT p_limit
  ), mine AS (
    SELECT l.photo_id FROM public.photo_likes l
    WHERE l.user_id = (SELECT auth.uid()) AND l.photo_id IN (SELECT page.id FROM page)
  )
  SELECT ev.revealed, ev.total_count,
    page.id, page.user_id, page.username, page.captured_at, page.width, page.height,
    page.storage_path, page.blurhash, page.like_count::bigint,
    mine.photo_id IS NOT NULL
  FROM ev
  LEFT JOIN page ON true
  LEFT JOIN mine ON mine.photo_id = page.id
  ORDER BY page.captured_at, page.id;
END
$$;


--
-- Name: liked_page(text, uuid, timestamp with time zone, uuid, integer); Type: FUNCTION; Schema: momento; Owner: -
--

CREATE FUNCTION momento.liked_page(p_claims text, p_event uuid, p_before_ts timestamp with time zone, p_before_id uuid, p_limit integer) RETURNS TABLE(id uuid, user_id uuid, username text, captured_at timestamp with time zone, width integer, height integer, storage_path text, liked_at timestamp with time zone, blurhash text, like_count bigint, liked_by_me boolean)
    LANGUAGE plpgsql
    AS $$
BEGIN
  PERFORM set_config('role', 'authenticated', true),
    set_config('request.jwt.claims', p_claims, true),
    set_config('plan_cache_mode', 'force_generic_plan', true);
  RETURN QUERY
  WITH ev AS (
    SELECT e.id FROM public.events e WHERE e.id = p_event
  ), page AS (
    SELECT p.id, p.user_id, p.username, p.captured_at, p.width, p.height, p.storage_path,
      p.blurhash, p.like_count, l.created_at AS liked_at
    FROM public.photo_likes l
    JOIN public.photos p ON p.id = l.photo_id
    WHERE l.user_id = (SELECT auth.uid())
      AND p.event_id = (SELECT ev.id FROM ev)
      AND p.upload_status = 'uploaded'
      AND (l.created_at, l.photo_id) < (p_before_ts, p_before_id)
    ORDER BY l.created_at DESC, l.photo_id DESC
    LIMIT p_limit
  )
  SELECT page.id, page.user_id, page.username, page.captured_at, page.width, page.height,
    page.storage_path, page.liked_at, page.blurhash, page.like_count::bigint,
    page.id IS NOT NULL
  FROM ev
  LEFT JOIN page ON true
  ORDER BY page.liked_at DESC, page.id DESC;
END
$$;


--
-- Name: report_photo(text, uuid, text, integer); Type: FUNCTION; Schema: momento; Owner: -
--

CREATE FUNCTION momento.report_photo(p_claims text, p_photo uuid, p_reason text, p_reports_to_hide integer) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
DECLARE
  uid uuid;
  target record;
  already boolean;
  anonymous boolean;
  counted bigint;
BEGIN
  PERFORM set_config('request.jwt.claims', p_claims, true);
  uid := auth.uid();
  IF uid IS NULL THEN
    RAISE EXCEPTION 'not signed in' USING ERRCODE = '42501';
  END IF;
  SELECT p.id, p.user_id, p.is_flagged, e.creator_id INTO target
  FROM public.photos p JOIN public.events e ON e.id = p.event_id
  WHERE p.id = p_photo
    AND p.upload_status = 'uploaded'
    AND p.event_id IN (SELECT private.my_revealed_event_ids())
  FOR UPDATE OF p;
  IF target.id IS NULL THEN
    RETURN false;
  END IF;
  already := EXISTS (
    SELECT 1 FROM momento.photo_reports r WHERE r.photo_id = p_photo AND r.reporter_id = uid
  );
  IF already THEN
    RETURN true;
  END IF;
  IF target.is_flagged IS TRUE AND target.creator_id <> uid AND target.user_id <> uid THEN
    -- Hidden for everyone: not visible to this caller any more.
    RETURN false;
  END IF;
  SELECT coalesce(u.is_anonymous, false) INTO anonymous FROM auth.users u WHERE u.id = uid;
  INSERT INTO momento.photo_reports (photo_id, reporter_id, by_creator, by_anonymous, reason)
  VALUES (p_photo, uid, target.creator_id = uid, coalesce(anonymous, false),
    nullif(btrim(p_reason), ''));
  IF target.is_flagged IS TRUE THEN
    RETURN true;
  END IF;
  IF target.creator_id = uid THEN
    UPDATE public.photos SET is_flagged = true WHERE id = p_photo;
    RETURN true;
  END IF;
  SELECT count(*) INTO counted FROM momento.photo_reports r
  WHERE r.photo_id = p_photo AND NOT r.by_anonymous AND NOT r.by_creator
    AND r.dismissed_at IS NULL;
  IF counted >= greatest(p_reports_to_hide, 1) THEN
    UPDATE public.photos SET is_flagged = true WHERE id = p_photo;
  END IF;
  RETURN true;
END
$$;


--
-- Name: add_creator_as_member(); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.add_creator_as_member() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
BEGIN
  INSERT INTO public.event_members (event_id, user_id) VALUES (NEW.id, NEW.creator_id);
  RETURN NEW;
END
$$;


--
-- Name: add_event_photo_totals(); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.add_event_photo_totals() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO momento.event_photo_totals AS t (event_id, photo_count)
    SELECT n.event_id, count(*) FROM new_rows n
    WHERE n.upload_status IS DISTINCT FROM 'failed' AND NOT coalesce(n.is_flagged, false)
    GROUP BY n.event_id ORDER BY n.event_id
    ON CONFLICT (event_id) DO UPDATE SET photo_count = t.photo_count + excluded.photo_count;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO momento.event_photo_totals AS t (event_id, photo_count)
    SELECT d.event_id, sum(d.n) FROM (
      SELECT n.event_id, 1 AS n FROM new_rows n
      WHERE n.upload_status IS DISTINCT FROM 'failed' AND NOT coalesce(n.is_flagged, false)
      UNION ALL
      SELECT o.event_id, -1 FROM old_rows o
      WHERE o.upload_status IS DISTINCT FROM 'failed' AND NOT coalesce(o.is_flagged, false)
    ) d
    GROUP BY d.event_id HAVING sum(d.n) <> 0 ORDER BY d.event_id
    ON CONFLICT (event_id) DO UPDATE SET photo_count = t.photo_count + excluded.photo_count;
  ELSIF TG_OP = 'DELETE' THEN
    -- An event being deleted takes its counter with it (cascade): nothing left to update.
    UPDATE momento.event_photo_totals t SET photo_count = t.photo_count - d.n
    FROM (
      SELECT o.event_id, count(*) AS n FROM old_rows o
      WHERE o.upload_status IS DISTINCT FROM 'failed' AND NOT coalesce(o.is_flagged, false)
      GROUP BY o.event_id ORDER BY o.event_id
    ) d
    WHERE t.event_id = d.event_id;
  ELSE  -- TRUNCATE
    DELETE FROM momento.event_photo_totals;
  END IF;
  RETURN NULL;
END
$$;


--
-- Name: announce_deleted_files(text[]); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.announce_deleted_files(p_prefixes text[]) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
  payload text;
BEGIN
  IF coalesce(cardinality(p_prefixes), 0) = 0 THEN
    RETURN;
  END IF;
  INSERT INTO momento.deleted_files AS d (prefix)
  SELECT DISTINCT unnest(p_prefixes) ORDER BY 1
  ON CONFLICT (prefix) DO UPDATE SET deleted_at = now();
  payload := array_to_string(p_prefixes, ' ');
  IF octet_length(payload) > 7000 THEN
    payload := '*';
  END IF;
  PERFORM pg_notify('momento_deleted_files', payload);
END
$$;


--
-- Name: count_likes(); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.count_likes() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE public.photos p SET like_count = p.like_count + d.n
    FROM (SELECT photo_id, count(*) AS n FROM new_likes GROUP BY photo_id) d
    WHERE p.id = d.photo_id;
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE public.photos p SET like_count = p.like_count - d.n
    FROM (SELECT photo_id, count(*) AS n FROM old_likes GROUP BY photo_id) d
    WHERE p.id = d.photo_id;
  ELSE
    UPDATE public.photos p SET like_count = p.like_count + d.n
    FROM (
      SELECT photo_id, sum(n) AS n FROM (
        SELECT photo_id, 1 AS n FROM new_likes
        UNION ALL
        SELECT photo_id, -1 FROM old_likes
      ) x GROUP BY photo_id
    ) d
    WHERE p.id = d.photo_id AND d.n <> 0;
  END IF;
  RETURN NULL;
END
$$;


--
-- Name: delete_account(uuid); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.delete_account(p_user uuid) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
BEGIN
  -- Lock the account first: a request of the same user running concurrently (a join, a new
  -- event) takes a KEY SHARE lock on this row through its foreign key, so it either finishes
  -- before us (and its rows are deleted below) or waits and then fails its foreign key check.
  PERFORM 1 FROM auth.users WHERE id = p_user FOR UPDATE;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  DELETE FROM public.photo_likes WHERE user_id = p_user;
  DELETE FROM public.photos WHERE user_id = p_user;
  DELETE FROM public.event_members WHERE user_id = p_user;
  DELETE FROM public.events WHERE creator_id = p_user;
  DELETE FROM public.profiles WHERE id = p_user;
  DELETE FROM auth.refresh_tokens WHERE user_id = p_user;
  DELETE FROM auth.sessions WHERE user_id = p_user;
  DELETE FROM auth.users WHERE id = p_user;
  RETURN true;
END
$$;


--
-- Name: event_premium_state(uuid, uuid, timestamp with time zone); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.event_premium_state(p_event uuid, p_creator uuid, p_created timestamp with time zone) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  SELECT EXISTS (
      SELECT 1 FROM momento.premium_purchases p
      WHERE p.event_id = p_event AND p.refunded_at IS NULL
    )
    OR private.host_covers(p_creator, p_created)
$$;


--
-- Name: events_deleted(); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.events_deleted() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM private.announce_deleted_files(
      ARRAY(SELECT 'events/' || o.id::text || '/' FROM old_rows o ORDER BY 1)
    );
    RETURN NULL;
  END IF;
  PERFORM private.announce_deleted_files(ARRAY['events/' || NEW.id::text || '/']);
  RETURN NULL;
END
$$;


--
-- Name: guard_event_update(); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.guard_event_update() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
BEGIN
  IF NEW.release_at IS DISTINCT FROM OLD.release_at AND OLD.release_at <= now() THEN
    RAISE EXCEPTION 'release_at cannot change once the event is revealed'
      USING ERRCODE = 'MO001', HINT = 'release_locked';
  END IF;
  RETURN NEW;
END
$$;


--
-- Name: handle_new_user(); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.handle_new_user() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $_$
DECLARE
  wanted text := lower(NEW.raw_user_meta_data ->> 'username');
BEGIN
  IF wanted IS NULL OR wanted !~ '^[a-z0-9_.]{3,30}$' THEN
    wanted := 'user_' || substr(replace(NEW.id::text, '-', ''), 1, 12);
  END IF;
  INSERT INTO public.profiles (id, username, display_name)
  VALUES (NEW.id, wanted, nullif(NEW.raw_user_meta_data ->> 'display_name', ''));
  RETURN NEW;
END
$_$;


--
-- Name: host_covers(uuid, timestamp with time zone); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.host_covers(p_creator uuid, p_created timestamp with time zone) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  SELECT EXISTS (
    SELECT 1 FROM momento.host_entitlements h
    WHERE h.user_id = p_creator
      AND h.active_since <= p_created
      AND (h.expires_at IS NULL OR h.expires_at > now())
  )
$$;


--
-- Name: is_event_creator(uuid); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.is_event_creator(p_event uuid) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  SELECT EXISTS (
    SELECT 1 FROM public.events WHERE id = p_event AND creator_id = auth.uid()
  )
$$;


--
-- Name: is_guest(); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.is_guest() RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  SELECT coalesce((SELECT u.is_anonymous FROM auth.users u WHERE u.id = auth.uid()), false)
$$;


--
-- Name: my_event_ids(); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.my_event_ids() RETURNS SETOF uuid
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
BEGIN
  RETURN QUERY
  SELECT m.event_id
  FROM public.event_members m
  JOIN public.events e ON e.id = m.event_id
  WHERE m.user_id = auth.uid() AND NOT e.is_deleted;
END
$$;


--
-- Name: my_photo_event_ids(); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.my_photo_event_ids() RETURNS SETOF uuid
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
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


--
-- Name: my_reported_photo_ids(); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.my_reported_photo_ids() RETURNS SETOF uuid
    LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 10
    SET search_path TO ''
    AS $$
BEGIN
  RETURN QUERY
  SELECT r.photo_id FROM momento.photo_reports r WHERE r.reporter_id = auth.uid();
END
$$;


--
-- Name: my_revealed_event_ids(); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.my_revealed_event_ids() RETURNS SETOF uuid
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
BEGIN
  RETURN QUERY
  SELECT m.event_id
  FROM public.event_members m
  JOIN public.events e ON e.id = m.event_id
  WHERE m.user_id = auth.uid() AND NOT e.is_deleted AND e.release_at <= now();
END
$$;


--
-- Name: new_join_code(); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.new_join_code() RETURNS text
    LANGUAGE plpgsql
    SET search_path TO ''
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


--
-- Name: photos_deleted(); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.photos_deleted() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
BEGIN
  PERFORM private.announce_deleted_files(
    ARRAY(SELECT o.storage_path || '/' FROM old_rows o ORDER BY 1)
  );
  RETURN NULL;
END
$$;


--
-- Name: premium_for_host_events(); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.premium_for_host_events() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
BEGIN
  IF NOT coalesce(NEW.is_premium, false)
     AND private.host_covers(NEW.creator_id, coalesce(NEW.created_at, now())) THEN
    NEW.is_premium := true;
  END IF;
  RETURN NEW;
END
$$;


--
-- Name: queue_apple_revoke(); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.queue_apple_revoke() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM auth.apple_tokens WHERE user_id = OLD.id) THEN
    INSERT INTO public.procrastinate_jobs (queue_name, task_name, queueing_lock, args)
    VALUES ('auth', 'auth:revoke_apple_token', 'auth:revoke_apple_token:' || OLD.id,
            jsonb_build_object('user_id', OLD.id::text))
    ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END
$$;


--
-- Name: queue_purge_event(uuid); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.queue_purge_event(p_event uuid) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
  INSERT INTO public.procrastinate_jobs (queue_name, task_name, queueing_lock, args)
  VALUES ('maintenance', 'cleanup:purge_event', 'cleanup:purge_event:' || p_event::text,
    jsonb_build_object('event_id', p_event::text))
  ON CONFLICT DO NOTHING;
END
$$;


--
-- Name: realtime_events(); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.realtime_events() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
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


--
-- Name: realtime_members(); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.realtime_members() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
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


--
-- Name: realtime_photo_deleting(); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.realtime_photo_deleting() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
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


--
-- Name: realtime_photos(); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.realtime_photos() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
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


--
-- Name: realtime_sessions(); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.realtime_sessions() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
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


--
-- Name: record_change(uuid, text, uuid, uuid, text, uuid[]); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.record_change(p_event uuid, p_kind text, p_photo uuid, p_user uuid, p_reason text, p_reporters uuid[] DEFAULT NULL::uuid[]) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
BEGIN
  INSERT INTO momento.changes (event_id, kind, photo_id, user_id, actor_id, reason, reporters)
  VALUES (p_event, p_kind, p_photo, p_user, auth.uid(), p_reason, p_reporters);
  PERFORM pg_notify('momento_changes', p_event::text);
END
$$;


--
-- Name: record_file_purges(); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.record_file_purges() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
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


--
-- Name: refresh_creator_premium(uuid); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.refresh_creator_premium(p_user uuid) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
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


--
-- Name: refresh_event_premium(uuid); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.refresh_event_premium(p_event uuid) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
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


--
-- Name: refresh_expired_entitlements(); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.refresh_expired_entitlements() RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
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


--
-- Name: reset_like_counts(); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.reset_like_counts() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
BEGIN
  UPDATE public.photos SET like_count = 0 WHERE like_count <> 0;
  RETURN NULL;
END
$$;


--
-- Name: set_photo_username(); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.set_photo_username() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
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


--
-- Name: sync_photo_usernames(); Type: FUNCTION; Schema: private; Owner: -
--

CREATE FUNCTION private.sync_photo_usernames() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
BEGIN
  UPDATE public.photos SET username = NEW.username
  WHERE user_id = NEW.id AND username IS DISTINCT FROM NEW.username;
  RETURN NULL;
END
$$;


--
-- Name: delete_event(uuid); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.delete_event(p_event uuid) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
BEGIN
  UPDATE public.events SET is_deleted = true
  WHERE id = p_event AND creator_id = auth.uid() AND NOT is_deleted;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  PERFORM private.queue_purge_event(p_event);
  RETURN true;
END
$$;


--
-- Name: event_photo_counts(uuid[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.event_photo_counts(p_events uuid[]) RETURNS TABLE(event_id uuid, photo_count bigint)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
BEGIN
  RETURN QUERY
  SELECT ev.id,
    coalesce((SELECT t.photo_count FROM momento.event_photo_totals t WHERE t.event_id = ev.id), 0)
  FROM (SELECT DISTINCT unnest(p_events) AS id) ev
  WHERE ev.id IN (SELECT private.my_event_ids());
END
$$;


--
-- Name: event_reports(uuid, timestamp with time zone, uuid, integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.event_reports(p_event uuid, p_after_ts timestamp with time zone, p_after_id uuid, p_limit integer) RETURNS TABLE(id uuid, user_id uuid, username text, captured_at timestamp with time zone, storage_path text, hidden boolean, hidden_by_host boolean, reports bigint, counted_reports bigint, last_report_at timestamp with time zone, reasons text[])
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
BEGIN
  RETURN QUERY
  WITH ev AS (
    SELECT e.id FROM public.events e
    WHERE e.id = p_event AND e.creator_id = auth.uid() AND NOT e.is_deleted
  ), page AS (
    SELECT p.id, p.user_id, p.username, p.captured_at, p.storage_path,
      coalesce(p.is_flagged, false) AS hidden, s.*
    FROM public.photos p
    CROSS JOIN LATERAL (
      SELECT coalesce(bool_or(r.by_creator), false) AS hidden_by_host,
        count(*) FILTER (WHERE NOT r.by_creator AND r.dismissed_at IS NULL) AS reports,
        count(*) FILTER (
          WHERE NOT r.by_creator AND r.dismissed_at IS NULL AND NOT r.by_anonymous
        ) AS counted_reports,
        max(r.created_at) FILTER (WHERE r.dismissed_at IS NULL) AS last_report_at,
        array_remove(
          array_agg(r.reason ORDER BY r.created_at) FILTER (WHERE r.dismissed_at IS NULL),
          NULL
        ) AS reasons
      FROM momento.photo_reports r WHERE r.photo_id = p.id
    ) s
    WHERE p.event_id = (SELECT ev.id FROM ev)
      AND (p.captured_at, p.id) > (p_after_ts, p_after_id)
      AND (p.is_flagged OR s.reports > 0)
    ORDER BY p.captured_at, p.id
    LIMIT p_limit
  )
  SELECT page.id, page.user_id, page.username, page.captured_at, page.storage_path,
    page.hidden, page.hidden_by_host, page.reports, page.counted_reports,
    page.last_report_at, coalesce(page.reasons, '{}')
  FROM ev LEFT JOIN page ON true
  ORDER BY page.captured_at, page.id;
END
$$;


--
-- Name: hide_photo(uuid); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.hide_photo(p_photo uuid) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
  uid uuid := auth.uid();
  target uuid;
BEGIN
  IF uid IS NULL THEN
    RETURN false;
  END IF;
  SELECT p.id INTO target
  FROM public.photos p JOIN public.events e ON e.id = p.event_id
  WHERE p.id = p_photo AND e.creator_id = uid AND NOT e.is_deleted
  FOR UPDATE OF p;
  IF target IS NULL THEN
    RETURN false;
  END IF;
  INSERT INTO momento.photo_reports (photo_id, reporter_id, by_creator)
  VALUES (p_photo, uid, true)
  ON CONFLICT (photo_id, reporter_id) DO UPDATE SET by_creator = true, dismissed_at = NULL;
  UPDATE public.photos SET is_flagged = true WHERE id = p_photo AND is_flagged IS NOT TRUE;
  RETURN true;
END
$$;


--
-- Name: join_event(text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.join_event(p_code text) RETURNS TABLE(event_id uuid, joined boolean)
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


--
-- Name: leave_event(uuid, boolean); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.leave_event(p_event uuid, p_remove_photos boolean) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
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


--
-- Name: procrastinate_cancel_job_v1(bigint, boolean, boolean); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.procrastinate_cancel_job_v1(job_id bigint, abort boolean, delete_job boolean) RETURNS bigint
    LANGUAGE plpgsql
    AS $$
DECLARE
    _job_id bigint;
BEGIN
    IF delete_job THEN
        DELETE FROM procrastinate_jobs
        WHERE id = job_id AND status = 'todo'
        RETURNING id INTO _job_id;
    END IF;
    IF _job_id IS NULL THEN
        IF abort THEN
            UPDATE procrastinate_jobs
            SET abort_requested = true,
                status = CASE status
                    WHEN 'todo' THEN 'cancelled'::procrastinate_job_status ELSE status
                END
            WHERE id = job_id AND status IN ('todo', 'doing')
            RETURNING id INTO _job_id;
        ELSE
            UPDATE procrastinate_jobs
            SET status = 'cancelled'::procrastinate_job_status
            WHERE id = job_id AND status = 'todo'
            RETURNING id INTO _job_id;
        END IF;
    END IF;
    RETURN _job_id;
END;
$$;


--
-- Name: procrastinate_defer_jobs_v1(public.procrastinate_job_to_defer_v1[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.procrastinate_defer_jobs_v1(jobs public.procrastinate_job_to_defer_v1[]) RETURNS bigint[]
    LANGUAGE plpgsql
    AS $$
DECLARE
    job_ids bigint[];
BEGIN
    WITH inserted_jobs AS (
        INSERT INTO procrastinate_jobs (queue_name, task_name, priority, lock, queueing_lock, args, scheduled_at)
        SELECT (job).queue_name,
               (job).task_name,
               (job).priority,
               (job).lock,
               (job).queueing_lock,
               (job).args,
               (job).scheduled_at
        FROM unnest(jobs) AS job
        RETURNING id
    )
    SELECT array_agg(id) FROM inserted_jobs INTO job_ids;

    RETURN job_ids;
END;
$$;


--
-- Name: procrastinate_defer_periodic_job_v2(character varying, character varying, character varying, character varying, integer, character varying, bigint, jsonb); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.procrastinate_defer_periodic_job_v2(_queue_name character varying, _lock character varying, _queueing_lock character varying, _task_name character varying, _priority integer, _periodic_id character varying, _defer_timestamp bigint, _args jsonb) RETURNS bigint
    LANGUAGE plpgsql
    AS $$
DECLARE
	_job_id bigint;
	_defer_id bigint;
BEGIN
    INSERT
        INTO procrastinate_periodic_defers (task_name, periodic_id, defer_timestamp)
        VALUES (_task_name, _periodic_id, _defer_timestamp)
        ON CONFLICT DO NOTHING
        RETURNING id into _defer_id;

    IF _defer_id IS NULL THEN
        RETURN NULL;
    END IF;

    UPDATE procrastinate_periodic_defers
        SET job_id = (
            SELECT COALESCE((
                SELECT unnest(procrastinate_defer_jobs_v1(
                    ARRAY[
                        ROW(
                            _queue_name,
                            _task_name,
                            _priority,
                            _lock,
                            _queueing_lock,
                            _args,
                            NULL::timestamptz
                        )
                    ]::procrastinate_job_to_defer_v1[]
                ))
            ), NULL)
        )
        WHERE id = _defer_id
        RETURNING job_id INTO _job_id;

    DELETE
        FROM procrastinate_periodic_defers
        USING (
            SELECT id
            FROM procrastinate_periodic_defers
            WHERE procrastinate_periodic_defers.task_name = _task_name
            AND procrastinate_periodic_defers.periodic_id = _periodic_id
            AND procrastinate_periodic_defers.defer_timestamp < _defer_timestamp
            ORDER BY id
            FOR UPDATE
        ) to_delete
        WHERE procrastinate_periodic_defers.id = to_delete.id;

    RETURN _job_id;
END;
$$;


--
-- Name: procrastinate_jobs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.procrastinate_jobs (
    id bigint NOT NULL,
    queue_name character varying(128) NOT NULL,
    task_name character varying(128) NOT NULL,
    priority integer DEFAULT 0 NOT NULL,
    lock text,
    queueing_lock text,
    args jsonb DEFAULT '{}'::jsonb NOT NULL,
    status public.procrastinate_job_status DEFAULT 'todo'::public.procrastinate_job_status NOT NULL,
    scheduled_at timestamp with time zone,
    attempts integer DEFAULT 0 NOT NULL,
    abort_requested boolean DEFAULT false NOT NULL,
    worker_id bigint,
    CONSTRAINT check_not_todo_abort_requested CHECK ((NOT ((status = 'todo'::public.procrastinate_job_status) AND (abort_requested = true))))
);


--
-- Name: procrastinate_fetch_job_v2(character varying[], bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.procrastinate_fetch_job_v2(target_queue_names character varying[], p_worker_id bigint) RETURNS public.procrastinate_jobs
    LANGUAGE plpgsql
    AS $$
DECLARE
	found_jobs procrastinate_jobs;
BEGIN
    WITH candidate AS (
        SELECT jobs.*
            FROM procrastinate_jobs AS jobs
            WHERE
                -- reject the job if its lock has earlier or higher priority jobs
                NOT EXISTS (
                    SELECT 1
                        FROM procrastinate_jobs AS other_jobs
                        WHERE
                            jobs.lock IS NOT NULL
                            AND other_jobs.lock = jobs.lock
                            AND (
                                -- job with same lock is already running
                                other_jobs.status = 'doing'
                                OR
                                -- job with same lock is waiting and has higher priority (or same priority but was queued first)
                                (
                                    other_jobs.status = 'todo'
                                    AND (
                                        other_jobs.priority > jobs.priority
                                        OR (
                                        other_jobs.priority = jobs.priority
                                        AND other_jobs.id < jobs.id
                                        )
                                    )
                                )
                            )
                )
                AND jobs.status = 'todo'
                AND (target_queue_names IS NULL OR jobs.queue_name = ANY( target_queue_names ))
                AND (jobs.scheduled_at IS NULL OR jobs.scheduled_at <= now())
            ORDER BY jobs.priority DESC, jobs.id ASC LIMIT 1
            FOR UPDATE OF jobs SKIP LOCKED
    )
    UPDATE procrastinate_jobs
        SET status = 'doing', worker_id = p_worker_id
        FROM candidate
        WHERE procrastinate_jobs.id = candidate.id
        RETURNING procrastinate_jobs.* INTO found_jobs;

 RETURN found_jobs;
END;
$$;


--
-- Name: procrastinate_finish_job_v1(bigint, public.procrastinate_job_status, boolean); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.procrastinate_finish_job_v1(job_id bigint, end_status public.procrastinate_job_status, delete_job boolean) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    _job_id bigint;
BEGIN
    IF end_status NOT IN ('succeeded', 'failed', 'aborted') THEN
        RAISE 'End status should be either "succeeded", "failed" or "aborted" (job id: %)', job_id;
    END IF;
    IF delete_job THEN
        DELETE FROM procrastinate_jobs
        WHERE id = job_id AND status IN ('todo', 'doing')
        RETURNING id INTO _job_id;
    ELSE
        UPDATE procrastinate_jobs
        SET status = end_status,
            abort_requested = false,
            attempts = CASE status
                WHEN 'doing' THEN attempts + 1 ELSE attempts
            END
        WHERE id = job_id AND status IN ('todo', 'doing')
        RETURNING id INTO _job_id;
    END IF;
    IF _job_id IS NULL THEN
        RAISE 'Job was not found or not in "doing" or "todo" status (job id: %)', job_id;
    END IF;
END;
$$;


--
-- Name: procrastinate_notify_queue_abort_job_v1(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.procrastinate_notify_queue_abort_job_v1() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    payload TEXT;
BEGIN
    SELECT json_build_object('type', 'abort_job_requested', 'job_id', NEW.id)::text INTO payload;
	PERFORM pg_notify('procrastinate_queue_v1#' || NEW.queue_name, payload);
	PERFORM pg_notify('procrastinate_any_queue_v1', payload);
	RETURN NEW;
END;
$$;


--
-- Name: procrastinate_notify_queue_job_inserted_v1(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.procrastinate_notify_queue_job_inserted_v1() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    payload TEXT;
BEGIN
    SELECT json_build_object('type', 'job_inserted', 'job_id', NEW.id)::text INTO payload;
	PERFORM pg_notify('procrastinate_queue_v1#' || NEW.queue_name, payload);
	PERFORM pg_notify('procrastinate_any_queue_v1', payload);
	RETURN NEW;
END;
$$;


--
-- Name: procrastinate_prune_stalled_workers_v1(double precision); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.procrastinate_prune_stalled_workers_v1(seconds_since_heartbeat double precision) RETURNS TABLE(worker_id bigint)
    LANGUAGE plpgsql
    AS $$
BEGIN
    RETURN QUERY
    DELETE FROM procrastinate_workers
    WHERE last_heartbeat < NOW() - (seconds_since_heartbeat || 'SECOND')::INTERVAL
    RETURNING procrastinate_workers.id;
END;
$$;


--
-- Name: procrastinate_register_worker_v1(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.procrastinate_register_worker_v1() RETURNS TABLE(worker_id bigint)
    LANGUAGE plpgsql
    AS $$
BEGIN
    RETURN QUERY
    INSERT INTO procrastinate_workers DEFAULT VALUES
    RETURNING procrastinate_workers.id;
END;
$$;


--
-- Name: procrastinate_retry_job_v1(bigint, timestamp with time zone, integer, character varying, character varying); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.procrastinate_retry_job_v1(job_id bigint, retry_at timestamp with time zone, new_priority integer, new_queue_name character varying, new_lock character varying) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    _job_id bigint;
    _abort_requested boolean;
BEGIN
    SELECT abort_requested FROM procrastinate_jobs
    WHERE id = job_id AND status = 'doing'
    FOR UPDATE
    INTO _abort_requested;
    IF _abort_requested THEN
        UPDATE procrastinate_jobs
        SET status = 'failed'::procrastinate_job_status
        WHERE id = job_id AND status = 'doing'
        RETURNING id INTO _job_id;
    ELSE
        UPDATE procrastinate_jobs
        SET status = 'todo'::procrastinate_job_status,
            attempts = attempts + 1,
            scheduled_at = retry_at,
            priority = COALESCE(new_priority, priority),
            queue_name = COALESCE(new_queue_name, queue_name),
            lock = COALESCE(new_lock, lock)
        WHERE id = job_id AND status = 'doing'
        RETURNING id INTO _job_id;
    END IF;

    IF _job_id IS NULL THEN
        RAISE 'Job was not found or not in "doing" status (job id: %)', job_id;
    END IF;
END;
$$;


--
-- Name: procrastinate_retry_job_v2(bigint, timestamp with time zone, integer, character varying, character varying); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.procrastinate_retry_job_v2(job_id bigint, retry_at timestamp with time zone, new_priority integer, new_queue_name character varying, new_lock character varying) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    _job_id bigint;
    _abort_requested boolean;
    _current_status procrastinate_job_status;
BEGIN
    SELECT status, abort_requested FROM procrastinate_jobs
    WHERE id = job_id AND status IN ('doing', 'failed')
    FOR UPDATE
    INTO _current_status, _abort_requested;
    IF _current_status = 'doing' AND _abort_requested THEN
        UPDATE procrastinate_jobs
        SET status = 'failed'::procrastinate_job_status
        WHERE id = job_id AND status = 'doing'
        RETURNING id INTO _job_id;
    ELSE
        UPDATE procrastinate_jobs
        SET status = 'todo'::procrastinate_job_status,
            attempts = attempts + 1,
            scheduled_at = retry_at,
            priority = COALESCE(new_priority, priority),
            queue_name = COALESCE(new_queue_name, queue_name),
            lock = COALESCE(new_lock, lock)
        WHERE id = job_id AND status IN ('doing', 'failed')
        RETURNING id INTO _job_id;
    END IF;

    IF _job_id IS NULL THEN
        RAISE 'Job was not found or has an invalid status to retry (job id: %)', job_id;
    END IF;

END;
$$;


--
-- Name: procrastinate_trigger_abort_requested_events_procedure_v1(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.procrastinate_trigger_abort_requested_events_procedure_v1() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO procrastinate_events(job_id, type)
        VALUES (NEW.id, 'abort_requested'::procrastinate_job_event_type);
    RETURN NEW;
END;
$$;


--
-- Name: procrastinate_trigger_function_scheduled_events_v1(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.procrastinate_trigger_function_scheduled_events_v1() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO procrastinate_events(job_id, type, at)
        VALUES (NEW.id, 'scheduled'::procrastinate_job_event_type, NEW.scheduled_at);

	RETURN NEW;
END;
$$;


--
-- Name: procrastinate_trigger_function_status_events_insert_v1(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.procrastinate_trigger_function_status_events_insert_v1() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO procrastinate_events(job_id, type)
        VALUES (NEW.id, 'deferred'::procrastinate_job_event_type);
	RETURN NEW;
END;
$$;


--
-- Name: procrastinate_trigger_function_status_events_update_v1(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.procrastinate_trigger_function_status_events_update_v1() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    WITH t AS (
        SELECT CASE
            WHEN OLD.status = 'todo'::procrastinate_job_status
                AND NEW.status = 'doing'::procrastinate_job_status
                THEN 'started'::procrastinate_job_event_type
            WHEN OLD.status = 'doing'::procrastinate_job_status
                AND NEW.status = 'todo'::procrastinate_job_status
                THEN 'deferred_for_retry'::procrastinate_job_event_type
            WHEN OLD.status = 'doing'::procrastinate_job_status
                AND NEW.status = 'failed'::procrastinate_job_status
                THEN 'failed'::procrastinate_job_event_type
            WHEN OLD.status = 'doing'::procrastinate_job_status
                AND NEW.status = 'succeeded'::procrastinate_job_status
                THEN 'succeeded'::procrastinate_job_event_type
            WHEN OLD.status = 'todo'::procrastinate_job_status
                AND (
                    NEW.status = 'cancelled'::procrastinate_job_status
                    OR NEW.status = 'failed'::procrastinate_job_status
                    OR NEW.status = 'succeeded'::procrastinate_job_status
                )
                THEN 'cancelled'::procrastinate_job_event_type
            WHEN OLD.status = 'doing'::procrastinate_job_status
                AND NEW.status = 'aborted'::procrastinate_job_status
                THEN 'aborted'::procrastinate_job_event_type
            WHEN OLD.status = 'failed'::procrastinate_job_status
                AND NEW.status = 'todo'::procrastinate_job_status
                THEN 'retried'::procrastinate_job_event_type
            ELSE NULL
        END as event_type
    )
    INSERT INTO procrastinate_events(job_id, type)
        SELECT NEW.id, t.event_type
        FROM t
        WHERE t.event_type IS NOT NULL;
	RETURN NEW;
END;
$$;


--
-- Name: procrastinate_unlink_periodic_defers_v1(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.procrastinate_unlink_periodic_defers_v1() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    UPDATE procrastinate_periodic_defers
    SET job_id = NULL
    WHERE job_id = OLD.id;
    RETURN OLD;
END;
$$;


--
-- Name: procrastinate_unregister_worker_v1(bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.procrastinate_unregister_worker_v1(worker_id bigint) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    DELETE FROM procrastinate_workers
    WHERE id = worker_id;
END;
$$;


--
-- Name: procrastinate_update_heartbeat_v1(bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.procrastinate_update_heartbeat_v1(worker_id bigint) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    UPDATE procrastinate_workers
    SET last_heartbeat = NOW()
    WHERE id = worker_id;
END;
$$;


--
-- Name: restore_photo(uuid); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.restore_photo(p_photo uuid) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
  uid uuid := auth.uid();
  target uuid;
BEGIN
  IF uid IS NULL THEN
    RETURN false;
  END IF;
  SELECT p.id INTO target
  FROM public.photos p JOIN public.events e ON e.id = p.event_id
  WHERE p.id = p_photo AND e.creator_id = uid AND NOT e.is_deleted
  FOR UPDATE OF p;
  IF target IS NULL THEN
    RETURN false;
  END IF;
  DELETE FROM momento.photo_reports WHERE photo_id = p_photo AND by_creator;
  UPDATE momento.photo_reports SET dismissed_at = now()
  WHERE photo_id = p_photo AND dismissed_at IS NULL;
  UPDATE public.photos SET is_flagged = false WHERE id = p_photo AND is_flagged IS NOT FALSE;
  RETURN true;
END
$$;


--
-- Name: retry_photo(uuid, text, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.retry_photo(p_photo uuid, p_type text, p_size bigint) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
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


--
-- Name: rotate_join_code(uuid); Type: FUNCTION; Schema: public; Owner: -
--

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


--
-- Name: apple_tokens; Type: TABLE; Schema: auth; Owner: -
--

CREATE TABLE auth.apple_tokens (
    user_id uuid NOT NULL,
    client_id text NOT NULL,
    token bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: flow_state; Type: TABLE; Schema: auth; Owner: -
--

CREATE TABLE auth.flow_state (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    token_hash text NOT NULL,
    code_challenge text NOT NULL,
    code_challenge_method text NOT NULL,
    authentication_method text NOT NULL,
    auth_code uuid DEFAULT gen_random_uuid() NOT NULL,
    auth_code_issued_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT flow_state_code_challenge_check CHECK (((length(code_challenge) >= 43) AND (length(code_challenge) <= 128))),
    CONSTRAINT flow_state_code_challenge_method_check CHECK ((code_challenge_method = ANY (ARRAY['s256'::text, 'plain'::text])))
);


--
-- Name: identities; Type: TABLE; Schema: auth; Owner: -
--

CREATE TABLE auth.identities (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    provider_id text NOT NULL,
    user_id uuid NOT NULL,
    identity_data jsonb NOT NULL,
    provider text NOT NULL,
    last_sign_in_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    email text GENERATED ALWAYS AS (lower((identity_data ->> 'email'::text))) STORED
);


--
-- Name: known_addresses; Type: TABLE; Schema: auth; Owner: -
--

CREATE TABLE auth.known_addresses (
    user_id uuid NOT NULL,
    address_hash bytea NOT NULL,
    last_sign_in_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT known_addresses_address_hash_check CHECK ((length(address_hash) = 32))
);


--
-- Name: refresh_tokens; Type: TABLE; Schema: auth; Owner: -
--

CREATE TABLE auth.refresh_tokens (
    id bigint NOT NULL,
    token_hash text NOT NULL,
    user_id uuid NOT NULL,
    session_id uuid NOT NULL,
    parent text,
    revoked boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: refresh_tokens_id_seq; Type: SEQUENCE; Schema: auth; Owner: -
--

CREATE SEQUENCE auth.refresh_tokens_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: refresh_tokens_id_seq; Type: SEQUENCE OWNED BY; Schema: auth; Owner: -
--

ALTER SEQUENCE auth.refresh_tokens_id_seq OWNED BY auth.refresh_tokens.id;


--
-- Name: sessions; Type: TABLE; Schema: auth; Owner: -
--

CREATE TABLE auth.sessions (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    refreshed_at timestamp with time zone,
    not_after timestamp with time zone,
    aal text DEFAULT 'aal1'::text NOT NULL,
    user_agent text,
    ip inet,
    amr_method text DEFAULT 'password'::text NOT NULL
);


--
-- Name: users; Type: TABLE; Schema: auth; Owner: -
--

CREATE TABLE auth.users (
    instance_id uuid,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    aud character varying(255) DEFAULT 'authenticated'::character varying,
    role character varying(255) DEFAULT 'authenticated'::character varying,
    email character varying(255),
    encrypted_password character varying(255),
    email_confirmed_at timestamp with time zone,
    invited_at timestamp with time zone,
    confirmation_token character varying(255),
    confirmation_sent_at timestamp with time zone,
    recovery_token character varying(255),
    recovery_sent_at timestamp with time zone,
    email_change_token_new character varying(255),
    email_change character varying(255),
    email_change_sent_at timestamp with time zone,
    last_sign_in_at timestamp with time zone,
    raw_app_meta_data jsonb DEFAULT '{}'::jsonb NOT NULL,
    raw_user_meta_data jsonb DEFAULT '{}'::jsonb NOT NULL,
    is_super_admin boolean,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    phone text,
    banned_until timestamp with time zone,
    deleted_at timestamp with time zone,
    is_anonymous boolean DEFAULT false NOT NULL,
    email_change_token_current character varying(255) DEFAULT ''::character varying,
    email_change_confirm_status smallint DEFAULT 0 NOT NULL,
    email_verified_by_mail_at timestamp with time zone,
    CONSTRAINT users_email_change_confirm_status_check CHECK (((email_change_confirm_status >= 0) AND (email_change_confirm_status <= 2)))
);


--
-- Name: announced_photos; Type: TABLE; Schema: momento; Owner: -
--

CREATE TABLE momento.announced_photos (
    photo_id uuid NOT NULL,
    event_id uuid NOT NULL,
    announced_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: changes; Type: TABLE; Schema: momento; Owner: -
--

CREATE TABLE momento.changes (
    id bigint NOT NULL,
    at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    event_id uuid NOT NULL,
    kind text NOT NULL,
    photo_id uuid,
    user_id uuid,
    actor_id uuid,
    reason text,
    reporters uuid[]
);


--
-- Name: changes_horizon; Type: TABLE; Schema: momento; Owner: -
--

CREATE TABLE momento.changes_horizon (
    only_row boolean DEFAULT true NOT NULL,
    pruned_upto bigint DEFAULT 0 NOT NULL,
    CONSTRAINT changes_horizon_only_row_check CHECK (only_row)
);


--
-- Name: changes_id_seq; Type: SEQUENCE; Schema: momento; Owner: -
--

ALTER TABLE momento.changes ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME momento.changes_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: deleted_files; Type: TABLE; Schema: momento; Owner: -
--

CREATE TABLE momento.deleted_files (
    prefix text NOT NULL,
    deleted_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: event_photo_totals; Type: TABLE; Schema: momento; Owner: -
--

CREATE TABLE momento.event_photo_totals (
    event_id uuid NOT NULL,
    photo_count bigint DEFAULT 0 NOT NULL
);


--
-- Name: file_purges; Type: TABLE; Schema: momento; Owner: -
--

CREATE TABLE momento.file_purges (
    prefix text NOT NULL,
    event_id uuid NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT file_purges_prefix_check CHECK ((prefix ~ '^events/[A-Za-z0-9_-][A-Za-z0-9._-]*/([A-Za-z0-9_-][A-Za-z0-9._-]*/)?$'::text))
);


--
-- Name: host_entitlements; Type: TABLE; Schema: momento; Owner: -
--

CREATE TABLE momento.host_entitlements (
    user_id uuid NOT NULL,
    entitlement text NOT NULL,
    active_since timestamp with time zone NOT NULL,
    expires_at timestamp with time zone,
    unsubscribed_at timestamp with time zone,
    last_event_ts_ms bigint NOT NULL,
    premium_applied boolean DEFAULT false NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: legacy_events; Type: TABLE; Schema: momento; Owner: -
--

CREATE TABLE momento.legacy_events (
    event_id uuid NOT NULL,
    imported_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: legacy_files; Type: TABLE; Schema: momento; Owner: -
--

CREATE TABLE momento.legacy_files (
    photo_id uuid NOT NULL,
    source_path text NOT NULL,
    copied_at timestamp with time zone,
    failure text
);


--
-- Name: legacy_rows; Type: TABLE; Schema: momento; Owner: -
--

CREATE TABLE momento.legacy_rows (
    kind text NOT NULL,
    key text NOT NULL,
    digest text NOT NULL,
    run_id bigint NOT NULL,
    CONSTRAINT legacy_rows_kind_check CHECK ((kind = ANY (ARRAY['user'::text, 'profile'::text, 'event'::text, 'member'::text, 'photo'::text])))
);


--
-- Name: legacy_runs; Type: TABLE; Schema: momento; Owner: -
--

CREATE TABLE momento.legacy_runs (
    id bigint NOT NULL,
    source text NOT NULL,
    snapshot_at timestamp with time zone NOT NULL,
    finished_at timestamp with time zone DEFAULT now() NOT NULL,
    report jsonb DEFAULT '{}'::jsonb NOT NULL
);


--
-- Name: legacy_runs_id_seq; Type: SEQUENCE; Schema: momento; Owner: -
--

ALTER TABLE momento.legacy_runs ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME momento.legacy_runs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: photo_reports; Type: TABLE; Schema: momento; Owner: -
--

CREATE TABLE momento.photo_reports (
    photo_id uuid NOT NULL,
    reporter_id uuid NOT NULL,
    by_creator boolean DEFAULT false NOT NULL,
    reason text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    by_anonymous boolean DEFAULT false NOT NULL,
    dismissed_at timestamp with time zone,
    CONSTRAINT photo_reports_reason_check CHECK (((reason IS NULL) OR (char_length(reason) <= 500)))
);


--
-- Name: premium_purchases; Type: TABLE; Schema: momento; Owner: -
--

CREATE TABLE momento.premium_purchases (
    transaction_id text NOT NULL,
    event_id uuid,
    user_id uuid,
    app_user_id text,
    product_id text NOT NULL,
    purchased_at timestamp with time zone,
    price numeric,
    currency text,
    refunded_at timestamp with time zone,
    source text NOT NULL,
    last_event_ts_ms bigint,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT premium_purchases_source_check CHECK ((source = ANY (ARRAY['verify'::text, 'webhook'::text])))
);


--
-- Name: push_deliveries; Type: TABLE; Schema: momento; Owner: -
--

CREATE TABLE momento.push_deliveries (
    kind text NOT NULL,
    event_id uuid NOT NULL,
    ref text DEFAULT ''::text NOT NULL,
    user_id uuid NOT NULL,
    device_token text NOT NULL,
    status text DEFAULT 'sending'::text NOT NULL,
    apns_id text,
    reason text,
    attempts integer DEFAULT 1 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT push_deliveries_kind_check CHECK ((kind = ANY (ARRAY['reveal'::text, 'joined'::text, 'new_photos'::text]))),
    CONSTRAINT push_deliveries_status_check CHECK ((status = ANY (ARRAY['sending'::text, 'delivered'::text, 'failed'::text, 'invalid_token'::text])))
);


--
-- Name: rate_limits; Type: TABLE; Schema: momento; Owner: -
--

CREATE TABLE momento.rate_limits (
    key text NOT NULL,
    window_start timestamp with time zone NOT NULL,
    hits integer NOT NULL,
    seconds integer DEFAULT 60 NOT NULL,
    CONSTRAINT rate_limits_seconds_check CHECK ((seconds > 0))
);


--
-- Name: reveals; Type: TABLE; Schema: momento; Owner: -
--

CREATE TABLE momento.reveals (
    event_id uuid NOT NULL,
    started_at timestamp with time zone DEFAULT now() NOT NULL,
    finished_at timestamp with time zone,
    member_count integer DEFAULT 0 NOT NULL,
    photo_count bigint DEFAULT 0 NOT NULL
);


--
-- Name: revenuecat_events; Type: TABLE; Schema: momento; Owner: -
--

CREATE TABLE momento.revenuecat_events (
    id text NOT NULL,
    type text NOT NULL,
    app_user_id text,
    event_timestamp_ms bigint NOT NULL,
    body jsonb NOT NULL,
    received_at timestamp with time zone DEFAULT now() NOT NULL,
    processed_at timestamp with time zone,
    outcome text,
    error text
);


--
-- Name: schema_migrations; Type: TABLE; Schema: momento; Owner: -
--

CREATE TABLE momento.schema_migrations (
    version text NOT NULL,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: tickets; Type: TABLE; Schema: momento; Owner: -
--

CREATE TABLE momento.tickets (
    hash bytea NOT NULL,
    user_id uuid NOT NULL,
    session_id uuid NOT NULL,
    purpose text NOT NULL,
    resource_id uuid NOT NULL,
    claims jsonb NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: event_members; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.event_members (
    event_id uuid NOT NULL,
    user_id uuid NOT NULL,
    joined_at timestamp with time zone DEFAULT now()
);


--
-- Name: events; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.events (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text NOT NULL,
    join_code text DEFAULT private.new_join_code() NOT NULL,
    creator_id uuid NOT NULL,
    starts_at timestamp with time zone NOT NULL,
    release_at timestamp with time zone NOT NULL,
    is_premium boolean DEFAULT false,
    is_deleted boolean DEFAULT false,
    created_at timestamp with time zone DEFAULT now(),
    web_guests boolean DEFAULT true NOT NULL,
    CONSTRAINT events_join_code_format CHECK ((join_code ~ '^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}$'::text)),
    CONSTRAINT events_name_length CHECK (((char_length(btrim(name)) >= 1) AND (char_length(btrim(name)) <= 100))),
    CONSTRAINT events_release_after_start CHECK ((release_at > starts_at))
);


--
-- Name: COLUMN events.web_guests; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.events.web_guests IS 'Guests (anonymous users) may join by code; the host turns it off to keep them out.';


--
-- Name: photo_likes; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.photo_likes (
    photo_id uuid NOT NULL,
    user_id uuid NOT NULL,
    created_at timestamp with time zone DEFAULT now()
);


--
-- Name: photo_media; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.photo_media (
    photo_id uuid NOT NULL,
    declared_type text NOT NULL,
    declared_size bigint NOT NULL,
    content_type text,
    byte_size bigint,
    failure_code text,
    failure_reason text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    processed_at timestamp with time zone,
    CONSTRAINT photo_media_declared_size_check CHECK ((declared_size > 0))
);


--
-- Name: photos; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.photos (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    event_id uuid NOT NULL,
    user_id uuid NOT NULL,
    storage_path text NOT NULL,
    captured_at timestamp with time zone DEFAULT now(),
    username text NOT NULL,
    width integer,
    height integer,
    upload_status text DEFAULT 'pending'::text,
    is_flagged boolean DEFAULT false,
    like_count integer DEFAULT 0 NOT NULL,
    blurhash text,
    CONSTRAINT photos_like_count_not_negative CHECK ((like_count >= 0)),
    CONSTRAINT photos_storage_path_layout CHECK ((storage_path = ((('events/'::text || (event_id)::text) || '/'::text) || (id)::text))),
    CONSTRAINT photos_upload_status_check CHECK ((upload_status = ANY (ARRAY['pending'::text, 'uploaded'::text, 'failed'::text])))
)
WITH (fillfactor='90');


--
-- Name: procrastinate_events; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.procrastinate_events (
    id bigint NOT NULL,
    job_id bigint NOT NULL,
    type public.procrastinate_job_event_type,
    at timestamp with time zone DEFAULT now()
);


--
-- Name: procrastinate_events_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.procrastinate_events_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: procrastinate_events_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.procrastinate_events_id_seq OWNED BY public.procrastinate_events.id;


--
-- Name: procrastinate_jobs_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.procrastinate_jobs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: procrastinate_jobs_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.procrastinate_jobs_id_seq OWNED BY public.procrastinate_jobs.id;


--
-- Name: procrastinate_periodic_defers; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.procrastinate_periodic_defers (
    id bigint NOT NULL,
    task_name character varying(128) NOT NULL,
    defer_timestamp bigint,
    job_id bigint,
    periodic_id character varying(128) DEFAULT ''::character varying NOT NULL
);


--
-- Name: procrastinate_periodic_defers_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.procrastinate_periodic_defers_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: procrastinate_periodic_defers_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.procrastinate_periodic_defers_id_seq OWNED BY public.procrastinate_periodic_defers.id;


--
-- Name: procrastinate_workers; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.procrastinate_workers (
    id bigint NOT NULL,
    last_heartbeat timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: procrastinate_workers_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.procrastinate_workers ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.procrastinate_workers_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: profiles; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.profiles (
    id uuid NOT NULL,
    username text NOT NULL,
    display_name text,
    avatar_url text,
    device_token text,
    created_at timestamp with time zone DEFAULT now(),
    CONSTRAINT profiles_avatar_url_length CHECK (((avatar_url IS NULL) OR (char_length(avatar_url) <= 2048))),
    CONSTRAINT profiles_device_token_format CHECK (((device_token IS NULL) OR (device_token ~ '^[0-9a-f]{32,200}$'::text))),
    CONSTRAINT profiles_display_name_length CHECK (((display_name IS NULL) OR ((char_length(display_name) >= 1) AND (char_length(display_name) <= 60)))),
    CONSTRAINT profiles_username_format CHECK ((username ~ '^[a-z0-9_.]{3,30}$'::text))
);


--
-- Name: refresh_tokens id; Type: DEFAULT; Schema: auth; Owner: -
--

ALTER TABLE ONLY auth.refresh_tokens ALTER COLUMN id SET DEFAULT nextval('auth.refresh_tokens_id_seq'::regclass);


--
-- Name: procrastinate_events id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.procrastinate_events ALTER COLUMN id SET DEFAULT nextval('public.procrastinate_events_id_seq'::regclass);


--
-- Name: procrastinate_jobs id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.procrastinate_jobs ALTER COLUMN id SET DEFAULT nextval('public.procrastinate_jobs_id_seq'::regclass);


--
-- Name: procrastinate_periodic_defers id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.procrastinate_periodic_defers ALTER COLUMN id SET DEFAULT nextval('public.procrastinate_periodic_defers_id_seq'::regclass);


--
-- Name: apple_tokens apple_tokens_pkey; Type: CONSTRAINT; Schema: auth; Owner: -
--

ALTER TABLE ONLY auth.apple_tokens
    ADD CONSTRAINT apple_tokens_pkey PRIMARY KEY (user_id);


--
-- Name: flow_state flow_state_auth_code_key; Type: CONSTRAINT; Schema: auth; Owner: -
--

ALTER TABLE ONLY auth.flow_state
    ADD CONSTRAINT flow_state_auth_code_key UNIQUE (auth_code);


--
-- Name: flow_state flow_state_pkey; Type: CONSTRAINT; Schema: auth; Owner: -
--

ALTER TABLE ONLY auth.flow_state
    ADD CONSTRAINT flow_state_pkey PRIMARY KEY (id);


--
-- Name: identities identities_pkey; Type: CONSTRAINT; Schema: auth; Owner: -
--

ALTER TABLE ONLY auth.identities
    ADD CONSTRAINT identities_pkey PRIMARY KEY (id);


--
-- Name: identities identities_provider_id_provider_unique; Type: CONSTRAINT; Schema: auth; Owner: -
--

ALTER TABLE ONLY auth.identities
    ADD CONSTRAINT identities_provider_id_provider_unique UNIQUE (provider_id, provider);


--
-- Name: known_addresses known_addresses_pkey; Type: CONSTRAINT; Schema: auth; Owner: -
--

ALTER TABLE ONLY auth.known_addresses
    ADD CONSTRAINT known_addresses_pkey PRIMARY KEY (user_id, address_hash);


--
-- Name: refresh_tokens refresh_tokens_pkey; Type: CONSTRAINT; Schema: auth; Owner: -
--

ALTER TABLE ONLY auth.refresh_tokens
    ADD CONSTRAINT refresh_tokens_pkey PRIMARY KEY (id);


--
-- Name: refresh_tokens refresh_tokens_token_hash_key; Type: CONSTRAINT; Schema: auth; Owner: -
--

ALTER TABLE ONLY auth.refresh_tokens
    ADD CONSTRAINT refresh_tokens_token_hash_key UNIQUE (token_hash);


--
-- Name: sessions sessions_pkey; Type: CONSTRAINT; Schema: auth; Owner: -
--

ALTER TABLE ONLY auth.sessions
    ADD CONSTRAINT sessions_pkey PRIMARY KEY (id);


--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: auth; Owner: -
--

ALTER TABLE ONLY auth.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);


--
-- Name: announced_photos announced_photos_pkey; Type: CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.announced_photos
    ADD CONSTRAINT announced_photos_pkey PRIMARY KEY (photo_id);


--
-- Name: changes_horizon changes_horizon_pkey; Type: CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.changes_horizon
    ADD CONSTRAINT changes_horizon_pkey PRIMARY KEY (only_row);


--
-- Name: changes changes_pkey; Type: CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.changes
    ADD CONSTRAINT changes_pkey PRIMARY KEY (id);


--
-- Name: deleted_files deleted_files_pkey; Type: CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.deleted_files
    ADD CONSTRAINT deleted_files_pkey PRIMARY KEY (prefix);


--
-- Name: event_photo_totals event_photo_totals_pkey; Type: CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.event_photo_totals
    ADD CONSTRAINT event_photo_totals_pkey PRIMARY KEY (event_id);


--
-- Name: file_purges file_purges_pkey; Type: CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.file_purges
    ADD CONSTRAINT file_purges_pkey PRIMARY KEY (prefix);


--
-- Name: host_entitlements host_entitlements_pkey; Type: CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.host_entitlements
    ADD CONSTRAINT host_entitlements_pkey PRIMARY KEY (user_id, entitlement);


--
-- Name: legacy_events legacy_events_pkey; Type: CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.legacy_events
    ADD CONSTRAINT legacy_events_pkey PRIMARY KEY (event_id);


--
-- Name: legacy_files legacy_files_pkey; Type: CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.legacy_files
    ADD CONSTRAINT legacy_files_pkey PRIMARY KEY (photo_id);


--
-- Name: legacy_rows legacy_rows_pkey; Type: CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.legacy_rows
    ADD CONSTRAINT legacy_rows_pkey PRIMARY KEY (kind, key);


--
-- Name: legacy_runs legacy_runs_pkey; Type: CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.legacy_runs
    ADD CONSTRAINT legacy_runs_pkey PRIMARY KEY (id);


--
-- Name: photo_reports photo_reports_pkey; Type: CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.photo_reports
    ADD CONSTRAINT photo_reports_pkey PRIMARY KEY (photo_id, reporter_id);


--
-- Name: premium_purchases premium_purchases_pkey; Type: CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.premium_purchases
    ADD CONSTRAINT premium_purchases_pkey PRIMARY KEY (transaction_id);


--
-- Name: push_deliveries push_deliveries_pkey; Type: CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.push_deliveries
    ADD CONSTRAINT push_deliveries_pkey PRIMARY KEY (kind, event_id, ref, user_id, device_token);


--
-- Name: rate_limits rate_limits_pkey; Type: CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.rate_limits
    ADD CONSTRAINT rate_limits_pkey PRIMARY KEY (key);


--
-- Name: reveals reveals_pkey; Type: CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.reveals
    ADD CONSTRAINT reveals_pkey PRIMARY KEY (event_id);


--
-- Name: revenuecat_events revenuecat_events_pkey; Type: CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.revenuecat_events
    ADD CONSTRAINT revenuecat_events_pkey PRIMARY KEY (id);


--
-- Name: schema_migrations schema_migrations_pkey; Type: CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);


--
-- Name: tickets tickets_pkey; Type: CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.tickets
    ADD CONSTRAINT tickets_pkey PRIMARY KEY (hash);


--
-- Name: event_members event_members_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.event_members
    ADD CONSTRAINT event_members_pkey PRIMARY KEY (event_id, user_id);


--
-- Name: events events_join_code_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events
    ADD CONSTRAINT events_join_code_key UNIQUE (join_code);


--
-- Name: events events_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events
    ADD CONSTRAINT events_pkey PRIMARY KEY (id);


--
-- Name: photo_likes photo_likes_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.photo_likes
    ADD CONSTRAINT photo_likes_pkey PRIMARY KEY (photo_id, user_id);


--
-- Name: photo_media photo_media_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.photo_media
    ADD CONSTRAINT photo_media_pkey PRIMARY KEY (photo_id);


--
-- Name: photos photos_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.photos
    ADD CONSTRAINT photos_pkey PRIMARY KEY (id);


--
-- Name: procrastinate_events procrastinate_events_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.procrastinate_events
    ADD CONSTRAINT procrastinate_events_pkey PRIMARY KEY (id);


--
-- Name: procrastinate_jobs procrastinate_jobs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.procrastinate_jobs
    ADD CONSTRAINT procrastinate_jobs_pkey PRIMARY KEY (id);


--
-- Name: procrastinate_periodic_defers procrastinate_periodic_defers_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.procrastinate_periodic_defers
    ADD CONSTRAINT procrastinate_periodic_defers_pkey PRIMARY KEY (id);


--
-- Name: procrastinate_periodic_defers procrastinate_periodic_defers_unique; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.procrastinate_periodic_defers
    ADD CONSTRAINT procrastinate_periodic_defers_unique UNIQUE (task_name, periodic_id, defer_timestamp);


--
-- Name: procrastinate_workers procrastinate_workers_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.procrastinate_workers
    ADD CONSTRAINT procrastinate_workers_pkey PRIMARY KEY (id);


--
-- Name: profiles profiles_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.profiles
    ADD CONSTRAINT profiles_pkey PRIMARY KEY (id);


--
-- Name: profiles profiles_username_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.profiles
    ADD CONSTRAINT profiles_username_key UNIQUE (username);


--
-- Name: flow_state_created; Type: INDEX; Schema: auth; Owner: -
--

CREATE INDEX flow_state_created ON auth.flow_state USING btree (created_at);


--
-- Name: flow_state_user_token; Type: INDEX; Schema: auth; Owner: -
--

CREATE INDEX flow_state_user_token ON auth.flow_state USING btree (user_id, token_hash);


--
-- Name: identities_email_idx; Type: INDEX; Schema: auth; Owner: -
--

CREATE INDEX identities_email_idx ON auth.identities USING btree (email text_pattern_ops);


--
-- Name: identities_user_id_idx; Type: INDEX; Schema: auth; Owner: -
--

CREATE INDEX identities_user_id_idx ON auth.identities USING btree (user_id);


--
-- Name: known_addresses_last_sign_in; Type: INDEX; Schema: auth; Owner: -
--

CREATE INDEX known_addresses_last_sign_in ON auth.known_addresses USING btree (last_sign_in_at);


--
-- Name: refresh_tokens_parent_idx; Type: INDEX; Schema: auth; Owner: -
--

CREATE INDEX refresh_tokens_parent_idx ON auth.refresh_tokens USING btree (parent);


--
-- Name: refresh_tokens_session_id_revoked_idx; Type: INDEX; Schema: auth; Owner: -
--

CREATE INDEX refresh_tokens_session_id_revoked_idx ON auth.refresh_tokens USING btree (session_id, revoked);


--
-- Name: sessions_user_id_idx; Type: INDEX; Schema: auth; Owner: -
--

CREATE INDEX sessions_user_id_idx ON auth.sessions USING btree (user_id);


--
-- Name: users_anonymous_created_at_idx; Type: INDEX; Schema: auth; Owner: -
--

CREATE INDEX users_anonymous_created_at_idx ON auth.users USING btree (created_at, id) WHERE is_anonymous;


--
-- Name: users_confirmation_token_idx; Type: INDEX; Schema: auth; Owner: -
--

CREATE INDEX users_confirmation_token_idx ON auth.users USING btree (confirmation_token) WHERE ((confirmation_token IS NOT NULL) AND ((confirmation_token)::text <> ''::text));


--
-- Name: users_email_key; Type: INDEX; Schema: auth; Owner: -
--

CREATE UNIQUE INDEX users_email_key ON auth.users USING btree (lower((email)::text)) WHERE (email IS NOT NULL);


--
-- Name: users_recovery_token_idx; Type: INDEX; Schema: auth; Owner: -
--

CREATE INDEX users_recovery_token_idx ON auth.users USING btree (recovery_token) WHERE ((recovery_token IS NOT NULL) AND ((recovery_token)::text <> ''::text));


--
-- Name: changes_at_idx; Type: INDEX; Schema: momento; Owner: -
--

CREATE INDEX changes_at_idx ON momento.changes USING btree (at);


--
-- Name: changes_likes_idx; Type: INDEX; Schema: momento; Owner: -
--

CREATE INDEX changes_likes_idx ON momento.changes USING btree (photo_id, at) WHERE (kind = 'like_count'::text);


--
-- Name: host_entitlements_to_sweep; Type: INDEX; Schema: momento; Owner: -
--

CREATE INDEX host_entitlements_to_sweep ON momento.host_entitlements USING btree (expires_at) WHERE premium_applied;


--
-- Name: idx_deleted_files_time; Type: INDEX; Schema: momento; Owner: -
--

CREATE INDEX idx_deleted_files_time ON momento.deleted_files USING btree (deleted_at);


--
-- Name: idx_file_purges_event; Type: INDEX; Schema: momento; Owner: -
--

CREATE INDEX idx_file_purges_event ON momento.file_purges USING btree (event_id);


--
-- Name: idx_photo_reports_reporter; Type: INDEX; Schema: momento; Owner: -
--

CREATE INDEX idx_photo_reports_reporter ON momento.photo_reports USING btree (reporter_id, photo_id);


--
-- Name: legacy_files_to_copy; Type: INDEX; Schema: momento; Owner: -
--

CREATE INDEX legacy_files_to_copy ON momento.legacy_files USING btree (photo_id) WHERE (copied_at IS NULL);


--
-- Name: premium_purchases_event; Type: INDEX; Schema: momento; Owner: -
--

CREATE INDEX premium_purchases_event ON momento.premium_purchases USING btree (event_id) WHERE (event_id IS NOT NULL);


--
-- Name: push_deliveries_sending; Type: INDEX; Schema: momento; Owner: -
--

CREATE INDEX push_deliveries_sending ON momento.push_deliveries USING btree (event_id, updated_at) WHERE (status = 'sending'::text);


--
-- Name: push_deliveries_user; Type: INDEX; Schema: momento; Owner: -
--

CREATE INDEX push_deliveries_user ON momento.push_deliveries USING btree (user_id);


--
-- Name: revenuecat_events_pending; Type: INDEX; Schema: momento; Owner: -
--

CREATE INDEX revenuecat_events_pending ON momento.revenuecat_events USING btree (event_timestamp_ms, id) WHERE (processed_at IS NULL);


--
-- Name: tickets_expires_at_idx; Type: INDEX; Schema: momento; Owner: -
--

CREATE INDEX tickets_expires_at_idx ON momento.tickets USING btree (expires_at);


--
-- Name: tickets_session_id_idx; Type: INDEX; Schema: momento; Owner: -
--

CREATE INDEX tickets_session_id_idx ON momento.tickets USING btree (session_id);


--
-- Name: tickets_user_id_idx; Type: INDEX; Schema: momento; Owner: -
--

CREATE INDEX tickets_user_id_idx ON momento.tickets USING btree (user_id);


--
-- Name: idx_event_members_user; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_event_members_user ON public.event_members USING btree (user_id);


--
-- Name: idx_events_creator; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_events_creator ON public.events USING btree (creator_id) WHERE (NOT is_deleted);


--
-- Name: idx_events_deleted; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_events_deleted ON public.events USING btree (id) WHERE is_deleted;


--
-- Name: idx_events_free_release; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_events_free_release ON public.events USING btree (release_at) WHERE ((NOT COALESCE(is_deleted, false)) AND (NOT COALESCE(is_premium, false)));


--
-- Name: idx_events_join_code; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_events_join_code ON public.events USING btree (join_code) WHERE (NOT is_deleted);


--
-- Name: idx_events_release; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_events_release ON public.events USING btree (release_at) WHERE (NOT is_deleted);


--
-- Name: idx_photo_likes_user; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_photo_likes_user ON public.photo_likes USING btree (user_id);


--
-- Name: idx_photos_event_feed; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_photos_event_feed ON public.photos USING btree (event_id, captured_at, id);


--
-- Name: idx_photos_event_time; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_photos_event_time ON public.photos USING btree (event_id, captured_at);


--
-- Name: idx_photos_pending; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_photos_pending ON public.photos USING btree (upload_status) WHERE (upload_status = 'pending'::text);


--
-- Name: idx_photos_user_event_time; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_photos_user_event_time ON public.photos USING btree (user_id, event_id, captured_at, id);


--
-- Name: idx_procrastinate_jobs_worker_not_null; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_procrastinate_jobs_worker_not_null ON public.procrastinate_jobs USING btree (worker_id) WHERE ((worker_id IS NOT NULL) AND (status = 'doing'::public.procrastinate_job_status));


--
-- Name: idx_procrastinate_workers_last_heartbeat; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_procrastinate_workers_last_heartbeat ON public.procrastinate_workers USING btree (last_heartbeat);


--
-- Name: idx_profiles_created_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_profiles_created_at ON public.profiles USING btree (created_at);


--
-- Name: idx_profiles_username; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_profiles_username ON public.profiles USING btree (username);


--
-- Name: idx_profiles_username_lower; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX idx_profiles_username_lower ON public.profiles USING btree (lower(username));


--
-- Name: procrastinate_events_job_id_fkey_v1; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX procrastinate_events_job_id_fkey_v1 ON public.procrastinate_events USING btree (job_id);


--
-- Name: procrastinate_jobs_id_lock_idx_v1; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX procrastinate_jobs_id_lock_idx_v1 ON public.procrastinate_jobs USING btree (id, lock) WHERE (status = ANY (ARRAY['todo'::public.procrastinate_job_status, 'doing'::public.procrastinate_job_status]));


--
-- Name: procrastinate_jobs_lock_idx_v1; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX procrastinate_jobs_lock_idx_v1 ON public.procrastinate_jobs USING btree (lock) WHERE (status = 'doing'::public.procrastinate_job_status);


--
-- Name: procrastinate_jobs_priority_idx_v1; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX procrastinate_jobs_priority_idx_v1 ON public.procrastinate_jobs USING btree (priority DESC, id) WHERE (status = 'todo'::public.procrastinate_job_status);


--
-- Name: procrastinate_jobs_queue_name_idx_v1; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX procrastinate_jobs_queue_name_idx_v1 ON public.procrastinate_jobs USING btree (queue_name);


--
-- Name: procrastinate_jobs_queueing_lock_idx_v1; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX procrastinate_jobs_queueing_lock_idx_v1 ON public.procrastinate_jobs USING btree (queueing_lock) WHERE (status = 'todo'::public.procrastinate_job_status);


--
-- Name: procrastinate_periodic_defers_job_id_fkey_v1; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX procrastinate_periodic_defers_job_id_fkey_v1 ON public.procrastinate_periodic_defers USING btree (job_id);


--
-- Name: users on_auth_user_created; Type: TRIGGER; Schema: auth; Owner: -
--

CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION private.handle_new_user();


--
-- Name: users queue_apple_revoke; Type: TRIGGER; Schema: auth; Owner: -
--

CREATE TRIGGER queue_apple_revoke AFTER DELETE ON auth.users FOR EACH ROW EXECUTE FUNCTION private.queue_apple_revoke();


--
-- Name: sessions realtime_sessions; Type: TRIGGER; Schema: auth; Owner: -
--

CREATE TRIGGER realtime_sessions AFTER DELETE ON auth.sessions REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION private.realtime_sessions();


--
-- Name: events announce_deleted_files; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER announce_deleted_files AFTER DELETE ON public.events REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION private.events_deleted();


--
-- Name: photos announce_deleted_files; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER announce_deleted_files AFTER DELETE ON public.photos REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION private.photos_deleted();


--
-- Name: events announce_soft_deleted; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER announce_soft_deleted AFTER UPDATE OF is_deleted ON public.events FOR EACH ROW WHEN ((new.is_deleted AND (NOT COALESCE(old.is_deleted, false)))) EXECUTE FUNCTION private.events_deleted();


--
-- Name: photos event_photo_totals_delete; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER event_photo_totals_delete AFTER DELETE ON public.photos REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION private.add_event_photo_totals();


--
-- Name: photos event_photo_totals_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER event_photo_totals_insert AFTER INSERT ON public.photos REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION private.add_event_photo_totals();


--
-- Name: photos event_photo_totals_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER event_photo_totals_truncate AFTER TRUNCATE ON public.photos FOR EACH STATEMENT EXECUTE FUNCTION private.add_event_photo_totals();


--
-- Name: photos event_photo_totals_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER event_photo_totals_update AFTER UPDATE ON public.photos REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION private.add_event_photo_totals();


--
-- Name: events guard_event_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER guard_event_update BEFORE UPDATE ON public.events FOR EACH ROW EXECUTE FUNCTION private.guard_event_update();


--
-- Name: events on_event_created; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER on_event_created AFTER INSERT ON public.events FOR EACH ROW EXECUTE FUNCTION private.add_creator_as_member();


--
-- Name: photo_likes photo_likes_count_delete; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER photo_likes_count_delete AFTER DELETE ON public.photo_likes REFERENCING OLD TABLE AS old_likes FOR EACH STATEMENT EXECUTE FUNCTION private.count_likes();


--
-- Name: photo_likes photo_likes_count_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER photo_likes_count_insert AFTER INSERT ON public.photo_likes REFERENCING NEW TABLE AS new_likes FOR EACH STATEMENT EXECUTE FUNCTION private.count_likes();


--
-- Name: photo_likes photo_likes_count_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER photo_likes_count_truncate AFTER TRUNCATE ON public.photo_likes FOR EACH STATEMENT EXECUTE FUNCTION private.reset_like_counts();


--
-- Name: photo_likes photo_likes_count_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER photo_likes_count_update AFTER UPDATE ON public.photo_likes REFERENCING OLD TABLE AS old_likes NEW TABLE AS new_likes FOR EACH STATEMENT EXECUTE FUNCTION private.count_likes();


--
-- Name: events premium_for_host_events; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER premium_for_host_events BEFORE INSERT ON public.events FOR EACH ROW EXECUTE FUNCTION private.premium_for_host_events();


--
-- Name: procrastinate_jobs procrastinate_jobs_notify_queue_job_aborted_v1; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER procrastinate_jobs_notify_queue_job_aborted_v1 AFTER UPDATE OF abort_requested ON public.procrastinate_jobs FOR EACH ROW WHEN (((old.abort_requested = false) AND (new.abort_requested = true) AND (new.status = 'doing'::public.procrastinate_job_status))) EXECUTE FUNCTION public.procrastinate_notify_queue_abort_job_v1();


--
-- Name: procrastinate_jobs procrastinate_jobs_notify_queue_job_inserted_v1; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER procrastinate_jobs_notify_queue_job_inserted_v1 AFTER INSERT ON public.procrastinate_jobs FOR EACH ROW WHEN ((new.status = 'todo'::public.procrastinate_job_status)) EXECUTE FUNCTION public.procrastinate_notify_queue_job_inserted_v1();


--
-- Name: procrastinate_jobs procrastinate_trigger_abort_requested_events_v1; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER procrastinate_trigger_abort_requested_events_v1 AFTER UPDATE OF abort_requested ON public.procrastinate_jobs FOR EACH ROW WHEN ((new.abort_requested = true)) EXECUTE FUNCTION public.procrastinate_trigger_abort_requested_events_procedure_v1();


--
-- Name: procrastinate_jobs procrastinate_trigger_delete_jobs_v1; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER procrastinate_trigger_delete_jobs_v1 BEFORE DELETE ON public.procrastinate_jobs FOR EACH ROW EXECUTE FUNCTION public.procrastinate_unlink_periodic_defers_v1();


--
-- Name: procrastinate_jobs procrastinate_trigger_scheduled_events_v1; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER procrastinate_trigger_scheduled_events_v1 AFTER INSERT OR UPDATE ON public.procrastinate_jobs FOR EACH ROW WHEN (((new.scheduled_at IS NOT NULL) AND (new.status = 'todo'::public.procrastinate_job_status))) EXECUTE FUNCTION public.procrastinate_trigger_function_scheduled_events_v1();


--
-- Name: procrastinate_jobs procrastinate_trigger_status_events_insert_v1; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER procrastinate_trigger_status_events_insert_v1 AFTER INSERT ON public.procrastinate_jobs FOR EACH ROW WHEN ((new.status = 'todo'::public.procrastinate_job_status)) EXECUTE FUNCTION public.procrastinate_trigger_function_status_events_insert_v1();


--
-- Name: procrastinate_jobs procrastinate_trigger_status_events_update_v1; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER procrastinate_trigger_status_events_update_v1 AFTER UPDATE OF status ON public.procrastinate_jobs FOR EACH ROW EXECUTE FUNCTION public.procrastinate_trigger_function_status_events_update_v1();


--
-- Name: event_members realtime_changes; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER realtime_changes AFTER INSERT OR DELETE ON public.event_members FOR EACH ROW EXECUTE FUNCTION private.realtime_members();


--
-- Name: events realtime_changes; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER realtime_changes AFTER DELETE OR UPDATE ON public.events FOR EACH ROW EXECUTE FUNCTION private.realtime_events();


--
-- Name: photos realtime_changes; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER realtime_changes AFTER INSERT ON public.photos FOR EACH ROW EXECUTE FUNCTION private.realtime_photos();


--
-- Name: photos realtime_changes_delete; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER realtime_changes_delete BEFORE DELETE ON public.photos FOR EACH ROW EXECUTE FUNCTION private.realtime_photo_deleting();


--
-- Name: photos realtime_changes_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER realtime_changes_update AFTER UPDATE ON public.photos FOR EACH ROW WHEN (((old.upload_status IS DISTINCT FROM new.upload_status) OR (old.is_flagged IS DISTINCT FROM new.is_flagged) OR (old.like_count <> new.like_count))) EXECUTE FUNCTION private.realtime_photos();


--
-- Name: events record_file_purges; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER record_file_purges AFTER DELETE ON public.events REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION private.record_file_purges();


--
-- Name: photos record_file_purges; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER record_file_purges AFTER DELETE ON public.photos REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION private.record_file_purges();


--
-- Name: photos set_photo_username; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER set_photo_username BEFORE INSERT ON public.photos FOR EACH ROW EXECUTE FUNCTION private.set_photo_username();


--
-- Name: profiles sync_photo_usernames; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER sync_photo_usernames AFTER UPDATE OF username ON public.profiles FOR EACH ROW WHEN ((old.username IS DISTINCT FROM new.username)) EXECUTE FUNCTION private.sync_photo_usernames();


--
-- Name: flow_state flow_state_user_id_fkey; Type: FK CONSTRAINT; Schema: auth; Owner: -
--

ALTER TABLE ONLY auth.flow_state
    ADD CONSTRAINT flow_state_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;


--
-- Name: identities identities_user_id_fkey; Type: FK CONSTRAINT; Schema: auth; Owner: -
--

ALTER TABLE ONLY auth.identities
    ADD CONSTRAINT identities_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;


--
-- Name: known_addresses known_addresses_user_id_fkey; Type: FK CONSTRAINT; Schema: auth; Owner: -
--

ALTER TABLE ONLY auth.known_addresses
    ADD CONSTRAINT known_addresses_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;


--
-- Name: refresh_tokens refresh_tokens_session_id_fkey; Type: FK CONSTRAINT; Schema: auth; Owner: -
--

ALTER TABLE ONLY auth.refresh_tokens
    ADD CONSTRAINT refresh_tokens_session_id_fkey FOREIGN KEY (session_id) REFERENCES auth.sessions(id) ON DELETE CASCADE;


--
-- Name: refresh_tokens refresh_tokens_user_id_fkey; Type: FK CONSTRAINT; Schema: auth; Owner: -
--

ALTER TABLE ONLY auth.refresh_tokens
    ADD CONSTRAINT refresh_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;


--
-- Name: sessions sessions_user_id_fkey; Type: FK CONSTRAINT; Schema: auth; Owner: -
--

ALTER TABLE ONLY auth.sessions
    ADD CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;


--
-- Name: announced_photos announced_photos_event_id_fkey; Type: FK CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.announced_photos
    ADD CONSTRAINT announced_photos_event_id_fkey FOREIGN KEY (event_id) REFERENCES public.events(id) ON DELETE CASCADE;


--
-- Name: announced_photos announced_photos_photo_id_fkey; Type: FK CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.announced_photos
    ADD CONSTRAINT announced_photos_photo_id_fkey FOREIGN KEY (photo_id) REFERENCES public.photos(id) ON DELETE CASCADE;


--
-- Name: event_photo_totals event_photo_totals_event_id_fkey; Type: FK CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.event_photo_totals
    ADD CONSTRAINT event_photo_totals_event_id_fkey FOREIGN KEY (event_id) REFERENCES public.events(id) ON DELETE CASCADE;


--
-- Name: legacy_events legacy_events_event_id_fkey; Type: FK CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.legacy_events
    ADD CONSTRAINT legacy_events_event_id_fkey FOREIGN KEY (event_id) REFERENCES public.events(id) ON DELETE CASCADE;


--
-- Name: legacy_files legacy_files_photo_id_fkey; Type: FK CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.legacy_files
    ADD CONSTRAINT legacy_files_photo_id_fkey FOREIGN KEY (photo_id) REFERENCES public.photos(id) ON DELETE CASCADE;


--
-- Name: legacy_rows legacy_rows_run_id_fkey; Type: FK CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.legacy_rows
    ADD CONSTRAINT legacy_rows_run_id_fkey FOREIGN KEY (run_id) REFERENCES momento.legacy_runs(id);


--
-- Name: photo_reports photo_reports_photo_id_fkey; Type: FK CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.photo_reports
    ADD CONSTRAINT photo_reports_photo_id_fkey FOREIGN KEY (photo_id) REFERENCES public.photos(id) ON DELETE CASCADE;


--
-- Name: photo_reports photo_reports_reporter_id_fkey; Type: FK CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.photo_reports
    ADD CONSTRAINT photo_reports_reporter_id_fkey FOREIGN KEY (reporter_id) REFERENCES auth.users(id) ON DELETE CASCADE;


--
-- Name: premium_purchases premium_purchases_event_id_fkey; Type: FK CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.premium_purchases
    ADD CONSTRAINT premium_purchases_event_id_fkey FOREIGN KEY (event_id) REFERENCES public.events(id) ON DELETE SET NULL;


--
-- Name: push_deliveries push_deliveries_event_id_fkey; Type: FK CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.push_deliveries
    ADD CONSTRAINT push_deliveries_event_id_fkey FOREIGN KEY (event_id) REFERENCES public.events(id) ON DELETE CASCADE;


--
-- Name: push_deliveries push_deliveries_user_id_fkey; Type: FK CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.push_deliveries
    ADD CONSTRAINT push_deliveries_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;


--
-- Name: reveals reveals_event_id_fkey; Type: FK CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.reveals
    ADD CONSTRAINT reveals_event_id_fkey FOREIGN KEY (event_id) REFERENCES public.events(id) ON DELETE CASCADE;


--
-- Name: tickets tickets_session_id_fkey; Type: FK CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.tickets
    ADD CONSTRAINT tickets_session_id_fkey FOREIGN KEY (session_id) REFERENCES auth.sessions(id) ON DELETE CASCADE;


--
-- Name: tickets tickets_user_id_fkey; Type: FK CONSTRAINT; Schema: momento; Owner: -
--

ALTER TABLE ONLY momento.tickets
    ADD CONSTRAINT tickets_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;


--
-- Name: event_members event_members_event_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.event_members
    ADD CONSTRAINT event_members_event_id_fkey FOREIGN KEY (event_id) REFERENCES public.events(id) ON DELETE CASCADE;


--
-- Name: event_members event_members_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.event_members
    ADD CONSTRAINT event_members_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id);


--
-- Name: events events_creator_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events
    ADD CONSTRAINT events_creator_id_fkey FOREIGN KEY (creator_id) REFERENCES auth.users(id);


--
-- Name: photo_likes photo_likes_photo_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.photo_likes
    ADD CONSTRAINT photo_likes_photo_id_fkey FOREIGN KEY (photo_id) REFERENCES public.photos(id) ON DELETE CASCADE;


--
-- Name: photo_likes photo_likes_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.photo_likes
    ADD CONSTRAINT photo_likes_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id);


--
-- Name: photo_media photo_media_photo_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.photo_media
    ADD CONSTRAINT photo_media_photo_id_fkey FOREIGN KEY (photo_id) REFERENCES public.photos(id) ON DELETE CASCADE;


--
-- Name: photos photos_event_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.photos
    ADD CONSTRAINT photos_event_id_fkey FOREIGN KEY (event_id) REFERENCES public.events(id) ON DELETE CASCADE;


--
-- Name: photos photos_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.photos
    ADD CONSTRAINT photos_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id);


--
-- Name: procrastinate_events procrastinate_events_job_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.procrastinate_events
    ADD CONSTRAINT procrastinate_events_job_id_fkey FOREIGN KEY (job_id) REFERENCES public.procrastinate_jobs(id) ON DELETE CASCADE;


--
-- Name: procrastinate_jobs procrastinate_jobs_worker_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.procrastinate_jobs
    ADD CONSTRAINT procrastinate_jobs_worker_id_fkey FOREIGN KEY (worker_id) REFERENCES public.procrastinate_workers(id) ON DELETE SET NULL;


--
-- Name: procrastinate_periodic_defers procrastinate_periodic_defers_job_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.procrastinate_periodic_defers
    ADD CONSTRAINT procrastinate_periodic_defers_job_id_fkey FOREIGN KEY (job_id) REFERENCES public.procrastinate_jobs(id);


--
-- Name: profiles profiles_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.profiles
    ADD CONSTRAINT profiles_id_fkey FOREIGN KEY (id) REFERENCES auth.users(id);


--
-- Name: changes; Type: ROW SECURITY; Schema: momento; Owner: -
--

ALTER TABLE momento.changes ENABLE ROW LEVEL SECURITY;

--
-- Name: changes_horizon; Type: ROW SECURITY; Schema: momento; Owner: -
--

ALTER TABLE momento.changes_horizon ENABLE ROW LEVEL SECURITY;

--
-- Name: deleted_files; Type: ROW SECURITY; Schema: momento; Owner: -
--

ALTER TABLE momento.deleted_files ENABLE ROW LEVEL SECURITY;

--
-- Name: file_purges; Type: ROW SECURITY; Schema: momento; Owner: -
--

ALTER TABLE momento.file_purges ENABLE ROW LEVEL SECURITY;

--
-- Name: host_entitlements; Type: ROW SECURITY; Schema: momento; Owner: -
--

ALTER TABLE momento.host_entitlements ENABLE ROW LEVEL SECURITY;

--
-- Name: premium_purchases; Type: ROW SECURITY; Schema: momento; Owner: -
--

ALTER TABLE momento.premium_purchases ENABLE ROW LEVEL SECURITY;

--
-- Name: revenuecat_events; Type: ROW SECURITY; Schema: momento; Owner: -
--

ALTER TABLE momento.revenuecat_events ENABLE ROW LEVEL SECURITY;

--
-- Name: photo_media Media details are visible with their photo.; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY "Media details are visible with their photo." ON public.photo_media FOR SELECT TO authenticated USING ((EXISTS ( SELECT 1
   FROM public.photos p
  WHERE (p.id = photo_media.photo_id))));


--
-- Name: photos Members can add their own photos to their events.; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY "Members can add their own photos to their events." ON public.photos FOR INSERT TO authenticated WITH CHECK (((user_id = ( SELECT auth.uid() AS uid)) AND (event_id IN ( SELECT private.my_event_ids() AS my_event_ids))));


--
-- Name: event_members Members can leave an event, except its creator.; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY "Members can leave an event, except its creator." ON public.event_members FOR DELETE TO authenticated USING (((user_id = ( SELECT auth.uid() AS uid)) AND (NOT private.is_event_creator(event_id))));


--
-- Name: events Members can read the events they belong to.; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY "Members can read the events they belong to." ON public.events FOR SELECT TO authenticated USING (((NOT is_deleted) AND ((creator_id = ( SELECT auth.uid() AS uid)) OR (id = ANY (ARRAY( SELECT private.my_event_ids() AS my_event_ids))))));


--
-- Name: event_members Members can see who else is in their events.; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY "Members can see who else is in their events." ON public.event_members FOR SELECT TO authenticated USING ((event_id IN ( SELECT private.my_event_ids() AS my_event_ids)));


--
-- Name: photos Members see their own photos, and everyone's once revealed.; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY "Members see their own photos, and everyone's once revealed." ON public.photos FOR SELECT TO authenticated USING (((user_id = ( SELECT auth.uid() AS uid)) OR ((upload_status = 'uploaded'::text) AND (is_flagged IS NOT TRUE) AND (event_id IN ( SELECT private.my_revealed_event_ids() AS my_revealed_event_ids)) AND (NOT (id IN ( SELECT private.my_reported_photo_ids() AS my_reported_photo_ids))))));


--
-- Name: events Only the creator can update an event.; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY "Only the creator can update an event." ON public.events FOR UPDATE TO authenticated USING (((creator_id = ( SELECT auth.uid() AS uid)) AND (NOT is_deleted))) WITH CHECK ((creator_id = ( SELECT auth.uid() AS uid)));


--
-- Name: photos Only the owner can delete a photo.; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY "Only the owner can delete a photo." ON public.photos FOR DELETE TO authenticated USING ((user_id = ( SELECT auth.uid() AS uid)));


--
-- Name: photo_media Owners describe their own uploads.; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY "Owners describe their own uploads." ON public.photo_media FOR INSERT TO authenticated WITH CHECK ((EXISTS ( SELECT 1
   FROM public.photos p
  WHERE ((p.id = photo_media.photo_id) AND (p.user_id = ( SELECT auth.uid() AS uid))))));


--
-- Name: profiles Signed-in users can read any profile.; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY "Signed-in users can read any profile." ON public.profiles FOR SELECT TO authenticated USING (true);


--
-- Name: events Signed-up users can create events as themselves.; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY "Signed-up users can create events as themselves." ON public.events FOR INSERT TO authenticated WITH CHECK (((creator_id = ( SELECT auth.uid() AS uid)) AND (NOT ( SELECT private.is_guest() AS is_guest))));


--
-- Name: photo_likes Users can like photos they can see, as themselves.; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY "Users can like photos they can see, as themselves." ON public.photo_likes FOR INSERT TO authenticated WITH CHECK (((user_id = ( SELECT auth.uid() AS uid)) AND (EXISTS ( SELECT 1
   FROM public.photos p
  WHERE ((p.id = photo_likes.photo_id) AND (p.upload_status = 'uploaded'::text) AND (NOT p.is_flagged))))));


--
-- Name: photo_likes Users can read their own likes.; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY "Users can read their own likes." ON public.photo_likes FOR SELECT TO authenticated USING ((user_id = ( SELECT auth.uid() AS uid)));


--
-- Name: photo_likes Users can remove their own likes.; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY "Users can remove their own likes." ON public.photo_likes FOR DELETE TO authenticated USING ((user_id = ( SELECT auth.uid() AS uid)));


--
-- Name: profiles Users can update their own profile only.; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY "Users can update their own profile only." ON public.profiles FOR UPDATE TO authenticated USING ((id = ( SELECT auth.uid() AS uid))) WITH CHECK ((id = ( SELECT auth.uid() AS uid)));


--
-- Name: event_members; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.event_members ENABLE ROW LEVEL SECURITY;

--
-- Name: events; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.events ENABLE ROW LEVEL SECURITY;

--
-- Name: photo_likes; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.photo_likes ENABLE ROW LEVEL SECURITY;

--
-- Name: photo_media; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.photo_media ENABLE ROW LEVEL SECURITY;

--
-- Name: photos; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.photos ENABLE ROW LEVEL SECURITY;

--
-- Name: procrastinate_events; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.procrastinate_events ENABLE ROW LEVEL SECURITY;

--
-- Name: procrastinate_jobs; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.procrastinate_jobs ENABLE ROW LEVEL SECURITY;

--
-- Name: procrastinate_periodic_defers; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.procrastinate_periodic_defers ENABLE ROW LEVEL SECURITY;

--
-- Name: procrastinate_workers; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.procrastinate_workers ENABLE ROW LEVEL SECURITY;

--
-- Name: profiles; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;

--
-- Name: SCHEMA auth; Type: ACL; Schema: -; Owner: -
--

GRANT USAGE ON SCHEMA auth TO anon;
GRANT USAGE ON SCHEMA auth TO authenticated;
GRANT USAGE ON SCHEMA auth TO service_role;


--
-- Name: SCHEMA private; Type: ACL; Schema: -; Owner: -
--

GRANT USAGE ON SCHEMA private TO authenticated;
GRANT USAGE ON SCHEMA private TO service_role;


--
-- Name: SCHEMA public; Type: ACL; Schema: -; Owner: -
--

REVOKE USAGE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO anon;
GRANT USAGE ON SCHEMA public TO authenticated;
GRANT USAGE ON SCHEMA public TO service_role;


--
-- Name: FUNCTION email(); Type: ACL; Schema: auth; Owner: -
--

REVOKE ALL ON FUNCTION auth.email() FROM PUBLIC;
GRANT ALL ON FUNCTION auth.email() TO anon;
GRANT ALL ON FUNCTION auth.email() TO authenticated;
GRANT ALL ON FUNCTION auth.email() TO service_role;


--
-- Name: FUNCTION jwt(); Type: ACL; Schema: auth; Owner: -
--

REVOKE ALL ON FUNCTION auth.jwt() FROM PUBLIC;
GRANT ALL ON FUNCTION auth.jwt() TO anon;
GRANT ALL ON FUNCTION auth.jwt() TO authenticated;
GRANT ALL ON FUNCTION auth.jwt() TO service_role;


--
-- Name: FUNCTION role(); Type: ACL; Schema: auth; Owner: -
--

REVOKE ALL ON FUNCTION auth.role() FROM PUBLIC;
GRANT ALL ON FUNCTION auth.role() TO anon;
GRANT ALL ON FUNCTION auth.role() TO authenticated;
GRANT ALL ON FUNCTION auth.role() TO service_role;


--
-- Name: FUNCTION uid(); Type: ACL; Schema: auth; Owner: -
--

REVOKE ALL ON FUNCTION auth.uid() FROM PUBLIC;
GRANT ALL ON FUNCTION auth.uid() TO anon;
GRANT ALL ON FUNCTION auth.uid() TO authenticated;
GRANT ALL ON FUNCTION auth.uid() TO service_role;


--
-- Name: FUNCTION feed_page(p_claims text, p_event uuid, p_after_ts timestamp with time zone, p_after_id uuid, p_limit integer); Type: ACL; Schema: momento; Owner: -
--

REVOKE ALL ON FUNCTION momento.feed_page(p_claims text, p_event uuid, p_after_ts timestamp with time zone, p_after_id uuid, p_limit integer) FROM PUBLIC;


--
-- Name: FUNCTION liked_page(p_claims text, p_event uuid, p_before_ts timestamp with time zone, p_before_id uuid, p_limit integer); Type: ACL; Schema: momento; Owner: -
--

REVOKE ALL ON FUNCTION momento.liked_page(p_claims text, p_event uuid, p_before_ts timestamp with time zone, p_before_id uuid, p_limit integer) FROM PUBLIC;


--
-- Name: FUNCTION report_photo(p_claims text, p_photo uuid, p_reason text, p_reports_to_hide integer); Type: ACL; Schema: momento; Owner: -
--

REVOKE ALL ON FUNCTION momento.report_photo(p_claims text, p_photo uuid, p_reason text, p_reports_to_hide integer) FROM PUBLIC;


--
-- Name: FUNCTION add_creator_as_member(); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.add_creator_as_member() FROM PUBLIC;


--
-- Name: FUNCTION add_event_photo_totals(); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.add_event_photo_totals() FROM PUBLIC;


--
-- Name: FUNCTION announce_deleted_files(p_prefixes text[]); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.announce_deleted_files(p_prefixes text[]) FROM PUBLIC;


--
-- Name: FUNCTION count_likes(); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.count_likes() FROM PUBLIC;


--
-- Name: FUNCTION delete_account(p_user uuid); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.delete_account(p_user uuid) FROM PUBLIC;


--
-- Name: FUNCTION event_premium_state(p_event uuid, p_creator uuid, p_created timestamp with time zone); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.event_premium_state(p_event uuid, p_creator uuid, p_created timestamp with time zone) FROM PUBLIC;


--
-- Name: FUNCTION events_deleted(); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.events_deleted() FROM PUBLIC;


--
-- Name: FUNCTION guard_event_update(); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.guard_event_update() FROM PUBLIC;


--
-- Name: FUNCTION handle_new_user(); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.handle_new_user() FROM PUBLIC;


--
-- Name: FUNCTION host_covers(p_creator uuid, p_created timestamp with time zone); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.host_covers(p_creator uuid, p_created timestamp with time zone) FROM PUBLIC;


--
-- Name: FUNCTION is_event_creator(p_event uuid); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.is_event_creator(p_event uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION private.is_event_creator(p_event uuid) TO authenticated;
GRANT ALL ON FUNCTION private.is_event_creator(p_event uuid) TO service_role;


--
-- Name: FUNCTION is_guest(); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.is_guest() FROM PUBLIC;
GRANT ALL ON FUNCTION private.is_guest() TO authenticated;
GRANT ALL ON FUNCTION private.is_guest() TO service_role;


--
-- Name: FUNCTION my_event_ids(); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.my_event_ids() FROM PUBLIC;
GRANT ALL ON FUNCTION private.my_event_ids() TO authenticated;
GRANT ALL ON FUNCTION private.my_event_ids() TO service_role;


--
-- Name: FUNCTION my_photo_event_ids(); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.my_photo_event_ids() FROM PUBLIC;
GRANT ALL ON FUNCTION private.my_photo_event_ids() TO authenticated;
GRANT ALL ON FUNCTION private.my_photo_event_ids() TO service_role;


--
-- Name: FUNCTION my_reported_photo_ids(); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.my_reported_photo_ids() FROM PUBLIC;
GRANT ALL ON FUNCTION private.my_reported_photo_ids() TO authenticated;
GRANT ALL ON FUNCTION private.my_reported_photo_ids() TO service_role;


--
-- Name: FUNCTION my_revealed_event_ids(); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.my_revealed_event_ids() FROM PUBLIC;
GRANT ALL ON FUNCTION private.my_revealed_event_ids() TO authenticated;
GRANT ALL ON FUNCTION private.my_revealed_event_ids() TO service_role;


--
-- Name: FUNCTION new_join_code(); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.new_join_code() FROM PUBLIC;
GRANT ALL ON FUNCTION private.new_join_code() TO authenticated;
GRANT ALL ON FUNCTION private.new_join_code() TO service_role;


--
-- Name: FUNCTION photos_deleted(); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.photos_deleted() FROM PUBLIC;


--
-- Name: FUNCTION premium_for_host_events(); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.premium_for_host_events() FROM PUBLIC;


--
-- Name: FUNCTION queue_apple_revoke(); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.queue_apple_revoke() FROM PUBLIC;


--
-- Name: FUNCTION queue_purge_event(p_event uuid); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.queue_purge_event(p_event uuid) FROM PUBLIC;


--
-- Name: FUNCTION realtime_events(); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.realtime_events() FROM PUBLIC;


--
-- Name: FUNCTION realtime_members(); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.realtime_members() FROM PUBLIC;


--
-- Name: FUNCTION realtime_photo_deleting(); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.realtime_photo_deleting() FROM PUBLIC;


--
-- Name: FUNCTION realtime_photos(); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.realtime_photos() FROM PUBLIC;


--
-- Name: FUNCTION realtime_sessions(); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.realtime_sessions() FROM PUBLIC;


--
-- Name: FUNCTION record_change(p_event uuid, p_kind text, p_photo uuid, p_user uuid, p_reason text, p_reporters uuid[]); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.record_change(p_event uuid, p_kind text, p_photo uuid, p_user uuid, p_reason text, p_reporters uuid[]) FROM PUBLIC;


--
-- Name: FUNCTION record_file_purges(); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.record_file_purges() FROM PUBLIC;


--
-- Name: FUNCTION refresh_creator_premium(p_user uuid); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.refresh_creator_premium(p_user uuid) FROM PUBLIC;


--
-- Name: FUNCTION refresh_event_premium(p_event uuid); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.refresh_event_premium(p_event uuid) FROM PUBLIC;


--
-- Name: FUNCTION refresh_expired_entitlements(); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.refresh_expired_entitlements() FROM PUBLIC;


--
-- Name: FUNCTION reset_like_counts(); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.reset_like_counts() FROM PUBLIC;


--
-- Name: FUNCTION set_photo_username(); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.set_photo_username() FROM PUBLIC;


--
-- Name: FUNCTION sync_photo_usernames(); Type: ACL; Schema: private; Owner: -
--

REVOKE ALL ON FUNCTION private.sync_photo_usernames() FROM PUBLIC;


--
-- Name: FUNCTION delete_event(p_event uuid); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.delete_event(p_event uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION public.delete_event(p_event uuid) TO authenticated;


--
-- Name: FUNCTION event_photo_counts(p_events uuid[]); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.event_photo_counts(p_events uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION public.event_photo_counts(p_events uuid[]) TO authenticated;
GRANT ALL ON FUNCTION public.event_photo_counts(p_events uuid[]) TO service_role;


--
-- Name: FUNCTION event_reports(p_event uuid, p_after_ts timestamp with time zone, p_after_id uuid, p_limit integer); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.event_reports(p_event uuid, p_after_ts timestamp with time zone, p_after_id uuid, p_limit integer) FROM PUBLIC;
GRANT ALL ON FUNCTION public.event_reports(p_event uuid, p_after_ts timestamp with time zone, p_after_id uuid, p_limit integer) TO authenticated;


--
-- Name: FUNCTION hide_photo(p_photo uuid); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.hide_photo(p_photo uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION public.hide_photo(p_photo uuid) TO authenticated;


--
-- Name: FUNCTION join_event(p_code text); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.join_event(p_code text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.join_event(p_code text) TO authenticated;


--
-- Name: FUNCTION leave_event(p_event uuid, p_remove_photos boolean); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.leave_event(p_event uuid, p_remove_photos boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION public.leave_event(p_event uuid, p_remove_photos boolean) TO authenticated;


--
-- Name: FUNCTION procrastinate_cancel_job_v1(job_id bigint, abort boolean, delete_job boolean); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.procrastinate_cancel_job_v1(job_id bigint, abort boolean, delete_job boolean) FROM PUBLIC;


--
-- Name: FUNCTION procrastinate_defer_jobs_v1(jobs public.procrastinate_job_to_defer_v1[]); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.procrastinate_defer_jobs_v1(jobs public.procrastinate_job_to_defer_v1[]) FROM PUBLIC;


--
-- Name: FUNCTION procrastinate_defer_periodic_job_v2(_queue_name character varying, _lock character varying, _queueing_lock character varying, _task_name character varying, _priority integer, _periodic_id character varying, _defer_timestamp bigint, _args jsonb); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.procrastinate_defer_periodic_job_v2(_queue_name character varying, _lock character varying, _queueing_lock character varying, _task_name character varying, _priority integer, _periodic_id character varying, _defer_timestamp bigint, _args jsonb) FROM PUBLIC;


--
-- Name: FUNCTION procrastinate_fetch_job_v2(target_queue_names character varying[], p_worker_id bigint); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.procrastinate_fetch_job_v2(target_queue_names character varying[], p_worker_id bigint) FROM PUBLIC;


--
-- Name: FUNCTION procrastinate_finish_job_v1(job_id bigint, end_status public.procrastinate_job_status, delete_job boolean); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.procrastinate_finish_job_v1(job_id bigint, end_status public.procrastinate_job_status, delete_job boolean) FROM PUBLIC;


--
-- Name: FUNCTION procrastinate_notify_queue_abort_job_v1(); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.procrastinate_notify_queue_abort_job_v1() FROM PUBLIC;


--
-- Name: FUNCTION procrastinate_notify_queue_job_inserted_v1(); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.procrastinate_notify_queue_job_inserted_v1() FROM PUBLIC;


--
-- Name: FUNCTION procrastinate_prune_stalled_workers_v1(seconds_since_heartbeat double precision); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.procrastinate_prune_stalled_workers_v1(seconds_since_heartbeat double precision) FROM PUBLIC;


--
-- Name: FUNCTION procrastinate_register_worker_v1(); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.procrastinate_register_worker_v1() FROM PUBLIC;


--
-- Name: FUNCTION procrastinate_retry_job_v1(job_id bigint, retry_at timestamp with time zone, new_priority integer, new_queue_name character varying, new_lock character varying); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.procrastinate_retry_job_v1(job_id bigint, retry_at timestamp with time zone, new_priority integer, new_queue_name character varying, new_lock character varying) FROM PUBLIC;


--
-- Name: FUNCTION procrastinate_retry_job_v2(job_id bigint, retry_at timestamp with time zone, new_priority integer, new_queue_name character varying, new_lock character varying); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.procrastinate_retry_job_v2(job_id bigint, retry_at timestamp with time zone, new_priority integer, new_queue_name character varying, new_lock character varying) FROM PUBLIC;


--
-- Name: FUNCTION procrastinate_trigger_abort_requested_events_procedure_v1(); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.procrastinate_trigger_abort_requested_events_procedure_v1() FROM PUBLIC;


--
-- Name: FUNCTION procrastinate_trigger_function_scheduled_events_v1(); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.procrastinate_trigger_function_scheduled_events_v1() FROM PUBLIC;


--
-- Name: FUNCTION procrastinate_trigger_function_status_events_insert_v1(); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.procrastinate_trigger_function_status_events_insert_v1() FROM PUBLIC;


--
-- Name: FUNCTION procrastinate_trigger_function_status_events_update_v1(); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.procrastinate_trigger_function_status_events_update_v1() FROM PUBLIC;


--
-- Name: FUNCTION procrastinate_unlink_periodic_defers_v1(); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.procrastinate_unlink_periodic_defers_v1() FROM PUBLIC;


--
-- Name: FUNCTION procrastinate_unregister_worker_v1(worker_id bigint); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.procrastinate_unregister_worker_v1(worker_id bigint) FROM PUBLIC;


--
-- Name: FUNCTION procrastinate_update_heartbeat_v1(worker_id bigint); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.procrastinate_update_heartbeat_v1(worker_id bigint) FROM PUBLIC;


--
-- Name: FUNCTION restore_photo(p_photo uuid); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.restore_photo(p_photo uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION public.restore_photo(p_photo uuid) TO authenticated;


--
-- Name: FUNCTION retry_photo(p_photo uuid, p_type text, p_size bigint); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.retry_photo(p_photo uuid, p_type text, p_size bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION public.retry_photo(p_photo uuid, p_type text, p_size bigint) TO authenticated;


--
-- Name: FUNCTION rotate_join_code(p_event uuid); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.rotate_join_code(p_event uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION public.rotate_join_code(p_event uuid) TO authenticated;


--
-- Name: TABLE event_members; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,DELETE ON TABLE public.event_members TO authenticated;
GRANT ALL ON TABLE public.event_members TO service_role;


--
-- Name: TABLE events; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT ON TABLE public.events TO authenticated;
GRANT ALL ON TABLE public.events TO service_role;


--
-- Name: COLUMN events.name; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(name),UPDATE(name) ON TABLE public.events TO authenticated;


--
-- Name: COLUMN events.creator_id; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(creator_id) ON TABLE public.events TO authenticated;


--
-- Name: COLUMN events.starts_at; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(starts_at),UPDATE(starts_at) ON TABLE public.events TO authenticated;


--
-- Name: COLUMN events.release_at; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(release_at),UPDATE(release_at) ON TABLE public.events TO authenticated;


--
-- Name: COLUMN events.web_guests; Type: ACL; Schema: public; Owner: -
--

GRANT UPDATE(web_guests) ON TABLE public.events TO authenticated;


--
-- Name: TABLE photo_likes; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,DELETE ON TABLE public.photo_likes TO authenticated;
GRANT ALL ON TABLE public.photo_likes TO service_role;


--
-- Name: COLUMN photo_likes.photo_id; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(photo_id) ON TABLE public.photo_likes TO authenticated;


--
-- Name: COLUMN photo_likes.user_id; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(user_id) ON TABLE public.photo_likes TO authenticated;


--
-- Name: TABLE photo_media; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT ON TABLE public.photo_media TO authenticated;
GRANT ALL ON TABLE public.photo_media TO service_role;


--
-- Name: COLUMN photo_media.photo_id; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(photo_id) ON TABLE public.photo_media TO authenticated;


--
-- Name: COLUMN photo_media.declared_type; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(declared_type) ON TABLE public.photo_media TO authenticated;


--
-- Name: COLUMN photo_media.declared_size; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(declared_size) ON TABLE public.photo_media TO authenticated;


--
-- Name: TABLE photos; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,DELETE ON TABLE public.photos TO authenticated;
GRANT ALL ON TABLE public.photos TO service_role;


--
-- Name: COLUMN photos.id; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(id) ON TABLE public.photos TO authenticated;


--
-- Name: COLUMN photos.event_id; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(event_id) ON TABLE public.photos TO authenticated;


--
-- Name: COLUMN photos.user_id; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(user_id) ON TABLE public.photos TO authenticated;


--
-- Name: COLUMN photos.storage_path; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(storage_path) ON TABLE public.photos TO authenticated;


--
-- Name: COLUMN photos.captured_at; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(captured_at) ON TABLE public.photos TO authenticated;


--
-- Name: TABLE profiles; Type: ACL; Schema: public; Owner: -
--

GRANT ALL ON TABLE public.profiles TO service_role;


--
-- Name: COLUMN profiles.id; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(id) ON TABLE public.profiles TO authenticated;


--
-- Name: COLUMN profiles.username; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(username),UPDATE(username) ON TABLE public.profiles TO authenticated;


--
-- Name: COLUMN profiles.display_name; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(display_name),UPDATE(display_name) ON TABLE public.profiles TO authenticated;


--
-- Name: COLUMN profiles.avatar_url; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(avatar_url),UPDATE(avatar_url) ON TABLE public.profiles TO authenticated;


--
-- Name: COLUMN profiles.device_token; Type: ACL; Schema: public; Owner: -
--

GRANT UPDATE(device_token) ON TABLE public.profiles TO authenticated;


--
-- Name: COLUMN profiles.created_at; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT(created_at) ON TABLE public.profiles TO authenticated;


--
-- Name: DEFAULT PRIVILEGES FOR FUNCTIONS; Type: DEFAULT ACL; Schema: -; Owner: -
--

ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER REVOKE ALL ON FUNCTIONS FROM PUBLIC;
