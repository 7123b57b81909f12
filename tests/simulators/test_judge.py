"""The judge: expectations against alarms in scenario time, with the documented margin."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from simulators.judge import judge_one, margin_s
from simulators.scenario import Expectation

T0 = 1_700_000_000.0
SPEED = 60.0


def _iso(scenario_s: float) -> str:
    return datetime.fromtimestamp(T0 + scenario_s / SPEED, UTC).isoformat()


def _alarm(rule: str, raised_s: float, cleared_s: float | None = None,
           zone: str = "interrogation-1", severity: str = "critical") -> dict[str, Any]:
    return {"id": 1, "rule": rule, "zone": zone, "subject": "S1", "severity": severity,
            "raised_at": _iso(raised_s), "cleared_at": _iso(cleared_s) if cleared_s else None}


def _e(**fields: Any) -> Expectation:
    return Expectation.model_validate(fields)


def test_alarm_within_window_with_margin() -> None:
    """An alarm counts inside [t1 - margin, t2 + margin]; outside it fails, saying when."""
    e = _e(alarm="unattended_person", zone="interrogation-1", between=["600s", "700s"],
           severity="critical")
    assert margin_s(SPEED) == 12.0
    assert judge_one(e, [_alarm("unattended_person", 705)], T0, SPEED).passed
    late = judge_one(e, [_alarm("unattended_person", 800)], T0, SPEED)
    assert not late.passed and "outside the window" in late.detail
    assert not judge_one(e, [_alarm("unattended_person", 650, severity="major")], T0,
                         SPEED).passed
    assert not judge_one(e, [], T0, SPEED).passed


def test_no_alarm_and_cleared() -> None:
    """no_alarm fails on any matching alarm; cleared needs every matching alarm cleared by."""
    assert judge_one(_e(no_alarm="search_skipped"), [_alarm("unattended_person", 1)], T0,
                     SPEED).passed
    assert not judge_one(_e(no_alarm="unattended_person"), [_alarm("unattended_person", 1)],
                         T0, SPEED).passed
    cleared = _e(cleared="unattended_person", zone="interrogation-1", by="960s")
    assert judge_one(cleared, [_alarm("unattended_person", 610, 905)], T0, SPEED).passed
    assert not judge_one(cleared, [_alarm("unattended_person", 610, None)], T0, SPEED).passed
    assert not judge_one(cleared, [_alarm("unattended_person", 610, 1000)], T0, SPEED).passed
    assert not judge_one(cleared, [], T0, SPEED).passed


def test_count_counts_raisings_over_the_run() -> None:
    """count (exactly_once) adds every matching alarm's raisings (re-activations included)
    and each must be in the window."""
    once = _e(exactly_once="unattended_person", between=["600s", "700s"])
    assert judge_one(once, [_alarm("unattended_person", 650)], T0, SPEED).passed
    twice = judge_one(once, [_alarm("unattended_person", 650),
                             _alarm("unattended_person", 900)], T0, SPEED)
    assert not twice.passed and "raised 2 time(s), expected 1" in twice.detail
    flapping = {**_alarm("unattended_person", 650), "count": 3}
    assert "raised 3 time(s)" in judge_one(once, [flapping], T0, SPEED).detail
    assert not judge_one(once, [], T0, SPEED).passed
    outside = judge_one(once, [_alarm("unattended_person", 800)], T0, SPEED)
    assert not outside.passed and "outside the window" in outside.detail


def test_no_alarm_window_is_exact() -> None:
    """A no_alarm window is not widened by the margin: the violation staged right after a
    near-miss does not count against it; subject narrows it too."""
    near = _e(no_alarm="unattended_person", between=["0s", "300s"])
    assert judge_one(near, [_alarm("unattended_person", 305)], T0, SPEED).passed
    assert not judge_one(near, [_alarm("unattended_person", 299)], T0, SPEED).passed
    other = _e(no_alarm="unattended_person", subject="S2")
    assert judge_one(other, [_alarm("unattended_person", 10)], T0, SPEED).passed
