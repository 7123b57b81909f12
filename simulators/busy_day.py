"""The "busy day" scenarios, generated: 16 people in custody over 12 hours, by the book.

``python -m simulators.busy_day`` writes simulators/scenarios/busy-day.yaml (zero alarms
expected) and busy-day-violations.yaml (the same day with five injected violations, each
expected exactly once).  tests/simulators/test_busy_day.py checks that the bundled files are
what this module generates, so the two days never drift apart.

The day, per person (minutes after their arrival ``a``; one arrival every 35 minutes):

====  ==========================================================================
a+0   intake; escorted by their officer pair to the sally port
a+3   body check (a pair always has a female officer: 刑事诉讼法 第一百三十二条)
a+8   lockers: belongings stored;  a+12 information collection
a+25  holding room (cap. 1) where its guard already waits; the officers go
a+59  recorder on; the officers fetch the person; a+60 questioning, 90 min
a+150 lockers: belongings returned; a+155 release; a+156 exit; a+158 gone
====  ==========================================================================

One person is 16 (questioned in the juvenile room with a guardian), one goes to hospital on
an approved outing and comes back, one is transferred to the detention house instead of
released.  Rooms are scheduled so that nobody shares a room or waits unattended.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulators.scenario import BUNDLED, RULES

ARRIVAL_EVERY = 35  # minutes
FIRST_ARRIVAL = 10
PEOPLE_IN_CUSTODY = 16
DAY_END = 12 * 60
PAIRS = [("O1", "O2"), ("O3", "O4"), ("O5", "O6"), ("O7", "O8"), ("O9", "O10")]
FEMALE_OFFICERS = frozenset({"O2", "O3", "O6", "O8", "O9", "O12"})
ESCORT = ("O11", "O12")  # the outing and transfer escort
GUARDS = {f"holding-{n}": f"G{n}" for n in range(1, 5)}
FEMALE_SUSPECTS = frozenset({3, 8, 12})
JUVENILE, OUTING, TRANSFER = 7, 5, 10
SPEED = 600


def hm(minutes: float) -> str:
    """Scenario time in the format's duration syntax (``1h35m``, ``20m``, ``0s``)."""
    h, m = divmod(round(minutes * 60) // 60, 60)
    s = round(minutes * 60) % 60
    text = (f"{h}h" if h else "") + (f"{m}m" if m else "") + (f"{s}s" if s else "")
    return text or "0s"


@dataclass
class Day:
    steps: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    busy: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    rooms: dict[str, str] = field(default_factory=dict)  # person -> questioning room

    def at(self, minute: float, **step: Any) -> None:
        self.steps.append((minute, step))

    def book(self, rooms: list[str], start: float, end: float) -> str:
        """The first room of ``rooms`` free over [start, end] (booked now)."""
        for room in rooms:
            taken = self.busy.setdefault(room, [])
            if all(end <= s or start >= e for s, e in taken):
                taken.append((start, end))
                return room
        raise ValueError(f"no free room among {rooms} for {start}-{end}")


@dataclass(frozen=True)
class Violations:
    """Which of the five injected violations the day carries."""

    unattended: str | None = None  # both officers leave this person for 5 min
    # The recorder starts 10 min after the person came in: the rule's grace has a floor of
    # 0.6 real seconds (a recorder's state is polled), 6 site minutes at --speed 600.
    late_recorder: str | None = None
    unsearched: str | None = None  # taken past the body check
    belongings: str | None = None  # released without their belongings
    single_officer: str | None = None  # the second officer leaves for 10 min

    @classmethod
    def injected(cls) -> Violations:
        return cls("S02", "S04", "S06", "S09", "S11")


def suspect(n: int) -> tuple[str, dict[str, Any]]:
    sid = f"S{n:02d}"
    criminal = n % 2 == 1
    person = {"role": "suspect", "sex": "female" if n in FEMALE_SUSPECTS else "male",
              "age": 16 if n == JUVENILE else 20 + (n * 7) % 40,
              "case": f"C-{1000 + n}",
              "custody": "criminal_summons" if criminal else "administrative_questioning"}
    return sid, person


def staff() -> dict[str, dict[str, Any]]:
    people: dict[str, dict[str, Any]] = {}
    for officer in [o for pair in PAIRS for o in pair] + list(ESCORT):
        people[officer] = {"role": "officer",
                           "sex": "female" if officer in FEMALE_OFFICERS else "male"}
    for guard in GUARDS.values():
        people[guard] = {"role": "guard", "sex": "male" if guard in ("G1", "G3") else "female"}
    people["GD1"] = {"role": "guardian", "sex": "female", "name": "S07's mother"}
    return people


def plan_person(day: Day, n: int, v: Violations) -> None:
    sid, person = suspect(n)
    a = FIRST_ARRIVAL + (n - 1) * ARRIVAL_EVERY
    o1, o2 = PAIRS[(n - 1) % len(PAIRS)]
    pair = [o1, o2]
    holding = f"holding-{(n - 1) % 4 + 1}"
    guard = GUARDS[holding]
    if n == JUVENILE:
        prefer = ["juvenile-1"]
    elif person["custody"] == "administrative_questioning":
        prefer = ["inquiry-1", "inquiry-2", "interrogation-1", "interrogation-2",
                  "interrogation-3", "interrogation-4"]
    else:
        prefer = ["interrogation-1", "interrogation-2", "interrogation-3", "interrogation-4"]
    room = day.rooms[sid] = day.book(prefer, a + 58, a + 151)
    recorder = f"recorder-{room}"

    day.at(a, intake=sid)
    day.at(a, move=[sid, *pair], to="entrance")
    body_check = f"body-check-{n % 2 + 1}"
    if v.unsearched == sid:  # taken past the body check, brought back five minutes later
        day.at(a + 3, move=[sid, *pair], to="lockers-1")
        day.at(a + 8, move=[sid, *pair], to=body_check)
        day.at(a + 9, search=sid)
        day.at(a + 11, move=[sid, *pair], to="lockers-1")
        day.at(a + 12, store_belongings=sid)
        day.at(a + 14, move=[sid, *pair], to="info-1")
    else:
        day.at(a + 3, move=[sid, *pair], to=body_check)
        day.at(a + 5, search=sid)
        day.at(a + 8, move=[sid, *pair], to="lockers-1")
        day.at(a + 9, store_belongings=sid)
        day.at(a + 12, move=[sid, *pair], to="info-1")
    day.at(a + 24, move=guard, to=holding)
    day.at(a + 25, move=[sid, *pair], to=holding)
    day.at(a + 26, move=pair, to="duty-desk")
    day.at(a + (70 if v.late_recorder == sid else 59), device=recorder,
           set={"recording": True})
    if n == JUVENILE:  # the mother arrives and waits in the questioning room
        day.at(a + 50, move="GD1", to="entrance")
        day.at(a + 55, move="GD1", to="corridor-a")
        day.at(a + 58, move="GD1", to=room)
    day.at(a + 59, move=pair, to=holding)
    day.at(a + 60, move=[sid, *pair], to=room)
    day.at(a + 61, move=guard, to="duty-desk")
    if v.unattended == sid:
        day.at(a + 90, move=pair, to="corridor-a")
        day.at(a + 95, move=pair, to=room)
    if v.single_officer == sid:
        day.at(a + 100, move=o2, to="duty-desk")
        day.at(a + 110, move=o2, to=room)
    group = [sid, *pair, *(["GD1"] if n == JUVENILE else [])]
    day.at(a + 150, move=group, to="lockers-1")
    day.at(a + 150, device=recorder, set={"recording": False})
    if n == OUTING:
        escort = list(ESCORT)
        day.at(a + 149, move=escort, to="lockers-1")
        day.at(a + 151, move=pair, to="duty-desk")
        day.at(a + 152, outing=sid, minutes=60, reason="hospital check")
        day.at(a + 155, move=[sid, *escort], to="exit")
        day.at(a + 158, leave=[sid, *escort])
        day.at(a + 190, move=[sid, *escort], to="entrance")
        day.at(a + 195, move=[sid, *escort], to="corridor-a")
        day.at(a + 200, outing_end=sid)
        day.at(a + 205, move=[sid, *escort], to="lockers-1")
        pair, a = escort, a + 55  # the escort finishes the day with them, 55 min later
    if v.belongings != sid:
        day.at(a + 152, return_belongings=sid)
    if n == TRANSFER:
        day.at(a + 155, transfer=sid, destination="看守所", reason="刑事拘留")
    else:
        day.at(a + 155, release=sid)
    day.at(a + 156, move=[sid, *pair, *(["GD1"] if n == JUVENILE else [])], to="exit")
    day.at(a + 158, leave=[sid, *(["GD1"] if n == JUVENILE else [])])
    day.at(a + 158, move=pair, to="duty-desk")


def scenario(violations: Violations) -> tuple[dict[str, Any], Day]:
    day = Day()
    people = staff()
    on_duty = [p for p, info in people.items() if info["role"] in ("officer", "guard")]
    day.at(0, move=on_duty, to="duty-desk")
    for n in range(1, PEOPLE_IN_CUSTODY + 1):
        sid, person = suspect(n)
        people[sid] = person
        plan_person(day, n, violations)
    day.at(DAY_END, leave=on_duty)  # the shift ends at 12 h
    steps = [dict(at=hm(minute), **step) for minute, step in
             sorted(day.steps, key=lambda s: s[0])]
    return {"people": people, "steps": steps}, day


def expectations(v: Violations, day: Day) -> list[dict[str, Any]]:
    if v == Violations():
        return [{"no_alarm": rule} for rule in sorted(RULES)]

    def arrival(sid: str) -> float:
        return FIRST_ARRIVAL + (int(sid[1:]) - 1) * ARRIVAL_EVERY

    injected: list[tuple[str, str, float, float]] = []
    # Windows: from the end of the rule's grace until the violation ends (or 10 minutes
    # for one that does not): a raise after that would be a late one.
    if v.unattended:
        injected.append(("unattended_person", v.unattended, arrival(v.unattended) + 90.5,
                         arrival(v.unattended) + 95))
    if v.late_recorder:
        injected.append(("recording_not_running", f"recorder-{day.rooms[v.late_recorder]}",
                         arrival(v.late_recorder) + 60.5, arrival(v.late_recorder) + 70))
    if v.unsearched:
        injected.append(("search_skipped", v.unsearched, arrival(v.unsearched) + 3,
                         arrival(v.unsearched) + 8))
    if v.belongings:
        injected.append(("belongings_left", v.belongings, arrival(v.belongings) + 165,
                         arrival(v.belongings) + 175))
    if v.single_officer:
        injected.append(("single_officer_questioning", v.single_officer,
                         arrival(v.single_officer) + 101, arrival(v.single_officer) + 110))
    out: list[dict[str, Any]] = []
    for rule, subject, lo, hi in injected:
        out.append({"exactly_once": rule, "between": [hm(lo), hm(hi)]})
        out.append({"alarm": rule, "subject": subject, "between": [hm(lo), hm(hi)]})
    named = {rule for rule, *_ in injected}
    out += [{"no_alarm": rule} for rule in sorted(RULES - named)]
    return out


HEADER = {
    "busy-day": (
        "A busy day by the book: 16 people in custody over 12 hours (three of them women,\n"
        "  one a juvenile with his guardian, one on a hospital outing, one transferred to\n"
        "  the detention house), 12 officers, 4 guards.  Zero alarms of any rule.\n"
        "  Generated by simulators/busy_day.py (python -m simulators.busy_day)."),
    "busy-day-violations": (
        "The busy day with five injected violations, each raised exactly once: S02 left\n"
        "  alone for 5 minutes, S04's recorder started 10 minutes late, S06 taken past the\n"
        "  body check for 5 minutes, S09 released without his belongings, S11 questioned\n"
        "  by one officer for 10 minutes.  Nothing else.  Generated by\n"
        "  simulators/busy_day.py."),
}


def _flow(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if any(c in text for c in ":,'\"{}[]#") \
        else text


def render(name: str, violations: Violations) -> str:
    body, day = scenario(violations)
    lines = ["# Generated by simulators/busy_day.py: edit the generator, not this file.",
             f"name: {name}", "description: >", f"  {HEADER[name]}", "site: reference",
             f"speed: {SPEED}", "people:"]
    lines += [f"  {pid}: {_flow(p)}" for pid, p in body["people"].items()]
    lines.append("steps:")
    lines += [f"  - {_flow(step)}" for step in body["steps"]]
    lines.append("expect:")
    lines += [f"  - {_flow(e)}" for e in expectations(violations, day)]
    return "\n".join(lines) + "\n"


def generated() -> dict[str, str]:
    return {"busy-day": render("busy-day", Violations()),
            "busy-day-violations": render("busy-day-violations", Violations.injected())}


def main(directory: Path = BUNDLED) -> int:
    for name, text in generated().items():
        (directory / f"{name}.yaml").write_text(text, encoding="utf-8")
        print(f"wrote {directory / name}.yaml", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
