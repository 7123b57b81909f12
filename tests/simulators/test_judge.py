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
