"""Fixed-window rate limits kept in PostgreSQL, so every API process shares one count.

Used on the few endpoints an attacker would hammer (password login, recovery mail, joining
by code): one upsert per request counts the hit for each key (client address, account) and
returns how long until the window resets, which becomes `Retry-After`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from momento.db import Database
from momento.errors import RateLimited

_HIT = """
INSERT INTO momento.rate_limits AS r (key, window_start, hits)
SELECT k, now(), 1 FROM unnest(%(keys)s::text[]) AS k
ON CONFLICT (key) DO UPDATE SET
  hits = CASE WHEN r.window_start <= now() - make_interval(secs => %(window)s)
              THEN 1 ELSE r.hits + 1 END,
  window_start = CASE WHEN r.window_start <= now() - make_interval(secs => %(window)s)
                      THEN now() ELSE r.window_start END
RETURNING key, hits,
  ceil(extract(epoch FROM r.window_start + make_interval(secs => %(window)s) - now()))::int
    AS retry_after
"""

_PRUNE = """
DELETE FROM momento.rate_limits
WHERE window_start < now() - make_interval(secs => %(window)s) - interval '1 hour'
"""


class RateLimiter:
    def __init__(self, db: Database, window: int) -> None:
        self.db = db
        self.window = window

    async def hit(self, limits: Sequence[tuple[str, int]], detail: str | None = None) -> None:
        """Count one hit against each `(key, limit)`; raise RateLimited if any is over."""
        if not limits:
            return
        wanted = dict(limits)
        async with self.db.privileged() as conn:
            cur = await conn.execute(_HIT, {"keys": list(wanted), "window": self.window})
            rows = await cur.fetchall()
            if secrets.randbelow(100) == 0:
                await conn.execute(_PRUNE, {"window": self.window})
        over = [r for r in rows if r["hits"] > wanted[r["key"]]]
        if over:
            raise RateLimited(max(int(r["retry_after"]) for r in over), detail)
