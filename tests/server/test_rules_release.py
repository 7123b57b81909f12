"""Leaving the area on a virtual clock: unauthorized_exit and belongings_left
(server/rules/release.py), with the twin's outing and locker handling."""

from __future__ import annotations

import pytest

from tests.server.test_rules_support import Floor, t

EPS = 1e-6


def inside() -> Floor:
    """S1 searched and in holding-1 with guard G1 by t=0."""
    floor = Floor()
    floor.birth_everything()
    floor.person("S1", sex="male", custody_basis="criminal_summons")
    floor.person("G1", role="guard")
    floor.move("entrance", "S1", "G1")
    floor.move("body-check-1", "S1", "G1")
    floor.search("S1")
    floor.move("holding-1", "S1", "G1")
    assert floor.keys() == set()
    return floor


def test_arrival_at_the_entrance_is_not_an_exit() -> None:
    """Intake at the entrance, waiting there: nothing."""
    floor = Floor().escorted("entrance")
    assert floor.at(600).keys() == set()


def test_exit_without_release_raised_and_kept_when_no_longer_seen() -> None:
    """S1 at the exit at t=100 → critical after 5 s; the exit reader losing the wristband
    keeps the alarm (message says so); seen back inside clears it."""
    floor = inside()
    floor.at(100).move("exit", "S1", "G1")
    assert floor.evaluate().next_due == pytest.approx(t(105))
    assert floor.at(105 - EPS).keys() == set()
    v = floor.at(105 + EPS).evaluate().active[("unauthorized_exit", "S1")]
    assert (v.severity, v.zone, v.since) == ("critical", "exit", t(100))
    assert v.message_zh == "出口: 在押人员 S1 未经出所登记离开办案区"
    floor.at(110).event("reader-exit", "tag_exit", tag="wb-S1")
    v = floor.evaluate().active[("unauthorized_exit", "S1")]
    assert v.zone == "exit" and "no longer seen" in v.message_en
    floor.at(200).move("corridor-a", "S1", "G1")
    assert floor.keys() == set()


def test_back_at_the_entrance_after_being_inside() -> None:
    """Walking back out through the entrance (sally port) counts as leaving."""
    floor = inside()
    floor.at(100).move("entrance", "S1", "G1")
    v = floor.at(106).evaluate().active[("unauthorized_exit", "S1")]
    assert v.details["where"] == "entrance"


def test_release_and_approved_outing_allow_leaving_until_the_outing_ends() -> None:
    """An outing until t=600: leaving at 100 raises nothing, and next_due is the outing's
    end; still out at 600 → the alarm (its grace long served).  A released person may leave."""
    floor = inside()
    floor.twin.approve_outing("S1", t(600), floor.now)
    floor.at(100).move("exit", "S1", "G1")
    floor.at(110).event("reader-exit", "tag_exit", tag="wb-S1")
    ev = floor.at(300).evaluate()
    assert ev.active == {} and ev.next_due == pytest.approx(t(600))
    assert floor.at(600).keys() == {("unauthorized_exit", "S1")}
    floor.release("S1")
    assert floor.keys() == set()


def test_belongings_left_after_release_grace_from_release() -> None:
    """S1's belongings stored in locker 3 (event only); released at t=100 → belongings_left
    (minor, lockers-1) at 700 exactly; emptying the locker clears it."""
    floor = inside()
    floor.event("lockers-lockers-1", "locker_stored", locker=3, person="S1")
    assert floor.twin.devices["lockers-lockers-1"].metrics["occupied"] == ["3:S1"]
    floor.at(100).release("S1")
    assert floor.evaluate().next_due == pytest.approx(t(700))
    assert floor.at(700 - EPS).keys() == set()
    v = floor.at(700).evaluate().active[("belongings_left", "S1")]
    assert (v.severity, v.zone, v.since) == ("minor", "lockers-1", t(100))
    assert v.message_en == "Lockers: S1 released, belongings still in locker 3"
    floor.event("lockers-lockers-1", "locker_emptied", locker=3, person="S1")
    assert floor.keys() == set()


def test_belongings_of_people_in_custody_are_fine_metric_form() -> None:
    """The occupied metric ('locker:person', by person or wristband id): nothing while in
    custody; after release only the released person's lockers count."""
    floor = inside()
    floor.person("S2", searched=True)
    floor.set("lockers-lockers-1", occupied=["1:S2", "4:wb-S1", "5:S1"])
    assert floor.at(5000).keys("belongings_left") == set()
    floor.release("S1")
    v = floor.at(5600).evaluate().active[("belongings_left", "S1")]
    assert v.details == {"lockers": ["4", "5"]}
    assert floor.keys("belongings_left") == {("belongings_left", "S1")}
