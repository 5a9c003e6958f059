-- What the /v1 profiles and events API needs beyond 0002-0004: the photo count an event shows
-- before its reveal ("42 photos developing"), and account deletion in one place.

-- Photo counts for events the caller belongs to (deleted events excluded). The photos policy
-- shows a member only their own photos until the reveal, so a plain count(*) as the user would
-- say "3" where the event holds 42; this counts every photo the reveal will (or may) show:
-- failed uploads and flagged photos are left out, since nobody but their owner will ever see
-- them. Events the caller is not in are absent from the result, like photo_like_counts().
CREATE FUNCTION public.event_photo_counts(p_events uuid[])
RETURNS TABLE (event_id uuid, photo_count bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
  SELECT ev.id,
    (SELECT count(*) FROM public.photos p
     WHERE p.event_id = ev.id
       AND p.upload_status IS DISTINCT FROM 'failed'
       AND NOT coalesce(p.is_flagged, false))
  FROM (SELECT DISTINCT unnest(p_events) AS id) ev
  WHERE ev.id IN (SELECT private.my_event_ids())
$$;

GRANT EXECUTE ON FUNCTION public.event_photo_counts(uuid[]) TO authenticated, service_role;

-- Account deletion (the App Store requires it): everything that is the user's goes, in one
-- transaction. Not granted to any user role: the server calls it as the owner after checking
-- the caller's token, and an admin command may call it too. Returns false when there is no
-- such user.
--
-- Order matters because the references to auth.users do not cascade (except sessions and
-- refresh tokens): likes, photos and memberships go first, then the events the user created
-- (their members, photos and those photos' likes cascade, other people's included: the event
-- is gone), then the profile and the account.
--
-- Photo FILES are not touched here: storage comes in a later issue, which must collect the
-- storage_path of every photo row deleted below (the user's own and those of their events)
-- and remove the objects after commit.
CREATE FUNCTION private.delete_account(p_user uuid) RETURNS boolean
LANGUAGE plpgsql SET search_path = ''
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

REVOKE ALL ON FUNCTION private.delete_account(uuid) FROM PUBLIC;
