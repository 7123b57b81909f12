"""Wristband and clock integrity on a virtual clock (server/rules/integrity.py) and the
twin's per-person tag flags and per-node clock skew."""

from __future__ import annotations

import pytest

from protocol.messages import DeviceData, NodeHeartbeat
from protocol.topics import DeviceMessage, NodeMessage, device_topic, node_topic, parse_topic
from tests.server.test_rules_support import Floor, t

EPS = 1e-6


def centre() -> Floor:
    floor = Floor()
    floor.birth_everything()
    floor.person("S1", sex="male", searched=True, custody_basis="criminal_summons")
    floor.person("G1", role="guard")
    floor.move("holding-2", "S1", "G1")
    return floor


def heartbeat(floor: Floor, node: str, skew: float) -> None:
    """A node heartbeat stamped ``skew`` seconds off the virtual clock."""
    msg = NodeHeartbeat(ts=int((floor.now + skew) * 1000), seq=floor._next_seq(node))
    floor.twin.apply(parse_topic(node_topic(floor.site.id, node, NodeMessage.HEARTBEAT)),
                     msg, floor.now)
    floor.evaluate()


# ---------------------------------------------------------------------- tag_tamper


def test_tag_tamper_latched_until_operator_clears() -> None:
    """A tag_tamper event from the holding reader: critical at once, subject the person;
    it stays (however long) until Twin.clear_tag_alerts."""
    floor = centre()
    floor.at(50).event("reader-holding-2", "tag_tamper", tag="wb-S1")
    person = floor.twin.people["S1"]
    assert (person.tag_tampered, person.tag_tampered_at, person.tag_tamper_zone) == (
        True, t(50), "holding-2")
    v = floor.evaluate().active[("tag_tamper", "S1")]
    assert (v.severity, v.zone, v.since) == ("critical", "holding-2", t(50))
    assert v.message_zh == "候问室2: S1 的腕带 wb-S1 被剪断或摘除"
    assert floor.at(5000).keys("tag_tamper") == {("tag_tamper", "S1")}
    floor.twin.clear_tag_alerts("S1", floor.now)
    assert floor.keys("tag_tamper") == set()


def test_tag_tamper_cleared_by_new_intake_or_release_and_unknown_tags_ignored() -> None:
    """A new intake (new record, new wristband) starts clean; a released person's band
    coming off is no alarm; a tamper from an unbound tag changes nothing."""
    floor = centre()
    floor.event("reader-holding-2", "tag_tamper", tag="wb-S1")
    floor.event("reader-holding-2", "tag_tamper", tag="wb-nobody")
    assert floor.keys("tag_tamper") == {("tag_tamper", "S1")}
    floor.person("S1", sex="male", searched=True)
    assert floor.keys("tag_tamper") == set()
    floor.event("reader-holding-2", "tag_tamper", tag="wb-S1")
    floor.release("S1")
    assert floor.keys("tag_tamper") == set()


# ---------------------------------------------------------------------- tag_low_battery


def test_low_battery_for_wristbands_and_badges() -> None:
    """tag_battery_low for S1's wristband and G1's badge: two warnings with the level;
    clearing the battery flag leaves a tamper flag alone."""
    floor = centre()
    floor.event("reader-holding-2", "tag_battery_low", tag="wb-S1", level=12)
    floor.event("reader-holding-2", "tag_battery_low", tag="badge-G1")
    ev = floor.evaluate()
    assert set(ev.active) == {("tag_low_battery", "S1"), ("tag_low_battery", "G1")}
    v = ev.active[("tag_low_battery", "S1")]
    assert (v.severity, v.message_en) == ("warning", "Holding 2: wristband wb-S1 of S1 "
                                                     "battery low (12)")
    assert "胸卡" in ev.active[("tag_low_battery", "G1")].message_zh
    floor.event("reader-holding-2", "tag_tamper", tag="wb-S1")
    floor.twin.clear_tag_alerts("S1", floor.now, tamper=False)
    assert floor.keys() == {("tag_low_battery", "G1"), ("tag_tamper", "S1")}


# ---------------------------------------------------------------------- clock_skew


def test_clock_skew_recorded_per_node_and_raised_after_grace() -> None:
    """A heartbeat 8 s ahead at t=100: skew recorded; nothing at 160-ε, minor at 160+ε; a
    heartbeat on time clears it."""
    floor = centre()
    assert floor.twin.nodes["edge-holding"].clock_skew_s == pytest.approx(0.0, abs=1e-3)
    floor.at(100)
    heartbeat(floor, "edge-holding", 8.0)
    assert floor.twin.nodes["edge-holding"].clock_skew_s == pytest.approx(8.0, abs=1e-3)
    assert floor.evaluate().next_due == pytest.approx(t(160))
    assert floor.at(160 - EPS).keys() == set()
    v = floor.at(160 + EPS).evaluate().active[("clock_skew", "edge-holding")]
    assert (v.severity, v.zone) == ("minor", None)
    assert v.message_en == "node edge-holding clock 8.0 s ahead (tolerance 5 s)"
    heartbeat(floor, "edge-holding", -0.2)
    assert floor.keys() == set()


def test_skew_within_tolerance_and_replayed_data_ignored() -> None:
    """4 s behind is within the 5 s tolerance; outbox replays (hist) keep their old ts and
    do not count as a measure."""
    floor = centre()
    heartbeat(floor, "edge-interview", -4.0)
    assert floor.at(500).keys() == set()
    node = floor.twin.nodes["edge-holding"]
    before = node.clock_skew_s
    msg = DeviceData(ts=int((floor.now - 3600) * 1000), seq=floor._next_seq("edge-holding"),
                     metrics={"tag_count": 1}, hist=True)
    floor.twin.apply(parse_topic(device_topic(floor.site.id, "edge-holding", "reader-holding-2",
                                              DeviceMessage.DATA)), msg, floor.now)
    assert node.clock_skew_s == before
    assert floor.at(1000).keys() == set()


def test_offline_node_has_no_clock_skew_alarm() -> None:
    """A skewed node that dies is node_offline, not clock_skew as well."""
    floor = centre()
    heartbeat(floor, "edge-common", 30.0)
    floor.at(10).kill_node("edge-common")
    assert floor.at(100).keys() == {("node_offline", "edge-common")}
