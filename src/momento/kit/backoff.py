"""Waits that double after each failed attempt, up to a ceiling: one formula for every retry
loop (job retries, the APNs and S3 reconnections, APNs 429/5xx answers); and how a loop that
retries in the background says so."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from structlog.stdlib import BoundLogger

# 2 ** 32 times any first wait is past any ceiling; bounding the exponent keeps a loop that has
# failed for days (an S3 checked every 30 s) from overflowing the float.
_MAX_EXPONENT = 32


def doubling(attempt: int, first: float, cap: float) -> float:
    """`first` seconds after the first failure (attempt 0), doubling, at most `cap`."""
    return min(cap, first * 2.0 ** min(attempt, _MAX_EXPONENT))


def jittered(ceiling: float) -> float:
    """A wait between half of `ceiling` and all of it, so that many clients that failed at once
    do not all come back at once ("equal jitter")."""
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not a secret


def log_retry(
    log: BoundLogger, attempt: int, delay: float, first: str, again: str, **fields: Any
) -> None:
    """A background retry loop's failed `attempt` (counted from 1), retried in `delay`
    seconds: the first is a warning, the next ones are only debug lines."""
    if attempt == 1:
        log.warning(first, **fields, retry_in=round(delay, 1))
    else:
        log.debug(again, **fields, attempt=attempt, retry_in=round(delay, 1))
