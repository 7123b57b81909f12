"""Circuit breaker and fixed-rate schedule, on an explicit clock."""

from __future__ import annotations

import random

import pytest

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


def test_slots_on_a_shared_grid_let_devices_wake_together() -> None:
    """With a 50 ms tick, every device's slots are multiples of it: 100 devices at 1 Hz
    fall into at most 20 groups due at the same instants (one turn of the event loop
    each), still spread over the whole period; resuming after a loss re-anchors on the
    grid too, and an overrun still skips slots."""
    rng = random.Random(3)
    schedules = [Schedule.jittered(1.0, 1234.5678, rng, tick_s=0.05) for _ in range(100)]
    for s in schedules:
        for _ in range(3):
            assert s.due / 0.05 == pytest.approx(round(s.due / 0.05), abs=1e-6)
            s.advance(s.due + 0.01)
    phases = {round(s.due % 1.0 / 0.05) % 20 for s in schedules}
    assert 10 <= len(phases) <= 20
    starts = sorted(s.start for s in schedules)
    assert starts[-1] - starts[0] > 0.8
    s = schedules[0]
    s.resume(2000.01)
    assert s.due == pytest.approx(2000.05)
    assert s.advance(s.due + 2.5) == s.start + 3.0 and s.skipped == 2
