"""Escalation to guards and supervisors, and delivery tracking
(server/alarms/escalation.py through the alarm desk), on a virtual clock."""

from __future__ import annotations

import pytest

from server.alarms.settings import AlarmSettings, EscalationSettings, EscalationTimes
from server.alerts import actions
from server.errors import NotFound
from tests.server.test_alarm_support import PLAIN, T0, DeskRig, actions_of, violation

DOOR = ("door_forced", "door-holding-1", "holding-1")  # critical: 30 s / 90 s by default
ENV = ("environment_out_of_range", "env-holding-2", "holding-2")


def staffed(settings: AlarmSettings = PLAIN, speed: float = 1.0) -> DeskRig:
    rig = DeskRig(settings, speed)
    for user, role, zones in (("g1", "guard", ["holding-1"]), ("g2", "guard", ["holding-2"]),
                              ("g3", "guard", ["corridor-a"]), ("sup", "supervisor", [])):
        rig.act(lambda now, u=user, r=role, z=zones: actions.shift_start(rig.desk, u, r, z,
                                                                         "duty1", now))
    return rig


def test_zone_guards_then_all_guards_then_supervisor() -> None:
    """A new critical alarm goes to its zone's guard at once, to every guard on shift after
    30 s, to the supervisor after 90 s; each send is a tracked delivery."""
    rig = staffed()
    [raised] = rig.raise_(violation(*DOOR)).changes
    alarm_id = raised.alarm.id
    assert rig.sent == [(alarm_id, "g1", 0)]
    assert rig.desk.board.escalations[alarm_id].next_at == T0 + 30
    rig.advance(29.9)
    assert len(rig.sent) == 1
    rig.advance(0.1)
    assert sorted(rig.sent[1:]) == [(alarm_id, "g2", 1), (alarm_id, "g3", 1)]
    rig.advance(60)
    assert rig.sent[-1] == (alarm_id, "sup", 2)
    assert rig.desk.board.escalations[alarm_id].next_at is None
    assert {d.recipient for d in rig.desk.board.deliveries(alarm_id)} == {"g1", "g2", "g3",
                                                                            "sup"}


def test_ack_stops_the_escalation() -> None:
    """Acknowledged within the first level's time: nobody else is alerted, and the
    acknowledging guard's delivery shows ``acknowledged``."""
    rig = staffed()
    [raised] = rig.raise_(violation(*DOOR)).changes
    _, step = rig.act(lambda now: actions.guard_step(rig.desk, raised.alarm.id, "g1",
                                                     "acknowledged", now, note="coming"))
    assert rig.book.get(raised.alarm.id).acked_by == "g1"
    assert "alarm_ack" in actions_of(step.audit)
    esc = rig.desk.board.escalations[raised.alarm.id]
    assert not esc.running and esc.stop_reason == "acknowledged"
    rig.advance(600)
    assert rig.sent == [(raised.alarm.id, "g1", 0)]
    assert rig.desk.board.delivery(raised.alarm.id, "g1").step == "acknowledged"  # type: ignore[union-attr]


def test_no_zone_guard_goes_wider_at_once() -> None:
    """An alarm in a zone nobody covers goes to every guard on shift at once; with no guard
    on shift at all, straight to the supervisor."""
    rig = staffed()
    [raised] = rig.raise_(violation("door_forced", "door-exit", "exit")).changes
    assert sorted(rig.sent) == [(raised.alarm.id, g, 1) for g in ("g1", "g2", "g3")]
    for guard in ("g1", "g2", "g3"):
        rig.act(lambda now, g=guard: actions.shift_end(rig.desk, g, "duty1", now))
    [other] = rig.raise_(violation("door_forced", "door-entrance", "entrance")).changes
    assert rig.sent[-1] == (other.alarm.id, "sup", 2)


def test_escalation_times_per_severity_and_speed() -> None:
    """Times are per severity (site seconds) and shrink with --speed."""
    settings = AlarmSettings(conditioning=PLAIN.conditioning, escalation=EscalationSettings(
        default=EscalationTimes(all_guards_after_s=120, supervisor_after_s=600),
        by_severity={}))
    rig = staffed(settings, speed=60)
    [raised] = rig.raise_(violation(*ENV, severity="minor")).changes
    assert rig.desk.board.escalations[raised.alarm.id].next_at == T0 + 2
    rig.advance(10)
    assert rig.sent[-1] == (raised.alarm.id, "sup", 2)


def test_steps_are_tracked_and_imply_the_earlier_ones() -> None:
    """delivered → seen → acknowledged → arrived → resolved, each with its time; a later
    step fills the earlier ones; arrived and resolved are audited and commented on the
    alarm; a guard may not act on an alarm outside their zones that was not sent to them."""
    rig = staffed()
    [raised] = rig.raise_(violation(*DOOR)).changes
    alarm_id = raised.alarm.id
    rig.advance(5)
    delivery, step = rig.act(lambda now: actions.guard_step(rig.desk, alarm_id, "g1",
                                                            "arrived", now, note="at door"))
    assert delivery.step == "arrived"
    assert delivery.delivered_at == delivery.seen_at == delivery.acknowledged_at == T0 + 5
    assert actions_of(step.audit) == ["alarm_ack", "guard_arrived"]
    assert rig.book.get(alarm_id).comments[-1][1:] == ("g1", "[arrived] at door")
    delivery, step = rig.act(lambda now: actions.guard_step(rig.desk, alarm_id, "g1",
                                                            "resolved", now, note="locked"))
    assert delivery.step == "resolved" and delivery.note == "locked"
    assert actions_of(step.audit) == ["guard_resolved"]
    with pytest.raises(actions.NotYours, match="holding-1"):
        rig.act(lambda now: actions.guard_step(rig.desk, alarm_id, "g3", "arrived", now))
    with pytest.raises(actions.NotYours):
        rig.act(lambda now: actions.ack(rig.desk, alarm_id, "g3", "guard", now))
    with pytest.raises(NotFound):
        rig.act(lambda now: actions.guard_step(rig.desk, 999, "g1", "seen", now))


def test_undelivered_alerts_are_sent_again() -> None:
    """An alert no page or terminal confirmed is resent every redeliver_s (real seconds)
    while the escalation runs; a delivery receipt stops that."""
    rig = staffed()
    [raised] = rig.raise_(violation(*ENV, severity="minor")).changes  # 60 s / 180 s
    alarm_id = raised.alarm.id
    rig.advance(15)
    assert rig.resent == [(alarm_id, "g2", 0)]
    assert rig.desk.board.delivery(alarm_id, "g2").attempts == 2  # type: ignore[union-attr]
    rig.act(lambda now: actions.guard_step(rig.desk, alarm_id, "g2", "delivered", now,
                                           channel="mqtt"))
    rig.advance(15)
    assert rig.resent == [(alarm_id, "g2", 0)] and rig.sent == [(alarm_id, "g2", 0)]


def test_a_guard_coming_on_shift_gets_running_alerts() -> None:
    """A guard starting a shift on a zone with a running escalation gets its alert."""
    rig = staffed()
    [raised] = rig.raise_(violation("door_forced", "door-holding-3", "holding-3")).changes
    rig.act(lambda now: actions.shift_start(rig.desk, "g4", "guard", ["holding-3"], "d", now))
    assert (raised.alarm.id, "g4", 0) in rig.sent


def test_escalation_resumes_after_a_restart() -> None:
    """Escalations and deliveries are stored; after a restart a level whose time passed
    while the server was down goes out at once, the others when due."""
    rig = staffed()
    [raised] = rig.raise_(violation(*DOOR)).changes
    alarm_id = raised.alarm.id
    rig.advance(10)
    later = rig.restored()
    esc = later.desk.board.escalations[alarm_id]
    assert esc.running and esc.next_at == T0 + 30 and esc.level == 0
    assert {d.recipient for d in later.desk.board.deliveries(alarm_id)} == {"g1"}
    assert later.desk.roster.zone_guards("holding-1") == ["g1"]
    later.advance(100)  # both the 30 s and the 90 s levels are due now
    assert {r for a, r, _ in later.sent if a == alarm_id} >= {"g2", "g3", "sup"}
