"""Questioning and holding rules on a virtual clock: single officer, female search,
juvenile guardian, separation and capacity (server/rules/questioning.py, holding.py)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.rules.context import RuleContext
from server.rules.questioning import questioning_session
from tests.server.test_rules_support import SITE, T0, Floor, site_with_rules

EPS = 1e-6


def centre(speed: float = 1.0) -> Floor:
    floor = Floor(speed=speed)
    floor.birth_everything()
    return floor


def interrogation(*officers: str) -> Floor:
    """S1 (searched) in interrogation-2 with the given officers at t=0, recording."""
    floor = centre()
    floor.person("S1", sex="male", searched=True)
    for o in officers:
        floor.person(o, role="officer", sex="male")
    floor.move("interrogation-2", "S1", *officers)
    floor.set("recorder-interrogation-2", recording=True)
    return floor


# ---------------------------------------------------------------------- single officer


def test_single_officer_raised_exactly_after_60s_grace() -> None:
    """One officer with S1 from t=0: nothing at 60-ε, a major violation at 60+ε with the
    bilingual message naming room, person and officer."""
    floor = interrogation("O1")
    assert floor.evaluate().next_due == pytest.approx(floor.now + 60)
    assert floor.at(60 - EPS).keys() == set()
    v = floor.at(60 + EPS).evaluate().active[("single_officer_questioning", "S1")]
    assert (v.zone, v.severity) == ("interrogation-2", "major")
    assert v.message_zh == "讯问室2: 仅一名民警 (O1) 讯问 S1"
    assert v.message_en == "Interrogation 2: S1 questioned by a single officer (O1)"


def test_second_officer_stepping_out_10s_is_a_near_miss() -> None:
    """Two officers; O2 steps out for 10 s at t=100 → never a violation, and the next
    absence is timed from its own start."""
    floor = interrogation("O1", "O2")
    floor.at(100).move("corridor-a", "O2")
    floor.at(110).move("interrogation-2", "O2")
    assert floor.at(500).keys() == set()
    floor.at(600).move("corridor-a", "O2")
    assert floor.at(660 - EPS).keys() == set()
    assert floor.at(660 + EPS).keys() == {("single_officer_questioning", "S1")}
    floor.move("interrogation-2", "O2")
    assert floor.keys() == set()


def test_no_officer_is_unattended_not_single_officer() -> None:
    """With nobody left it is unattended_person only (one alarm per cause)."""
    floor = interrogation("O1")
    floor.at(10).move("corridor-a", "O1")
    assert floor.at(500).keys() == {("unattended_person", "S1")}


def test_single_officer_not_checked_in_other_rooms_unless_configured() -> None:
    """Default zone_kinds is interrogation: one guard with S1 in holding is fine; a site
    can extend the rule to inquiry rooms."""
    floor = centre()
    floor.person("S1", searched=True)
    floor.person("G1", role="guard")
    floor.move("holding-5", "S1", "G1")
    assert floor.at(3600).keys() == set()
    strict = Floor(site=site_with_rules({"single_officer_questioning": {
        "zone_kinds": ["interrogation", "inquiry"]}}))
    strict.escorted("inquiry-1", searched=True)
    strict.set("recorder-inquiry-1", recording=True)
    assert strict.at(61).keys() == {("single_officer_questioning", "S1")}


# ---------------------------------------------------------------------- female search


def test_female_searched_by_male_officers_only() -> None:
    """A female in body-check-1 with a male officer: violation after 30 s; a female officer
    arriving clears it."""
    floor = centre()
    floor.person("S1", sex="female")
    floor.person("O1", role="officer", sex="male")
    floor.person("O2", role="officer", sex="female")
    floor.move("body-check-1", "S1", "O1")
    assert floor.at(30 - EPS).keys() == set()
    v = floor.at(30 + EPS).evaluate().active[("female_search_without_female_officer", "S1")]
    assert (v.zone, v.severity) == ("body-check-1", "major")
    assert v.message_zh == "人身安全检查室1: 女性在押人员 S1 在场, 无女性民警"
    floor.move("body-check-1", "O2")
    assert floor.keys() == set()


def test_female_search_ignores_men_and_unknown_sex_officers_by_default() -> None:
    """A male person with male officers: nothing.  An officer registered without a sex does
    not raise it by default; a site can count unknown as not female."""
    floor = centre()
    floor.person("S1", sex="male")
    floor.person("S2", sex="female")
    floor.person("O1", role="officer", sex="male")
    floor.person("O3", role="officer")
    floor.move("body-check-1", "S1", "O1")
    floor.move("body-check-2", "S2", "O3")
    assert floor.at(100).keys() == set()
    strict = Floor(site=site_with_rules({"female_search_without_female_officer": {
        "unknown_sex_counts_as_female": False}}))
    strict.birth_everything()
    strict.person("S2", sex="female")
    strict.person("O3", role="officer")
    strict.move("body-check-2", "S2", "O3")
    assert strict.at(31).keys() == {("female_search_without_female_officer", "S2")}


# ---------------------------------------------------------------------- juvenile


def test_juvenile_questioned_without_guardian_until_guardian_arrives() -> None:
    """A 15-year-old with two officers in the juvenile room: violation after 60 s; the
    guardian's arrival clears it; an adult in the same setting raises nothing."""
    floor = centre()
    floor.person("J1", sex="male", age=15, searched=True)
    floor.person("S2", sex="male", age=30, searched=True)
    floor.person("O1", role="officer", sex="male")
    floor.person("O2", role="officer", sex="male")
    floor.person("P1", role="guardian")
    floor.move("juvenile-1", "J1", "O1", "O2")
    floor.set("recorder-juvenile-1", recording=True)
    assert floor.at(60 - EPS).keys() == set()
    v = floor.at(60 + EPS).evaluate().active[("juvenile_without_guardian", "J1")]
    assert v.message_en == ("Juvenile room: juvenile J1 (age 15) questioned without a "
                            "guardian or appropriate adult")
    floor.move("juvenile-1", "P1")
    assert floor.keys() == set()
    floor.person("O3", role="officer", sex="male")
    floor.person("O4", role="officer", sex="male")
    floor.move("inquiry-1", "S2", "O3", "O4")
    floor.set("recorder-inquiry-1", recording=True)
    assert floor.at(500).keys() == set()


def test_juvenile_alone_in_holding_is_not_questioned() -> None:
    """No officer present, or not a questioning room: not this rule."""
    floor = centre()
    floor.person("J1", age=16, searched=True)
    floor.person("G1", role="guard")
    floor.move("holding-1", "J1", "G1")
    assert floor.at(600).keys() == set()


# ---------------------------------------------------------------------- separation, capacity


def test_separation_same_case_mixed_sex_and_juvenile_with_adult() -> None:
    """holding-5 (capacity 4): co-accused → same_case; a woman joins → mixed_sex too; the
    subject is the room; moving people out clears it."""
    floor = centre()
    floor.person("S1", sex="male", age=30, case="C-1", searched=True)
    floor.person("S2", sex="male", age=40, case="C-1", searched=True)
    floor.person("S3", sex="female", age=25, case="C-2", searched=True)
    floor.person("G1", role="guard")
    floor.move("holding-5", "G1", "S1", "S2")
    assert floor.at(30 - EPS).keys() == set()
    v = floor.at(30 + EPS).evaluate().active[("separation_violation", "holding-5")]
    assert v.details["reasons"] == ["same_case"] and v.zone == "holding-5"
    assert v.message_en == "Holding 5: separation violated (same case): S1, S2"
    floor.move("holding-5", "S3")
    v = floor.evaluate().active[("separation_violation", "holding-5")]
    assert v.details["reasons"] == ["same_case", "mixed_sex"]
    floor.move("holding-6", "S2", "S3")
    assert floor.keys("separation_violation") == set()
    floor.person("J1", sex="male", age=16, case="C-3", searched=True)
    floor.move("holding-5", "J1")
    v = floor.at(100).evaluate().active[("separation_violation", "holding-5")]
    assert v.details["reasons"] == ["adult_with_juvenile"]


def test_compatible_people_share_a_room_and_unknowns_do_not_raise() -> None:
    """Two men of different cases, and a person with no recorded case/sex/age: fine."""
    floor = centre()
    floor.person("S1", sex="male", age=30, case="C-1", searched=True)
    floor.person("S2", sex="male", age=31, case="C-2", searched=True)
    floor.person("S3", searched=True)
    floor.person("G1", role="guard")
    floor.move("holding-6", "G1", "S1", "S2", "S3")
    assert floor.at(600).keys() == set()


def test_zone_over_capacity_after_grace() -> None:
    """holding-1 has capacity 1: a second person in custody is over capacity after 30 s
    (and, being of the same case, a separation violation as well)."""
    floor = centre()
    floor.person("S1", sex="male", case="C-1", searched=True)
    floor.person("S2", sex="male", case="C-1", searched=True)
    floor.person("G1", role="guard")
    floor.move("holding-1", "G1", "S1")
    floor.at(10).move("holding-1", "S2")
    assert floor.at(40 - EPS).keys() == set()
    ev = floor.at(40 + EPS).evaluate()
    assert set(ev.active) == {("zone_over_capacity", "holding-1"),
                              ("separation_violation", "holding-1")}
    v = ev.active[("zone_over_capacity", "holding-1")]
    assert v.message_zh == "候问室1: 在押人员 2 人, 超过容量 1 人"
    assert v.details == {"count": 2, "capacity": 1, "people": ["S1", "S2"]}


# ---------------------------------------------------------------- the session walk

def _backward_session(kind_of: Mapping[str, str], timeline: list[tuple[str, float, float | None]],
                      kinds: frozenset[str], brk: float,
                      custody_start: float | None) -> tuple[float, float | None] | None:
    """The session as no_rest_break first worked it out: the whole timeline walked back
    from its end on every call (the oracle for the forward walk kept between calls)."""
    start: float | None = None
    end: float | None = None
    gap_end = 0.0
    for zone, since, until in reversed(timeline):
        if kind_of.get(zone) in kinds:
            if start is None:
                end = until
            elif until is not None and gap_end - until >= brk:
                break
            start = gap_end = since
        elif start is not None and gap_end - since >= brk:
            break
        if custody_start is not None and since <= custody_start:
            break
    if start is None:
        return None
    if custody_start is not None:
        start = max(start, custody_start)
    return start, end


@given(stays=st.lists(st.tuples(st.sampled_from(["interrogation-1", "inquiry-1", "holding-1",
                                                 "corridor-a", None]),
                                st.sampled_from([1.0, 100.0, 1000.0, 1799.0, 1800.0, 4000.0])),
                      max_size=25),
       custody_at=st.sampled_from([None, 0, 3, 10]))
@settings(max_examples=200, deadline=None, derandomize=True)
def test_session_walked_forward_equals_walked_back(stays: list[tuple[str | None, float]],
                                                   custody_at: int | None) -> None:
    """no_rest_break's session, kept between calls and extended by each move, equals the
    session worked out from the whole timeline after every move (None: in no zone)."""
    floor = Floor()
    person = floor.person("S1")
    engine = floor.engine
    params = engine.params["no_rest_break"].default
    kind_of = {z.id: z.kind for z in SITE.zones}
    ctx = RuleContext(floor.twin, engine.index, T0, params=engine.params, memo={})
    now = T0
    for i, (zone, seconds) in enumerate(stays):
        if i == custody_at:
            person.custody_start = now
        now += seconds
        ctx.now = now
        floor.twin._move(person, zone, now)
        got = questioning_session(ctx, person, params, now)
        want = _backward_session(kind_of, person.timeline, params.zone_kinds,
                                 params.break_s, person.custody_start)
        if want is not None and want[1] is not None and now - want[1] >= params.break_s:
            want = None
        assert got == want, (person.timeline, person.custody_start)
