"""Alarm conditioning against chattering: off-delays, analog deadbands, restart hold.

ISA-18.2 / IEC 62682 recommend delays and deadbands so that one upset makes one alarm, not
a burst.  The *on*-delay is the rule engine's grace period (a condition must hold that long
before it is a Violation).  This module adds what happens on the way *out*, between the
engine's answer and the alarm book:

* **off-delay**: when a violation disappears, its alarm stays active for the rule's
  ``off_delay_s`` (site seconds); if it comes back meanwhile nothing happened at all.
* **pending**: a violation whose raw condition still holds (the engine is re-timing its
  on-delay after a blip) keeps its alarm active: that is chatter, not a return to normal.
* **deadband**: an analog alarm (a reading past a limit, e.g. temperature) clears only once
  the reading is back inside the limit it crossed by the deadband; a reading wandering
  around the limit holds the alarm.  The limit comes from ``limits`` (the same parameters
  the rule reads) and the live reading from ``reading``; a reading that is missing or still
  beyond the limit (the rule stopped for another reason, e.g. the room emptied) does not
  hold.
* **restart hold**: after a restart the book comes back with its active alarms but the
  engine's on-delays start from nothing; adopted alarms stay active for
  ``restart_hold_s`` (and while their raw condition is pending) instead of clearing and
  re-raising while the site reports in again.

Pure: time is an argument, readings come through a callable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from protocol.timing import to_real
from server.alarms.settings import ConditioningSettings
from server.rules.types import AlarmKey, Violation

# A violation → {metric: (low limit, high limit)} of the rule that raised it.
LimitsFn = Callable[[Violation], Mapping[str, tuple[float | None, float | None]]]
ReadingFn = Callable[[str, str], float | None]  # (device id, metric) → live value


@dataclass(slots=True)
class _Held:
    violation: Violation
    gone_at: float | None = None  # when the engine stopped reporting it
    hold_until: float = 0.0  # restart hold (adopted alarms)


class AlarmConditioner:
    def __init__(self, settings: ConditioningSettings, speed: float = 1.0, *,
                 limits: LimitsFn | None = None, reading: ReadingFn | None = None) -> None:
        self.settings = settings
        self.speed = speed
        self.limits = limits
        self.reading = reading
        self._seen: dict[AlarmKey, _Held] = {}  # alarms we pass or hold as active
        self._last_in: Mapping[AlarmKey, Violation] | None = None
        self._last_out: dict[AlarmKey, Violation] = {}
        self._holding = False
        self._now = 0.0

    def adopt(self, violations: Iterable[Violation], now: float) -> None:
        """Alarms restored active after a restart: hold them while the site reports in."""
        until = now + to_real(self.settings.restart_hold_s, self.speed)
        for v in violations:
            self._seen[v.key] = _Held(v, gone_at=now, hold_until=until)
        self._holding = bool(self._seen)

    def off_delay(self, rule: str) -> float:
        s = self.settings
        return to_real(s.off_delay_s.get(rule, s.default_off_delay_s), self.speed)

    def condition(self, active: Mapping[AlarmKey, Violation],
                  pending: Mapping[AlarmKey, float] | Callable[[], Mapping[AlarmKey, float]],
                  now: float) -> Mapping[AlarmKey, Violation]:
        """What the alarm book should consider active now.  ``pending``: the engine's raw
        conditions (RuleEngine.pending), or a callable giving them (read only when an alarm
        is about to clear)."""
        self._now = now
        if active is self._last_in and not self._holding:
            return self._last_out  # the engine changed nothing and nothing is held
        seen = self._seen
        for key, v in active.items():
            held = seen.get(key)
            if held is None:
                seen[key] = _Held(v)
            else:
                held.violation, held.gone_at, held.hold_until = v, None, 0.0
        out: dict[AlarmKey, Violation] | None = None
        raw: Mapping[AlarmKey, float] | None = None
        for key in [k for k in seen if k not in active]:
            held = seen[key]
            if held.gone_at is None:
                held.gone_at = now
            if raw is None:
                raw = pending() if callable(pending) else pending
            if self._holds(key, held, raw, now):
                if out is None:
                    out = dict(active)
                out[key] = held.violation
            else:
                del seen[key]
        self._holding = out is not None
        self._last_in = active
        self._last_out = out if out is not None else dict(active)
        return self._last_out

    def _holds(self, key: AlarmKey, held: _Held, pending: Mapping[AlarmKey, float],
               now: float) -> bool:
        assert held.gone_at is not None
        if key in pending or now < held.hold_until:
            return True
        if now < held.gone_at + self.off_delay(key[0]):
            return True
        return self._in_deadband(held.violation)

    def _in_deadband(self, v: Violation) -> bool:
        bands = self.settings.deadband.get(v.rule)
        if not bands or self.limits is None or self.reading is None:
            return False
        limits = self.limits(v)
        for metric, band in bands.items():
            at_alarm = v.details.get(metric)
            lo, hi = limits.get(metric, (None, None))
            if not isinstance(at_alarm, int | float) or isinstance(at_alarm, bool):
                continue
            now_value = self.reading(v.subject, metric)
            if now_value is None:
                continue
            if lo is not None and at_alarm < lo and lo <= now_value < lo + band:
                return True
            if hi is not None and at_alarm > hi and hi - band < now_value <= hi:
                return True
        return False

    def next_due(self) -> float | None:
        """When a held alarm's off-delay or restart hold ends (the caller must evaluate
        again then; deadband holds end with a new reading, which is a message)."""
        due: float | None = None
        for (rule, _), held in self._seen.items():
            if held.gone_at is None:
                continue
            for t in (held.gone_at + self.off_delay(rule), held.hold_until):
                if t > held.gone_at and t > self._now and (due is None or t < due):
                    due = t
        return due
