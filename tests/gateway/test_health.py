"""Circuit breaker and fixed-rate schedule, on an explicit clock."""

from __future__ import annotations

import random

from gateway.health import Breaker, Schedule


def test_breaker_opens_after_lost_after_failures_and_backs_off() -> None:
    """Two failed polls: lost (once); back-off doubles up to its maximum; the first
    answer recovers (once) and resets the back-off."""
    b = Breaker(lost_after=2, backoff_min_s=0.5, backoff_max_s=4, rng=random.Random(1))
    assert b.failure("timeout") is None
    assert b.failure("timeout") == "lost"
    delays = []
    for _ in range(6):
        assert b.failure("timeout") is None
        delays.append(b.backoff_s)
    assert delays == [1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    assert 3.0 <= b.probe_delay() <= 4.0
    assert b.success() == "recovered"
    assert b.success() is None and b.backoff_s == 0 and not b.lost


def test_schedule_is_fixed_rate_and_skips_missed_slots() -> None:
    """Slots are start + k·period whatever a poll took; an overrun skips slots instead
    of bursting."""
    s = Schedule(period_s=1.0, start=10.0)
    assert s.advance(10.2) == 11.0
    assert s.advance(11.9) == 12.0
    assert s.advance(14.5) == 15.0 and s.skipped == 2
    s.resume(20.3)
    assert s.due == 20.3


def test_jittered_starts_spread_over_one_period() -> None:
    """100 devices with the same period start at different points of the first period."""
    rng = random.Random(7)
    starts = [Schedule.jittered(1.0, 0.0, rng).due for _ in range(100)]
    assert all(0 <= s < 1 for s in starts)
    assert max(starts) - min(starts) > 0.8
