"""Rules and alarm lifecycle together, driven like the server drives them: evaluate after
every message and again at ``next_due``.  The steps are the scenarios of CONTRACT.md
(scenario seconds at speed 60), played on a virtual clock."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from server.alarms.lifecycle import AlarmBook, AlarmChange
from tests.server.test_rules_support import T0, Floor

SPEED = 60.0
Step = tuple[float, Callable[[Floor], None]]


def play(floor: Floor, steps: list[Step], until: float) -> list[AlarmChange]:
    """Apply steps at their scenario times; between them wake up at next_due like the
    server's timer.  Returns every alarm change."""
    book = AlarmBook()
    changes: list[AlarmChange] = []
    times = [*sorted({at for at, _ in steps}), until]
    queue = sorted(steps, key=lambda s: s[0])
    for at in times:
        deadline = T0 + at / SPEED
        while True:  # timer wake-ups before the next step
            due = floor.engine.evaluate(floor.twin, floor.now).next_due
            if due is None or due > deadline:
                break
            floor.now = due
            changes += book.sync(floor.evaluate().active, floor.now)
        floor.now = deadline
        while queue and queue[0][0] == at:
            queue.pop(0)[1](floor)
            changes += book.sync(floor.evaluate().active, floor.now)
    return changes


def scenario_time(change: AlarmChange) -> float:
    return (change.at - T0) * SPEED


def staff(floor: Floor, **roles: str) -> None:
    for pid, role in roles.items():
        floor.person(pid, role=role)


def staffed_centre() -> Floor:
    floor = Floor(speed=SPEED)
    floor.birth_everything()
    return floor


def test_unattended_person_scenario() -> None:
    """unattended-person.yaml: the officers leave at 600 s and come back at 900 s →
    exactly one unattended_person alarm, raised in [600 s, 700 s], cleared by 960 s, and
    nothing else."""
    floor = staffed_centre()
    steps: list[Step] = [
        (0, lambda f: f.intake("S1", sex="male", case="C-001")),
        (0, lambda f: staff(f, O1="officer", O2="officer")),
        (0, lambda f: f.move("entrance", "S1", "O1", "O2")),
        (30, lambda f: f.move("body-check-1", "S1", "O1", "O2")),
        (60, lambda f: f.search("S1")),
        (90, lambda f: f.move("interrogation-1", "S1", "O1", "O2")),
        (95, lambda f: f.set("recorder-interrogation-1", recording=True)),
        (600, lambda f: f.move("corridor-a", "O1", "O2")),
        (900, lambda f: f.move("interrogation-1", "O1", "O2")),
    ]
    changes = play(floor, steps, until=1200)
    assert [(c.action, c.alarm.rule, c.alarm.zone) for c in changes] == [
        ("raised", "unattended_person", "interrogation-1"),
        ("cleared", "unattended_person", "interrogation-1"),
    ]
    assert 600 <= scenario_time(changes[0]) <= 700
    assert scenario_time(changes[0]) == pytest.approx(630)  # 600 s + the 30 s grace
    assert scenario_time(changes[1]) <= 960
    assert changes[1].alarm.state == "cleared_unacked"


def test_compliant_visit_raises_nothing() -> None:
    """compliant-visit.yaml: a suspect taken through the centre by the book (recorder
    started 5 s after entering the inquiry room) raises no alarm at all."""
    floor = staffed_centre()
    steps: list[Step] = [
        (0, lambda f: f.intake("S1", sex="female", case="C-002")),
        (0, lambda f: staff(f, O1="officer", O2="officer", G1="guard")),
        (0, lambda f: f.move("entrance", "S1", "O1", "O2")),
        (40, lambda f: f.move("body-check-2", "S1", "O1")),
        (100, lambda f: f.search("S1", station="search-body-check-2")),
        (120, lambda f: f.move("lockers-1", "S1", "O1")),
        (180, lambda f: f.move("info-1", "S1", "O1")),
        (400, lambda f: f.move("holding-2", "S1", "G1")),
        (400, lambda f: f.move("duty-desk", "O1")),
        (1800, lambda f: f.move("inquiry-1", "O1", "O2")),
        (1830, lambda f: f.move("inquiry-1", "S1")),
        (1830, lambda f: f.move("corridor-b", "G1")),
        (1835, lambda f: f.set("recorder-inquiry-1", recording=True)),
        (5400, lambda f: f.move("lockers-1", "S1", "O1", "O2")),
        (5400, lambda f: f.set("recorder-inquiry-1", recording=False)),
        (5500, lambda f: f.release("S1")),
        (5500, lambda f: f.move("exit", "S1", "O1", "O2")),
    ]
    assert play(floor, steps, until=6000) == []
