"""Custody presence and recording rules on a virtual clock (server/rules)."""

from __future__ import annotations

import pytest

from tests.server.test_rules_support import Floor, site_with_rules, t

EPS = 1e-6


def interview(speed: float = 1.0, recording: bool = True) -> Floor:
    """S1 (searched) with officers O1, O2 in interrogation-1 at t=0; everything born."""
    floor = Floor(speed=speed).in_interview()
    floor.set("recorder-interrogation-1", recording=recording)
    assert floor.keys() == set()
    return floor


# ---------------------------------------------------------------------- unattended_person


def test_unattended_person_raised_exactly_after_grace() -> None:
    """Officers leave at t=100: no violation at 130-ε, one at 130+ε, with zone, severity,
    bilingual message and the time the condition started."""
    floor = interview()
    floor.at(100).move("corridor-a", "O1", "O2")
    ev = floor.evaluate()
    assert ev.active == {} and ev.next_due == pytest.approx(t(130))
    assert floor.at(130 - EPS).keys("unattended_person") == set()
    ev = floor.at(130 + EPS).evaluate()
    v = ev.active[("unattended_person", "S1")]
    assert (v.zone, v.severity, v.since) == ("interrogation-1", "critical", floor.now - 30 - EPS)
    assert v.message_zh == "讯问室1: 在押人员 S1 无民警看管"
    assert v.message_en == "Interrogation 1: person in custody S1 unattended"


def test_unattended_person_clears_when_staff_returns_and_short_absence_resets() -> None:
    """A violation clears as soon as an officer is back; an absence shorter than the grace
    leaves nothing, and the next absence counts from its own start."""
    floor = interview()
    floor.at(100).move("corridor-a", "O1", "O2")
    assert floor.at(131).keys() == {("unattended_person", "S1")}
    floor.move("interrogation-1", "O1")
    assert floor.keys() == set()
    floor.at(200).move("corridor-a", "O1")
    floor.at(220).move("interrogation-1", "O1")
    floor.at(225).move("corridor-a", "O1")
    assert floor.at(240).keys() == set()  # 15 s into the new absence, 40 s since the first
    assert floor.at(255 - EPS).keys() == set()
    assert floor.at(255 + EPS).keys() == {("unattended_person", "S1")}


def test_unattended_person_counts_guards_not_lawyers() -> None:
    """A guard is staff; a lawyer alone with a person in custody is not."""
    floor = interview()
    floor.person("G1", role="guard")
    floor.person("L1", role="lawyer")
    floor.move("lawyer-1", "G1", "L1")
    floor.at(10).move("lawyer-1", "S1")
    floor.move("corridor-a", "O1", "O2")
    assert floor.at(100).keys("unattended_person") == set()
    floor.move("corridor-b", "G1")
    assert floor.at(131).keys("unattended_person") == {("unattended_person", "S1")}


def test_released_person_needs_no_guard() -> None:
    """After release the person is not in custody: no unattended or search alarm."""
    floor = interview()
    floor.release("S1")
    floor.at(5).move("exit", "S1")
    floor.move("corridor-a", "O1", "O2")
    assert floor.at(500).keys() == set()


def test_speed_scales_grace_to_real_time() -> None:
    """At speed 60 the 30 s site grace of unattended_person lasts 0.5 s real."""
    floor = interview(speed=60)
    floor.at(100).move("corridor-a", "O1", "O2")
    assert floor.evaluate().next_due == pytest.approx(t(100.5))
    assert floor.at(100.5 - EPS).keys("unattended_person") == set()
    assert floor.at(100.5 + EPS).keys("unattended_person") == {("unattended_person", "S1")}


# ---------------------------------------------------------------------- search_skipped


def test_search_skipped_outside_entrance_and_body_check_only() -> None:
    """Unsearched at the entrance and body check: fine; in info-1 for 10 s: violation;
    the terminal's search_completed clears it."""
    floor = Floor().escorted("entrance")
    floor.at(50).move("body-check-1", "S1", "O1")
    assert floor.at(100).keys() == set()
    floor.move("info-1", "S1", "O1")
    ev = floor.evaluate()
    assert ev.next_due == pytest.approx(floor.now + 10)
    assert floor.at(110 - EPS).keys() == set()
    ev = floor.at(110 + EPS).evaluate()
    v = ev.active[("search_skipped", "S1")]
    assert (v.zone, v.severity) == ("info-1", "major")
    assert "未经人身安全检查" in v.message_zh and "not searched" in v.message_en
    floor.search("S1")
    assert floor.keys() == set()


def test_search_skipped_follows_the_person_across_zones() -> None:
    """Moving on unsearched keeps one condition (same subject, since unchanged, new zone)."""
    floor = Floor().escorted("info-1")
    floor.at(6).move("lockers-1", "S1", "O1")
    ev = floor.at(10 + EPS).evaluate()
    v = ev.active[("search_skipped", "S1")]
    assert v.zone == "lockers-1" and v.since == t(0)


# ---------------------------------------------------------------------- recording_not_running


def test_recording_not_running_after_grace_and_clears_when_recording() -> None:
    """Recorder online but not recording with a person in custody present: violation after
    30 s on the recorder; starting the recording clears it."""
    floor = interview(recording=False)
    assert floor.evaluate().next_due == pytest.approx(floor.now + 30)
    assert floor.at(30 - EPS).keys() == set()
    ev = floor.at(30 + EPS).evaluate()
    v = ev.active[("recording_not_running", "recorder-interrogation-1")]
    assert (v.zone, v.severity, v.details["reason"]) == ("interrogation-1", "critical",
                                                          "not_recording")
    floor.set("recorder-interrogation-1", recording=True)
    assert floor.keys() == set()


def test_recorder_offline_counts_as_not_recording() -> None:
    """A lost recorder whose last report said recording=true is still a violation, and the
    message says the recorder is offline."""
    floor = interview(recording=True)
    floor.at(10).lose("recorder-interrogation-1")
    ev = floor.at(40 + EPS).evaluate()
    v = ev.active[("recording_not_running", "recorder-interrogation-1")]
    assert v.details["reason"] == "recorder_offline"
    assert "recorder recorder-interrogation-1 offline" in v.message_en
    assert floor.twin.devices["recorder-interrogation-1"].metrics["recording"] is True


def test_recorder_never_reported_counts_as_not_recording() -> None:
    """A recorder in unknown state (never born) does not give a false all-clear."""
    floor = Floor()
    floor.birth_node("edge-intake")
    floor.birth_node("edge-common")
    floor.birth_node("edge-interview", devices=False)
    floor.birth_device("reader-interrogation-2")
    floor.person("S1", searched=True)
    floor.person("O1", role="officer")
    floor.move("interrogation-2", "S1", "O1")
    v = floor.at(30 + EPS).evaluate().active[("recording_not_running",
                                              "recorder-interrogation-2")]
    assert v.details == {"reason": "recorder_offline", "status": "unknown", "people": ["S1"]}


def test_no_recording_needed_without_person_in_custody() -> None:
    """Officers alone in an interrogation room with the recorder idle: nothing."""
    floor = Floor()
    floor.birth_everything()
    floor.person("O1", role="officer")
    floor.move("interrogation-3", "O1")
    assert floor.at(3600).keys() == set()


def test_zone_without_recorder_is_the_subject() -> None:
    """A site that requires recording in holding rooms (which have no recorder): the
    violation's subject is the zone."""
    floor = Floor(site=site_with_rules({"recording_not_running": {
        "zone_kinds": ["interrogation", "holding"]}}))
    floor.birth_everything()
    floor.person("S1", searched=True)
    floor.person("G1", role="guard")
    floor.move("holding-1", "S1", "G1")
    v = floor.at(31).evaluate().active[("recording_not_running", "holding-1")]
    assert v.details["reason"] == "no_recorder" and v.zone == "holding-1"


def test_next_due_is_the_earliest_pending_grace_end() -> None:
    """Two pending conditions (search 10 s, unattended 30 s): next_due is the search's end,
    then the unattended one once the first is ripe."""
    floor = Floor()
    floor.birth_everything()
    floor.person("S1")
    floor.move("holding-2", "S1")
    assert floor.evaluate().next_due == pytest.approx(floor.now + 10)
    ev = floor.at(10 + EPS).evaluate()
    assert set(ev.active) == {("search_skipped", "S1")}
    assert ev.next_due == pytest.approx(t(30))


def test_maintenance_is_flagged_not_dropped() -> None:
    """Hook for suppression by design: a violation about a device in maintenance is still
    evaluated, and carries details.maintenance."""
    floor = interview(recording=False)
    floor.twin.devices["recorder-interrogation-1"].maintenance = True
    v = floor.at(31).evaluate().active[("recording_not_running", "recorder-interrogation-1")]
    assert v.details["maintenance"] is True
