"""Judging a scenario's expectations against the alarms the server raised (pure, no I/O).

Times are compared in scenario time: an alarm raised at real time ``r`` happened at
``(r - T0) * speed`` where T0 is the real time of scenario t=0.

Margin: a step runs a few tens of real milliseconds late (HTTP, MQTT, the rule engine's
evaluation), which at ``--speed 60`` is a couple of scenario seconds.  Window edges are
therefore widened by ``max(2 s scenario, 0.2 s real × speed)`` — at speed 60 that is 12
scenario seconds, small against the minutes-wide windows scenarios use.  A ``no_alarm``
window is exact (not widened): it marks a near-miss, and the violation a scenario stages
after it must not leak in.

``count: N`` (or ``exactly_once``) counts raisings over the whole run: every matching
alarm's ``count`` (re-activations of the same alarm included) adds up to N, and with
``between`` each of them was raised in the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from simulators.scenario import Expectation


def margin_s(speed: float) -> float:
    """Tolerance on window edges, in scenario seconds."""
    return max(2.0, 0.2 * speed)


def parse_time(value: Any) -> float | None:
    """An ISO-8601 timestamp (or epoch seconds) -> epoch seconds; None stays None."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True, slots=True)
class Verdict:
    expectation: Expectation
    passed: bool
    detail: str

    def as_json(self) -> dict[str, Any]:
        e = self.expectation.model_dump(exclude_none=True)
        return {**e, "passed": self.passed, "detail": self.detail}


def _scenario_time(alarm: dict[str, Any], field: str, t0: float, speed: float) -> float | None:
    real = parse_time(alarm.get(field))
    return None if real is None else (real - t0) * speed


def _matches(e: Expectation, alarm: dict[str, Any]) -> bool:
    return (alarm.get("rule") == e.rule
            and (e.zone is None or alarm.get("zone") == e.zone)
            and (e.subject is None or alarm.get("subject") == e.subject)
            and (e.severity is None or alarm.get("severity") == e.severity))


def _describe(alarm: dict[str, Any], t0: float, speed: float) -> str:
    raised = _scenario_time(alarm, "raised_at", t0, speed)
    cleared = _scenario_time(alarm, "cleared_at", t0, speed)
    text = f"#{alarm.get('id')} {alarm.get('rule')} zone={alarm.get('zone')} " \
           f"subject={alarm.get('subject')} {alarm.get('severity')}"
    text += f" raised {raised:.0f}s" if raised is not None else ""
    return text + (f" cleared {cleared:.0f}s" if cleared is not None else "")


def _raisings(alarm: dict[str, Any]) -> int:
    """How often an alarm was raised: a condition returning before anyone acknowledged
    re-activates the same alarm and counts up (server/alarms/lifecycle.py)."""
    count = alarm.get("count")
    return count if isinstance(count, int) and count > 0 else 1


def judge_one(e: Expectation, alarms: list[dict[str, Any]], t0: float, speed: float) -> Verdict:
    m = margin_s(speed)
    matching = [a for a in alarms if _matches(e, a)]
    if e.no_alarm is not None:
        if e.between is not None:
            # Exact window, no margin: a near-miss window must not swallow the violation a
            # scenario stages right after it.
            lo, hi = e.between
            matching = [a for a in matching
                        if lo <= (_scenario_time(a, "raised_at", t0, speed) or lo) <= hi]
        if matching:
            return Verdict(e, False, "raised: " + "; ".join(_describe(a, t0, speed)
                                                            for a in matching))
        return Verdict(e, True, "none raised")
    if e.alarm is not None and e.count is not None:
        total = sum(_raisings(a) for a in matching)
        described = "; ".join(f"{_describe(a, t0, speed)} x{_raisings(a)}" for a in matching)
        if total != e.count:
            return Verdict(e, False, f"raised {total} time(s), expected {e.count}: "
                                     f"{described or 'none'}")
        if e.between is not None:
            lo, hi = e.between
            outside = [a for a in matching
                       if not lo - m <= (_scenario_time(a, "raised_at", t0, speed)
                                         or float("nan")) <= hi + m]
            if outside:
                return Verdict(e, False, "raised outside the window: " + "; ".join(
                    _describe(a, t0, speed) for a in outside))
        return Verdict(e, True, described)
    if e.alarm is not None:
        lo, hi = e.between if e.between is not None else (float("-inf"), float("inf"))
        for a in matching:
            raised = _scenario_time(a, "raised_at", t0, speed)
            if raised is not None and lo - m <= raised <= hi + m:
                return Verdict(e, True, _describe(a, t0, speed))
        if matching:
            return Verdict(e, False, "raised outside the window: " + "; ".join(
                _describe(a, t0, speed) for a in matching))
        return Verdict(e, False, "never raised")
    assert e.by is not None
    # Every matching alarm raised by then must be cleared by then (one per subject may exist).
    due = [a for a in matching
           if (_scenario_time(a, "raised_at", t0, speed) or 0.0) <= e.by + m]
    if not due:
        return Verdict(e, False, "no such alarm was raised")
    late = [a for a in due if (c := _scenario_time(a, "cleared_at", t0, speed)) is None
            or c > e.by + m]
    if late:
        return Verdict(e, False, "not cleared in time: " + "; ".join(
            _describe(a, t0, speed) for a in late))
    return Verdict(e, True, "; ".join(_describe(a, t0, speed) for a in due))


def judge(expectations: list[Expectation], alarms: list[dict[str, Any]], t0: float,
          speed: float) -> list[Verdict]:
    return [judge_one(e, alarms, t0, speed) for e in expectations]
