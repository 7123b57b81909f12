"""Device health and poll timing, as pure state machines on an explicit clock.

:class:`Breaker` is a circuit breaker per device: ``lost_after`` consecutive failed polls
open it (the device is announced lost); while open the device is only probed, at a
back-off that doubles from ``backoff_min_s`` to ``backoff_max_s`` (with jitter, so devices
that died together are not probed together); the first answer closes it (a new birth).
A dead device therefore costs its bus one timeout per back-off period, never one per poll,
and on its own TCP connection it costs the other devices nothing at all.

:class:`Schedule` is a fixed-rate poll schedule: poll k is due at ``start + k * period``
(no drift from the time each poll takes); a poll that overruns skips the missed slots
instead of bursting to catch up.  Slots may be kept on a coarse grid shared by every
device (``tick_s``), so that devices wake together in a few groups per period.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Literal

Transition = Literal["lost", "recovered"] | None


@dataclass
class Breaker:
    lost_after: int = 2
    backoff_min_s: float = 0.5
    backoff_max_s: float = 10.0
    rng: random.Random = field(default_factory=random.Random, repr=False)
    failures: int = 0
    lost: bool = False
    backoff_s: float = 0.0
    reason: str = ""

    def success(self) -> Transition:
        self.failures = 0
        self.backoff_s = 0.0
        if self.lost:
            self.lost, self.reason = False, ""
            return "recovered"
        return None

    def failure(self, reason: str) -> Transition:
        """A failed poll (after its retries).  Returns "lost" when the breaker opens."""
        self.failures += 1
        self.reason = reason
        if self.lost:
            self.backoff_s = min(self.backoff_max_s, max(self.backoff_min_s, self.backoff_s * 2))
            return None
        if self.failures >= self.lost_after:
            self.lost = True
            self.backoff_s = self.backoff_min_s
            return "lost"
        return None

    def probe_delay(self) -> float:
        """Seconds until the next probe of a lost device (jittered: 75..100 % of back-off)."""
        return self.backoff_s * self.rng.uniform(0.75, 1.0)


def on_grid(t: float, tick_s: float) -> float:
    """The first multiple of ``tick_s`` at or after ``t`` (``t`` itself without a tick)."""
    return math.ceil(t / tick_s) * tick_s if tick_s > 0 else t


@dataclass
class Schedule:
    period_s: float
    start: float
    k: int = 0
    skipped: int = 0
    tick_s: float = 0.0

    @classmethod
    def jittered(cls, period_s: float, now: float, rng: random.Random,
                 tick_s: float = 0.0) -> Schedule:
        """First poll at a random point of the first period, so devices with the same
        period do not all hit their buses at the same instant.  With ``tick_s`` (the
        period a multiple of it) every slot is on the clock's grid of that step: devices
        due in the same tick wake in one turn of the event loop, not one turn each."""
        return cls(period_s, on_grid(now + rng.uniform(0.0, period_s), tick_s), tick_s=tick_s)

    @property
    def due(self) -> float:
        return self.start + self.k * self.period_s

    def advance(self, now: float) -> float:
        """After a poll: the next slot strictly after ``now``; returns when it is due."""
        self.k += 1
        if self.due <= now:
            behind = int((now - self.due) // self.period_s) + 1
            self.k += behind
            self.skipped += behind
        return self.due

    def resume(self, now: float) -> None:
        """Re-anchor the slots at ``now`` (after a lost device answers again)."""
        self.start, self.k = on_grid(now, self.tick_s), 0
