"""Fixed-window rate limits kept in PostgreSQL, so every API process shares one count.

Used on the few endpoints an attacker would hammer (password login, mailed codes, recovery
mail, joining by code): one upsert per request counts the hit for each key (client address,
account) and returns how long until the window resets, which becomes `Retry-After`. Each key
has its own window (the limiter's by default); a counter row keeps it, so pruning knows when
the row is stale.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from momento.db import Database
from momento.errors import RateLimited

_HIT = """
INSERT INTO momento.rate_limits AS r (key, window_start, hits, seconds)
SELECT k, now(), 1, w FROM unnest(%(keys)s::text[], %(windows)s::int[]) AS x(k, w)
ON CONFLICT (key) DO UPDATE SET
  hits = CASE WHEN r.window_start <= now() - make_interval(secs => excluded.seconds)
              THEN 1 ELSE r.hits + 1 END,
  window_start = CASE WHEN r.window_start <= now() - make_interval(secs => excluded.seconds)
                      THEN now() ELSE r.window_start END,
  seconds = excluded.seconds
RETURNING key, hits,
  ceil(extract(epoch FROM r.window_start + make_interval(secs => r.seconds) - now()))::int
    AS retry_after
"""

# A hit taken back (the attempt turned out not to be what the limit counts, e.g. a correct
# code), unless its window has started over since.
_REFUND = """
UPDATE momento.rate_limits SET hits = hits - 1
WHERE key = ANY(%(keys)s::text[]) AND hits > 0
"""

_PRUNE = """
DELETE FROM momento.rate_limits
WHERE window_start < now() - make_interval(secs => seconds) - interval '1 hour'
"""

# `(key, limit)` counted over the limiter's window, or `(key, limit, window seconds)`.
Limit = tuple[str, int] | tuple[str, int, int]


class RateLimiter:
    def __init__(self, db: Database, window: int) -> None:
        self.db = db
        self.window = window

    async def hit(self, limits: Sequence[Limit], detail: str | None = None) -> None:
        """Count one hit against each limit; raise RateLimited if any is over."""
        if not limits:
            return
        wanted = {lim[0]: lim[1] for lim in limits}
        windows = {lim[0]: self.window if len(lim) == 2 else lim[2] for lim in limits}
        keys = list(wanted)
        async with self.db.privileged() as conn:
            cur = await conn.execute(_HIT, {"keys": keys, "windows": [windows[k] for k in keys]})
            rows = await cur.fetchall()
            if secrets.randbelow(100) == 0:
                await conn.execute(_PRUNE)
        over = [r for r in rows if r["hits"] > wanted[r["key"]]]
        if over:
            raise RateLimited(max(int(r["retry_after"]) for r in over), detail)

    async def refund(self, keys: Sequence[str]) -> None:
        """Take back one hit of each key (counted by `hit` for an attempt that, it turned out,
        the limit does not count)."""
        if keys:
            async with self.db.privileged() as conn:
                await conn.execute(_REFUND, {"keys": list(keys)})
