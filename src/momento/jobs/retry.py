"""A capped exponential retry for jobs whose failures are outages (storage, the database).

procrastinate's `RetryStrategy(exponential_wait=30)` waits `30 ** (attempts + 1)` seconds:
30 s, 15 min, 7.5 h, 9 days. An outage of a few minutes would then push a job hours out. This
one doubles from `first` up to `cap`, so a job runs again soon after storage is back, and gives
up after `max_attempts` retries (the periodic jobs pick up what is left).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from procrastinate import BaseRetryStrategy, RetryDecision
from procrastinate.jobs import Job

from momento.kit.backoff import doubling


@dataclass(frozen=True)
class CappedBackoff(BaseRetryStrategy):
    """Retry `max_attempts` times, waiting `first` seconds, doubling, at most `cap`.

    `max_attempts` counts retries as procrastinate's `RetryStrategy` does: the job runs at
    most `max_attempts + 1` times.
    """

    first: float = 5.0
    cap: float = 600.0
    max_attempts: int = 8

    def wait(self, attempts: int) -> float:
        """Seconds before the next run, after `attempts` failed runs before this one."""
        return doubling(attempts, self.first, self.cap)

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if job.attempts >= self.max_attempts:
            return None
        return RetryDecision(retry_in={"seconds": math.ceil(self.wait(job.attempts))})
