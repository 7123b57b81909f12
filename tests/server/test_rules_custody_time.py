"""Custody clock and rest-break rules on a virtual clock (server/rules/custody_time.py,
questioning.no_rest_break): time-driven conditions fire at the exact instant, with
next_due pointing at it, and no message needed."""

from __future__ import annotations

import pytest

from tests.server.test_rules_support import Floor, site_with_rules, t

EPS = 1e-6
H = 3600.0


def held(basis: str | None, speed: float = 1.0, floor: Floor | None = None) -> Floor:
    """S1 taken into custody at t=0 under ``basis`` (not placed in any zone)."""
    floor = floor or Floor(speed=speed)
    floor.birth_everything()
    floor.intake("S1", custody_basis=basis)
    return floor


def test_criminal_summons_warning_then_exceeded_at_exact_times() -> None:
    """12 h limit, 1 h lead: next_due is 11 h; warning from exactly 11 h (since = 11 h);
    at 12 h the warning gives way to custody_time_exceeded (critical, since = 12 h)."""
    floor = held("criminal_summons")
    assert floor.evaluate().next_due == pytest.approx(t(11 * H))
    assert floor.at(11 * H - EPS).keys() == set()
    ev = floor.at(11 * H).evaluate()
    v = ev.active[("custody_time_warning", "S1")]
    assert (v.severity, v.since) == ("warning", t(11 * H))
    assert v.message_zh == "S1 羁押时限即将届满 (传唤/拘传 12 小时, 剩余约 1:00)"
    assert v.message_en == "S1: custody limit approaching (criminal summons 12 h, about 1:00 left)"
    assert ev.next_due == pytest.approx(t(12 * H))
    assert floor.at(12 * H - EPS).keys() == {("custody_time_warning", "S1")}
    ev = floor.at(12 * H).evaluate()
    assert set(ev.active) == {("custody_time_exceeded", "S1")}
    v = ev.active[("custody_time_exceeded", "S1")]
    assert (v.severity, v.since, v.details["limit_s"]) == ("critical", t(12 * H), 12 * H)
    assert v.message_en == "S1: custody limit exceeded (criminal summons 12 h)"


@pytest.mark.parametrize(("basis", "hours"), [
    ("criminal_summons_extended", 24), ("administrative_questioning", 8),
    ("administrative_questioning_extended", 24), ("continued_questioning", 24),
    ("continued_questioning_extended", 48),
])
def test_every_legal_basis_has_its_limit(basis: str, hours: int) -> None:
    """Each basis of the site settings: nothing just before its limit, exceeded at it."""
    floor = held(basis)
    assert floor.at(hours * H - EPS).keys("custody_time_exceeded") == set()
    assert floor.at(hours * H).keys("custody_time_exceeded") == {("custody_time_exceeded", "S1")}


def test_speed_shortens_custody_limits() -> None:
    """At speed 60 a 12 h summons lasts 720 real seconds; the warning starts at 660 s."""
    floor = held("criminal_summons", speed=60)
    assert floor.evaluate().next_due == pytest.approx(t(660))
    assert floor.at(660 + EPS).keys() == {("custody_time_warning", "S1")}
    assert floor.at(720 + EPS).keys() == {("custody_time_exceeded", "S1")}


def test_unknown_basis_gets_the_shortest_limit_and_says_so() -> None:
    """No basis recorded: the 8 h administrative limit applies, and the message says the
    basis is unknown."""
    floor = held(None)
    v = floor.at(8 * H).evaluate().active[("custody_time_exceeded", "S1")]
    assert v.details["basis_known"] is False
    assert "basis unknown" in v.message_en and "依据未知" in v.message_zh


def test_limits_and_lead_are_site_settings_and_release_stops_the_clock() -> None:
    """A site sets criminal_summons to 6 h and a 30 min lead; release clears the alarm."""
    site = site_with_rules({"custody_time_exceeded": {"limits_s": {"criminal_summons": 6 * H}},
                            "custody_time_warning": {"lead_s": 1800}})
    floor = held("criminal_summons", floor=Floor(site=site))
    assert floor.evaluate().next_due == pytest.approx(t(5.5 * H))
    assert floor.at(5.5 * H).keys() == {("custody_time_warning", "S1")}
    assert floor.at(6 * H).keys() == {("custody_time_exceeded", "S1")}
    floor.release("S1")
    assert floor.keys() == set() and floor.evaluate().next_due is None


# ---------------------------------------------------------------------- no_rest_break


def questioned() -> Floor:
    """S1 (24 h basis) questioned in interrogation-1 by O1, O2 from t=0; G1 in holding-1."""
    floor = held("criminal_summons_extended")
    floor.person("S1", sex="male", searched=True, custody_basis="criminal_summons_extended")
    for pid in ("O1", "O2"):
        floor.person(pid, role="officer", sex="male")
    floor.person("G1", role="guard")
    floor.move("holding-1", "G1")
    floor.move("interrogation-1", "S1", "O1", "O2")
    floor.set("recorder-interrogation-1", recording=True)
    return floor


def to_holding(floor: Floor, at: float) -> None:
    floor.at(at).move("holding-1", "S1")


def to_interrogation(floor: Floor, at: float) -> None:
    floor.at(at).move("interrogation-1", "S1")


def test_no_rest_break_after_4h_and_short_step_out_does_not_reset() -> None:
    """A 10 min step out at 2 h is not a break: the violation starts at exactly 4 h
    (next_due), stays during a short pause, and clears when a 30 min break completes."""
    floor = questioned()
    assert floor.evaluate().next_due == pytest.approx(t(4 * H))
    to_holding(floor, 2 * H)
    to_interrogation(floor, 2 * H + 600)
    assert floor.evaluate().next_due == pytest.approx(t(4 * H))
    assert floor.at(4 * H - EPS).keys() == set()
    v = floor.at(4 * H).evaluate().active[("no_rest_break", "S1")]
    assert (v.severity, v.since, v.zone) == ("minor", t(4 * H), "interrogation-1")
    assert v.message_en == "Interrogation 1: S1 questioned for over 4 h without a break"
    to_holding(floor, 5 * H)
    ev = floor.evaluate()
    assert set(ev.active) == {("no_rest_break", "S1")}
    assert ev.next_due == pytest.approx(t(5 * H + 1800))
    assert floor.at(5 * H + 1800 - EPS).keys() == {("no_rest_break", "S1")}
    assert floor.at(5 * H + 1800).keys() == set()


def test_a_full_break_starts_a_new_session() -> None:
    """2 h questioning, a 30 min break, 2 h more: nothing at 4.5 h; the new session's
    4 h end at 6.5 h."""
    floor = questioned()
    to_holding(floor, 2 * H)
    to_interrogation(floor, 2.5 * H)
    assert floor.at(4.5 * H).keys() == set()
    assert floor.evaluate().next_due == pytest.approx(t(6.5 * H))
    assert floor.at(6.5 * H - EPS).keys() == set()
    assert floor.at(6.5 * H).keys() == {("no_rest_break", "S1")}


def test_moving_between_questioning_rooms_is_not_a_break() -> None:
    """interrogation-1 then inquiry-1 directly: one session."""
    floor = questioned()
    floor.at(3 * H).move("inquiry-1", "S1", "O1", "O2")
    floor.set("recorder-inquiry-1", recording=True)
    assert floor.at(4 * H).keys() == {("no_rest_break", "S1")}


def test_a_rest_that_starts_before_the_span_is_not_a_violation() -> None:
    """3 h 50 of questioning, then a lawful 35 min rest: nothing at 4 h (the person is
    resting, not questioned), nothing when the break completes."""
    floor = questioned()
    to_holding(floor, 3 * H + 50 * 60)
    assert floor.at(4 * H).keys() == set()
    assert floor.at(3 * H + 50 * 60 + 1800).keys() == set()
    to_interrogation(floor, 3 * H + 85 * 60)
    assert floor.at(5 * H).keys() == set()  # a new session started after the break


def test_back_from_a_short_rest_after_the_span_is_a_violation() -> None:
    """3 h 50, a 15 min pause (not a break), back at 4 h 05: the session goes on from its
    start, so the violation holds from the return."""
    floor = questioned()
    to_holding(floor, 3 * H + 50 * 60)
    assert floor.at(4 * H + 4 * 60).keys() == set()
    to_interrogation(floor, 4 * H + 5 * 60)
    assert floor.evaluate().active.keys() == {("no_rest_break", "S1")}
