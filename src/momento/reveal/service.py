"""The push jobs' work: who gets which notification, sent once, outcomes recorded.

Every notification to one device of one member is a row of momento.push_deliveries, keyed by
(kind, event, ref, member, device token). A run claims its rows by inserting them; what
another run (a retry, a second worker) already inserted is not claimed again, so each device
gets one notification. Rows stay 'sending' while in flight; a run that finds rows left
'sending' for longer than the lease (their worker died before recording the answers)
claims and sends them again, with the same apns-id and apns-collapse-id, so that a device which
did get the first one shows one notification, not two. The lease is the setting
`push_sending_lease` (MOMENTO_PUSH_SENDING_LEASE, seconds).

Before claiming anything a run asks the sender whether it can send now (`Sender.ready()`):
when it cannot (APNs unreachable, the sender misconfigured), the run claims nothing and raises
`PushChannelDown`, and the job waits in the queue (see `tasks.PushRetry`) for as long as the
notification is news (`until`): the reveal up to a day after release_at (the safety net's
window), "joined" up to a day after the member joined, "new photos" up to a day after the
newest photo of the batch was processed.

The answers: delivered, invalid_token (the member's device token is cleared, unless they
registered another one since), failed (other 4xx: recorded, not retried) and retry_exhausted
(429/5xx/network after the sender's retries: recorded as failed).

"New photos added" (decision): announced before the reveal ("developing": members know more
is coming) and after it (photos arrive until release_at plus the upload grace), never within
`REVEAL_QUIET` seconds of release_at (the reveal's own notification is the news then), and
the uploads from before the reveal are never announced after it (the reveal showed them).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, LiteralString

from momento import logs
from momento.analytics import events as analytics_events
from momento.db.pool import Conn
from momento.push.apns import Notification, PushUnavailable, SendResult
from momento.reveal import scheduling

if TYPE_CHECKING:
    # For types only: the kernel imports the job queue, which imports this module's tasks.
    from momento.services import Services

log = logs.get("momento.reveal")

REVEAL_BODY = "Your photos are ready to reveal!"
JOINED_BODY = "Someone joined your Momento"
NEW_PHOTOS_BODY = "New photos added"

# No "New photos added" this close to release_at (either side).
REVEAL_QUIET = timedelta(seconds=60)
# Runs that try one notification APNs keeps refusing with 429/5xx (the job's own retries).
MAX_ATTEMPTS = 5
# The safety net sends the reveals of events released at least this long ago (the scheduled
# job should have) and at most a day ago (older ones are history, not news).
SAFETY_NET_GRACE = timedelta(seconds=60)
SAFETY_NET_WINDOW = timedelta(days=1)
# How long a "joined" or "new photos" notification is still worth sending (APNs down meanwhile).
NEWS_WINDOW = timedelta(days=1)

_APNS_ID_NAMESPACE = uuid.UUID("5b0c5d0e-6a43-4cfb-9b8e-3f1f2b7a9d11")

EVENT: LiteralString = """
SELECT e.id, e.name, e.creator_id, e.release_at, coalesce(e.is_deleted, false) AS is_deleted,
  now() AS now
FROM public.events e
WHERE e.id = %(event_id)s
"""

START_REVEAL: LiteralString = """
INSERT INTO momento.reveals (event_id, member_count, photo_count)
VALUES (
  %(event_id)s,
  (SELECT count(*) FROM public.event_members m WHERE m.event_id = %(event_id)s),
  coalesce((SELECT t.photo_count FROM momento.event_photo_totals t
            WHERE t.event_id = %(event_id)s), 0))
ON CONFLICT (event_id) DO NOTHING
"""

# Who gets a notification, per kind: (user_id, device_token) rows.
REVEAL_RECIPIENTS: LiteralString = """
  SELECT m.user_id, p.device_token
  FROM public.event_members m
  JOIN public.profiles p ON p.id = m.user_id
  WHERE m.event_id = %(event_id)s AND p.device_token IS NOT NULL
"""

CREATOR_RECIPIENT: LiteralString = """
  SELECT e.creator_id AS user_id, p.device_token
  FROM public.events e
  JOIN public.profiles p ON p.id = e.creator_id
  WHERE e.id = %(event_id)s AND p.device_token IS NOT NULL AND e.creator_id <> %(joiner)s
"""

OTHER_MEMBERS: LiteralString = """
  SELECT m.user_id, p.device_token
  FROM public.event_members m
  JOIN public.profiles p ON p.id = m.user_id
  WHERE m.event_id = %(event_id)s AND p.device_token IS NOT NULL
    AND m.user_id <> ALL (%(uploaders)s::uuid[]) AND %(announce)s
"""


# The rows a run sends: the ones it inserts, plus any left 'sending' past the lease and those
# APNs could not take (429/5xx after the sender's retries), up to MAX_ATTEMPTS runs. Two runs
# racing both try the insert; the primary key gives each row to one of them. A stale row is
# taken by an UPDATE, which the other run waits on and then skips (its updated_at is new).
_CLAIM_HEAD: LiteralString = """
WITH recipients AS ("""
_CLAIM_TAIL: LiteralString = """),
inserted AS (
  INSERT INTO momento.push_deliveries (kind, event_id, ref, user_id, device_token)
  SELECT %(kind)s, %(event_id)s, %(ref)s, r.user_id, r.device_token FROM recipients r
  ON CONFLICT DO NOTHING
  RETURNING user_id, device_token
),
reclaimed AS (
  UPDATE momento.push_deliveries d SET attempts = d.attempts + 1, updated_at = now()
  WHERE d.kind = %(kind)s AND d.event_id = %(event_id)s AND d.ref = %(ref)s
    AND ((d.status = 'sending' AND d.updated_at < now() - %(lease)s::interval)
         OR (d.status = 'failed' AND starts_with(d.reason, 'retry_exhausted')
             AND d.attempts < %(max_attempts)s))
  RETURNING d.user_id, d.device_token
)
SELECT user_id, device_token FROM inserted
UNION ALL
SELECT user_id, device_token FROM reclaimed
"""

CLAIM_REVEAL: LiteralString = _CLAIM_HEAD + REVEAL_RECIPIENTS + _CLAIM_TAIL
CLAIM_JOINED: LiteralString = _CLAIM_HEAD + CREATOR_RECIPIENT + _CLAIM_TAIL
CLAIM_NEW_PHOTOS: LiteralString = _CLAIM_HEAD + OTHER_MEMBERS + _CLAIM_TAIL

RECORD: LiteralString = """
UPDATE momento.push_deliveries d
SET status = u.status, apns_id = u.apns_id, reason = u.reason, updated_at = now()
FROM unnest(%(user_ids)s::uuid[], %(tokens)s::text[], %(statuses)s::text[],
            %(apns_ids)s::text[], %(reasons)s::text[])
  AS u(user_id, device_token, status, apns_id, reason)
WHERE d.kind = %(kind)s AND d.event_id = %(event_id)s AND d.ref = %(ref)s
  AND d.user_id = u.user_id AND d.device_token = u.device_token
"""

# Only if the profile still holds that token: the app may have registered a new one since.
CLEAR_TOKENS: LiteralString = """
UPDATE public.profiles p SET device_token = NULL
FROM unnest(%(user_ids)s::uuid[], %(tokens)s::text[]) AS u(user_id, device_token)
WHERE p.id = u.user_id AND p.device_token = u.device_token
"""

FINISH_REVEAL: LiteralString = """
UPDATE momento.reveals r SET finished_at = now()
WHERE r.event_id = %(event_id)s AND r.finished_at IS NULL
  AND NOT EXISTS (
    SELECT 1 FROM momento.push_deliveries d
    WHERE d.kind = 'reveal' AND d.event_id = r.event_id AND d.status = 'sending')
RETURNING r.member_count, r.photo_count
"""

# Revealed within the window, and the reveal never started, or never finished with nothing
# in flight (fresh 'sending' rows belong to a run still at work), and no reveal job running
# or waiting to run again (a job waiting for APNs: it sends when APNs is back).
OVERDUE_REVEALS: LiteralString = """
SELECT e.id
FROM public.events e
LEFT JOIN momento.reveals r ON r.event_id = e.id
WHERE NOT coalesce(e.is_deleted, false)
  AND e.release_at <= now() - %(grace)s::interval
  AND e.release_at > now() - %(window)s::interval
  AND r.finished_at IS NULL
  AND NOT EXISTS (
    SELECT 1 FROM momento.push_deliveries d
    WHERE d.kind = 'reveal' AND d.event_id = e.id AND d.status = 'sending'
      AND d.updated_at >= now() - %(lease)s::interval)
  AND NOT EXISTS (
    SELECT 1 FROM procrastinate_jobs j
    WHERE j.queueing_lock = 'reveal:' || e.id::text AND j.status IN ('todo', 'doing'))
ORDER BY e.release_at
LIMIT 100
"""

# The batch: the event's uploaded photos no batch has covered yet, marked covered now (in the
# transaction that claims the deliveries). Those from before the reveal are covered without
# being announced once it has happened (the reveal showed them).
NEW_PHOTOS_BATCH: LiteralString = """
WITH fresh AS (
  SELECT p.id, p.user_id, pm.processed_at
  FROM public.photos p
  JOIN public.photo_media pm ON pm.photo_id = p.id
  WHERE p.event_id = %(event_id)s AND p.upload_status = 'uploaded'
    AND NOT coalesce(p.is_flagged, false)
    AND NOT EXISTS (SELECT 1 FROM momento.announced_photos a WHERE a.photo_id = p.id)
),
marked AS (
  INSERT INTO momento.announced_photos (photo_id, event_id)
  SELECT f.id, %(event_id)s FROM fresh f
  ON CONFLICT DO NOTHING
)
SELECT coalesce(array_agg(DISTINCT f.user_id) FILTER (WHERE f.processed_at > %(after)s), '{}')
    AS uploaders,
  count(*) FILTER (WHERE f.processed_at > %(after)s) AS photos
FROM fresh f
"""

# And how long until the first of them may be taken over (its lease over), in seconds.
STILL_SENDING: LiteralString = """
SELECT count(*) AS n,
  extract(epoch FROM min(d.updated_at) + %(lease)s::interval - now())::float8 AS lease_left
FROM momento.push_deliveries d
WHERE d.kind = %(kind)s AND d.event_id = %(event_id)s AND d.ref = %(ref)s
  AND d.status = 'sending'
"""

JOINED_AT: LiteralString = """
SELECT coalesce(
  (SELECT m.joined_at FROM public.event_members m
   WHERE m.event_id = %(event_id)s AND m.user_id = %(joiner)s), now()) AS at
"""

# The newest photo this batch would announce (none: now).
NEWEST_UNANNOUNCED: LiteralString = """
SELECT coalesce(max(pm.processed_at), now()) AS at
FROM public.photos p
JOIN public.photo_media pm ON pm.photo_id = p.id
WHERE p.event_id = %(event_id)s AND p.upload_status = 'uploaded'
  AND NOT EXISTS (SELECT 1 FROM momento.announced_photos a WHERE a.photo_id = p.id)
"""


class PushChannelDown(Exception):
    """The sender cannot send now (APNs unreachable, or misconfigured): nothing was claimed,
    the job is run again later, until `until` (after which the notification is no news)."""

    def __init__(self, error: PushUnavailable, until: datetime) -> None:
        super().__init__(str(error))
        self.state = error.state
        self.error = error.error
        self.until = until


@dataclass
class PushRun:
    """What one run of a push job did."""

    outcome: str  # sent, gone (deleted/missing event), not_due, quiet, nothing
    claimed: int = 0
    delivered: int = 0
    invalid_token: int = 0
    failed: int = 0
    retry_later: int = 0  # of the failed: 429/5xx after the sender's retries
    elsewhere: int = 0  # left 'sending' by another run (racing, or dead within its lease)
    lease_left: float | None = None  # seconds until the first of those may be taken over
    finished: bool = False  # reveal: this run marked it finished
    seconds: dict[str, float] = field(default_factory=dict)  # claim, send, record

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "claimed": self.claimed,
            "delivered": self.delivered,
            "invalid_token": self.invalid_token,
            "failed": self.failed,
            "retry_later": self.retry_later,
            "elsewhere": self.elsewhere,
        }


def apns_id(kind: str, event_id: uuid.UUID, ref: str, user_id: uuid.UUID, token: str) -> str:
    """The same apns-id for every attempt at one delivery (traceable in Apple's console)."""
    return str(uuid.uuid5(_APNS_ID_NAMESPACE, f"{kind}:{event_id}:{ref}:{user_id}:{token}"))


def sending_lease(services: Services) -> timedelta:
    """How long a claimed row stays another run's. A live worker is done with a notification
    well within the default 300 s (10 s timeout, 3 retries with backoff); a lease shorter than
    that may send a slow one twice (with the same apns-id: one notification shown)."""
    return timedelta(seconds=services.settings.push_sending_lease)


async def _channel_up(services: Services, until: datetime) -> None:
    """Raises PushChannelDown when the sender cannot send now: checked before any claim, so a
    run while APNs is down takes nothing from the ledger (no attempt spent, nothing held)."""
    try:
        await services.push.ready()
    except PushUnavailable as e:
        log.info("push channel down; the job waits", state=e.state, error=e.error)
        raise PushChannelDown(e, until) from e


async def _event(conn: Conn, event_id: uuid.UUID) -> dict[str, Any] | None:
    cur = await conn.execute(EVENT, {"event_id": event_id})
    row = await cur.fetchone()
    return dict(row) if row is not None else None


async def _deliver(
    services: Services,
    *,
    kind: str,
    event_id: uuid.UUID,
    ref: str,
    claim: LiteralString,
    params: dict[str, Any],
    make: Callable[[uuid.UUID, str], Notification],
) -> PushRun:
    """Claim, send, record: the part every kind shares. `make(user_id, token)` builds one."""
    run = PushRun("sent")
    started = time.perf_counter()
    async with services.db.privileged() as conn:
        claimed = await _claim(conn, claim, kind, event_id, ref, params, sending_lease(services))
    run.seconds["claim"] = time.perf_counter() - started
    await _send(
        services, kind=kind, event_id=event_id, ref=ref, claimed=claimed, make=make, run=run
    )
    return run


async def _claim(
    conn: Conn,
    claim: LiteralString,
    kind: str,
    event_id: uuid.UUID,
    ref: str,
    params: dict[str, Any],
    lease: timedelta,
) -> list[tuple[uuid.UUID, str]]:
    cur = await conn.execute(
        claim,
        {
            "kind": kind,
            "event_id": event_id,
            "ref": ref,
            "lease": lease,
            "max_attempts": MAX_ATTEMPTS,
            **params,
        },
    )
    return [(r["user_id"], r["device_token"]) for r in await cur.fetchall()]


async def _send(
    services: Services,
    *,
    kind: str,
    event_id: uuid.UUID,
    ref: str,
    claimed: list[tuple[uuid.UUID, str]],
    make: Callable[[uuid.UUID, str], Notification],
    run: PushRun,
) -> None:
    run.claimed = len(claimed)
    if not claimed:
        await _count_elsewhere(services, kind, event_id, ref, run)
        return
    notifications = [make(user_id, token) for user_id, token in claimed]
    # Before the answers: which worker holds these rows shows in its log should it die.
    log.info(f"{kind} sending", kind=kind, event_id=str(event_id), ref=ref, claimed=len(claimed))
    sent = time.perf_counter()
    results: list[SendResult] = await services.push.send_many(notifications)
    run.seconds["send"] = time.perf_counter() - sent
    recorded = time.perf_counter()
    statuses: list[str] = []
    invalid_users: list[uuid.UUID] = []
    invalid_tokens: list[str] = []
    for (user_id, token), result in zip(claimed, results, strict=True):
        if result.outcome == "delivered":
            statuses.append("delivered")
            run.delivered += 1
        elif result.outcome == "invalid_token":
            statuses.append("invalid_token")
            invalid_users.append(user_id)
            invalid_tokens.append(token)
            run.invalid_token += 1
        else:
            statuses.append("failed")
            run.failed += 1
            run.retry_later += result.outcome == "retry_exhausted"
    async with services.db.privileged() as conn:
        await conn.execute(
            RECORD,
            {
                "kind": kind,
                "event_id": event_id,
                "ref": ref,
                "user_ids": [u for u, _ in claimed],
                "tokens": [t for _, t in claimed],
                "statuses": statuses,
                "apns_ids": [r.apns_id for r in results],
                "reasons": [
                    r.reason if r.outcome != "retry_exhausted" else f"retry_exhausted: {r.reason}"
                    for r in results
                ],
            },
        )
        if invalid_users:
            await conn.execute(CLEAR_TOKENS, {"user_ids": invalid_users, "tokens": invalid_tokens})
    run.seconds["record"] = time.perf_counter() - recorded
    await _count_elsewhere(services, kind, event_id, ref, run)
    log.info(
        "push sent",
        kind=kind,
        event_id=str(event_id),
        claimed=run.claimed,
        delivered=run.delivered,
        invalid_token=run.invalid_token,
        failed=run.failed,
    )


async def _count_elsewhere(
    services: Services, kind: str, event_id: uuid.UUID, ref: str, run: PushRun
) -> None:
    """Rows of this batch another run holds: the job is tried again later (once their lease
    is over, it sends them itself if that run died)."""
    async with services.db.privileged() as conn:
        cur = await conn.execute(
            STILL_SENDING,
            {"kind": kind, "event_id": event_id, "ref": ref, "lease": sending_lease(services)},
        )
        row = await cur.fetchone()
    run.elsewhere = int(row["n"]) if row else 0
    run.lease_left = float(row["lease_left"]) if row and row["lease_left"] is not None else None


def _notification(
    kind: str,
    event: dict[str, Any],
    ref: str,
    body: str,
    collapse_id: str,
    user_id: uuid.UUID,
    token: str,
) -> Notification:
    event_id: uuid.UUID = event["id"]
    return Notification(
        token,
        title=event["name"],
        body=body,
        sound="default",
        thread_id=str(event_id),
        collapse_id=collapse_id,
        data={"event_id": str(event_id), "type": kind},
        apns_id=apns_id(kind, event_id, ref, user_id, token),
    )


async def run_reveal(services: Services, event_id: uuid.UUID) -> PushRun:
    """The reveal: "Your photos are ready to reveal!" to every member's device, once."""
    async with services.db.privileged() as conn:
        event = await _event(conn, event_id)
        due = event is not None and not event["is_deleted"] and event["release_at"] <= event["now"]
        if due:
            await conn.execute(START_REVEAL, {"event_id": event_id})
    if event is None or event["is_deleted"]:
        log.info("reveal skipped: event gone", event_id=str(event_id))
        return PushRun("gone")
    if not due:
        # Moved later since this job was made: the job for the new time exists, or is made
        # now (the move and its reschedule may have raced this run). Never sent early.
        log.info("reveal not due yet", event_id=str(event_id))
        await scheduling.schedule_reveal(services.jobs, event_id, event["release_at"])
        return PushRun("not_due")

    def make(user_id: uuid.UUID, token: str) -> Notification:
        return _notification("reveal", event, "", REVEAL_BODY, f"reveal-{event_id}", user_id, token)

    await _channel_up(services, event["release_at"] + SAFETY_NET_WINDOW)
    run = await _deliver(
        services,
        kind="reveal",
        event_id=event_id,
        ref="",
        claim=CLAIM_REVEAL,
        params={},
        make=make,
    )
    async with services.db.privileged() as conn:
        cur = await conn.execute(FINISH_REVEAL, {"event_id": event_id})
        finished = await cur.fetchone()
    if finished is not None:
        run.finished = True
        log.info("reveal finished", event_id=str(event_id), **run.as_dict())
        analytics_events.reveal_sent(
            services.analytics,
            event["creator_id"],
            event_id=event_id,
            member_count=int(finished["member_count"]),
            photo_count=int(finished["photo_count"]),
        )
    return run


async def notify_joined(services: Services, event_id: uuid.UUID, joiner: uuid.UUID) -> PushRun:
    """ "Someone joined your Momento" to the creator, once per member joining."""
    async with services.db.privileged() as conn:
        event = await _event(conn, event_id)
    if event is None or event["is_deleted"]:
        return PushRun("gone")
    ref = str(joiner)

    def make(user_id: uuid.UUID, token: str) -> Notification:
        return _notification(
            "joined", event, ref, JOINED_BODY, f"joined-{event_id}", user_id, token
        )

    async with services.db.privileged() as conn:
        cur = await conn.execute(JOINED_AT, {"event_id": event_id, "joiner": joiner})
        joined = await cur.fetchone()
    assert joined is not None
    await _channel_up(services, joined["at"] + NEWS_WINDOW)
    return await _deliver(
        services,
        kind="joined",
        event_id=event_id,
        ref=ref,
        claim=CLAIM_JOINED,
        params={"joiner": joiner},
        make=make,
    )


async def notify_new_photos(services: Services, event_id: uuid.UUID, ref: str) -> PushRun:
    """ "New photos added" to the members who did not upload since the last one.

    `ref` names this batch (the job's id): a retried job sends to nobody twice.
    """
    async with services.db.privileged() as conn:
        event = await _event(conn, event_id)
    if event is None or event["is_deleted"]:
        return PushRun("gone")
    now: datetime = event["now"]
    release_at: datetime = event["release_at"]
    if release_at - REVEAL_QUIET <= now < release_at + REVEAL_QUIET:
        # The reveal minute: its own notification is the news. Uploads made now are
        # announced (if after the reveal) once it is over.
        wait = int((release_at + REVEAL_QUIET - now).total_seconds()) + 1
        await scheduling.photo_added(services.jobs, event_id, max(1, wait))
        return PushRun("quiet")
    # Photos from before the reveal are covered by it: marked, not announced, after it.
    after = release_at if now >= release_at else datetime.min.replace(tzinfo=now.tzinfo)

    def make(user_id: uuid.UUID, token: str) -> Notification:
        return _notification(
            "new_photos", event, ref, NEW_PHOTOS_BODY, f"new-photos-{event_id}", user_id, token
        )

    async with services.db.privileged() as conn:
        cur = await conn.execute(NEWEST_UNANNOUNCED, {"event_id": event_id})
        newest = await cur.fetchone()
    assert newest is not None
    # Before the batch is marked: while the channel is down the photos stay unannounced.
    await _channel_up(services, newest["at"] + NEWS_WINDOW)
    run = PushRun("sent")
    async with services.db.privileged() as conn:
        cur = await conn.execute(NEW_PHOTOS_BATCH, {"event_id": event_id, "after": after})
        batch = await cur.fetchone()
        assert batch is not None
        uploaders: list[uuid.UUID] = list(batch["uploaders"])
        # In the same transaction as the marks: a batch is covered only with its deliveries
        # claimed (a retry of this job finds them, under the same ref).
        claimed = await _claim(
            conn,
            CLAIM_NEW_PHOTOS,
            "new_photos",
            event_id,
            ref,
            {"uploaders": uploaders, "announce": batch["photos"] > 0},
            sending_lease(services),
        )
    if not batch["photos"] and not claimed:
        run.outcome = "nothing"
    await _send(
        services,
        kind="new_photos",
        event_id=event_id,
        ref=ref,
        claimed=claimed,
        make=make,
        run=run,
    )
    return run


async def overdue_reveals(services: Services) -> list[uuid.UUID]:
    async with services.db.privileged() as conn:
        cur = await conn.execute(
            OVERDUE_REVEALS,
            {
                "grace": SAFETY_NET_GRACE,
                "window": SAFETY_NET_WINDOW,
                "lease": sending_lease(services),
            },
        )
        return [r["id"] for r in await cur.fetchall()]
