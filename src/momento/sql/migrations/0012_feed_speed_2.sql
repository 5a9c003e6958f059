-- The reveal feed's hot path, second pass (bench/reveal.py): the same rules, fewer subqueries.
--
-- A feed page read each photo's blurhash through photo_media's policy (a subquery on photos,
-- itself under the photos policy, per row) and its like count through photo_like_counts()
-- (the reveal rule again). One SECURITY DEFINER function now returns both for the photos the
-- caller can see, applying the reveal rule once: the rule of the photos policy (0004), as
-- photo_like_counts() does; photos the caller cannot see are absent from the result, so their
-- blurhash and count stay hidden as before. photo_like_counts() stays for other callers.
CREATE FUNCTION public.photo_feed_details(p_photos uuid[])
RETURNS TABLE (photo_id uuid, like_count bigint, blurhash text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
  RETURN QUERY
  SELECT p.id, (SELECT count(*) FROM public.photo_likes l WHERE l.photo_id = p.id), m.blurhash
  FROM public.photos p
  LEFT JOIN public.photo_media m ON m.photo_id = p.id
  WHERE p.id = ANY (p_photos)
    AND (
      p.user_id = (SELECT auth.uid())
      OR (
        p.upload_status = 'uploaded'
        AND p.is_flagged IS NOT TRUE
        AND p.event_id IN (SELECT private.my_revealed_event_ids())
      )
    );
END
$$;

REVOKE ALL ON FUNCTION public.photo_feed_details(uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.photo_feed_details(uuid[]) TO authenticated;
