"""The generated busy days: the bundled files are what simulators/busy_day.py makes, and
the day it plans is one run by the book (rooms never shared, everyone released)."""

from __future__ import annotations

import itertools

from simulators.busy_day import (
    DAY_END,
    PEOPLE_IN_CUSTODY,
    Violations,
    generated,
    scenario,
)
from simulators.scenario import BUNDLED, load_scenario, parse_duration


def test_bundled_files_match_the_generator() -> None:
    """Edit the generator, not the YAML: python -m simulators.busy_day rewrites both."""
    for name, text in generated().items():
        assert (BUNDLED / f"{name}.yaml").read_text(encoding="utf-8") == text, name


def test_the_day_is_busy_and_by_the_book() -> None:
    """At least 15 people in custody over 12 hours; each questioning room is booked for
    one person at a time; everyone taken in is released or transferred; the violations
    day differs from it in five people only."""
    plan = load_scenario(BUNDLED / "busy-day.yaml").scenario
    suspects = [p for p, info in plan.people.items() if info.role == "suspect"]
    assert len(suspects) == PEOPLE_IN_CUSTODY >= 15
    assert plan.end_s == DAY_END * 60 == 12 * 3600
    intakes = {s.intake for s in plan.steps if s.intake}
    ended = {s.release or s.transfer for s in plan.steps if s.release or s.transfer}
    assert intakes == ended == set(suspects)
    _, day = scenario(Violations())
    for room, booked in day.busy.items():
        booked.sort()
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(booked)), room
    violations = load_scenario(BUNDLED / "busy-day-violations.yaml").scenario
    once = [e for e in violations.expect if e.count == 1]
    assert len(once) == 5
    assert {e.alarm for e in once} == {"unattended_person", "recording_not_running",
                                       "search_skipped", "belongings_left",
                                       "single_officer_questioning"}
    assert all(e.between is not None and parse_duration("0s") <= e.between[0]
               for e in once)
