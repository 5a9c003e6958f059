"""Waits that double after each failed attempt, up to a ceiling: one formula for every retry
loop (job retries, the APNs and S3 reconnections, APNs 429/5xx answers)."""

from __future__ import annotations

import random

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
