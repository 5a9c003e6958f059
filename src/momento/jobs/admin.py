"""`momento jobs`: what the queue holds, read straight from procrastinate's tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, LiteralString

if TYPE_CHECKING:
    from momento.services import Services

COUNTS: LiteralString = """
SELECT CASE WHEN status = 'todo' AND scheduled_at > now() THEN 'scheduled'
            WHEN status = 'todo' THEN 'queued'
            WHEN status = 'doing' THEN 'running'
            ELSE status::text END AS state,
  task_name, count(*) AS n
FROM procrastinate_jobs
WHERE status IN ('todo', 'doing', 'failed')
GROUP BY 1, 2
ORDER BY 1, 2
"""

JOBS: LiteralString = """
SELECT id, task_name, queue_name, status::text AS status, scheduled_at, attempts, args,
  queueing_lock
FROM procrastinate_jobs
WHERE (%(state)s = 'scheduled' AND status = 'todo' AND scheduled_at > now())
   OR (%(state)s = 'queued' AND status = 'todo' AND (scheduled_at IS NULL OR scheduled_at <= now()))
   OR (%(state)s = 'running' AND status = 'doing')
   OR (%(state)s = 'failed' AND status = 'failed')
ORDER BY coalesce(scheduled_at, now()), id
LIMIT %(limit)s
"""

STATES = ("running", "queued", "scheduled", "failed")


@dataclass(frozen=True)
class Summary:
    counts: list[dict[str, Any]]
    jobs: dict[str, list[dict[str, Any]]]


async def summary(services: Services, limit: int = 20) -> Summary:
    async with services.db.privileged() as conn:
        cur = await conn.execute(COUNTS)
        counts = await cur.fetchall()
        listed: dict[str, list[dict[str, Any]]] = {}
        for state in STATES:
            cur = await conn.execute(JOBS, {"state": state, "limit": limit})
            listed[state] = await cur.fetchall()
    return Summary(counts, listed)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


def render(s: Summary) -> str:
    lines = []
    totals = {state: 0 for state in STATES}
    for row in s.counts:
        totals[row["state"]] = totals.get(row["state"], 0) + row["n"]
    lines.append("  ".join(f"{state}: {totals[state]}" for state in STATES))
    for state in STATES:
        if not s.jobs[state]:
            continue
        lines.append("")
        lines.append(f"{state}:")
        for j in s.jobs[state]:
            lock = f" lock={j['queueing_lock']}" if j["queueing_lock"] else ""
            lines.append(
                f"  #{j['id']} {j['task_name']} queue={j['queue_name']}"
                f" at={_when(j['scheduled_at'])} attempts={j['attempts']}{lock}"
                f" args={j['args']}"
            )
    return "\n".join(lines)
