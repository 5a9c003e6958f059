"""The signed-in user's profile, device token, stats and account deletion.

Everything runs as the user (the profiles policies decide) except account deletion, which
removes rows no user may delete and so runs privileged, for the token's own user only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, LiteralString

from psycopg import errors

from momento.analytics import events as analytics_events
from momento.errors import raises
from momento.identity import CurrentUser
from momento.kit import names
from momento.kit.names import InvalidName
from momento.profiles.errors import UsernameTaken, UserNotFound
from momento.profiles.schemas import Profile, ProfileUpdate, Stats

if TYPE_CHECKING:
    from momento.services import Services

# device_token is deliberately absent: users may write it but not read it (column grants).
GET_PROFILE: LiteralString = """
SELECT id, username, display_name, avatar_url, created_at
FROM public.profiles
WHERE id = auth.uid()
"""

# One statement whatever the fields sent; a column not sent is set to itself.
UPDATE_PROFILE: LiteralString = """
UPDATE public.profiles SET
  username = CASE WHEN %(set_username)s THEN %(username)s ELSE username END,
  display_name = CASE WHEN %(set_display_name)s THEN %(display_name)s ELSE display_name END,
  avatar_url = CASE WHEN %(set_avatar_url)s THEN %(avatar_url)s ELSE avatar_url END
WHERE id = auth.uid()
RETURNING id, username, display_name, avatar_url, created_at
"""

SET_DEVICE_TOKEN: LiteralString = """
UPDATE public.profiles SET device_token = %(token)s
WHERE id = auth.uid()
RETURNING id
"""  # noqa: S105 (an SQL statement, not a secret)

# "You're user #47": profiles created at or before mine (design doc, "Computing Stats").
# Memberships are counted as the user: the event_members policy shows only memberships of
# non-deleted events the user is in, and the join on events says so explicitly.
GET_STATS: LiteralString = """
SELECT
  (SELECT count(*) FROM public.profiles p WHERE p.created_at <= me.created_at) AS user_number,
  (SELECT count(*)
   FROM public.event_members m
   JOIN public.events e ON e.id = m.event_id
   WHERE m.user_id = me.id AND NOT e.is_deleted) AS events_joined
FROM public.profiles me
WHERE me.id = auth.uid()
"""

DELETE_ACCOUNT: LiteralString = "SELECT private.delete_account(%(user_id)s) AS deleted"

_USERNAME_CONSTRAINTS = {"profiles_username_key", "idx_profiles_username_lower"}


@raises(UserNotFound)
async def get_profile(services: Services, user: CurrentUser) -> Profile:
    rows = await services.db.user_fetch(user.claims, GET_PROFILE, ())
    if not rows:
        raise UserNotFound()
    return Profile.model_validate(rows[0])


@raises(InvalidName, UserNotFound, UsernameTaken)
async def update_profile(services: Services, user: CurrentUser, update: ProfileUpdate) -> Profile:
    changes = update.changes()
    if changes["set_username"]:
        changes["username"] = names.username(changes["username"])
    if changes["display_name"] is not None:
        changes["display_name"] = names.clean_name(
            changes["display_name"], field="display_name", max_length=names.DISPLAY_NAME_MAX
        )
    async with services.db.as_user(user.claims) as conn:
        try:
            cur = await conn.execute(UPDATE_PROFILE, changes)
            row = await cur.fetchone()
        except errors.UniqueViolation as exc:
            if exc.diag.constraint_name in _USERNAME_CONSTRAINTS:
                raise UsernameTaken() from exc
            raise
    if row is None:
        raise UserNotFound()
    return Profile.model_validate(row)


@raises(UserNotFound)
async def set_device_token(services: Services, user: CurrentUser, token: str | None) -> None:
    async with services.db.as_user(user.claims) as conn:
        cur = await conn.execute(SET_DEVICE_TOKEN, {"token": token})
        row = await cur.fetchone()
    if row is None:
        raise UserNotFound()


@raises(UserNotFound)
async def get_stats(services: Services, user: CurrentUser) -> Stats:
    rows = await services.db.user_fetch(user.claims, GET_STATS, ())
    if not rows:
        raise UserNotFound()
    return Stats.model_validate(rows[0])


@raises(UserNotFound)
async def delete_account(services: Services, user: CurrentUser) -> None:
    """Remove the account and everything that is the user's, in one transaction.

    Privileged because it deletes what no user may delete (the account, other members of
    the user's events); the id comes from the verified token, never from the request.
    Photo files: the triggers of migration 0011 record every deleted photo's and event's
    files in this same transaction and queue `cleanup:purge_files`, which removes them.
    """
    async with services.db.privileged() as conn:
        cur = await conn.execute(DELETE_ACCOUNT, {"user_id": user.id})
        row = await cur.fetchone()
    if row is None or not row["deleted"]:
        raise UserNotFound()
    analytics_events.account_deleted(services.analytics, user.id)
