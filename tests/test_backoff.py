"""The one doubling wait every retry loop uses."""

from __future__ import annotations

from momento.kit.backoff import doubling, jittered


def test_doubles_from_the_first_wait_up_to_the_cap() -> None:
    assert [doubling(n, 5.0, 60.0) for n in range(6)] == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]


def test_a_loop_failing_for_days_does_not_overflow() -> None:
    # An S3 checked every 30 s for a year is about a million attempts; 2.0 ** 1100 overflows.
    assert doubling(1_000_000, 0.5, 30.0) == 30.0


def test_jitter_stays_between_half_and_all_of_the_ceiling() -> None:
    waits = [jittered(8.0) for _ in range(1000)]
    assert min(waits) >= 4.0
    assert max(waits) <= 8.0
    assert max(waits) - min(waits) > 1.0  # it does vary
